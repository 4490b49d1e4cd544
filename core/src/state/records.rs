//! Rows read back from the state database: runs, steps, attempts and events.
//!
//! These are what `pipeline status`, `runs` and `logs` render (their JSON output is the
//! serde form of these records) and what resume inspects. Each record has a `COLUMNS`
//! list and a `from_row` that reads exactly those columns, so the SELECTs in the store
//! and the mapping here cannot drift apart.

use rusqlite::Row;
use rusqlite::types::Type;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{AttemptResult, RunStatus, StepStatus};

/// One run, as stored in table `runs`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunRecord {
    /// Unique id of the run.
    pub run_id: String,
    /// Canonical path of the workstream file or directory the run was started from.
    pub workstream_path: String,
    /// Path of the git repository.
    pub repo_path: String,
    /// Hex id of the commit the root steps started from.
    pub base_commit: String,
    /// Branch receiving the run's result.
    pub result_branch: String,
    /// Current status.
    pub status: RunStatus,
    /// `--jobs` of the run.
    pub jobs: u32,
    /// Hash of the plan the run was started (or last resumed) with.
    pub plan_hash: String,
    /// RFC 3339 UTC with milliseconds.
    pub started_at: String,
    /// RFC 3339 UTC with milliseconds; set when the run completed or failed.
    pub finished_at: Option<String>,
}

impl RunRecord {
    pub(crate) const COLUMNS: &'static str = "run_id, workstream_path, repo_path, base_commit, \
        result_branch, status, jobs, plan_hash, started_at, finished_at";

    pub(crate) fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(RunRecord {
            run_id: row.get(0)?,
            workstream_path: row.get(1)?,
            repo_path: row.get(2)?,
            base_commit: row.get(3)?,
            result_branch: row.get(4)?,
            status: row.get(5)?,
            jobs: row.get(6)?,
            plan_hash: row.get(7)?,
            started_at: row.get(8)?,
            finished_at: row.get(9)?,
        })
    }
}

/// One step of a run, as stored in table `steps`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StepRecord {
    /// The run.
    pub run_id: String,
    /// `"ws"` or `"ws/step"`.
    pub step_id: String,
    /// The workstream the step belongs to.
    pub workstream_id: String,
    /// Current status.
    pub status: StepStatus,
    /// Hash of the definition the step runs (or ran) with.
    pub definition_hash: String,
    /// Step ids this step waits for.
    pub depends_on: Vec<String>,
    /// Number of attempts ever begun, across resumes.
    pub attempts: u32,
    /// Hex id of the result commit, once completed.
    pub commit: Option<String>,
    /// Worktree of the latest attempt (`None` for `isolation: none`).
    pub worktree: Option<String>,
    /// When the first attempt began (RFC 3339 UTC, milliseconds).
    pub started_at: Option<String>,
    /// When the step reached a terminal status (RFC 3339 UTC, milliseconds).
    pub finished_at: Option<String>,
    /// Why the step failed or was skipped, cancelled, interrupted.
    pub error: Option<String>,
}

impl StepRecord {
    pub(crate) const COLUMNS: &'static str = "run_id, step_id, workstream_id, status, \
        definition_hash, depends_on, attempts, result_commit, worktree, started_at, \
        finished_at, error";

    pub(crate) fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(StepRecord {
            run_id: row.get(0)?,
            step_id: row.get(1)?,
            workstream_id: row.get(2)?,
            status: row.get(3)?,
            definition_hash: row.get(4)?,
            depends_on: json_column(row, 5)?,
            attempts: row.get(6)?,
            commit: row.get(7)?,
            worktree: row.get(8)?,
            started_at: row.get(9)?,
            finished_at: row.get(10)?,
            error: row.get(11)?,
        })
    }
}

/// One attempt of a step, as stored in table `attempts`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AttemptRecord {
    /// The step.
    pub step_id: String,
    /// Attempt number, 1-based, continuing across resumes.
    pub attempt: u32,
    /// RFC 3339 UTC with milliseconds.
    pub started_at: String,
    /// RFC 3339 UTC with milliseconds; `None` while running (or if the process died).
    pub finished_at: Option<String>,
    /// How it ended; `None` while running.
    pub outcome: Option<AttemptResult>,
    /// Exit code of the tool, if it exited.
    pub exit_code: Option<i32>,
    /// What went wrong.
    pub error: Option<String>,
    /// Path of the attempt's log file.
    pub log_path: String,
    /// Wall-clock duration in milliseconds, once finished.
    pub duration_ms: Option<u64>,
}

impl AttemptRecord {
    pub(crate) const COLUMNS: &'static str = "step_id, attempt, started_at, finished_at, outcome, exit_code, error, log_path, duration_ms";

    pub(crate) fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        let duration_ms: Option<i64> = row.get(8)?;
        let duration_ms = duration_ms
            .map(|ms| {
                u64::try_from(ms).map_err(|_| rusqlite::Error::IntegralValueOutOfRange(8, ms))
            })
            .transpose()?;
        Ok(AttemptRecord {
            step_id: row.get(0)?,
            attempt: row.get(1)?,
            started_at: row.get(2)?,
            finished_at: row.get(3)?,
            outcome: row.get(4)?,
            exit_code: row.get(5)?,
            error: row.get(6)?,
            log_path: row.get(7)?,
            duration_ms,
        })
    }
}

/// Reads a TEXT column holding JSON; a malformed value becomes a conversion error naming
/// the column index.
pub(crate) fn json_column<T: DeserializeOwned>(row: &Row<'_>, index: usize) -> rusqlite::Result<T> {
    let text: String = row.get(index)?;
    serde_json::from_str(&text)
        .map_err(|err| rusqlite::Error::FromSqlConversionFailure(index, Type::Text, Box::new(err)))
}
