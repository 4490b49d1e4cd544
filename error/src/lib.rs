//! pipeline-error: the error engine of `pipeline`.
//!
//! Every failed attempt of a step goes through this crate. The executor (crate `core`)
//! describes the attempt as an [`AttemptFailure`] (tool, command, exit status, output tail,
//! log, events); the [`PluginManager`] runs the built-in and external plugins over it and
//! returns an [`ErrorReport`] (class, deciding plugin, normalised signature, diagnostics);
//! [`decide`] turns the report, the step's [`History`] and its [`RetryPolicy`] into a
//! [`Decision`] (retry after a backoff, wait for a rate limit's reset, or give up); and a
//! per-tool [`CircuitBreaker`], persisted through a [`BreakerStore`], stops a failing tool
//! for every step at once.
//!
//! This crate depends on no other crate of the workspace: it exchanges plain data types.
//! See docs/ERRORS.md for the classes, the plugins and the manifest format.

pub mod attempt_failure;
pub mod breaker_store;
pub mod builtin;
pub mod circuit_breaker;
mod command_runner;
pub mod decision;
pub mod diagnostic;
pub mod error_class;
pub mod error_report;
pub mod external_plugin;
pub mod history;
pub mod manifest;
pub mod plugin;
pub mod plugin_load_error;
pub mod plugin_manager;
pub mod policy_error;
pub mod retry_policy;
pub mod retry_settings;
pub mod shipped_plugins;
pub mod signature;
mod time_format;

pub use attempt_failure::{AttemptFailure, strip_ansi};
pub use breaker_store::{BreakerStore, InMemoryBreakerStore};
pub use circuit_breaker::{
    Admission, BreakerConfig, BreakerSettings, BreakerState, BreakerStatus, CircuitBreaker,
};
pub use decision::{Decision, GiveUpReason, decide};
pub use diagnostic::{Diagnostic, Severity};
pub use error_class::ErrorClass;
pub use error_report::{ErrorReport, PluginFailure};
pub use history::{History, PastAttempt};
pub use manifest::PluginManifest;
pub use plugin::{
    Finding, Plugin, PluginInput, PluginOrigin, PluginRunError, Specificity, Verdict,
};
pub use plugin_load_error::{PluginLoadError, PluginLoadErrors};
pub use plugin_manager::{PluginInfo, PluginManager};
pub use policy_error::PolicyError;
pub use retry_policy::{Oscillation, RetryPolicy};
pub use retry_settings::{RetrySettings, WorkstreamErrorBlocks};
pub use shipped_plugins::{SHIPPED_PLUGINS, ShippedPlugin, shipped_plugins_dir};
pub use signature::{fingerprint, normalize, signature_of};

/// How a process ended: declared once, in `pipeline-process`.
pub use pipeline_process::Termination;
