//! What the executor knows about a failed attempt: the input of the error engine.
//!
//! The executor (crate `core`) builds one `AttemptFailure` per failed attempt from the tool
//! adapter's outcome (exit status, output tail, log path, JSONL events) and hands it to
//! `PluginManager::classify`. It is plain data so that this crate does not depend on the
//! adapters crate.

use regex::Regex;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::path::PathBuf;
use std::sync::LazyLock;
use std::time::SystemTime;

use pipeline_process::Termination;

use crate::time_format;

/// One failed (or suspicious) attempt of a step, as the error engine sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttemptFailure {
    /// Tool profile name (`aider`, `codex`, `cargo-test`, ...), also the circuit breaker key.
    pub tool: String,
    /// Adapter kind of the profile: `custom`, `aider`, `codex`, `claude`; for acceptance
    /// tests the executor passes `acceptance`.
    pub tool_kind: String,
    /// The command line as run (program and arguments joined by spaces).
    pub command: String,
    /// How the process ended. A `Cancelled` attempt is classified like a `TimedOut` one
    /// (the supervisor stopped it either way).
    pub termination: Termination,
    /// The tail of stdout and stderr merged, as the adapter kept it (may hold ANSI colour).
    pub output: String,
    /// The full log of the attempt, when one was written. When set and readable, plugins
    /// see the log (its last `PluginManager::MAX_LOG_BYTES` bytes) instead of `output`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_path: Option<PathBuf>,
    /// Structured events the tool emitted (Codex CLI `--json` JSONL), in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<serde_json::Value>,
    /// When the attempt ended; relative waits (`Retry-After: 20`) are counted from here.
    #[serde(with = "time_format::timestamp")]
    pub finished_at: SystemTime,
    /// Whether the attempt ran under the write sandbox: then "Permission denied" in its
    /// output is most likely a write the sandbox denied (built-in plugin `sandbox`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub sandboxed: bool,
}

impl AttemptFailure {
    /// A failure of a `custom` tool with no log and no events, finished now.
    pub fn new(
        tool: impl Into<String>,
        command: impl Into<String>,
        termination: Termination,
        output: impl Into<String>,
    ) -> AttemptFailure {
        AttemptFailure {
            tool: tool.into(),
            tool_kind: "custom".to_string(),
            command: command.into(),
            termination,
            output: output.into(),
            log_path: None,
            events: Vec::new(),
            finished_at: SystemTime::now(),
            sandboxed: false,
        }
    }

    /// Sets whether the attempt ran under the write sandbox.
    pub fn with_sandbox(mut self, sandboxed: bool) -> Self {
        self.sandboxed = sandboxed;
        self
    }

    /// Sets the adapter kind.
    pub fn with_kind(mut self, kind: impl Into<String>) -> Self {
        self.tool_kind = kind.into();
        self
    }

    /// Sets the end time.
    pub fn finished_at(mut self, at: SystemTime) -> Self {
        self.finished_at = at;
        self
    }

    /// Sets the events.
    pub fn with_events(mut self, events: Vec<serde_json::Value>) -> Self {
        self.events = events;
        self
    }

    /// True when the tool is of this kind, or the profile or the command's program is named
    /// after it (`aider`, `/usr/bin/aider`, `codex exec`).
    pub fn is_tool(&self, name: &str) -> bool {
        if self.tool_kind == name || self.tool == name {
            return true;
        }
        self.command
            .split_whitespace()
            .next()
            .and_then(|program| program.rsplit('/').next())
            .is_some_and(|program| program == name)
    }

    /// True when a word of the command line is `word` or ends in `/word`
    /// (`python -m pytest`, `./node_modules/.bin/tsc`).
    pub fn command_mentions(&self, word: &str) -> bool {
        self.command
            .split_whitespace()
            .any(|part| part == word || part.rsplit('/').next() == Some(word))
    }
}

static ANSI_ESCAPE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")
        .expect("static regex")
});

/// Removes ANSI colour and cursor escapes (tsc `--pretty`, cargo `--color always`) and
/// carriage-return progress redraws, so plugins match plain text.
pub fn strip_ansi(text: &str) -> Cow<'_, str> {
    let stripped = ANSI_ESCAPE.replace_all(text, "");
    if stripped.contains('\r') {
        Cow::Owned(
            stripped
                .split('\n')
                .map(|line| {
                    line.rsplit('\r')
                        .find(|part| !part.is_empty())
                        .unwrap_or("")
                })
                .collect::<Vec<_>>()
                .join("\n"),
        )
    } else {
        stripped
    }
}
