//! A tool profile: how to run one named tool.
//!
//! Profiles come from YAML layers (see [`crate::ToolRegistry`]); a [`ToolProfile`] is
//! the merged, validated result with defaults filled in. The field names are the issue
//! contract of the `tools:` section (`kind`, `command`, `args`, `env`, `model`,
//! `api_base`, `api_key_env`, `timeout_sec`, `success_exit_codes`, `capabilities`,
//! `priority`, `max_concurrent`, `requests_per_minute`, `fallback`, `secret_env`, `retry`,
//! `circuit_breaker`).

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::arg_template::escape_braces;

/// Which driver runs a profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ToolKind {
    /// Any command with `{placeholder}` arguments ([`crate::CustomAdapter`]).
    Custom,
    /// Aider (`aider-chat`), driven non-interactively with a message file.
    Aider,
    /// OpenAI Codex CLI, driven with `codex exec --json`.
    Codex,
    /// Claude Code, driven with `claude -p --output-format stream-json`.
    Claude,
}

impl ToolKind {
    /// The kind's name as written in YAML (`custom`, `aider`, `codex`, `claude`).
    pub fn as_str(&self) -> &'static str {
        match self {
            ToolKind::Custom => "custom",
            ToolKind::Aider => "aider",
            ToolKind::Codex => "codex",
            ToolKind::Claude => "claude",
        }
    }

    /// The stall timeout (seconds) of a profile of this kind that gives no
    /// `stall_timeout_sec`: 300 for the AI CLIs (`aider`, `codex`, `claude`), whose
    /// silent wait on a model request that never gets an answer is the stall worth
    /// catching, and none for `custom` (a command may legitimately wait in silence).
    pub fn default_stall_timeout_sec(&self) -> Option<u64> {
        match self {
            ToolKind::Custom => None,
            ToolKind::Aider | ToolKind::Codex | ToolKind::Claude => Some(300),
        }
    }

    /// The program a profile of this kind runs when it gives no `command`: the CLI's
    /// usual executable name, or `None` for `custom`, which must give one.
    pub fn default_command(&self) -> Option<&'static str> {
        match self {
            ToolKind::Custom => None,
            ToolKind::Aider => Some("aider"),
            ToolKind::Codex => Some("codex"),
            ToolKind::Claude => Some("claude"),
        }
    }
}

impl fmt::Display for ToolKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A merged and validated tool profile.
///
/// Serializes (for `pipeline tools --json`) with every field present; use
/// [`ToolProfile::redacted`] before showing it to keep secrets out of output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ToolProfile {
    /// Driver for this profile (default `custom`).
    pub kind: ToolKind,
    /// Program to run: a bare name looked up on `PATH`, or a path. For kinds other than
    /// `custom` it defaults to the CLI's usual name ([`ToolKind::default_command`]).
    pub command: String,
    /// Argument templates with `{prompt}`, `{prompt_file}`, `{worktree}`, `{step_id}`,
    /// `{files}`, `{model}`, `{api_base}` placeholders; `{{` and `}}` are literal braces.
    pub args: Vec<String>,
    /// Environment variables added to the process environment (a step's `env` wins).
    pub env: BTreeMap<String, String>,
    /// Model name, for drivers and the `{model}` placeholder.
    pub model: Option<String>,
    /// Base URL of the model API, for drivers and the `{api_base}` placeholder.
    pub api_base: Option<String>,
    /// Name of the environment variable holding the API key (the key itself never
    /// appears in configuration).
    pub api_key_env: Option<String>,
    /// Default timeout in seconds when the step gives none; `None` means no timeout.
    pub timeout_sec: Option<u64>,
    /// Stall timeout in seconds when the step gives none: the tool is stopped (class
    /// `stalled`) when it prints nothing and uses no CPU for this long. `None` or 0 means
    /// no stall detection. Default [`ToolKind::default_stall_timeout_sec`] (300 for the
    /// AI kinds, none for `custom`).
    pub stall_timeout_sec: Option<u64>,
    /// Exit codes that mean success (default `[0]`).
    pub success_exit_codes: Vec<i32>,
    /// What the tool is good for (`code_generation`, `refactoring`, ...), for routing
    /// a step's `capability` to a tool.
    pub capabilities: Vec<String>,
    /// Preference among tools offering the same capability; higher first (default 0).
    pub priority: i32,
    /// At most this many steps use the tool at once; `None` means no limit beyond
    /// `--jobs`.
    pub max_concurrent: Option<u32>,
    /// Rate limit of invocations per minute; `None` means unlimited.
    pub requests_per_minute: Option<u32>,
    /// Profiles to escalate to, in order, when this tool fails permanently.
    pub fallback: Vec<String>,
    /// Names of environment variables whose values are secrets: passed to the tool,
    /// never shown (see [`ToolProfile::redacted`]).
    pub secret_env: Vec<String>,
    /// Retry settings for steps using this tool (keys of a workstream's `retry` block:
    /// `max_attempts`, `initial_delay`, `max_delay`, `multiplier`, `jitter`, ...); a step's
    /// own settings win. Validated by the engine, which owns their meaning.
    pub retry: Option<serde_json::Value>,
    /// Circuit breaker settings of this tool (`failure_threshold`, `cooldown` in seconds,
    /// `half_open_trials`). Validated by the engine.
    pub circuit_breaker: Option<serde_json::Value>,
    /// Whether the tool runs under the write sandbox (`sandbox`, default on; `none`
    /// turns it off for every step using the profile).
    pub sandbox: bool,
    /// More paths the sandboxed tool may write below (`writable_paths`): absolute,
    /// `~/`-relative (the user's home) or repository-relative, e.g. a CLI's cache
    /// directory. Resolved by the engine; missing paths are left out.
    pub writable_paths: Vec<String>,
    /// `approval: required`: steps using the tool wait in `awaiting_approval` after their
    /// result is committed, unless the step or its workstream declares its own `approval`
    /// (docs/APPROVALS.md). Default false.
    pub approval_required: bool,
}

impl ToolProfile {
    /// A `custom` profile with `command` and `args` (taken as templates) and every other
    /// field at its default.
    pub fn custom(command: impl Into<String>, args: Vec<String>) -> Self {
        ToolProfile {
            kind: ToolKind::Custom,
            command: command.into(),
            args,
            env: BTreeMap::new(),
            model: None,
            api_base: None,
            api_key_env: None,
            timeout_sec: None,
            stall_timeout_sec: None,
            success_exit_codes: vec![0],
            capabilities: Vec::new(),
            priority: 0,
            max_concurrent: None,
            requests_per_minute: None,
            fallback: Vec::new(),
            secret_env: Vec::new(),
            retry: None,
            circuit_breaker: None,
            sandbox: true,
            writable_paths: Vec::new(),
            approval_required: false,
        }
    }

    /// The profile of the built-in `shell` tool running `command`: `sh -c <command>`.
    /// The command is taken literally (its braces are escaped, so no placeholder is
    /// expanded inside it); a step learns its context from the `PIPELINE_*` variables.
    pub fn shell(command: &str) -> Self {
        ToolProfile::custom("sh", vec!["-c".to_owned(), escape_braces(command)])
    }

    /// The default timeout, from `timeout_sec`.
    pub fn timeout(&self) -> Option<Duration> {
        self.timeout_sec.map(Duration::from_secs)
    }

    /// The stall timeout of an attempt whose step gives `step` (its `stall_timeout_sec`):
    /// the step's, else the profile's `stall_timeout_sec`; `None` when that is absent or
    /// zero (no stall detection).
    pub fn stall_timeout(&self, step: Option<Duration>) -> Option<Duration> {
        step.or_else(|| self.stall_timeout_sec.map(Duration::from_secs))
            .filter(|stall| !stall.is_zero())
    }

    /// True when `exit_code` means success for this tool (`success_exit_codes`).
    pub fn is_success(&self, exit_code: i32) -> bool {
        self.success_exit_codes.contains(&exit_code)
    }

    /// True when the value of environment variable `name` must not be shown: it is
    /// listed in `secret_env`, is the `api_key_env` variable, or its name contains
    /// `KEY`, `TOKEN`, `SECRET` or `PASSWORD` (case-insensitive).
    pub fn is_secret_env(&self, name: &str) -> bool {
        let upper = name.to_ascii_uppercase();
        self.secret_env.iter().any(|secret| secret == name)
            || self.api_key_env.as_deref() == Some(name)
            || ["KEY", "TOKEN", "SECRET", "PASSWORD"]
                .iter()
                .any(|word| upper.contains(word))
    }

    /// Values that must never be shown (redacted from logs, tails and errors): those of the
    /// variables named by `api_key_env` and `secret_env`, and of secret-looking names
    /// ([`Self::is_secret_env`]) in the step's or the profile's `env`, taken from the step's
    /// `env`, the profile's `env`, or `lookup` (the process environment), in that order.
    /// Values shorter than 4 characters are left out (redacting them would mangle logs).
    pub fn secret_values(
        &self,
        step_env: &BTreeMap<String, String>,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Vec<String> {
        let names = self
            .api_key_env
            .iter()
            .chain(&self.secret_env)
            .chain(step_env.keys().filter(|name| self.is_secret_env(name)))
            .chain(self.env.keys().filter(|name| self.is_secret_env(name)));
        let mut values: Vec<String> = Vec::new();
        for name in names {
            let value = step_env
                .get(name)
                .or_else(|| self.env.get(name))
                .cloned()
                .or_else(|| lookup(name));
            if let Some(value) = value
                && value.chars().count() >= 4
                && !values.contains(&value)
            {
                values.push(value);
            }
        }
        values
    }

    /// A copy safe to print: values of secret `env` entries ([`Self::is_secret_env`])
    /// are replaced by `<redacted>`.
    pub fn redacted(&self) -> ToolProfile {
        let mut copy = self.clone();
        for (name, value) in &mut copy.env {
            if self.is_secret_env(name) {
                *value = "<redacted>".to_owned();
            }
        }
        copy
    }
}
