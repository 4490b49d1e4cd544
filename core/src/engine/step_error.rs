//! Why a step's lifecycle stopped early, typed.

use crate::git::GitError;

/// What ends a step's lifecycle before its decision: the step fails
/// ([`StepError::Failed`]), or the run's state can no longer be recorded
/// ([`StepError::Journal`]), which stops the whole run.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StepError {
    /// Recording the run's state failed; the run stops (exit 3) and stays resumable.
    #[error("cannot record the run's state: {0}")]
    Journal(String),
    /// The step fails with this reason (recorded as its error).
    #[error(transparent)]
    Failed(#[from] StepFailure),
}

/// A step failure outside an attempt (before or between attempts).
#[derive(Debug, thiserror::Error)]
pub(crate) enum StepFailure {
    /// Its dependencies' results conflict: the message names the files, the steps that
    /// touched each and the fix ([`super::merge_conflict::conflict_text`]).
    #[error("{0}")]
    InputConflict(String),
    /// Merging its dependencies' results failed otherwise.
    #[error("cannot merge the results of its dependencies: {0}")]
    InputMerge(#[source] Box<GitError>),
    /// Its worktree could not be prepared.
    #[error("cannot prepare the worktree: {0}")]
    Worktree(#[source] Box<GitError>),
    /// No tool can run it: every candidate is missing or failing, each with why.
    #[error("{0}")]
    NoUsableTool(String),
    /// A task step without a tool (the loader prevents it).
    #[error("step has no tool")]
    NoTool,
    /// A circuit breaker could not be read.
    #[error("cannot read the circuit breaker of {tool}: {source}")]
    Breaker {
        /// The tool.
        tool: String,
        /// The state error.
        #[source]
        source: Box<crate::state::StateError>,
    },
    /// The checkpoint it awaited approval with is unreadable.
    #[error("cannot read its checkpoint: {0}")]
    Checkpoint(String),
    /// A `copy_into_worktree` file is missing or cannot be copied (names the step and
    /// the path).
    #[error("{0}")]
    Setup(String),
    /// Its error history could not be read.
    #[error("cannot read the error history: {0}")]
    History(#[source] Box<crate::state::StateError>),
    /// The run's usage could not be read to check a budget (docs/COSTS.md "Budgets").
    #[error("cannot read the run's usage to check its budget: {0}")]
    Usage(String),
    /// A best-of-N round could not be carried out (a candidate's task ended abnormally;
    /// docs/CANDIDATES.md).
    #[error("its round of candidates failed: {0}")]
    Candidates(String),
}
