//! The secrets a run knows, computed once when it starts or resumes
//! ([`RunContext::secrets`](super::run_context::RunContext)) and redacted from every
//! stream of every step: tools, commands, acceptance tests, compensations, their logs,
//! the journal and the live output (issue #10, point 4; `docs/SECURITY.md`).
//!
//! A value is a secret when it is the value of
//! - a tool profile's `api_key_env` or `secret_env` variable, or of a secret-looking
//!   name in a profile's `env` ([`ToolProfile::is_secret_env`]), from the profile's `env`
//!   or the process environment;
//! - a variable of the process environment whose name matches `secrets.env_patterns` of
//!   `.pipeline/config.yaml` (default `*_API_KEY`, `*_TOKEN`, `*_SECRET`, `*PASSWORD*`,
//!   case-insensitive) or is listed in `secrets.extra_env`;
//! - a step's own `env` entry whose name matches those, or names a profile's
//!   `api_key_env` / `secret_env`.
//!
//! Values shorter than [`MIN_SECRET_BYTES`] are not redacted (they would mangle ordinary
//! output); `pipeline tools` names them.

use std::collections::BTreeMap;
use std::path::Path;

pub use pipeline_adapters::MIN_SECRET_BYTES;
use pipeline_adapters::{SecretSettings, ToolProfile, ToolRegistry};

use super::EngineError;
use crate::model::WorkstreamSet;

/// One variable known to hold a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownSecret {
    /// The variable's name.
    pub name: String,
    /// Where it is declared or found, for people: `tool profile `aider``,
    /// `environment`, `step `ws/a``.
    pub source: String,
    /// Its value (never shown).
    value: String,
}

impl KnownSecret {
    /// Whether the value is long enough to be redacted ([`MIN_SECRET_BYTES`]).
    pub fn is_redacted(&self) -> bool {
        self.value.len() >= MIN_SECRET_BYTES
    }
}

/// Every secret a run knows, with where each comes from (see the module docs).
#[derive(Debug, Clone, Default)]
pub struct KnownSecrets {
    /// In discovery order, one entry per (name, source) with a non-empty value.
    pub entries: Vec<KnownSecret>,
}

impl KnownSecrets {
    /// Collects the secrets of `registry`'s profiles, of `env` (the process environment:
    /// `std::env::vars()` in the binary) and of the `env` of `set`'s steps (when given).
    pub fn collect(
        settings: &SecretSettings,
        registry: &ToolRegistry,
        set: Option<&WorkstreamSet>,
        env: &[(String, String)],
    ) -> KnownSecrets {
        let process: BTreeMap<&str, &str> =
            env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let mut known = KnownSecrets::default();
        let mut profile_names: Vec<&str> = Vec::new();
        for name in registry.names() {
            let Some(profile) = registry.profile(name) else {
                continue;
            };
            for variable in profile_secret_names(profile) {
                profile_names.push(variable);
                let value = profile
                    .env
                    .get(variable)
                    .map(String::as_str)
                    .or_else(|| process.get(variable).copied());
                known.add(variable, &format!("tool profile `{name}`"), value);
            }
        }
        for (name, value) in &process {
            if settings.is_secret_name(name) {
                known.add(name, "environment", Some(value));
            }
        }
        for step in set.map(|s| s.steps.as_slice()).unwrap_or_default() {
            for (name, value) in &step.env {
                if settings.is_secret_name(name) || profile_names.contains(&name.as_str()) {
                    known.add(name, &format!("step `{}`", step.id), Some(value));
                }
            }
        }
        known
    }

    fn add(&mut self, name: &str, source: &str, value: Option<&str>) {
        let Some(value) = value.filter(|v| !v.is_empty()) else {
            return;
        };
        if self
            .entries
            .iter()
            .any(|e| e.name == name && e.source == source)
        {
            return;
        }
        self.entries.push(KnownSecret {
            name: name.to_owned(),
            source: source.to_owned(),
            value: value.to_owned(),
        });
    }

    /// The values to redact: every distinct value of at least [`MIN_SECRET_BYTES`],
    /// longest first.
    pub fn values(&self) -> Vec<String> {
        let mut values: Vec<String> = self
            .entries
            .iter()
            .filter(|e| e.is_redacted())
            .map(|e| e.value.clone())
            .collect();
        values.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        values.dedup();
        values
    }
}

/// The variables of `profile` whose values are secrets: `api_key_env`, `secret_env`
/// and secret-looking names of its `env`.
fn profile_secret_names(profile: &ToolProfile) -> Vec<&str> {
    let mut names: Vec<&str> = profile
        .api_key_env
        .iter()
        .chain(&profile.secret_env)
        .map(String::as_str)
        .collect();
    names.extend(
        profile
            .env
            .keys()
            .filter(|name| profile.is_secret_env(name))
            .map(String::as_str),
    );
    names.dedup();
    names
}

/// The secrets of the repository whose state directory is `state_dir` (its
/// `config.yaml`), for `registry` and, when given, the steps of `set`, taken from the
/// process environment. Errors: [`EngineError::Config`] for an unreadable file or a bad
/// `secrets:` section (naming the file and key).
pub fn known_secrets(
    state_dir: &Path,
    registry: &ToolRegistry,
    set: Option<&WorkstreamSet>,
) -> Result<KnownSecrets, EngineError> {
    let settings = SecretSettings::load(&state_dir.join("config.yaml"))?;
    let env: Vec<(String, String)> = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect();
    Ok(KnownSecrets::collect(&settings, registry, set, &env))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registry(yaml: &str) -> ToolRegistry {
        ToolRegistry::from_yaml_layers(&[("config.yaml", yaml)], &[]).unwrap()
    }

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn profiles_and_matching_environment_variables_are_secrets() {
        let registry = registry(
            "tools:\n  bot:\n    kind: custom\n    command: bot\n    api_key_env: BOT_KEY\n    secret_env: [BOT_PASS]\n    env: {BOT_AUTH_TOKEN: from-profile-123}\n",
        );
        let env = vars(&[
            ("BOT_KEY", "bot-key-value-1"),
            ("BOT_PASS", "short"),
            ("OPENAI_API_KEY", "sk-test-0123456789abcdef"),
            ("FOO_TOKEN", "foo-token-value"),
            ("PATH", "/usr/bin:/bin"),
            ("EMPTY_TOKEN", ""),
        ]);
        let known = KnownSecrets::collect(&SecretSettings::default(), &registry, None, &env);
        let values = known.values();
        for value in [
            "bot-key-value-1",
            "from-profile-123",
            "sk-test-0123456789abcdef",
            "foo-token-value",
        ] {
            assert!(values.contains(&value.to_owned()), "{value}: {values:?}");
        }
        assert!(!values.iter().any(|v| v == "short" || v.contains("/usr")));
        let short: Vec<&str> = known
            .entries
            .iter()
            .filter(|e| !e.is_redacted())
            .map(|e| e.name.as_str())
            .collect();
        assert_eq!(short, ["BOT_PASS"]);
        // Longest first, so that a secret containing another is replaced whole.
        assert!(values.windows(2).all(|w| w[0].len() >= w[1].len()));
    }

    #[test]
    fn settings_replace_the_default_patterns() {
        let settings =
            SecretSettings::from_yaml("c", "secrets: {env_patterns: [], extra_env: [DB_URL]}")
                .unwrap();
        let env = vars(&[
            ("OPENAI_API_KEY", "sk-test-0123456789abcdef"),
            ("DB_URL", "postgres://u:p@h/db"),
        ]);
        let known = KnownSecrets::collect(&settings, &registry(""), None, &env);
        assert_eq!(known.values(), ["postgres://u:p@h/db"]);
    }
}
