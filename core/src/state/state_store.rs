//! [`StateStore`]: the SQLite database every state change of a run is written to first.
//!
//! One rusqlite connection in WAL mode sits behind an `Arc<Mutex<_>>`, so the store is
//! cheap to clone and share between the engine's tasks. Each method is one short
//! transaction (`BEGIN IMMEDIATE` for writes, so two processes never deadlock upgrading
//! a read lock) using cached prepared statements; connection setup (PRAGMAs, migrations)
//! happens once in [`StateStore::open`]. WAL lets `pipeline status` read while a run
//! writes; `busy_timeout` makes a writer wait up to [`BUSY_TIMEOUT`] for another one.
//!
//! Every state change goes through [`StateStore::record`] (file `record.rs`): it applies
//! typed journal events ([`Event`](super::Event)) to the tables and appends them in the
//! same transaction, so the journal and the tables never disagree. Reads are grouped by
//! table: `runs.rs`, `steps.rs`, `events.rs` (the journal), `error_records.rs` (the error
//! engine's errors and circuit breakers), `outbox.rs` (webhook deliveries, inserted by
//! `record` with their events).

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use rusqlite::{Connection, Transaction, TransactionBehavior};

use super::{Durability, Flush, StateError, migrations};

/// How long a statement waits for another connection's lock before failing with
/// [`StateError::Busy`]: 5 seconds (`PRAGMA busy_timeout = 5000`).
pub const BUSY_TIMEOUT: Duration = Duration::from_millis(5000);

/// Enough for every statement of the store, so none is ever re-prepared.
const STATEMENT_CACHE_CAPACITY: usize = 64;

/// Handle to the state database. `Clone + Send + Sync`; clones share one connection.
#[derive(Clone)]
pub struct StateStore {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    durability: Durability,
    conn: Mutex<Connection>,
    /// Dropped after `conn` (fields drop in declaration order): marks the file closed
    /// cleanly once SQLite has closed it.
    _clean_close: integrity_check::CleanCloseMarker,
}

impl fmt::Debug for StateStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StateStore")
            .field("path", &self.inner.path)
            .finish_non_exhaustive()
    }
}

/// Failure inside a store transaction: SQLite's (mapped to a [`StateError`] with the
/// operation's name afterwards) or one the store detected itself.
enum TxError {
    Sqlite(rusqlite::Error),
    State(StateError),
}

impl From<rusqlite::Error> for TxError {
    fn from(err: rusqlite::Error) -> Self {
        TxError::Sqlite(err)
    }
}

impl From<StateError> for TxError {
    fn from(err: StateError) -> Self {
        TxError::State(err)
    }
}

type TxResult<T> = Result<T, TxError>;

impl StateStore {
    /// Opens (creating if needed) the state database at `db_path`, e.g.
    /// `.pipeline/state.db`, and brings its schema up to date.
    ///
    /// Creates missing parent directories. Before anything is written it checks the
    /// file: a damaged database (`PRAGMA quick_check`, run when the file was not closed
    /// cleanly: see `integrity_check.rs`), a non-SQLite file, another application's
    /// database or a schema newer than [`migrations::SCHEMA_VERSION`] is refused and left
    /// byte-for-byte unchanged. Then it sets `journal_mode=WAL`, `foreign_keys=ON`,
    /// `busy_timeout=5000` ms and `synchronous` per `durability`, and applies missing
    /// migrations in order.
    ///
    /// Errors: [`StateError::CreateDir`], [`StateError::Corrupt`],
    /// [`StateError::NotADatabase`], [`StateError::ForeignDatabase`],
    /// [`StateError::NewerSchema`], [`StateError::Busy`], [`StateError::Migration`],
    /// [`StateError::Database`] (e.g. permission denied).
    pub fn open(db_path: &Path, durability: Durability) -> Result<StateStore, StateError> {
        if let Some(parent) = db_path.parent().filter(|p| !p.as_os_str().is_empty()) {
            fs::create_dir_all(parent).map_err(|source| StateError::CreateDir {
                path: parent.to_path_buf(),
                source,
            })?;
        }
        let sqlite = |operation: &'static str| {
            move |err: rusqlite::Error| StateError::from_sqlite(db_path, operation, err)
        };
        // Before the first write (even the switch to WAL mode): a damaged file is
        // refused as it is.
        integrity_check::check_before_open(db_path)?;
        let mut conn = Connection::open(db_path).map_err(sqlite("open the database"))?;
        conn.busy_timeout(BUSY_TIMEOUT)
            .map_err(sqlite("set the busy timeout"))?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE_CAPACITY);

        // Read-only until the file is known to be ours and not newer than this binary.
        let version = migrations::check_compatible(&conn, db_path)?;

        // Switching to WAL takes an exclusive lock, and SQLite answers "locked" at once
        // (without the busy handler) when another connection opens the new file at the
        // same moment: retry within the busy timeout.
        let deadline = std::time::Instant::now() + BUSY_TIMEOUT;
        let journal_mode: String = loop {
            match conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0)) {
                Ok(mode) => break mode,
                Err(err)
                    if matches!(
                        err.sqlite_error_code(),
                        Some(
                            rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
                        )
                    ) && std::time::Instant::now() < deadline =>
                {
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(err) => return Err(sqlite("switch to WAL mode")(err)),
            }
        };
        if !journal_mode.eq_ignore_ascii_case("wal") {
            tracing::warn!(
                path = %db_path.display(),
                journal_mode,
                "state database could not switch to WAL mode; readers may block the running pipeline"
            );
        }
        conn.pragma_update(None, "synchronous", durability.synchronous_pragma())
            .map_err(sqlite("set synchronous"))?;
        conn.pragma_update(None, "foreign_keys", true)
            .map_err(sqlite("enable foreign keys"))?;
        migrations::apply(&mut conn, db_path, version)?;

        Ok(StateStore {
            inner: Arc::new(Inner {
                path: db_path.to_path_buf(),
                durability,
                conn: Mutex::new(conn),
                _clean_close: integrity_check::CleanCloseMarker::new(db_path),
            }),
        })
    }

    /// The database file this store was opened on.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// The connection, even if a thread panicked while holding it: the panicking
    /// thread's transaction was rolled back when its `Transaction` was dropped during
    /// unwinding, so the connection is in a clean state.
    fn connection(&self) -> MutexGuard<'_, Connection> {
        self.inner
            .conn
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `body` in one IMMEDIATE transaction and commits it; any error rolls back.
    fn write<T>(
        &self,
        operation: &'static str,
        body: impl FnOnce(&Transaction<'_>) -> TxResult<T>,
    ) -> Result<T, StateError> {
        let mut conn = self.connection();
        let result = (|| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let value = body(&tx)?;
            tx.commit()?;
            Ok(value)
        })();
        result.map_err(|err| self.state_error(operation, err))
    }

    /// Like [`StateStore::write`], but under [`Durability::Full`] a
    /// [`Flush::WithNextWrite`] transaction is committed without its fsync
    /// (`synchronous=NORMAL` for that commit only; the next FULL commit syncs the WAL,
    /// which holds it, in order).
    fn write_flushed<T>(
        &self,
        operation: &'static str,
        flush: Flush,
        body: impl FnOnce(&Transaction<'_>) -> TxResult<T>,
    ) -> Result<T, StateError> {
        let relaxed = flush == Flush::WithNextWrite && self.inner.durability == Durability::Full;
        if !relaxed {
            return self.write(operation, body);
        }
        let mut conn = self.connection();
        let result = (|| {
            conn.pragma_update(None, "synchronous", Durability::Normal.synchronous_pragma())?;
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let value = body(&tx)?;
            tx.commit()?;
            Ok(value)
        })();
        // Back to FULL for every other commit, whatever happened.
        let restored = conn
            .pragma_update(None, "synchronous", Durability::Full.synchronous_pragma())
            .map_err(TxError::from);
        result
            .and_then(|v| restored.map(|()| v))
            .map_err(|err| self.state_error(operation, err))
    }

    /// Runs the read-only `body` (each of its single statements is atomic in WAL mode).
    fn read<T>(
        &self,
        operation: &'static str,
        body: impl FnOnce(&Connection) -> TxResult<T>,
    ) -> Result<T, StateError> {
        let conn = self.connection();
        body(&conn).map_err(|err| self.state_error(operation, err))
    }

    fn state_error(&self, operation: &'static str, err: TxError) -> StateError {
        match err {
            TxError::State(err) => err,
            TxError::Sqlite(err) => StateError::from_sqlite(&self.inner.path, operation, err),
        }
    }
}

fn run_not_found(run_id: &str) -> TxError {
    StateError::RunNotFound {
        run_id: run_id.to_owned(),
    }
    .into()
}

fn step_not_found(run_id: &str, step_id: &str) -> TxError {
    StateError::StepNotFound {
        run_id: run_id.to_owned(),
        step_id: step_id.to_owned(),
    }
    .into()
}

mod approval_decisions;
mod error_records;
mod events;
mod integrity_check;
mod outbox;
mod record;
mod runs;
mod step_cache;
mod steps;
pub use approval_decisions::{DecisionWrite, PendingDecision};
pub use record::Change;
pub use step_cache::{CacheEntry, CacheStats, CachedFrom};

pub use error_records::ErrorRecord;

#[cfg(test)]
mod tests;
