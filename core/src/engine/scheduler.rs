//! The scheduler: a ready queue over the plan's DAG.
//!
//! A step becomes ready the moment its last dependency completes (no wave barrier). Ready
//! steps start in priority order (longest chain to a sink first, so the critical path
//! leads; then file order) while fewer than `jobs` run and no running step excludes them
//! (shared conflict group, overlapping declared scope, `parallel_ok: false`). A failed
//! step marks every transitive dependent skipped; independent branches carry on. Ctrl-C
//! stops scheduling; running steps see the cancellation, stop their tools and record
//! themselves interrupted.
//!
//! On resume, a step recorded completed is kept when its checkpoint still matches: same
//! definition hash, same input commits (its dependencies' results) and the result commit
//! still exists. Otherwise it is reset and runs again, and so do its dependents, whose
//! inputs then change.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::Arc;

use git2::Oid;
use tokio::task::JoinSet;

use super::RunEvent;
use super::run_context::RunContext;
use super::step_executor::{StepResult, execute_step};
use crate::state::{Checkpoint, StepStatus};

/// What the database knew about a step when the run (re)started.
#[derive(Debug, Clone)]
pub(crate) struct PriorStep {
    pub status: StepStatus,
    pub attempts: u32,
    pub definition_hash: String,
    pub checkpoint: Option<Checkpoint>,
}

/// Final state of each step after scheduling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Final {
    Completed,
    Failed,
    Skipped,
    Interrupted,
    /// Never started (the run was interrupted first).
    NotRun,
}

pub(crate) struct ScheduleOutcome {
    pub finals: Vec<Final>,
    pub results: Vec<Option<Oid>>,
    pub cancelled: bool,
}

struct Scheduler {
    ctx: Arc<RunContext>,
    prior: HashMap<String, PriorStep>,
    remaining: Vec<usize>,
    results: Vec<Option<Oid>>,
    finals: Vec<Option<Final>>,
    inputs: Vec<Vec<Oid>>,
    attempts: Vec<u32>,
    ready: BinaryHeap<(u32, Reverse<usize>)>,
    /// Whether a checkpoint's commit exists, through one repository handle, by commit
    /// (kept steps often share one: steps that change nothing keep their input commit).
    commits: crate::git::CommitCheck,
}

/// Drives the run's steps to a final state. Errors recording state are logged and make
/// the affected step fail; they never abort the whole run half-recorded.
pub(crate) async fn schedule(
    ctx: Arc<RunContext>,
    prior: HashMap<String, PriorStep>,
) -> ScheduleOutcome {
    let n = ctx.set.steps.len();
    let attempts = ctx
        .set
        .steps
        .iter()
        .map(|s| prior.get(s.id.as_str()).map_or(0, |p| p.attempts))
        .collect();
    let mut s = Scheduler {
        remaining: ctx.plan.deps.iter().map(Vec::len).collect(),
        results: vec![None; n],
        finals: vec![None; n],
        inputs: vec![Vec::new(); n],
        attempts,
        ready: BinaryHeap::new(),
        commits: ctx.repo.commit_check(),
        prior,
        ctx: ctx.clone(),
    };
    let roots: Vec<usize> = (0..n).filter(|&i| s.remaining[i] == 0).collect();
    for i in roots {
        s.make_ready(i);
    }

    let slots = super::job_slots::JobSlots::new(ctx.options.jobs.max(1));
    let mut running: Vec<usize> = Vec::new();
    let mut tasks: JoinSet<(usize, StepResult)> = JoinSet::new();
    let mut task_steps: HashMap<tokio::task::Id, usize> = HashMap::new();
    let mut cancelled = ctx.cancel.is_cancelled();
    loop {
        if !cancelled {
            let mut deferred = Vec::new();
            // A step holds a job slot while it works; one that only waits (backoff, rate
            // limit, breaker cooldown) lends its slot to the next ready step.
            while let Some(item) = s.ready.pop() {
                let i = item.1.0;
                if running.iter().any(|&r| ctx.plan.excludes(r, i)) {
                    deferred.push(item);
                    continue;
                }
                let Some(slot) = slots.try_take() else {
                    deferred.push(item);
                    break;
                };
                running.push(i);
                s.attempts[i] += 1;
                let (c, inputs, hint) = (ctx.clone(), s.inputs[i].clone(), s.attempts[i]);
                let handle = tasks.spawn(super::job_slots::hold(slot, async move {
                    (i, execute_step(c, i, inputs, hint).await)
                }));
                task_steps.insert(handle.id(), i);
            }
            s.ready.extend(deferred);
        }
        if tasks.is_empty() {
            break;
        }
        tokio::select! {
            biased;
            _ = ctx.cancel.cancelled(), if !cancelled => {
                cancelled = true;
            }
            _ = slots.freed(), if !cancelled && !s.ready.is_empty() => {}
            joined = tasks.join_next() => {
                let Some(joined) = joined else { continue };
                let (i, result) = match joined {
                    Ok(r) => r,
                    Err(e) => {
                        // A step task panicked: a bug, reported as the step's failure.
                        let Some(&i) = task_steps.get(&e.id()) else { continue };
                        let error = format!("internal error while running the step: {e}");
                        let _ = ctx.state.set_step_status(&ctx.run_id, ctx.set.steps[i].id.as_str(), StepStatus::Failed, Some(&error));
                        (i, StepResult::Failed { error })
                    }
                };
                running.retain(|&r| r != i);
                match result {
                    StepResult::Completed { commit } => s.complete(i, commit),
                    StepResult::Failed { error } => {
                        s.finals[i] = Some(Final::Failed);
                        tracing::debug!("step {} failed: {error}", ctx.set.steps[i].id);
                        s.skip_dependents(i);
                    }
                    StepResult::Interrupted => s.finals[i] = Some(Final::Interrupted),
                }
            }
        }
    }
    ScheduleOutcome {
        finals: s
            .finals
            .into_iter()
            .map(|f| f.unwrap_or(Final::NotRun))
            .collect(),
        results: s.results,
        cancelled,
    }
}

impl Scheduler {
    /// All dependencies of `i` are completed: keep its checkpoint if still valid, else
    /// queue it.
    fn make_ready(&mut self, i: usize) {
        let mut worklist = vec![i];
        while let Some(i) = worklist.pop() {
            let ctx = &self.ctx;
            let step = &ctx.set.steps[i];
            let mut inputs: Vec<Oid> = ctx.plan.deps[i]
                .iter()
                .filter_map(|&d| self.results[d])
                .collect();
            if inputs.is_empty() {
                inputs.push(ctx.base);
            }
            inputs.sort();
            inputs.dedup();
            if let Some(prior) = self.prior.get(step.id.as_str()) {
                if prior.status == StepStatus::Completed {
                    if let Some(commit) = reusable(
                        prior.checkpoint.as_ref(),
                        &step.definition_hash,
                        &inputs,
                        &mut self.commits,
                    ) {
                        ctx.reporter.report(&RunEvent::StepReused {
                            step: step.id.to_string(),
                            commit: commit.to_string(),
                        });
                        self.results[i] = Some(commit);
                        self.finals[i] = Some(Final::Completed);
                        for &d in &ctx.plan.dependents[i] {
                            self.remaining[d] -= 1;
                            if self.remaining[d] == 0 {
                                worklist.push(d);
                            }
                        }
                        continue;
                    }
                    if let Err(e) =
                        ctx.state
                            .reset_step(&ctx.run_id, step.id.as_str(), &step.definition_hash)
                    {
                        tracing::error!("cannot reset step {}: {e}", step.id);
                    }
                } else if prior.status != StepStatus::Pending
                    || prior.definition_hash != step.definition_hash
                {
                    // Runs again: back to pending with the current definition recorded.
                    if let Err(e) =
                        ctx.state
                            .reset_step(&ctx.run_id, step.id.as_str(), &step.definition_hash)
                    {
                        tracing::error!("cannot reset step {}: {e}", step.id);
                    }
                }
            }
            self.inputs[i] = inputs;
            self.ready.push((ctx.plan.priority[i], Reverse(i)));
        }
    }

    fn complete(&mut self, i: usize, commit: Oid) {
        self.results[i] = Some(commit);
        self.finals[i] = Some(Final::Completed);
        let dependents = self.ctx.plan.dependents[i].clone();
        for d in dependents {
            self.remaining[d] -= 1;
            if self.remaining[d] == 0 {
                self.make_ready(d);
            }
        }
    }

    fn skip_dependents(&mut self, failed: usize) {
        let ctx = self.ctx.clone();
        let failed_id = ctx.set.steps[failed].id.to_string();
        let mut stack: Vec<usize> = ctx.plan.dependents[failed].clone();
        while let Some(d) = stack.pop() {
            if self.finals[d].is_some() {
                continue;
            }
            self.finals[d] = Some(Final::Skipped);
            let step_id = ctx.set.steps[d].id.as_str();
            let reason = format!("dependency {failed_id} failed");
            if let Err(e) =
                ctx.state
                    .set_step_status(&ctx.run_id, step_id, StepStatus::Skipped, Some(&reason))
            {
                tracing::error!("cannot record skipped step {step_id}: {e}");
            }
            ctx.reporter.report(&RunEvent::StepStatus {
                step: step_id.to_string(),
                status: StepStatus::Skipped,
                error: Some(reason),
                commit: None,
            });
            stack.extend(ctx.plan.dependents[d].iter().copied());
        }
    }
}

/// The checkpoint's commit when it is still valid for `definition_hash` and `inputs`.
fn reusable(
    checkpoint: Option<&Checkpoint>,
    definition_hash: &str,
    inputs: &[Oid],
    commits: &mut crate::git::CommitCheck,
) -> Option<Oid> {
    let cp = checkpoint?;
    if cp.definition_hash != definition_hash {
        return None;
    }
    let recorded = cp.outputs.get("inputs")?.as_array()?;
    if recorded.len() != inputs.len()
        || recorded
            .iter()
            .zip(inputs)
            .any(|(r, i)| r.as_str() != Some(i.to_string().as_str()))
    {
        return None;
    }
    if !commits.exists(&cp.commit) {
        return None;
    }
    Oid::from_str(&cp.commit).ok()
}
