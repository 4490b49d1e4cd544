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

#[cfg(test)]
mod tests {
    use rusqlite::Connection;

    use super::*;
    use crate::state::migrations::{APPLICATION_ID, MIGRATIONS};
    use crate::state::{Durability, Event};

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    /// A schema-2 database with a run, a step, an attempt and a checkpoint: what a user
    /// of the previous release has.
    fn version_2_database(path: &std::path::Path) -> TestResult {
        let mut conn = Connection::open(path)?;
        let tx = conn.transaction()?;
        for m in &MIGRATIONS[..2] {
            tx.execute_batch(m.sql)?;
        }
        tx.pragma_update(None, "user_version", 2)?;
        tx.pragma_update(None, "application_id", APPLICATION_ID)?;
        tx.execute_batch(
            "INSERT INTO runs VALUES ('r1', 'ws.json', '/repo', 'base', 'pipeline/r1', \
             'interrupted', 2, 'plan', '2026-01-01T00:00:00.000Z', NULL);
             INSERT INTO steps (run_id, step_id, workstream_id, status, definition_hash, attempts) \
             VALUES ('r1', 'ws/a', 'ws', 'completed', 'h', 1), ('r1', 'ws/b', 'ws', 'pending', 'h', 0);
             INSERT INTO attempts (run_id, step_id, attempt, started_at, log_path) \
             VALUES ('r1', 'ws/a', 1, '2026-01-01T00:00:00.000Z', 'a.log');
             INSERT INTO checkpoints (run_id, step_id, result_commit, definition_hash, created_at) \
             VALUES ('r1', 'ws/a', 'cafe', 'h', '2026-01-01T00:00:01.000Z');",
        )?;
        tx.commit()?;
        Ok(())
    }

    #[test]
    fn migration_3_keeps_every_row_and_accepts_the_new_status() -> TestResult {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("state.db");
        version_2_database(&path)?;
        let store = StateStore::open(&path, Durability::Normal)?;
        let steps = store.steps("r1")?;
        let ids: Vec<&str> = steps.iter().map(|s| s.step_id.as_str()).collect();
        assert_eq!(ids, ["ws/a", "ws/b"], "rows and their order kept");
        assert_eq!(
            store.attempts("r1", "ws/a")?.len(),
            1,
            "attempts not cascaded away"
        );
        let checkpoints: i64 = Connection::open(&path)?.query_row(
            "SELECT count(*) FROM checkpoints WHERE step_id = 'ws/a'",
            [],
            |row| row.get(0),
        )?;
        assert_eq!(checkpoints, 1, "checkpoint not cascaded away");
        store.record(
            "r1",
            vec![crate::state::Change::Event(Event::ApprovalRequested {
                step: "ws/b".into(),
                attempt: 1,
                commit: "beef".into(),
                tool: None,
            })],
        )?;
        assert_eq!(
            store.step("r1", "ws/b")?.map(|s| s.status),
            Some(StepStatus::AwaitingApproval)
        );
        // Foreign keys are on again: a step of an unknown run is refused.
        let conn = Connection::open(&path)?;
        conn.pragma_update(None, "foreign_keys", true)?;
        assert!(
            conn.execute(
                "INSERT INTO steps (run_id, step_id, workstream_id, status, definition_hash) \
                 VALUES ('nope', 'x', 'x', 'pending', 'h')",
                [],
            )
            .is_err()
        );
        Ok(())
    }

    #[test]
    fn a_decision_is_recorded_once_per_awaiting_attempt_and_applied_by_the_journal() -> TestResult {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("state.db");
        version_2_database(&path)?;
        let store = StateStore::open(&path, Durability::Normal)?;
        assert_eq!(
            store.record_approval_decision("r1", "ws/a", true, "ann", None)?,
            DecisionWrite::NotAwaiting(StepStatus::Completed)
        );
        assert_eq!(
            store.record_approval_decision("r1", "ws/zz", true, "ann", None)?,
            DecisionWrite::UnknownStep
        );
        assert!(matches!(
            store.record_approval_decision("r9", "ws/a", true, "ann", None),
            Err(StateError::RunNotFound { .. })
        ));
        store.record(
            "r1",
            vec![crate::state::Change::Event(Event::ApprovalRequested {
                step: "ws/b".into(),
                attempt: 0,
                commit: "beef".into(),
                tool: None,
            })],
        )?;
        // Attempt numbers come from the step row (0 here: no attempt ever began), so
        // give it one.
        Connection::open(&path)?
            .execute("UPDATE steps SET attempts = 2 WHERE step_id = 'ws/b'", [])?;
        assert_eq!(
            store.record_approval_decision("r1", "ws/b", false, "bob", Some("too big"))?,
            DecisionWrite::Recorded { attempt: 2 }
        );
        assert_eq!(
            store.record_approval_decision("r1", "ws/b", true, "ann", None)?,
            DecisionWrite::AlreadyDecided {
                approve: false,
                by: "bob".into()
            }
        );
        let pending = store.pending_approval_decisions("r1")?;
        assert_eq!(pending.len(), 1);
        assert_eq!(
            (
                pending[0].step_id.as_str(),
                pending[0].attempt,
                pending[0].approve
            ),
            ("ws/b", 2, false)
        );
        assert_eq!(pending[0].comment.as_deref(), Some("too big"));
        store.record(
            "r1",
            vec![crate::state::Change::Event(Event::StepRejected {
                step: "ws/b".into(),
                attempt: 2,
                by: "bob".into(),
                comment: Some("too big".into()),
            })],
        )?;
        assert!(
            store.pending_approval_decisions("r1")?.is_empty(),
            "applied"
        );
        Ok(())
    }

    #[test]
    fn data_version_moves_when_another_connection_commits() -> TestResult {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("state.db");
        let store = StateStore::open(&path, Durability::Normal)?;
        let before = store.data_version()?;
        assert_eq!(store.data_version()?, before, "nothing written");
        let other = StateStore::open(&path, Durability::Normal)?;
        other.record(
            "r1",
            vec![crate::state::Change::Event(Event::RunStarted {
                workstreams: "w".into(),
                repo: "/r".into(),
                base_commit: "b".into(),
                result_branch: "pipeline/r1".into(),
                steps: 0,
                jobs: 1,
                plan_hash: "p".into(),
                resumed: false,
                pid: 1,
                budget_usd: None,
                budget_tokens: None,
                engine: None,
            })],
        )?;
        assert_ne!(store.data_version()?, before);
        Ok(())
    }
}
