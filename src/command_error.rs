//! Why a command could not do its job, and the one place that prints it and maps it to a
//! process exit code (the table is `pipeline_core::exit_code`).
//!
//! A command returns `Ok(code)` for an outcome it has reported itself (0, or 1 when the
//! run or a check failed) and `Err(CommandError)` when it could not do its job; `main`
//! prints the error once, on stderr (or, for an error document asked for with `--json`,
//! on stdout), without a backtrace, and exits with its code. Modelled on nextest's
//! `ExpectedError::process_exit_code`.

use std::fmt::Display;

use pipeline_core::engine::EngineError;
use pipeline_core::exit_code;

/// An error of a command, with everything needed to print it and choose the exit code.
#[derive(Debug)]
pub enum CommandError {
    /// The engine refused or failed (workstream files, runs, state, git, OpenSpec
    /// project lookup); the error knows its own exit code.
    Engine(EngineError),
    /// A message for stderr, already worded (`error: ...` and any detail lines), and
    /// the exit code it maps to.
    Message {
        /// Printed as is, followed by a newline.
        text: String,
        /// Exit code from `pipeline_core::exit_code`.
        code: i32,
    },
    /// An error document for stdout, asked for with `--json`, already rendered, and the
    /// exit code it maps to.
    Document {
        /// JSON text, printed as is, followed by a newline.
        json: String,
        /// Exit code from `pipeline_core::exit_code`.
        code: i32,
    },
}

impl From<EngineError> for CommandError {
    fn from(e: EngineError) -> Self {
        CommandError::Engine(e)
    }
}

/// A state database error, reported (and exit-coded) as the engine reports it.
impl From<pipeline_core::state::StateError> for CommandError {
    fn from(e: pipeline_core::state::StateError) -> Self {
        CommandError::Engine(EngineError::from(e))
    }
}

impl CommandError {
    /// `error: {message}`, exit code [`exit_code::INVALID`] (invalid input or usage).
    pub fn invalid(message: impl Display) -> Self {
        CommandError::with_code(exit_code::INVALID, message)
    }

    /// `error: {message}`, exit code [`exit_code::INTERNAL`] (internal error, or the
    /// environment failed: a file that cannot be read or written, the database).
    pub fn internal(message: impl Display) -> Self {
        CommandError::with_code(exit_code::INTERNAL, message)
    }

    /// `error: {message}` with the exit code `code` (from `pipeline_core::exit_code`).
    pub fn with_code(code: i32, message: impl Display) -> Self {
        CommandError::Message {
            text: format!("error: {message}"),
            code,
        }
    }

    /// The process exit code for this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            CommandError::Engine(e) => e.exit_code(),
            CommandError::Message { code, .. } | CommandError::Document { code, .. } => *code,
        }
    }

    /// Prints the error once: a message on stderr, or an error document on stdout.
    pub fn report(&self) {
        match self {
            CommandError::Engine(e) => report_engine_error(e),
            CommandError::Message { text, .. } => eprintln!("{text}"),
            CommandError::Document { json, .. } => println!("{json}"),
        }
    }

    /// The text [`CommandError::report`] prints (without the final newline), for
    /// callers that hand the error on instead of printing it (the MCP server's tool
    /// errors).
    pub fn text(&self) -> String {
        match self {
            CommandError::Engine(e) => engine_error_text(e),
            CommandError::Message { text, .. } => text.clone(),
            CommandError::Document { json, .. } => json.clone(),
        }
    }
}

/// Prints an engine error on stderr: every diagnostic of invalid workstream files and how
/// many errors there were, or `error: {e}`.
pub fn report_engine_error(e: &EngineError) {
    eprintln!("{}", engine_error_text(e));
}

/// The text [`report_engine_error`] prints (without the final newline).
pub fn engine_error_text(e: &EngineError) -> String {
    match e {
        EngineError::Invalid(load) => {
            let mut lines: Vec<String> = load.diagnostics.iter().map(ToString::to_string).collect();
            let n = load.errors().count();
            lines.push(format!(
                "{n} error{} found; nothing was run",
                if n == 1 { "" } else { "s" }
            ));
            lines.join("\n")
        }
        other => format!("error: {other}"),
    }
}
