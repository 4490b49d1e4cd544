//! `pipeline completions` and `pipeline man`: generated from the clap command tree.

use std::path::Path;

use crate::command_error::CommandError;

/// Prints the completion script for `shell` on stdout. Exit 0.
pub fn completions(_shell: clap_complete::Shell) -> Result<i32, CommandError> {
    Err(CommandError::invalid(
        "`pipeline completions` is not implemented yet",
    ))
}

/// Prints the man page, or writes one page per command into `out_dir`. Exit 0.
pub fn man(_out_dir: Option<&Path>) -> Result<i32, CommandError> {
    Err(CommandError::invalid(
        "`pipeline man` is not implemented yet",
    ))
}
