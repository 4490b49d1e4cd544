//! How an attempt ended, as reported by the engine to
//! [`StateStore::finish_attempt`](super::StateStore::finish_attempt).

use serde::Serialize;

use super::AttemptResult;

/// The end of one attempt of a step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AttemptOutcome {
    /// How the attempt ended.
    pub outcome: AttemptResult,
    /// Exit code of the tool, `None` when it was killed by a signal or never started.
    pub exit_code: Option<i32>,
    /// What went wrong, for a failed, timed out or interrupted attempt.
    pub error: Option<String>,
    /// Wall-clock duration of the attempt in milliseconds.
    pub duration_ms: u64,
}
