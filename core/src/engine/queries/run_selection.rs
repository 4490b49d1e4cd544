//! Which run a command means: the `latest` alias, whether a process drives a run, a
//! run's step counts, and the run `pipeline resume` without an id continues.
//!
//! Every command that takes a run id (`status`, `logs`, `errors`, `clean`, `resume`)
//! resolves it through [`resolve_run`], so `latest` means the same everywhere. Whether a
//! run is driven is read from its run lock ([`RunLock::probe`]): the kernel releases the
//! lock when the driver dies, even by `kill -9`, so a run recorded `running` whose lock is
//! free has no driver and can only move on through `pipeline resume`.

use super::super::{EngineError, Workspace};
use crate::state::{LockProbe, RunLock, RunRecord, RunStatus, StateStore, StepRecord, StepStatus};

/// The alias of the newest run (by `started_at`) wherever a run id is accepted. A run
/// recorded with the id `latest` (from before the id was reserved) wins over the alias.
pub const LATEST: &str = "latest";

/// Whether a process drives a run: `"live"` or `"gone"` in JSON (`status --json`'s and
/// `runs --json`'s `driver` field, `null` for a run that is neither).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Driver {
    /// A live process holds the run lock and drives the run.
    Live,
    /// The run is recorded `running` but no process holds its lock: its driver stopped
    /// (a closed terminal, `kill -9`, a crash). `pipeline resume RUN` continues it.
    Gone,
}

/// How many of a run's steps ended how (`runs` table and `runs --json`'s `steps`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct StepCounts {
    /// Steps completed.
    pub completed: usize,
    /// Steps failed for good.
    pub failed: usize,
    /// Steps skipped because a dependency failed or was skipped.
    pub skipped: usize,
    /// Every step of the run, whatever its status.
    pub total: usize,
    /// Steps whose result awaits `pipeline approve` / `reject` (left out of JSON when 0).
    #[serde(skip_serializing_if = "is_zero")]
    pub awaiting_approval: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl StepCounts {
    /// Counts `steps` by status.
    pub fn of(steps: &[StepRecord]) -> StepCounts {
        let mut counts = StepCounts {
            total: steps.len(),
            ..StepCounts::default()
        };
        for s in steps {
            match s.status {
                StepStatus::Completed => counts.completed += 1,
                StepStatus::Failed => counts.failed += 1,
                StepStatus::Skipped => counts.skipped += 1,
                StepStatus::AwaitingApproval => counts.awaiting_approval += 1,
                _ => {}
            }
        }
        counts
    }
}

/// The run `pipeline resume` continues, and why it qualifies.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ResumeTarget {
    /// The run's id.
    pub run_id: String,
    /// Its recorded status.
    pub status: RunStatus,
    /// Whether a process drives it (see [`driver_of`]).
    pub driver: Option<Driver>,
    /// Its steps by status.
    pub steps: StepCounts,
}

/// The run `run_id` (or, for [`LATEST`] or `None`, the newest recorded run).
///
/// Errors: [`EngineError::UnknownRun`] for an id that is not recorded;
/// [`EngineError::Input`] when `latest` or no id is given and no run is recorded;
/// [`EngineError::State`] when the database cannot be read.
pub fn resolve_run(state: &StateStore, run_id: Option<&str>) -> Result<RunRecord, EngineError> {
    if let Some(id) = run_id
        && let Some(run) = state.run(id)?
    {
        return Ok(run);
    }
    match run_id {
        Some(id) if id != LATEST => Err(EngineError::UnknownRun(id.to_string())),
        _ => state.runs()?.into_iter().next().ok_or_else(|| {
            EngineError::Input(
                "no run recorded yet, so `latest` names none\n  hint: start one with `pipeline run <workstream.json>`"
                    .into(),
            )
        }),
    }
}

/// Whether a process drives `run`: [`Driver::Live`] when its run lock is held,
/// [`Driver::Gone`] when it is recorded `running` and the lock is free, `None` otherwise
/// (the run ended or was interrupted, and nothing drives it).
///
/// Errors: [`EngineError::State`] when the lock file exists but cannot be probed.
pub fn driver_of(workspace: &Workspace, run: &RunRecord) -> Result<Option<Driver>, EngineError> {
    Ok(match RunLock::probe(&workspace.locks_dir(), &run.run_id)? {
        LockProbe::Held { .. } => Some(Driver::Live),
        LockProbe::Free if run.status == RunStatus::Running => Some(Driver::Gone),
        LockProbe::Free => None,
    })
}

/// The run `pipeline resume [RUN]` continues. With an id (or `latest`), that run. Without
/// one, the newest run that is interrupted, failed, or recorded `running` with no live
/// driver; a completed run, and a run a live process drives, are never picked.
///
/// Errors: those of [`resolve_run`]; [`EngineError::Input`] when no run qualifies (the
/// message says what the runs are and what to do).
pub fn resume_target(
    workspace: &Workspace,
    state: &StateStore,
    run_id: Option<&str>,
) -> Result<ResumeTarget, EngineError> {
    let target = |run: RunRecord, driver| -> Result<ResumeTarget, EngineError> {
        let steps = StepCounts::of(&state.steps(&run.run_id)?);
        Ok(ResumeTarget {
            run_id: run.run_id,
            status: run.status,
            driver,
            steps,
        })
    };
    if run_id.is_some() {
        let run = resolve_run(state, run_id)?;
        let driver = driver_of(workspace, &run)?;
        return target(run, driver);
    }
    let runs = state.runs()?;
    let recorded = runs.len();
    for run in runs {
        let driver = driver_of(workspace, &run)?;
        let qualifies = match run.status {
            RunStatus::Interrupted | RunStatus::Failed => driver != Some(Driver::Live),
            RunStatus::Running => driver == Some(Driver::Gone),
            RunStatus::Completed => false,
        };
        if qualifies {
            return target(run, driver);
        }
    }
    let why = if recorded == 0 {
        "no run is recorded yet".to_string()
    } else {
        format!(
            "every recorded run ({}) completed or is driven by a live process",
            super::counted(recorded, "run", "runs")
        )
    };
    Err(EngineError::Input(format!(
        "no run to resume: {why}\n  hint: `pipeline runs` lists the runs; start a new one with `pipeline run <workstream.json>`"
    )))
}
