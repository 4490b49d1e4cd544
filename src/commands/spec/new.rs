//! `pipeline spec new CHANGE`: scaffolds a change proposal (`.openspec.yaml`,
//! `proposal.md`, `tasks.md`, a delta spec stub).

use pipeline_core::openspec::{Layout, ScaffoldError, local_date_today, scaffold_change};

use crate::command_error::CommandError;
use crate::commands::exit;
use crate::json_output::print_json;

/// Scaffolds `change` (its delta stub targets `capability`, default the change id) and
/// lists the files written.
///
/// Errors: invalid input for a bad change or capability id or an existing change;
/// internal when a file cannot be written.
pub fn new_change(
    layout: &Layout,
    change: &str,
    capability: Option<&str>,
    json: bool,
) -> Result<i32, CommandError> {
    let done =
        scaffold_change(layout, change, capability, &local_date_today()).map_err(
            |err| match err {
                ScaffoldError::Io { .. } => CommandError::internal(err),
                err => CommandError::invalid(err),
            },
        )?;
    if json {
        print_json(&done)?;
        return Ok(exit::OK);
    }
    println!(
        "Created change '{change}' at {}:",
        done.change_dir.display()
    );
    for file in &done.files {
        println!("  {}", file.display());
    }
    println!("Fill in the placeholders, then run `pipeline spec validate {change}`.");
    Ok(exit::OK)
}
