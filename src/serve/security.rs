//! Who may talk to the server and what a request may look like (docs/API.md,
//! "Authentication").
//!
//! - A bearer token (`--token-file` or `$PIPELINE_SERVE_TOKEN`, trimmed, at least
//!   [`MIN_TOKEN_BYTES`]) is required to listen on anything but a loopback address. With
//!   a token every request except `GET /healthz` needs `Authorization: Bearer <token>`,
//!   compared in constant time; otherwise 401 with `WWW-Authenticate: Bearer`. The
//!   dashboard's files (`GET /`, `GET /ui/...`) hold no data and need none: the page asks
//!   for the token and sends it with its API requests.
//! - A state-changing request (every POST; the API has no PUT, PATCH or DELETE) needs `Content-Type:
//!   application/json` (415), and when it carries an `Origin` header (a browser), an
//!   origin whose host and port equal the `Host` header (403). No CORS headers are sent,
//!   so other origins' scripts cannot read answers either.
//! - Bodies are limited to [`BODY_LIMIT`] bytes (413).

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;

use super::api_error::ApiError;
use crate::command_error::CommandError;

/// Shortest accepted token: 32 bytes (after trimming whitespace).
pub const MIN_TOKEN_BYTES: usize = 32;

/// Largest accepted request body: 1 MiB.
pub const BODY_LIMIT: usize = 1024 * 1024;

/// The environment variable holding the token when `--token-file` is not given.
pub const TOKEN_ENV: &str = "PIPELINE_SERVE_TOKEN";

/// A bearer token; never printed (its `Debug` hides it).
pub struct Token(Vec<u8>);

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

impl Token {
    /// Whether `given` equals the token, in time independent of where they differ.
    fn matches(&self, given: &[u8]) -> bool {
        self.0.ct_eq(given).into()
    }
}

/// The token from `file` or, without one, from [`TOKEN_ENV`]; `None` when neither gives
/// one. Errors (exit code 2): a file that cannot be read, an empty or short token.
pub fn load_token(file: Option<&Path>) -> Result<Option<Token>, CommandError> {
    let (text, source) = match file {
        Some(path) => match std::fs::read(path) {
            Ok(bytes) => (bytes, format!("--token-file {}", path.display())),
            Err(e) => {
                return Err(CommandError::invalid(format!(
                    "cannot read the token file {}: {e}",
                    path.display()
                )));
            }
        },
        None => match std::env::var_os(TOKEN_ENV) {
            Some(v) if !v.is_empty() => (v.into_encoded_bytes(), format!("${TOKEN_ENV}")),
            _ => return Ok(None),
        },
    };
    let token = text.trim_ascii();
    if token.len() < MIN_TOKEN_BYTES {
        return Err(CommandError::invalid(format!(
            "the token from {source} is {} bytes long; it must be at least {MIN_TOKEN_BYTES} bytes\n  hint: generate one with `openssl rand -hex 32`",
            token.len()
        )));
    }
    Ok(Some(Token(token.to_vec())))
}

/// Refuses a non-loopback `bind` without a token (exit code 2).
pub fn check_bind(bind: SocketAddr, token: Option<&Token>) -> Result<(), CommandError> {
    if token.is_none() && !bind.ip().is_loopback() {
        return Err(CommandError::invalid(format!(
            "refusing to listen on {bind} without a token: any address but a loopback one (127.0.0.1, ::1) requires one\n  hint: put a token of at least {MIN_TOKEN_BYTES} bytes in a file and pass --token-file FILE, or set ${TOKEN_ENV}"
        )));
    }
    Ok(())
}

/// Middleware: the bearer token, when the server has one (see the module docs).
pub async fn require_token(
    State(token): State<Option<Arc<Token>>>,
    request: Request,
    next: Next,
) -> Response {
    let Some(token) = token else {
        return next.run(request).await;
    };
    let path = request.uri().path();
    let reading = matches!(*request.method(), Method::GET | Method::HEAD);
    if path == "/healthz" || (reading && super::dashboard::is_dashboard_path(path)) {
        return next.run(request).await;
    }
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.as_bytes().strip_prefix(b"Bearer "))
        .map(<[u8]>::trim_ascii);
    match given {
        Some(given) if token.matches(given) => next.run(request).await,
        _ => {
            let message = if given.is_some() {
                "the bearer token is wrong"
            } else {
                "this server requires `Authorization: Bearer <token>`"
            };
            let mut response =
                ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message).into_response();
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"pipeline\""),
            );
            response
        }
    }
}

/// Bodies above the limit up to this size (8 MiB) are read and dropped before the 413,
/// so that a client still sending gets the answer instead of a reset connection; larger
/// ones are not read at all.
const DRAINED_BYTES: u64 = 8 * 1024 * 1024;

/// Middleware: a body larger than [`BODY_LIMIT`] by its `Content-Length` answers 413
/// (bodies without one are cut by the body extractor).
pub async fn check_length(request: Request, next: Next) -> Response {
    use futures_util::StreamExt;
    let length = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    match length {
        Some(n) if n > BODY_LIMIT as u64 => {
            if n <= DRAINED_BYTES {
                let mut body = request.into_body().into_data_stream();
                while let Some(Ok(_)) = body.next().await {}
            }
            ApiError::too_large(BODY_LIMIT).into_response()
        }
        _ => next.run(request).await,
    }
}

/// The checks of a state-changing request (every POST of the API reads its body through
/// `JsonBody`, which calls this first): when an `Origin` header is present it must be
/// this server (403 `cross_origin`); the content type must be `application/json` (415).
pub fn check_state_change(headers: &HeaderMap) -> Result<(), ApiError> {
    if let Some(origin) = headers.get(header::ORIGIN) {
        let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
        if !same_origin(origin.to_str().ok(), host) {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "cross_origin",
                format!(
                    "cross-origin request refused: Origin {} is not this server ({})",
                    origin.to_str().unwrap_or("(not text)"),
                    host.unwrap_or("no Host header")
                ),
            ));
        }
    }
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if !json {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "a request that changes state needs `Content-Type: application/json` (an empty body counts as {})",
        ));
    }
    Ok(())
}

/// Whether `origin` (`scheme://host[:port]`) names the same host and port as the `Host`
/// header (the port defaulting to the scheme's, 80 or 443).
fn same_origin(origin: Option<&str>, host: Option<&str>) -> bool {
    let (Some(origin), Some(host)) = (origin, host) else {
        return false;
    };
    let Some((scheme, rest)) = origin.split_once("://") else {
        return false;
    };
    let default_port = match scheme.to_ascii_lowercase().as_str() {
        "http" => "80",
        "https" => "443",
        _ => return false,
    };
    let with_port = |authority: &str| -> String {
        let authority = authority.to_ascii_lowercase();
        // `[::1]:7878`, `[::1]`, `host:port`, `host`.
        let has_port = match authority.rfind(']') {
            Some(close) => authority[close..].contains(':'),
            None => authority.contains(':'),
        };
        if has_port {
            authority
        } else {
            format!("{authority}:{default_port}")
        }
    };
    with_port(rest.trim_end_matches('/')) == with_port(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_origin_compares_host_and_port() {
        assert!(same_origin(
            Some("http://127.0.0.1:7878"),
            Some("127.0.0.1:7878")
        ));
        assert!(same_origin(Some("http://localhost"), Some("localhost:80")));
        assert!(same_origin(Some("http://[::1]:9000"), Some("[::1]:9000")));
        assert!(!same_origin(
            Some("http://evil.example:7878"),
            Some("127.0.0.1:7878")
        ));
        assert!(!same_origin(
            Some("http://127.0.0.1:7879"),
            Some("127.0.0.1:7878")
        ));
        assert!(!same_origin(Some("null"), Some("127.0.0.1:7878")));
        assert!(!same_origin(Some("http://127.0.0.1:7878"), None));
    }

    #[test]
    fn tokens_compare_whole() {
        let token = Token(b"0123456789abcdef0123456789abcdef".to_vec());
        assert!(token.matches(b"0123456789abcdef0123456789abcdef"));
        assert!(!token.matches(b"0123456789abcdef0123456789abcde"));
        assert!(!token.matches(b""));
    }
}
