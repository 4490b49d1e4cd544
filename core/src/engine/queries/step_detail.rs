//! `GET /api/runs/{run}/steps/{step}`: one step of a run in detail: its status (as
//! `status --json` shows it), every attempt with its tool, usage and classified error,
//! its recorded errors and its checkpoint.

use std::path::Path;

use super::{open, resolve_run, run_status, unknown_step};
use crate::engine::{EngineError, StepStatusView};
use crate::state::{AttemptResult, ErrorRecord, ErrorSummary, Event, Usage};

/// One step of a run in detail. Shapes: [`StepStatusView`] for `step`, [`AttemptView`]
/// per attempt (oldest first), [`ErrorRecord`] per distinct classified error,
/// [`CheckpointView`] once the step completed.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StepDetail {
    /// The run (resolved: never `latest`).
    pub run_id: String,
    /// The step as `pipeline status --json` shows it.
    pub step: StepStatusView,
    /// Its attempts, oldest first (numbers continue across resumes).
    pub attempts: Vec<AttemptView>,
    /// The error engine's distinct errors of this step (as `pipeline errors` lists them).
    pub errors: Vec<ErrorRecord>,
    /// Its checkpoint: the result commit and what it started from; `null` until the step
    /// completed.
    pub checkpoint: Option<CheckpointView>,
}

/// One attempt of a step.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AttemptView {
    /// Attempt number, 1-based.
    pub attempt: u32,
    /// Tool profile (`shell` for a command); `null` for a workstream's acceptance gate or
    /// when not journalled.
    pub tool: Option<String>,
    /// RFC 3339 UTC with milliseconds.
    pub started_at: String,
    /// RFC 3339 UTC with milliseconds; `null` while running.
    pub finished_at: Option<String>,
    /// `succeeded`, `failed`, `timed_out`, `cancelled`, `interrupted`; `null` while
    /// running.
    pub outcome: Option<AttemptResult>,
    /// The tool's exit code, when it exited.
    pub exit_code: Option<i32>,
    /// What went wrong.
    pub error: Option<String>,
    /// Wall-clock milliseconds, once finished.
    pub duration_ms: Option<u64>,
    /// Tokens, requests and cost the tool reported, if any.
    pub usage: Option<Usage>,
    /// The error engine's classification of a failed attempt.
    pub classified: Option<ErrorSummary>,
    /// The attempt's log file.
    pub log: String,
}

/// A completed step's checkpoint.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CheckpointView {
    /// Hex result commit.
    pub commit: String,
    /// Hex commit the step's worktree started at (the merge of `inputs`).
    pub start_commit: String,
    /// Hex input commits (its dependencies' results, or the run's base commit).
    pub inputs: Vec<String>,
    /// Paths the step changed, relative to the repository root.
    pub changed: Vec<String>,
    /// The completing attempt.
    pub attempt: u32,
    /// The tool profile that produced it.
    pub tool: Option<String>,
}

/// Step `step_id` of run `run_id` (or `latest`) in detail.
///
/// Errors: [`EngineError::UnknownRun`]; [`EngineError::Input`] for a step the run does
/// not have (naming the closest step id); state errors.
pub fn step_detail(
    repo: Option<&Path>,
    db: Option<&Path>,
    run_id: &str,
    step_id: &str,
) -> Result<StepDetail, EngineError> {
    let (_, _, state) = open(repo, db)?;
    let run_id = resolve_run(&state, Some(run_id))?.run_id;
    let report = run_status(repo, db, Some(&run_id))?;
    let Some(step) = report.steps.into_iter().find(|s| s.id == step_id) else {
        let known = state.steps(&run_id)?;
        let ids: Vec<&str> = known.iter().map(|s| s.step_id.as_str()).collect();
        return Err(EngineError::Input(unknown_step(&run_id, step_id, &ids)));
    };
    let mut tools = std::collections::HashMap::new();
    for entry in state.journal_of_kind(&run_id, "attempt_started")? {
        if let Event::AttemptStarted {
            step,
            attempt,
            tool,
            ..
        } = entry.event
            && step == step_id
        {
            tools.insert(attempt, tool);
        }
    }
    let mut finished = std::collections::HashMap::new();
    for entry in state.journal_of_kind(&run_id, "attempt_finished")? {
        if let Event::AttemptFinished {
            step,
            attempt,
            usage,
            classified,
            ..
        } = entry.event
            && step == step_id
        {
            finished.insert(attempt, (usage, classified));
        }
    }
    let attempts = state
        .attempts(&run_id, step_id)?
        .into_iter()
        .map(|a| {
            let (usage, classified) = finished.remove(&a.attempt).unwrap_or_default();
            AttemptView {
                attempt: a.attempt,
                tool: tools.remove(&a.attempt).flatten(),
                started_at: a.started_at,
                finished_at: a.finished_at,
                outcome: a.outcome,
                exit_code: a.exit_code,
                error: a.error,
                duration_ms: a.duration_ms,
                usage,
                classified,
                log: a.log_path,
            }
        })
        .collect();
    let errors = state
        .errors(&run_id)?
        .into_iter()
        .filter(|e| e.step_id == step_id)
        .collect();
    let checkpoint = state.checkpoint(&run_id, step_id)?.map(|c| CheckpointView {
        commit: c.commit,
        start_commit: c.outputs.start_commit,
        inputs: c.outputs.inputs,
        changed: c.outputs.changed,
        attempt: c.outputs.attempt,
        tool: c.outputs.tool,
    });
    Ok(StepDetail {
        run_id,
        step,
        attempts,
        errors,
        checkpoint,
    })
}
