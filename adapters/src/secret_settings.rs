//! The `secrets:` section of a repository's `.pipeline/config.yaml`: which environment
//! variables hold secrets that a run redacts from every stream of every step.
//!
//! ```yaml
//! secrets:
//!   env_patterns: ["*_API_KEY", "*_TOKEN", "*_SECRET", "*PASSWORD*"]  # the default
//!   extra_env: [DATABASE_URL]                                         # exact names
//! ```
//!
//! `env_patterns` replaces the default list ([`DEFAULT_ENV_PATTERNS`]; `[]` turns
//! matching by name off); `*` stands for any run of characters and names are compared
//! without regard to case. `extra_env` adds variables by exact name. The section is
//! optional; other top-level sections are read elsewhere, but every key of the document
//! is checked against the table of known keys first (`config_check`). The rule comes from issue #10,
//! point 4 ("Secrets"); `docs/SECURITY.md` describes what is redacted where.

use std::io;
use std::path::Path;

use serde::Deserialize;

use crate::config_check::check_keys;
use crate::config_error::ConfigError;

/// The variable-name patterns that mark a secret when `secrets.env_patterns` is not
/// given: API keys, tokens, secrets and passwords by their usual names.
pub const DEFAULT_ENV_PATTERNS: [&str; 4] = ["*_API_KEY", "*_TOKEN", "*_SECRET", "*PASSWORD*"];

/// Which environment variables hold secrets (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretSettings {
    /// Name patterns (`*` = any characters, case-insensitive).
    pub env_patterns: Vec<String>,
    /// Exact variable names.
    pub extra_env: Vec<String>,
}

impl Default for SecretSettings {
    fn default() -> Self {
        SecretSettings {
            env_patterns: DEFAULT_ENV_PATTERNS
                .iter()
                .map(|p| (*p).to_owned())
                .collect(),
            extra_env: Vec::new(),
        }
    }
}

#[derive(Deserialize)]
struct Document {
    #[serde(default)]
    secrets: Option<Section>,
}

/// The `secrets:` section as written (its fields are the `secrets.*` rows of
/// `CONFIG_KEYS`; a test compares them).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Section {
    env_patterns: Option<Vec<String>>,
    extra_env: Option<Vec<String>>,
}

impl SecretSettings {
    /// The settings of the configuration file at `path`; the defaults when it does not
    /// exist.
    ///
    /// # Errors
    /// [`ConfigError::Read`] when it exists but cannot be read, and the errors of
    /// [`SecretSettings::from_yaml`].
    pub fn load(path: &Path) -> Result<SecretSettings, ConfigError> {
        match std::fs::read_to_string(path) {
            Ok(text) => SecretSettings::from_yaml(&path.display().to_string(), &text),
            Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(SecretSettings::default()),
            Err(source) => Err(ConfigError::Read {
                path: path.to_path_buf(),
                source,
            }),
        }
    }

    /// The settings of one YAML document (`source_name` names it in errors).
    ///
    /// # Errors
    /// [`ConfigError::UnknownKey`] for a key of the document that is not in the table of
    /// known keys (anywhere, not only under `secrets:`); [`ConfigError::Parse`] naming
    /// `source_name` and the key: invalid YAML, a value of the wrong type, a pattern with characters other
    /// than letters, digits, `_` and `*`, or an `extra_env` entry that is no variable
    /// name.
    pub fn from_yaml(source_name: &str, yaml: &str) -> Result<SecretSettings, ConfigError> {
        let parse_error = |line, column, message: String| ConfigError::Parse {
            source_name: source_name.to_owned(),
            line,
            column,
            message,
        };
        check_keys(source_name, yaml)?;
        let document: Option<Document> = serde_norway::from_str(yaml).map_err(|error| {
            parse_error(
                error.location().map(|l| l.line()),
                error.location().map(|l| l.column()),
                error.to_string(),
            )
        })?;
        let Some(section) = document.and_then(|d| d.secrets) else {
            return Ok(SecretSettings::default());
        };
        let mut settings = SecretSettings::default();
        if let Some(patterns) = section.env_patterns {
            for (i, pattern) in patterns.iter().enumerate() {
                let valid = !pattern.is_empty()
                    && pattern
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '*');
                if !valid {
                    return Err(parse_error(
                        None,
                        None,
                        format!(
                            "secrets.env_patterns[{i}]: {pattern:?} is not a pattern of variable names; use letters, digits, `_` and `*` (any characters), e.g. \"*_API_KEY\""
                        ),
                    ));
                }
            }
            settings.env_patterns = patterns;
        }
        if let Some(names) = section.extra_env {
            for (i, name) in names.iter().enumerate() {
                let valid = name
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                    && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
                if !valid {
                    return Err(parse_error(
                        None,
                        None,
                        format!(
                            "secrets.extra_env[{i}]: {name:?} is not an environment variable name; use letters, digits and `_`, not starting with a digit"
                        ),
                    ));
                }
            }
            settings.extra_env = names;
        }
        Ok(settings)
    }

    /// Whether the variable `name` holds a secret: it is in `extra_env` or matches one
    /// of `env_patterns` (case-insensitive).
    pub fn is_secret_name(&self, name: &str) -> bool {
        self.extra_env.iter().any(|extra| extra == name)
            || self
                .env_patterns
                .iter()
                .any(|pattern| glob_matches(pattern.as_bytes(), name.as_bytes()))
    }
}

/// Whether `name` matches `pattern`, where `*` matches any run of bytes (also none);
/// ASCII letters compare without regard to case.
fn glob_matches(pattern: &[u8], name: &[u8]) -> bool {
    // Iterative wildcard matching with backtracking to the last `*`: linear in practice,
    // O(pattern * name) at worst.
    let (mut p, mut n) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while n < name.len() {
        if p < pattern.len() && pattern[p] == b'*' {
            star = Some((p, n));
            p += 1;
        } else if p < pattern.len() && pattern[p].eq_ignore_ascii_case(&name[n]) {
            p += 1;
            n += 1;
        } else if let Some((star_p, star_n)) = star {
            p = star_p + 1;
            n = star_n + 1;
            star = Some((star_p, star_n + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_patterns_match_usual_secret_names_case_insensitively() {
        let s = SecretSettings::default();
        for name in [
            "OPENAI_API_KEY",
            "openai_api_key",
            "GITHUB_TOKEN",
            "AWS_SECRET",
            "DB_PASSWORD",
            "PASSWORD",
            "my_password_file",
        ] {
            assert!(s.is_secret_name(name), "{name}");
        }
        for name in [
            "PATH",
            "HOME",
            "TOKEN",
            "API_KEY",
            "TOKENS_USED",
            "SECRETARY",
        ] {
            assert!(!s.is_secret_name(name), "{name}");
        }
    }

    #[test]
    fn the_section_replaces_patterns_and_adds_names() {
        let s = SecretSettings::from_yaml(
            "config.yaml",
            "tools: {}\nsecrets:\n  env_patterns: [\"MY_*\"]\n  extra_env: [DATABASE_URL]\n",
        )
        .unwrap();
        assert!(s.is_secret_name("my_key"));
        assert!(s.is_secret_name("DATABASE_URL"));
        assert!(!s.is_secret_name("OPENAI_API_KEY"));
        let none = SecretSettings::from_yaml("c", "secrets: {env_patterns: []}").unwrap();
        assert!(!none.is_secret_name("OPENAI_API_KEY"));
        assert_eq!(
            SecretSettings::from_yaml("c", "tools: {}\n").unwrap(),
            SecretSettings::default()
        );
        assert_eq!(
            SecretSettings::from_yaml("c", "").unwrap(),
            SecretSettings::default()
        );
    }

    #[test]
    fn bad_values_name_the_file_and_the_key() {
        for (yaml, key) in [
            (
                "secrets: {env_patterns: [\"A B\"]}",
                "secrets.env_patterns[0]",
            ),
            ("secrets: {env_patterns: [\"\"]}", "secrets.env_patterns[0]"),
            ("secrets: {extra_env: [X, \"1X\"]}", "secrets.extra_env[1]"),
            ("secrets: {env_patterns: \"*_KEY\"}", "secrets.env_patterns"),
            ("secrets: {patterns: []}", "patterns"),
        ] {
            let message = SecretSettings::from_yaml(".pipeline/config.yaml", yaml)
                .unwrap_err()
                .to_string();
            assert!(
                message.starts_with(".pipeline/config.yaml: ") && message.contains(key),
                "{yaml}: {message}"
            );
        }
    }

    #[test]
    fn a_missing_file_gives_the_defaults() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            SecretSettings::load(&dir.path().join("config.yaml")).unwrap(),
            SecretSettings::default()
        );
    }
}
