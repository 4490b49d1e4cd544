//! The run as the submitter planned it: the one input of the `pipeline-run` workflow.
//!
//! The submitter validates and plans the workstreams locally (the same loader and planner
//! as `pipeline run`) and flattens the plan into this plain, serializable shape, so the
//! workflow never reads files, git or configuration: everything it decides on is in its
//! input (and so in its history, which keeps replay deterministic). Steps are referred to
//! by their index in [`RunPlan::steps`], which is the plan order of the local run.

use pipeline_core::model::{Step, ToolChoice, WorkstreamSet};
use pipeline_core::planning::Plan;
use serde::{Deserialize, Serialize};

/// Workflow type name and workflow id prefix: a run's workflow id is
/// `pipeline-run/<run-id>` ([`workflow_id`]).
pub const WORKFLOW_PREFIX: &str = "pipeline-run";

/// The workflow id of run `run_id`: `pipeline-run/<run-id>`.
pub fn workflow_id(run_id: &str) -> String {
    format!("{WORKFLOW_PREFIX}/{run_id}")
}

/// The ref the submitter pushes the base commit to, so workers can fetch it by name:
/// `refs/pipeline-base/<run-id>` (outside `refs/heads`, so it is no branch on the remote).
pub fn base_ref(run_id: &str) -> String {
    format!("refs/pipeline-base/{run_id}")
}

/// The branch a step's result commit is pushed to: `pipeline-steps/<run-id>/<step-id>`
/// (the step id keeps its `/`, e.g. `pipeline-steps/r1/ws/build`).
pub fn step_result_branch(run_id: &str, step_id: &str) -> String {
    format!("pipeline-steps/{run_id}/{step_id}")
}

/// The run's result branch, as for a local run: `pipeline/<run-id>`.
pub fn result_branch(run_id: &str) -> String {
    format!("pipeline/{run_id}")
}

/// The task queue of the activities of steps that need capability `capability`, on a
/// cluster whose main task queue is `task_queue`: `<task_queue>@<capability>`. Only
/// workers started with `--capability <capability>` poll it, which is how Temporal routes
/// work to the workers able to do it (one task queue per capability).
pub fn capability_queue(task_queue: &str, capability: &str) -> String {
    format!("{task_queue}@{capability}")
}

/// One step of the planned run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedStep {
    /// Step id, `ws/step` (or `ws` for a workstream without steps).
    pub id: String,
    /// Indexes (into [`RunPlan::steps`]) of the steps this one depends on, explicit and
    /// implicit (phases, scope order), as the planner computed them.
    pub deps: Vec<usize>,
    /// Scheduling priority: length of the longest chain to a sink, higher starts first
    /// (the critical path leads), as in the local scheduler.
    pub priority: u32,
    /// The capability a worker must advertise (`--capability`) to run this step: the
    /// step's `capability` field, or `None` for any worker.
    pub capability: Option<String>,
}

/// A run planned by the submitter: the workflow's input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunPlan {
    /// The run id; the workflow id is `pipeline-run/<run-id>`.
    pub run_id: String,
    /// The commit root steps start from (full hex id), pushed to [`base_ref`].
    pub base_commit: String,
    /// Steps in plan order.
    pub steps: Vec<PlannedStep>,
    /// Pairs of step indexes that must never run at the same time (shared conflict group,
    /// overlapping declared scopes, `parallel_ok: false`), `a < b`.
    pub exclusions: Vec<(usize, usize)>,
    /// Steps running at once across the whole cluster (`--jobs`), at least 1.
    pub jobs: u32,
    /// The main task queue (workflow tasks, steps without a capability, the final merge).
    pub task_queue: String,
    /// Workstream files the steps come from, relative to the repository root, as
    /// `pipeline step exec` needs them (they are committed at the base commit).
    pub workstream_files: Vec<String>,
    /// Seconds without a heartbeat after which Temporal declares a step's worker lost.
    pub heartbeat_timeout_secs: u64,
    /// How often a step may be started again after its worker was lost (heartbeat
    /// timeout) before the step counts as failed.
    pub max_worker_losses: u32,
    /// Longest a single step activity may take, in seconds (Temporal's start-to-close
    /// timeout); the step's own `timeout_sec` and the error engine's retries run inside it.
    pub step_timeout_secs: u64,
}

/// Default [`RunPlan::heartbeat_timeout_secs`]: 10 s. A worker learns that its step was
/// cancelled only with the answer to a heartbeat, which the SDK sends at most every
/// 0.8 x this timeout, so it bounds how long a cancel takes to reach a step (8 s) as well
/// as how long a lost worker goes unnoticed.
pub const DEFAULT_HEARTBEAT_TIMEOUT_SECS: u64 = 10;
/// Default [`RunPlan::max_worker_losses`].
pub const DEFAULT_MAX_WORKER_LOSSES: u32 = 3;
/// Default [`RunPlan::step_timeout_secs`]: one day.
pub const DEFAULT_STEP_TIMEOUT_SECS: u64 = 24 * 3600;

/// What the submitter knows besides the plan.
#[derive(Debug, Clone)]
pub struct RunSettings {
    /// The run id.
    pub run_id: String,
    /// The base commit (full hex id).
    pub base_commit: String,
    /// `--jobs`.
    pub jobs: u32,
    /// The main task queue.
    pub task_queue: String,
    /// Workstream files relative to the repository root.
    pub workstream_files: Vec<String>,
    /// See [`RunPlan::heartbeat_timeout_secs`].
    pub heartbeat_timeout_secs: u64,
}

impl RunPlan {
    /// Flattens a validated workstream set and its plan into the workflow input.
    pub fn from_plan(set: &WorkstreamSet, plan: &Plan, settings: RunSettings) -> RunPlan {
        let n = set.steps.len();
        let steps = set
            .steps
            .iter()
            .enumerate()
            .map(|(i, step)| PlannedStep {
                id: step.id.to_string(),
                deps: plan.deps[i].clone(),
                priority: plan.priority[i],
                capability: capability_of(step),
            })
            .collect();
        let mut exclusions = Vec::new();
        for a in 0..n {
            for b in a + 1..n {
                if plan.excludes(a, b) {
                    exclusions.push((a, b));
                }
            }
        }
        RunPlan {
            run_id: settings.run_id,
            base_commit: settings.base_commit,
            steps,
            exclusions,
            jobs: settings.jobs.max(1),
            task_queue: settings.task_queue,
            workstream_files: settings.workstream_files,
            heartbeat_timeout_secs: settings.heartbeat_timeout_secs.max(1),
            max_worker_losses: DEFAULT_MAX_WORKER_LOSSES,
            step_timeout_secs: DEFAULT_STEP_TIMEOUT_SECS,
        }
    }
}

/// The capability a worker needs for `step`: its `capability` field.
fn capability_of(step: &Step) -> Option<String> {
    match &step.tool {
        ToolChoice::Capability(c) => Some(c.clone()),
        ToolChoice::Shell(_) | ToolChoice::Profile(_) | ToolChoice::None => None,
    }
}
