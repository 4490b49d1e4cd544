//! `pipeline init`: sets up a repository for pipeline without overwriting anything.

use crate::cli::InitArgs;
use crate::command_error::CommandError;

/// Writes `workstreams/example.json`, `.pipeline/config.yaml` and the ignore entry where
/// they are missing, and prints the next commands. Exit 0; 2 outside a git repository.
pub fn init(_args: &InitArgs) -> Result<i32, CommandError> {
    Err(CommandError::invalid(
        "`pipeline init` is not implemented yet",
    ))
}
