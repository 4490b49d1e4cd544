//! `engine:` and `temporal:` of `.pipeline/config.yaml`: where `pipeline run` runs its
//! steps, and how the submitter and `pipeline worker` reach a Temporal cluster
//! (docs/TEMPORAL.md, docs/SCALING.md, issue #16).
//!
//! ```yaml
//! engine: temporal
//! temporal:
//!   address: pipeline.a1b2c.tmprl.cloud:7233
//!   namespace: pipeline.a1b2c
//!   task_queue: pipeline
//!   remote: origin
//!   heartbeat_timeout_sec: 30
//!   tls: {ca_cert: certs/ca.pem, client_cert: certs/client.pem, client_key: certs/client.key}
//!   api_key_env: TEMPORAL_API_KEY
//! ```
//!
//! Every key is optional. Flags and `PIPELINE_TEMPORAL_ADDRESS` win over the file; the file
//! wins over the built-in defaults. Certificate paths are kept as written (relative ones
//! are relative to the repository root; the command joins them). `api_key_env` is the
//! NAME of an environment variable: the API key itself is never in this file, and this
//! reader never looks at the variable.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::config_check::read_checked;
use crate::config_error::ConfigError;

/// The longest heartbeat timeout accepted, in seconds (one day, as `--heartbeat-timeout`).
pub const MAX_HEARTBEAT_TIMEOUT_SEC: u64 = 86_400;

/// `engine:`: where `pipeline run` runs the steps when `--engine` is not given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EngineKind {
    /// On this machine (the default).
    Local,
    /// On the workers of a Temporal cluster (`temporal.address` or `--temporal`).
    Temporal,
}

/// The engine settings of one configuration file; every field is `None` when its key is
/// absent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EngineSettings {
    /// `engine`.
    pub engine: Option<EngineKind>,
    /// `temporal` (all `None` without the section).
    pub temporal: TemporalSettings,
}

/// `temporal:`: how to reach the Temporal cluster. The defaults of absent keys are
/// applied by the command (namespace `default`, task queue `pipeline`, remote `origin`,
/// heartbeat timeout 10 s).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TemporalSettings {
    /// `temporal.address`: `HOST:PORT` or an `http://`/`https://` URL of the frontend.
    pub address: Option<String>,
    /// `temporal.namespace`.
    pub namespace: Option<String>,
    /// `temporal.task_queue`: the main task queue (capability queues are `<queue>@<cap>`).
    pub task_queue: Option<String>,
    /// `temporal.remote`: the git remote shared by the submitter and the workers.
    pub remote: Option<String>,
    /// `temporal.heartbeat_timeout_sec`: seconds, 1 to [`MAX_HEARTBEAT_TIMEOUT_SEC`].
    pub heartbeat_timeout_sec: Option<u64>,
    /// `temporal.tls`: TLS (and mTLS) towards the frontend; `None` without the section.
    pub tls: Option<TlsFiles>,
    /// `temporal.api_key_env`: the name of the variable holding the API key.
    pub api_key_env: Option<String>,
}

/// `temporal.tls`: certificate files as written (relative to the repository root) and the
/// server name to verify.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsFiles {
    /// `temporal.tls.ca_cert`: PEM file of the CA that signed the server's certificate
    /// (default: the system's trusted roots, right for Temporal Cloud).
    #[serde(default)]
    pub ca_cert: Option<PathBuf>,
    /// `temporal.tls.client_cert`: PEM file of this client's certificate (mTLS); needs
    /// `client_key`.
    #[serde(default)]
    pub client_cert: Option<PathBuf>,
    /// `temporal.tls.client_key`: PEM file of this client's private key (mTLS); needs
    /// `client_cert`.
    #[serde(default)]
    pub client_key: Option<PathBuf>,
    /// `temporal.tls.server_name`: the name the server's certificate must carry, when it
    /// is not the address's host.
    #[serde(default)]
    pub server_name: Option<String>,
}

#[derive(Deserialize)]
struct Document {
    #[serde(default)]
    engine: Option<EngineKind>,
    #[serde(default)]
    temporal: Option<Section>,
}

/// The `temporal:` section (its fields are the table's `temporal.*` keys, compared by a
/// test).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Section {
    #[serde(default)]
    address: Option<String>,
    #[serde(default)]
    namespace: Option<String>,
    #[serde(default)]
    task_queue: Option<String>,
    #[serde(default)]
    remote: Option<String>,
    #[serde(default)]
    heartbeat_timeout_sec: Option<u64>,
    #[serde(default)]
    tls: Option<TlsFiles>,
    #[serde(default)]
    api_key_env: Option<String>,
}

impl EngineSettings {
    /// The settings of the configuration file at `path`; all `None` when it does not
    /// exist.
    ///
    /// # Errors
    /// [`ConfigError::Read`] when it exists but cannot be read;
    /// [`ConfigError::UnknownKey`] for a key anywhere in the file that is not in the
    /// table of known keys (`CONFIG_KEYS`, e.g. `temporal.adress`);
    /// [`ConfigError::Parse`] naming the file (and line and column where known) for
    /// invalid YAML, a value of the wrong type (`engine: remote`), and for a value this
    /// reader rejects, naming its key: an empty string, a task queue with `@`, a remote
    /// that is not a possible remote name, a heartbeat timeout outside 1..=86400, a
    /// `client_cert` without `client_key` (or the reverse), an `api_key_env` that is not
    /// a variable name.
    pub fn load(path: &Path) -> Result<EngineSettings, ConfigError> {
        let document: Option<Document> = read_checked(path)?;
        let Some(document) = document else {
            return Ok(EngineSettings::default());
        };
        let invalid = |key: &str, message: String| ConfigError::Parse {
            source_name: path.display().to_string(),
            line: None,
            column: None,
            message: format!("{key}: {message}"),
        };
        let Some(section) = document.temporal else {
            return Ok(EngineSettings {
                engine: document.engine,
                temporal: TemporalSettings::default(),
            });
        };
        for (key, value) in [
            ("temporal.address", &section.address),
            ("temporal.namespace", &section.namespace),
            ("temporal.task_queue", &section.task_queue),
            ("temporal.remote", &section.remote),
        ] {
            if let Some(value) = value
                && value.trim().is_empty()
            {
                return Err(invalid(
                    key,
                    "is empty; give a value or remove the key".to_owned(),
                ));
            }
        }
        if let Some(address) = &section.address
            && address.contains(char::is_whitespace)
        {
            return Err(invalid(
                "temporal.address",
                format!("`{address}` is not a server address; give HOST:PORT, e.g. localhost:7233"),
            ));
        }
        if let Some(queue) = &section.task_queue
            && (queue.contains('@') || queue.contains(char::is_whitespace))
        {
            return Err(invalid(
                "temporal.task_queue",
                format!(
                    "`{queue}` is not a task queue name: no spaces or `@` (capability queues \
                     are `<queue>@<capability>`)"
                ),
            ));
        }
        if let Some(name) = &section.remote
            && (name.starts_with('-') || name.contains(char::is_whitespace))
        {
            return Err(invalid(
                "temporal.remote",
                format!("`{name}` is not a git remote name (see `git remote`)"),
            ));
        }
        if let Some(seconds) = section.heartbeat_timeout_sec
            && !(1..=MAX_HEARTBEAT_TIMEOUT_SEC).contains(&seconds)
        {
            return Err(invalid(
                "temporal.heartbeat_timeout_sec",
                format!(
                    "{seconds} is out of range; give seconds from 1 to {MAX_HEARTBEAT_TIMEOUT_SEC}"
                ),
            ));
        }
        if let Some(tls) = &section.tls {
            for (key, file) in [
                ("temporal.tls.ca_cert", &tls.ca_cert),
                ("temporal.tls.client_cert", &tls.client_cert),
                ("temporal.tls.client_key", &tls.client_key),
            ] {
                if file.as_ref().is_some_and(|f| f.as_os_str().is_empty()) {
                    return Err(invalid(
                        key,
                        "is empty; give the path of a PEM file".to_owned(),
                    ));
                }
            }
            match (&tls.client_cert, &tls.client_key) {
                (Some(_), None) => {
                    return Err(invalid(
                        "temporal.tls.client_key",
                        "is missing: mTLS needs both client_cert and client_key".to_owned(),
                    ));
                }
                (None, Some(_)) => {
                    return Err(invalid(
                        "temporal.tls.client_cert",
                        "is missing: mTLS needs both client_cert and client_key".to_owned(),
                    ));
                }
                _ => {}
            }
            if tls
                .server_name
                .as_ref()
                .is_some_and(|s| s.trim().is_empty())
            {
                return Err(invalid(
                    "temporal.tls.server_name",
                    "is empty; give the host name of the server's certificate or remove the key"
                        .to_owned(),
                ));
            }
        }
        if let Some(name) = &section.api_key_env
            && !is_variable_name(name)
        {
            return Err(invalid(
                "temporal.api_key_env",
                format!(
                    "`{name}` is not an environment variable name (letters, digits and `_`, \
                     not starting with a digit); give the NAME of the variable holding the \
                     API key, never the key itself"
                ),
            ));
        }
        Ok(EngineSettings {
            engine: document.engine,
            temporal: TemporalSettings {
                address: section.address,
                namespace: section.namespace,
                task_queue: section.task_queue,
                remote: section.remote,
                heartbeat_timeout_sec: section.heartbeat_timeout_sec,
                tls: section.tls,
                api_key_env: section.api_key_env,
            },
        })
    }
}

/// Whether `name` can name an environment variable: ASCII letters, digits and `_`, not
/// empty, not starting with a digit (POSIX portable names).
pub fn is_variable_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(yaml: &str) -> Result<EngineSettings, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.yaml");
        std::fs::write(&path, yaml).unwrap();
        EngineSettings::load(&path)
    }

    fn error(yaml: &str) -> String {
        load(yaml).unwrap_err().to_string()
    }

    #[test]
    fn every_key_is_read() {
        let settings = load(
            "engine: temporal\n\
             temporal:\n  address: ns.acct.tmprl.cloud:7233\n  namespace: ns.acct\n  \
             task_queue: q\n  remote: shared\n  heartbeat_timeout_sec: 45\n  \
             tls: {ca_cert: certs/ca.pem, client_cert: /etc/c.pem, client_key: c.key, \
             server_name: frontend}\n  api_key_env: TEMPORAL_API_KEY\n",
        )
        .unwrap();
        assert_eq!(settings.engine, Some(EngineKind::Temporal));
        let t = &settings.temporal;
        assert_eq!(t.address.as_deref(), Some("ns.acct.tmprl.cloud:7233"));
        assert_eq!(t.namespace.as_deref(), Some("ns.acct"));
        assert_eq!(t.task_queue.as_deref(), Some("q"));
        assert_eq!(t.remote.as_deref(), Some("shared"));
        assert_eq!(t.heartbeat_timeout_sec, Some(45));
        assert_eq!(t.api_key_env.as_deref(), Some("TEMPORAL_API_KEY"));
        let tls = t.tls.as_ref().unwrap();
        assert_eq!(tls.ca_cert.as_deref(), Some(Path::new("certs/ca.pem")));
        assert_eq!(tls.client_cert.as_deref(), Some(Path::new("/etc/c.pem")));
        assert_eq!(tls.client_key.as_deref(), Some(Path::new("c.key")));
        assert_eq!(tls.server_name.as_deref(), Some("frontend"));
    }

    #[test]
    fn absent_keys_and_a_missing_file_are_none() {
        assert_eq!(
            load("scope_overlap: error\n").unwrap(),
            EngineSettings::default()
        );
        assert_eq!(
            load("engine: local\n").unwrap().engine,
            Some(EngineKind::Local)
        );
        assert_eq!(
            EngineSettings::load(Path::new("/nonexistent/config.yaml")).unwrap(),
            EngineSettings::default()
        );
        let only_tls = load("temporal: {tls: {}}\n").unwrap();
        assert_eq!(only_tls.temporal.tls, Some(TlsFiles::default()));
        assert_eq!(only_tls.temporal.address, None);
    }

    #[test]
    fn unknown_keys_name_the_key_with_a_suggestion() {
        let e = error("temporal: {adress: localhost:7233}\n");
        assert!(e.contains("temporal.adress"), "{e}");
        assert!(e.contains("temporal.address"), "{e}");
        let e = error("temporal: {tls: {ca_crt: ca.pem}}\n");
        assert!(e.contains("temporal.tls.ca_crt"), "{e}");
        assert!(e.contains("config.yaml"), "{e}");
        let e = error("engin: temporal\n");
        assert!(e.contains("`engin`") && e.contains("engine"), "{e}");
    }

    #[test]
    fn bad_values_name_the_file_and_the_key() {
        for (yaml, key) in [
            ("engine: remote\n", "engine"),
            ("temporal: {address: \"\"}\n", "temporal.address"),
            ("temporal: {address: \"a b:1\"}\n", "temporal.address"),
            ("temporal: {namespace: \" \"}\n", "temporal.namespace"),
            ("temporal: {task_queue: q@gpu}\n", "temporal.task_queue"),
            ("temporal: {remote: \"-x\"}\n", "temporal.remote"),
            (
                "temporal: {heartbeat_timeout_sec: 0}\n",
                "temporal.heartbeat_timeout_sec",
            ),
            (
                "temporal: {heartbeat_timeout_sec: 86401}\n",
                "temporal.heartbeat_timeout_sec",
            ),
            (
                "temporal: {heartbeat_timeout_sec: soon}\n",
                "heartbeat_timeout_sec",
            ),
            (
                "temporal: {tls: {client_cert: c.pem}}\n",
                "temporal.tls.client_key",
            ),
            (
                "temporal: {tls: {client_key: c.key}}\n",
                "temporal.tls.client_cert",
            ),
            ("temporal: {tls: {ca_cert: \"\"}}\n", "temporal.tls.ca_cert"),
            (
                "temporal: {tls: {server_name: \"\"}}\n",
                "temporal.tls.server_name",
            ),
            (
                "temporal: {api_key_env: \"sk-live-123\"}\n",
                "temporal.api_key_env",
            ),
        ] {
            let e = error(yaml);
            assert!(e.contains("config.yaml"), "{yaml}: {e}");
            assert!(e.contains(key), "{yaml}: {e}");
        }
        let e = error("temporal: {api_key_env: \"1abc\"}\n");
        assert!(e.contains("never the key itself"), "{e}");
    }

    #[test]
    fn variable_names() {
        for ok in ["A", "_X", "TEMPORAL_API_KEY", "k9"] {
            assert!(is_variable_name(ok), "{ok}");
        }
        for bad in ["", "9A", "A-B", "A B", "sk-123"] {
            assert!(!is_variable_name(bad), "{bad}");
        }
    }
}
