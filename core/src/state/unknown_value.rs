//! The error of parsing a status name (`StepStatus`, `RunStatus`, `AttemptResult`).
//!
//! Such text comes from the CLI (`--status failed`) or from the state database; the
//! message lists the accepted names so a typo is easy to fix.

/// A name that is not one of an enum's lowercase names.
///
/// Displays as `unknown step status "runing" (expected one of: pending, running, ...)`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} {value:?} (expected one of: {})", expected.join(", "))]
pub struct UnknownValue {
    /// What was parsed, e.g. `"step status"`.
    pub what: &'static str,
    /// The text that did not match.
    pub value: String,
    /// The accepted names.
    pub expected: &'static [&'static str],
}
