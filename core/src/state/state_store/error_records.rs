//! The error engine's durable state: classified errors per step (with occurrence counts),
//! the signature history of failed attempts, and per-tool circuit breakers.
//!
//! Breakers are shared by every step of every run in this repository and by concurrent
//! processes: [`BreakerStore::update`] reads, changes and writes a breaker inside one
//! IMMEDIATE transaction, so two steps recording a failure at once both count.

use std::time::SystemTime;

use pipeline_error::{BreakerState, BreakerStore, ErrorReport, History, PastAttempt};
use rusqlite::{OptionalExtension, params};

use super::{StateStore, TxError, TxResult};
use crate::state::{StateError, timestamp_now};

/// One distinct error (by signature) of a step, for `pipeline errors` and `status`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ErrorRecord {
    pub run_id: String,
    pub step_id: String,
    /// Hash of the normalised message (paths, numbers, addresses masked).
    pub signature: String,
    /// `transient`, `rate_limited`, `timeout`, `permanent`, `conflict`, `infrastructure`.
    pub class: String,
    /// The plugin that decided the class.
    pub plugin: String,
    pub summary: String,
    /// How many failed attempts of the step had this signature.
    pub occurrences: u32,
    pub first_attempt: u32,
    pub last_attempt: u32,
    pub first_seen: String,
    pub last_seen: String,
    /// The latest full report, with its structured diagnostics.
    pub report: serde_json::Value,
}

fn to_json<T: serde::Serialize>(value: &T) -> TxResult<String> {
    serde_json::to_string(value)
        .map_err(|e| TxError::Sqlite(rusqlite::Error::ToSqlConversionFailure(Box::new(e))))
}

fn from_json<T: serde::de::DeserializeOwned>(text: &str, column: usize) -> rusqlite::Result<T> {
    serde_json::from_str(text).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(column, rusqlite::types::Type::Text, Box::new(e))
    })
}

/// Counts the classified error of a failed attempt inside a [`StateStore::record`]
/// transaction: upserts the step's error with this signature (incrementing its
/// occurrences) and the attempt's signature/fingerprint.
pub(super) fn count_error(
    tx: &rusqlite::Transaction<'_>,
    run_id: &str,
    step_id: &str,
    attempt: u32,
    report: &ErrorReport,
    now: &str,
) -> TxResult<()> {
    let json = to_json(report)?;
    let class = report.class.name();
    tx.prepare_cached(
        "INSERT INTO errors (run_id, step_id, signature, class, plugin, summary, occurrences, first_attempt, last_attempt, first_seen, last_seen, report)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, 1, ?7, ?7, ?8, ?8, ?9)
         ON CONFLICT (run_id, step_id, signature) DO UPDATE SET
           occurrences = occurrences + 1, class = excluded.class, plugin = excluded.plugin,
           summary = excluded.summary, last_attempt = excluded.last_attempt,
           last_seen = excluded.last_seen, report = excluded.report",
    )?
    .execute(params![run_id, step_id, report.signature, class, report.plugin, report.summary, attempt, now, json])?;
    tx.prepare_cached(
        "INSERT OR REPLACE INTO attempt_errors (run_id, step_id, attempt, class, signature, fingerprint) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![run_id, step_id, attempt, class, report.signature, report.fingerprint()])?;
    Ok(())
}

impl StateStore {
    /// Signatures and fingerprints of the step's failed attempts, oldest first: the history
    /// retry decisions need, rebuilt from the database so it survives a crash.
    pub fn attempt_error_history(
        &self,
        run_id: &str,
        step_id: &str,
    ) -> Result<History, StateError> {
        self.read("read the error history", |conn| {
            let mut stmt = conn.prepare_cached("SELECT signature, fingerprint FROM attempt_errors WHERE run_id = ?1 AND step_id = ?2 ORDER BY attempt")?;
            let rows = stmt.query_map(params![run_id, step_id], |r| {
                Ok(PastAttempt {
                    signature: r.get(0)?,
                    fingerprint: r.get(1)?,
                })
            })?;
            let mut h = History::new();
            for r in rows {
                h.push(r?);
            }
            Ok(h)
        })
    }

    /// Every distinct error of a run, by step then first occurrence.
    pub fn errors(&self, run_id: &str) -> Result<Vec<ErrorRecord>, StateError> {
        self.read("read errors", |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT e.run_id, e.step_id, signature, class, plugin, summary, occurrences, first_attempt, last_attempt, first_seen, last_seen, report
                 FROM errors e LEFT JOIN steps s ON s.run_id = e.run_id AND s.step_id = e.step_id
                 WHERE e.run_id = ?1 ORDER BY s.rowid, e.first_attempt, e.signature",
            )?;
            let rows = stmt.query_map([run_id], |r| {
                let report: String = r.get(11)?;
                Ok(ErrorRecord {
                    run_id: r.get(0)?,
                    step_id: r.get(1)?,
                    signature: r.get(2)?,
                    class: r.get(3)?,
                    plugin: r.get(4)?,
                    summary: r.get(5)?,
                    occurrences: r.get(6)?,
                    first_attempt: r.get(7)?,
                    last_attempt: r.get(8)?,
                    first_seen: r.get(9)?,
                    last_seen: r.get(10)?,
                    report: from_json(&report, 11)?,
                })
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
    }

    /// Removes a tool's circuit breaker (`pipeline breakers --reset TOOL`); returns whether
    /// there was one.
    pub fn delete_breaker(&self, tool: &str) -> Result<bool, StateError> {
        self.write("reset a circuit breaker", |tx| {
            Ok(tx
                .prepare_cached("DELETE FROM circuit_breakers WHERE tool = ?1")?
                .execute([tool])?
                > 0)
        })
    }
}

impl BreakerStore for StateStore {
    type Error = StateError;

    fn load(&self, tool: &str) -> Result<Option<BreakerState>, StateError> {
        self.read("read a circuit breaker", |conn| {
            let text: Option<String> = conn
                .prepare_cached("SELECT state FROM circuit_breakers WHERE tool = ?1")?
                .query_row([tool], |r| r.get(0))
                .optional()?;
            Ok(match text {
                Some(t) => Some(from_json(&t, 0)?),
                None => None,
            })
        })
    }

    fn save(&self, state: &BreakerState) -> Result<(), StateError> {
        self.write("save a circuit breaker", |tx| {
            let json = to_json(state)?;
            tx.prepare_cached("INSERT OR REPLACE INTO circuit_breakers (tool, state, updated_at) VALUES (?1, ?2, ?3)")?
                .execute(params![state.tool, json, timestamp_now()])?;
            Ok(())
        })
    }

    fn all(&self) -> Result<Vec<BreakerState>, StateError> {
        self.read("read circuit breakers", |conn| {
            let mut stmt =
                conn.prepare_cached("SELECT state FROM circuit_breakers ORDER BY tool")?;
            let rows = stmt.query_map([], |r| {
                let t: String = r.get(0)?;
                from_json(&t, 0)
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
    }

    /// Atomic: the read, the change and the write happen in one IMMEDIATE transaction.
    fn update(
        &self,
        tool: &str,
        now: SystemTime,
        change: &mut dyn FnMut(&mut BreakerState),
    ) -> Result<BreakerState, StateError> {
        self.write("update a circuit breaker", |tx| {
            let text: Option<String> = tx.prepare_cached("SELECT state FROM circuit_breakers WHERE tool = ?1")?.query_row([tool], |r| r.get(0)).optional()?;
            let mut state = match text {
                Some(t) => from_json(&t, 0)?,
                None => BreakerState::new(tool, now),
            };
            change(&mut state);
            let json = to_json(&state)?;
            tx.prepare_cached("INSERT OR REPLACE INTO circuit_breakers (tool, state, updated_at) VALUES (?1, ?2, ?3)")?
                .execute(params![tool, json, timestamp_now()])?;
            Ok(state)
        })
    }
}
