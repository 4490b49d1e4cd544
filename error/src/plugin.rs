//! The plugin interface: how one classifier (built in or external) looks at a failure.
//!
//! A plugin says whether it applies to a failure (`applies_to`) and, when it does, returns
//! a `Finding`: the diagnostics it recognised and, if it recognised the failure itself, a
//! `Verdict` (class, summary and the key text the signature is computed from). The
//! `PluginManager` runs the plugins in order; the first verdict decides the class and all
//! diagnostics accumulate.

use std::fmt;
use std::path::PathBuf;

use serde::Serialize;

use crate::attempt_failure::AttemptFailure;
use crate::diagnostic::Diagnostic;
use crate::error_class::ErrorClass;

/// Where a plugin sits in the order when `requires` does not decide: external plugins
/// (declared for specific tools by the user) first, then tool-specific built-ins, then
/// protocol-level built-ins (network/API errors, infrastructure), then the exit-status
/// fallback.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Specificity {
    /// An external plugin from a manifest.
    Declared,
    /// A built-in that knows one tool's output format.
    Tool,
    /// A built-in that knows errors shared by many tools (HTTP, network, disk).
    Protocol,
    /// The last resort: exit status, signal, timeout.
    Fallback,
}

/// Where a plugin comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PluginOrigin {
    /// Compiled into this crate.
    BuiltIn,
    /// Loaded from a manifest file.
    Manifest {
        /// The `plugin.yaml` it was loaded from.
        path: PathBuf,
    },
}

/// What a plugin sees: the failure and its output text with ANSI escapes removed (the full
/// log when one was readable, else the output tail).
#[derive(Debug, Clone, Copy)]
pub struct PluginInput<'a> {
    /// The failure.
    pub failure: &'a AttemptFailure,
    /// Plain output text.
    pub text: &'a str,
}

/// A plugin's decision about the failure as a whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// The class.
    pub class: ErrorClass,
    /// One line for people.
    pub summary: String,
    /// The text that identifies this error (normalised and hashed into the signature):
    /// e.g. the compiler errors' codes and messages, the failing tests' ids.
    pub key: String,
}

/// What a plugin found.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Finding {
    /// The plugin's verdict, when it recognised the failure.
    pub verdict: Option<Verdict>,
    /// Diagnostics it recognised (may be non-empty without a verdict, e.g. warnings).
    pub diagnostics: Vec<Diagnostic>,
}

impl Finding {
    /// Nothing recognised.
    pub fn none() -> Finding {
        Finding::default()
    }
}

/// Why a plugin could not run (external command plugins only, in practice).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("plugin `{plugin}` failed: {message}")]
pub struct PluginRunError {
    /// Id of the plugin.
    pub plugin: String,
    /// What happened and what to do.
    pub message: String,
}

/// One classifier.
///
/// Implementations must be cheap to call repeatedly and must not panic on any input:
/// tool output is untrusted.
pub trait Plugin: Send + Sync + fmt::Debug {
    /// Unique id (`cargo`, `pytest`, a manifest's `id`).
    fn id(&self) -> &str;

    /// One line saying what it recognises and where its rules come from.
    fn description(&self) -> &str;

    /// Its place in the order (see `Specificity`).
    fn specificity(&self) -> Specificity;

    /// Ids of plugins that must run before this one.
    fn requires(&self) -> &[String] {
        &[]
    }

    /// Where it comes from.
    fn origin(&self) -> PluginOrigin {
        PluginOrigin::BuiltIn
    }

    /// True when the plugin may find a failure in an attempt that exited 0 (Aider exits 0
    /// when its API call failed; Codex may report `turn.failed`). Only such plugins run in
    /// `PluginManager::detect`.
    fn inspects_successful_exits(&self) -> bool {
        false
    }

    /// True when the plugin should look at this failure.
    fn applies_to(&self, input: &PluginInput<'_>) -> bool;

    /// Looks at the failure.
    ///
    /// # Errors
    /// `PluginRunError` when the plugin itself could not run; the manager records it in the
    /// report and goes on with the other plugins.
    fn analyse(&self, input: &PluginInput<'_>) -> Result<Finding, PluginRunError>;
}
