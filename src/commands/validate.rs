//! `pipeline validate`: schema and semantic checks, notes for fields kept but not
//! interpreted, which steps will be serialised because their scopes overlap, and warnings
//! for steps whose tool is not installed here. `--strict` makes every note and warning an
//! error (exit code 2).

use std::path::PathBuf;

use pipeline_core::engine::{EngineError, load_and_plan, open_repository};
use pipeline_core::model::{
    LoadError, StepKind, ToolChoice, ValidationDiagnostic, ValidationSeverity, WorkstreamSet,
};

use super::exit;
use crate::cli::RepoArgs;
use crate::command_error::CommandError;
use crate::json_output::{print_json, render_json};

/// What checking workstream files found, before anything is printed: `pipeline
/// validate` renders it as text or JSON, the MCP server's `validate` tool returns its
/// [`Checked::document`].
pub enum Checked {
    /// The files are valid: the set, and its notes and warnings (with `strict` there are
    /// none: they make the files invalid).
    Valid {
        /// The loaded workstreams.
        set: Box<WorkstreamSet>,
        /// Notes and warnings, in the order found.
        findings: Vec<ValidationDiagnostic>,
    },
    /// The files themselves are invalid: every diagnostic (with `strict`, notes and
    /// warnings made errors too).
    Invalid(LoadError),
    /// `strict` only: valid files with notes or warnings, every one made an error.
    Strict(Vec<ValidationDiagnostic>),
}

impl Checked {
    /// Whether the files passed.
    pub fn is_valid(&self) -> bool {
        matches!(self, Checked::Valid { .. })
    }

    /// The `validate --json` document: `{"valid": true, "workstreams", "steps",
    /// "files", "diagnostics"}` or `{"valid": false, "diagnostics"}`.
    pub fn document(&self) -> serde_json::Value {
        match self {
            Checked::Valid { set, findings } => serde_json::json!({
                "valid": true,
                "workstreams": set.workstreams.len(),
                "steps": set.steps.len(),
                "files": set.files,
                "diagnostics": findings,
            }),
            Checked::Invalid(load) => {
                serde_json::json!({"valid": false, "diagnostics": load.diagnostics})
            }
            Checked::Strict(findings) => {
                serde_json::json!({"valid": false, "diagnostics": findings})
            }
        }
    }
}

/// Checks `paths` (schema, semantic rules, overlapping scopes, implicit edges, tools not
/// installed); with `strict`, any note or warning makes the files invalid. Errors: the
/// engine's, other than invalid files (a `--repo` that is not a repository, an invalid
/// `.pipeline/config.yaml`).
pub fn check(paths: &[PathBuf], strict: bool, repo: &RepoArgs) -> Result<Checked, EngineError> {
    let (set, plan) = match load_and_plan(paths, repo.repo.as_deref()) {
        Ok(p) => p,
        Err(EngineError::Invalid(mut load)) => {
            if strict {
                load.diagnostics.iter_mut().for_each(make_error);
            }
            return Ok(Checked::Invalid(load));
        }
        Err(e) => return Err(e),
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
        return Ok(Checked::Strict(findings));
    }
    Ok(Checked::Valid {
        set: Box::new(set),
        findings,
    })
}

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
    let checked = check(paths, strict, repo)?;
    if json {
        let document = checked.document();
        if !checked.is_valid() {
            return Err(CommandError::Document {
                json: render_json(&document)?,
                code: exit::INVALID,
            });
        }
        print_json(&document)?;
        return Ok(exit::OK);
    }
    let (set, findings) = match checked {
        Checked::Valid { set, findings } => (set, findings),
        Checked::Invalid(load) => return Err(EngineError::Invalid(load).into()),
        Checked::Strict(findings) => {
            let mut text: Vec<String> = findings.iter().map(ToString::to_string).collect();
            let n = findings.len();
            text.push(format!(
                "{n} error{} found (--strict: notes and warnings count as errors); nothing was run",
                if n == 1 { "" } else { "s" }
            ));
            return Err(CommandError::Message {
                text: text.join("\n"),
                code: exit::INVALID,
            });
        }
    };
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

/// `--strict`: a note or warning counts as an error.
fn make_error(d: &mut ValidationDiagnostic) {
    d.severity = ValidationSeverity::Error;
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
