//! The error engine's output for one failed attempt.
//!
//! Built by `PluginManager::classify` from the deciding plugin's verdict plus the
//! diagnostics of every plugin that applied. The executor stores it (table `errors`, with
//! occurrence counts per signature), shows it in `pipeline errors` / `status`, and passes it
//! to `decide` for the retry decision.

use serde::{Deserialize, Serialize};

use crate::diagnostic::{Diagnostic, Severity};
use crate::error_class::ErrorClass;

/// A plugin that could not run on this failure (e.g. an external command plugin that
/// crashed). Classification goes on without it; the problem is shown with the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PluginFailure {
    /// Id of the plugin.
    pub plugin: String,
    /// What went wrong, with what to do.
    pub message: String,
}

/// Classification of one failed attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorReport {
    /// The class the deciding plugin gave.
    pub class: ErrorClass,
    /// Id of the plugin that decided the class (`cargo`, `network-api`, `exit-status`, ...).
    pub plugin: String,
    /// 16 hex digits: hash of `normalized` (see `signature`).
    pub signature: String,
    /// The deciding plugin's key text after normalisation (paths, numbers, ... masked).
    pub normalized: String,
    /// One line for people: what failed and why.
    pub summary: String,
    /// Diagnostics of every plugin that applied, in plugin order, without duplicates.
    pub diagnostics: Vec<Diagnostic>,
    /// 16 hex digits: hash of the whole normalised output; the fallback fingerprint for
    /// oscillation detection when there is no diff hash.
    pub output_hash: String,
    /// Hash of the step's diff after the attempt (see `signature::fingerprint`). The engine
    /// leaves it `None`; the executor sets it for steps that change files, and oscillation
    /// detection prefers it over `output_hash`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diff_hash: Option<String>,
    /// Plugins that failed to run on this attempt.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub plugin_failures: Vec<PluginFailure>,
}

impl ErrorReport {
    /// The fingerprint used for oscillation detection: the diff hash when the executor set
    /// one, else the output hash.
    pub fn fingerprint(&self) -> &str {
        self.diff_hash.as_deref().unwrap_or(&self.output_hash)
    }

    /// The error-severity diagnostics (what a fix prompt should list).
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics
            .iter()
            .filter(|diagnostic| diagnostic.severity == Severity::Error)
    }
}
