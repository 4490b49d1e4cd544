//! Errors of the state store and the run lock.
//!
//! Every variant names the database or lock file and says what to do. SQLite failures are
//! sorted by cause: a locked database ([`StateError::Busy`]), a file that is not a
//! database, a corrupt one, and everything else ([`StateError::Database`], with the
//! operation that failed).

use std::io;
use std::path::{Path, PathBuf};

use rusqlite::ErrorCode;

use super::BUSY_TIMEOUT;

/// An error of [`StateStore`](super::StateStore) or [`RunLock`](super::RunLock).
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// The directory that should hold the state database or the lock files could not be
    /// created.
    #[error(
        "cannot create directory {}: {source}; check its permissions or choose another location",
        .path.display()
    )]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },

    /// The file exists but is not a SQLite database.
    #[error(
        "{} is not a SQLite database; give the path of a pipeline state database, or move \
         the file away so a new database can be created there",
        .path.display()
    )]
    NotADatabase {
        /// The file.
        path: PathBuf,
    },

    /// The file is a SQLite database of another application (its `application_id`, or
    /// tables without a pipeline schema version, say so). It was not modified.
    #[error(
        "{} is a SQLite database of another application, not a pipeline state database; \
         it was not modified; choose another state database path",
        .path.display()
    )]
    ForeignDatabase {
        /// The file.
        path: PathBuf,
    },

    /// The database was written by a newer `pipeline` (its schema version is higher than
    /// the migrations this binary knows). It was not modified.
    #[error(
        "state database {} has schema version {found}, but this pipeline supports versions \
         up to {supported}; upgrade pipeline, or use another state database (the file was \
         not modified)",
        .path.display()
    )]
    NewerSchema {
        /// The database file.
        path: PathBuf,
        /// Its `PRAGMA user_version`.
        found: i64,
        /// The newest schema version this binary knows.
        supported: i64,
    },

    /// Another process held a lock on the database for longer than the busy timeout.
    #[error(
        "state database {} stayed locked by another process for more than {} s; wait for \
         the other pipeline process to finish (or stop it) and retry",
        .path.display(),
        BUSY_TIMEOUT.as_secs()
    )]
    Busy {
        /// The database file.
        path: PathBuf,
    },

    /// SQLite found the database file damaged (on open, `PRAGMA quick_check`; later, any
    /// statement reading a damaged page). Exit code 3.
    #[error(
        "state database {path} is corrupt ({source}); pipeline does not write to it. \
         Recover what it holds with `sqlite3 {path} \".recover\" | sqlite3 {path}.recovered` \
         and move the recovered file in its place, or move {path} (with any -wal and -shm \
         file beside it) aside to start with a fresh one (the history of past runs is then \
         lost)",
        path = .path.display()
    )]
    Corrupt {
        /// The database file.
        path: PathBuf,
        /// SQLite's report.
        #[source]
        source: rusqlite::Error,
    },

    /// A schema migration failed; its transaction was rolled back, so the database stays
    /// at the previous version.
    #[error(
        "migration {version} ({name}) of state database {} failed: {source}; the database \
         was left at the previous schema version; report this as a bug",
        .path.display()
    )]
    Migration {
        /// The database file.
        path: PathBuf,
        /// Schema version the migration leads to.
        version: i64,
        /// Migration file name without extension, e.g. `0001_initial`.
        name: &'static str,
        /// SQLite's error.
        #[source]
        source: rusqlite::Error,
    },

    /// Any other SQLite failure (disk full, read-only file, I/O error, ...).
    #[error(
        "state database {}: {operation} failed: {source}; check that the disk is not full \
         and the file is writable",
        .path.display()
    )]
    Database {
        /// The database file.
        path: PathBuf,
        /// What the store was doing, e.g. `"begin attempt"`.
        operation: &'static str,
        /// SQLite's error.
        #[source]
        source: rusqlite::Error,
    },

    /// `create_run` with a run id that is already recorded.
    #[error(
        "run {run_id} already exists in the state database; use a new run id, or resume \
         the existing run with `pipeline resume {run_id}`"
    )]
    RunExists {
        /// The run id.
        run_id: String,
    },

    /// The run id is not recorded.
    #[error("run {run_id} is not in the state database; list the known runs with `pipeline runs`")]
    RunNotFound {
        /// The run id.
        run_id: String,
    },

    /// The step id is not part of the run.
    #[error(
        "step {step_id} is not part of run {run_id}; list its steps with \
         `pipeline status {run_id}`"
    )]
    StepNotFound {
        /// The run id.
        run_id: String,
        /// The step id.
        step_id: String,
    },

    /// A step id was given twice for one run (twice in a plan, or added again on resume).
    #[error(
        "step {step_id} appears twice in run {run_id}; a step id must be unique within a \
         run (this is a bug in the planner or in resume)"
    )]
    StepExists {
        /// The run id.
        run_id: String,
        /// The step id.
        step_id: String,
    },

    /// An attempt began with a number not above the step's last one (attempt numbers
    /// only go up, across resumes).
    #[error(
        "attempt {attempt} of step {step_id} in run {run_id} cannot begin: attempt {last} \
         was recorded already; this is a bug in the engine"
    )]
    AttemptOutOfOrder {
        /// The run id.
        run_id: String,
        /// The step id.
        step_id: String,
        /// The attempt number asked for.
        attempt: u32,
        /// The step's last recorded attempt.
        last: u32,
    },

    /// An attempt finished that never began.
    #[error(
        "attempt {attempt} of step {step_id} in run {run_id} was never started; this is a \
         bug in the engine"
    )]
    AttemptNotFound {
        /// The run id.
        run_id: String,
        /// The step id.
        step_id: String,
        /// The attempt number (1-based).
        attempt: u32,
    },

    /// A run id that cannot name a lock file.
    #[error(
        "invalid run id {run_id:?}: a run id must be 1 to 128 characters of letters, \
         digits, '.', '_' or '-', and must not start with '.'"
    )]
    InvalidRunId {
        /// The rejected run id.
        run_id: String,
    },

    /// The run lock file could not be opened, locked or written.
    #[error(
        "cannot use run lock file {}: {source}; check that its directory is writable",
        .path.display()
    )]
    LockFile {
        /// The lock file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },

    /// Another process holds the run's lock, i.e. drives the run right now.
    #[error(
        "run {run_id} is being driven by another pipeline process{}; wait for it to finish \
         or stop it, then retry",
        holder(.pid)
    )]
    RunLocked {
        /// The run id.
        run_id: String,
        /// Pid of the holder, as it wrote into the lock file (`None` if not readable yet).
        pid: Option<u32>,
    },
}

fn holder(pid: &Option<u32>) -> String {
    match pid {
        Some(pid) => format!(" (pid {pid})"),
        None => String::new(),
    }
}

impl StateError {
    /// Sorts a rusqlite error of `operation` on the database at `path` into a variant:
    /// busy/locked -> [`StateError::Busy`], not a database -> [`StateError::NotADatabase`],
    /// corrupt -> [`StateError::Corrupt`], anything else -> [`StateError::Database`].
    pub(crate) fn from_sqlite(
        path: &Path,
        operation: &'static str,
        source: rusqlite::Error,
    ) -> Self {
        let path = path.to_path_buf();
        match source.sqlite_error_code() {
            Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => StateError::Busy { path },
            Some(ErrorCode::NotADatabase) => StateError::NotADatabase { path },
            Some(ErrorCode::DatabaseCorrupt) => StateError::Corrupt { path, source },
            _ => StateError::Database {
                path,
                operation,
                source,
            },
        }
    }
}
