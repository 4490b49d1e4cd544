//! `pipeline spec resolve REF`: the text a `spec://`, `change://` or
//! `change://<id>/tasks#<N.M>` reference stands for, as a step's prompt receives it.

use pipeline_core::openspec::{Layout, ReferenceError, resolve as resolve_reference};

use crate::command_error::CommandError;
use crate::commands::exit;
use crate::json_output::print_json;

/// Resolves `reference` and prints it with its source and text.
///
/// Errors: invalid input for a malformed reference or one naming nothing (the message
/// names the closest match); internal when the OpenSpec tree cannot be read.
pub fn resolve(layout: &Layout, reference: &str, json: bool) -> Result<i32, CommandError> {
    let resolved = resolve_reference(layout, reference).map_err(|err| match err {
        ReferenceError::Io { .. } => CommandError::internal(err),
        err => CommandError::invalid(err),
    })?;
    if json {
        print_json(&resolved)?;
    } else {
        println!(
            "{} ({})\n\n{}",
            resolved.reference, resolved.source, resolved.text
        );
    }
    Ok(exit::OK)
}
