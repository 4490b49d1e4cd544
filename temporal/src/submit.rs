//! Submitting a planned run to Temporal and following it to its end
//! (`pipeline run --engine temporal`).
//!
//! The submitter pushes the base commit to `refs/pipeline-base/<run>` on the shared remote
//! (a no-op transfer when the remote has it), starts the workflow `pipeline-run/<run>`,
//! then polls its `state` query and reports each step whose status changed, while it
//! waits for the workflow's result. A cancel request (Ctrl-C) cancels the workflow, which
//! stops its running steps; following goes on until the workflow has ended. At the end the
//! result branch `pipeline/<run>` is fetched from the remote into the local repository.

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

/// Pushes the base, starts the workflow and follows it: `on_step` gets every step whose
/// status changed since the last poll (and each step once at the end), `cancel` resolving
/// cancels the workflow. Returns the workflow's final state. Errors: see
/// [`TemporalError`]; a workflow id already in use is [`TemporalError::Invalid`].
pub async fn submit_and_follow(
    config: &SubmitConfig,
    plan: RunPlan,
    cancel: impl Future<Output = ()>,
    on_step: &mut dyn FnMut(&StepState),
) -> Result<RunState, TemporalError> {
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
    let run_id = plan.run_id.clone();
    // A run id names its result branches: never start a second workflow with it.
    let options = WorkflowStartOptions::new(plan.task_queue.clone(), id.clone())
        .id_reuse_policy(WorkflowIdReusePolicy::RejectDuplicate)
        .build();
    let handle = client
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

    let mut last: Vec<StepState> = Vec::new();
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
                Err(WorkflowGetResultError::Rpc(status)) => {
                    let since = *outage.get_or_insert_with(Instant::now);
                    if since.elapsed() > OUTAGE_LIMIT {
                        return Err(TemporalError::Server(format!(
                            "lost the server while following workflow {id} for more than {} s: \
                             {status}; the run goes on, follow it with the Temporal CLI",
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
                // A query can fail while no worker polls yet; the result stays authoritative.
                if let Ok(state) = handle
                    .query(PipelineRun::state, (), WorkflowQueryOptions::default())
                    .await
                {
                    outage = None;
                    report_changes(&mut last, &state.steps, on_step);
                }
            }
        }
    };
    report_changes(&mut last, &final_state.steps, on_step);
    if final_state.result_commit.is_some() {
        let branch = result_branch(&run_id);
        let spec = format!("+refs/heads/{branch}:refs/heads/{branch}");
        git(
            &config.repo,
            &["fetch", "--quiet", "--no-tags", "--", &config.remote, &spec],
        )
        .await?;
    }
    Ok(final_state)
}

/// Calls `on_step` for every step whose status or worker differs from `last`, then
/// remembers `now`.
fn report_changes(
    last: &mut Vec<StepState>,
    now: &[StepState],
    on_step: &mut dyn FnMut(&StepState),
) {
    for (i, step) in now.iter().enumerate() {
        let changed = last
            .get(i)
            .is_none_or(|old| old.status != step.status || old.worker_losses != step.worker_losses);
        if changed {
            on_step(step);
        }
    }
    *last = now.to_vec();
}
