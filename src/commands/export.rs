//! `pipeline export --format github-actions [RUN | WORKSTREAMS...] [-o FILE]`: the
//! workstreams' DAG as a GitHub Actions workflow, one job per step (the layout, job ids
//! and install are in [`super::export_workflow`]; docs/CI.md "Export to GitHub Actions").
//!
//! What is exported: the workstream files given (default `workstreams/` of the
//! repository), or, when the one argument is a recorded run id (or `latest`) and no such
//! path exists, the files that run was started with. Either way the files must lie inside
//! the repository: the jobs read them from their checkout.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use pipeline_core::engine::{load_and_plan, open_repository, repository_root_or_current_dir};
use pipeline_core::model::{ToolChoice, WorkstreamSet};
use pipeline_core::planning::Plan;

use super::exit;
use super::export_workflow::{Install, StepJob, Workflow, job_ids, render};
use super::workstream_paths::workstream_paths;
use crate::cli::{ExportArgs, ExportFormat};
use crate::command_error::CommandError;

/// Writes the workflow to `--output` (creating its directory) or stdout. Errors (exit 2):
/// an unknown run, invalid workstream files, a workstream file outside the repository, a
/// secret name GitHub does not accept; exit 3 when the output cannot be written.
pub fn export(args: &ExportArgs) -> Result<i32, CommandError> {
    let ExportFormat::GithubActions = args.format;
    let root = repository_root_or_current_dir(args.repo.repo.as_deref())?;
    let paths = export_paths(args)?;
    let (set, plan) = load_and_plan(&paths, Some(&root))?;
    let (_, _, registry) = open_repository(Some(&root), args.repo.db.as_deref())?;
    let files = relative_paths(&root, &paths)?;
    let step_ids: Vec<&str> = set.steps.iter().map(|s| s.id.as_str()).collect();
    let ids = job_ids(step_ids.iter().copied());
    let mut jobs = Vec::with_capacity(set.steps.len());
    for (i, step) in set.steps.iter().enumerate() {
        let deps: Vec<String> = plan.deps[i]
            .iter()
            .map(|&d| set.steps[d].id.to_string())
            .collect();
        jobs.push(StepJob {
            job_id: ids[i].clone(),
            step: step.id.to_string(),
            needs: plan.deps[i].iter().map(|&d| ids[d].clone()).collect(),
            deps,
            secrets: step_secrets(&set, i, &registry)?,
        });
    }
    let workflow = Workflow {
        name: format!("pipeline: {}", workflow_name(&set)),
        command: command_line(args),
        files,
        sinks: sinks(&set, &plan),
        jobs,
        install: Install {
            git: args.pipeline_git.clone(),
            rev: args.pipeline_rev.clone(),
        },
        runs_on: args.runs_on.clone(),
    };
    let yaml = render(&workflow)
        .map_err(|e| CommandError::internal(format!("cannot render the workflow: {e}")))?;
    match &args.output {
        None => print!("{yaml}"),
        Some(path) => {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(|e| {
                    CommandError::internal(format!("cannot create {}: {e}", dir.display()))
                })?;
            }
            std::fs::write(path, yaml).map_err(|e| {
                CommandError::internal(format!("cannot write {}: {e}", path.display()))
            })?;
            eprintln!(
                "wrote {} ({} step jobs and {})",
                path.display(),
                workflow.jobs.len(),
                super::export_workflow::RESULT_JOB
            );
        }
    }
    Ok(exit::OK)
}

/// The workstream paths to export: those of a run when the single target is a recorded
/// run id (or `latest`) and not an existing path; otherwise the targets as paths
/// (default `workstreams/`).
fn export_paths(args: &ExportArgs) -> Result<Vec<PathBuf>, CommandError> {
    if let [target] = args.targets.as_slice()
        && !Path::new(target).exists()
    {
        let report = pipeline_core::engine::run_status(
            args.repo.repo.as_deref(),
            args.repo.db.as_deref(),
            Some(target),
        )
        .map_err(|e| match e {
            pipeline_core::engine::EngineError::UnknownRun(_) => CommandError::invalid(format!(
                "`{target}` is neither a workstream file or directory nor a recorded run\n  \
                 hint: pass workstream files, or a run id from `pipeline runs`"
            )),
            other => other.into(),
        })?;
        return Ok(report.workstream.lines().map(PathBuf::from).collect());
    }
    workstream_paths(
        args.targets.iter().map(PathBuf::from).collect(),
        args.repo.repo.as_deref(),
    )
}

/// `paths` relative to the repository root `root`, as the jobs' `--file` arguments.
/// Errors (exit 2): a path outside the repository (a job's checkout does not have it).
fn relative_paths(root: &Path, paths: &[PathBuf]) -> Result<Vec<String>, CommandError> {
    let root = root
        .canonicalize()
        .map_err(|e| CommandError::internal(format!("cannot resolve {}: {e}", root.display())))?;
    paths
        .iter()
        .map(|p| {
            let full = p
                .canonicalize()
                .map_err(|e| CommandError::invalid(format!("cannot read {}: {e}", p.display())))?;
            let rel = full.strip_prefix(&root).map_err(|_| {
                CommandError::invalid(format!(
                    "{} is outside the repository {}: the workflow's jobs read workstream \
                     files from their checkout\n  hint: commit the workstream files into \
                     the repository and export them from there",
                    p.display(),
                    root.display()
                ))
            })?;
            let text = rel.to_string_lossy().into_owned();
            Ok(if text.is_empty() { ".".into() } else { text })
        })
        .collect()
}

/// Steps no other step depends on, in plan order: their results contain all others'.
fn sinks(set: &WorkstreamSet, plan: &Plan) -> Vec<String> {
    set.steps
        .iter()
        .enumerate()
        .filter(|&(i, _)| plan.dependents[i].is_empty())
        .map(|(_, s)| s.id.to_string())
        .collect()
}

/// The workstream ids, for the workflow's name.
fn workflow_name(set: &WorkstreamSet) -> String {
    let ids: Vec<&str> = set.workstreams.iter().map(|w| w.id.as_str()).collect();
    ids.join(", ")
}

/// The secrets step `i` may read: `api_key_env` and `secret_env` of every tool profile it
/// can run with (its profile, or every profile offering its capability, and their
/// fallbacks and the step's escalation chain), sorted. Errors (exit 2): a name GitHub
/// does not accept as a secret (`[A-Za-z_][A-Za-z0-9_]*`, not starting with `GITHUB_`).
fn step_secrets(
    set: &WorkstreamSet,
    i: usize,
    registry: &pipeline_adapters::ToolRegistry,
) -> Result<Vec<String>, CommandError> {
    let step = &set.steps[i];
    let mut profiles: Vec<String> = match &step.tool {
        ToolChoice::Profile(name) => vec![name.clone()],
        ToolChoice::Capability(c) => registry
            .with_capability(c)
            .into_iter()
            .map(str::to_string)
            .collect(),
        ToolChoice::Shell(_) | ToolChoice::None => Vec::new(),
    };
    if !profiles.is_empty() {
        profiles.extend(step.escalation.iter().cloned());
    }
    let mut seen = BTreeSet::new();
    let mut secrets = BTreeSet::new();
    while let Some(name) = profiles.pop() {
        if !seen.insert(name.clone()) {
            continue;
        }
        let Some(profile) = registry.profile(&name) else {
            continue;
        };
        profiles.extend(profile.fallback.iter().cloned());
        for secret in profile.api_key_env.iter().chain(&profile.secret_env) {
            if !valid_secret_name(secret) {
                return Err(CommandError::invalid(format!(
                    "tool profile `{name}` (used by step {}) names the secret variable \
                     `{secret}`, which GitHub does not accept as a secret name\n  hint: \
                     use letters, digits and `_`, not starting with a digit or GITHUB_",
                    step.id
                )));
            }
            secrets.insert(secret.clone());
        }
    }
    Ok(secrets.into_iter().collect())
}

/// Whether GitHub accepts `name` as a secret's name.
fn valid_secret_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.to_ascii_uppercase().starts_with("GITHUB_")
}

/// `pipeline export ...` as given, for the header comment.
fn command_line(args: &ExportArgs) -> String {
    let mut line = String::from("pipeline export --format github-actions");
    for t in &args.targets {
        line.push(' ');
        line.push_str(t);
    }
    line
}
