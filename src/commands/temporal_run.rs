//! `pipeline run --engine temporal`: validate and plan here, run on a Temporal cluster
//! (docs/TEMPORAL.md).
//!
//! Exit codes as a local run: 0 every step completed and `pipeline/<run>` was pushed,
//! 1 a step failed or was skipped or the results did not merge, 2 invalid input or an
//! unreachable server, 3 a git or server error, 130/143 the run was cancelled by
//! SIGINT/SIGTERM (the workflow is cancelled; the command waits for it to end).

use std::path::Path;

use pipeline_core::engine::{
    Workspace, check_run_id, generate_run_id, load_and_plan, repository_root_or_current_dir,
    uncommitted_changes,
};
use pipeline_core::git::Repository;
use pipeline_core::state::RemoteEngine;
use pipeline_temporal::run_plan::workflow_id;
use pipeline_temporal::{RunPlan, RunSettings, SubmitConfig, submit};

use super::temporal_attach::{TemporalRun, follow_run, out_line};
use super::temporal_mirror::{RunMirror, TEMPORAL, open_state};
use super::temporal_target::{EngineConfig, resolve_in};
use crate::cli::RunArgs;
use crate::command_error::CommandError;

pub fn run(args: RunArgs) -> Result<i32, CommandError> {
    let engine_config = EngineConfig::load(args.repo.repo.as_deref())?;
    let Some(target) = resolve_in(
        &args.temporal.connect,
        args.temporal.remote.as_deref(),
        &engine_config,
    )?
    else {
        return Err(CommandError::invalid(
            "--engine temporal needs the server's address: pass --temporal HOST:PORT, set \
             PIPELINE_TEMPORAL_ADDRESS, or set temporal.address in .pipeline/config.yaml",
        ));
    };
    let heartbeat_timeout = engine_config.heartbeat_timeout(args.temporal.heartbeat_timeout);
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
            task_queue: target.task_queue.clone(),
            workstream_files: files,
            heartbeat_timeout_secs: heartbeat_timeout,
            budget: pipeline_temporal::run_plan::RunBudget {
                usd: args.budget_usd,
                tokens: args.budget_tokens,
            },
            approve_all: args.approve_all,
            tools: pipeline_temporal::run_plan::PlanTools::load(&set, &root)?,
        },
    );
    let workspace = Workspace::new(&root, args.repo.db.as_deref());
    let state = open_state(&workspace)?;
    if state.run(&run_id)?.is_some() {
        return Err(CommandError::invalid(format!(
            "run {run_id} is already recorded in {}: pass another --run-id",
            workspace.db_path.display()
        )));
    }
    let address = target.connection.address.clone();
    let config = SubmitConfig {
        connection: target.connection,
        repo: root.clone(),
        remote: target.remote,
    };
    let json = args.report.json;
    let announce = format!(
        "run {run_id}: {} step(s) on Temporal {address} (namespace {}, task queue {}), \
         workflow {}",
        run_plan.steps.len(),
        config.connection.namespace,
        run_plan.task_queue,
        workflow_id(&run_id),
    );
    if json {
        eprintln!("{announce}");
    } else {
        out_line(&announce);
    }
    let engine = RemoteEngine {
        kind: TEMPORAL.to_string(),
        address: address.clone(),
        namespace: config.connection.namespace.clone(),
        workflow_id: workflow_id(&run_id),
        task_queue: run_plan.task_queue.clone(),
        remote: config.remote.clone(),
    };
    crate::ignore_sigpipe();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CommandError::internal(format!("cannot start the async runtime: {e}")))?;
    runtime
        .block_on(submit(&config, run_plan.clone()))
        .map_err(|e| CommandError::with_code(e.exit_code(), e))?;
    drop(runtime);
    // Recorded once the server accepted the workflow: a refused submission records
    // nothing here.
    let created = RunMirror::create(
        &state,
        &workspace,
        &run_plan,
        &root.to_string_lossy(),
        engine.clone(),
    )?;
    if json {
        for entry in created {
            if let Ok(line) = serde_json::to_string(&entry) {
                out_line(&line);
            }
        }
    }
    let run = TemporalRun {
        workspace,
        state,
        run_id,
        engine,
    };
    follow_run(&run, config.connection, config.remote, json)
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
        ("--junit", args.report.junit.is_some()),
        ("--dry-run", args.dry_run),
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
                "{relative}: the workstream file is not in the base commit {base}; commit it \
                 (workers read workstream files from the base commit)"
            )));
        }
        out.push(relative);
    }
    Ok(out)
}
