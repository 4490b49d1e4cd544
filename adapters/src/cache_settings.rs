//! `cache:` of `.pipeline/config.yaml`: the shared step cache (docs/CACHE.md, issue #15).
//!
//! `cache: {remote: origin}` names a git remote of the repository. The engine pushes the
//! entry of every step that ran and completed to `refs/pipeline-cache/<key>` on it and,
//! when no local entry fits, fetches that ref from it. Without the key there is no shared
//! cache.

use std::path::Path;

use serde::Deserialize;

use crate::config_check::read_checked;
use crate::config_error::ConfigError;

/// The step cache settings of one configuration file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CacheSettings {
    /// The git remote of the shared cache (`cache.remote`), if any.
    pub remote: Option<String>,
}

#[derive(Deserialize)]
struct Document {
    #[serde(default)]
    cache: Option<Section>,
}

/// The `cache:` section (its fields are the table's `cache.*` keys, compared by a test).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Section {
    #[serde(default)]
    remote: Option<String>,
}

impl CacheSettings {
    /// The settings of the configuration file at `path`; the defaults when it does not
    /// exist.
    ///
    /// # Errors
    /// [`ConfigError::Read`] when it exists but cannot be read;
    /// [`ConfigError::UnknownKey`] for a key anywhere in the file that is not in the
    /// table of known keys (`CONFIG_KEYS`); [`ConfigError::Parse`] naming the file, line
    /// and column for invalid YAML or a value of the wrong type, and for a `cache.remote`
    /// that is empty or not a possible remote name (whitespace, a leading `-`).
    pub fn load(path: &Path) -> Result<CacheSettings, ConfigError> {
        let document: Option<Document> = read_checked(path)?;
        let remote = document.and_then(|d| d.cache).and_then(|c| c.remote);
        if let Some(name) = &remote
            && (name.is_empty() || name.starts_with('-') || name.contains(char::is_whitespace))
        {
            return Err(ConfigError::Parse {
                source_name: path.display().to_string(),
                line: None,
                column: None,
                message: format!(
                    "cache.remote: `{name}` is not a git remote name (see `git remote`)"
                ),
            });
        }
        Ok(CacheSettings { remote })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(yaml: &str) -> Result<CacheSettings, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.yaml");
        std::fs::write(&path, yaml).unwrap();
        CacheSettings::load(&path)
    }

    #[test]
    fn the_remote_is_read_and_checked() {
        assert_eq!(
            load("cache: {remote: origin}\n").unwrap().remote.as_deref(),
            Some("origin")
        );
        assert_eq!(load("scope_overlap: error\n").unwrap().remote, None);
        assert!(
            CacheSettings::load(Path::new("/nonexistent/config.yaml"))
                .unwrap()
                .remote
                .is_none()
        );
        let unknown = load("cache: {remot: origin}\n").unwrap_err().to_string();
        assert!(unknown.contains("cache.remot"), "{unknown}");
        let typed = load("cache: {remote: [a]}\n").unwrap_err().to_string();
        assert!(typed.contains("config.yaml"), "{typed}");
        let bad = load("cache: {remote: \"-x\"}\n").unwrap_err().to_string();
        assert!(bad.contains("not a git remote name"), "{bad}");
    }
}
