//! Read-only views of recorded runs (`status`, `runs`, `logs`, `errors`), the error
//! engine's views (`breakers`, `plugins`, `diagnose`) and, in [`clean`], `clean`.
//!
//! Run ids are resolved once, by [`resolve_run`] (which knows the `latest` alias), and
//! whether a process drives a run is read from its run lock ([`driver_of`]).

mod candidate_views;
mod clean;
mod run_selection;
mod step_detail;
mod step_diff;
mod usage_totals;
pub(crate) use usage_totals::attempt_usages as attempt_usages_in;

use std::path::{Path, PathBuf};

pub use candidate_views::CandidateView;
pub use clean::{CleanReport, clean_runs};
pub use run_selection::{
    Driver, LATEST, ResumeTarget, StepCounts, driver_of, resolve_run, resume_target,
};
pub use step_detail::{AttemptView, CheckpointView, StepDetail, step_detail};
pub use step_diff::{
    DiffStat, FileChange, RunDiff, StepDiff, completed_step_stats, run_diff, step_diff,
};
pub use usage_totals::{
    AttemptUsage, MOST_EXPENSIVE, StepCost, UsageGroup, UsageGrouping, UsageReport, UsageTotals,
    run_usage,
};

use super::{EngineError, TestResult, Workspace, open_repository};
use crate::git::Repository;
use crate::state::{Durability, RunStatus, StateStore, StepRecord};

/// `"1 step"`, `"2 steps"`: `n` followed by `one` or `many`. The one place the messages
/// of `status`, `runs`, `logs`, `clean`, `errors` and `resume` get their plurals.
pub fn counted(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// `pipeline status [RUN] --json`: one object per the issue #2 interface contract
/// (`run_id`, `status`, `steps[]` with `id`, `status`, `attempts`, `commit`, `started_at`,
/// `finished_at`, `error`), plus context and `driver` (see [`Driver`]: `"live"`, `"gone"`
/// for a run recorded `running` that no process drives, or `null`).
#[derive(Debug, Clone, serde::Serialize)]
pub struct RunStatusReport {
    pub run_id: String,
    pub status: RunStatus,
    /// Whether a process drives the run; `Some(Driver::Gone)` means `pipeline resume`
    /// must continue it.
    pub driver: Option<Driver>,
    pub workstream: String,
    pub repo: String,
    pub base_commit: String,
    pub result_branch: String,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub steps: Vec<StepStatusView>,
    /// Tokens, requests and cost of all attempts of all steps (docs/COSTS.md).
    pub usage: UsageTotals,
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
    /// Tokens, requests and cost of all the step's attempts.
    pub usage: UsageTotals,
    /// Each attempt that reported usage, oldest first.
    pub attempt_usage: Vec<AttemptUsage>,
    /// The earlier run and step whose result this step took from the step cache
    /// (docs/CACHE.md); absent for a step that ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cached_from: Option<crate::state::CachedFrom>,
    /// The candidates of a best-of-N step (`candidates: N`, docs/CANDIDATES.md), every
    /// round's, in the order they started; left out for other steps.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub candidates: Vec<CandidateView>,
}

/// One run in `pipeline runs --json` (newest first): `run_id`, `status`, `workstream`,
/// `started_at` per the interface contract, plus `finished_at`, `duration_secs`, `steps`
/// (counts), `driver` and `result_branch`: the same fields as the `runs` table.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RunListEntry {
    pub run_id: String,
    pub status: RunStatus,
    /// Whether a process drives the run (see [`Driver`]); `null` when neither.
    pub driver: Option<Driver>,
    /// Workstream files, one per line.
    pub workstream: String,
    pub started_at: String,
    pub finished_at: Option<String>,
    /// Seconds from `started_at` to `finished_at` (millisecond precision); `null` until
    /// the run finished.
    pub duration_secs: Option<f64>,
    /// Its steps by status.
    pub steps: StepCounts,
    pub result_branch: String,
    /// Tokens, requests and cost of all its attempts (docs/COSTS.md).
    pub usage: UsageTotals,
}

/// Seconds between two RFC 3339 timestamps of the state database, if both parse and
/// `to` is not before `from`.
fn seconds_between(from: &str, to: &str) -> Option<f64> {
    let from = humantime::parse_rfc3339(from).ok()?;
    let to = humantime::parse_rfc3339(to).ok()?;
    to.duration_since(from).ok().map(|d| d.as_secs_f64())
}

/// Log files of one attempt of one step.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StepLogs {
    /// The run (resolved: never `latest`).
    pub run_id: String,
    pub attempt: u32,
    /// The tool's output.
    pub tool_log: PathBuf,
    /// One per acceptance test that ran, in order.
    pub test_logs: Vec<PathBuf>,
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

pub(crate) fn open(
    repo: Option<&Path>,
    db: Option<&Path>,
) -> Result<(Repository, Workspace, StateStore), EngineError> {
    let (repo, workspace, _) = open_repository(repo, db)?;
    let state = open_existing_state(&workspace)?;
    Ok((repo, workspace, state))
}

/// The run `run_id` (or `latest`), or the newest run. Errors: no database, unknown run,
/// no runs, a run lock that cannot be probed.
pub fn run_status(
    repo: Option<&Path>,
    db: Option<&Path>,
    run_id: Option<&str>,
) -> Result<RunStatusReport, EngineError> {
    let (_, workspace, state) = open(repo, db)?;
    let run = resolve_run(&state, run_id)?;
    let driver = driver_of(&workspace, &run)?;
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
    let mut cached: std::collections::HashMap<String, crate::state::CachedFrom> =
        std::collections::HashMap::new();
    for entry in state.journal_of_kind(&run.run_id, "step_cached")? {
        if let crate::state::Event::StepCached {
            step,
            from_run,
            from_step,
            ..
        } = entry.event
        {
            cached.insert(
                step,
                crate::state::CachedFrom {
                    run: from_run,
                    step: from_step,
                },
            );
        }
    }
    let mut usages = usage_totals::attempt_usages(&state, &run.run_id)?;
    let mut candidates = candidate_views::candidates_of_run(&state, &run.run_id)?;
    let mut usage = UsageTotals::default();
    let steps = records
        .into_iter()
        .map(|r| {
            let attempt_usage = usages.remove(&r.step_id).unwrap_or_default();
            let step_usage = usage_totals::totals_of(&attempt_usage);
            usage.merge(&step_usage);
            (r, step_usage, attempt_usage)
        })
        .map(|(r, usage, attempt_usage)| StepStatusView {
            usage,
            attempt_usage,
            cached_from: cached.remove(&r.step_id),
            candidates: candidates.remove(&r.step_id).unwrap_or_default(),
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
        driver,
        workstream: run.workstream_path,
        repo: run.repo_path,
        base_commit: run.base_commit,
        result_branch: run.result_branch,
        started_at: run.started_at,
        finished_at: run.finished_at,
        steps,
        usage,
    })
}

/// Every recorded run, newest first, with its step counts and driver. Errors: no
/// database, a database or run lock that cannot be read.
pub fn list_runs(repo: Option<&Path>, db: Option<&Path>) -> Result<Vec<RunListEntry>, EngineError> {
    let (_, workspace, state) = open(repo, db)?;
    state
        .runs()?
        .into_iter()
        .map(|r| {
            let mut usage = UsageTotals::default();
            for attempts in usage_totals::attempt_usages(&state, &r.run_id)?.values() {
                usage.merge(&usage_totals::totals_of(attempts));
            }
            Ok(RunListEntry {
                usage,
                driver: driver_of(&workspace, &r)?,
                steps: StepCounts::of(&state.steps(&r.run_id)?),
                duration_secs: r
                    .finished_at
                    .as_deref()
                    .and_then(|f| seconds_between(&r.started_at, f)),
                run_id: r.run_id,
                status: r.status,
                workstream: r.workstream_path,
                started_at: r.started_at,
                finished_at: r.finished_at,
                result_branch: r.result_branch,
            })
        })
        .collect()
}

/// `pipeline resume [RUN]`: the run to continue (see [`resume_target`]). Errors: no
/// repository or database, an unknown run, no run that can be resumed.
pub fn resumable_run(
    repo: Option<&Path>,
    db: Option<&Path>,
    run_id: Option<&str>,
) -> Result<ResumeTarget, EngineError> {
    let (_, workspace, state) = open(repo, db)?;
    resume_target(&workspace, &state, run_id)
}

/// Logs of attempt `attempt` (default: the last) of step `step_id` of run `run_id` (or
/// `latest`). The returned [`StepLogs`] names the run it resolved to.
///
/// Errors ([`EngineError::Input`] unless said): an unknown run
/// ([`EngineError::UnknownRun`]); a step the run does not have (naming the closest step
/// id and listing them); a step that has not run yet; an attempt it does not have; logs
/// removed by `pipeline clean` (naming the directory).
pub fn step_logs(
    repo: Option<&Path>,
    db: Option<&Path>,
    run_id: &str,
    step_id: &str,
    attempt: Option<u32>,
) -> Result<StepLogs, EngineError> {
    let (_, workspace, state) = open(repo, db)?;
    let run_id = resolve_run(&state, Some(run_id))?.run_id;
    let run_id = run_id.as_str();
    let attempts = state.attempts(run_id, step_id)?;
    if attempts.is_empty() {
        let known = state.steps(run_id)?;
        if !known.iter().any(|s| s.step_id == step_id) {
            let ids: Vec<&str> = known.iter().map(|s| s.step_id.as_str()).collect();
            return Err(EngineError::Input(unknown_step(run_id, step_id, &ids)));
        }
        return Err(EngineError::Input(format!(
            "step `{step_id}` of run {run_id} has not run yet: it has no logs\n  hint: `pipeline status {run_id}` shows its status"
        )));
    }
    let record = match attempt {
        Some(n) => attempts.iter().find(|a| a.attempt == n).ok_or_else(|| {
            EngineError::Input(format!(
                "step `{step_id}` of run {run_id} has no attempt {n}; it has {}",
                counted(attempts.len(), "attempt", "attempts")
            ))
        })?,
        None => attempts
            .last()
            .ok_or_else(|| EngineError::Internal("attempt list emptied".into()))?,
    };
    let n = record.attempt;
    let logs_dir = workspace.run_logs_dir(run_id);
    if !logs_dir.exists() {
        return Err(EngineError::Input(format!(
            "the logs of run {run_id} were removed by `pipeline clean`: {} no longer exists\n  hint: `pipeline status {run_id}` and `pipeline errors {run_id}` still show what happened",
            logs_dir.display()
        )));
    }
    let tool_log = PathBuf::from(&record.log_path);
    if !tool_log.exists() {
        return Err(EngineError::Input(format!(
            "the log of attempt {n} of step `{step_id}` of run {run_id} is missing: {} does not exist",
            tool_log.display()
        )));
    }
    let test_logs = (1..)
        .map(|k| workspace.test_log(run_id, step_id, n, k))
        .take_while(|p| p.exists())
        .collect();
    Ok(StepLogs {
        run_id: run_id.to_owned(),
        attempt: n,
        tool_log,
        test_logs,
    })
}

/// Most step ids an unknown-step message lists.
const LISTED_STEPS: usize = 20;

/// `"; did you mean `y`?"` for the entry of `known` closest to `name` by edit distance
/// (Levenshtein), when it is close: at most a third of the longer name's length; else "".
fn did_you_mean(name: &str, known: &[&str]) -> String {
    known
        .iter()
        .map(|k| (strsim::levenshtein(name, k), *k))
        .min()
        .filter(|(d, k)| *d * 3 <= name.len().max(k.len()))
        .map(|(_, k)| format!("; did you mean `{k}`?"))
        .unwrap_or_default()
}

/// "run R has no step `x`; did you mean `y`?" and the run's step ids (at most
/// [`LISTED_STEPS`]).
fn unknown_step(run_id: &str, step_id: &str, known: &[&str]) -> String {
    let closest = did_you_mean(step_id, known);
    let listed = known[..known.len().min(LISTED_STEPS)].join(", ");
    let more = if known.len() > LISTED_STEPS {
        format!(" and {} more", known.len() - LISTED_STEPS)
    } else {
        String::new()
    };
    format!(
        "run {run_id} has no step `{step_id}`{closest}\n  its {}: {listed}{more}",
        if known.len() == 1 { "step" } else { "steps" }
    )
}

/// `pipeline errors RUN`: every distinct classified error of the run's steps, with how
/// often it occurred.
pub fn run_errors(
    repo: Option<&Path>,
    db: Option<&Path>,
    run_id: Option<&str>,
) -> Result<(String, Vec<crate::state::ErrorRecord>), EngineError> {
    let (_, _, state) = open(repo, db)?;
    let run = resolve_run(&state, run_id)?;
    let errors = state.errors(&run.run_id)?;
    Ok((run.run_id, errors))
}

/// `pipeline breakers`: every tool's circuit breaker; with `reset`, removes that tool's
/// breaker first (it starts closed again). Returns whether `reset` had a breaker state.
///
/// Errors: no repository, an invalid config, the state database; [`EngineError::Input`]
/// when `reset` names neither a tool profile nor a tool with breaker state (the message
/// lists the known tools and the closest one).
pub fn breakers(
    repo: Option<&Path>,
    db: Option<&Path>,
    reset: Option<&str>,
) -> Result<(bool, Vec<pipeline_error::BreakerState>), EngineError> {
    use pipeline_error::BreakerStore;
    let (_, workspace, registry) = open_repository(repo, db)?;
    let state = StateStore::open(&workspace.db_path, Durability::Normal)?;
    let list = state.all()?;
    let Some(tool) = reset else {
        return Ok((false, list));
    };
    let mut known: Vec<&str> = registry.names();
    known.extend(list.iter().map(|b| b.tool.as_str()));
    known.sort_unstable();
    known.dedup();
    if !known.contains(&tool) {
        let closest = did_you_mean(tool, &known);
        return Err(EngineError::Input(format!(
            "no tool `{tool}` to reset the circuit breaker of{closest}\n  known tools: {}\n  hint: `pipeline tools` lists the tool profiles",
            known.join(", ")
        )));
    }
    let removed = state.delete_breaker(tool)?;
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
