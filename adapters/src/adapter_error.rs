//! Errors raised while invoking a tool.
//!
//! These are failures to run the tool at all or to record what it did (spawn, log,
//! prompt file, missing driver). A tool that runs and exits non-zero is not an error
//! here: it is a [`crate::ToolOutcome`] with `success == false`.

use std::io;
use std::path::PathBuf;

use pipeline_process::ProcessError;

use crate::tool_profile::ToolKind;

/// Why a tool could not be invoked or supervised.
#[derive(Debug, thiserror::Error)]
pub enum AdapterError {
    /// The supervisor could not start, wait for or log the tool's process (see
    /// [`ProcessError`]); a program that cannot be started gets the tool-profile hint.
    #[error("{source}{}", profile_hint(source))]
    Process {
        /// The supervisor's error.
        #[from]
        source: ProcessError,
    },
    /// The tool's private home or configuration directory (made fresh for each attempt)
    /// could not be prepared.
    #[error("cannot prepare the tool's private directory {}: {source}; check free space and permissions", path.display())]
    ToolHome {
        /// The directory.
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

/// What a user can change in pipeline's own configuration when a tool cannot start.
fn profile_hint(error: &ProcessError) -> &'static str {
    match error {
        ProcessError::Spawn { .. } => ", or fix `command` in the tool profile",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_program_that_cannot_start_points_at_the_tool_profile_and_other_supervisor_errors_do_not() {
        let spawn = AdapterError::from(ProcessError::Spawn {
            program: "aider".into(),
            source: io::Error::from(io::ErrorKind::NotFound),
        });
        let text = spawn.to_string();
        assert!(text.starts_with("cannot start `aider`: "), "{text}");
        assert!(
            text.ends_with(", or fix `command` in the tool profile"),
            "{text}"
        );
        let log = AdapterError::from(ProcessError::Log {
            path: PathBuf::from("/logs/1.log"),
            source: io::Error::from(io::ErrorKind::StorageFull),
        });
        let text = log.to_string();
        assert!(
            text.contains("cannot write attempt log /logs/1.log"),
            "{text}"
        );
        assert!(!text.contains("tool profile"), "{text}");
    }
}
