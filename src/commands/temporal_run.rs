//! `pipeline run --engine temporal`: validate and plan here, run on a Temporal cluster
//! (docs/TEMPORAL.md).
//!
//! Exit codes as a local run: 0 every step completed and `pipeline/<run>` was pushed,
//! 1 a step failed or was skipped or the results did not merge, 2 invalid input or an
//! unreachable server, 3 a git or server error, 130/143 the run was cancelled by
//! SIGINT/SIGTERM (the workflow is cancelled; the command waits for it to end).

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicI32, Ordering};

use pipeline_core::engine::{
    check_run_id, generate_run_id, load_and_plan, repository_root_or_current_dir,
    uncommitted_changes,
};
use pipeline_core::git::Repository;
use pipeline_temporal::dag_schedule::StepStatus;
use pipeline_temporal::{
    RunOutcome, RunPlan, RunSettings, StepState, SubmitConfig, submit_and_follow,
};
use tokio::signal::unix::{SignalKind, signal};

use super::exit;
use crate::cli::RunArgs;
use crate::command_error::CommandError;

pub fn run(args: RunArgs) -> Result<i32, CommandError> {
    let Some(address) = args.temporal.temporal.clone() else {
        return Err(CommandError::invalid(
            "--engine temporal needs the server's address: pass --temporal HOST:PORT (or set \
             PIPELINE_TEMPORAL_ADDRESS)",
        ));
    };
    refuse_local_only_flags(&args)?;
    let (set, plan) = load_and_plan(&args.paths, args.repo.repo.as_deref())?;
    let root = repository_root_or_current_dir(args.repo.repo.as_deref())?;
    let repo = Repository::open(&root).map_err(pipeline_core::engine::EngineError::from)?;
    let base = repo
        .resolve_commit(&args.base)
        .map_err(pipeline_core::engine::EngineError::from)?
        .to_string();
    let files = committed_workstream_files(&root, &set.files, &base, args.repo.repo.as_deref())?;
    let run_id = match &args.run_id {
        Some(id) => {
            check_run_id(id).map_err(|e| CommandError::invalid(format!("--run-id {id}: {e}")))?;
            id.clone()
        }
        None => generate_run_id(),
    };
    let jobs = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get() as u32));
    let run_plan = RunPlan::from_plan(
        &set,
        &plan,
        RunSettings {
            run_id: run_id.clone(),
            base_commit: base,
            jobs,
            task_queue: args.temporal.task_queue.clone(),
            workstream_files: files,
            heartbeat_timeout_secs: args.temporal.heartbeat_timeout,
            budget: pipeline_temporal::run_plan::RunBudget {
                usd: args.budget_usd,
                tokens: args.budget_tokens,
            },
            approve_all: args.approve_all,
            tools: pipeline_temporal::run_plan::PlanTools::load(&set, &root)?,
        },
    );
    let config = SubmitConfig {
        address: address.clone(),
        namespace: args.temporal.namespace.clone(),
        repo: root,
        remote: args.temporal.remote.clone(),
    };
    println!(
        "run {run_id}: {} step(s) on Temporal {address} (namespace {}, task queue {}), \
         workflow pipeline-run/{run_id}",
        run_plan.steps.len(),
        config.namespace,
        run_plan.task_queue
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CommandError::internal(format!("cannot start the async runtime: {e}")))?;
    let signalled = Arc::new(AtomicI32::new(0));
    let state = runtime.block_on(async {
        let mut term = signal(SignalKind::terminate())
            .map_err(|e| CommandError::internal(format!("cannot watch SIGTERM: {e}")))?;
        let flag = signalled.clone();
        let cancel = async move {
            let code = tokio::select! {
                _ = tokio::signal::ctrl_c() => exit::INTERRUPTED,
                _ = term.recv() => exit::TERMINATED,
            };
            flag.store(code, Ordering::SeqCst);
            eprintln!("cancelling run {run_id}; waiting for its running steps to stop");
        };
        submit_and_follow(&config, run_plan, cancel, &mut print_step)
            .await
            .map_err(|e| CommandError::with_code(e.exit_code(), e))
    })?;
    let count = |word: &str| {
        state
            .steps
            .iter()
            .filter(|s| s.status.word() == word)
            .count()
    };
    let mut summary = format!(
        "run {} {}: {} completed, {} failed, {} skipped, {} cancelled",
        state.run_id,
        match state.outcome {
            RunOutcome::Completed => "completed",
            RunOutcome::Failed => "failed",
            RunOutcome::Cancelled => "cancelled",
            RunOutcome::Running => "running",
        },
        count("completed"),
        count("failed"),
        count("skipped"),
        count("cancelled"),
    );
    if let (Some(branch), Some(commit)) = (&state.result_branch, &state.result_commit) {
        summary.push_str(&format!("; result branch {branch} ({commit})"));
    }
    if let Some(e) = &state.result_error {
        summary.push_str(&format!("; no result branch: {e}"));
    }
    println!("{summary}");
    Ok(match state.outcome {
        RunOutcome::Completed => exit::OK,
        RunOutcome::Cancelled => match signalled.load(Ordering::SeqCst) {
            0 => exit::INTERRUPTED,
            code => code,
        },
        RunOutcome::Failed | RunOutcome::Running => exit::FAILED,
    })
}

/// One line per step transition.
fn print_step(step: &StepState) {
    let losses = if step.worker_losses > 0 {
        format!(" (worker lost {} time(s))", step.worker_losses)
    } else {
        String::new()
    };
    let on = step
        .worker
        .as_deref()
        .map(|w| format!(" on worker {w}"))
        .unwrap_or_default();
    let line = match &step.status {
        StepStatus::Completed { commit } => {
            format!("completed {}{on}", &commit[..commit.len().min(12)])
        }
        StepStatus::Failed { error } => format!("failed{on}: {error}"),
        StepStatus::Skipped {
            reason: Some(reason),
            ..
        } => format!("skipped: {reason}"),
        StepStatus::Skipped { dependency, .. } => {
            format!("skipped (dependency {dependency} did not complete)")
        }
        other => other.word().to_string(),
    };
    println!("step {}: {line}{losses}", step.id);
}

/// Options of a local run that a Temporal run does not honour yet: refused (exit 2)
/// rather than silently ignored.
fn refuse_local_only_flags(args: &RunArgs) -> Result<(), CommandError> {
    let used = [
        ("--resume", args.resume),
        ("--include-uncommitted", args.include_uncommitted),
        ("--no-cache", args.no_cache),
        ("--verify-cached", args.verify_cached),
        ("--keep-candidates", args.keep_candidates),
        (
            "--sandbox none",
            args.sandbox == crate::cli::SandboxMode::None,
        ),
        ("--json", args.report.json),
        ("--junit", args.report.junit.is_some()),
        ("--dry-run", args.dry_run),
        ("--db", args.repo.db.is_some()),
    ];
    for (flag, on) in used {
        if on {
            return Err(CommandError::invalid(format!(
                "{flag} is not supported with --engine temporal yet (docs/TEMPORAL.md, \
                 \"Limits\"); run without it, or use the local engine"
            )));
        }
    }
    Ok(())
}

/// The workstream files relative to `root`; each must be committed as it is on disk and
/// exist at the base commit, because workers read them from there.
fn committed_workstream_files(
    root: &Path,
    files: &[std::path::PathBuf],
    base: &str,
    repo: Option<&Path>,
) -> Result<Vec<String>, CommandError> {
    let dirty = uncommitted_changes(repo)?;
    let mut out = Vec::new();
    for file in files {
        let absolute = std::fs::canonicalize(file).unwrap_or_else(|_| file.clone());
        let root = std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
        let Ok(relative) = absolute.strip_prefix(&root) else {
            return Err(CommandError::invalid(format!(
                "{}: with --engine temporal, workstream files must be in the repository {} \
                 (workers read them from the base commit)",
                file.display(),
                root.display()
            )));
        };
        let relative = relative.to_string_lossy().to_string();
        if dirty.iter().any(|d| d == &relative) {
            return Err(CommandError::invalid(format!(
                "{relative}: the workstream file has uncommitted changes; commit it so the \
                 workers (which read it from the base commit) run the same plan"
            )));
        }
        let at_base = std::process::Command::new("git")
            .arg("-C")
            .arg(&root)
            .args(["cat-file", "-e", &format!("{base}:{relative}")])
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !at_base {
            return Err(CommandError::invalid(format!(
                "{relative}: the workstream file is not in the base commit {base}; commit it                  (workers read workstream files from the base commit)"
            )));
        }
        out.push(relative);
    }
    Ok(out)
}
