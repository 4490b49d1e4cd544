//! Project-wide settings of `.pipeline/config.yaml` other than tool profiles and secrets.
//!
//! `scope_overlap` says what happens when two steps with no path between them in the DAG
//! declare overlapping `files_scope`: `serialize` (the default) orders them, the
//! later-declared one starting from the earlier one's result (an implicit edge, shown by
//! `pipeline plan`); `error` fails validation naming both steps (docs/CONFIG.md).

use std::path::Path;

use serde::Deserialize;

use crate::config_check::read_checked;
use crate::config_error::ConfigError;

/// `scope_overlap` in `.pipeline/config.yaml`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ScopeOverlap {
    /// Overlapping unordered steps get an implicit edge in declaration order.
    #[default]
    Serialize,
    /// Overlapping unordered steps are a validation error.
    Error,
}

/// The project settings of one configuration file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProjectSettings {
    /// What overlapping `files_scope` of unordered steps does.
    pub scope_overlap: ScopeOverlap,
}

#[derive(Deserialize)]
struct Document {
    #[serde(default)]
    scope_overlap: Option<ScopeOverlap>,
}

impl ProjectSettings {
    /// The settings of the configuration file at `path`; the defaults when it does not
    /// exist.
    ///
    /// # Errors
    /// [`ConfigError::Read`] when it exists but cannot be read;
    /// [`ConfigError::UnknownKey`] for a key anywhere in the file that is not in the
    /// table of known keys (`CONFIG_KEYS`); [`ConfigError::Parse`] naming the file, line
    /// and column for invalid YAML or a value of the wrong type.
    pub fn load(path: &Path) -> Result<ProjectSettings, ConfigError> {
        let document: Option<Document> = read_checked(path)?;
        Ok(ProjectSettings {
            scope_overlap: document.and_then(|d| d.scope_overlap).unwrap_or_default(),
        })
    }
}
