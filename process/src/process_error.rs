//! Why a process could not be run or supervised.
//!
//! A process that runs and exits non-zero is not an error here: it is a
//! [`crate::Termination`]. These are failures to start it, to wait for it, or to record
//! what it printed.

use std::ffi::OsString;
use std::io;
use std::path::PathBuf;

/// Why a process could not be run or supervised.
#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    /// The program could not be started (not found, not executable, ...).
    #[error(
        "cannot start `{}`: {source}; check that it is installed and on PATH",
        program.to_string_lossy()
    )]
    Spawn {
        /// Program as given in the process spec.
        program: OsString,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// The working directory does not exist or is not a directory.
    #[error("working directory {} does not exist or is not a directory", path.display())]
    WorkingDirectory {
        /// The missing directory.
        path: PathBuf,
    },
    /// Waiting for the child failed (an operating system error, not a failure of the
    /// child).
    #[error("waiting for `{}` failed: {source}", program.to_string_lossy())]
    Wait {
        /// Program being waited for.
        program: OsString,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// The attempt log could not be created or written; check disk space and
    /// permissions of the log directory.
    #[error("cannot write attempt log {}: {source}; check free space and permissions", path.display())]
    Log {
        /// Path of the attempt log.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// The helper thread of [`crate::run_captured_blocking`] could not be started or
    /// its runtime could not be built.
    #[error("cannot supervise `{}`: {source}", program.to_string_lossy())]
    Runtime {
        /// Program that was to be run.
        program: OsString,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
}
