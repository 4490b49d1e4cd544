//! What the engine asks of a tool for one attempt of one step, and what it gets back.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use pipeline_process::{Containment, OutputLimits, ProcessOutcome};

/// One attempt of one step, as handed to a [`crate::ToolAdapter`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    /// The step's id (`ws-id/step-id` across workstreams).
    pub step_id: String,
    /// Attempt number, starting at 1.
    pub attempt: u32,
    /// The step's git worktree; the tool runs there.
    pub worktree: PathBuf,
    /// The prompt (the step's description and tasks), built by the engine.
    pub prompt: String,
    /// Where the adapter writes the prompt if the tool reads it from a file. The engine
    /// gives a path outside the worktree so that the prompt is never committed.
    pub prompt_file: PathBuf,
    /// True when the step gives its tool something to do beyond its own heading: tasks, a
    /// `prompt`, referenced specifications or a fix prompt. When false, a custom or shell
    /// tool whose arguments mention neither `{prompt_file}` nor `PIPELINE_PROMPT_FILE`
    /// gets no prompt file (a plain command step has nothing to read in it).
    pub has_prompt: bool,
    /// The step's `files_scope`, repository-relative.
    pub files: Vec<String>,
    /// The step's `context_files`: repository-relative files the tool should read but not
    /// edit (Aider gets them with `--read`; every tool also finds them in the prompt).
    pub context_files: Vec<String>,
    /// The step's `env`; wins over the profile's `env`.
    pub env: BTreeMap<String, String>,
    /// The step's timeout; `None` falls back to the profile's `timeout_sec`.
    pub timeout: Option<Duration>,
    /// The step's stall timeout (`stall_timeout_sec`); `None` falls back to the profile's
    /// `stall_timeout_sec`, and zero turns stall detection off
    /// ([`crate::ToolProfile::stall_timeout`]).
    pub stall_timeout: Option<Duration>,
    /// The attempt log, `.pipeline/logs/<run>/<step>/<attempt>.log`.
    pub log_path: PathBuf,
    /// Output bounds for the attempt log and the in-memory tail.
    pub limits: OutputLimits,
    /// Attempt marker and sandbox of the tool's processes, copied into every
    /// [`pipeline_process::ProcessSpec`] the adapter builds for this attempt.
    pub containment: Containment,
    /// Secret values the whole run knows (every profile's `api_key_env` and
    /// `secret_env` values, and matching environment variables), redacted from the tool's
    /// output in addition to the adapter's own profile's secrets.
    pub secrets: Vec<String>,
    /// Told the attempt's usage so far each time a tool that streams usage reports more
    /// (Claude Code: every model request's `usage` in its stream-json `assistant` events;
    /// Codex: every `turn.completed`). Aider and custom tools report usage only at the
    /// end, so they never call it. The engine uses it to stop an attempt as soon as the
    /// step's budget is crossed (docs/COSTS.md "Budgets").
    pub usage_watch: Option<UsageWatch>,
}

/// A callback receiving the usage an attempt reported so far (a running total for the
/// whole attempt, not an increment), from the supervising task while the tool runs: keep
/// it cheap and non-blocking. Two watches are equal when they are the same callback.
#[derive(Clone)]
pub struct UsageWatch(std::sync::Arc<dyn Fn(&Usage) + Send + Sync>);

impl UsageWatch {
    /// A watch calling `f` with each new running total.
    pub fn new(f: impl Fn(&Usage) + Send + Sync + 'static) -> UsageWatch {
        UsageWatch(std::sync::Arc::new(f))
    }

    /// Passes a new running total to the callback.
    pub fn report(&self, usage: &Usage) {
        (self.0)(usage);
    }
}

impl std::fmt::Debug for UsageWatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UsageWatch(..)")
    }
}

impl PartialEq for UsageWatch {
    fn eq(&self, other: &UsageWatch) -> bool {
        std::sync::Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for UsageWatch {}

impl Invocation {
    /// `own` (a profile's secret values) followed by the run's [`Invocation::secrets`],
    /// without duplicates.
    pub fn with_run_secrets(&self, mut own: Vec<String>) -> Vec<String> {
        for secret in &self.secrets {
            if !own.contains(secret) {
                own.push(secret.clone());
            }
        }
        own
    }

    /// [`Invocation::containment`] with `private` (directories the adapter made for this
    /// attempt alone: a private home or configuration directory) added to the sandbox's
    /// writable paths when there is a sandbox.
    pub fn containment_with(&self, private: &[&std::path::Path]) -> Containment {
        let mut containment = self.containment.clone();
        if let Some(sandbox) = &mut containment.sandbox {
            sandbox
                .writable
                .extend(private.iter().map(|path| path.to_path_buf()));
        }
        containment
    }

    /// The step context every tool process gets: `PIPELINE_STEP_ID`, `PIPELINE_WORKTREE`,
    /// `PIPELINE_PROMPT_FILE` and `PIPELINE_ATTEMPT` (1-based).
    pub fn context_env(&self) -> [(std::ffi::OsString, std::ffi::OsString); 4] {
        [
            ("PIPELINE_STEP_ID".into(), self.step_id.clone().into()),
            ("PIPELINE_WORKTREE".into(), self.worktree.clone().into()),
            (
                "PIPELINE_PROMPT_FILE".into(),
                self.prompt_file.clone().into(),
            ),
            ("PIPELINE_ATTEMPT".into(), self.attempt.to_string().into()),
        ]
    }
}

/// Tokens and cost an AI tool reported for one attempt (Aider's "Tokens: ... Cost: ..."
/// lines, Codex's `turn.completed` usage, Claude Code's `result` event). Fields the tool did
/// not report are `None`.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Usage {
    pub model: Option<String>,
    pub input_tokens: Option<u64>,
    pub cached_input_tokens: Option<u64>,
    pub output_tokens: Option<u64>,
    /// US dollars, as reported by the tool.
    pub cost_usd: Option<f64>,
    /// Model requests the tool made.
    pub requests: Option<u32>,
}

/// What a tool did in one attempt.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ToolOutcome {
    /// True when the tool exited with one of the profile's `success_exit_codes`.
    pub success: bool,
    /// What the supervisor observed.
    pub process: ProcessOutcome,
    /// One line for status displays: `exit 0` on success, else why it failed followed
    /// by the last non-empty output line, e.g. `exit 1 (success: 0): error[E0308]: ...`.
    pub summary: String,
    /// Tokens and cost, for AI tools that report them.
    pub usage: Option<Usage>,
}
