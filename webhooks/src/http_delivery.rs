//! One webhook POST, Standard Webhooks style.

use std::error::Error as _;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::header::{CONTENT_TYPE, RETRY_AFTER, USER_AGENT};

use crate::DeliveryError;
use crate::retry_decision::{AttemptResult, classify_status};
use crate::signing_secret::SigningSecret;

/// The HTTP client of the delivery loop: rustls with the ring provider and the
/// platform's certificate verifier, `timeout` per request, no redirects followed.
pub(crate) fn client(timeout: Duration) -> Result<reqwest::Client, DeliveryError> {
    // Installing fails only when a provider is installed already, which is as good.
    // ring is the provider issue #12 chose (no C toolchain for aws-lc); rustls 0.23.48
    // deprecates it only for lacking post-quantum key exchange.
    #[allow(deprecated)]
    let provider = rustls::crypto::ring::default_provider();
    let _ = provider.install_default();
    reqwest::Client::builder()
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| DeliveryError::Client(error_text(&e)))
}

/// POSTs `body` to `url` with the headers `webhook-id`, `webhook-timestamp` (now, unix
/// seconds), `webhook-signature` and `content-type: application/json`, and classifies
/// the answer. Errors name `shown` (the redacted URL), never `url`.
pub(crate) async fn post(
    client: &reqwest::Client,
    url: &str,
    shown: &str,
    secret: &SigningSecret,
    webhook_id: &str,
    body: &str,
) -> AttemptResult {
    let timestamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let signature = secret.sign(webhook_id, timestamp, body.as_bytes());
    let sent = client
        .post(url)
        .header("webhook-id", webhook_id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .header(CONTENT_TYPE, "application/json")
        .header(USER_AGENT, concat!("pipeline/", env!("CARGO_PKG_VERSION")))
        .body(body.to_owned())
        .send()
        .await;
    match sent {
        Ok(response) => {
            let status = response.status();
            let retry_after = response
                .headers()
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            match classify_status(
                status.as_u16(),
                status.canonical_reason().unwrap_or(""),
                retry_after,
            ) {
                AttemptResult::Accepted => AttemptResult::Accepted,
                AttemptResult::Refused { error } => AttemptResult::Refused {
                    error: format!("{error} from {shown}"),
                },
                AttemptResult::Transient { error, retry_after } => AttemptResult::Transient {
                    error: format!("{error} from {shown}"),
                    retry_after,
                },
            }
        }
        Err(e) => AttemptResult::Transient {
            error: format!("{shown}: {}", error_text(&e)),
            retry_after: None,
        },
    }
}

/// `error` and its causes, without the request URL reqwest puts in its message.
fn error_text(error: &reqwest::Error) -> String {
    let kind = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "cannot connect"
    } else {
        "request failed"
    };
    let mut text = kind.to_owned();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) && !cause_text.contains("://") {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}
