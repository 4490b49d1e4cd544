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
//! Step reports: each outcome carries what the step's own run recorded ([`StepReport`]:
//! tool, error classes attempt by attempt, usage, whether it asked for approval). The
//! workflow acts on it:
//!
//! - **Circuit breakers** per tool, shared by the whole cluster ([`ToolBreakers`], the
//!   local rules): every attempt of a report counts for its tool; while a tool's breaker
//!   is open, ready steps naming that tool are `waiting` (no job slot held) until the
//!   cooldown, a workflow timer, ends; then one trial step (`half_open_trials`) runs.
//! - **The run's budget** ([`RunPlan::budget`]): the reports' usage adds up in
//!   [`RunState::spent`]; once it reaches the budget, AI steps not started yet end
//!   `skipped` with the reason (their dependents after them); other steps still run.
//! - **Approval gates**: a step that requires approval ([`PlannedStep::approval`], or
//!   its run asked for it) and completed is `awaiting_approval`; the signal `decide`
//!   ([`Decision`], sent by `pipeline approve/reject --temporal`) approves it (it
//!   completes, its dependents start) or rejects it (it fails with `rejected by BY:
//!   COMMENT`, its dependents are skipped). A decision on a step that is not awaiting
//!   approval changes nothing and is recorded in [`RunState::notes`]. `--approve-all`
//!   ([`RunPlan::approve_all`]) completes such steps at once.
//!
//! The loop waits, in this fixed order, for the first of: a step's activity (in start
//! order), a breaker's cooldown timer (in opening order), a decision signal.
//!
//! Cancellation: cancelling the workflow cancels the running activities (the workers stop
//! the steps' process groups), waits for them, and ends the run `cancelled` with no
//! merge; waiting and awaiting steps end `cancelled`. The state is readable at any time
//! with the `state` query ([`RunState`]).
//!
//! [`PlannedStep::approval`]: crate::run_plan::PlannedStep::approval

use std::future::Future;
use std::pin::pin;
use std::task::Poll;
use std::time::Duration;

use futures_util::FutureExt;
use futures_util::future::LocalBoxFuture;
use serde::{Deserialize, Serialize};
use temporalio_common::RetryPolicy;
use temporalio_common::error::TimeoutType;
use temporalio_macros::{workflow, workflow_methods};
use temporalio_sdk::{
    ActivityCancellationType, ActivityExecutionError, ActivityOptions, SyncWorkflowContext,
    WorkflowContext, WorkflowContextView, WorkflowResult,
};

use crate::dag_schedule::{DagSchedule, Gate, StepStatus};
use crate::run_plan::{RunBudget, RunPlan, capability_queue, result_branch, tool_queue};
use crate::step_activities::StepActivities;
use crate::step_task::{MergeOutcome, MergeTask, StepOutcome, StepReport, StepTask, StepUsage};
use crate::tool_breakers::{Admission, Opened, ToolBreaker, ToolBreakers};

/// The name of the workflow's decision signal (input [`Decision`]).
pub const DECIDE_SIGNAL: &str = "decide";

/// The tool name of a step's own command, which has no circuit breaker (as locally).
const SHELL_TOOL: &str = "shell";

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

/// A person's decision on a step awaiting approval: the input of the `decide` signal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    /// The step id, `ws/step`.
    pub step: String,
    /// `true` approves, `false` rejects.
    pub approve: bool,
    /// Who decides (`--by`, default the OS user).
    pub by: String,
    /// Why; a rejection's comment becomes the step's error.
    #[serde(default)]
    pub comment: Option<String>,
}

/// One step in the `state` query.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
    /// What its run on the worker recorded, once it ended there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report: Option<StepReport>,
}

/// The workflow's state (query `state`) and its result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
    /// The circuit breakers of the tools that failed in this run, sorted by tool:
    /// `{tool, state, failures, opened_by, ...}`.
    #[serde(default)]
    pub breakers: Vec<ToolBreaker>,
    /// What the steps' attempts spent so far (the sum of their reports' usage).
    #[serde(default)]
    pub spent: StepUsage,
    /// The run's budget (`--budget-usd`, `--budget-tokens`).
    #[serde(default)]
    pub budget: RunBudget,
    /// Things the workflow ignored, in words (a decision on a step not awaiting
    /// approval), oldest first.
    #[serde(default)]
    pub notes: Vec<String>,
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
    reports: Vec<Option<StepReport>>,
    /// Whether step `i` was started as a half-open breaker's trial.
    trials: Vec<bool>,
    breakers: ToolBreakers,
    spent: StepUsage,
    notes: Vec<String>,
    /// Decision signals received (the run loop wakes when it changes).
    decisions: u32,
    /// Breakers that opened and have no cooldown timer yet.
    openings: Vec<Opened>,
}

type StepFuture = LocalBoxFuture<'static, (usize, Result<StepOutcome, ActivityExecutionError>)>;
type CooldownFuture = LocalBoxFuture<'static, Opened>;

/// What woke the run loop.
enum Wake {
    /// Running step future `k` (index into the running vector) ended.
    Step(
        usize,
        Box<(usize, Result<StepOutcome, ActivityExecutionError>)>,
    ),
    /// Cooldown timer `k` fired.
    Cooldown(usize, Opened),
    /// A decision signal arrived (or the workflow was cancelled).
    Decision,
}

#[workflow_methods]
impl PipelineRun {
    /// The workflow's state from its input, before anything ran.
    #[init]
    pub fn new(_ctx: &WorkflowContextView, plan: RunPlan) -> Self {
        let n = plan.steps.len();
        let plan_breakers = plan.breakers.clone();
        PipelineRun {
            schedule: DagSchedule::new(&plan),
            plan,
            losses: vec![0; n],
            workers: vec![None; n],
            outcome: RunOutcome::Running,
            result_commit: None,
            result_error: None,
            reports: vec![None; n],
            trials: vec![false; n],
            breakers: ToolBreakers::new(plan_breakers),
            spent: StepUsage::default(),
            notes: Vec::new(),
            decisions: 0,
            openings: Vec::new(),
        }
    }

    /// Drives the DAG to its end, then merges and pushes the results.
    #[run(name = "pipeline-run")]
    pub async fn run(ctx: &mut WorkflowContext<Self>) -> WorkflowResult<RunState> {
        let mut running: Vec<StepFuture> = Vec::new();
        let mut cooldowns: Vec<CooldownFuture> = Vec::new();
        loop {
            let cancelled = ctx.cancellation_token().is_cancelled();
            if !cancelled {
                let started = ctx.state_mut(PipelineRun::start_steps);
                for i in started {
                    running.push(start_step(ctx, i));
                }
            }
            for opened in ctx.state_mut(|s| std::mem::take(&mut s.openings)) {
                cooldowns.push(start_cooldown(ctx, opened));
            }
            if running.is_empty() {
                let (done, awaiting) = ctx.state(|s| {
                    let n = s.plan.steps.len();
                    (
                        s.schedule.is_done(),
                        (0..n).any(|i| s.schedule.is_awaiting(i)),
                    )
                });
                // Nothing runs: the run ends when every step is final, when it was
                // cancelled, or when nothing could change any more (no decision awaited,
                // no cooldown pending; left steps are failed below).
                if done || cancelled || (!awaiting && cooldowns.is_empty()) {
                    break;
                }
            }
            let seen = ctx.state(|s| s.decisions);
            let wake = {
                let mut decided = pin!(ctx.wait_condition(move |s| s.decisions != seen));
                std::future::poll_fn(|cx| {
                    for (k, f) in running.iter_mut().enumerate() {
                        if let Poll::Ready(r) = f.as_mut().poll(cx) {
                            return Poll::Ready(Wake::Step(k, Box::new(r)));
                        }
                    }
                    for (k, f) in cooldowns.iter_mut().enumerate() {
                        if let Poll::Ready(o) = f.as_mut().poll(cx) {
                            return Poll::Ready(Wake::Cooldown(k, o));
                        }
                    }
                    // Once cancelled, the wait ends at once (it inherits the workflow's
                    // cancellation): only the running steps' ends matter then.
                    if !cancelled && decided.as_mut().poll(cx).is_ready() {
                        return Poll::Ready(Wake::Decision);
                    }
                    Poll::Pending
                })
                .await
            };
            match wake {
                Wake::Step(k, ended) => {
                    let (i, result) = *ended;
                    // `swap_remove`, as `select_all` did: recorded histories replay.
                    drop(running.swap_remove(k));
                    if let Some(again) = record_step(ctx, i, result) {
                        running.push(again);
                    }
                }
                Wake::Cooldown(k, opened) => {
                    drop(cooldowns.swap_remove(k));
                    ctx.state_mut(|s| s.breakers.cooldown_ended(&opened.tool, opened.generation));
                }
                Wake::Decision => {}
            }
        }
        let cancelled = ctx.cancellation_token().is_cancelled();
        if cancelled {
            ctx.state_mut(|s| s.schedule.cancel_waiting());
        } else {
            ctx.state_mut(PipelineRun::fail_stuck);
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

    /// Signal `decide`: approves or rejects a step awaiting approval. A decision on an
    /// unknown step or one that is not awaiting approval changes nothing and is noted in
    /// [`RunState::notes`].
    #[signal(name = "decide")]
    pub fn decide(&mut self, _ctx: &mut SyncWorkflowContext<Self>, decision: Decision) {
        self.apply_decision(decision);
        self.decisions = self.decisions.wrapping_add(1);
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
                report: self.reports[i].clone(),
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
            breakers: self.breakers.breakers().to_vec(),
            spent: self.spent.clone(),
            budget: self.plan.budget.clone(),
            notes: self.notes.clone(),
        }
    }

    /// Starts what may start: ready and waiting steps through the gate of the run's
    /// budget (AI steps are skipped once it is spent) and of their tool's breaker.
    fn start_steps(&mut self) -> Vec<usize> {
        let PipelineRun {
            plan,
            schedule,
            breakers,
            spent,
            trials,
            ..
        } = self;
        let budget_spent = budget_spent(&plan.budget, spent);
        schedule.start_ready_gated(|i| {
            let step = &plan.steps[i];
            if step.ai
                && let Some(reason) = &budget_spent
            {
                return Gate::Skip(reason.clone());
            }
            let Some(tool) = step.tool.as_deref().filter(|t| *t != SHELL_TOOL) else {
                return Gate::Start;
            };
            match breakers.admit(tool) {
                Admission::Allowed => {
                    trials[i] = false;
                    Gate::Start
                }
                Admission::Trial => {
                    trials[i] = true;
                    Gate::Start
                }
                Admission::Rejected(reason) => Gate::Hold {
                    tool: tool.to_string(),
                    reason,
                },
            }
        })
    }

    /// Takes in step `i`'s report: its usage adds to the run's spending, each attempt
    /// counts on its tool's breaker (openings queue a cooldown timer).
    fn absorb_report(&mut self, i: usize, report: &StepReport) {
        self.spent.add(&report.usage);
        let step = &self.plan.steps[i];
        let mut planned_tool_reported = false;
        for attempt in &report.attempt_classes {
            let Some(tool) = attempt.tool.as_deref().or(step.tool.as_deref()) else {
                continue;
            };
            if tool == SHELL_TOOL {
                continue;
            }
            planned_tool_reported |= step.tool.as_deref() == Some(tool);
            if let Some(opened) = self.breakers.record(
                tool,
                attempt.class.as_deref(),
                &step.id,
                step.breaker_cooldown_ms,
            ) {
                self.openings.push(opened);
            }
        }
        if self.trials[i] && !planned_tool_reported {
            self.release_trial(i);
        }
        self.trials[i] = false;
        self.reports[i] = Some(report.clone());
    }

    /// Frees the half-open trial slot step `i` held, if it was a trial.
    fn release_trial(&mut self, i: usize) {
        if std::mem::take(&mut self.trials[i])
            && let Some(tool) = self.plan.steps[i].tool.clone()
        {
            self.breakers.release_trial(&tool);
        }
    }

    /// Applies a `decide` signal (see [`PipelineRun::decide`]).
    fn apply_decision(&mut self, d: Decision) {
        let verb = if d.approve { "approval" } else { "rejection" };
        let Some(i) = (0..self.plan.steps.len()).find(|&i| self.schedule.id(i) == d.step) else {
            self.notes.push(format!(
                "ignored the {verb} of step {} by {}: the run has no such step",
                d.step, d.by
            ));
            return;
        };
        if !self.schedule.is_awaiting(i) {
            self.notes.push(format!(
                "ignored the {verb} of step {} by {}: it is {}, not awaiting approval",
                d.step,
                d.by,
                self.schedule.status(i).word()
            ));
            return;
        }
        if d.approve {
            self.schedule.approve(i);
        } else {
            let comment = d.comment.as_deref().unwrap_or("").trim();
            self.schedule
                .reject(i, format!("rejected by {}: {comment}", d.by));
        }
    }

    /// After the loop, steps that can never start (held by a breaker whose cooldown no
    /// timer will end) fail, naming why.
    fn fail_stuck(&mut self) {
        for i in 0..self.plan.steps.len() {
            let why = match self.schedule.status(i) {
                st if st.is_final() => continue,
                StepStatus::Waiting { reason, .. } => {
                    format!("the run ended while the step was waiting: {reason}")
                }
                other => format!("the run ended while the step was {}", other.word()),
            };
            self.schedule.fail(i, why);
        }
    }
}

/// The reason AI steps are skipped once the run's attempts spent `budget` (`run budget
/// of $X spent: $Y, N tokens ...`, as a local run words it), or `None` while some is left
/// or there is no budget.
fn budget_spent(budget: &RunBudget, spent: &StepUsage) -> Option<String> {
    let reached = budget
        .usd
        .is_some_and(|b| spent.cost_usd.unwrap_or(0.0) >= b)
        || budget.tokens.is_some_and(|b| spent.tokens() >= b);
    if !reached {
        return None;
    }
    let mut limit = Vec::new();
    if let Some(usd) = budget.usd {
        limit.push(format!("${usd:.4}"));
    }
    if let Some(tokens) = budget.tokens {
        limit.push(format!("{tokens} tokens"));
    }
    let used = match spent.cost_usd {
        Some(usd) => format!("${usd:.4}, {} tokens", spent.tokens()),
        None => format!("{} tokens (no known cost)", spent.tokens()),
    };
    Some(format!(
        "run budget of {} spent: {used} (--budget-usd / --budget-tokens); AI steps not \
         started yet are skipped",
        limit.join(" and ")
    ))
}

/// A workflow timer of `opened.cooldown_ms` (at least 1 ms) that resolves to `opened`.
fn start_cooldown(ctx: &WorkflowContext<PipelineRun>, opened: Opened) -> CooldownFuture {
    let ctx = ctx.clone();
    async move {
        let _ = ctx
            .timer(Duration::from_millis(opened.cooldown_ms.max(1)))
            .await;
        opened
    }
    .boxed_local()
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
        // Routing: a capability's queue, else the queue of the step's tool profile
        // (polled only by workers where the tool is installed), else the main queue (a
        // step's own command: every worker has `sh`).
        let queue = match (&step.capability, &step.tool) {
            (Some(c), _) => capability_queue(&plan.task_queue, c),
            (None, Some(tool)) if tool != SHELL_TOOL => tool_queue(&plan.task_queue, tool),
            (None, _) => plan.task_queue.clone(),
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
        Ok(StepOutcome::Completed {
            commit,
            worker,
            report,
        }) => {
            ctx.state_mut(|s| {
                s.absorb_report(i, &report);
                s.workers[i] = Some(worker);
                let gated = s.plan.steps[i].approval || report.approval_requested;
                if gated && !s.plan.approve_all {
                    s.schedule.await_approval(i, commit);
                } else {
                    s.schedule.complete(i, commit);
                }
            });
            None
        }
        Ok(StepOutcome::Failed {
            error,
            worker,
            report,
        }) => {
            ctx.state_mut(|s| {
                s.absorb_report(i, &report);
                s.workers[i] = Some(worker);
                s.schedule.fail(i, error);
            });
            None
        }
        Err(e) if e.as_cancelled().is_some() || ctx.cancellation_token().is_cancelled() => {
            ctx.state_mut(|s| {
                s.release_trial(i);
                s.schedule.cancel_running(i);
            });
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
                    s.release_trial(i);
                    s.schedule.fail(i, why);
                    false
                }
            });
            again.then(|| start_step(ctx, i))
        }
    }
}
