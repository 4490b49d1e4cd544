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
    let kind = item_kind(layout, item, item_type)?;
    let text = match (kind, json) {
        (kind, true) => render_json(&show_document(layout, item, Some(kind))?)?,
        (ItemKind::Change, false) => {
            show_change(layout, item).map_err(show_error)?;
            read(layout.change_dir(item).join("proposal.md"))?
        }
        (ItemKind::Spec, false) => {
            show_spec(layout, item).map_err(show_error)?;
            read(layout.spec_file(item))?
        }
    };
    println!("{}", text.trim_end());
    Ok(exit::OK)
}

/// The `spec show ITEM --json` document (also `GET /api/specs/{item}`): the change's or
/// spec's view as `openspec show --json` prints it. Errors as [`show`].
pub fn show_document(
    layout: &Layout,
    item: &str,
    item_type: Option<ItemKind>,
) -> Result<serde_json::Value, CommandError> {
    let value = match item_kind(layout, item, item_type)? {
        ItemKind::Change => serde_json::to_value(show_change(layout, item).map_err(show_error)?),
        ItemKind::Spec => serde_json::to_value(show_spec(layout, item).map_err(show_error)?),
    };
    value.map_err(|e| CommandError::internal(format!("cannot render JSON: {e}")))
}

/// Whether `item` is a change or a spec (`item_type` decides when it is both).
fn item_kind(
    layout: &Layout,
    item: &str,
    item_type: Option<ItemKind>,
) -> Result<ItemKind, CommandError> {
    let is_change = layout
        .change_ids()
        .map(|ids| ids.iter().any(|i| i == item))
        .unwrap_or(false);
    let is_spec = layout
        .spec_ids()
        .map(|ids| ids.iter().any(|i| i == item))
        .unwrap_or(false);
    match (item_type, is_change, is_spec) {
        (Some(kind), _, _) => Ok(kind),
        (None, true, true) => Err(CommandError::invalid(format!(
            "'{item}' is both a change and a spec; pass --type change|spec"
        ))),
        (None, true, false) => Ok(ItemKind::Change),
        (None, false, true) => Ok(ItemKind::Spec),
        (None, false, false) => Err(CommandError::invalid(format!(
            "unknown item '{item}'; run `pipeline spec list` or `pipeline spec list --specs`"
        ))),
    }
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
