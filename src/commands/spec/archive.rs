//! `pipeline spec archive CHANGE`: applies a change's deltas to the main specs and moves
//! it to the archive, reporting as the OpenSpec CLI does (or as JSON).

use pipeline_core::openspec::{ArchiveError, ArchiveOptions, Layout, archive_change};
use serde_json::json;

use super::issue::issue_line;
use crate::command_error::CommandError;
use crate::commands::exit;
use crate::json_output::{print_json, render_json};

/// Exit code of a refused or failed archive: FAILED when the change's content refused it
/// (validation, a delta that does not apply, an invalid rebuilt spec), INTERNAL when a
/// file could not be read or written, INVALID for everything the user can fix in the
/// command (unknown change, incomplete tasks without `--yes`, ...).
fn archive_exit_code(err: &ArchiveError) -> i32 {
    match err {
        ArchiveError::ValidationFailed { .. }
        | ArchiveError::SpecUpdateFailed(_)
        | ArchiveError::RebuiltSpecInvalid { .. } => exit::FAILED,
        ArchiveError::Io { .. } => exit::INTERNAL,
        _ => exit::INVALID,
    }
}

/// Archives `change` and prints what was applied. `Ok(OK)` once archived.
///
/// Errors: the archive was refused or failed, with its code from `archive_exit_code`;
/// with `--json` as a status document on stdout, otherwise the message, the issues that
/// refused it, the fix and "No files were changed." on stderr.
pub fn archive(
    layout: &Layout,
    change: &str,
    options: &ArchiveOptions,
    json: bool,
) -> Result<i32, CommandError> {
    let result = match archive_change(layout, change, options) {
        Ok(result) => result,
        Err(err) if json => return Err(refusal_document(&err)?),
        Err(err) => return Err(refusal_message(&err)),
    };
    if json {
        print_json(&json!({ "archive": result }))?;
        return Ok(exit::OK);
    }
    println!("Task status: {}", result.task_progress.status_text());
    if options.skip_specs {
        println!("Skipping spec updates (--skip-specs flag provided).");
    }
    for warning in &result.warnings {
        println!("⚠️  Warning: {warning}");
    }
    for spec in &result.specs {
        let c = spec.counts;
        match spec.outcome {
            "write" => {
                println!("Applying changes to openspec/specs/{}/spec.md:", spec.id);
                for (n, sign, word) in [
                    (c.added, "+", "added"),
                    (c.modified, "~", "modified"),
                    (c.removed, "-", "removed"),
                    (c.renamed, "→", "renamed"),
                ] {
                    if n > 0 {
                        println!("  {sign} {n} {word}");
                    }
                }
            }
            "retire" => println!(
                "Retiring openspec/specs/{}/spec.md: all requirements removed.",
                spec.id
            ),
            _ => {}
        }
    }
    if let Some(t) = result.totals {
        println!(
            "Totals: + {}, ~ {}, - {}, → {}",
            t.added, t.modified, t.removed, t.renamed
        );
        println!(
            "{}",
            if result.specs_updated {
                "Specs updated successfully."
            } else {
                "Specs already in sync; no files changed."
            }
        );
    }
    println!(
        "Change '{}' archived as '{}'.",
        result.change, result.archived_as
    );
    Ok(exit::OK)
}

/// The issues that refused an archive, if its content did.
fn refusal_issues(err: &ArchiveError) -> Option<&[pipeline_core::openspec::Issue]> {
    match err {
        ArchiveError::ValidationFailed { issues, .. }
        | ArchiveError::RebuiltSpecInvalid { issues, .. } => Some(issues),
        _ => None,
    }
}

/// `{"archive": null, "status": [{severity, code, message, fix?, issues?}]}` for stdout.
fn refusal_document(err: &ArchiveError) -> Result<CommandError, CommandError> {
    let mut status = json!({"severity": "error", "code": err.code(), "message": err.to_string()});
    if let Some(fix) = err.fix() {
        status["fix"] = json!(fix);
    }
    if let Some(issues) = refusal_issues(err) {
        status["issues"] = json!(issues);
    }
    Ok(CommandError::Document {
        json: render_json(&json!({"archive": null, "status": [status]}))?,
        code: archive_exit_code(err),
    })
}

/// The message, the issues, the fix and "No files were changed." for stderr.
fn refusal_message(err: &ArchiveError) -> CommandError {
    let mut lines = vec![format!("error: {err}")];
    for issue in refusal_issues(err).unwrap_or_default() {
        lines.push(issue_line("  ", issue));
    }
    if let Some(fix) = err.fix() {
        lines.push(fix);
    }
    lines.push("No files were changed.".to_string());
    CommandError::Message {
        text: lines.join("\n"),
        code: archive_exit_code(err),
    }
}
