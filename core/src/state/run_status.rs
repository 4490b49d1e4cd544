//! The status of a run, as stored in `runs.status`.
//!
//! A run is `running` while a process drives it (or until resume finds that process
//! gone), `interrupted` when it was stopped and can be resumed, and `completed` or
//! `failed` once every step reached a terminal status.

use super::text_enum::text_enum;

text_enum! {
    /// The status of a run. Stored, serialised and parsed as its lowercase name.
    pub enum RunStatus ("run status") {
        /// A process is driving the run (or died without recording it).
        Running => "running",
        /// Every step completed.
        Completed => "completed",
        /// At least one step failed, was skipped or was cancelled.
        Failed => "failed",
        /// Stopped before finishing (Ctrl-C, crash detected on resume); resumable.
        Interrupted => "interrupted",
    }
}

impl RunStatus {
    /// True for completed and failed. Entering one of them sets the run's `finished_at`;
    /// `running` and `interrupted` runs are unfinished and can be resumed.
    pub fn is_terminal(self) -> bool {
        matches!(self, RunStatus::Completed | RunStatus::Failed)
    }
}
