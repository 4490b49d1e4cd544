//! Reading and steering a run's workflow from any machine that can reach the server:
//! what `pipeline status`, `resume`, `cancel` and `logs` do on a Temporal run.
//!
//! Nothing here needs the process that submitted the run: the workflow's input (the
//! [`RunPlan`]) is read from its history, its state from the `state` query while it runs
//! (answered by any worker) and from its result once it ended.

use std::time::Duration;

use futures_util::StreamExt;
use temporalio_client::errors::{WorkflowGetResultError, WorkflowInteractionError};
use temporalio_client::{
    Client, WorkflowCancelOptions, WorkflowDescribeOptions, WorkflowExecutionStatus,
    WorkflowFetchHistoryOptions, WorkflowGetResultOptions, WorkflowQueryOptions,
};
use temporalio_common::protos::temporal::api::history::v1::history_event::Attributes;

use crate::connection::{ConnectionSettings, connect, identity};
use crate::run_plan::{RunPlan, workflow_id};
use crate::run_workflow::{PipelineRun, RunState};
use crate::submit::no_such_workflow;
use crate::temporal_error::TemporalError;

/// How long a `state` query may wait for a worker to answer.
const QUERY_TIMEOUT: Duration = Duration::from_secs(10);

/// What the server says about a run's workflow right now.
#[derive(Debug, Clone)]
pub struct WorkflowSnapshot {
    /// Temporal's execution status: `running`, `paused`, `completed`, `failed`, `cancelled`,
    /// `terminated`, `timed_out`, `continued_as_new` or `unknown`.
    pub execution: String,
    /// The run's state: the workflow's result once it ended, the `state` query's answer
    /// while it runs; `None` when no worker answered the query within 10 s, or the
    /// workflow ended without a result (terminated, failed).
    pub state: Option<RunState>,
}

impl WorkflowSnapshot {
    /// Whether the workflow has ended (the state will not change any more).
    pub fn is_closed(&self) -> bool {
        !matches!(self.execution.as_str(), "running" | "paused")
    }
}

async fn client(target: &ConnectionSettings) -> Result<Client, TemporalError> {
    connect(target, &identity()).await
}

fn interaction_error(id: &str, address: &str, e: WorkflowInteractionError) -> TemporalError {
    match e {
        WorkflowInteractionError::NotFound(_) => no_such_workflow(id, address),
        other => TemporalError::Server(format!("workflow {id}: {other}")),
    }
}

/// The input of run `run_id`'s workflow (the plan the submitter made), from the first
/// event of its history. Errors: [`TemporalError::Invalid`] when the server has no such
/// workflow, [`TemporalError::Server`] when the history cannot be read or its input is
/// not a plan of this version, [`TemporalError::Unreachable`].
pub async fn planned_run(
    target: &ConnectionSettings,
    run_id: &str,
) -> Result<RunPlan, TemporalError> {
    let client = client(target).await?;
    let id = workflow_id(run_id);
    let handle = client.get_workflow_handle::<PipelineRun>(id.clone());
    let mut history = handle.fetch_history(WorkflowFetchHistoryOptions::default());
    let first = history
        .next()
        .await
        .ok_or_else(|| no_such_workflow(&id, &target.address))?
        .map_err(|e| interaction_error(&id, &target.address, e))?;
    let Some(Attributes::WorkflowExecutionStartedEventAttributes(started)) = first.attributes
    else {
        return Err(TemporalError::Server(format!(
            "workflow {id}: its history does not start with its input"
        )));
    };
    let payload = started
        .input
        .and_then(|p| p.payloads.into_iter().next())
        .ok_or_else(|| TemporalError::Server(format!("workflow {id} has no input")))?;
    serde_json::from_slice(&payload.data).map_err(|e| {
        TemporalError::Server(format!(
            "workflow {id}: its input is not a run plan this pipeline reads ({e})"
        ))
    })
}

/// The state of run `run_id`'s workflow now (see [`WorkflowSnapshot`]). Errors:
/// [`TemporalError::Invalid`] when the server has no such workflow,
/// [`TemporalError::Unreachable`], [`TemporalError::Server`].
pub async fn snapshot(
    target: &ConnectionSettings,
    run_id: &str,
) -> Result<WorkflowSnapshot, TemporalError> {
    let client = client(target).await?;
    let id = workflow_id(run_id);
    let handle = client.get_workflow_handle::<PipelineRun>(id.clone());
    let described = handle
        .describe(WorkflowDescribeOptions::default())
        .await
        .map_err(|e| interaction_error(&id, &target.address, e))?;
    let execution = execution_word(described.status());
    if !matches!(execution.as_str(), "running" | "paused") {
        let state = match handle.get_result(WorkflowGetResultOptions::default()).await {
            Ok(state) => Some(state),
            Err(WorkflowGetResultError::NotFound(_)) => {
                return Err(no_such_workflow(&id, &target.address));
            }
            Err(_) => None,
        };
        return Ok(WorkflowSnapshot { execution, state });
    }
    let query = handle.query(PipelineRun::state, (), WorkflowQueryOptions::default());
    let state = match tokio::time::timeout(QUERY_TIMEOUT, query).await {
        Ok(Ok(state)) => Some(state),
        Ok(Err(_)) | Err(_) => None,
    };
    Ok(WorkflowSnapshot { execution, state })
}

/// Asks the server to cancel run `run_id`'s workflow: its running steps are stopped on
/// their workers and the run ends `cancelled`. Cancelling a workflow that already ended
/// is an error from the server, returned as [`TemporalError::Invalid`] saying so.
pub async fn cancel(
    target: &ConnectionSettings,
    run_id: &str,
    reason: &str,
) -> Result<(), TemporalError> {
    let client = client(target).await?;
    let id = workflow_id(run_id);
    let handle = client.get_workflow_handle::<PipelineRun>(id.clone());
    let opts = WorkflowCancelOptions::builder()
        .reason(reason.to_string())
        .build();
    handle.cancel(opts).await.map_err(|e| match e {
        WorkflowInteractionError::NotFound(_) => TemporalError::Invalid(format!(
            "workflow {id} is not running on {} (it ended, or the run id, --temporal or \
             --namespace is wrong)",
            target.address
        )),
        other => TemporalError::Server(format!("cannot cancel {id}: {other}")),
    })
}

fn execution_word(status: WorkflowExecutionStatus) -> String {
    let word = match status {
        WorkflowExecutionStatus::Running => "running",
        WorkflowExecutionStatus::Completed => "completed",
        WorkflowExecutionStatus::Failed => "failed",
        WorkflowExecutionStatus::Canceled => "cancelled",
        WorkflowExecutionStatus::Terminated => "terminated",
        WorkflowExecutionStatus::TimedOut => "timed_out",
        WorkflowExecutionStatus::ContinuedAsNew => "continued_as_new",
        WorkflowExecutionStatus::Paused => "paused",
        _ => "unknown",
    };
    word.to_string()
}
