//! Recording and replaying the histories of `pipeline-run` workflows, for the determinism
//! checks (docs/TEMPORAL.md, "Determinism").
//!
//! The JSON is the SDK's own history encoding (`WorkflowHistory::to_json`), which its
//! replayer reads back; it is not the protobuf JSON `temporal workflow show --output json`
//! prints (the SDK cannot read that one yet).

use temporalio_client::{WorkflowFetchHistoryOptions, WorkflowHistory};
use temporalio_sdk::workflow_replayer::{WorkflowReplayer, WorkflowReplayerOptions};

use crate::connection::{ConnectionSettings, connect, identity};
use crate::run_workflow::PipelineRun;
use crate::temporal_error::TemporalError;

/// The whole event history of workflow `workflow_id` (e.g. `pipeline-run/<run>`) as JSON
/// bytes. Errors: [`TemporalError::Unreachable`], [`TemporalError::Server`] when the
/// workflow does not exist or the history cannot be read.
pub async fn fetch_history_json(
    address: &str,
    namespace: &str,
    workflow_id: &str,
) -> Result<Vec<u8>, TemporalError> {
    let client = connect(&ConnectionSettings::plain(address, namespace), &identity()).await?;
    let handle = client.get_workflow_handle::<PipelineRun>(workflow_id);
    handle
        .fetch_history(WorkflowFetchHistoryOptions::default())
        .to_json()
        .await
        .map_err(|e| TemporalError::Server(format!("history of {workflow_id}: {e}")))
}

/// Replays a recorded history (JSON of [`fetch_history_json`]) through the current
/// `pipeline-run` workflow code with the SDK's replayer. Errors: the history cannot be
/// decoded, or the code makes other decisions than the history records
/// (nondeterminism), with the replayer's message.
pub async fn replay_history_json(bytes: &[u8]) -> Result<(), String> {
    let history = WorkflowHistory::from_json(bytes).map_err(|e| format!("bad history: {e}"))?;
    let options = WorkflowReplayerOptions::new()
        .register_workflow::<PipelineRun>()
        .map_err(|e| e.to_string())?
        .build();
    let replayer = WorkflowReplayer::new(options).map_err(|e| e.to_string())?;
    replayer
        .replay_workflow(history)
        .await
        .map_err(|e| e.to_string())
}
