//! Events a run reports while it executes, for live progress, plain CI lines and NDJSON.

use crate::state::{RunStatus, StepStatus};

/// One thing that happened during a run. Serialised as one NDJSON object per line with
/// `pipeline run --json`: `{"event": "step_started", ...}`.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum RunEvent {
    RunStarted {
        run_id: String,
        base_commit: String,
        steps: usize,
        jobs: usize,
        resumed: bool,
    },
    /// A step completed by an earlier attempt of this run is kept (resume).
    StepReused { step: String, commit: String },
    StepStarted {
        step: String,
        attempt: u32,
        worktree: Option<String>,
        log: String,
    },
    /// The last line a running step's tool printed (not sent with `--json`).
    StepOutput { step: String, line: String },
    StepStatus {
        step: String,
        status: StepStatus,
        error: Option<String>,
        commit: Option<String>,
    },
    TestFinished {
        step: String,
        name: String,
        passed: bool,
        duration_ms: u64,
    },
    RunFinished {
        run_id: String,
        status: RunStatus,
        completed: usize,
        failed: usize,
        skipped: usize,
        result_branch: Option<String>,
        duration_ms: u64,
    },
}

/// Receives run events. Called from the scheduler and from step tasks, so implementations
/// must be cheap and thread-safe.
pub trait Reporter: Send + Sync {
    fn report(&self, event: &RunEvent);
    /// Whether [`RunEvent::StepOutput`] events are wanted (they are frequent).
    fn wants_output(&self) -> bool {
        false
    }
}

/// A reporter that drops everything (library use, tests).
pub struct SilentReporter;

impl Reporter for SilentReporter {
    fn report(&self, _event: &RunEvent) {}
}
