//! Connecting to a Temporal server from `--temporal ADDR` and `--namespace NS`.

use std::time::Duration;

use temporalio_client::{Client, ClientOptions, Connection, ConnectionOptions, Url};

use crate::temporal_error::TemporalError;

/// The default namespace (the dev server creates it).
pub const DEFAULT_NAMESPACE: &str = "default";
/// The default main task queue.
pub const DEFAULT_TASK_QUEUE: &str = "pipeline";
/// How long a connection attempt may take before the server counts as unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The server URL for `address`: `HOST:PORT` becomes `http://HOST:PORT`; a full
/// `http://` or `https://` URL is kept. Errors: [`TemporalError::Invalid`] naming the
/// address.
pub fn server_url(address: &str) -> Result<Url, TemporalError> {
    let text = if address.contains("://") {
        address.to_string()
    } else {
        format!("http://{address}")
    };
    let url = Url::parse(&text).map_err(|e| {
        TemporalError::Invalid(format!(
            "--temporal {address}: not a server address ({e}); give HOST:PORT, e.g. \
             localhost:7233"
        ))
    })?;
    if url.host_str().is_none_or(str::is_empty) || url.port_or_known_default().is_none() {
        return Err(TemporalError::Invalid(format!(
            "--temporal {address}: not a server address; give HOST:PORT, e.g. localhost:7233"
        )));
    }
    Ok(url)
}

/// A client of `namespace` on the server at `address`, identified as `identity`. Errors:
/// [`TemporalError::Invalid`] for a malformed address, [`TemporalError::Unreachable`]
/// naming the address when no server answers.
pub async fn connect(
    address: &str,
    namespace: &str,
    identity: &str,
) -> Result<Client, TemporalError> {
    let url = server_url(address)?;
    let options = ConnectionOptions::new(url)
        .identity(identity.to_string())
        .connect_timeout(CONNECT_TIMEOUT)
        .build();
    let unreachable = |message: String| TemporalError::Unreachable {
        address: address.to_string(),
        message,
    };
    let connection = tokio::time::timeout(CONNECT_TIMEOUT * 2, Connection::connect(options))
        .await
        .map_err(|_| {
            unreachable(format!(
                "no answer within {} s",
                CONNECT_TIMEOUT.as_secs() * 2
            ))
        })?
        .map_err(|e| unreachable(e.to_string()))?;
    Client::new(connection, ClientOptions::new(namespace).build())
        .map_err(|e| TemporalError::Server(e.to_string()))
}

/// This process's identity for Temporal: `pid@host`.
pub fn identity() -> String {
    let host = nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "unknown-host".to_string());
    format!("{}@{host}", std::process::id())
}
