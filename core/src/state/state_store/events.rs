//! Reading the run journal (table `events`) as typed [`JournalEntry`] values.
//!
//! Rows are written only by [`StateStore::record`]. A row written by a version of pipeline
//! before the typed journal kept its kind and step in columns only: it is read with them
//! added, which makes its `test_finished` rows (same fields) readable, so `status` still
//! shows an old run's tests. Rows that still do not parse as an [`Event`] (other old kinds
//! and fields) are skipped by readers: the state tables still describe those runs.

use rusqlite::{OptionalExtension, Row, params};

use super::{StateStore, TxResult};
use crate::state::{Event, JournalEntry, StateError};

/// A row's envelope and its parsed event, or `None` for a row of an older format that
/// does not fit. Columns: id, run_id, at, data, kind, step_id.
fn entry_from_row(row: &Row<'_>) -> rusqlite::Result<Option<JournalEntry>> {
    entry_from_row_at(row, 0)
}

/// [`entry_from_row`] for a row whose event columns start at column `first` (a join).
pub(super) fn entry_from_row_at(
    row: &Row<'_>,
    first: usize,
) -> rusqlite::Result<Option<JournalEntry>> {
    let data: String = row.get(first + 3)?;
    let event = match serde_json::from_str::<Event>(&data) {
        Ok(event) => event,
        Err(_) => {
            let kind: String = row.get(first + 4)?;
            let step: Option<String> = row.get(first + 5)?;
            let Some(event) = legacy_event(&data, kind, step) else {
                return Ok(None);
            };
            event
        }
    };
    Ok(Some(JournalEntry {
        id: row.get(first)?,
        run_id: row.get(first + 1)?,
        at: row.get(first + 2)?,
        event,
    }))
}

/// An event of the pre-journal format: its data with the kind and step put back in.
fn legacy_event(data: &str, kind: String, step: Option<String>) -> Option<Event> {
    let serde_json::Value::Object(mut fields) = serde_json::from_str(data).ok()? else {
        return None;
    };
    fields.insert("event".into(), kind.into());
    if let Some(step) = step {
        fields.entry("step").or_insert(step.into());
    }
    serde_json::from_value(serde_json::Value::Object(fields)).ok()
}

fn collect(
    rows: impl Iterator<Item = rusqlite::Result<Option<JournalEntry>>>,
) -> TxResult<Vec<JournalEntry>> {
    let mut entries = Vec::new();
    for row in rows {
        if let Some(entry) = row? {
            entries.push(entry);
        }
    }
    Ok(entries)
}

impl StateStore {
    /// The run's journal entries with an id greater than `after_id`, oldest first. Pass 0
    /// for all of them, then the last id seen to follow the run live (another process
    /// may be recording it).
    pub fn journal(&self, run_id: &str, after_id: i64) -> Result<Vec<JournalEntry>, StateError> {
        self.read("read the journal", |conn| {
            let mut statement = conn.prepare_cached(
                "SELECT id, run_id, at, data, kind, step_id FROM events WHERE run_id = ?1 AND id > ?2 ORDER BY id",
            )?;
            let rows = statement.query_map(params![run_id, after_id], entry_from_row)?;
            collect(rows)
        })
    }

    /// The run's journal entries of kind `kind` (e.g. `test_finished`), oldest first.
    pub fn journal_of_kind(
        &self,
        run_id: &str,
        kind: &str,
    ) -> Result<Vec<JournalEntry>, StateError> {
        self.read("read the journal", |conn| {
            let mut statement = conn.prepare_cached(
                "SELECT id, run_id, at, data, kind, step_id FROM events WHERE run_id = ?1 AND kind = ?2 ORDER BY id",
            )?;
            let rows = statement.query_map(params![run_id, kind], entry_from_row)?;
            collect(rows)
        })
    }

    /// Journal entries of every run with an id greater than `after_id`, oldest first, at
    /// most `limit` of them: for following every run of the repository.
    pub fn journal_of_all_runs(
        &self,
        after_id: i64,
        limit: usize,
    ) -> Result<Vec<JournalEntry>, StateError> {
        self.read("read the journal", |conn| {
            let mut statement = conn.prepare_cached(
                "SELECT id, run_id, at, data, kind, step_id FROM events WHERE id > ?1 ORDER BY id LIMIT ?2",
            )?;
            let limit = i64::try_from(limit).unwrap_or(i64::MAX);
            let rows = statement.query_map(params![after_id, limit], entry_from_row)?;
            collect(rows)
        })
    }

    /// The newest event of kind `kind` (e.g. `step_waiting`) of step `step_id` of run
    /// `run_id`, or `None`. Scans the run's events (index `events_by_run`): meant for the
    /// few steps a resume re-runs, not for every step.
    pub fn last_step_event(
        &self,
        run_id: &str,
        step_id: &str,
        kind: &str,
    ) -> Result<Option<JournalEntry>, StateError> {
        self.read("read the last step event", |conn| {
            Ok(conn
                .prepare_cached(
                    "SELECT id, run_id, at, data, kind, step_id FROM events \
                     WHERE run_id = ?1 AND step_id = ?2 AND kind = ?3 ORDER BY id DESC LIMIT 1",
                )?
                .query_row(params![run_id, step_id, kind], entry_from_row)
                .optional()?
                .flatten())
        })
    }
}
