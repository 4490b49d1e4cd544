//! `pipeline schema`: prints a JSON Schema.

use crate::cli::SchemaKind;
use crate::command_error::CommandError;

/// Prints the chosen JSON Schema (2020-12) on stdout. Exit 0.
pub fn schema(_kind: SchemaKind) -> Result<i32, CommandError> {
    Err(CommandError::invalid(
        "`pipeline schema` is not implemented yet",
    ))
}
