//! The one write path of run state: [`StateStore::record`] applies journal events to the
//! state tables and appends them, in one transaction.
//!
//! What an event does to the tables follows [`Event::step_status`] and
//! [`Event::run_status`] (the same table replay uses), plus the event-specific columns
//! below: a new run's row, a step's row, an attempt's row, a checkpoint. A change that
//! does not fit the database (an unknown step, a run recorded twice, an attempt number
//! going backwards) rolls the whole transaction back and nothing is recorded.

use rusqlite::{OptionalExtension, Transaction, params};

use super::{StateStore, TxResult, run_not_found, step_not_found};
use crate::state::{
    AttemptResult, Checkpoint, Event, Flush, JournalEntry, RunStatus, StateError, StepStatus,
    Subscriptions, timestamp_now,
};

/// One change to record. Events are journalled and applied; attachments write what the
/// journal does not carry (a checkpoint's outputs, a classified error's full report).
// Changes live only from their construction to `record`, a few at a time: boxing the
// event would cost an allocation per state change for no memory saved.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Change<'a> {
    /// Apply the event to the state tables and append it to the journal.
    Event(Event),
    /// Write (or replace) a completed step's checkpoint. Recorded with its
    /// [`Event::StepCompleted`], after it in the same call.
    Checkpoint {
        /// The step.
        step: &'a str,
        /// Its result commit, definition hash and outputs.
        checkpoint: &'a Checkpoint,
    },
    /// Count a failed attempt's classified error (table `errors`, for `pipeline errors`
    /// and the retry history).
    AttemptError {
        /// The step.
        step: &'a str,
        /// The failed attempt.
        attempt: u32,
        /// The error engine's report.
        report: &'a pipeline_error::ErrorReport,
    },
}

impl StateStore {
    /// Records `changes` for run `run_id` in one IMMEDIATE transaction, in order: each
    /// event updates the state tables and is appended to the `events` journal with one
    /// timestamp for the whole call. Returns the journalled events with their ids (in
    /// increasing order) for the reporters.
    ///
    /// Errors: [`StateError::RunNotFound`] (a run event or [`Event::StepAdded`] of an
    /// unknown run), [`StateError::RunExists`] (a new run recorded twice),
    /// [`StateError::StepNotFound`] (a step event of an unknown step, or of an unknown
    /// run), [`StateError::StepExists`] (a step added twice), [`StateError::Database`] (a
    /// checkpoint or attempt error for an unknown step or attempt: the foreign keys refuse
    /// it),
    /// [`StateError::AttemptNotFound`] (an attempt finished that never began),
    /// [`StateError::AttemptOutOfOrder`] (an attempt number not above the step's last),
    /// [`StateError::Database`]. On error nothing of the call is recorded.
    pub fn record(
        &self,
        run_id: &str,
        changes: Vec<Change<'_>>,
    ) -> Result<Vec<JournalEntry>, StateError> {
        self.record_flushed(run_id, changes, Flush::Now)
    }

    /// [`StateStore::record`] with a choice of when the changes must be on disk under
    /// [`Durability::Full`](crate::state::Durability::Full) (see [`Flush`]). Errors: as
    /// [`StateStore::record`].
    pub fn record_flushed(
        &self,
        run_id: &str,
        changes: Vec<Change<'_>>,
        flush: Flush,
    ) -> Result<Vec<JournalEntry>, StateError> {
        self.record_delivering(run_id, changes, flush, &Subscriptions::default())
    }

    /// [`StateStore::record_flushed`] that also inserts, in the same transaction, one
    /// `webhook_outbox` row per journalled event (those `changes` hold and those the
    /// store adds, such as a settled step's `step_interrupted`) and per subscription of
    /// `subscriptions` wanting its kind: an event recorded is never recorded without its
    /// deliveries (see [`crate::state::Subscriptions`]). Errors: as [`StateStore::record`].
    pub fn record_delivering(
        &self,
        run_id: &str,
        changes: Vec<Change<'_>>,
        flush: Flush,
        subscriptions: &Subscriptions,
    ) -> Result<Vec<JournalEntry>, StateError> {
        self.write_flushed("record run events", flush, |tx| {
            let at = timestamp_now();
            let mut entries = Vec::with_capacity(changes.len());
            for change in changes {
                match change {
                    Change::Event(event) => {
                        if let Some(reason) = settling_reason(&event) {
                            for settled in settle_live_steps(tx, run_id, &reason, &at)? {
                                entries.push(settled);
                            }
                        }
                        apply_event(tx, run_id, &event, &at)?;
                        let id = insert_event(tx, run_id, &event, &at)?;
                        entries.push(JournalEntry {
                            id,
                            at: at.clone(),
                            run_id: run_id.to_owned(),
                            event,
                        });
                    }
                    Change::Checkpoint { step, checkpoint } => {
                        write_checkpoint(tx, run_id, step, checkpoint, &at)?;
                    }
                    Change::AttemptError {
                        step,
                        attempt,
                        report,
                    } => {
                        super::error_records::count_error(tx, run_id, step, attempt, report, &at)?;
                    }
                }
            }
            if !subscriptions.is_empty() {
                for entry in &entries {
                    super::outbox::insert_deliveries(tx, entry, subscriptions)?;
                }
            }
            Ok(entries)
        })
    }
}

/// Why the steps still live when `event` is recorded must be settled, or `None` when
/// `event` does not end the run. A run that ends ([`Event::RunFinished`]) or is marked
/// interrupted ([`Event::RunInterrupted`]) keeps no step `running`, `validating`,
/// `retrying` or `waiting`: no process drives them any more (issue "states are always
/// true").
fn settling_reason(event: &Event) -> Option<String> {
    match event {
        Event::RunInterrupted { reason } => Some(reason.clone()),
        Event::RunFinished { status, .. } => Some(format!("the run ended ({status})")),
        _ => None,
    }
}

/// Records [`Event::StepInterrupted`] with `reason` for every step of `run_id` in a live
/// status (see [`StepStatus::is_active`]), in step order, in the caller's transaction:
/// the one place that settles steps when a run ends, so no path of the engine (a failed
/// journal write, a task that never reported back, a crashed process) can leave a live
/// step in a finished run. Returns the journalled entries.
fn settle_live_steps(
    tx: &Transaction<'_>,
    run_id: &str,
    reason: &str,
    at: &str,
) -> TxResult<Vec<JournalEntry>> {
    let live: Vec<String> = tx
        .prepare_cached(
            "SELECT step_id FROM steps WHERE run_id = ?1 AND status IN (?2, ?3, ?4, ?5) \
             ORDER BY rowid",
        )?
        .query_map(
            params![
                run_id,
                StepStatus::Running,
                StepStatus::Validating,
                StepStatus::Retrying,
                StepStatus::Waiting
            ],
            |row| row.get(0),
        )?
        .collect::<Result<_, _>>()?;
    let mut entries = Vec::with_capacity(live.len());
    for step in live {
        let event = Event::StepInterrupted {
            step,
            reason: reason.to_owned(),
        };
        apply_event(tx, run_id, &event, at)?;
        let id = insert_event(tx, run_id, &event, at)?;
        entries.push(JournalEntry {
            id,
            at: at.to_owned(),
            run_id: run_id.to_owned(),
            event,
        });
    }
    Ok(entries)
}

/// Updates the state tables for one event (see the module docs).
fn apply_event(tx: &Transaction<'_>, run_id: &str, event: &Event, at: &str) -> TxResult<()> {
    match event {
        Event::RunStarted {
            resumed: false,
            workstreams,
            repo,
            base_commit,
            result_branch,
            jobs,
            plan_hash,
            ..
        } => {
            let inserted = tx
                .prepare_cached(
                    "INSERT INTO runs (run_id, workstream_path, repo_path, base_commit, \
                     result_branch, status, jobs, plan_hash, started_at) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) \
                     ON CONFLICT (run_id) DO NOTHING",
                )?
                .execute(params![
                    run_id,
                    workstreams,
                    repo,
                    base_commit,
                    result_branch,
                    RunStatus::Running,
                    u32::try_from(*jobs).unwrap_or(u32::MAX),
                    plan_hash,
                    at,
                ])?;
            if inserted == 0 {
                return Err(StateError::RunExists {
                    run_id: run_id.to_owned(),
                }
                .into());
            }
            return Ok(());
        }
        Event::StepAdded {
            step,
            workstream,
            definition_hash,
            depends_on,
        } => {
            require_run(tx, run_id)?;
            let depends_on = serde_json::to_string(depends_on)
                .map_err(|err| rusqlite::Error::ToSqlConversionFailure(Box::new(err)))?;
            let inserted = tx
                .prepare_cached(
                    "INSERT INTO steps (run_id, step_id, workstream_id, status, definition_hash, \
                     depends_on) VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
                     ON CONFLICT (run_id, step_id) DO NOTHING",
                )?
                .execute(params![
                    run_id,
                    step,
                    workstream,
                    StepStatus::Pending,
                    definition_hash,
                    depends_on,
                ])?;
            if inserted == 0 {
                return Err(StateError::StepExists {
                    run_id: run_id.to_owned(),
                    step_id: step.clone(),
                }
                .into());
            }
            return Ok(());
        }
        Event::StepReset {
            step,
            definition_hash,
            ..
        } => {
            let changed = tx
                .prepare_cached(
                    "UPDATE steps SET status = ?3, result_commit = NULL, error = NULL, \
                     finished_at = NULL, definition_hash = ?4 \
                     WHERE run_id = ?1 AND step_id = ?2",
                )?
                .execute(params![run_id, step, StepStatus::Pending, definition_hash])?;
            if changed == 0 {
                return Err(step_not_found(run_id, step));
            }
            tx.prepare_cached("DELETE FROM checkpoints WHERE run_id = ?1 AND step_id = ?2")?
                .execute(params![run_id, step])?;
            return Ok(());
        }
        Event::AttemptStarted {
            step,
            attempt,
            worktree,
            log,
            ..
        } => return begin_attempt(tx, run_id, step, *attempt, worktree.as_deref(), log, at),
        Event::AttemptFinished {
            step,
            attempt,
            outcome,
            exit_code,
            error,
            duration_ms,
            ..
        } => {
            let duration_ms = i64::try_from(*duration_ms).unwrap_or(i64::MAX);
            let changed = tx
                .prepare_cached(
                    "UPDATE attempts SET finished_at = ?4, outcome = ?5, exit_code = ?6, \
                     error = ?7, duration_ms = ?8 \
                     WHERE run_id = ?1 AND step_id = ?2 AND attempt = ?3",
                )?
                .execute(params![
                    run_id,
                    step,
                    attempt,
                    at,
                    outcome,
                    exit_code,
                    error,
                    duration_ms
                ])?;
            if changed == 0 {
                return Err(StateError::AttemptNotFound {
                    run_id: run_id.to_owned(),
                    step_id: step.clone(),
                    attempt: *attempt,
                }
                .into());
            }
            return Ok(());
        }
        Event::StepCompleted { step, commit, .. } => {
            let changed = tx
                .prepare_cached(
                    "UPDATE steps SET status = ?3, result_commit = ?4, finished_at = ?5, \
                     error = NULL WHERE run_id = ?1 AND step_id = ?2",
                )?
                .execute(params![run_id, step, StepStatus::Completed, commit, at])?;
            if changed == 0 {
                return Err(step_not_found(run_id, step));
            }
            return Ok(());
        }
        Event::StepApproved {
            step,
            attempt,
            auto: false,
            ..
        }
        | Event::StepRejected { step, attempt, .. } => {
            // The decision this event journals is applied from now on.
            tx.prepare_cached(
                "UPDATE approval_decisions SET applied_at = ?4 \
                 WHERE run_id = ?1 AND step_id = ?2 AND attempt = ?3 AND applied_at IS NULL",
            )?
            .execute(params![run_id, step, attempt, at])?;
        }
        Event::StepInterrupted { step, reason } | Event::StepCancelled { step, reason } => {
            // The step's unfinished attempt ends with it (duration unknown).
            tx.prepare_cached(
                "UPDATE attempts SET outcome = ?3, finished_at = ?4, error = ?5 \
                 WHERE run_id = ?1 AND step_id = ?2 AND finished_at IS NULL",
            )?
            .execute(params![
                run_id,
                step,
                AttemptResult::Interrupted,
                at,
                reason
            ])?;
        }
        _ => {}
    }
    if let Some(status) = event.run_status() {
        let finished_at = status.is_terminal().then_some(at);
        let changed = tx
            .prepare_cached("UPDATE runs SET status = ?2, finished_at = ?3 WHERE run_id = ?1")?
            .execute(params![run_id, status, finished_at])?;
        if changed == 0 {
            return Err(run_not_found(run_id));
        }
    }
    match (event.step(), event.step_status()) {
        (Some(step), Some((status, note))) => {
            let finished_at = status.is_terminal().then_some(at);
            let changed = tx
                .prepare_cached(
                    "UPDATE steps SET status = ?3, error = ?4, finished_at = ?5 \
                     WHERE run_id = ?1 AND step_id = ?2",
                )?
                .execute(params![run_id, step, status, note, finished_at])?;
            if changed == 0 {
                return Err(step_not_found(run_id, step));
            }
        }
        (Some(step), None) => require_step(tx, run_id, step)?,
        (None, _) => require_run(tx, run_id)?,
    }
    Ok(())
}

/// The step becomes `running` with attempt number `attempt` (error and `finished_at`
/// cleared, `started_at` set if it never ran, `worktree` recorded) and an attempt row is
/// inserted. Attempt numbers only go up, across resumes and resets.
fn begin_attempt(
    tx: &Transaction<'_>,
    run_id: &str,
    step: &str,
    attempt: u32,
    worktree: Option<&str>,
    log: &str,
    at: &str,
) -> TxResult<()> {
    let last: Option<u32> = tx
        .prepare_cached("SELECT attempts FROM steps WHERE run_id = ?1 AND step_id = ?2")?
        .query_row(params![run_id, step], |row| row.get(0))
        .optional()?;
    let Some(last) = last else {
        return Err(step_not_found(run_id, step));
    };
    if attempt <= last {
        return Err(StateError::AttemptOutOfOrder {
            run_id: run_id.to_owned(),
            step_id: step.to_owned(),
            attempt,
            last,
        }
        .into());
    }
    tx.prepare_cached(
        "UPDATE steps SET status = ?3, attempts = ?4, started_at = coalesce(started_at, ?5), \
         finished_at = NULL, error = NULL, worktree = ?6 WHERE run_id = ?1 AND step_id = ?2",
    )?
    .execute(params![
        run_id,
        step,
        StepStatus::Running,
        attempt,
        at,
        worktree
    ])?;
    tx.prepare_cached(
        "INSERT INTO attempts (run_id, step_id, attempt, started_at, log_path) \
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![run_id, step, attempt, at, log])?;
    Ok(())
}

fn write_checkpoint(
    tx: &Transaction<'_>,
    run_id: &str,
    step: &str,
    checkpoint: &Checkpoint,
    at: &str,
) -> TxResult<()> {
    let outputs = serde_json::to_string(&checkpoint.outputs)
        .map_err(|err| rusqlite::Error::ToSqlConversionFailure(Box::new(err)))?;
    tx.prepare_cached(
        "INSERT INTO checkpoints (run_id, step_id, result_commit, definition_hash, \
         outputs, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
         ON CONFLICT (run_id, step_id) DO UPDATE SET \
         result_commit = excluded.result_commit, \
         definition_hash = excluded.definition_hash, \
         outputs = excluded.outputs, created_at = excluded.created_at",
    )?
    .execute(params![
        run_id,
        step,
        checkpoint.commit,
        checkpoint.definition_hash,
        outputs,
        at,
    ])?;
    Ok(())
}

fn insert_event(tx: &Transaction<'_>, run_id: &str, event: &Event, at: &str) -> TxResult<i64> {
    let data = serde_json::to_string(event)
        .map_err(|err| rusqlite::Error::ToSqlConversionFailure(Box::new(err)))?;
    tx.prepare_cached(
        "INSERT INTO events (run_id, step_id, at, kind, data) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![run_id, event.step(), at, event.kind(), data])?;
    Ok(tx.last_insert_rowid())
}

fn require_run(tx: &Transaction<'_>, run_id: &str) -> TxResult<()> {
    let exists = tx
        .prepare_cached("SELECT 1 FROM runs WHERE run_id = ?1")?
        .exists([run_id])?;
    if exists {
        Ok(())
    } else {
        Err(run_not_found(run_id))
    }
}

fn require_step(tx: &Transaction<'_>, run_id: &str, step: &str) -> TxResult<()> {
    let exists = tx
        .prepare_cached("SELECT 1 FROM steps WHERE run_id = ?1 AND step_id = ?2")?
        .exists(params![run_id, step])?;
    if exists {
        Ok(())
    } else {
        Err(step_not_found(run_id, step))
    }
}
