//! `pipeline spec to-workstream CHANGE` (or `--ccpm EPIC`): a workstream file with one
//! step per task group, on stdout or in a file.

use std::path::Path;

use pipeline_core::openspec::{
    BridgeError, BridgeOptions, Layout, ccpm_epic_to_workstream, change_to_workstream,
};

use crate::command_error::CommandError;
use crate::commands::exit;
use crate::json_output::render_json;

/// Turns `target` (a change id, or with `ccpm` an epic name) into a workstream and
/// writes it as pretty JSON to `output` (parent directories created) or stdout.
///
/// Errors: invalid input for an unknown change or epic, one without tasks, a bad
/// reference, or an output file that cannot be written; internal when the change or
/// epic cannot be read.
pub fn to_workstream(
    layout: &Layout,
    target: &str,
    ccpm: bool,
    output: Option<&Path>,
    options: &BridgeOptions,
) -> Result<i32, CommandError> {
    let workstream = if ccpm {
        ccpm_epic_to_workstream(&layout.root, target, options)
    } else {
        change_to_workstream(layout, target, options)
    }
    .map_err(|err| match err {
        BridgeError::Io { .. } => CommandError::internal(err),
        err => CommandError::invalid(err),
    })?;
    let text = render_json(&workstream)? + "\n";
    let Some(path) = output else {
        print!("{text}");
        return Ok(exit::OK);
    };
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map(std::fs::create_dir_all)
        .transpose()
        .and_then(|_| std::fs::write(path, &text))
        .map_err(|err| CommandError::invalid(format!("cannot write {}: {err}", path.display())))?;
    eprintln!(
        "Wrote {} ({} steps) to {}",
        workstream.id,
        workstream.steps.len(),
        path.display()
    );
    Ok(exit::OK)
}
