//! [`StateStore`]: the SQLite database every state change of a run is written to first.
//!
//! One rusqlite connection in WAL mode sits behind an `Arc<Mutex<_>>`, so the store is
//! cheap to clone and share between the engine's tasks. Each method is one short
//! transaction (`BEGIN IMMEDIATE` for writes, so two processes never deadlock upgrading
//! a read lock) using cached prepared statements; connection setup (PRAGMAs, migrations)
//! happens once in [`StateStore::open`]. WAL lets `pipeline status` read while a run
//! writes; `busy_timeout` makes a writer wait up to [`BUSY_TIMEOUT`] for another one.
//!
//! Every state-changing method also appends an event (see [`event_kind`]) in the same
//! transaction, so the journal and the tables never disagree.

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};
use serde_json::json;

use super::records::json_column;
use super::{
    AttemptOutcome, AttemptRecord, AttemptResult, Checkpoint, Durability, EventRecord, NewRun,
    NewStep, RunRecord, RunStatus, StateError, StepRecord, StepStatus, event_kind, migrations,
    timestamp_now,
};

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
    conn: Mutex<Connection>,
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
    /// header: a non-SQLite file, another application's database or a schema newer than
    /// [`migrations::SCHEMA_VERSION`] is refused and left byte-for-byte unchanged. Then it
    /// sets `journal_mode=WAL`, `foreign_keys=ON`, `busy_timeout=5000` ms and
    /// `synchronous` per `durability`, and applies missing migrations in order.
    ///
    /// Errors: [`StateError::CreateDir`], [`StateError::NotADatabase`],
    /// [`StateError::ForeignDatabase`], [`StateError::NewerSchema`], [`StateError::Busy`],
    /// [`StateError::Migration`], [`StateError::Database`] (e.g. permission denied).
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
                conn: Mutex::new(conn),
            }),
        })
    }

    /// The database file this store was opened on.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Records a new run with status `running`, all its steps `pending`, and a
    /// [`event_kind::RUN_CREATED`] event, in one transaction.
    ///
    /// Errors: [`StateError::RunExists`] if `run.run_id` is recorded already;
    /// [`StateError::StepExists`] if a step id appears twice in `run.steps` (nothing is
    /// recorded then).
    pub fn create_run(&self, run: &NewRun) -> Result<(), StateError> {
        self.write("create run", |tx| {
            let now = timestamp_now();
            let inserted = tx
                .prepare_cached(
                    "INSERT INTO runs (run_id, workstream_path, repo_path, base_commit, \
                     result_branch, status, jobs, plan_hash, started_at) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) \
                     ON CONFLICT (run_id) DO NOTHING",
                )?
                .execute(params![
                    run.run_id,
                    run.workstream_path,
                    run.repo_path,
                    run.base_commit,
                    run.result_branch,
                    RunStatus::Running,
                    run.jobs,
                    run.plan_hash,
                    now,
                ])?;
            if inserted == 0 {
                return Err(StateError::RunExists {
                    run_id: run.run_id.clone(),
                }
                .into());
            }
            insert_steps(tx, &run.run_id, &run.steps)?;
            insert_event(
                tx,
                &run.run_id,
                None,
                &now,
                event_kind::RUN_CREATED,
                &json!({
                    "status": RunStatus::Running,
                    "steps": run.steps.len(),
                    "jobs": run.jobs,
                    "plan_hash": run.plan_hash,
                }),
            )?;
            Ok(())
        })
    }

    /// Sets a run's status and appends a [`event_kind::RUN_STATUS`] event. A terminal
    /// status ([`RunStatus::is_terminal`]) sets `finished_at` to now; `running` and
    /// `interrupted` clear it (the run can still be resumed).
    ///
    /// Errors: [`StateError::RunNotFound`].
    pub fn set_run_status(&self, run_id: &str, status: RunStatus) -> Result<(), StateError> {
        self.write("set run status", |tx| {
            let now = timestamp_now();
            update_run_status(tx, run_id, status, &now)
        })
    }

    /// Adds steps to an existing run, `pending`, with one [`event_kind::STEP_ADDED`] event
    /// each: on resume, the steps that are new in the definition.
    ///
    /// Errors: [`StateError::RunNotFound`]; [`StateError::StepExists`] if a step id is in
    /// the run already (nothing is added then).
    pub fn add_steps(&self, run_id: &str, steps: &[NewStep]) -> Result<(), StateError> {
        self.write("add steps", |tx| {
            require_run(tx, run_id)?;
            insert_steps(tx, run_id, steps)?;
            let now = timestamp_now();
            for step in steps {
                insert_event(
                    tx,
                    run_id,
                    Some(&step.step_id),
                    &now,
                    event_kind::STEP_ADDED,
                    &json!({
                        "workstream_id": step.workstream_id,
                        "definition_hash": step.definition_hash,
                        "depends_on": step.depends_on,
                    }),
                )?;
            }
            Ok(())
        })
    }

    /// Begins the next attempt of a step, in one transaction: the step becomes `running`
    /// (its error and `finished_at` cleared, `started_at` set if it never ran, `worktree`
    /// recorded), its attempt counter goes up by one, an attempt row is inserted and an
    /// [`event_kind::ATTEMPT_STARTED`] event appended.
    ///
    /// `worktree` is the step's worktree path (`None` for `isolation: none`), `log_path`
    /// the attempt's log file. Returns the attempt number: 1-based, continuing across
    /// resumes and resets (it is never reused).
    ///
    /// Errors: [`StateError::StepNotFound`].
    pub fn begin_attempt(
        &self,
        run_id: &str,
        step_id: &str,
        worktree: Option<&str>,
        log_path: &str,
    ) -> Result<u32, StateError> {
        self.write("begin attempt", |tx| {
            let now = timestamp_now();
            let attempt: Option<u32> = tx
                .prepare_cached(
                    "UPDATE steps SET status = ?3, attempts = attempts + 1, \
                     started_at = coalesce(started_at, ?4), finished_at = NULL, error = NULL, \
                     worktree = ?5 \
                     WHERE run_id = ?1 AND step_id = ?2 RETURNING attempts",
                )?
                .query_row(
                    params![run_id, step_id, StepStatus::Running, now, worktree],
                    |row| row.get(0),
                )
                .optional()?;
            let Some(attempt) = attempt else {
                return Err(step_not_found(run_id, step_id));
            };
            tx.prepare_cached(
                "INSERT INTO attempts (run_id, step_id, attempt, started_at, log_path) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![run_id, step_id, attempt, now, log_path])?;
            insert_event(
                tx,
                run_id,
                Some(step_id),
                &now,
                event_kind::ATTEMPT_STARTED,
                &json!({ "attempt": attempt, "worktree": worktree, "log_path": log_path }),
            )?;
            Ok(attempt)
        })
    }

    /// Sets a step's status and error, and appends a [`event_kind::STEP_STATUS`] event.
    ///
    /// `error` replaces the stored error (`None` clears it). A terminal status
    /// ([`StepStatus::is_terminal`]) sets `finished_at` to now, any other clears it. Use
    /// [`StateStore::complete_step`] to complete a step: it also records the checkpoint.
    ///
    /// Errors: [`StateError::StepNotFound`].
    pub fn set_step_status(
        &self,
        run_id: &str,
        step_id: &str,
        status: StepStatus,
        error: Option<&str>,
    ) -> Result<(), StateError> {
        self.write("set step status", |tx| {
            let now = timestamp_now();
            let finished_at = status.is_terminal().then_some(now.as_str());
            let changed = tx
                .prepare_cached(
                    "UPDATE steps SET status = ?3, error = ?4, finished_at = ?5 \
                     WHERE run_id = ?1 AND step_id = ?2",
                )?
                .execute(params![run_id, step_id, status, error, finished_at])?;
            if changed == 0 {
                return Err(step_not_found(run_id, step_id));
            }
            insert_event(
                tx,
                run_id,
                Some(step_id),
                &now,
                event_kind::STEP_STATUS,
                &json!({ "status": status, "error": error }),
            )?;
            Ok(())
        })
    }

    /// Records how an attempt ended (`finished_at` = now, outcome, exit code, error,
    /// duration in milliseconds) and appends an [`event_kind::ATTEMPT_FINISHED`] event.
    /// Finishing an attempt again overwrites the earlier outcome (the engine's report
    /// wins over the `interrupted` written by [`StateStore::interrupt_run`]). The step's
    /// own status is left to [`StateStore::set_step_status`] / [`StateStore::complete_step`].
    ///
    /// Errors: [`StateError::AttemptNotFound`].
    pub fn finish_attempt(
        &self,
        run_id: &str,
        step_id: &str,
        attempt: u32,
        outcome: &AttemptOutcome,
    ) -> Result<(), StateError> {
        self.write("finish attempt", |tx| {
            let now = timestamp_now();
            // u64 milliseconds only overflow i64 after 292 million years.
            let duration_ms = i64::try_from(outcome.duration_ms).unwrap_or(i64::MAX);
            let changed = tx
                .prepare_cached(
                    "UPDATE attempts SET finished_at = ?4, outcome = ?5, exit_code = ?6, \
                     error = ?7, duration_ms = ?8 \
                     WHERE run_id = ?1 AND step_id = ?2 AND attempt = ?3",
                )?
                .execute(params![
                    run_id,
                    step_id,
                    attempt,
                    now,
                    outcome.outcome,
                    outcome.exit_code,
                    outcome.error,
                    duration_ms,
                ])?;
            if changed == 0 {
                return Err(StateError::AttemptNotFound {
                    run_id: run_id.to_owned(),
                    step_id: step_id.to_owned(),
                    attempt,
                }
                .into());
            }
            insert_event(
                tx,
                run_id,
                Some(step_id),
                &now,
                event_kind::ATTEMPT_FINISHED,
                &json!({
                    "attempt": attempt,
                    "outcome": outcome.outcome,
                    "exit_code": outcome.exit_code,
                    "error": outcome.error,
                    "duration_ms": outcome.duration_ms,
                }),
            )?;
            Ok(())
        })
    }

    /// Completes a step, in one transaction: status `completed`, result commit and
    /// `finished_at` set, error cleared, its checkpoint written (replacing an older one)
    /// and an [`event_kind::STEP_COMPLETED`] event appended. Call it only once the
    /// commit exists (write-ahead discipline, DESIGN.md "State and resume").
    ///
    /// Errors: [`StateError::StepNotFound`].
    pub fn complete_step(
        &self,
        run_id: &str,
        step_id: &str,
        checkpoint: &Checkpoint,
    ) -> Result<(), StateError> {
        self.write("complete step", |tx| {
            let now = timestamp_now();
            let changed = tx
                .prepare_cached(
                    "UPDATE steps SET status = ?3, result_commit = ?4, finished_at = ?5, \
                     error = NULL \
                     WHERE run_id = ?1 AND step_id = ?2",
                )?
                .execute(params![
                    run_id,
                    step_id,
                    StepStatus::Completed,
                    checkpoint.commit,
                    now,
                ])?;
            if changed == 0 {
                return Err(step_not_found(run_id, step_id));
            }
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
                step_id,
                checkpoint.commit,
                checkpoint.definition_hash,
                checkpoint.outputs.to_string(),
                now,
            ])?;
            insert_event(
                tx,
                run_id,
                Some(step_id),
                &now,
                event_kind::STEP_COMPLETED,
                &json!({
                    "commit": checkpoint.commit,
                    "definition_hash": checkpoint.definition_hash,
                }),
            )?;
            Ok(())
        })
    }

    /// Resets a step for resume: status `pending`, result commit, error and
    /// `finished_at` cleared, `definition_hash` replaced, checkpoint deleted, and a
    /// [`event_kind::STEP_RESET`] event appended. Attempt rows and the attempt counter
    /// are kept, so the next attempt number continues.
    ///
    /// Errors: [`StateError::StepNotFound`].
    pub fn reset_step(
        &self,
        run_id: &str,
        step_id: &str,
        definition_hash: &str,
    ) -> Result<(), StateError> {
        self.write("reset step", |tx| {
            let previous: Option<StepStatus> = tx
                .prepare_cached("SELECT status FROM steps WHERE run_id = ?1 AND step_id = ?2")?
                .query_row(params![run_id, step_id], |row| row.get(0))
                .optional()?;
            let Some(previous) = previous else {
                return Err(step_not_found(run_id, step_id));
            };
            tx.prepare_cached(
                "UPDATE steps SET status = ?3, result_commit = NULL, error = NULL, \
                 finished_at = NULL, definition_hash = ?4 \
                 WHERE run_id = ?1 AND step_id = ?2",
            )?
            .execute(params![
                run_id,
                step_id,
                StepStatus::Pending,
                definition_hash
            ])?;
            tx.prepare_cached("DELETE FROM checkpoints WHERE run_id = ?1 AND step_id = ?2")?
                .execute(params![run_id, step_id])?;
            insert_event(
                tx,
                run_id,
                Some(step_id),
                &timestamp_now(),
                event_kind::STEP_RESET,
                &json!({ "previous_status": previous, "definition_hash": definition_hash }),
            )?;
            Ok(())
        })
    }

    /// Marks a run whose driving process stopped as `interrupted`, in one transaction:
    /// the run's status, every active step ([`StepStatus::is_active`]: running,
    /// validating, retrying, waiting) becomes `interrupted`, and every unfinished attempt
    /// gets outcome `interrupted` and `finished_at` = now (duration unknown). Appends a
    /// [`event_kind::RUN_STATUS`] event and one [`event_kind::STEP_STATUS`] event per step.
    ///
    /// Resume calls it on a run left `running` by a crashed process (after taking the
    /// [`RunLock`](super::RunLock)); the engine may call it on Ctrl-C. Returns the ids of
    /// the interrupted steps in insertion order.
    ///
    /// Errors: [`StateError::RunNotFound`].
    pub fn interrupt_run(&self, run_id: &str) -> Result<Vec<String>, StateError> {
        self.write("interrupt run", |tx| {
            let now = timestamp_now();
            update_run_status(tx, run_id, RunStatus::Interrupted, &now)?;
            let active: Vec<String> = tx
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
                        StepStatus::Waiting,
                    ],
                    |row| row.get(0),
                )?
                .collect::<Result<_, _>>()?;
            let error = "the pipeline process driving the run stopped";
            for step_id in &active {
                tx.prepare_cached(
                    "UPDATE steps SET status = ?3, error = ?4 WHERE run_id = ?1 AND step_id = ?2",
                )?
                .execute(params![
                    run_id,
                    step_id,
                    StepStatus::Interrupted,
                    error
                ])?;
                insert_event(
                    tx,
                    run_id,
                    Some(step_id),
                    &now,
                    event_kind::STEP_STATUS,
                    &json!({ "status": StepStatus::Interrupted, "error": error }),
                )?;
            }
            tx.prepare_cached(
                "UPDATE attempts SET outcome = ?2, finished_at = ?3, error = ?4 \
                 WHERE run_id = ?1 AND finished_at IS NULL",
            )?
            .execute(params![run_id, AttemptResult::Interrupted, now, error])?;
            Ok(active)
        })
    }

    /// Appends an event of any `kind` with JSON `data` to the run's journal (for a step
    /// when `step_id` is given). Returns the event id, which increases with every event
    /// and is never reused.
    ///
    /// Errors: [`StateError::RunNotFound`], [`StateError::StepNotFound`].
    pub fn append_event(
        &self,
        run_id: &str,
        step_id: Option<&str>,
        kind: &str,
        data: &serde_json::Value,
    ) -> Result<i64, StateError> {
        self.write("append event", |tx| {
            require_run(tx, run_id)?;
            if let Some(step_id) = step_id {
                let exists = tx
                    .prepare_cached("SELECT 1 FROM steps WHERE run_id = ?1 AND step_id = ?2")?
                    .exists(params![run_id, step_id])?;
                if !exists {
                    return Err(step_not_found(run_id, step_id));
                }
            }
            insert_event(tx, run_id, step_id, &timestamp_now(), kind, data)
        })
    }

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
    /// path given to `create_run`) whose status is `running` or `interrupted`, i.e. the
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

    /// The run's events with an id greater than `after_id`, oldest first. Pass 0 for all
    /// of them, then the last id seen to follow the run.
    pub fn events(&self, run_id: &str, after_id: i64) -> Result<Vec<EventRecord>, StateError> {
        self.read("list events", |conn| {
            let sql = format!(
                "SELECT {} FROM events WHERE run_id = ?1 AND id > ?2 ORDER BY id",
                EventRecord::COLUMNS
            );
            let mut statement = conn.prepare_cached(&sql)?;
            let rows = statement.query_map(params![run_id, after_id], EventRecord::from_row)?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    /// The newest event of step `step_id` of run `run_id` whose kind is one of `kinds`,
    /// or `None`. Scans the run's events (index `events_by_run`): meant for the few steps
    /// a resume re-runs, not for every step.
    pub fn last_step_event(
        &self,
        run_id: &str,
        step_id: &str,
        kinds: &[&str],
    ) -> Result<Option<EventRecord>, StateError> {
        if kinds.is_empty() {
            return Ok(None);
        }
        self.read("read the last step event", |conn| {
            let placeholders = (0..kinds.len())
                .map(|k| format!("?{}", k + 3))
                .collect::<Vec<_>>()
                .join(", ");
            let sql = format!(
                "SELECT {} FROM events WHERE run_id = ?1 AND step_id = ?2 AND kind IN ({placeholders}) \
                 ORDER BY id DESC LIMIT 1",
                EventRecord::COLUMNS
            );
            let mut values: Vec<&dyn rusqlite::ToSql> = vec![&run_id, &step_id];
            values.extend(kinds.iter().map(|kind| kind as &dyn rusqlite::ToSql));
            Ok(conn
                .prepare_cached(&sql)?
                .query_row(values.as_slice(), EventRecord::from_row)
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

fn update_run_status(
    tx: &Transaction<'_>,
    run_id: &str,
    status: RunStatus,
    now: &str,
) -> TxResult<()> {
    let finished_at = status.is_terminal().then_some(now);
    let changed = tx
        .prepare_cached("UPDATE runs SET status = ?2, finished_at = ?3 WHERE run_id = ?1")?
        .execute(params![run_id, status, finished_at])?;
    if changed == 0 {
        return Err(run_not_found(run_id));
    }
    insert_event(
        tx,
        run_id,
        None,
        now,
        event_kind::RUN_STATUS,
        &json!({ "status": status }),
    )?;
    Ok(())
}

/// Inserts `steps` as `pending`; a step id already in the run is [`StateError::StepExists`].
fn insert_steps(tx: &Transaction<'_>, run_id: &str, steps: &[NewStep]) -> TxResult<()> {
    let mut statement = tx.prepare_cached(
        "INSERT INTO steps (run_id, step_id, workstream_id, status, definition_hash, depends_on) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (run_id, step_id) DO NOTHING",
    )?;
    for step in steps {
        let depends_on = serde_json::to_string(&step.depends_on)
            .map_err(|err| rusqlite::Error::ToSqlConversionFailure(Box::new(err)))?;
        let inserted = statement.execute(params![
            run_id,
            step.step_id,
            step.workstream_id,
            StepStatus::Pending,
            step.definition_hash,
            depends_on,
        ])?;
        if inserted == 0 {
            return Err(StateError::StepExists {
                run_id: run_id.to_owned(),
                step_id: step.step_id.clone(),
            }
            .into());
        }
    }
    Ok(())
}

fn insert_event(
    tx: &Transaction<'_>,
    run_id: &str,
    step_id: Option<&str>,
    at: &str,
    kind: &str,
    data: &serde_json::Value,
) -> TxResult<i64> {
    tx.prepare_cached(
        "INSERT INTO events (run_id, step_id, at, kind, data) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![run_id, step_id, at, kind, data.to_string()])?;
    Ok(tx.last_insert_rowid())
}

mod error_records;
pub use error_records::ErrorRecord;

#[cfg(test)]
mod tests;
