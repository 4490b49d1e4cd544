//! The run as the submitter planned it: the one input of the `pipeline-run` workflow.
//!
//! The submitter validates and plans the workstreams locally (the same loader and planner
//! as `pipeline run`) and flattens the plan into this plain, serializable shape, so the
//! workflow never reads files, git or configuration: everything it decides on is in its
//! input (and so in its history, which keeps replay deterministic). Steps are referred to
//! by their index in [`RunPlan::steps`], which is the plan order of the local run.

use std::path::Path;

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

/// The ref a worker pushes a step's log to on the shared remote:
/// `refs/pipeline-logs/<run-id>/<step-id>` (outside `refs/heads`; the step id keeps its
/// `/`). It points at a parent-less commit whose tree holds `output.log` (the redacted
/// output of `pipeline step exec`), `status.json` (`pipeline status <run> --json` of the
/// step's own run) and `events.jsonl` (that run's journal, one JSON entry per line, as
/// `--json` prints them; docs/EVENTS.md). A step that ran again (a lost worker) replaces
/// it.
pub fn log_ref(run_id: &str, step_id: &str) -> String {
    format!("refs/pipeline-logs/{run_id}/{step_id}")
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

/// The task queue of the activities of steps whose tool is the profile `tool`, on a
/// cluster whose main task queue is `task_queue`: `<task_queue>@tool:<tool>`. A worker
/// polls it when the profile can run on its machine (its command is installed: the
/// check `pipeline tools` makes), so a step needing Aider runs only where Aider is.
pub fn tool_queue(task_queue: &str, tool: &str) -> String {
    format!("{task_queue}@tool:{tool}")
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
    /// The tool profile the step names (`tool`), whose cluster-wide circuit breaker
    /// gates its start; `None` for a step's own `command` (which has no breaker, as in a
    /// local run), a `capability` step (its tool is chosen on the worker) and a
    /// workstream's acceptance gate.
    #[serde(default)]
    pub tool: Option<String>,
    /// Whether the step's tool is an AI tool (an `aider`, `codex` or `claude` profile, or
    /// a custom profile with capability `code_generation` or `refactoring`): once the
    /// run's budget is spent, such a step is skipped instead of started (docs/COSTS.md).
    #[serde(default)]
    pub ai: bool,
    /// Whether the step waits for approval after it completed (`approval: required` of
    /// the step, else its workstream, else its tool profile; docs/APPROVALS.md).
    #[serde(default)]
    pub approval: bool,
    /// The step's own `circuit_breaker.cooldown_seconds`, in milliseconds: the cooldown
    /// of its tool's breaker when a failure of this step opens it (instead of the tool
    /// profile's).
    #[serde(default)]
    pub breaker_cooldown_ms: Option<u64>,
}

/// A tool profile's circuit breaker settings (`circuit_breaker:` of the profile in
/// `.pipeline/config.yaml`, validated by the error engine; defaults threshold 5,
/// cooldown 30 s, 1 half-open trial; docs/ERRORS.md "Circuit breakers").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolBreakerSettings {
    /// The tool profile.
    pub tool: String,
    /// Consecutive counting failures that open the breaker (at least 1).
    pub failure_threshold: u32,
    /// How long it stays open, in milliseconds.
    pub cooldown_ms: u64,
    /// Trial steps let through when half-open, and successes needed to close (at least 1).
    pub half_open_trials: u32,
}

/// A run's budget (`--budget-usd`, `--budget-tokens`; docs/COSTS.md "Budgets"): once
/// the run's steps have spent either, AI steps not started yet are skipped.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RunBudget {
    /// US dollars (known costs only).
    pub usd: Option<f64>,
    /// Input plus output tokens.
    pub tokens: Option<u64>,
}

impl RunBudget {
    /// Whether the budget limits anything.
    pub fn is_set(&self) -> bool {
        self.usd.is_some() || self.tokens.is_some()
    }
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
    /// The circuit breaker settings of every tool profile of the submitter's
    /// configuration, sorted by tool; a tool missing here has the defaults.
    #[serde(default)]
    pub breakers: Vec<ToolBreakerSettings>,
    /// The run's budget.
    #[serde(default)]
    pub budget: RunBudget,
    /// `--approve-all`: steps that require approval complete at once.
    #[serde(default)]
    pub approve_all: bool,
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
    /// `--budget-usd` and `--budget-tokens`.
    pub budget: RunBudget,
    /// `--approve-all`.
    pub approve_all: bool,
    /// The steps' tools as the submitter's configuration describes them
    /// ([`PlanTools::load`]).
    pub tools: PlanTools,
}

/// What the submitter's tool configuration says of each step (tool profile, AI tool,
/// approval) and of each tool (circuit breaker), read like a local run reads it: the
/// repository's `.pipeline/config.yaml` and `PIPELINE_TOOL_*` variables.
#[derive(Debug, Clone, Default)]
pub struct PlanTools {
    /// Per step, in plan order: (tool, ai, approval, step's breaker cooldown in ms).
    steps: Vec<(Option<String>, bool, bool, Option<u64>)>,
    breakers: Vec<ToolBreakerSettings>,
}

impl PlanTools {
    /// Reads the tool profiles of the repository at `repo_root` for the steps of `set`.
    ///
    /// # Errors
    /// The errors of a local run's start: a broken `.pipeline/config.yaml`, an invalid
    /// `circuit_breaker` or `retry` of a tool profile, a broken error plugin (exit 2).
    pub fn load(
        set: &WorkstreamSet,
        repo_root: &Path,
    ) -> Result<PlanTools, pipeline_core::engine::EngineError> {
        use pipeline_core::engine::{RecoveryConfig, open_repository, plugin_dirs};
        let (_, _, registry) = open_repository(Some(repo_root), None)?;
        let recovery = RecoveryConfig::new(&registry, &plugin_dirs(repo_root))?;
        let mut breakers: Vec<ToolBreakerSettings> = Vec::new();
        let mut steps = Vec::with_capacity(set.steps.len());
        for step in &set.steps {
            let tool = match &step.tool {
                ToolChoice::Profile(name) => Some(name.clone()),
                ToolChoice::Shell(_) | ToolChoice::Capability(_) | ToolChoice::None => None,
            };
            let profile = tool.as_deref().and_then(|t| registry.profile(t));
            let ai = profile.is_some_and(|p| {
                matches!(p.kind.as_str(), "aider" | "codex" | "claude")
                    || p.capabilities
                        .iter()
                        .any(|c| c == "code_generation" || c == "refactoring")
            });
            let tool_requires = profile.is_some_and(|p| p.approval_required);
            let approval = !matches!(step.tool, ToolChoice::None)
                && step.requires_approval(tool_requires && tool.is_some());
            let cooldown = step
                .breaker_cooldown_sec
                .filter(|c| c.is_finite() && *c >= 0.0)
                .map(|c| (c * 1000.0).round() as u64);
            steps.push((tool, ai, approval, cooldown));
        }
        // Every profile's settings, not only those steps name: a fallback or a profile
        // chosen for a `capability` on the worker counts on its breaker too.
        if let Some(first) = set.steps.first() {
            let mut plain = first.clone();
            plain.breaker_cooldown_sec = None;
            for (name, _) in registry.profiles() {
                let config = recovery.breaker(name, &plain).config;
                breakers.push(ToolBreakerSettings {
                    tool: name.to_string(),
                    failure_threshold: config.failure_threshold,
                    cooldown_ms: u64::try_from(config.cooldown.as_millis()).unwrap_or(u64::MAX),
                    half_open_trials: config.half_open_trials,
                });
            }
        }
        breakers.sort_by(|a, b| a.tool.cmp(&b.tool));
        breakers.dedup_by(|a, b| a.tool == b.tool);
        Ok(PlanTools { steps, breakers })
    }
}

impl RunPlan {
    /// Flattens a validated workstream set and its plan into the workflow input.
    pub fn from_plan(set: &WorkstreamSet, plan: &Plan, settings: RunSettings) -> RunPlan {
        let n = set.steps.len();
        let steps = set
            .steps
            .iter()
            .enumerate()
            .map(|(i, step)| {
                let (tool, ai, approval, breaker_cooldown_ms) =
                    settings.tools.steps.get(i).cloned().unwrap_or_default();
                PlannedStep {
                    id: step.id.to_string(),
                    deps: plan.deps[i].clone(),
                    priority: plan.priority[i],
                    capability: capability_of(step),
                    tool,
                    ai,
                    approval,
                    breaker_cooldown_ms,
                }
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
            breakers: settings.tools.breakers,
            budget: settings.budget,
            approve_all: settings.approve_all,
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
