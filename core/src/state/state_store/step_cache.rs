//! The cross-run step cache's entries (table `step_cache`, migration 0005; docs/CACHE.md).
//!
//! The engine ([`crate::engine`]'s step cache) writes one entry per completed step with
//! [`StateStore::record_cache_entry`] and looks a step's key up with
//! [`StateStore::cache_entries_with_key`]; `pipeline cache` and `pipeline why` read them.
//! Entries are not run state: clearing them changes no run.

use rusqlite::{OptionalExtension, Row, params};

use super::StateStore;
use crate::state::StateError;

/// One completed step's cache entry.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CacheEntry {
    /// The run that completed the step.
    pub run_id: String,
    /// The step.
    pub step_id: String,
    /// The step's cache key: SHA-256, lowercase hex (docs/CACHE.md).
    pub key: String,
    /// The key's parts as JSON (the engine's `KeyParts`), for `pipeline why`.
    pub parts: String,
    /// Hex result commit of the step in that run.
    pub result_commit: String,
    /// Hex commit the step started from in that run.
    pub start_commit: String,
    /// Run and step the result was taken from, when the step was satisfied from the cache.
    pub cached_from: Option<CachedFrom>,
    /// Why the step ran although an entry with its key existed (`--no-cache`,
    /// `cache: false`, a conflict, a result commit gone, a failed `--verify-cached` test);
    /// for a step satisfied from the shared cache, `taken from the shared cache (remote
    /// NAME)`; `None` otherwise.
    pub reason: Option<String>,
    /// When the entry was written (RFC 3339 UTC with milliseconds).
    pub created_at: String,
}

/// Where a cached result came from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CachedFrom {
    /// The earlier run.
    pub run: String,
    /// Its step.
    pub step: String,
}

/// Counts of `pipeline cache stats`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct CacheStats {
    /// Entries (completed steps recorded).
    pub entries: u64,
    /// Distinct keys among them.
    pub keys: u64,
    /// Entries of steps satisfied from the cache.
    pub hits: u64,
    /// Entries of steps that ran.
    pub misses: u64,
    /// Runs with at least one entry.
    pub runs: u64,
}

const COLUMNS: &str = "run_id, step_id, key, parts, result_commit, start_commit, \
                       cached_from_run, cached_from_step, reason, created_at";

fn entry_of(row: &Row<'_>) -> rusqlite::Result<CacheEntry> {
    let from_run: Option<String> = row.get(6)?;
    let from_step: Option<String> = row.get(7)?;
    Ok(CacheEntry {
        run_id: row.get(0)?,
        step_id: row.get(1)?,
        key: row.get(2)?,
        parts: row.get(3)?,
        result_commit: row.get(4)?,
        start_commit: row.get(5)?,
        cached_from: from_run
            .zip(from_step)
            .map(|(run, step)| CachedFrom { run, step }),
        reason: row.get(8)?,
        created_at: row.get(9)?,
    })
}

impl StateStore {
    /// Writes (or replaces) the entry of `entry.step_id` in `entry.run_id`.
    ///
    /// Errors: [`StateError::Database`].
    pub fn record_cache_entry(&self, entry: &CacheEntry) -> Result<(), StateError> {
        self.write("record a step cache entry", |tx| {
            tx.prepare_cached(&format!(
                "INSERT OR REPLACE INTO step_cache ({COLUMNS}) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
            ))?
            .execute(params![
                entry.run_id,
                entry.step_id,
                entry.key,
                entry.parts,
                entry.result_commit,
                entry.start_commit,
                entry.cached_from.as_ref().map(|f| &f.run),
                entry.cached_from.as_ref().map(|f| &f.step),
                entry.reason,
                entry.created_at,
            ])?;
            Ok(())
        })
    }

    /// Entries with cache key `key` of runs other than `except_run`, newest first.
    ///
    /// Errors: [`StateError::Database`].
    pub fn cache_entries_with_key(
        &self,
        key: &str,
        except_run: &str,
    ) -> Result<Vec<CacheEntry>, StateError> {
        self.read("look up the step cache", |conn| {
            let mut statement = conn.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM step_cache WHERE key = ?1 AND run_id <> ?2 \
                 ORDER BY created_at DESC, rowid DESC"
            ))?;
            let rows = statement.query_map(params![key, except_run], entry_of)?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
    }

    /// The entry of step `step_id` in run `run_id`, if it completed with one.
    ///
    /// Errors: [`StateError::Database`].
    pub fn cache_entry(
        &self,
        run_id: &str,
        step_id: &str,
    ) -> Result<Option<CacheEntry>, StateError> {
        self.read("read a step cache entry", |conn| {
            Ok(conn
                .prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM step_cache WHERE run_id = ?1 AND step_id = ?2"
                ))?
                .query_row(params![run_id, step_id], entry_of)
                .optional()?)
        })
    }

    /// Entries of step `step_id` written before `before` (RFC 3339) by runs other than
    /// `except_run`, newest first: the candidates `pipeline why` compares a step with.
    ///
    /// Errors: [`StateError::Database`].
    pub fn cache_entries_of_step_before(
        &self,
        step_id: &str,
        before: &str,
        except_run: &str,
    ) -> Result<Vec<CacheEntry>, StateError> {
        self.read("read earlier step cache entries", |conn| {
            let mut statement = conn.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM step_cache \
                 WHERE step_id = ?1 AND created_at <= ?2 AND run_id <> ?3 \
                 ORDER BY created_at DESC, rowid DESC"
            ))?;
            let rows = statement.query_map(params![step_id, before, except_run], entry_of)?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
    }

    /// Every entry, oldest first (`pipeline cache list`).
    ///
    /// Errors: [`StateError::Database`].
    pub fn cache_entries(&self) -> Result<Vec<CacheEntry>, StateError> {
        self.read("list the step cache", |conn| {
            let mut statement = conn.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM step_cache ORDER BY created_at, rowid"
            ))?;
            let rows = statement.query_map([], entry_of)?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
    }

    /// Deletes every entry; returns how many there were (`pipeline cache clear`). Runs
    /// and their results are untouched.
    ///
    /// Errors: [`StateError::Database`].
    pub fn clear_cache(&self) -> Result<u64, StateError> {
        self.write("clear the step cache", |tx| {
            Ok(tx.execute("DELETE FROM step_cache", [])? as u64)
        })
    }

    /// Counts over every entry (`pipeline cache stats`).
    ///
    /// Errors: [`StateError::Database`].
    pub fn cache_stats(&self) -> Result<CacheStats, StateError> {
        self.read("count the step cache", |conn| {
            Ok(conn.query_row(
                "SELECT count(*), count(DISTINCT key), count(cached_from_run), \
                 count(DISTINCT run_id) FROM step_cache",
                [],
                |row| {
                    let count = |i: usize| -> rusqlite::Result<u64> {
                        Ok(u64::try_from(row.get::<_, i64>(i)?).unwrap_or(0))
                    };
                    let (entries, hits) = (count(0)?, count(2)?);
                    Ok(CacheStats {
                        entries,
                        keys: count(1)?,
                        hits,
                        misses: entries.saturating_sub(hits),
                        runs: count(3)?,
                    })
                },
            )?)
        })
    }
}
