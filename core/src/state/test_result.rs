//! The result of one acceptance test, as kept in checkpoints, the journal and JUnit
//! reports.

use serde::{Deserialize, Serialize};

/// One acceptance test's run in one attempt of a step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct TestResult {
    /// Attempt of the step the test ran in.
    pub attempt: u32,
    /// Test name.
    pub name: String,
    /// Shell command.
    pub command: String,
    /// Exit code 0 within its timeout.
    pub passed: bool,
    /// Wall-clock milliseconds.
    pub duration_ms: u64,
    /// Exit code, or why it did not exit (`exit 1`, `timed out`, `signal 9`).
    pub outcome: String,
    /// Its log file.
    pub log: String,
}
