//! Recovery configuration for one run: the error engine of crate `pipeline-error` as the
//! executor uses it. Plugins that classify a failed attempt; the retry policy of a step
//! (defaults <- tool profile `retry` <- workstream and step `retry` / `circuit_breaker`
//! blocks); the circuit breaker configuration of a tool (tool profile `circuit_breaker`
//! <- the step's `circuit_breaker.cooldown_seconds`).
//!
//! Plugins come from the built-ins, the plugins shipped with pipeline (embedded in the
//! binary, or `$PIPELINE_PLUGINS_DIR`) and the repository's `.pipeline/plugins/`, later
//! directories overriding earlier ones by plugin id.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use pipeline_adapters::ToolRegistry;
use pipeline_error::{
    AttemptFailure, BreakerConfig, BreakerSettings, CircuitBreaker, ErrorReport, PluginManager,
    RetryPolicy, RetrySettings,
};

use super::EngineError;
use crate::model::Step;

/// Classification, retry and breaker configuration for one run.
pub struct RecoveryConfig {
    plugins: PluginManager,
    tool_retry: HashMap<String, RetrySettings>,
    tool_breaker: HashMap<String, BreakerSettings>,
}

/// Plugin directories in precedence order (later wins): shipped, then the repository's.
/// The shipped plugins are the copy embedded in `pipeline-error` (so an installed binary
/// has them), unless `$PIPELINE_PLUGINS_DIR` names a directory to use instead.
pub fn plugin_dirs(repo_root: &Path) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    match std::env::var_os("PIPELINE_PLUGINS_DIR") {
        Some(d) => dirs.push(PathBuf::from(d)),
        None => dirs.push(pipeline_error::shipped_plugins_dir()),
    }
    let local = repo_root.join(".pipeline").join("plugins");
    if local.is_dir() {
        dirs.push(local);
    }
    dirs
}

/// A tool profile's invalid `field`.
fn policy_error(
    tool: &str,
    field: &'static str,
    source: impl std::error::Error + Send + Sync + 'static,
) -> EngineError {
    EngineError::Policy {
        tool: tool.to_owned(),
        field,
        source: Box::new(source),
    }
}

impl RecoveryConfig {
    /// Loads plugins from `plugin_dirs` and validates every tool profile's `retry` and
    /// `circuit_breaker` settings.
    ///
    /// Errors: [`EngineError::Plugin`] naming the plugin manifest (file, field, pattern);
    /// [`EngineError::Policy`] naming the tool profile and field that is invalid.
    pub fn new(
        registry: &ToolRegistry,
        plugin_dirs: &[PathBuf],
    ) -> Result<RecoveryConfig, EngineError> {
        let plugins = PluginManager::load(plugin_dirs).map_err(EngineError::Plugin)?;
        let mut tool_retry = HashMap::new();
        let mut tool_breaker = HashMap::new();
        for (name, profile) in registry.profiles() {
            if let Some(v) = &profile.retry {
                let settings: RetrySettings = serde_json::from_value(v.clone())
                    .map_err(|e| policy_error(name, "retry", e))?;
                RetryPolicy::from_settings(&settings)
                    .map_err(|e| policy_error(name, "retry", e))?;
                tool_retry.insert(name.to_string(), settings);
            }
            if let Some(v) = &profile.circuit_breaker {
                let settings: BreakerSettings = serde_json::from_value(v.clone())
                    .map_err(|e| policy_error(name, "circuit_breaker", e))?;
                BreakerConfig::from_settings(&settings)
                    .map_err(|e| policy_error(name, "circuit_breaker", e))?;
                tool_breaker.insert(name.to_string(), settings);
            }
        }
        Ok(RecoveryConfig {
            plugins,
            tool_retry,
            tool_breaker,
        })
    }

    /// The plugins, for `pipeline plugins`.
    pub fn plugins(&self) -> &PluginManager {
        &self.plugins
    }

    /// Classifies a failed attempt (always gives a report; the generic exit-status plugin
    /// decides when no other plugin claims the failure).
    pub fn classify(&self, failure: &AttemptFailure) -> ErrorReport {
        self.plugins.classify(failure)
    }

    /// A failure hidden behind a successful exit (Aider prints API errors and exits 0).
    pub fn detect(&self, failure: &AttemptFailure) -> Option<ErrorReport> {
        self.plugins.detect(failure)
    }

    /// The retry policy of `step` when it runs `tool` (None for a shell command).
    pub fn policy(&self, step: &Step, tool: Option<&str>) -> RetryPolicy {
        let base = tool
            .and_then(|t| self.tool_retry.get(t))
            .cloned()
            .unwrap_or_default();
        let merged = base.overlay(&step.retry);
        // Both layers were validated at load time; a combination error falls back to the
        // step's own settings, which were validated alone.
        RetryPolicy::from_settings(&merged)
            .or_else(|_| RetryPolicy::from_settings(&step.retry))
            .unwrap_or_default()
    }

    /// The circuit breaker of `tool`, with `step`'s cooldown if it gives one.
    pub fn breaker(&self, tool: &str, step: &Step) -> CircuitBreaker {
        let mut settings = self.tool_breaker.get(tool).cloned().unwrap_or_default();
        if let Some(c) = step.breaker_cooldown_sec {
            settings.cooldown = Some(c);
        }
        let config = BreakerConfig::from_settings(&settings).unwrap_or_default();
        CircuitBreaker::new(config)
    }
}
