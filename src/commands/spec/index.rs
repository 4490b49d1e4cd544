//! `pipeline spec index` and `pipeline spec find TEXT`: the spec index in the state
//! database (requirements, scenarios and the changes touching them), refreshed
//! incrementally before every use.

use std::path::PathBuf;

use pipeline_core::openspec::{IndexError, Layout, SpecIndex};
use serde_json::json;

use crate::command_error::CommandError;
use crate::commands::exit;
use crate::json_output::print_json;

/// Opens the spec index in `db` (default: `<root>/.pipeline/state.db`).
fn open_index(layout: &Layout, db: Option<PathBuf>) -> Result<SpecIndex, CommandError> {
    let db = db.unwrap_or_else(|| layout.root.join(".pipeline").join("state.db"));
    SpecIndex::open(&db).map_err(index_error)
}

/// An index written by a newer binary is the user's to resolve (upgrade), as a newer
/// state database is; every other index failure is internal.
fn index_error(err: IndexError) -> CommandError {
    match err {
        IndexError::TooNew { .. } => CommandError::invalid(err),
        err => CommandError::internal(err),
    }
}

/// Refreshes the index and prints what changed and the conflicting changes it found.
/// Errors: the database or the OpenSpec tree fails (internal), or the index is newer
/// than this binary (invalid input).
pub fn index(layout: &Layout, db: Option<PathBuf>, json: bool) -> Result<i32, CommandError> {
    let mut index = open_index(layout, db)?;
    let stats = index.refresh(layout).map_err(index_error)?;
    let conflicts = index.conflicts().unwrap_or_default();
    if json {
        print_json(&json!({ "index": stats, "conflicts": conflicts }))?;
        return Ok(exit::OK);
    }
    println!(
        "Indexed {} file(s), {} unchanged, {} removed: {} requirements, {} scenarios, {} change touches.",
        stats.indexed,
        stats.unchanged,
        stats.removed,
        stats.requirements,
        stats.scenarios,
        stats.touches
    );
    for conflict in &conflicts {
        println!("⚠ conflict: {}", conflict.message());
    }
    Ok(exit::OK)
}

/// Refreshes the index and prints the requirements mentioning `text`. Errors: as
/// [`index`].
pub fn find(
    layout: &Layout,
    text: &str,
    db: Option<PathBuf>,
    json: bool,
) -> Result<i32, CommandError> {
    let mut index = open_index(layout, db)?;
    let hits = index
        .refresh(layout)
        .and_then(|_| index.find(text))
        .map_err(index_error)?;
    if json {
        print_json(&json!({ "hits": hits }))?;
        return Ok(exit::OK);
    }
    if hits.is_empty() {
        println!("No requirement mentions \"{text}\".");
    }
    for hit in hits {
        println!("{}  [{} in {}]", hit.reference, hit.matched, hit.source);
    }
    Ok(exit::OK)
}
