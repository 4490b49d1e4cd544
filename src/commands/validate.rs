//! `pipeline validate`: schema and semantic checks, notes for fields kept but not
//! interpreted, and which steps will be serialised because their scopes overlap.

use std::path::PathBuf;

use pipeline_core::engine::{EngineError, load_and_plan};
use pipeline_core::model::{ValidationDiagnostic, ValidationSeverity};

use super::exit;
use crate::cli::RepoArgs;
use crate::command_error::CommandError;
use crate::json_output::{print_json, render_json};

/// `pipeline validate`: checks `paths` and prints the notes and a summary (or JSON).
/// Errors: invalid workstream files, with `--json` as a `{"valid": false, ...}` document on
/// stdout, otherwise every diagnostic on stderr; other engine errors.
pub fn validate(
    paths: &[PathBuf],
    _strict: bool,
    json: bool,
    repo: &RepoArgs,
) -> Result<i32, CommandError> {
    let (set, plan) = match load_and_plan(paths, repo.repo.as_deref()) {
        Ok(p) => p,
        Err(EngineError::Invalid(load)) if json => {
            return Err(CommandError::Document {
                json: render_json(
                    &serde_json::json!({"valid": false, "diagnostics": load.diagnostics}),
                )?,
                code: exit::INVALID,
            });
        }
        Err(e) => return Err(e.into()),
    };
    let mut notes: Vec<ValidationDiagnostic> = set.notes.clone();
    for e in plan.exclusions(&set) {
        let step = set.step(&e.a);
        let file = step.map(|s| s.file.to_path_buf()).unwrap_or_default();
        let pointer = step.map(|s| s.pointer.clone()).unwrap_or_default();
        notes.push(
            ValidationDiagnostic::note(
                file,
                pointer,
                format!(
                    "steps {} and {} could run at once but never will: {}",
                    e.a, e.b, e.reason
                ),
            )
            .with_step(e.a.to_string()),
        );
    }
    if json {
        print_json(&serde_json::json!({
            "valid": true,
            "workstreams": set.workstreams.len(),
            "steps": set.steps.len(),
            "files": set.files,
            "diagnostics": notes,
        }))?;
        return Ok(exit::OK);
    }
    for n in notes
        .iter()
        .filter(|n| n.severity == ValidationSeverity::Note)
    {
        println!("{n}");
    }
    println!(
        "valid: {} workstream{}, {} step{} in {} file{}",
        set.workstreams.len(),
        if set.workstreams.len() == 1 { "" } else { "s" },
        set.steps.len(),
        if set.steps.len() == 1 { "" } else { "s" },
        set.files.len(),
        if set.files.len() == 1 { "" } else { "s" },
    );
    Ok(exit::OK)
}
