//! What the progress view knows of one step: where it is in its lifecycle (the step
//! statuses of docs/EVENTS.md, with the instant each began) and the details its lines
//! show (the last failure's classification, the tool's latest output line).

use std::time::SystemTime;

use pipeline_core::state::WaitKind;

/// One step as the view shows it.
#[derive(Debug, Clone, Default)]
pub(super) struct StepView {
    /// Where the step is.
    pub(super) state: StepState,
    /// The error engine's verdict on its latest failed attempt (from `attempt_finished`).
    pub(super) failure: Option<Failure>,
    /// The latest line its tool printed in the current attempt (live view only; not
    /// journalled, so a replay has none).
    pub(super) output: Option<String>,
    /// When its tool last printed a line in the current attempt (live view only), for
    /// "quiet for N s"; `None` until the first line (the attempt's start counts then).
    pub(super) output_at: Option<SystemTime>,
    /// Its latest attempt (from `attempt_started`): the step shows it again between
    /// two acceptance tests.
    pub(super) attempt: Option<Attempt>,
}

/// A step's latest attempt.
#[derive(Debug, Clone)]
pub(super) struct Attempt {
    /// 1-based attempt.
    pub(super) number: u32,
    /// Tool profile (`shell` for a command; absent for a workstream's gate).
    pub(super) tool: Option<String>,
    /// When it started (`at` of `attempt_started`).
    pub(super) since: SystemTime,
    /// Acceptance tests started in it so far.
    pub(super) tests: u32,
}

impl Attempt {
    /// The state of a step whose tool runs this attempt.
    pub(super) fn running(&self) -> StepState {
        StepState::Running {
            attempt: self.number,
            tool: self.tool.clone(),
            since: self.since,
        }
    }
}

/// A failed attempt's classification (`attempt_finished.classified`).
#[derive(Debug, Clone)]
pub(super) struct Failure {
    /// The attempt it describes.
    pub(super) attempt: u32,
    /// Its class (`permanent`, `transient`, ...).
    pub(super) class: String,
    /// Its one-line summary, e.g. `rate limited (HTTP 429): ...`.
    pub(super) summary: String,
}

/// A step's status in the view, with what its live line shows.
#[derive(Debug, Clone, Default)]
pub(super) enum StepState {
    /// Not started yet (dependencies met or not) or sent back by resume: queued.
    #[default]
    Pending,
    /// Its tool runs (`attempt_started`).
    Running {
        /// 1-based attempt.
        attempt: u32,
        /// Tool profile (`shell` for a command; absent for a workstream's gate).
        tool: Option<String>,
        /// When the attempt started (`at` of `attempt_started`).
        since: SystemTime,
    },
    /// An acceptance test runs (`test_started`).
    Testing {
        /// 1-based attempt.
        attempt: u32,
        /// Test name.
        name: String,
        /// 1-based position of the test in this attempt.
        number: u32,
        /// When the test started (`at` of `test_started`).
        since: SystemTime,
    },
    /// Waits before its next attempt (`step_waiting`).
    Waiting(Wait),
    /// Goes back to a tool at once (`fix_requested`, `escalated`): until the next attempt
    /// starts.
    Retrying {
        /// The attempt that follows.
        next_attempt: u32,
        /// What happens, in words (`fixing` / `escalating to tool x`).
        what: String,
    },
    /// Its result is committed and awaits `pipeline approve` / `reject`
    /// (`approval_requested`).
    AwaitingApproval {
        /// The attempt whose result awaits approval.
        attempt: u32,
        /// `pipeline approve RUN STEP` for its line.
        approve: String,
        /// When it began to wait (`at` of `approval_requested`).
        since: SystemTime,
    },
    /// Completed (in this process or kept by resume).
    Completed,
    /// Failed for good.
    Failed,
    /// Not run: a dependency failed.
    Skipped,
    /// Stopped with its run; resume runs it again.
    Interrupted,
}

/// A wait before a step's next attempt (`step_waiting`).
#[derive(Debug, Clone)]
pub(super) struct Wait {
    /// What it waits for.
    pub(super) kind: WaitKind,
    /// The attempt that follows the wait (`attempt + 1`).
    pub(super) next_attempt: u32,
    /// Why, in one line: `class (summary)` after a failure, else the event's reason.
    pub(super) why: String,
    /// When it ends, when known: `until`, else `at + delay_ms` when the delay is known.
    pub(super) until: Option<SystemTime>,
    /// The wait in milliseconds (0 when unknown).
    pub(super) delay_ms: u64,
    /// When it began (`at` of `step_waiting`).
    pub(super) since: SystemTime,
}

impl StepState {
    /// Whether a tool or test of the step runs now (counted as running).
    pub(super) fn is_running(&self) -> bool {
        matches!(self, StepState::Running { .. } | StepState::Testing { .. })
    }

    /// Whether the step waits for its next attempt or for a decision on its result
    /// (counted as waiting).
    pub(super) fn is_waiting(&self) -> bool {
        matches!(
            self,
            StepState::Waiting(_) | StepState::Retrying { .. } | StepState::AwaitingApproval { .. }
        )
    }
}
