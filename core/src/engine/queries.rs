//! Read-only views of recorded runs (`status`, `runs`, `logs`) and `clean`.

use std::path::{Path, PathBuf};

use super::{EngineError, TestResult, Workspace, open_repository};
use crate::git::{Repository, remove_run_worktrees};
use crate::state::{Durability, RunLock, RunRecord, RunStatus, StateStore, StepRecord};

/// `pipeline status [RUN] --json`: one object per the issue #2 interface contract
/// (`run_id`, `status`, `steps[]` with `id`, `status`, `attempts`, `commit`, `started_at`,
/// `finished_at`, `error`), plus context.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RunStatusReport {
    pub run_id: String,
    pub status: RunStatus,
    pub workstream: String,
    pub repo: String,
    pub base_commit: String,
    pub result_branch: String,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub steps: Vec<StepStatusView>,
}

/// One step in [`RunStatusReport`].
#[derive(Debug, Clone, serde::Serialize)]
pub struct StepStatusView {
    pub id: String,
    pub workstream: String,
    pub status: crate::state::StepStatus,
    pub attempts: u32,
    pub commit: Option<String>,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub error: Option<String>,
    pub depends_on: Vec<String>,
    pub worktree: Option<String>,
    /// Acceptance tests of the step's latest attempt that ran them.
    pub tests: Vec<TestResult>,
    /// The error engine's classification of the step's latest failed attempt: class,
    /// plugin, signature, occurrences (see `pipeline errors`).
    pub last_error: Option<serde_json::Value>,
}

/// One run in `pipeline runs --json` (newest first): `run_id`, `status`, `workstream`,
/// `started_at` per the interface contract, plus `finished_at` and `result_branch`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RunListEntry {
    pub run_id: String,
    pub status: RunStatus,
    pub workstream: String,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub result_branch: String,
}

impl From<RunRecord> for RunListEntry {
    fn from(r: RunRecord) -> Self {
        RunListEntry {
            run_id: r.run_id,
            status: r.status,
            workstream: r.workstream_path,
            started_at: r.started_at,
            finished_at: r.finished_at,
            result_branch: r.result_branch,
        }
    }
}

/// Log files of one attempt of one step.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StepLogs {
    pub attempt: u32,
    /// The tool's output.
    pub tool_log: PathBuf,
    /// One per acceptance test that ran, in order.
    pub test_logs: Vec<PathBuf>,
}

/// What `pipeline clean` removed.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct CleanReport {
    pub runs: Vec<String>,
    pub worktrees: usize,
    pub branches: usize,
    pub log_dirs: usize,
    /// Runs left alone because a live process drives them.
    pub skipped_running: Vec<String>,
}

fn open_existing_state(workspace: &Workspace) -> Result<StateStore, EngineError> {
    if !workspace.db_path.exists() {
        return Err(EngineError::Input(format!(
            "no state database at {}: no run has been recorded in this repository yet\n  hint: start one with `pipeline run <workstream.json>`",
            workspace.db_path.display()
        )));
    }
    Ok(StateStore::open(&workspace.db_path, Durability::Normal)?)
}

fn open(
    repo: Option<&Path>,
    db: Option<&Path>,
) -> Result<(Repository, Workspace, StateStore), EngineError> {
    let (repo, workspace, _) = open_repository(repo, db)?;
    let state = open_existing_state(&workspace)?;
    Ok((repo, workspace, state))
}

/// The run `run_id`, or the newest recorded run.
fn run_or_newest(state: &StateStore, run_id: Option<&str>) -> Result<RunRecord, EngineError> {
    match run_id {
        Some(id) => state
            .run(id)?
            .ok_or_else(|| EngineError::UnknownRun(id.to_string())),
        None => state
            .runs()?
            .into_iter()
            .next()
            .ok_or_else(|| EngineError::Input("no run recorded yet".into())),
    }
}

/// The run `run_id`, or the newest run. Errors: no database, unknown run, no runs.
pub fn run_status(
    repo: Option<&Path>,
    db: Option<&Path>,
    run_id: Option<&str>,
) -> Result<RunStatusReport, EngineError> {
    let (_, _, state) = open(repo, db)?;
    let run = run_or_newest(&state, run_id)?;
    let records: Vec<StepRecord> = state.steps(&run.run_id)?;
    // Acceptance tests of each step's latest attempt that ran them, from the journal.
    let mut tests: std::collections::HashMap<String, Vec<TestResult>> =
        std::collections::HashMap::new();
    for entry in state.journal_of_kind(&run.run_id, "test_finished")? {
        if let (Some(step), Some(test)) = (entry.event.step(), entry.event.test_result()) {
            crate::state::keep_latest_attempt(tests.entry(step.to_owned()).or_default(), test);
        }
    }
    let mut last_errors: std::collections::HashMap<String, serde_json::Value> =
        std::collections::HashMap::new();
    for e in state.errors(&run.run_id)? {
        let newer = last_errors
            .get(&e.step_id)
            .and_then(|v| v["last_attempt"].as_u64())
            .is_none_or(|a| u64::from(e.last_attempt) >= a);
        if newer {
            last_errors.insert(
                e.step_id.clone(),
                serde_json::json!({"class": e.class, "plugin": e.plugin, "signature": e.signature, "occurrences": e.occurrences, "last_attempt": e.last_attempt, "summary": e.summary}),
            );
        }
    }
    let steps = records
        .into_iter()
        .map(|r| StepStatusView {
            last_error: last_errors.remove(&r.step_id),
            tests: tests.remove(&r.step_id).unwrap_or_default(),
            id: r.step_id,
            workstream: r.workstream_id,
            status: r.status,
            attempts: r.attempts,
            commit: r.commit,
            started_at: r.started_at,
            finished_at: r.finished_at,
            error: r.error,
            depends_on: r.depends_on,
            worktree: r.worktree,
        })
        .collect();
    Ok(RunStatusReport {
        run_id: run.run_id,
        status: run.status,
        workstream: run.workstream_path,
        repo: run.repo_path,
        base_commit: run.base_commit,
        result_branch: run.result_branch,
        started_at: run.started_at,
        finished_at: run.finished_at,
        steps,
    })
}

/// Every recorded run, newest first.
pub fn list_runs(repo: Option<&Path>, db: Option<&Path>) -> Result<Vec<RunListEntry>, EngineError> {
    let (_, _, state) = open(repo, db)?;
    Ok(state.runs()?.into_iter().map(RunListEntry::from).collect())
}

/// Logs of attempt `attempt` (default: the last) of step `step_id` of run `run_id`.
pub fn step_logs(
    repo: Option<&Path>,
    db: Option<&Path>,
    run_id: &str,
    step_id: &str,
    attempt: Option<u32>,
) -> Result<StepLogs, EngineError> {
    let (_, workspace, state) = open(repo, db)?;
    state
        .run(run_id)?
        .ok_or_else(|| EngineError::UnknownRun(run_id.to_string()))?;
    let attempts = state.attempts(run_id, step_id)?;
    if attempts.is_empty() {
        let known = state.steps(run_id)?;
        if !known.iter().any(|s| s.step_id == step_id) {
            let ids: Vec<&str> = known.iter().map(|s| s.step_id.as_str()).collect();
            return Err(EngineError::Input(format!(
                "run {run_id} has no step `{step_id}`; its steps: {}",
                ids.join(", ")
            )));
        }
        return Err(EngineError::Input(format!(
            "step `{step_id}` of run {run_id} has not run yet"
        )));
    }
    let record = match attempt {
        Some(n) => attempts.iter().find(|a| a.attempt == n).ok_or_else(|| {
            EngineError::Input(format!(
                "step `{step_id}` of run {run_id} has no attempt {n}; it has {}",
                attempts.len()
            ))
        })?,
        None => attempts
            .last()
            .ok_or_else(|| EngineError::Internal("attempt list emptied".into()))?,
    };
    let n = record.attempt;
    let test_logs = (1..)
        .map(|k| workspace.test_log(run_id, step_id, n, k))
        .take_while(|p| p.exists())
        .collect();
    Ok(StepLogs {
        attempt: n,
        tool_log: PathBuf::from(&record.log_path),
        test_logs,
    })
}

/// `pipeline clean [RUN] [--all]`: removes what runs left behind (worktrees, step branches
/// `pipeline-steps/<run>/...`, logs). Keeps the recorded history and the result branches.
/// Without a run id, cleans every finished run; a run driven by a live process (its lock is
/// held) is never touched.
pub fn clean_runs(
    repo: Option<&Path>,
    db: Option<&Path>,
    run_id: Option<&str>,
) -> Result<CleanReport, EngineError> {
    let (repo, workspace, state) = open(repo, db)?;
    let runs: Vec<RunRecord> = match run_id {
        Some(id) => vec![
            state
                .run(id)?
                .ok_or_else(|| EngineError::UnknownRun(id.to_string()))?,
        ],
        None => state.runs()?,
    };
    let mut report = CleanReport::default();
    for run in runs {
        let lock = match RunLock::acquire(&workspace.locks_dir(), &run.run_id) {
            Ok(l) => l,
            Err(_) => {
                report.skipped_running.push(run.run_id.clone());
                continue;
            }
        };
        if run_id.is_none() && run.status == RunStatus::Running {
            // Recorded running but nobody drives it: a crashed run that can be resumed.
            // Cleaning it all the same is what `clean` without a run id promises.
            tracing::info!("cleaning crashed run {}", run.run_id);
        }
        // Processes a crashed run's steps left behind (also outside their worktrees)
        // would keep writing into what is about to be removed.
        let killed = kill_marked_processes(&workspace.state_dir, &run.run_id);
        if killed > 0 {
            tracing::info!("ended {killed} process group(s) left by run {}", run.run_id);
        }
        report.worktrees += remove_run_worktrees(&repo, &run.run_id)?;
        report.branches +=
            repo.delete_branches_with_prefix(&format!("pipeline-steps/{}/", run.run_id))?;
        let logs = workspace.run_logs_dir(&run.run_id);
        if logs.exists() {
            std::fs::remove_dir_all(&logs).map_err(|e| {
                EngineError::Input(format!("cannot remove {}: {e}", logs.display()))
            })?;
            report.log_dirs += 1;
        }
        let tmp = workspace.run_tmp_dir(&run.run_id);
        if tmp.exists() {
            std::fs::remove_dir_all(&tmp)
                .map_err(|e| EngineError::Input(format!("cannot remove {}: {e}", tmp.display())))?;
        }
        report.runs.push(run.run_id.clone());
        drop(lock);
        let _ = std::fs::remove_file(workspace.locks_dir().join(format!("{}.lock", run.run_id)));
    }
    Ok(report)
}

/// `pipeline errors RUN`: every distinct classified error of the run's steps, with how
/// often it occurred.
pub fn run_errors(
    repo: Option<&Path>,
    db: Option<&Path>,
    run_id: Option<&str>,
) -> Result<(String, Vec<crate::state::ErrorRecord>), EngineError> {
    let (_, _, state) = open(repo, db)?;
    let run = run_or_newest(&state, run_id)?;
    let errors = state.errors(&run.run_id)?;
    Ok((run.run_id, errors))
}

/// `pipeline breakers`: every tool's circuit breaker; with `reset`, removes that tool's
/// breaker first (it starts closed again).
pub fn breakers(
    repo: Option<&Path>,
    db: Option<&Path>,
    reset: Option<&str>,
) -> Result<(bool, Vec<pipeline_error::BreakerState>), EngineError> {
    use pipeline_error::BreakerStore;
    let (_, workspace, _) = open_repository(repo, db)?;
    let state = StateStore::open(&workspace.db_path, Durability::Normal)?;
    let removed = match reset {
        Some(tool) => state.delete_breaker(tool)?,
        None => false,
    };
    Ok((removed, state.all()?))
}

/// `pipeline plugins`: the error plugins in the order they are consulted.
pub fn plugins(repo: Option<&Path>) -> Result<Vec<pipeline_error::PluginInfo>, EngineError> {
    let root = super::repository_root_or_current_dir(repo)?;
    let manager = pipeline_error::PluginManager::load(&super::plugin_dirs(&root))
        .map_err(EngineError::Plugin)?;
    Ok(manager.plugins())
}

/// `pipeline diagnose --log FILE`: runs the error engine on a saved log, as if `tool`
/// (default `custom`) had failed with exit status 1 printing it.
pub fn diagnose(
    repo: Option<&Path>,
    log: &Path,
    tool: Option<&str>,
    exit_code: i32,
) -> Result<pipeline_error::ErrorReport, EngineError> {
    if !log.is_file() {
        return Err(EngineError::Input(format!(
            "cannot read log {}: no such file",
            log.display()
        )));
    }
    let root = super::repository_root_or_current_dir(repo)?;
    let manager = pipeline_error::PluginManager::load(&super::plugin_dirs(&root))
        .map_err(EngineError::Plugin)?;
    let name = tool.unwrap_or("custom");
    let mut failure = pipeline_error::AttemptFailure::new(
        name,
        name,
        pipeline_error::Termination::Exited(exit_code),
        String::new(),
    );
    if let Some(kind) = tool.filter(|t| ["aider", "codex", "claude"].contains(t)) {
        failure = failure.with_kind(kind);
    }
    failure.log_path = Some(log.to_path_buf());
    Ok(manager.classify(&failure))
}

/// Kills the processes carrying a marker of run `run_id` (an attempt of a crashed run
/// may have left some); returns how many process groups were hit.
fn kill_marked_processes(state_dir: &Path, run_id: &str) -> usize {
    super::orphans::kill_run_processes(state_dir, run_id)
        .values()
        .map(std::collections::BTreeSet::len)
        .sum()
}
