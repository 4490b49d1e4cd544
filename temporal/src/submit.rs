//! Submitting a planned run to Temporal and following it to its end
//! (`pipeline run --engine temporal`).
//!
//! The submitter pushes the base commit to `refs/pipeline-base/<run>` on the shared remote
//! (a no-op transfer when the remote has it), starts the workflow `pipeline-run/<run>`,
//! then polls its `state` query and reports each step whose status changed, while it
//! waits for the workflow's result. A cancel request (Ctrl-C) cancels the workflow, which
//! stops its running steps; following goes on until the workflow has ended. At the end the
//! result branch `pipeline/<run>` is fetched from the remote into the local repository.
//! [`submit`] and [`follow`] are separate so that `pipeline resume` follows a run that
//! another process (or machine) submitted.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use temporalio_client::errors::WorkflowGetResultError;
use temporalio_client::{
    WorkflowCancelOptions, WorkflowGetResultOptions, WorkflowIdReusePolicy, WorkflowQueryOptions,
    WorkflowStartOptions,
};

use crate::connection::{ConnectionSettings, connect, identity};
use crate::git_cli::{check_remote, git};
use crate::run_plan::{RunPlan, base_ref, result_branch, workflow_id};
use crate::run_workflow::{PipelineRun, RunState, StepState};
use crate::temporal_error::TemporalError;

/// How often the submitter asks the workflow for its state.
const POLL_EVERY: Duration = Duration::from_millis(500);
/// How long one `state` query may take before the follower gives up on it and asks
/// again at the next tick.
const QUERY_PATIENCE: Duration = Duration::from_secs(2);
/// How long the submitter keeps following a workflow while the server does not answer
/// (a restart of the server loses nothing: the workflow is in its store).
const OUTAGE_LIMIT: Duration = Duration::from_secs(120);

/// Where to submit.
#[derive(Debug, Clone)]
pub struct SubmitConfig {
    /// `--temporal`, `--namespace`, TLS and API key (flags, else `.pipeline/config.yaml`).
    pub connection: ConnectionSettings,
    /// The local repository (its root).
    pub repo: PathBuf,
    /// The name of the shared remote in it (`--remote`, default `origin`).
    pub remote: String,
}

/// Pushes the base commit to `refs/pipeline-base/<run>` on the shared remote and starts
/// workflow `pipeline-run/<run>` with `plan` as its input; returns once the server
/// accepted it (follow it with [`follow`]). Errors: see [`TemporalError`]; a workflow id
/// already in use is [`TemporalError::Invalid`].
pub async fn submit(config: &SubmitConfig, plan: RunPlan) -> Result<(), TemporalError> {
    check_remote(&config.repo, &config.remote).await?;
    let client = connect(&config.connection, &identity()).await?;
    let base = format!("{}:{}", plan.base_commit, base_ref(&plan.run_id));
    // Not forced: a ref left by another run with this id at another commit is refused.
    git(
        &config.repo,
        &["push", "--quiet", "--", &config.remote, &base],
    )
    .await?;
    let id = workflow_id(&plan.run_id);
    // A run id names its result branches: never start a second workflow with it.
    let options = WorkflowStartOptions::new(plan.task_queue.clone(), id.clone())
        .id_reuse_policy(WorkflowIdReusePolicy::RejectDuplicate)
        .build();
    client
        .start_workflow(PipelineRun::run, plan, options)
        .await
        .map_err(|e| {
            let text = e.to_string();
            if text.to_lowercase().contains("already") {
                TemporalError::Invalid(format!(
                    "workflow {id} already exists on the server: pass another --run-id"
                ))
            } else {
                TemporalError::Server(format!("cannot start workflow {id}: {text}"))
            }
        })?;
    Ok(())
}

/// Follows the workflow of run `run_id` to its end (started by [`submit`], here or on
/// another machine: this is also how `pipeline resume` attaches to a Temporal run).
/// `on_state` gets the workflow's state after every poll that answered (every
/// 0.5 s) and the final state once more; `cancel` resolving cancels the workflow, and
/// following goes on until the workflow has ended. At the end the result branch
/// `pipeline/<run>` is fetched from the remote into the local repository. Returns the
/// final state. Errors: [`TemporalError::Invalid`] when the server has no such
/// workflow, [`TemporalError::Server`] after an outage of more than 120 s, git errors of
/// the final fetch.
pub async fn follow(
    config: &SubmitConfig,
    run_id: &str,
    cancel: impl Future<Output = ()>,
    on_state: &mut dyn FnMut(&RunState),
) -> Result<RunState, TemporalError> {
    let client = connect(&config.connection, &identity()).await?;
    let id = workflow_id(run_id);
    let handle = client.get_workflow_handle::<PipelineRun>(id.clone());
    let result = handle.get_result(WorkflowGetResultOptions::default());
    tokio::pin!(result);
    tokio::pin!(cancel);
    let mut cancel_sent = false;
    let mut outage: Option<Instant> = None;
    let mut ticker = tokio::time::interval(POLL_EVERY);
    let final_state = loop {
        tokio::select! {
            r = &mut result => match r {
                Ok(state) => break state,
                // The server is unreachable or restarting: the workflow lives on in its
                // store; keep following for a while.
                Err(WorkflowGetResultError::NotFound(_)) => {
                    return Err(no_such_workflow(&id, &config.connection.address));
                }
                Err(WorkflowGetResultError::Rpc(status)) => {
                    let since = *outage.get_or_insert_with(Instant::now);
                    if since.elapsed() > OUTAGE_LIMIT {
                        return Err(TemporalError::Server(format!(
                            "lost the server while following workflow {id} for more than {} s: \
                             {status}; the run goes on: `pipeline resume {run_id}` attaches \
                             to it again",
                            OUTAGE_LIMIT.as_secs()
                        )));
                    }
                    tokio::time::sleep(POLL_EVERY).await;
                    result.set(handle.get_result(WorkflowGetResultOptions::default()));
                }
                Err(e) => return Err(TemporalError::Server(format!("workflow {id}: {e}"))),
            },
            () = &mut cancel, if !cancel_sent => {
                cancel_sent = true;
                let opts = WorkflowCancelOptions::builder()
                    .reason("cancelled by the submitter".to_string())
                    .build();
                handle
                    .cancel(opts)
                    .await
                    .map_err(|e| TemporalError::Server(format!("cannot cancel {id}: {e}")))?;
            }
            _ = ticker.tick() => {
                // A query can fail while no worker polls yet, or wait for a busy one: it
                // gets one poll interval's worth of patience (the next tick asks again);
                // the result stays authoritative.
                let query = handle.query(PipelineRun::state, (), WorkflowQueryOptions::default());
                if let Ok(Ok(state)) = tokio::time::timeout(QUERY_PATIENCE, query).await {
                    outage = None;
                    on_state(&state);
                }
            }
        }
    };
    on_state(&final_state);
    if final_state.result_commit.is_some() {
        let branch = result_branch(run_id);
        let spec = format!("+refs/heads/{branch}:refs/heads/{branch}");
        git(
            &config.repo,
            &["fetch", "--quiet", "--no-tags", "--", &config.remote, &spec],
        )
        .await?;
    }
    Ok(final_state)
}

/// The error for a workflow id the server does not know.
pub(crate) fn no_such_workflow(id: &str, address: &str) -> TemporalError {
    TemporalError::Invalid(format!(
        "the Temporal server at {address} has no workflow {id}: check the run id, \
         --temporal and --namespace"
    ))
}

/// Tracks which steps changed between two states of a run, for printing transitions.
#[derive(Debug, Default)]
pub struct StepChanges {
    last: Vec<StepState>,
}

impl StepChanges {
    /// Calls `on_step` for every step of `now` whose status or lost-worker count
    /// differs from the state seen before, then remembers `now`.
    pub fn report(&mut self, now: &[StepState], on_step: &mut dyn FnMut(&StepState)) {
        for (i, step) in now.iter().enumerate() {
            let changed = self.last.get(i).is_none_or(|old| {
                old.status != step.status || old.worker_losses != step.worker_losses
            });
            if changed {
                on_step(step);
            }
        }
        self.last = now.to_vec();
    }
}
