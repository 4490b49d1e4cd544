//! Connecting to a Temporal server: the address, namespace, TLS (mTLS) and API key of
//! [`ConnectionSettings`], resolved by the `pipeline` binary from flags,
//! `PIPELINE_TEMPORAL_ADDRESS` and `.pipeline/config.yaml` (`temporal:`), mapped here onto
//! the SDK's `ConnectionOptions` (`tls_options`, `api_key`).

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use temporalio_client::{
    Client, ClientOptions, ClientTlsOptions, Connection, ConnectionOptions, TlsOptions, Url,
};

use crate::temporal_error::TemporalError;

/// The default namespace (the dev server creates it).
pub const DEFAULT_NAMESPACE: &str = "default";
/// The default main task queue.
pub const DEFAULT_TASK_QUEUE: &str = "pipeline";
/// How long a connection attempt may take before the server counts as unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Where and how to connect: one Temporal frontend and namespace, optionally over TLS
/// and with an API key. `Debug` never prints the API key.
#[derive(Clone, PartialEq, Eq)]
pub struct ConnectionSettings {
    /// `HOST:PORT`, or an `http://`/`https://` URL, of the frontend.
    pub address: String,
    /// The Temporal namespace.
    pub namespace: String,
    /// TLS towards the frontend; `None` is plain TCP (unless [`Self::api_key`] is set,
    /// which implies TLS with the system's trusted roots).
    pub tls: Option<TlsSettings>,
    /// The API key (Temporal Cloud), read from the variable `temporal.api_key_env` /
    /// `--api-key-env` names when the settings are resolved; sent as a bearer token.
    /// Never printed (see the `Debug` impl), never put in a workflow input or history.
    pub api_key: Option<String>,
}

/// TLS settings: certificate files (PEM) and the server name to verify.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsSettings {
    /// CA certificate of the server; `None` trusts the system's roots (Temporal Cloud).
    pub ca_cert: Option<PathBuf>,
    /// This client's certificate for mTLS; needs [`Self::client_key`].
    pub client_cert: Option<PathBuf>,
    /// This client's private key for mTLS; needs [`Self::client_cert`].
    pub client_key: Option<PathBuf>,
    /// The name the server's certificate must carry (default: the address's host).
    pub server_name: Option<String>,
}

impl ConnectionSettings {
    /// Plain TCP to `address`, namespace `namespace`, no API key (the dev server).
    pub fn plain(address: &str, namespace: &str) -> ConnectionSettings {
        ConnectionSettings {
            address: address.to_string(),
            namespace: namespace.to_string(),
            tls: None,
            api_key: None,
        }
    }

    /// Whether the connection uses TLS: TLS settings or an API key are given.
    pub fn uses_tls(&self) -> bool {
        self.tls.is_some() || self.api_key.is_some()
    }
}

impl fmt::Debug for ConnectionSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectionSettings")
            .field("address", &self.address)
            .field("namespace", &self.namespace)
            .field("tls", &self.tls)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// The server URL for `address`: `HOST:PORT` becomes `http://HOST:PORT`, or
/// `https://HOST:PORT` when `tls`; a full URL is kept, except that `http://` becomes
/// `https://` when `tls` (the transport only speaks TLS to `https` URLs). Errors:
/// [`TemporalError::Invalid`] naming the address.
pub fn server_url(address: &str, tls: bool) -> Result<Url, TemporalError> {
    let scheme = if tls { "https" } else { "http" };
    let text = match address.split_once("://") {
        Some(("http", rest)) if tls => format!("https://{rest}"),
        Some(_) => address.to_string(),
        None => format!("{scheme}://{address}"),
    };
    let url = Url::parse(&text).map_err(|e| {
        TemporalError::Invalid(format!(
            "--temporal {address}: not a server address ({e}); give HOST:PORT, e.g. \
             localhost:7233"
        ))
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(TemporalError::Invalid(format!(
            "--temporal {address}: the scheme must be http:// or https://, or none (HOST:PORT)"
        )));
    }
    if url.host_str().is_none_or(str::is_empty) || url.port_or_known_default().is_none() {
        return Err(TemporalError::Invalid(format!(
            "--temporal {address}: not a server address; give HOST:PORT, e.g. localhost:7233"
        )));
    }
    Ok(url)
}

/// Reads a PEM file of the TLS settings. Errors: [`TemporalError::Invalid`] naming what
/// the file is for and its path.
fn read_pem(what: &str, path: &Path) -> Result<Vec<u8>, TemporalError> {
    std::fs::read(path).map_err(|e| {
        TemporalError::Invalid(format!(
            "TLS {what} {}: cannot read it ({e}); give the path of a readable PEM file",
            path.display()
        ))
    })
}

/// The SDK's TLS options for `settings`: `None` for plain TCP; the system's roots when
/// only an API key is given. Errors: [`TemporalError::Invalid`] for an unreadable file or
/// a client certificate without its key (or the reverse).
fn tls_options(settings: &ConnectionSettings) -> Result<Option<TlsOptions>, TemporalError> {
    let Some(tls) = &settings.tls else {
        return Ok(settings.api_key.is_some().then(TlsOptions::default));
    };
    let ca = tls
        .ca_cert
        .as_deref()
        .map(|p| read_pem("CA certificate", p))
        .transpose()?;
    let client = match (&tls.client_cert, &tls.client_key) {
        (Some(cert), Some(key)) => Some(
            ClientTlsOptions::builder()
                .client_cert(read_pem("client certificate", cert)?)
                .client_private_key(read_pem("client key", key)?)
                .build(),
        ),
        (None, None) => None,
        _ => {
            return Err(TemporalError::Invalid(
                "mTLS needs both a client certificate and its key (--tls-client-cert and \
                 --tls-client-key, or temporal.tls.client_cert and client_key)"
                    .to_string(),
            ));
        }
    };
    Ok(Some(
        TlsOptions::builder()
            .maybe_server_root_ca_cert(ca)
            .maybe_domain(tls.server_name.clone())
            .maybe_client_tls_options(client)
            .build(),
    ))
}

/// A client of `settings.namespace` on the server at `settings.address`, identified as
/// `identity`, over TLS when [`ConnectionSettings::uses_tls`]. Errors:
/// [`TemporalError::Invalid`] for a malformed address or an unreadable certificate file
/// (naming it), [`TemporalError::Unreachable`] naming the address when no server answers
/// or the TLS handshake fails (within about 20 s).
pub async fn connect(
    settings: &ConnectionSettings,
    identity: &str,
) -> Result<Client, TemporalError> {
    let address = settings.address.as_str();
    let url = server_url(address, settings.uses_tls())?;
    let options = ConnectionOptions::new(url)
        .identity(identity.to_string())
        .connect_timeout(CONNECT_TIMEOUT)
        .maybe_tls_options(tls_options(settings)?)
        .maybe_api_key(settings.api_key.clone())
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
        .map_err(|e| {
            let mut message = e.to_string();
            if settings.uses_tls() {
                message.push_str(
                    "; the connection used TLS: check that the server speaks TLS on this port \
                     and that its certificate is signed by the CA given (or a system root) \
                     for the address's host or --tls-server-name",
                );
            }
            unreachable(message)
        })?;
    Client::new(
        connection,
        ClientOptions::new(settings.namespace.clone()).build(),
    )
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_or_an_api_key_turns_the_address_into_https() {
        assert_eq!(
            server_url("localhost:7233", false).unwrap().as_str(),
            "http://localhost:7233/"
        );
        assert_eq!(
            server_url("localhost:7233", true).unwrap().as_str(),
            "https://localhost:7233/"
        );
        assert_eq!(
            server_url("http://h:1", true).unwrap().as_str(),
            "https://h:1/"
        );
        assert_eq!(server_url("https://h:1", false).unwrap().scheme(), "https");
        let e = server_url("grpc://h:1", false).unwrap_err().to_string();
        assert!(e.contains("--temporal grpc://h:1"), "{e}");
        assert!(server_url("", false).is_err());
    }

    #[test]
    fn debug_never_prints_the_api_key() {
        let mut settings = ConnectionSettings::plain("h:1", "ns");
        settings.api_key = Some("sk-very-secret-123".to_string());
        let text = format!("{settings:?}");
        assert!(!text.contains("sk-very-secret-123"), "{text}");
        assert!(
            text.contains("<redacted>") && text.contains("h:1"),
            "{text}"
        );
        assert!(settings.uses_tls());
    }

    #[test]
    fn an_unreadable_certificate_is_an_input_error_naming_the_file() {
        let mut settings = ConnectionSettings::plain("h:1", "ns");
        settings.tls = Some(TlsSettings {
            ca_cert: Some(PathBuf::from("/nonexistent/ca.pem")),
            ..TlsSettings::default()
        });
        let e = tls_options(&settings).unwrap_err();
        assert!(matches!(e, TemporalError::Invalid(_)), "{e:?}");
        assert!(e.to_string().contains("/nonexistent/ca.pem"), "{e}");
        settings.tls = Some(TlsSettings {
            client_cert: Some(PathBuf::from("/nonexistent/c.pem")),
            ..TlsSettings::default()
        });
        let e = tls_options(&settings).unwrap_err().to_string();
        assert!(e.contains("--tls-client-key"), "{e}");
    }

    #[test]
    fn plain_settings_use_no_tls_and_an_api_key_alone_uses_the_system_roots() {
        let mut settings = ConnectionSettings::plain("h:1", "ns");
        assert!(tls_options(&settings).unwrap().is_none());
        settings.api_key = Some("k".to_string());
        let tls = tls_options(&settings)
            .unwrap()
            .expect("TLS with an API key");
        assert!(tls.server_root_ca_cert.is_none() && tls.client_tls_options.is_none());
    }
}
