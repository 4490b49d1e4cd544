//! `--json` output: every command prints its JSON the same way, pretty (serde_json's
//! two-space indentation) and followed by a newline, and a value that cannot be rendered
//! is an internal error rather than a silently empty document.
//!
//! NDJSON event streams (`run --json`) print one compact object per line instead; they
//! are rendered with the run reporting (`progress.rs`), which stops writing after the
//! first failed write and never stops the run.

use std::io::Write;

use serde::Serialize;

use crate::command_error::CommandError;

/// `value` as pretty JSON, without a trailing newline.
///
/// Errors: [`CommandError::internal`] "cannot render JSON: ..." when serialisation fails
/// (a map with non-string keys, a failing `Serialize` implementation).
pub fn render_json<T: Serialize + ?Sized>(value: &T) -> Result<String, CommandError> {
    serde_json::to_string_pretty(value)
        .map_err(|e| CommandError::internal(format!("cannot render JSON: {e}")))
}

/// Prints `value` as pretty JSON and a newline on stdout. A reader that went away
/// (EPIPE: `pipeline status --json | head -1`) ends the output quietly, like `git log |
/// head`; no command panics on it. Errors: as [`render_json`]; another write error is
/// an internal error.
pub fn print_json<T: Serialize + ?Sized>(value: &T) -> Result<(), CommandError> {
    let text = render_json(value)?;
    let mut stdout = std::io::stdout().lock();
    match writeln!(stdout, "{text}").and_then(|()| stdout.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(CommandError::internal(format!(
            "cannot write to standard output: {e}"
        ))),
    }
}
