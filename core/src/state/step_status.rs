//! The status of one step of a run, as stored in `steps.status`.
//!
//! Lifecycle (DESIGN.md "Execution model"): pending -> running -> validating ->
//! completed | failed; skipped when a dependency failed; cancelled by the user;
//! interrupted when the driving process died or was stopped (resume re-runs it);
//! retrying / waiting while the error engine backs off or a circuit breaker is open;
//! awaiting_approval between a committed result and its approval (`approval: required`).

use super::text_enum::text_enum;

text_enum! {
    /// The status of a step. Stored, serialised and parsed as its lowercase name.
    pub enum StepStatus ("step status") {
        /// Not started yet (or reset by resume).
        Pending => "pending",
        /// An attempt is running the step's tool.
        Running => "running",
        /// The tool finished; acceptance tests and the scope check are running.
        Validating => "validating",
        /// Result committed and checkpointed.
        Completed => "completed",
        /// Failed for good (retries exhausted or a permanent error).
        Failed => "failed",
        /// Not run because a dependency failed or was skipped.
        Skipped => "skipped",
        /// Stopped by the user.
        Cancelled => "cancelled",
        /// The process driving the run stopped while the step was active; resume re-runs it.
        Interrupted => "interrupted",
        /// Waiting for its backoff delay before the next attempt.
        Retrying => "retrying",
        /// Waiting for a circuit breaker to close or a rate limit to reset.
        Waiting => "waiting",
        /// Its result is committed and waits for `pipeline approve` or `reject`
        /// (`approval: required`, docs/APPROVALS.md). Neither terminal nor active: it
        /// survives the driving process and resume does not run it again.
        AwaitingApproval => "awaiting_approval",
    }
}

impl StepStatus {
    /// True for statuses a run never leaves on its own: completed, failed, skipped,
    /// cancelled. Entering one of them sets the step's `finished_at`.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            StepStatus::Completed
                | StepStatus::Failed
                | StepStatus::Skipped
                | StepStatus::Cancelled
        )
    }

    /// True while a driving process owns the step: running, validating, retrying,
    /// waiting. These become `interrupted` when the run is interrupted.
    pub fn is_active(self) -> bool {
        matches!(
            self,
            StepStatus::Running
                | StepStatus::Validating
                | StepStatus::Retrying
                | StepStatus::Waiting
        )
    }
}
