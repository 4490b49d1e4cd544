//! `pipeline validate`: schema and semantic checks, notes for fields kept but not
//! interpreted, which steps will be serialised because their scopes overlap, and warnings
//! for steps whose tool is not installed here. `--strict` makes every note and warning an
//! error (exit code 2).

use std::path::PathBuf;

use pipeline_core::engine::{EngineError, load_and_plan, open_repository};
use pipeline_core::model::{
    StepKind, ToolChoice, ValidationDiagnostic, ValidationSeverity, WorkstreamSet,
};

use super::exit;
use crate::cli::RepoArgs;
use crate::command_error::CommandError;
use crate::json_output::{print_json, render_json};

/// `pipeline validate`: checks `paths` and prints the notes, the warnings and a summary
/// (or JSON). With `strict`, any note or warning makes the files invalid.
///
/// Errors: invalid workstream files (or, with `strict`, notes or warnings), exit code 2:
/// with `json` a `{"valid": false, "diagnostics": [...]}` document on stdout, otherwise
/// every diagnostic on stderr; other engine errors.
pub fn validate(
    paths: &[PathBuf],
    strict: bool,
    json: bool,
    repo: &RepoArgs,
) -> Result<i32, CommandError> {
    match check(paths, strict, repo)? {
        Checked::Invalid { load, diagnostics } => {
            if json {
                return Err(CommandError::Document {
                    json: render_json(&invalid_document(&diagnostics))?,
                    code: exit::INVALID,
                });
            }
            if let Some(load) = load {
                return Err(EngineError::Invalid(load).into());
            }
            let mut text: Vec<String> = diagnostics.iter().map(ToString::to_string).collect();
            let n = diagnostics.len();
            text.push(format!(
                "{n} error{} found (--strict: notes and warnings count as errors); nothing was run",
                if n == 1 { "" } else { "s" }
            ));
            Err(CommandError::Message {
                text: text.join("\n"),
                code: exit::INVALID,
            })
        }
        Checked::Valid { set, findings } => {
            if json {
                print_json(&valid_document(&set, &findings))?;
                return Ok(exit::OK);
            }
            for n in findings
                .iter()
                .filter(|n| n.severity != ValidationSeverity::Error)
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
    }
}

/// The `validate --json` document of `paths` (also `POST /api/validate`):
/// `{"valid": true, "workstreams", "steps", "files", "diagnostics"}` or
/// `{"valid": false, "diagnostics"}`. Errors: engine errors other than invalid
/// workstream files (no readable configuration, plugins).
pub fn validation_document(
    paths: &[PathBuf],
    strict: bool,
    repo: &RepoArgs,
) -> Result<serde_json::Value, CommandError> {
    Ok(match check(paths, strict, repo)? {
        Checked::Invalid { diagnostics, .. } => invalid_document(&diagnostics),
        Checked::Valid { set, findings } => valid_document(&set, &findings),
    })
}

/// What the checks of `validate` found.
enum Checked {
    /// The files load and plan; `findings` are notes and warnings.
    Valid {
        set: WorkstreamSet,
        findings: Vec<ValidationDiagnostic>,
    },
    /// The files are invalid (`load`: the loader's error, when it found them), or with
    /// `--strict` have notes or warnings (all made errors).
    Invalid {
        load: Option<pipeline_core::model::LoadError>,
        diagnostics: Vec<ValidationDiagnostic>,
    },
}

/// Loads and plans `paths` and collects the notes and warnings (see the module docs).
fn check(paths: &[PathBuf], strict: bool, repo: &RepoArgs) -> Result<Checked, CommandError> {
    let (set, plan) = match load_and_plan(paths, repo.repo.as_deref()) {
        Ok(p) => p,
        Err(EngineError::Invalid(mut load)) => {
            if strict {
                load.diagnostics.iter_mut().for_each(make_error);
            }
            return Ok(Checked::Invalid {
                diagnostics: load.diagnostics.clone(),
                load: Some(load),
            });
        }
        Err(e) => return Err(e.into()),
    };
    let mut findings: Vec<ValidationDiagnostic> = set.notes.clone();
    for e in plan.exclusions(&set) {
        let step = set.step(&e.a);
        let file = step.map(|s| s.file.to_path_buf()).unwrap_or_default();
        let pointer = step.map(|s| s.pointer.clone()).unwrap_or_default();
        findings.push(
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
    // Implicit edges: the later-declared of two unordered steps with overlapping scopes
    // starts from the earlier one's result (`scope_overlap: serialize`, the default).
    for edge in &plan.implicit {
        let (earlier, later) = (&set.steps[edge.earlier], &set.steps[edge.later]);
        findings.push(
            ValidationDiagnostic::note(
                &later.file,
                later.pointer.clone(),
                format!(
                    "step {} starts from the result of step {}: their files_scope overlap ({}) and neither depends on the other (an implicit edge; `pipeline plan` shows it)",
                    later.id,
                    earlier.id,
                    edge.scope()
                ),
            )
            .with_step(later.id.to_string()),
        );
    }
    findings.extend(uninstalled_tools(&set, repo));
    if strict && !findings.is_empty() {
        findings.iter_mut().for_each(make_error);
        return Ok(Checked::Invalid {
            load: None,
            diagnostics: findings,
        });
    }
    Ok(Checked::Valid { set, findings })
}

/// `{"valid": true, ...}`: counts, files and the notes and warnings.
fn valid_document(set: &WorkstreamSet, findings: &[ValidationDiagnostic]) -> serde_json::Value {
    serde_json::json!({
        "valid": true,
        "workstreams": set.workstreams.len(),
        "steps": set.steps.len(),
        "files": set.files,
        "diagnostics": findings,
    })
}

/// `--strict`: a note or warning counts as an error.
fn make_error(d: &mut ValidationDiagnostic) {
    d.severity = ValidationSeverity::Error;
}

/// The `{"valid": false, "diagnostics": [...]}` document (exit code 2 with `--json`).
fn invalid_document(diagnostics: &[ValidationDiagnostic]) -> serde_json::Value {
    serde_json::json!({"valid": false, "diagnostics": diagnostics})
}

/// One warning per step whose tool profile (`tool`), or every profile with its
/// `capability`, has a command that is not found on `PATH`: the step would fail at run
/// time without running anything. Uses the tool registry of the repository's
/// `.pipeline/config.yaml` and `PIPELINE_TOOL_*` variables, as `pipeline run` and
/// `pipeline tools` do; outside a git repository nothing can run, so nothing is checked.
fn uninstalled_tools(set: &WorkstreamSet, repo: &RepoArgs) -> Vec<ValidationDiagnostic> {
    let registry = match open_repository(repo.repo.as_deref(), None) {
        Ok((_, _, registry)) => registry,
        Err(e) => {
            tracing::debug!("tool availability not checked: {e}");
            return Vec::new();
        }
    };
    let command_of = |name: &str| {
        registry
            .profile(name)
            .map_or_else(|| name.to_string(), |p| p.command.clone())
    };
    let mut out = Vec::new();
    for step in set.steps.iter().filter(|s| s.kind == StepKind::Task) {
        let (what, missing): (String, Vec<&str>) = match &step.tool {
            ToolChoice::Profile(name) => (format!("tool `{name}`"), vec![name.as_str()]),
            ToolChoice::Capability(cap) => {
                let names = registry.with_capability(cap);
                if names.iter().any(|n| registry.is_installed(n)) {
                    continue;
                }
                (format!("capability `{cap}`"), names)
            }
            ToolChoice::Shell(_) | ToolChoice::None => continue,
        };
        let missing: Vec<&str> = missing
            .into_iter()
            .filter(|n| !registry.is_installed(n))
            .collect();
        if missing.is_empty() {
            continue;
        }
        let commands: Vec<String> = missing
            .iter()
            .map(|n| format!("`{}`", command_of(n)))
            .collect();
        let profiles: Vec<String> = missing.iter().map(|n| format!("`{n}`")).collect();
        out.push(
            ValidationDiagnostic::warning(
                &step.file,
                step.pointer.clone(),
                format!(
                    "step `{}` uses {what}, but {} not installed here (not found on PATH)",
                    step.id,
                    match commands.as_slice() {
                        [one] => format!("its command {one} is"),
                        many => format!("none of its commands {} is", many.join(", ")),
                    }
                ),
            )
            .with_step(step.id.to_string())
            .with_hint(format!(
                "install it, or set the `command` of tool {} in .pipeline/config.yaml (under `tools:`) to where it is; `pipeline tools` shows what is found",
                profiles.join(", ")
            )),
        );
    }
    out
}
