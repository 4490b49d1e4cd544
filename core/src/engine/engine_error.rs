//! Errors that stop a run before or outside step execution. Step failures are not errors:
//! they are recorded and reported as the run's outcome.

use crate::git::GitError;
use crate::model::LoadError;
use crate::state::StateError;

/// Why `run`, `resume`, `status`, `clean` and friends could not do their job.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The workstream files are invalid (every diagnostic is inside).
    #[error("{0}")]
    Invalid(LoadError),
    /// Bad usage or input outside the workstream files (run id, log selection, a path).
    #[error("{0}")]
    Input(String),
    /// The repository's `.pipeline/config.yaml` or a `PIPELINE_TOOL_*` variable is invalid.
    #[error(transparent)]
    Config(#[from] pipeline_adapters::ConfigError),
    /// An error plugin manifest is invalid (each problem names the file and field).
    #[error("invalid error plugin: {0}")]
    Plugin(#[source] pipeline_error::PluginLoadErrors),
    /// A tool profile's `retry` or `circuit_breaker` block is invalid.
    #[error("tool profile `{tool}`: invalid `{field}`: {source}")]
    Policy {
        /// The tool profile.
        tool: String,
        /// `retry` or `circuit_breaker`.
        field: &'static str,
        /// What is wrong with it.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The validated workstreams could not be planned (a bug: validation checks the same).
    #[error("cannot plan the workstreams: {0}")]
    Plan(#[from] crate::planning::PlanError),
    /// The current directory cannot be read.
    #[error("cannot read the current directory: {0}")]
    CurrentDir(#[source] std::io::Error),
    /// An unfinished run of the same workstreams exists and neither `--resume` nor `--new`
    /// was given.
    #[error(
        "run {run_id} of these workstreams is unfinished (status {status}, started {started_at})\n  hint: pass --resume to continue it (completed steps are kept) or --new to start a fresh run"
    )]
    UnfinishedRun {
        run_id: String,
        status: String,
        started_at: String,
    },
    /// A decision on a step that is not awaiting approval (HTTP 409 in the API).
    #[error(
        "step {step} of run {run_id} is not awaiting approval (status {status})\n  hint: `pipeline status {run_id}` shows the steps awaiting approval"
    )]
    NotAwaitingApproval {
        run_id: String,
        step: String,
        status: String,
    },
    #[error("no run `{0}` in the state database\n  hint: `pipeline runs` lists the runs")]
    UnknownRun(String),
    #[error(transparent)]
    Git(#[from] GitError),
    #[error(transparent)]
    State(#[from] StateError),
    /// A bug or an environment failure (a task panicked, a thread pool is gone).
    #[error("internal error: {0}")]
    Internal(String),
}

impl EngineError {
    /// Process exit code for this error, from the table in [`crate::exit_code`]:
    /// [`INVALID`](crate::exit_code::INVALID) for invalid input or usage (including a
    /// database that is newer, not a database, or locked by another process),
    /// [`INTERNAL`](crate::exit_code::INTERNAL) for internal and state errors.
    pub fn exit_code(&self) -> i32 {
        use crate::exit_code::{INTERNAL, INVALID};
        match self {
            EngineError::Invalid(_)
            | EngineError::Input(_)
            | EngineError::UnfinishedRun { .. }
            | EngineError::UnknownRun(_)
            | EngineError::NotAwaitingApproval { .. }
            | EngineError::Config(_)
            | EngineError::Plugin(_)
            | EngineError::Policy { .. }
            | EngineError::CurrentDir(_) => INVALID,
            EngineError::Git(e) if git_user_error(e) => INVALID,
            EngineError::State(e) if state_user_error(e) => INVALID,
            _ => INTERNAL,
        }
    }
}

/// Git errors caused by what the user gave (a directory that is no repository, an unknown
/// `--base`), as opposed to failures of git itself.
fn git_user_error(e: &GitError) -> bool {
    matches!(
        e,
        GitError::NotARepository { .. }
            | GitError::BareRepository { .. }
            | GitError::NoCommits { .. }
            | GitError::UnknownRevision { .. }
            | GitError::NotACommit { .. }
            | GitError::InvalidBranchName { .. }
            | GitError::InvalidRunId { .. }
            | GitError::BranchCheckedOut { .. }
    )
}

/// State errors the user can act on: a database that is not ours, newer, locked, or a run
/// driven by another process.
fn state_user_error(e: &StateError) -> bool {
    matches!(
        e,
        StateError::NotADatabase { .. }
            | StateError::ForeignDatabase { .. }
            | StateError::NewerSchema { .. }
            | StateError::Busy { .. }
            | StateError::RunExists { .. }
            | StateError::RunNotFound { .. }
            | StateError::InvalidRunId { .. }
            | StateError::RunLocked { .. }
    )
}
