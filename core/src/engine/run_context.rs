//! Everything the scheduler and step tasks of one run share.

use std::sync::Arc;

use pipeline_adapters::{PriceTable, ToolRegistry};
use tokio_util::sync::CancellationToken;

use super::run_journal::RunJournal;
use super::{RecoveryConfig, RunOptions, Workspace};
use crate::git::{Repository, WorktreePool};
use crate::model::WorkstreamSet;
use crate::planning::Plan;
use crate::state::StateStore;

/// Shared, read-only context of a run being driven by this process.
pub(crate) struct RunContext {
    pub run_id: String,
    /// The commit the run starts from (what a step without dependencies starts at).
    pub base: git2::Oid,
    pub set: WorkstreamSet,
    pub plan: Plan,
    pub repo: Arc<Repository>,
    pub pool: Arc<WorktreePool>,
    pub state: StateStore,
    pub registry: ToolRegistry,
    /// Model prices for the cost of attempts whose tool reports tokens but no cost.
    pub prices: PriceTable,
    pub errors: RecoveryConfig,
    /// `max_concurrent` and `requests_per_minute` of tool profiles, across the run.
    pub limits: super::tool_limits::ToolLimits,
    /// Resolved `specs` references per step, appended to its prompt.
    pub spec_texts: std::collections::HashMap<crate::model::StepId, String>,
    pub workspace: Workspace,
    pub options: RunOptions,
    /// The one writer of the run's state (and the way to its reporters).
    pub journal: RunJournal,
    /// Fired by Ctrl-C: stop scheduling and stop running tools.
    pub cancel: CancellationToken,
    /// Secret values redacted from every stream of every step of the run.
    pub secrets: Vec<String>,
    /// Steps awaiting approval wait here for their decisions.
    pub approvals: super::approvals::ApprovalWatch,
}
