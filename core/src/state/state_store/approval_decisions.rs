//! Decisions on steps awaiting approval (table `approval_decisions`, migration 0003).
//!
//! Whoever decides (`pipeline approve` / `reject`, the REST API, the MCP server) inserts a
//! pending row with [`StateStore::record_approval_decision`]; only the run's driver
//! journals it (`step_approved` / `step_rejected`, which set `applied_at` in the same
//! transaction: see `record.rs`). The driver finds pending rows with
//! [`StateStore::pending_approval_decisions`], cheaply gated by
//! [`StateStore::data_version`].

use rusqlite::{OptionalExtension, params};

use super::StateStore;
use crate::state::{StateError, StepStatus, timestamp_now};

/// A decision not yet journalled by the run's driver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingDecision {
    /// The step.
    pub step_id: String,
    /// The attempt whose result was decided.
    pub attempt: u32,
    /// `true`: approve; `false`: reject.
    pub approve: bool,
    /// Who decided.
    pub by: String,
    /// Why, as given.
    pub comment: Option<String>,
    /// When it was recorded (RFC 3339 UTC with milliseconds).
    pub decided_at: String,
}

/// What [`StateStore::record_approval_decision`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecisionWrite {
    /// Recorded, pending, for this attempt of the step.
    Recorded {
        /// The attempt whose result was decided.
        attempt: u32,
    },
    /// The run has no such step.
    UnknownStep,
    /// The step is not awaiting approval; its status.
    NotAwaiting(StepStatus),
    /// The step already has a pending decision (`approve` tells which).
    AlreadyDecided {
        /// `true` when the pending decision approves.
        approve: bool,
        /// Who made it.
        by: String,
    },
}

impl StateStore {
    /// Records a pending decision on step `step_id` of run `run_id` in one IMMEDIATE
    /// transaction, when the step is `awaiting_approval` and has no pending decision
    /// yet; otherwise records nothing and says why.
    ///
    /// Errors: [`StateError::RunNotFound`], [`StateError::Database`].
    pub fn record_approval_decision(
        &self,
        run_id: &str,
        step_id: &str,
        approve: bool,
        by: &str,
        comment: Option<&str>,
    ) -> Result<DecisionWrite, StateError> {
        self.write("record an approval decision", |tx| {
            let run_exists = tx
                .prepare_cached("SELECT 1 FROM runs WHERE run_id = ?1")?
                .exists([run_id])?;
            if !run_exists {
                return Err(super::run_not_found(run_id));
            }
            let step: Option<(StepStatus, u32)> = tx
                .prepare_cached(
                    "SELECT status, attempts FROM steps WHERE run_id = ?1 AND step_id = ?2",
                )?
                .query_row(params![run_id, step_id], |row| {
                    Ok((row.get(0)?, row.get(1)?))
                })
                .optional()?;
            let Some((status, attempt)) = step else {
                return Ok(DecisionWrite::UnknownStep);
            };
            if status != StepStatus::AwaitingApproval {
                return Ok(DecisionWrite::NotAwaiting(status));
            }
            let pending: Option<(String, String)> = tx
                .prepare_cached(
                    "SELECT verdict, decided_by FROM approval_decisions \
                     WHERE run_id = ?1 AND step_id = ?2 AND attempt = ?3 AND applied_at IS NULL",
                )?
                .query_row(params![run_id, step_id, attempt], |row| {
                    Ok((row.get(0)?, row.get(1)?))
                })
                .optional()?;
            if let Some((verdict, by)) = pending {
                return Ok(DecisionWrite::AlreadyDecided {
                    approve: verdict == APPROVE,
                    by,
                });
            }
            tx.prepare_cached(
                "INSERT INTO approval_decisions \
                 (run_id, step_id, attempt, verdict, decided_by, comment, decided_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute(params![
                run_id,
                step_id,
                attempt,
                if approve { APPROVE } else { REJECT },
                by,
                comment,
                timestamp_now(),
            ])?;
            Ok(DecisionWrite::Recorded { attempt })
        })
    }

    /// The pending decisions of run `run_id`, oldest first.
    ///
    /// Errors: [`StateError::Database`].
    pub fn pending_approval_decisions(
        &self,
        run_id: &str,
    ) -> Result<Vec<PendingDecision>, StateError> {
        self.read("read pending approval decisions", |conn| {
            let mut statement = conn.prepare_cached(
                "SELECT step_id, attempt, verdict, decided_by, comment, decided_at \
                 FROM approval_decisions WHERE run_id = ?1 AND applied_at IS NULL ORDER BY id",
            )?;
            let rows = statement.query_map([run_id], |row| {
                Ok(PendingDecision {
                    step_id: row.get(0)?,
                    attempt: row.get(1)?,
                    approve: row.get::<_, String>(2)? == APPROVE,
                    by: row.get(3)?,
                    comment: row.get(4)?,
                    decided_at: row.get(5)?,
                })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    /// SQLite's `PRAGMA data_version` of this store's connection: it changes when another
    /// connection (another process) commits to the database, and not for this store's own
    /// writes. A poller re-reads only when it changed.
    ///
    /// Errors: [`StateError::Database`].
    pub fn data_version(&self) -> Result<i64, StateError> {
        self.read("read the data version", |conn| {
            Ok(conn.pragma_query_value(None, "data_version", |row| row.get(0))?)
        })
    }
}

/// `verdict` of an approval.
const APPROVE: &str = "approve";
/// `verdict` of a rejection.
const REJECT: &str = "reject";
