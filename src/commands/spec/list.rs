//! `pipeline spec list [--specs | --changes]`: active changes with their task progress,
//! or specs with their requirement counts.

use pipeline_core::openspec::{Layout, TaskProgress, list_changes, list_specs};
use serde_json::json;

use crate::command_error::CommandError;
use crate::commands::exit;
use crate::json_output::print_json;

/// Lists specs (`specs`) or active changes. Errors: the OpenSpec tree cannot be read
/// (internal).
pub fn list(layout: &Layout, specs: bool, json: bool) -> Result<i32, CommandError> {
    if json {
        print_json(&list_document(layout, specs)?)?;
        return Ok(exit::OK);
    }
    if specs {
        let rows = list_specs(layout)
            .map_err(|err| CommandError::internal(format!("cannot list specs: {err}")))?;
        if rows.is_empty() {
            println!("No specs found.");
        } else {
            println!("Specs:");
            let width = rows.iter().map(|r| r.id.len()).max().unwrap_or(0);
            for row in rows {
                println!(
                    "  {:width$}     requirements {}",
                    row.id, row.requirement_count
                );
            }
        }
        return Ok(exit::OK);
    }
    let rows = list_changes(layout)
        .map_err(|err| CommandError::internal(format!("cannot list changes: {err}")))?;
    if rows.is_empty() {
        println!("No active changes found.");
    } else {
        println!("Changes:");
        let width = rows.iter().map(|r| r.name.len()).max().unwrap_or(0);
        for row in rows {
            let status = if row.nested.is_some() {
                "not a change".to_string()
            } else {
                TaskProgress {
                    total: row.total_tasks,
                    completed: row.completed_tasks,
                }
                .status_text()
            };
            println!(
                "  {:width$}     {status:<12}  {}",
                row.name, row.last_modified
            );
        }
    }
    Ok(exit::OK)
}

/// The `spec list --json` document (also `GET /api/specs`): `{"specs": [...]}` with
/// `specs`, else `{"changes": [...]}`. Errors: the OpenSpec tree cannot be read
/// (internal).
pub fn list_document(layout: &Layout, specs: bool) -> Result<serde_json::Value, CommandError> {
    if specs {
        let rows = list_specs(layout)
            .map_err(|err| CommandError::internal(format!("cannot list specs: {err}")))?;
        return Ok(json!({ "specs": rows }));
    }
    let rows = list_changes(layout)
        .map_err(|err| CommandError::internal(format!("cannot list changes: {err}")))?;
    Ok(json!({ "changes": rows }))
}
