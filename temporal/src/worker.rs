//! `pipeline worker`: polls a Temporal cluster for the `pipeline-run` workflow and the
//! step activities, and runs steps in its own clone of the repository.
//!
//! One SDK worker polls the main task queue (workflow tasks, steps without a capability
//! or tool profile, the final merge); one more per `--capability C` polls `<queue>@C` for
//! the activities of steps that need C, and one per tool profile installed here
//! ([`WorkerConfig::tools`]) polls `<queue>@tool:<profile>` for the steps that use it. `--jobs N` bounds the step activities each of them runs at once.
//! SIGINT/SIGTERM start a graceful shutdown: no new tasks are polled, running steps go on
//! until they end (their heartbeats keep them alive), then the process exits.

use std::path::PathBuf;

use temporalio_sdk::runtime::worker_tuner::{FixedSizeSlotSupplier, TunerHolder};
use temporalio_sdk::{Runtime, Worker, WorkerOptions};

use crate::connection::{ConnectionSettings, connect, identity};
use crate::git_cli::check_remote;
use crate::run_plan::{capability_queue, tool_queue};
use crate::run_workflow::PipelineRun;
use crate::step_activities::{StepActivities, WorkerSetup};
use crate::temporal_error::TemporalError;

/// Workflow tasks a worker handles at once (they are short: scheduling decisions only).
const WORKFLOW_SLOTS: usize = 10;

/// `pipeline worker`'s options.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// `--temporal`, `--namespace`, TLS and API key (flags, else `.pipeline/config.yaml`).
    pub connection: ConnectionSettings,
    /// `--task-queue`: the main task queue.
    pub task_queue: String,
    /// `--repo`: the worker's clone of the shared repository.
    pub repo: PathBuf,
    /// `--remote`: the name of the shared remote in that clone.
    pub remote: String,
    /// `--jobs`: step activities at once, per task queue.
    pub jobs: usize,
    /// `--capability`: capabilities this worker has; it also polls their task queues.
    pub capabilities: Vec<String>,
    /// Tool profiles that can run here (their command is installed, as `pipeline tools`
    /// checks it in the worker's clone): it also polls their task queues
    /// ([`tool_queue`]), so steps using a tool run only on workers that have it.
    pub tools: Vec<String>,
    /// Environment variables the steps must not see (the API key's variable): removed
    /// from the environment of `pipeline step exec`.
    pub hidden_env: Vec<String>,
    /// The `pipeline` binary for `pipeline step exec` (normally the worker's own).
    pub pipeline_bin: PathBuf,
}

/// Runs the worker until `shutdown` resolves (then drains) or a poller fails. Errors:
/// [`TemporalError::Invalid`] (no repository, no such remote, bad capability name),
/// [`TemporalError::Unreachable`] (no server at the address), [`TemporalError::Server`].
pub async fn run_worker(
    config: WorkerConfig,
    shutdown: impl Future<Output = ()>,
) -> Result<(), TemporalError> {
    for c in &config.capabilities {
        if c.is_empty() || c.chars().any(|ch| ch.is_whitespace() || ch == '@') {
            return Err(TemporalError::Invalid(format!(
                "--capability `{c}`: a capability is a non-empty name without spaces or `@`"
            )));
        }
    }
    let repo = std::fs::canonicalize(&config.repo)
        .map_err(|e| TemporalError::Invalid(format!("--repo {}: {e}", config.repo.display())))?;
    check_remote(&repo, &config.remote).await?;
    let identity = identity();
    let client = connect(&config.connection, &identity).await?;
    let runtime = Runtime::from_current_tokio(Default::default())
        .map_err(|e| TemporalError::Server(format!("cannot start the worker runtime: {e}")))?;
    let setup = WorkerSetup {
        work_dir: repo.join(".pipeline").join("temporal"),
        repo: repo.clone(),
        remote: config.remote.clone(),
        pipeline_bin: config.pipeline_bin.clone(),
        identity: identity.clone(),
        hidden_env: config.hidden_env.clone(),
    };
    exclude_work_dir(&repo);

    let mut queues = vec![(config.task_queue.clone(), true)];
    for c in &config.capabilities {
        queues.push((capability_queue(&config.task_queue, c), false));
    }
    for t in &config.tools {
        queues.push((tool_queue(&config.task_queue, t), false));
    }
    let queue_names: Vec<String> = queues.iter().map(|(q, _)| q.clone()).collect();
    let mut workers = Vec::new();
    for (queue, main) in queues {
        let tuner = TunerHolder::builder()
            .workflow_task_slot_supplier(FixedSizeSlotSupplier::new(WORKFLOW_SLOTS))
            .activity_task_slot_supplier(FixedSizeSlotSupplier::new(config.jobs.max(1)))
            .local_activity_task_slot_supplier(FixedSizeSlotSupplier::new(1))
            .nexus_task_slot_supplier(FixedSizeSlotSupplier::new(1))
            .build();
        let mut options = WorkerOptions::new(queue.clone())
            .register_activities(StepActivities::new(setup.clone()))
            .tuner(tuner)
            .client_identity_override(identity.clone());
        if main {
            options = options
                .register_workflow::<PipelineRun>()
                .map_err(|e| TemporalError::Server(format!("cannot register the workflow: {e}")))?;
        }
        let worker = Worker::new(&runtime, client.clone(), options.build()).map_err(|e| {
            TemporalError::Server(format!("cannot create a worker for {queue}: {e}"))
        })?;
        workers.push(worker);
    }
    let stops: Vec<_> = workers.iter().map(Worker::shutdown_handle).collect();
    eprintln!(
        "pipeline worker {identity}: polling {} on {} (namespace {}), repository {}, {} job(s)",
        queue_names.join(", "),
        config.connection.address,
        config.connection.namespace,
        repo.display(),
        config.jobs
    );
    let runs = futures_util::future::try_join_all(workers.iter_mut().map(Worker::run));
    tokio::pin!(runs);
    tokio::select! {
        r = &mut runs => return r.map(|_| ()).map_err(|e| TemporalError::Server(e.to_string())),
        () = shutdown => {
            eprintln!("pipeline worker {identity}: shutting down; running steps finish first");
            for stop in &stops {
                stop();
            }
        }
    }
    runs.await
        .map(|_| ())
        .map_err(|e| TemporalError::Server(e.to_string()))
}

/// Keeps the worker's directory out of `git status` of its clone (info/exclude).
fn exclude_work_dir(repo: &std::path::Path) {
    match pipeline_core::git::Repository::open(repo) {
        Ok(r) => {
            if let Err(e) = r.ensure_excluded("/.pipeline/") {
                tracing::warn!("cannot exclude .pipeline/ in {}: {e}", repo.display());
            }
        }
        Err(e) => tracing::warn!("cannot open {}: {e}", repo.display()),
    }
}
