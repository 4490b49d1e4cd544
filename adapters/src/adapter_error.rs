//! Errors raised while invoking a tool.
//!
//! These are failures to run the tool at all or to record what it did (spawn, log,
//! prompt file, missing driver). A tool that runs and exits non-zero is not an error
//! here: it is a [`crate::ToolOutcome`] with `success == false`.

use std::ffi::OsString;
use std::io;
use std::path::PathBuf;

use pipeline_process::ProcessError;

use crate::tool_profile::ToolKind;

/// Why a tool could not be invoked or supervised.
#[derive(Debug, thiserror::Error)]
pub enum AdapterError {
    /// The program could not be started (not found, not executable, ...).
    #[error(
        "cannot start `{}`: {source}; check that it is installed and on PATH, or fix `command` in the tool profile",
        program.to_string_lossy()
    )]
    Spawn {
        /// Program as given in the process spec.
        program: OsString,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// The working directory (normally the step's worktree) does not exist.
    #[error("working directory {} does not exist or is not a directory", path.display())]
    WorkingDirectory {
        /// The missing directory.
        path: PathBuf,
    },
    /// Waiting for the child failed (an operating system error, not a tool failure).
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
    /// The prompt file could not be written.
    #[error("cannot write prompt file {}: {source}", path.display())]
    PromptFile {
        /// Path the engine asked the prompt to be written to.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// No tool profile has this name.
    #[error("no tool profile named `{tool}`; known tools: {known}")]
    UnknownTool {
        /// Requested name.
        tool: String,
        /// Comma-separated names of the known profiles.
        known: String,
    },
    /// The profile's kind has no driver in this build.
    #[error(
        "tool `{tool}` is of kind `{kind}`, and this build has no driver for `{kind}` tools yet; use a profile of kind `custom` with `command` and `args` instead"
    )]
    AdapterUnavailable {
        /// Profile name.
        tool: String,
        /// Its kind.
        kind: ToolKind,
    },
    /// The built-in `shell` tool was asked for without a command.
    #[error(
        "the built-in `{tool}` tool runs a step's own shell command; give the step a \"command\" instead of naming `{tool}` as its tool"
    )]
    ShellCommandRequired {
        /// The name asked for (`shell`).
        tool: String,
    },
}

impl From<ProcessError> for AdapterError {
    /// The supervisor's error as the same-named adapter error, whose messages speak of
    /// tool profiles.
    fn from(error: ProcessError) -> Self {
        match error {
            ProcessError::Spawn { program, source } => AdapterError::Spawn { program, source },
            ProcessError::WorkingDirectory { path } => AdapterError::WorkingDirectory { path },
            ProcessError::Wait { program, source } | ProcessError::Runtime { program, source } => {
                AdapterError::Wait { program, source }
            }
            ProcessError::Log { path, source } => AdapterError::Log { path, source },
        }
    }
}
