//! Reading steps, their attempts and checkpoints (tables `steps`, `attempts`,
//! `checkpoints`).

use rusqlite::OptionalExtension;

use super::StateStore;
use crate::state::records::json_column;
use crate::state::{AttemptRecord, Checkpoint, StateError, StepRecord};

impl StateStore {
    /// The steps of a run in insertion order (plan order, then steps added on resume);
    /// empty for an unknown run.
    pub fn steps(&self, run_id: &str) -> Result<Vec<StepRecord>, StateError> {
        self.read("list steps", |conn| {
            let sql = format!(
                "SELECT {} FROM steps WHERE run_id = ?1 ORDER BY rowid",
                StepRecord::COLUMNS
            );
            let mut statement = conn.prepare_cached(&sql)?;
            let rows = statement.query_map([run_id], StepRecord::from_row)?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    /// One step of a run, or `None` if the run has no such step.
    pub fn step(&self, run_id: &str, step_id: &str) -> Result<Option<StepRecord>, StateError> {
        self.read("read step", |conn| {
            let sql = format!(
                "SELECT {} FROM steps WHERE run_id = ?1 AND step_id = ?2",
                StepRecord::COLUMNS
            );
            Ok(conn
                .prepare_cached(&sql)?
                .query_row([run_id, step_id], StepRecord::from_row)
                .optional()?)
        })
    }

    /// The attempts of a step, by attempt number; empty for an unknown step.
    pub fn attempts(&self, run_id: &str, step_id: &str) -> Result<Vec<AttemptRecord>, StateError> {
        self.read("list attempts", |conn| {
            let sql = format!(
                "SELECT {} FROM attempts WHERE run_id = ?1 AND step_id = ?2 ORDER BY attempt",
                AttemptRecord::COLUMNS
            );
            let mut statement = conn.prepare_cached(&sql)?;
            let rows = statement.query_map([run_id, step_id], AttemptRecord::from_row)?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    /// The checkpoint of a step, or `None` if it has none (never completed, or reset).
    pub fn checkpoint(
        &self,
        run_id: &str,
        step_id: &str,
    ) -> Result<Option<Checkpoint>, StateError> {
        self.read("read checkpoint", |conn| {
            Ok(conn
                .prepare_cached(
                    "SELECT result_commit, definition_hash, outputs FROM checkpoints \
                     WHERE run_id = ?1 AND step_id = ?2",
                )?
                .query_row([run_id, step_id], |row| {
                    Ok(Checkpoint {
                        commit: row.get(0)?,
                        definition_hash: row.get(1)?,
                        outputs: json_column(row, 2)?,
                    })
                })
                .optional()?)
        })
    }
}
