//! `pipeline spec show ITEM`: a change's proposal or a spec, as written or as the JSON of
//! `openspec show --json`.

use std::path::PathBuf;

use pipeline_core::openspec::{Layout, ShowError, show_change, show_spec};

use super::ItemKind;
use crate::command_error::CommandError;
use crate::commands::exit;
use crate::json_output::render_json;

/// Shows `item`, a change or a spec (`item_type` decides when it is both).
///
/// Errors: invalid input for an item that is both without `--type`, an unknown item, or
/// one the OpenSpec CLI could not show (its message); internal when a file cannot be read.
pub fn show(
    layout: &Layout,
    item: &str,
    item_type: Option<ItemKind>,
    json: bool,
) -> Result<i32, CommandError> {
    let is_change = layout
        .change_ids()
        .map(|ids| ids.iter().any(|i| i == item))
        .unwrap_or(false);
    let is_spec = layout
        .spec_ids()
        .map(|ids| ids.iter().any(|i| i == item))
        .unwrap_or(false);
    let kind = match (item_type, is_change, is_spec) {
        (Some(kind), _, _) => kind,
        (None, true, true) => {
            return Err(CommandError::invalid(format!(
                "'{item}' is both a change and a spec; pass --type change|spec"
            )));
        }
        (None, true, false) => ItemKind::Change,
        (None, false, true) => ItemKind::Spec,
        (None, false, false) => {
            return Err(CommandError::invalid(format!(
                "unknown item '{item}'; run `pipeline spec list` or `pipeline spec list --specs`"
            )));
        }
    };
    let text = match kind {
        ItemKind::Change => {
            let view = show_change(layout, item).map_err(show_error)?;
            if json {
                render_json(&view)?
            } else {
                read(layout.change_dir(item).join("proposal.md"))?
            }
        }
        ItemKind::Spec => {
            let view = show_spec(layout, item).map_err(show_error)?;
            if json {
                render_json(&view)?
            } else {
                read(layout.spec_file(item))?
            }
        }
    };
    println!("{}", text.trim_end());
    Ok(exit::OK)
}

/// A file that was just parsed, read again to print it as written.
fn read(path: PathBuf) -> Result<String, CommandError> {
    std::fs::read_to_string(&path)
        .map_err(|err| CommandError::internal(format!("cannot read {}: {err}", path.display())))
}

fn show_error(err: ShowError) -> CommandError {
    match err {
        ShowError::Io { .. } => CommandError::internal(err),
        err => CommandError::invalid(err),
    }
}
