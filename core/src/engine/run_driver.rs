//! Starting, resuming and finishing runs.
//!
//! `run`: open the repository, load the tool registry and the workstreams, plan, then
//! either create a run (state first: the run and all its steps are recorded before any
//! step starts) or, when the same workstreams have an unfinished run, refuse / resume /
//! start anew as asked. `resume`: take the run's recorded workstream paths and base
//! commit, reload and re-plan, and schedule again with what the database knows. Both hold
//! the run's lock for as long as they drive it, so a second process is refused.
//!
//! Finishing: the result branch `pipeline/<run>` is set to the merge of every completed
//! step's result commit, and the run's status recorded.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use pipeline_adapters::ToolRegistry;
use tokio_util::sync::CancellationToken;

use super::attempt::blocking;
use super::run_context::RunContext;
use super::scheduler::{Final, PriorStep, schedule};
use super::spec_references::resolve_spec_references;
use super::{
    EngineError, Reporter, RunEvent, RunOptions, UnfinishedPolicy, Workspace, check_run_id,
    generate_run_id,
};
use super::{ErrorEngine, plugin_dirs};
use crate::git::{GitError, Repository, WorktreePool};
use crate::model::{LoadOptions, WorkstreamSet, load_workstreams};
use crate::planning::Plan;
use crate::state::{NewRun, NewStep, RunLock, RunRecord, RunStatus, StateStore, StepStatus};

/// What a finished (or interrupted) run amounts to.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RunSummary {
    pub run_id: String,
    pub status: RunStatus,
    /// `pipeline/<run>`, when at least one step completed.
    pub result_branch: Option<String>,
    pub result_commit: Option<String>,
    pub base_commit: String,
    pub repo: PathBuf,
    pub completed: usize,
    pub failed: usize,
    pub skipped: usize,
    pub interrupted: usize,
    pub not_run: usize,
    pub duration_ms: u64,
    /// A problem building the result branch (e.g. two steps' results conflict).
    pub result_error: Option<String>,
}

/// A loaded and planned set of workstreams, ready to run or print.
pub struct PreparedRun {
    /// Resolved `specs` references per step (prompt text).
    pub spec_texts: HashMap<crate::model::StepId, String>,
    pub repo: Repository,
    pub workspace: Workspace,
    pub registry: ToolRegistry,
    pub errors: ErrorEngine,
    pub set: WorkstreamSet,
    pub plan: Plan,
    /// Canonical workstream paths as recorded in the state database.
    pub workstream_key: String,
}

/// Opens the repository (given or discovered from the current directory) and its tool
/// registry. Errors: not a git repository, a broken `.pipeline/config.yaml`.
pub fn open_repository(
    repo: Option<&Path>,
    db: Option<&Path>,
) -> Result<(Repository, Workspace, ToolRegistry), EngineError> {
    let start = match repo {
        Some(p) => p.to_path_buf(),
        None => std::env::current_dir()
            .map_err(|e| EngineError::Input(format!("cannot read the current directory: {e}")))?,
    };
    let repo = Repository::open(&start)?;
    let workspace = Workspace::new(repo.workdir(), db);
    let config = workspace.state_dir.join("config.yaml");
    let env: Vec<(String, String)> = std::env::vars()
        .filter(|(k, _)| k.starts_with("PIPELINE_TOOL_"))
        .collect();
    let registry = ToolRegistry::load(config.exists().then_some(config.as_path()), &env)
        .map_err(|e| EngineError::Input(e.to_string()))?;
    Ok((repo, workspace, registry))
}

/// Loads and plans `paths` for a run in `options.repo`.
pub fn prepare(paths: &[PathBuf], options: &RunOptions) -> Result<PreparedRun, EngineError> {
    let (repo, workspace, registry) =
        open_repository(options.repo.as_deref(), options.db.as_deref())?;
    let set = load_workstreams(paths, &LoadOptions { catalog: &registry })
        .map_err(EngineError::Invalid)?;
    let plan = Plan::build(&set).map_err(|e| EngineError::Internal(e.to_string()))?;
    let workstream_key = workstream_key(paths);
    let errors = ErrorEngine::new(&registry, &plugin_dirs(&workspace.repo_root))?;
    let spec_texts =
        resolve_spec_references(&set, &workspace.repo_root).map_err(EngineError::Invalid)?;
    Ok(PreparedRun {
        spec_texts,
        repo,
        workspace,
        registry,
        errors,
        set,
        plan,
        workstream_key,
    })
}

/// Loads and plans `paths` without running anything (`plan`, `validate`). Tool profiles
/// come from the repository containing `repo` (or the current directory) when there is
/// one, else from the built-in defaults only, so files can be checked anywhere.
pub fn load_and_plan(
    paths: &[PathBuf],
    repo: Option<&Path>,
) -> Result<(WorkstreamSet, Plan), EngineError> {
    let env: Vec<(String, String)> = std::env::vars()
        .filter(|(k, _)| k.starts_with("PIPELINE_TOOL_"))
        .collect();
    let (registry, root) = match open_repository(repo, None) {
        Ok((r, _, registry)) => (registry, r.workdir().to_path_buf()),
        Err(EngineError::Git(_)) if repo.is_none() => {
            let registry =
                ToolRegistry::load(None, &env).map_err(|e| EngineError::Input(e.to_string()))?;
            let cwd = std::env::current_dir().map_err(|e| {
                EngineError::Input(format!("cannot read the current directory: {e}"))
            })?;
            (registry, cwd)
        }
        Err(e) => return Err(e),
    };
    // Broken plugin manifests and tool error settings are input errors at validate time.
    ErrorEngine::new(&registry, &plugin_dirs(&root))?;
    let set = load_workstreams(paths, &LoadOptions { catalog: &registry })
        .map_err(EngineError::Invalid)?;
    resolve_spec_references(&set, &root).map_err(EngineError::Invalid)?;
    let plan = Plan::build(&set).map_err(|e| EngineError::Internal(e.to_string()))?;
    Ok((set, plan))
}

/// The canonical form of the given paths, as recorded on the run (one per line).
fn workstream_key(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| {
            std::fs::canonicalize(p)
                .unwrap_or_else(|_| p.clone())
                .to_string_lossy()
                .into_owned()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `pipeline run`: runs the workstreams of `paths` (see the module docs). Returns the
/// summary once every step is final or the run was interrupted through `cancel`.
pub async fn run_workstreams(
    paths: &[PathBuf],
    options: RunOptions,
    reporter: Arc<dyn Reporter>,
    cancel: CancellationToken,
) -> Result<RunSummary, EngineError> {
    let prepared = prepare(paths, &options)?;
    let state = StateStore::open(&prepared.workspace.db_path, options.durability)?;
    if let Some(unfinished) = state.latest_unfinished_run(&prepared.workstream_key)? {
        match options.unfinished {
            UnfinishedPolicy::Refuse => {
                return Err(EngineError::UnfinishedRun {
                    run_id: unfinished.run_id,
                    status: unfinished.status.to_string(),
                    started_at: unfinished.started_at,
                });
            }
            UnfinishedPolicy::Resume => {
                return resume_prepared(prepared, state, unfinished, options, reporter, cancel)
                    .await;
            }
            UnfinishedPolicy::New => {}
        }
    }

    let run_id = match &options.run_id {
        Some(id) => {
            check_run_id(id).map_err(EngineError::Input)?;
            id.clone()
        }
        None => generate_run_id(),
    };
    let base_rev = options.base.clone().unwrap_or_else(|| "HEAD".into());
    let base = prepared.repo.resolve_commit(&base_rev)?;
    prepared.repo.ensure_excluded(".pipeline/")?;
    let lock = RunLock::acquire(&prepared.workspace.locks_dir(), &run_id)?;
    let result_branch = format!("pipeline/{run_id}");
    state.create_run(&NewRun {
        run_id: run_id.clone(),
        workstream_path: prepared.workstream_key.clone(),
        repo_path: prepared.workspace.repo_root.to_string_lossy().into_owned(),
        base_commit: base.to_string(),
        result_branch,
        jobs: options.jobs as u32,
        plan_hash: prepared.set.plan_hash(),
        steps: new_steps(&prepared.set),
    })?;
    drive(
        prepared,
        state,
        lock,
        run_id,
        base,
        HashMap::new(),
        false,
        options,
        reporter,
        cancel,
    )
    .await
}

/// `pipeline resume [RUN]`: continues `run_id`, or the newest unfinished run.
pub async fn resume_run(
    run_id: Option<&str>,
    options: RunOptions,
    reporter: Arc<dyn Reporter>,
    cancel: CancellationToken,
) -> Result<RunSummary, EngineError> {
    let (repo, workspace, _) = open_repository(options.repo.as_deref(), options.db.as_deref())?;
    let state = StateStore::open(&workspace.db_path, options.durability)?;
    let record = match run_id {
        Some(id) => state
            .run(id)?
            .ok_or_else(|| EngineError::UnknownRun(id.to_string()))?,
        None => state
            .runs()?
            .into_iter()
            .find(|r| matches!(r.status, RunStatus::Running | RunStatus::Interrupted))
            .ok_or(EngineError::NothingToResume)?,
    };
    drop(repo);
    let paths: Vec<PathBuf> = record.workstream_path.lines().map(PathBuf::from).collect();
    let mut opts = options.clone();
    opts.repo = Some(PathBuf::from(&record.repo_path));
    let prepared = prepare(&paths, &opts)?;
    resume_prepared(prepared, state, record, opts, reporter, cancel).await
}

async fn resume_prepared(
    prepared: PreparedRun,
    state: StateStore,
    record: RunRecord,
    options: RunOptions,
    reporter: Arc<dyn Reporter>,
    cancel: CancellationToken,
) -> Result<RunSummary, EngineError> {
    let lock = RunLock::acquire(&prepared.workspace.locks_dir(), &record.run_id)?;
    let base = prepared.repo.resolve_commit(&record.base_commit)?;
    // A driver killed while updating one of this run's branches leaves its lock file.
    prepared.repo.remove_stale_ref_locks(&record.run_id)?;
    let recorded = state.steps(&record.run_id)?;
    // Tools of steps that were running when the driving process died may still run.
    for r in recorded.iter().filter(|r| r.status.is_active()) {
        if let Some(wt) = &r.worktree {
            let killed = super::orphans::kill_processes_in(Path::new(wt));
            if killed > 0 {
                state.append_event(
                    &record.run_id,
                    Some(&r.step_id),
                    "orphans_killed",
                    &serde_json::json!({"process_groups": killed, "worktree": wt}),
                )?;
            }
        }
    }
    let mut prior = HashMap::new();
    for r in &recorded {
        let checkpoint = if r.status == StepStatus::Completed {
            state.checkpoint(&record.run_id, &r.step_id)?
        } else {
            None
        };
        prior.insert(
            r.step_id.clone(),
            PriorStep {
                status: r.status,
                attempts: r.attempts,
                definition_hash: r.definition_hash.clone(),
                checkpoint,
            },
        );
    }
    let added: Vec<NewStep> = new_steps(&prepared.set)
        .into_iter()
        .filter(|s| !prior.contains_key(&s.step_id))
        .collect();
    if !added.is_empty() {
        state.add_steps(&record.run_id, &added)?;
    }
    state.set_run_status(&record.run_id, RunStatus::Running)?;
    state.append_event(
        &record.run_id,
        None,
        "run_resumed",
        &serde_json::json!({"pid": std::process::id()}),
    )?;
    drive(
        prepared,
        state,
        lock,
        record.run_id,
        base,
        prior,
        true,
        options,
        reporter,
        cancel,
    )
    .await
}

fn new_steps(set: &WorkstreamSet) -> Vec<NewStep> {
    set.steps
        .iter()
        .map(|s| NewStep {
            step_id: s.id.to_string(),
            workstream_id: s.workstream.clone(),
            definition_hash: s.definition_hash.clone(),
            depends_on: s.depends_on.iter().map(|d| d.to_string()).collect(),
        })
        .collect()
}

#[allow(clippy::too_many_arguments)]
async fn drive(
    prepared: PreparedRun,
    state: StateStore,
    lock: RunLock,
    run_id: String,
    base: git2::Oid,
    prior: HashMap<String, PriorStep>,
    resumed: bool,
    options: RunOptions,
    reporter: Arc<dyn Reporter>,
    cancel: CancellationToken,
) -> Result<RunSummary, EngineError> {
    let started = Instant::now();
    let repo = Arc::new(prepared.repo);
    let pool = Arc::new(WorktreePool::new((*repo).clone(), &run_id));
    reporter.report(&RunEvent::RunStarted {
        run_id: run_id.clone(),
        base_commit: base.to_string(),
        steps: prepared.set.steps.len(),
        jobs: options.jobs,
        resumed,
    });
    let ctx = Arc::new(RunContext {
        run_id: run_id.clone(),
        base,
        set: prepared.set,
        plan: prepared.plan,
        repo: repo.clone(),
        pool: pool.clone(),
        state: state.clone(),
        limits: super::tool_limits::ToolLimits::new(&prepared.registry),
        registry: prepared.registry,
        errors: prepared.errors,
        spec_texts: prepared.spec_texts,

        workspace: prepared.workspace.clone(),
        options,
        reporter: reporter.clone(),
        cancel,
    });
    let outcome = schedule(ctx.clone(), prior).await;

    let count = |f: Final| outcome.finals.iter().filter(|&&x| x == f).count();
    let (completed, failed, skipped, interrupted, not_run) = (
        count(Final::Completed),
        count(Final::Failed),
        count(Final::Skipped),
        count(Final::Interrupted),
        count(Final::NotRun),
    );

    // Result branch: merge of every completed step's result. A step whose dependent
    // completed is contained in that dependent's result (which started from a merge of
    // its inputs), so only the results no completed step built on are merged.
    let mut commits: Vec<git2::Oid> = outcome
        .results
        .iter()
        .enumerate()
        .filter(|&(i, _)| {
            !ctx.plan.dependents[i]
                .iter()
                .any(|&d| outcome.results[d].is_some())
        })
        .filter_map(|(_, result)| *result)
        .collect();
    commits.sort();
    commits.dedup();
    let mut result_branch = None;
    let mut result_commit = None;
    let mut result_error = None;
    if !commits.is_empty() {
        let r = repo.clone();
        let branch = format!("pipeline/{run_id}");
        let message = format!("pipeline: result of run {run_id}");
        let b = branch.clone();
        match blocking(move || {
            let merged = r.merge_commits(&commits, &message)?;
            r.set_branch(&b, merged)?;
            Ok(merged)
        })
        .await
        {
            Ok(oid) => {
                result_branch = Some(branch);
                result_commit = Some(oid.to_string());
            }
            Err(GitError::MergeConflict { paths }) => {
                result_error = Some(format!(
                    "the results of the completed steps conflict when merged, in: {}",
                    paths.join(", ")
                ));
            }
            Err(e) => result_error = Some(format!("cannot build the result branch: {e}")),
        }
    }

    let status = if outcome.cancelled || interrupted > 0 {
        RunStatus::Interrupted
    } else if failed > 0 || skipped > 0 || result_error.is_some() {
        RunStatus::Failed
    } else {
        RunStatus::Completed
    };
    state.set_run_status(&run_id, status)?;
    if let Some(err) = &result_error {
        state.append_event(
            &run_id,
            None,
            "result_failed",
            &serde_json::json!({"error": err}),
        )?;
    }
    // Idle pooled worktrees are no longer needed; failed steps' worktrees stay.
    let p = pool.clone();
    if let Err(e) = blocking(move || p.remove_idle()).await {
        tracing::warn!("cannot remove idle worktrees of run {run_id}: {e}");
    }
    let duration_ms = started.elapsed().as_millis() as u64;
    reporter.report(&RunEvent::RunFinished {
        run_id: run_id.clone(),
        status,
        completed,
        failed,
        skipped,
        result_branch: result_branch.clone(),
        duration_ms,
    });
    drop(lock);
    Ok(RunSummary {
        run_id,
        status,
        result_branch,
        result_commit,
        base_commit: base.to_string(),
        repo: ctx.workspace.repo_root.clone(),
        completed,
        failed,
        skipped,
        interrupted,
        not_run,
        duration_ms,
        result_error,
    })
}
