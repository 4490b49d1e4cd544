//! Which Temporal cluster a command talks to, and how: the flags of [`ConnectArgs`], the
//! variable `PIPELINE_TEMPORAL_ADDRESS`, the `engine:`/`temporal:` keys of the
//! repository's `.pipeline/config.yaml`, and the built-in defaults, in this order of
//! precedence (a flag wins over the variable, which wins over the file; docs/SCALING.md).
//!
//! Shared by `pipeline run --engine temporal` and `pipeline worker`, and meant for every
//! command that looks at a run on Temporal: nothing here depends on `run`.
//!
//! Certificate paths given as flags are taken as given (relative to the current
//! directory); those of the file are relative to the repository root. `--api-key-env` /
//! `temporal.api_key_env` name a variable that is read here: the key goes into
//! [`ConnectionSettings::api_key`] only, whose `Debug` hides it.

use std::path::{Path, PathBuf};

use pipeline_adapters::{EngineKind, EngineSettings, TlsFiles, is_variable_name};
use pipeline_core::engine::{EngineError, repository_root_or_current_dir};
use pipeline_temporal::connection::{ConnectionSettings, TlsSettings, server_url};
use pipeline_temporal::{DEFAULT_NAMESPACE, DEFAULT_TASK_QUEUE};

use crate::cli::ConnectArgs;
use crate::command_error::CommandError;

/// The shared git remote when neither `--remote` nor `temporal.remote` names one.
pub const DEFAULT_REMOTE: &str = "origin";
/// The heartbeat timeout, in seconds, when neither `--heartbeat-timeout` nor
/// `temporal.heartbeat_timeout_sec` gives one.
pub const DEFAULT_HEARTBEAT_TIMEOUT_SEC: u64 =
    pipeline_temporal::run_plan::DEFAULT_HEARTBEAT_TIMEOUT_SECS;

/// A resolved Temporal target: where to connect, which task queue, which git remote.
#[derive(Debug, Clone)]
pub struct TemporalTarget {
    /// Address, namespace, TLS and API key.
    pub connection: ConnectionSettings,
    /// The main task queue (capability queues are `<queue>@<capability>`).
    pub task_queue: String,
    /// The name of the git remote shared by the submitter and the workers.
    pub remote: String,
    /// The name of the variable holding the API key (`--api-key-env`,
    /// `temporal.api_key_env`), when there is one: a worker removes it from the
    /// environment of the steps it runs.
    pub api_key_env: Option<String>,
}

/// The repository's `.pipeline/config.yaml` as far as the engine is concerned.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// The repository root (of `--repo`, else of the current directory; the directory
    /// itself when it is in no repository).
    pub root: PathBuf,
    /// `<root>/.pipeline/config.yaml` (it may not exist).
    pub path: PathBuf,
    /// Its `engine:` and `temporal:` keys.
    pub settings: EngineSettings,
}

impl EngineConfig {
    /// Loads the configuration of the repository at `repo` (`--repo`; `None` = the
    /// current directory). Errors: a bad file or key (exit 2, naming the file and key).
    pub fn load(repo: Option<&Path>) -> Result<EngineConfig, CommandError> {
        let root = repository_root_or_current_dir(repo).unwrap_or_else(|_| {
            // Not a repository: the command reports that itself; no file to read.
            repo.map_or_else(|| PathBuf::from("."), Path::to_path_buf)
        });
        let path = root.join(".pipeline").join("config.yaml");
        let settings = EngineSettings::load(&path).map_err(EngineError::Config)?;
        Ok(EngineConfig {
            root,
            path,
            settings,
        })
    }

    /// `engine:`: whether `pipeline run` without `--engine` runs on Temporal.
    pub fn engine_is_temporal(&self) -> bool {
        self.settings.engine == Some(EngineKind::Temporal)
    }

    /// The heartbeat timeout in seconds: `flag`, else `temporal.heartbeat_timeout_sec`,
    /// else [`DEFAULT_HEARTBEAT_TIMEOUT_SEC`] (both already range-checked).
    pub fn heartbeat_timeout(&self, flag: Option<u64>) -> u64 {
        flag.or(self.settings.temporal.heartbeat_timeout_sec)
            .unwrap_or(DEFAULT_HEARTBEAT_TIMEOUT_SEC)
    }

    fn key(&self, key: &str) -> String {
        format!("{key} in {}", self.path.display())
    }
}

/// Whether `pipeline run` runs on Temporal: `--engine` when given, else `engine:` of
/// the repository's `.pipeline/config.yaml`, else local. Errors: a bad configuration
/// file when `--engine` is not given (exit 2).
pub fn engine_is_temporal(
    flag: Option<crate::cli::Engine>,
    repo: Option<&Path>,
) -> Result<bool, CommandError> {
    match flag {
        Some(engine) => Ok(engine == crate::cli::Engine::Temporal),
        None => Ok(EngineConfig::load(repo)?.engine_is_temporal()),
    }
}

/// The Temporal target of `flags` and `remote_flag` (`--remote`) over the configuration
/// of the repository at `repo` (`--repo`; `None` = the current directory): `None` when
/// no address is configured anywhere (neither `--temporal`, `PIPELINE_TEMPORAL_ADDRESS`
/// nor `temporal.address`).
///
/// Errors (exit 2, each naming the flag, or the key and the file, it comes from): a bad
/// configuration file, an address that is not `HOST:PORT` or an `http(s)://` URL, an
/// empty namespace, a task queue with spaces or `@`, a certificate file that is not a
/// readable file, a client certificate without its key (or the reverse), an API key
/// variable name that is not a name, or a variable that is not set or empty.
pub fn resolve(
    flags: &ConnectArgs,
    remote_flag: Option<&str>,
    repo: Option<&Path>,
) -> Result<Option<TemporalTarget>, CommandError> {
    resolve_in(flags, remote_flag, &EngineConfig::load(repo)?)
}

/// [`resolve`] over an already loaded configuration (for a command that also needs its
/// other keys, such as the heartbeat timeout). Errors: as [`resolve`].
pub fn resolve_in(
    flags: &ConnectArgs,
    remote_flag: Option<&str>,
    config: &EngineConfig,
) -> Result<Option<TemporalTarget>, CommandError> {
    resolve_with(flags, remote_flag, config, |name| std::env::var(name))
}

/// [`resolve`] over a loaded configuration, reading variables with `var`.
fn resolve_with(
    flags: &ConnectArgs,
    remote_flag: Option<&str>,
    config: &EngineConfig,
    var: impl Fn(&str) -> Result<String, std::env::VarError>,
) -> Result<Option<TemporalTarget>, CommandError> {
    let file = &config.settings.temporal;
    let (address, address_source) = match (&flags.temporal, &file.address) {
        (Some(a), _) => (a.clone(), "--temporal".to_string()),
        (None, Some(a)) => (a.clone(), config.key("temporal.address")),
        (None, None) => return Ok(None),
    };
    let namespace = pick(&flags.namespace, "--namespace", &file.namespace)?
        .unwrap_or_else(|| DEFAULT_NAMESPACE.to_string());
    let task_queue = pick(&flags.task_queue, "--task-queue", &file.task_queue)?
        .unwrap_or_else(|| DEFAULT_TASK_QUEUE.to_string());
    if task_queue.contains('@') || task_queue.contains(char::is_whitespace) {
        return Err(CommandError::invalid(format!(
            "--task-queue {task_queue}: not a task queue name: no spaces or `@` (capability \
             queues are `<queue>@<capability>`)"
        )));
    }
    let remote = match remote_flag {
        Some(r) if r.trim().is_empty() || r.starts_with('-') => {
            return Err(CommandError::invalid(format!(
                "--remote `{r}`: not a git remote name (see `git remote`)"
            )));
        }
        Some(r) => r.to_string(),
        None => file
            .remote
            .clone()
            .unwrap_or_else(|| DEFAULT_REMOTE.to_string()),
    };
    let tls = tls_settings(flags, config)?;
    let (api_key_env, api_key) = match api_key(flags, config, var)? {
        Some((name, key)) => (Some(name), Some(key)),
        None => (None, None),
    };
    let connection = ConnectionSettings {
        address,
        namespace,
        tls,
        api_key,
    };
    if let Err(e) = server_url(&connection.address, connection.uses_tls()) {
        let text = e.to_string();
        let reason = text
            .strip_prefix(&format!("--temporal {}: ", connection.address))
            .unwrap_or(&text);
        return Err(CommandError::invalid(format!(
            "{address_source}: `{}`: {reason}",
            connection.address
        )));
    }
    Ok(Some(TemporalTarget {
        connection,
        task_queue,
        remote,
        api_key_env,
    }))
}

/// `flag` when given (not empty), else the file's value (checked by its reader).
fn pick(
    flag: &Option<String>,
    name: &str,
    file: &Option<String>,
) -> Result<Option<String>, CommandError> {
    match flag {
        Some(v) if v.trim().is_empty() => Err(CommandError::invalid(format!(
            "{name}: the value is empty; give one or leave the flag out"
        ))),
        Some(v) => Ok(Some(v.clone())),
        None => Ok(file.clone()),
    }
}

/// The TLS settings: each `--tls-*` flag over its `temporal.tls.*` key; `None` when
/// neither a flag nor the `tls:` section is given. Every certificate file must be a
/// readable file.
fn tls_settings(
    flags: &ConnectArgs,
    config: &EngineConfig,
) -> Result<Option<TlsSettings>, CommandError> {
    let any_flag = flags.tls_ca_cert.is_some()
        || flags.tls_client_cert.is_some()
        || flags.tls_client_key.is_some()
        || flags.tls_server_name.is_some();
    let file = config.settings.temporal.tls.clone();
    if !any_flag && file.is_none() {
        return Ok(None);
    }
    let file = file.unwrap_or_default();
    let TlsFiles {
        ca_cert,
        client_cert,
        client_key,
        server_name,
    } = file;
    let path = |flag: &Option<PathBuf>,
                flag_name: &str,
                key: Option<PathBuf>,
                key_name: &str|
     -> Result<Option<PathBuf>, CommandError> {
        let (chosen, source) = match (flag, key) {
            (Some(p), _) => (p.clone(), flag_name.to_string()),
            (None, Some(p)) => (config.root.join(p), config.key(key_name)),
            (None, None) => return Ok(None),
        };
        check_file(&chosen, &source)?;
        Ok(Some(chosen))
    };
    let ca_cert = path(
        &flags.tls_ca_cert,
        "--tls-ca-cert",
        ca_cert,
        "temporal.tls.ca_cert",
    )?;
    let client_cert = path(
        &flags.tls_client_cert,
        "--tls-client-cert",
        client_cert,
        "temporal.tls.client_cert",
    )?;
    let client_key = path(
        &flags.tls_client_key,
        "--tls-client-key",
        client_key,
        "temporal.tls.client_key",
    )?;
    if client_cert.is_some() != client_key.is_some() {
        return Err(CommandError::invalid(
            "mTLS needs both a client certificate and its key: give --tls-client-cert and \
             --tls-client-key (or temporal.tls.client_cert and client_key), or neither",
        ));
    }
    let server_name = match &flags.tls_server_name {
        Some(n) if n.trim().is_empty() => {
            return Err(CommandError::invalid(
                "--tls-server-name: the value is empty; give the host name of the server's \
                 certificate or leave the flag out",
            ));
        }
        Some(n) => Some(n.clone()),
        None => server_name,
    };
    Ok(Some(TlsSettings {
        ca_cert,
        client_cert,
        client_key,
        server_name,
    }))
}

/// `file` (from `source`: a flag or a key and its file) must be a readable file.
fn check_file(file: &Path, source: &str) -> Result<(), CommandError> {
    match std::fs::File::open(file).and_then(|f| f.metadata()) {
        Ok(m) if m.is_file() => Ok(()),
        Ok(_) => Err(CommandError::invalid(format!(
            "{source}: {} is not a file; give the path of a PEM file",
            file.display()
        ))),
        Err(e) => Err(CommandError::invalid(format!(
            "{source}: cannot read {} ({e}); give the path of a readable PEM file",
            file.display()
        ))),
    }
}

/// The API key from the variable `--api-key-env` (else `temporal.api_key_env`) names;
/// `None` when neither names one.
fn api_key(
    flags: &ConnectArgs,
    config: &EngineConfig,
    var: impl Fn(&str) -> Result<String, std::env::VarError>,
) -> Result<Option<(String, String)>, CommandError> {
    let (name, source) = match (&flags.api_key_env, &config.settings.temporal.api_key_env) {
        (Some(n), _) => (n.clone(), "--api-key-env".to_string()),
        (None, Some(n)) => (n.clone(), config.key("temporal.api_key_env")),
        (None, None) => return Ok(None),
    };
    if !is_variable_name(&name) {
        // Not echoed: a key pasted where its variable's name belongs is a secret.
        return Err(CommandError::invalid(format!(
            "{source}: the value is not an environment variable name (letters, digits and \
             `_`, not starting with a digit); give the NAME of the variable holding the API \
             key, never the key itself"
        )));
    }
    match var(&name) {
        Ok(key) if !key.trim().is_empty() => Ok(Some((name, key))),
        Ok(_) => Err(CommandError::invalid(format!(
            "{source}: the variable {name} is empty; set it to the Temporal API key"
        ))),
        Err(std::env::VarError::NotPresent) => Err(CommandError::invalid(format!(
            "{source}: the variable {name} is not set; set it to the Temporal API key in \
             this process's environment"
        ))),
        Err(std::env::VarError::NotUnicode(_)) => Err(CommandError::invalid(format!(
            "{source}: the variable {name} is not valid UTF-8"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(yaml: &str) -> (tempfile::TempDir, EngineConfig) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join(".pipeline")).unwrap();
        std::fs::write(dir.path().join(".pipeline/config.yaml"), yaml).unwrap();
        let config = EngineConfig::load(Some(dir.path())).unwrap();
        (dir, config)
    }

    fn no_vars(_: &str) -> Result<String, std::env::VarError> {
        Err(std::env::VarError::NotPresent)
    }

    fn message(e: CommandError) -> String {
        match e {
            CommandError::Message { text, code } => {
                assert_eq!(code, 2, "{text}");
                text
            }
            CommandError::Engine(e) => {
                assert_eq!(e.exit_code(), 2, "{e}");
                e.to_string()
            }
            CommandError::Document { json, .. } => json,
        }
    }

    #[test]
    fn without_an_address_anywhere_there_is_no_target() {
        let (_d, c) = config("temporal: {namespace: ns}\n");
        let target = resolve_with(&ConnectArgs::default(), None, &c, no_vars).unwrap();
        assert!(target.is_none());
    }

    #[test]
    fn defaults_apply_below_the_file_and_the_file_below_the_flags() {
        let (_d, c) = config("scope_overlap: error\n");
        let flags = ConnectArgs {
            temporal: Some("h:1".into()),
            ..ConnectArgs::default()
        };
        let t = resolve_with(&flags, None, &c, no_vars).unwrap().unwrap();
        assert_eq!(t.connection, ConnectionSettings::plain("h:1", "default"));
        assert_eq!(
            (t.task_queue.as_str(), t.remote.as_str()),
            ("pipeline", "origin")
        );
        assert_eq!(c.heartbeat_timeout(None), 10);

        let (_d, c) = config(
            "engine: temporal\ntemporal: {address: file:7233, namespace: file-ns, \
             task_queue: file-q, remote: file-remote, heartbeat_timeout_sec: 90}\n",
        );
        assert!(c.engine_is_temporal());
        let t = resolve_with(&ConnectArgs::default(), None, &c, no_vars)
            .unwrap()
            .unwrap();
        assert_eq!(
            t.connection,
            ConnectionSettings::plain("file:7233", "file-ns")
        );
        assert_eq!(
            (t.task_queue.as_str(), t.remote.as_str()),
            ("file-q", "file-remote")
        );
        assert_eq!(c.heartbeat_timeout(None), 90);
        assert_eq!(c.heartbeat_timeout(Some(5)), 5);

        let flags = ConnectArgs {
            temporal: Some("flag:7233".into()),
            namespace: Some("flag-ns".into()),
            task_queue: Some("flag-q".into()),
            ..ConnectArgs::default()
        };
        let t = resolve_with(&flags, Some("flag-remote"), &c, no_vars)
            .unwrap()
            .unwrap();
        assert_eq!(
            t.connection,
            ConnectionSettings::plain("flag:7233", "flag-ns")
        );
        assert_eq!(
            (t.task_queue.as_str(), t.remote.as_str()),
            ("flag-q", "flag-remote")
        );
    }

    #[test]
    fn tls_keys_are_merged_key_by_key_and_file_paths_are_relative_to_the_root() {
        let (dir, c) = config(
            "temporal: {address: h:1, tls: {ca_cert: certs/ca.pem, server_name: from-file}}\n",
        );
        std::fs::create_dir_all(dir.path().join("certs")).unwrap();
        for f in ["certs/ca.pem", "client.pem", "client.key"] {
            std::fs::write(dir.path().join(f), "pem").unwrap();
        }
        let t = resolve_with(&ConnectArgs::default(), None, &c, no_vars)
            .unwrap()
            .unwrap();
        let tls = t.connection.tls.unwrap();
        assert_eq!(tls.ca_cert, Some(c.root.join("certs/ca.pem")));
        assert_eq!(tls.server_name.as_deref(), Some("from-file"));
        assert_eq!(tls.client_cert, None);

        let flags = ConnectArgs {
            tls_client_cert: Some(dir.path().join("client.pem")),
            tls_client_key: Some(dir.path().join("client.key")),
            tls_server_name: Some("from-flag".into()),
            ..ConnectArgs::default()
        };
        let tls = resolve_with(&flags, None, &c, no_vars)
            .unwrap()
            .unwrap()
            .connection
            .tls
            .unwrap();
        assert_eq!(tls.ca_cert, Some(c.root.join("certs/ca.pem")));
        assert_eq!(tls.client_key, Some(dir.path().join("client.key")));
        assert_eq!(tls.server_name.as_deref(), Some("from-flag"));
    }

    #[test]
    fn missing_files_and_half_mtls_name_their_flag_or_key() {
        let (_d, c) = config("temporal: {address: h:1, tls: {ca_cert: nowhere/ca.pem}}\n");
        let e = message(resolve_with(&ConnectArgs::default(), None, &c, no_vars).unwrap_err());
        assert!(e.contains("temporal.tls.ca_cert in "), "{e}");
        assert!(e.contains("nowhere/ca.pem"), "{e}");
        let flags = ConnectArgs {
            tls_ca_cert: Some(PathBuf::from("/nonexistent/flag-ca.pem")),
            ..ConnectArgs::default()
        };
        let e = message(resolve_with(&flags, None, &c, no_vars).unwrap_err());
        assert!(
            e.contains("--tls-ca-cert: cannot read /nonexistent/flag-ca.pem"),
            "{e}"
        );
        let (dir, c) = config("temporal: {address: h:1}\n");
        std::fs::write(dir.path().join("c.pem"), "pem").unwrap();
        let flags = ConnectArgs {
            tls_client_cert: Some(dir.path().join("c.pem")),
            ..ConnectArgs::default()
        };
        let e = message(resolve_with(&flags, None, &c, no_vars).unwrap_err());
        assert!(e.contains("--tls-client-key"), "{e}");
    }

    #[test]
    fn the_api_key_comes_from_the_named_variable_and_is_never_echoed() {
        let (_d, c) = config("temporal: {address: h:1, api_key_env: MY_TEMPORAL_KEY}\n");
        let vars = |name: &str| match name {
            "MY_TEMPORAL_KEY" => Ok("sk-secret-value".to_string()),
            "EMPTY" => Ok(String::new()),
            _ => Err(std::env::VarError::NotPresent),
        };
        let t = resolve_with(&ConnectArgs::default(), None, &c, vars)
            .unwrap()
            .unwrap();
        assert_eq!(t.connection.api_key.as_deref(), Some("sk-secret-value"));
        // Workers hide this variable from their steps.
        assert_eq!(t.api_key_env.as_deref(), Some("MY_TEMPORAL_KEY"));
        assert!(t.connection.uses_tls());
        assert!(!format!("{t:?}").contains("sk-secret-value"));

        let e = message(resolve_with(&ConnectArgs::default(), None, &c, no_vars).unwrap_err());
        assert!(e.contains("temporal.api_key_env in "), "{e}");
        assert!(e.contains("MY_TEMPORAL_KEY is not set"), "{e}");
        let flags = ConnectArgs {
            api_key_env: Some("EMPTY".into()),
            ..ConnectArgs::default()
        };
        let e = message(resolve_with(&flags, None, &c, vars).unwrap_err());
        assert!(
            e.contains("--api-key-env: the variable EMPTY is empty"),
            "{e}"
        );
        let flags = ConnectArgs {
            api_key_env: Some("sk-pasted-key".into()),
            ..ConnectArgs::default()
        };
        let e = message(resolve_with(&flags, None, &c, vars).unwrap_err());
        assert!(
            e.contains("--api-key-env") && !e.contains("sk-pasted-key"),
            "{e}"
        );
    }

    #[test]
    fn bad_flag_values_and_a_bad_file_address_name_their_source() {
        let (_d, c) = config("temporal: {address: \"ftp://h:1\"}\n");
        let e = message(resolve_with(&ConnectArgs::default(), None, &c, no_vars).unwrap_err());
        assert!(
            e.contains("temporal.address in ") && e.contains("ftp://h:1"),
            "{e}"
        );
        let bad = [
            ConnectArgs {
                temporal: Some("h:1".into()),
                namespace: Some(String::new()),
                ..ConnectArgs::default()
            },
            ConnectArgs {
                temporal: Some("h:1".into()),
                task_queue: Some("q@gpu".into()),
                ..ConnectArgs::default()
            },
            ConnectArgs {
                temporal: Some("not an address".into()),
                ..ConnectArgs::default()
            },
        ];
        for (flags, name) in bad
            .iter()
            .zip(["--namespace", "--task-queue", "--temporal"])
        {
            let e = message(resolve_with(flags, None, &c, no_vars).unwrap_err());
            assert!(e.contains(name), "{e}");
        }
        let flags = ConnectArgs {
            temporal: Some("h:1".into()),
            ..ConnectArgs::default()
        };
        let e = message(resolve_with(&flags, Some("-x"), &c, no_vars).unwrap_err());
        assert!(e.contains("--remote"), "{e}");
    }

    #[test]
    fn a_bad_file_is_an_input_error_naming_file_and_key() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join(".pipeline")).unwrap();
        std::fs::write(
            dir.path().join(".pipeline/config.yaml"),
            "temporal: {adress: h:1}\n",
        )
        .unwrap();
        let e = message(EngineConfig::load(Some(dir.path())).unwrap_err());
        assert!(
            e.contains("config.yaml") && e.contains("temporal.adress"),
            "{e}"
        );
    }
}
