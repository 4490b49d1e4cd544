//! Errors in retry and circuit-breaker settings, found when a workstream or a tool profile
//! is validated (`pipeline validate`, exit 2).

/// A setting that cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct PolicyError {
    /// Where the setting is, e.g. `retry.initial_delay` or `circuit_breaker.max_attempts`.
    pub field: String,
    /// What is wrong with it and what to write instead.
    pub problem: String,
}

impl PolicyError {
    /// A `PolicyError` for `field`.
    pub fn new(field: impl Into<String>, problem: impl Into<String>) -> PolicyError {
        PolicyError {
            field: field.into(),
            problem: problem.into(),
        }
    }

    /// The same error with `prefix.` put before the field (`steps[2].` + `retry.max_delay`).
    pub fn within(mut self, prefix: &str) -> PolicyError {
        self.field = format!("{prefix}.{}", self.field);
        self
    }
}
