//! The server's shared state: where the repository and its state database are, the
//! journal watcher's latest event id, and the runs this process drives.
//!
//! The server keeps no copy of run state: every answer is read from the state database
//! (the engine's queries), so runs driven by other processes look the same as its own.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use pipeline_core::engine::{EngineError, Reporter, RunSummary};
use pipeline_core::state::JournalEntry;
use tokio::sync::{oneshot, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::api_error::ApiError;
use super::journal_reader::JournalReader;

/// State shared by every handler (`Arc<App>`).
pub struct App {
    /// The repository root (canonical).
    pub repo_root: PathBuf,
    /// `--db` / `$PIPELINE_DB` (absolute), or `None` for `.pipeline/state.db`.
    pub db: Option<PathBuf>,
    /// The run locks' directory.
    pub locks_dir: PathBuf,
    /// Pages of the journal for the event streams.
    pub journal: JournalReader,
    /// The state database, for resolving run ids (one connection, opened at start).
    pub state: pipeline_core::state::StateStore,
    /// The newest journal id the watcher has seen.
    pub latest_event: watch::Receiver<i64>,
    /// Runs this process drives, by run id.
    driven: Mutex<HashMap<String, Driven>>,
    /// The tasks driving them (awaited at shutdown).
    pub tasks: TaskTracker,
    /// Cancelled when the server shuts down: event streams end, driven runs stop.
    pub shutdown: CancellationToken,
    /// The OpenAPI document, rendered once.
    pub openapi: String,
}

impl App {
    /// A new state for the repository at `repo_root`.
    #[allow(clippy::too_many_arguments, reason = "one constructor, called once")]
    pub fn new(
        repo_root: PathBuf,
        db: Option<PathBuf>,
        locks_dir: PathBuf,
        journal: JournalReader,
        state: pipeline_core::state::StateStore,
        latest_event: watch::Receiver<i64>,
        shutdown: CancellationToken,
        openapi: String,
    ) -> App {
        App {
            repo_root,
            db,
            locks_dir,
            journal,
            state,
            latest_event,
            driven: Mutex::new(HashMap::new()),
            tasks: TaskTracker::new(),
            shutdown,
            openapi,
        }
    }

    /// The repository, as the engine's queries take it.
    pub fn repo(&self) -> Option<&std::path::Path> {
        Some(&self.repo_root)
    }

    /// The state database, as the engine's queries take it.
    pub fn db(&self) -> Option<&std::path::Path> {
        self.db.as_deref()
    }

    fn driven(&self) -> std::sync::MutexGuard<'_, HashMap<String, Driven>> {
        self.driven.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits until a run this process was asked to stop has stopped (its driver task
    /// ended, its lock released), at most [`STOP_WAIT`]. Returns at once when the run is
    /// not driven here or was not asked to stop.
    pub async fn wait_stopped(&self, run_id: &str) {
        let done = match self.driven().get(run_id) {
            Some(d) if d.cancel.is_cancelled() => d.done.clone(),
            _ => return,
        };
        let _ = tokio::time::timeout(STOP_WAIT, done.cancelled()).await;
    }

    /// Whether this process drives `run_id`.
    pub fn drives(&self, run_id: &str) -> bool {
        self.driven().contains_key(run_id)
    }

    /// Cancels `run_id` if this process drives it; returns whether it did.
    pub fn cancel(&self, run_id: &str) -> bool {
        match self.driven().get(run_id) {
            Some(d) => {
                d.cancel.cancel();
                true
            }
            None => false,
        }
    }

    /// Cancels every run this process drives (shutdown).
    pub fn cancel_all(&self) {
        for d in self.driven().values() {
            d.cancel.cancel();
        }
    }

    /// The id of `run` (or `latest`). Errors: 404 `unknown_run` for an unknown run or
    /// none recorded, 500/503 for the database.
    pub fn resolve_run(&self, run: &str) -> Result<pipeline_core::state::RunRecord, ApiError> {
        pipeline_core::engine::resolve_run(&self.state, Some(run))
            .map_err(|e| ApiError::input_as_not_found(e, "unknown_run"))
    }

    /// Drives run `run_id` in a task of this process: `start` is `run_workstreams` or
    /// `resume_run` given a reporter and the run's cancel token. Returns once the run's
    /// first journal entry is recorded (the run exists and is driven here), or with the
    /// error that stopped it before that (an invalid file, an unfinished run, a locked
    /// run...). The run goes on after the request ends; it stops on cancel or shutdown,
    /// recorded `interrupted` and resumable, as `pipeline run` on a signal.
    pub async fn drive<F>(self: &Arc<App>, run_id: &str, start: F) -> Result<(), ApiError>
    where
        F: FnOnce(Arc<dyn Reporter>, CancellationToken) -> RunFuture,
    {
        let cancel = self.shutdown.child_token();
        let done = CancellationToken::new();
        {
            let mut driven = self.driven();
            if driven.contains_key(run_id) {
                return Err(ApiError::conflict(
                    "run_locked",
                    format!("run {run_id} is already driven by this server"),
                ));
            }
            driven.insert(
                run_id.to_owned(),
                Driven {
                    cancel: cancel.clone(),
                    done: done.clone(),
                },
            );
        }
        let (started, on_start) = oneshot::channel();
        let reporter: Arc<dyn Reporter> = Arc::new(FirstEntry(Mutex::new(Some(started))));
        let future = start(reporter, cancel);
        let app = self.clone();
        let id = run_id.to_owned();
        let task = self.tasks.spawn(async move {
            let result = future.await;
            app.driven().remove(&id);
            done.cancel();
            match &result {
                Ok(summary) => tracing::info!(
                    run = %summary.run_id,
                    status = %summary.status,
                    "run finished"
                ),
                Err(e) => tracing::warn!(run = %id, "run stopped: {e}"),
            }
            result
        });
        match on_start.await {
            Ok(()) => Ok(()),
            // The reporter was dropped without an entry: the run ended before it began.
            Err(_) => match task.await {
                Ok(Err(e)) => Err(e.into()),
                Ok(Ok(_)) => Ok(()),
                Err(e) => Err(ApiError::internal(format!("the run's task failed: {e}"))),
            },
        }
    }
}

/// How long a resume waits for this server's own stopping run to stop: 60 s.
pub const STOP_WAIT: std::time::Duration = std::time::Duration::from_secs(60);

/// A run this process drives.
struct Driven {
    /// Stops it.
    cancel: CancellationToken,
    /// Cancelled once its driver task has ended.
    done: CancellationToken,
}

/// A run's future, as [`App::drive`] spawns it.
pub type RunFuture =
    std::pin::Pin<Box<dyn Future<Output = Result<RunSummary, EngineError>> + Send>>;

/// Signals once, at the run's first journal entry.
struct FirstEntry(Mutex<Option<oneshot::Sender<()>>>);

impl Reporter for FirstEntry {
    fn report(&self, _entry: &JournalEntry) {
        if let Some(tx) = self.0.lock().unwrap_or_else(PoisonError::into_inner).take() {
            let _ = tx.send(());
        }
    }
}

/// Runs `f` (a blocking engine query) on the blocking pool.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::internal(format!("a query task failed: {e}")))?
}
