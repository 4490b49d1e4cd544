//! Deciding a step of a running Temporal run: `pipeline approve RUN STEP --temporal ADDR`
//! and `pipeline reject ... --temporal ADDR` send the workflow's `decide` signal.
//!
//! Before it signals, [`decide`] reads the run's `state` query, so that an unknown run,
//! an unknown step or a step that is not awaiting approval is an input error (exit 2)
//! naming it, as for a local run. The workflow checks again when the signal arrives (a
//! decision may race another one): a decision on a step that is no longer awaiting
//! approval changes nothing and is recorded in the run's `notes`.

use std::time::Duration;

use temporalio_client::errors::WorkflowQueryError;
use temporalio_client::{Client, WorkflowHandle, WorkflowQueryOptions, WorkflowSignalOptions};

use crate::connection::{ConnectionSettings, connect, identity};
use crate::dag_schedule::StepStatus;
use crate::run_plan::workflow_id;
use crate::run_workflow::{Decision, PipelineRun, RunState};
use crate::temporal_error::TemporalError;

/// How long the `state` query may take: a workflow task is answered by a worker, so
/// without a running worker the query would wait.
const QUERY_TIMEOUT: Duration = Duration::from_secs(20);

/// What was sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecisionSent {
    /// The workflow id, `pipeline-run/<run>`.
    pub workflow_id: String,
    /// The step's result commit that was decided on.
    pub commit: String,
}

/// Approves (`approve`) or rejects step `step` of run `run_id` awaiting approval on the
/// Temporal cluster `target`, as `by`, with `comment` (a rejection's comment becomes the
/// step's error `rejected by BY: COMMENT`).
///
/// # Errors
/// [`TemporalError::Invalid`] (exit 2) when the run has no workflow on the server, the
/// run has no step `step` (naming its steps), or the step is not awaiting approval
/// (naming its status); [`TemporalError::Unreachable`] when no server answers;
/// [`TemporalError::Server`] when the query (no worker answered within 20 s) or the
/// signal fails.
pub async fn decide(
    target: &ConnectionSettings,
    run_id: &str,
    step: &str,
    approve: bool,
    by: &str,
    comment: Option<&str>,
) -> Result<DecisionSent, TemporalError> {
    let client = connect(target, &identity()).await?;
    let id = workflow_id(run_id);
    let handle = client.get_workflow_handle::<PipelineRun>(id.clone());
    let state = query_handle(&handle, target, run_id).await?;
    let Some(found) = state.steps.iter().find(|s| s.id == step) else {
        let ids: Vec<&str> = state.steps.iter().map(|s| s.id.as_str()).collect();
        return Err(TemporalError::Invalid(format!(
            "run {run_id} has no step `{step}`; its steps: {}",
            ids.join(", ")
        )));
    };
    let StepStatus::AwaitingApproval { commit } = &found.status else {
        return Err(TemporalError::Invalid(format!(
            "step {step} of run {run_id} is {}, not awaiting approval: there is nothing to \
             {}",
            found.status.word(),
            if approve { "approve" } else { "reject" }
        )));
    };
    let decision = Decision {
        step: step.to_string(),
        approve,
        by: by.to_string(),
        comment: comment.map(str::to_string),
    };
    handle
        .signal(
            PipelineRun::decide,
            decision,
            WorkflowSignalOptions::default(),
        )
        .await
        .map_err(|e| TemporalError::Server(format!("cannot signal workflow {id}: {e}")))?;
    Ok(DecisionSent {
        workflow_id: id,
        commit: commit.clone(),
    })
}

/// The `state` query of run `run_id` on `target` ([`RunState`]: step statuses and
/// reports, breakers, spending, notes): what `temporal workflow query --type state`
/// prints.
///
/// # Errors
/// As [`decide`]: an unknown run is [`TemporalError::Invalid`].
pub async fn query_state(
    target: &ConnectionSettings,
    run_id: &str,
) -> Result<RunState, TemporalError> {
    let client = connect(target, &identity()).await?;
    let handle = client.get_workflow_handle::<PipelineRun>(workflow_id(run_id));
    query_handle(&handle, target, run_id).await
}

/// Queries `state` through `handle`, with the errors of [`decide`].
async fn query_handle(
    handle: &WorkflowHandle<Client, PipelineRun>,
    target: &ConnectionSettings,
    run_id: &str,
) -> Result<RunState, TemporalError> {
    let id = workflow_id(run_id);
    let query = handle.query(PipelineRun::state, (), WorkflowQueryOptions::default());
    match tokio::time::timeout(QUERY_TIMEOUT, query).await {
        Err(_) => Err(TemporalError::Server(format!(
            "workflow {id} did not answer its state query within {} s: is a `pipeline \
             worker` polling its task queue?",
            QUERY_TIMEOUT.as_secs()
        ))),
        Ok(Err(WorkflowQueryError::NotFound(_))) => Err(TemporalError::Invalid(format!(
            "no run {run_id} on the Temporal server {} (namespace {}): workflow {id} does \
             not exist\n  hint: check the run id, --temporal and --namespace",
            target.address, target.namespace
        ))),
        Ok(Err(e)) => Err(TemporalError::Server(format!(
            "cannot query workflow {id}: {e}"
        ))),
        Ok(Ok(state)) => Ok(state),
    }
}
