//! The `pipeline-run` workflow: one run's DAG, scheduled deterministically.
//!
//! The workflow holds the run's state ([`DagSchedule`]) and nothing else: it starts one
//! `run_step` activity per ready step (on the step's capability task queue when it needs
//! one), waits for whichever finishes first, records the outcome, starts what became
//! ready, and at the end runs one `merge_results` activity that pushes `pipeline/<run>`.
//! The workflow does no I/O, reads no clock and draws no random number: every decision
//! follows from its input and the activity results in its history (replay-safe). Futures
//! are awaited with `select_all` over a vector in start order, so when several results
//! arrive in one activation they are taken in a fixed order.
//!
//! Retries: Temporal's own activity retry is off (`maximum_attempts = 1`); the error
//! engine inside `pipeline step exec` decides retries of a step. The one failure Temporal
//! detects that the step cannot see is a lost worker: the activity fails with a heartbeat
//! timeout. The workflow then starts the step again (a new activity, id
//! `<step>#<losses>`), on whichever worker polls its queue, at most
//! [`RunPlan::max_worker_losses`] times; after that the step fails.
//!
//! Cancellation: cancelling the workflow cancels the running activities (the workers stop
//! the steps' process groups), waits for them, and ends the run `cancelled` with no
//! merge. The state is readable at any time with the `state` query ([`RunState`]).

use std::time::Duration;

use futures_util::FutureExt;
use futures_util::future::{LocalBoxFuture, select_all};
use serde::{Deserialize, Serialize};
use temporalio_common::RetryPolicy;
use temporalio_common::error::TimeoutType;
use temporalio_macros::{workflow, workflow_methods};
use temporalio_sdk::{
    ActivityCancellationType, ActivityExecutionError, ActivityOptions, WorkflowContext,
    WorkflowContextView, WorkflowResult,
};

use crate::dag_schedule::{DagSchedule, StepStatus};
use crate::run_plan::{RunPlan, capability_queue, result_branch};
use crate::step_activities::StepActivities;
use crate::step_task::{MergeOutcome, MergeTask, StepOutcome, StepTask};

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunOutcome {
    /// Still running.
    Running,
    /// Every step completed and `pipeline/<run>` was pushed.
    Completed,
    /// A step failed or was skipped, or the results could not be merged.
    Failed,
    /// The workflow was cancelled.
    Cancelled,
}

/// One step in the `state` query.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepState {
    /// Step id.
    pub id: String,
    /// Where it is.
    #[serde(flatten)]
    pub status: StepStatus,
    /// How often its worker was lost while it ran.
    pub worker_losses: u32,
    /// The worker that ran it last (`pid@host`), once it finished.
    pub worker: Option<String>,
}

/// The workflow's state (query `state`) and its result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunState {
    /// The run id.
    pub run_id: String,
    /// How the run ended, or `running`.
    pub outcome: RunOutcome,
    /// Steps in plan order.
    pub steps: Vec<StepState>,
    /// `pipeline/<run>` once pushed.
    pub result_branch: Option<String>,
    /// The result commit once pushed.
    pub result_commit: Option<String>,
    /// Why the results could not be merged or pushed.
    pub result_error: Option<String>,
}

/// The `pipeline-run` workflow.
#[workflow]
pub struct PipelineRun {
    plan: RunPlan,
    schedule: DagSchedule,
    losses: Vec<u32>,
    workers: Vec<Option<String>>,
    outcome: RunOutcome,
    result_commit: Option<String>,
    result_error: Option<String>,
}

type StepFuture = LocalBoxFuture<'static, (usize, Result<StepOutcome, ActivityExecutionError>)>;

#[workflow_methods]
impl PipelineRun {
    /// The workflow's state from its input, before anything ran.
    #[init]
    pub fn new(_ctx: &WorkflowContextView, plan: RunPlan) -> Self {
        let n = plan.steps.len();
        PipelineRun {
            schedule: DagSchedule::new(&plan),
            plan,
            losses: vec![0; n],
            workers: vec![None; n],
            outcome: RunOutcome::Running,
            result_commit: None,
            result_error: None,
        }
    }

    /// Drives the DAG to its end, then merges and pushes the results.
    #[run(name = "pipeline-run")]
    pub async fn run(ctx: &mut WorkflowContext<Self>) -> WorkflowResult<RunState> {
        let mut running: Vec<StepFuture> = Vec::new();
        loop {
            if !ctx.cancellation_token().is_cancelled() {
                let started = ctx.state_mut(|s| s.schedule.start_ready());
                for i in started {
                    running.push(start_step(ctx, i));
                }
            }
            if running.is_empty() {
                break;
            }
            let ((i, result), _, rest) = select_all(running).await;
            running = rest;
            if let Some(again) = record_step(ctx, i, result) {
                running.push(again);
            }
        }
        let cancelled = ctx.cancellation_token().is_cancelled();
        if cancelled {
            ctx.state_mut(|s| s.schedule.cancel_waiting());
        }
        let heads = ctx.state(|s| s.schedule.result_heads());
        let all_completed = ctx.state(|s| {
            s.schedule
                .statuses()
                .iter()
                .all(|st| matches!(st, StepStatus::Completed { .. }))
        });
        if !cancelled && !heads.is_empty() {
            let task = MergeTask {
                run_id: ctx.state(|s| s.plan.run_id.clone()),
                heads,
            };
            let opts = ActivityOptions::with_start_to_close_timeout(Duration::from_secs(600))
                .retry_policy(no_retries())
                .build();
            let merged = ctx
                .execute_activity(StepActivities::merge_results, task, opts)
                .await;
            ctx.state_mut(|s| match merged {
                Ok(MergeOutcome::Pushed { commit }) => s.result_commit = Some(commit),
                Ok(MergeOutcome::Failed { error }) => s.result_error = Some(error),
                Err(e) => s.result_error = Some(format!("the final merge did not run: {e}")),
            });
        }
        ctx.state_mut(|s| {
            s.outcome = if cancelled {
                RunOutcome::Cancelled
            } else if all_completed && s.result_error.is_none() {
                RunOutcome::Completed
            } else {
                RunOutcome::Failed
            };
        });
        Ok(ctx.state(PipelineRun::snapshot))
    }

    /// The run's state: step statuses, outcome, result.
    #[query]
    pub fn state(&self, _ctx: &WorkflowContextView) -> RunState {
        self.snapshot()
    }
}

impl PipelineRun {
    fn snapshot(&self) -> RunState {
        let steps = (0..self.plan.steps.len())
            .map(|i| StepState {
                id: self.schedule.id(i).to_string(),
                status: self.schedule.status(i).clone(),
                worker_losses: self.losses[i],
                worker: self.workers[i].clone(),
            })
            .collect();
        RunState {
            run_id: self.plan.run_id.clone(),
            outcome: self.outcome,
            steps,
            result_branch: self
                .result_commit
                .as_ref()
                .map(|_| result_branch(&self.plan.run_id)),
            result_commit: self.result_commit.clone(),
            result_error: self.result_error.clone(),
        }
    }
}

/// Temporal's activity retry, off: the error engine inside the step decides retries, and
/// the workflow itself starts a step again after a lost worker.
fn no_retries() -> RetryPolicy {
    RetryPolicy::builder().maximum_attempts(1).build()
}

/// Schedules step `i`'s activity.
fn start_step(ctx: &WorkflowContext<PipelineRun>, i: usize) -> StepFuture {
    let (task, opts) = ctx.state(|s| {
        let plan = &s.plan;
        let step = &plan.steps[i];
        let losses = s.losses[i];
        let task = StepTask {
            run_id: plan.run_id.clone(),
            step: step.id.clone(),
            base_commit: plan.base_commit.clone(),
            dependencies: s.schedule.dependency_ids(i),
            inputs: s.schedule.inputs(i),
            workstream_files: plan.workstream_files.clone(),
            worker_losses: losses,
        };
        let queue = match &step.capability {
            Some(c) => capability_queue(&plan.task_queue, c),
            None => plan.task_queue.clone(),
        };
        let opts = ActivityOptions::with_start_to_close_timeout(Duration::from_secs(
            plan.step_timeout_secs,
        ))
        .activity_id(format!("{}#{losses}", step.id))
        .task_queue(queue)
        .heartbeat_timeout(Duration::from_secs(plan.heartbeat_timeout_secs))
        .cancellation_type(ActivityCancellationType::WaitCancellationCompleted)
        .retry_policy(no_retries())
        .summary(format!("step {}", step.id))
        .build();
        (task, opts)
    });
    // The future owns a clone of the context (it is polled after this call returns); the
    // activity is scheduled when `select_all` first polls it, in vector order.
    let ctx = ctx.clone();
    async move {
        let result = ctx
            .execute_activity(StepActivities::run_step, task, opts)
            .await;
        (i, result)
    }
    .boxed_local()
}

/// Records step `i`'s activity result; returns the step's next activity when its worker
/// was lost and it may run again.
fn record_step(
    ctx: &WorkflowContext<PipelineRun>,
    i: usize,
    result: Result<StepOutcome, ActivityExecutionError>,
) -> Option<StepFuture> {
    match result {
        Ok(StepOutcome::Completed { commit, worker }) => {
            ctx.state_mut(|s| {
                s.workers[i] = Some(worker);
                s.schedule.complete(i, commit);
            });
            None
        }
        Ok(StepOutcome::Failed { error, worker }) => {
            ctx.state_mut(|s| {
                s.workers[i] = Some(worker);
                s.schedule.fail(i, error);
            });
            None
        }
        Err(e) if e.as_cancelled().is_some() || ctx.cancellation_token().is_cancelled() => {
            ctx.state_mut(|s| s.schedule.cancel_running(i));
            None
        }
        Err(e) => {
            let lost = e
                .as_timeout()
                .is_some_and(|t| t.timeout_type() == TimeoutType::Heartbeat);
            let again = ctx.state_mut(|s| {
                if lost && s.losses[i] < s.plan.max_worker_losses {
                    s.losses[i] += 1;
                    true
                } else {
                    let why = if lost {
                        format!(
                            "the step's worker was lost {} time(s) (no heartbeat for {} s); \
                             giving up",
                            s.losses[i] + 1,
                            s.plan.heartbeat_timeout_secs
                        )
                    } else {
                        format!("the step's activity failed: {e}")
                    };
                    s.schedule.fail(i, why);
                    false
                }
            });
            again.then(|| start_step(ctx, i))
        }
    }
}
