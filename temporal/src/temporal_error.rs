//! Errors of the Temporal engine, with the exit code each maps to.

use std::path::PathBuf;

use pipeline_core::exit_code;

/// What can go wrong while submitting a run or running a worker.
#[derive(Debug, thiserror::Error)]
pub enum TemporalError {
    /// Bad input: an option, a repository without the remote, a workstream file that is
    /// not committed. Exit code 2.
    #[error("{0}")]
    Invalid(String),
    /// The Temporal server could not be reached at `address`. Exit code 2 (a wrong
    /// `--temporal` is the usual cause).
    #[error(
        "cannot reach the Temporal server at {address}: {message} (is it running? start one \
         with `temporal server start-dev`, or pass --temporal HOST:PORT)"
    )]
    Unreachable {
        /// The address given.
        address: String,
        /// The client's message.
        message: String,
    },
    /// A git command failed. Exit code 3.
    #[error("`{command}` failed in {}: {message}", dir.display())]
    Git {
        /// The command line.
        command: String,
        /// Where it ran.
        dir: PathBuf,
        /// git's stderr.
        message: String,
    },
    /// The server refused or failed a request (start, query, cancel) or a worker stopped
    /// with an error. Exit code 3.
    #[error("Temporal: {0}")]
    Server(String),
}

impl TemporalError {
    /// The process exit code for this error (`pipeline_core::exit_code`).
    pub fn exit_code(&self) -> i32 {
        match self {
            TemporalError::Invalid(_) | TemporalError::Unreachable { .. } => exit_code::INVALID,
            TemporalError::Git { .. } | TemporalError::Server(_) => exit_code::INTERNAL,
        }
    }
}
