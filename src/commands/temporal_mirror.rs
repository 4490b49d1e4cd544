//! Temporal runs in the local state database: the submitter (and `status`, `resume` on
//! any machine) records what the workflow reports as ordinary journal events, so
//! `pipeline status`, `runs`, `--json`, the API, the dashboard and webhooks read a
//! Temporal run like a local one (docs/TEMPORAL.md "Runs in the state database").
//!
//! The workflow is the source of truth; the database holds a copy that is as fresh as
//! the last state read. Each change of a step's state becomes the events a local run
//! records for it:
//!
//! | workflow step status | events recorded |
//! | --- | --- |
//! | `running` (a new activity: first start, or again after a lost worker) | `attempt_started` (the previous attempt, if open, ends `interrupted` first) |
//! | `waiting` (its tool's cluster-wide circuit breaker is open) | `step_waiting` (`breaker`) |
//! | `awaiting_approval` | `attempt_finished` (succeeded), `approval_requested` |
//! | `completed` | `attempt_finished` (succeeded, with the step's usage), `step_completed` |
//! | `failed` | `attempt_finished` (failed, with the step's usage), `step_failed` |
//! | `skipped` | `step_skipped` naming the dependency or the reason (run budget) |
//! | `cancelled` | `step_cancelled` (an open attempt ends `interrupted`) |
//!
//! and the run's end becomes `run_finished`. The run's `run_started` carries the
//! workflow's address in `engine` ([`RemoteEngine`]), which is how the other commands
//! know the run is a Temporal run.

use std::collections::HashMap;
use std::time::Instant;

use pipeline_core::engine::{EngineError, Workspace};
use pipeline_core::state::{
    AttemptResult, Change, Event, Flush, JournalEntry, RemoteEngine, RunStatus, StateStore,
    StepStatus, Subscriptions, Usage, WaitKind, subscribable_kinds,
};
use pipeline_temporal::dag_schedule::StepStatus as WorkflowStatus;
use pipeline_temporal::run_plan::{WORKFLOW_PREFIX, result_branch};
use pipeline_temporal::{RunOutcome, RunPlan, RunState};

/// The `engine.kind` of a Temporal run.
pub const TEMPORAL: &str = "temporal";

/// The log a mirrored attempt names: the ref its worker pushes the step's record to.
fn log_ref(run_id: &str, step: &str) -> String {
    format!("refs/pipeline-logs/{run_id}/{step}")
}

/// What the database holds for one step.
#[derive(Debug, Clone)]
struct Seen {
    status: StepStatus,
    attempt: u32,
    attempt_open: bool,
    losses: u32,
    started: Option<Instant>,
}

/// The local copy of one Temporal run.
pub struct RunMirror {
    state: StateStore,
    /// Webhook and notify endpoints of the repository's configuration: each recorded
    /// event gets its outbox rows in its own transaction, as for a local run.
    subscriptions: Subscriptions,
    run_id: String,
    order: Vec<String>,
    seen: HashMap<String, Seen>,
    run_finished: bool,
    since: Instant,
}

/// The `engine` a Temporal run records in `run_started`, or `None` for a local run (or
/// a run not in the database). Errors: the database cannot be read.
pub fn remote_engine(
    state: &StateStore,
    run_id: &str,
) -> Result<Option<RemoteEngine>, EngineError> {
    Ok(pipeline_core::engine::remote_engine_of(state, run_id)?.filter(|e| e.kind == TEMPORAL))
}

/// Opens (creating it if needed) the state database of `workspace`; `.pipeline/` is
/// added to the repository's `info/exclude` first, as a local run does.
pub fn open_state(workspace: &Workspace) -> Result<StateStore, EngineError> {
    if let Ok(repo) = pipeline_core::git::Repository::open(&workspace.repo_root) {
        repo.ensure_excluded(".pipeline/")?;
    }
    std::fs::create_dir_all(&workspace.state_dir).map_err(|e| {
        EngineError::Input(format!(
            "cannot create {}: {e}",
            workspace.state_dir.display()
        ))
    })?;
    Ok(StateStore::open(
        &workspace.db_path,
        pipeline_core::state::Durability::Normal,
    )?)
}

/// The webhook and notify subscriptions of `workspace`'s `.pipeline/config.yaml`.
/// Errors: a bad `webhooks`/`notify` section.
fn subscriptions_of(workspace: &Workspace) -> Result<Subscriptions, EngineError> {
    let settings = pipeline_adapters::WebhookSettings::load(
        &workspace.state_dir.join("config.yaml"),
        &subscribable_kinds(),
    )?;
    Ok(Subscriptions::from_settings(&settings))
}

impl RunMirror {
    /// Records a new Temporal run from its plan: `run_started` (with `engine`, `repo`
    /// the local repository) and one `step_added` per step, in one transaction; returns
    /// the recorded entries. Errors: the run id is already recorded, or the database
    /// cannot be written.
    pub fn create(
        state: &StateStore,
        workspace: &Workspace,
        plan: &RunPlan,
        repo: &str,
        engine: RemoteEngine,
    ) -> Result<Vec<JournalEntry>, EngineError> {
        let mut changes = vec![Change::Event(Event::RunStarted {
            workstreams: plan.workstream_files.join("\n"),
            repo: repo.to_string(),
            base_commit: plan.base_commit.clone(),
            result_branch: result_branch(&plan.run_id),
            steps: plan.steps.len(),
            jobs: plan.jobs as usize,
            plan_hash: format!("{WORKFLOW_PREFIX}/{}", plan.run_id),
            resumed: false,
            pid: std::process::id(),
            budget_usd: plan.budget.usd,
            budget_tokens: plan.budget.tokens,
            engine: Some(engine),
        })];
        for step in &plan.steps {
            changes.push(Change::Event(Event::StepAdded {
                step: step.id.clone(),
                workstream: step.id.split('/').next().unwrap_or(&step.id).to_string(),
                definition_hash: String::new(),
                depends_on: step
                    .deps
                    .iter()
                    .filter_map(|&d| plan.steps.get(d).map(|s| s.id.clone()))
                    .collect(),
            }));
        }
        Ok(state.record_delivering(
            &plan.run_id,
            changes,
            Flush::Now,
            &subscriptions_of(workspace)?,
        )?)
    }

    /// The mirror of a run already recorded, delivering its events to the webhook and
    /// notify endpoints of `workspace`'s `.pipeline/config.yaml`. Errors: the database
    /// cannot be read; a bad `webhooks`/`notify` section.
    pub fn open(
        state: StateStore,
        workspace: &Workspace,
        run_id: &str,
    ) -> Result<RunMirror, EngineError> {
        let subscriptions = subscriptions_of(workspace)?;
        let steps = state.steps(run_id)?;
        let run_finished = state.run(run_id)?.is_some_and(|r| r.status.is_terminal());
        let mut seen = HashMap::new();
        let mut order = Vec::new();
        for step in steps {
            let attempt_open = step.attempts > 0
                && state
                    .attempts(run_id, &step.step_id)?
                    .last()
                    .is_some_and(|a| a.finished_at.is_none());
            order.push(step.step_id.clone());
            seen.insert(
                step.step_id,
                Seen {
                    status: step.status,
                    attempt: step.attempts,
                    attempt_open,
                    losses: step.attempts.saturating_sub(1),
                    started: None,
                },
            );
        }
        Ok(RunMirror {
            state,
            subscriptions,
            run_id: run_id.to_string(),
            order,
            seen,
            run_finished,
            since: Instant::now(),
        })
    }

    /// Whether the database already records the run's end.
    pub fn is_finished(&self) -> bool {
        self.run_finished
    }

    /// Records what changed between the database and `run` (see the module docs), in
    /// one transaction; returns the recorded entries. Steps the database does not know
    /// are ignored. Errors: the database cannot be written (nothing of the call is
    /// recorded).
    pub fn apply(&mut self, run: &RunState) -> Result<Vec<JournalEntry>, EngineError> {
        let mut changes: Vec<Event> = Vec::new();
        let mut next = self.seen.clone();
        for step in &run.steps {
            let Some(seen) = next.get_mut(&step.id) else {
                continue;
            };
            step_changes(&self.run_id, seen, step, &mut changes);
        }
        if run.outcome != RunOutcome::Running && !self.run_finished {
            changes.push(self.run_finished_event(run, &next));
        }
        if changes.is_empty() {
            return Ok(Vec::new());
        }
        let entries = self.state.record_delivering(
            &self.run_id,
            changes.into_iter().map(Change::Event).collect(),
            Flush::Now,
            &self.subscriptions,
        )?;
        self.seen = next;
        if run.outcome != RunOutcome::Running {
            self.run_finished = true;
        }
        Ok(entries)
    }

    fn run_finished_event(&self, run: &RunState, steps: &HashMap<String, Seen>) -> Event {
        let count = |s: StepStatus| {
            self.order
                .iter()
                .filter(|id| steps.get(*id).is_some_and(|seen| seen.status == s))
                .count()
        };
        let completed = count(StepStatus::Completed);
        let failed = count(StepStatus::Failed);
        let skipped = count(StepStatus::Skipped);
        let cancelled = count(StepStatus::Cancelled);
        Event::RunFinished {
            status: match run.outcome {
                RunOutcome::Completed => RunStatus::Completed,
                _ => RunStatus::Failed,
            },
            completed,
            failed,
            skipped,
            interrupted: cancelled,
            not_run: self.order.len() - completed - failed - skipped - cancelled,
            result_branch: run.result_branch.clone(),
            result_commit: run.result_commit.clone(),
            result_error: run.result_error.clone(),
            duration_ms: self.since.elapsed().as_millis() as u64,
        }
    }
}

/// The events that bring `seen` to `step`'s workflow status; updates `seen`.
fn step_changes(
    run_id: &str,
    seen: &mut Seen,
    step: &pipeline_temporal::StepState,
    out: &mut Vec<Event>,
) {
    if seen.status.is_terminal() {
        return;
    }
    let id = &step.id;
    let start = |seen: &mut Seen, out: &mut Vec<Event>| {
        seen.attempt += 1;
        seen.attempt_open = true;
        seen.losses = step.worker_losses;
        seen.started.get_or_insert_with(Instant::now);
        seen.status = StepStatus::Running;
        out.push(Event::AttemptStarted {
            step: id.clone(),
            attempt: seen.attempt,
            tool: None,
            worktree: None,
            log: log_ref(run_id, id),
        });
    };
    let lost_worker = |seen: &mut Seen, out: &mut Vec<Event>| {
        if seen.attempt_open {
            seen.attempt_open = false;
            out.push(Event::AttemptFinished {
                step: id.clone(),
                attempt: seen.attempt,
                outcome: AttemptResult::Interrupted,
                exit_code: None,
                error: Some("its worker was lost (no heartbeat); the step runs again".into()),
                classified: None,
                usage: None,
                duration_ms: 0,
            });
        }
    };
    let duration = |seen: &Seen| seen.started.map_or(0, |s| s.elapsed().as_millis() as u64);
    // The tokens and cost the step's attempts reported (its worker's report), put on the
    // attempt that ends it, so `pipeline usage` counts them.
    let usage = step.report.as_ref().and_then(|r| {
        let u = &r.usage;
        (r.ai || u.input_tokens > 0 || u.output_tokens > 0 || u.cost_usd.is_some()).then(|| Usage {
            input_tokens: Some(u.input_tokens),
            output_tokens: Some(u.output_tokens),
            cost_usd: u.cost_usd,
            estimated: u.estimated,
            ..Usage::default()
        })
    });
    let finish =
        |seen: &mut Seen, out: &mut Vec<Event>, outcome: AttemptResult, error: Option<String>| {
            // The step went past `running` between two reads, or ran again after a lost
            // worker: its attempt starts here.
            if !seen.attempt_open || step.worker_losses > seen.losses {
                lost_worker(seen, out);
                start(seen, out);
            }
            seen.attempt_open = false;
            out.push(Event::AttemptFinished {
                step: id.clone(),
                attempt: seen.attempt,
                outcome,
                exit_code: (outcome == AttemptResult::Succeeded).then_some(0),
                error,
                classified: None,
                usage: usage.clone(),
                duration_ms: duration(seen),
            });
        };
    match &step.status {
        WorkflowStatus::Running => {
            if seen.status != StepStatus::Running || step.worker_losses > seen.losses {
                lost_worker(seen, out);
                start(seen, out);
            }
        }
        WorkflowStatus::Waiting { tool, reason } => {
            if seen.status != StepStatus::Waiting {
                seen.status = StepStatus::Waiting;
                out.push(Event::StepWaiting {
                    step: id.clone(),
                    attempt: seen.attempt,
                    wait: WaitKind::Breaker,
                    tool: Some(tool.clone()),
                    class: None,
                    reason: reason.clone(),
                    delay_ms: 0,
                    until: None,
                });
            }
        }
        WorkflowStatus::AwaitingApproval { commit } => {
            if seen.status != StepStatus::AwaitingApproval {
                finish(seen, out, AttemptResult::Succeeded, None);
                seen.status = StepStatus::AwaitingApproval;
                out.push(Event::ApprovalRequested {
                    step: id.clone(),
                    attempt: seen.attempt,
                    commit: commit.clone(),
                    tool: step.report.as_ref().and_then(|r| r.tool.clone()),
                });
            }
        }
        WorkflowStatus::Completed { commit } => {
            // After an approval gate the attempt already ended.
            if seen.status != StepStatus::AwaitingApproval {
                finish(seen, out, AttemptResult::Succeeded, None);
            }
            seen.status = StepStatus::Completed;
            out.push(Event::StepCompleted {
                step: id.clone(),
                attempt: seen.attempt,
                commit: commit.clone(),
                duration_ms: duration(seen),
            });
        }
        WorkflowStatus::Failed { error } => {
            // A rejected approval gate: the attempt already ended.
            if seen.status != StepStatus::AwaitingApproval {
                finish(seen, out, AttemptResult::Failed, Some(error.clone()));
            }
            seen.status = StepStatus::Failed;
            out.push(Event::StepFailed {
                step: id.clone(),
                attempt: seen.attempt,
                error: error.clone(),
                duration_ms: duration(seen),
            });
        }
        WorkflowStatus::Skipped { dependency, reason } => {
            seen.status = StepStatus::Skipped;
            let dependency = (!dependency.is_empty()).then(|| dependency.clone());
            out.push(Event::StepSkipped {
                step: id.clone(),
                reason: reason.clone().unwrap_or_else(|| match &dependency {
                    Some(d) => format!("dependency {d} did not complete"),
                    None => "not run".to_string(),
                }),
                dependency,
            });
        }
        WorkflowStatus::Cancelled => {
            seen.attempt_open = false;
            seen.status = StepStatus::Cancelled;
            out.push(Event::StepCancelled {
                step: id.clone(),
                reason: "the run's workflow was cancelled".into(),
            });
        }
        WorkflowStatus::Pending | WorkflowStatus::Ready => {}
    }
}
