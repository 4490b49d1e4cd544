//! Reading and deleting runs (table `runs`).

use rusqlite::{OptionalExtension, params};

use super::StateStore;
use super::run_not_found;
use crate::state::{RunRecord, RunStatus, StateError};

impl StateStore {
    /// The run `run_id`, or `None` if it is not recorded.
    pub fn run(&self, run_id: &str) -> Result<Option<RunRecord>, StateError> {
        self.read("read run", |conn| {
            let sql = format!("SELECT {} FROM runs WHERE run_id = ?1", RunRecord::COLUMNS);
            Ok(conn
                .prepare_cached(&sql)?
                .query_row([run_id], RunRecord::from_row)
                .optional()?)
        })
    }

    /// Every run, newest first (`started_at` descending, then `run_id` descending).
    pub fn runs(&self) -> Result<Vec<RunRecord>, StateError> {
        self.read("list runs", |conn| {
            let sql = format!(
                "SELECT {} FROM runs ORDER BY started_at DESC, run_id DESC",
                RunRecord::COLUMNS
            );
            let mut statement = conn.prepare_cached(&sql)?;
            let rows = statement.query_map([], RunRecord::from_row)?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    /// The newest run of `workstream_path` (compared as stored: pass the same canonical
    /// path recorded by its `run_started` event) whose status is `running` or `interrupted`, i.e. the
    /// run `pipeline run` should resume.
    pub fn latest_unfinished_run(
        &self,
        workstream_path: &str,
    ) -> Result<Option<RunRecord>, StateError> {
        self.read("find the latest unfinished run", |conn| {
            let sql = format!(
                "SELECT {} FROM runs WHERE workstream_path = ?1 AND status IN (?2, ?3) \
                 ORDER BY started_at DESC, run_id DESC LIMIT 1",
                RunRecord::COLUMNS
            );
            Ok(conn
                .prepare_cached(&sql)?
                .query_row(
                    params![workstream_path, RunStatus::Running, RunStatus::Interrupted],
                    RunRecord::from_row,
                )
                .optional()?)
        })
    }

    /// Deletes a run with its steps, attempts, events and checkpoints (foreign-key
    /// cascade), for `pipeline clean --all`. Logs and worktrees on disk are not touched.
    ///
    /// Errors: [`StateError::RunNotFound`].
    pub fn delete_run(&self, run_id: &str) -> Result<(), StateError> {
        self.write("delete run", |tx| {
            let deleted = tx
                .prepare_cached("DELETE FROM runs WHERE run_id = ?1")?
                .execute([run_id])?;
            if deleted == 0 {
                return Err(run_not_found(run_id));
            }
            Ok(())
        })
    }
}
