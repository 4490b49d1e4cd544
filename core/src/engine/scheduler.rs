//! The scheduler: a ready queue over the plan's DAG.
//!
//! A step becomes ready the moment its last dependency completes (no wave barrier). Ready
//! steps start in priority order (longest chain to a sink first, so the critical path
//! leads; then file order) while a `--jobs` slot is free and no running step excludes them
//! (shared conflict group, overlapping declared scope, `parallel_ok: false`). A step that
//! only waits (backoff, rate limit, breaker cooldown, tool limits) lends its slot
//! ([`super::job_slots`]). A failed step marks every transitive dependent skipped;
//! independent branches carry on. Cancellation (Ctrl-C, a failed journal write) stops
//! scheduling; running steps see it, stop their tools and record themselves interrupted.
//!
//! On resume, a step recorded completed is kept when its checkpoint still matches: same
//! definition hash, same input commits (its dependencies' results) and the result commit
//! still exists. Otherwise it is reset and runs again, and so do its dependents, whose
//! inputs then change. A step recorded awaiting approval whose checkpoint still matches
//! is started in its wait (it does not run again); the step then lends its slot until a
//! decision comes.
//!
//! The scheduler runs steps through a [`StepRunner`] (the step lifecycle in production),
//! so its rules are unit-tested with a fake runner and no processes or git.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use git2::Oid;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::job_slots::{self, JobSlots};
use super::run_context::RunContext;
use super::run_journal::RunJournal;
use super::step_error::StepError;
use super::step_lifecycle::{StepResult, execute_step};
use crate::model::Step;
use crate::planning::Plan;
use crate::state::{Checkpoint, Event, StepStatus};

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

/// What scheduling amounts to.
pub(crate) struct ScheduleOutcome {
    /// Per step, in plan order.
    pub finals: Vec<Final>,
    /// Result commit per completed step.
    pub results: Vec<Option<Oid>>,
    /// Whether the run was cancelled.
    pub cancelled: bool,
}

/// Runs one step: `run(step index, input commits, attempt number of its next attempt,
/// checkpoint of the result it was awaiting approval with when the run was resumed)`.
pub(crate) trait StepRunner: Send + Sync + 'static {
    /// The step's whole execution; records its own state through the journal. With
    /// `awaiting`, the step does not run again: it waits for the decision on that result.
    fn run(
        &self,
        step: usize,
        inputs: Vec<Oid>,
        first_attempt: u32,
        awaiting: Option<Checkpoint>,
    ) -> Pin<Box<dyn Future<Output = StepResult> + Send>>;
}

impl StepRunner for Arc<RunContext> {
    fn run(
        &self,
        step: usize,
        inputs: Vec<Oid>,
        first_attempt: u32,
        awaiting: Option<Checkpoint>,
    ) -> Pin<Box<dyn Future<Output = StepResult> + Send>> {
        Box::pin(execute_step(
            self.clone(),
            step,
            inputs,
            first_attempt,
            awaiting,
        ))
    }
}

/// Everything the scheduler reads: the plan, its steps, where roots start.
pub(crate) struct Schedule<'a> {
    /// The run's steps in plan order.
    pub steps: &'a [Step],
    /// Their DAG, priorities and exclusions.
    pub plan: &'a Plan,
    /// The commit root steps start from.
    pub base: Oid,
    /// `--jobs`.
    pub jobs: usize,
    /// The run's journal (skips, resets and kept steps are recorded through it).
    pub journal: &'a RunJournal,
    /// Stops scheduling.
    pub cancel: &'a CancellationToken,
}

/// Drives the steps to a final state through `runner`; `prior` is what the database knew
/// of each step (resume), `commit_exists` tells whether a checkpoint's commit is still in
/// the repository. Errors: [`StepError::Journal`] when a skip, reset or kept step cannot
/// be recorded (the run stops; steps already running end first).
pub(crate) async fn schedule(
    s: Schedule<'_>,
    runner: impl StepRunner,
    prior: HashMap<String, PriorStep>,
    commit_exists: &mut (dyn FnMut(&str) -> bool + Send),
) -> Result<ScheduleOutcome, StepError> {
    let n = s.steps.len();
    let mut q = Queue {
        next_attempt: s
            .steps
            .iter()
            .map(|st| prior.get(st.id.as_str()).map_or(0, |p| p.attempts) + 1)
            .collect(),
        remaining: s.plan.deps.iter().map(Vec::len).collect(),
        results: vec![None; n],
        finals: vec![None; n],
        inputs: vec![Vec::new(); n],
        awaiting: vec![None; n],
        ready: BinaryHeap::new(),
        prior,
        s: &s,
        commit_exists,
    };
    let runner = Arc::new(runner);
    let mut failure = None;
    let roots: Vec<usize> = (0..n).filter(|&i| q.remaining[i] == 0).collect();
    for i in roots {
        if let Err(e) = q.make_ready(i) {
            failure.get_or_insert(e);
        }
    }
    let slots = JobSlots::new(s.jobs.max(1));
    let mut running: Vec<usize> = Vec::new();
    let mut tasks: JoinSet<(usize, StepResult)> = JoinSet::new();
    let mut task_steps: HashMap<tokio::task::Id, usize> = HashMap::new();
    let mut cancelled = s.cancel.is_cancelled();
    loop {
        if !cancelled && failure.is_none() {
            let mut deferred = Vec::new();
            while let Some(item) = q.ready.pop() {
                let i = item.1.0;
                if running.iter().any(|&r| s.plan.excludes(r, i)) {
                    deferred.push(item);
                    continue;
                }
                let Some(slot) = slots.try_take() else {
                    deferred.push(item);
                    break;
                };
                running.push(i);
                let future = runner.run(
                    i,
                    q.inputs[i].clone(),
                    q.next_attempt[i],
                    q.awaiting[i].take(),
                );
                let handle = tasks.spawn(job_slots::hold(slot, async move { (i, future.await) }));
                task_steps.insert(handle.id(), i);
            }
            q.ready.extend(deferred);
        }
        if tasks.is_empty() {
            break;
        }
        tokio::select! {
            biased;
            _ = s.cancel.cancelled(), if !cancelled => cancelled = true,
            _ = slots.freed(), if !cancelled && !q.ready.is_empty() => {}
            joined = tasks.join_next() => {
                let Some(joined) = joined else { continue };
                let (i, result) = match joined {
                    Ok(r) => r,
                    Err(e) => {
                        // A step task panicked: a bug, recorded as the step's failure.
                        let Some(&i) = task_steps.get(&e.id()) else { continue };
                        let recorded = s.journal.record(Event::StepFailed {
                            step: s.steps[i].id.to_string(),
                            attempt: 0,
                            error: format!("internal error while running the step: {e}"),
                            duration_ms: 0,
                        });
                        (i, if recorded.is_ok() { StepResult::Failed } else { StepResult::Aborted })
                    }
                };
                running.retain(|&r| r != i);
                let step_done = match result {
                    StepResult::Completed { commit } => q.complete(i, commit),
                    StepResult::Failed => {
                        q.finals[i] = Some(Final::Failed);
                        q.skip_dependents(i, "failed")
                    }
                    StepResult::Skipped => {
                        q.finals[i] = Some(Final::Skipped);
                        q.skip_dependents(i, "was skipped")
                    }
                    StepResult::Interrupted | StepResult::Aborted => {
                        q.finals[i] = Some(Final::Interrupted);
                        Ok(())
                    }
                };
                if let Err(e) = step_done {
                    failure.get_or_insert(e);
                }
            }
        }
    }
    if let Some(e) = failure {
        return Err(e);
    }
    Ok(ScheduleOutcome {
        finals: q
            .finals
            .into_iter()
            .map(|f| f.unwrap_or(Final::NotRun))
            .collect(),
        results: q.results,
        cancelled,
    })
}

/// The scheduler's bookkeeping.
struct Queue<'s, 'a> {
    s: &'s Schedule<'a>,
    prior: HashMap<String, PriorStep>,
    commit_exists: &'s mut (dyn FnMut(&str) -> bool + Send),
    remaining: Vec<usize>,
    results: Vec<Option<Oid>>,
    finals: Vec<Option<Final>>,
    inputs: Vec<Vec<Oid>>,
    /// Steps resumed while awaiting approval: the checkpoint of the awaited result.
    awaiting: Vec<Option<Checkpoint>>,
    next_attempt: Vec<u32>,
    ready: BinaryHeap<(u32, Reverse<usize>)>,
}

impl Queue<'_, '_> {
    /// All dependencies of `i` are completed: keep its checkpoint if still valid, else
    /// queue it.
    fn make_ready(&mut self, i: usize) -> Result<(), StepError> {
        let mut worklist = vec![i];
        while let Some(i) = worklist.pop() {
            let s = self.s;
            let step = &s.steps[i];
            let mut inputs: Vec<Oid> = s.plan.deps[i]
                .iter()
                .filter_map(|&d| self.results[d])
                .collect();
            if inputs.is_empty() {
                inputs.push(s.base);
            }
            inputs.sort();
            inputs.dedup();
            if let Some(prior) = self.prior.get(step.id.as_str()) {
                if prior.status == StepStatus::Completed
                    && let Some(commit) = reusable(
                        prior.checkpoint.as_ref(),
                        &step.definition_hash,
                        &inputs,
                        &mut *self.commit_exists,
                    )
                {
                    s.journal.record(Event::StepReused {
                        step: step.id.to_string(),
                        commit: commit.to_string(),
                    })?;
                    self.results[i] = Some(commit);
                    self.finals[i] = Some(Final::Completed);
                    for &d in &s.plan.dependents[i] {
                        self.remaining[d] -= 1;
                        if self.remaining[d] == 0 {
                            worklist.push(d);
                        }
                    }
                    continue;
                }
                // Awaiting approval with the same definition and inputs: it waits again for
                // its decision, it does not run again.
                if prior.status == StepStatus::AwaitingApproval
                    && reusable(
                        prior.checkpoint.as_ref(),
                        &step.definition_hash,
                        &inputs,
                        &mut *self.commit_exists,
                    )
                    .is_some()
                {
                    self.awaiting[i] = prior.checkpoint.clone();
                    self.inputs[i] = inputs;
                    self.ready.push((s.plan.priority[i], Reverse(i)));
                    continue;
                }
                if prior.status != StepStatus::Pending
                    || prior.definition_hash != step.definition_hash
                {
                    // Runs again: back to pending with the current definition recorded.
                    s.journal.record(Event::StepReset {
                        step: step.id.to_string(),
                        previous_status: prior.status,
                        definition_hash: step.definition_hash.clone(),
                    })?;
                }
            }
            self.inputs[i] = inputs;
            self.ready.push((s.plan.priority[i], Reverse(i)));
        }
        Ok(())
    }

    fn complete(&mut self, i: usize, commit: Oid) -> Result<(), StepError> {
        self.results[i] = Some(commit);
        self.finals[i] = Some(Final::Completed);
        for &d in &self.s.plan.dependents[i] {
            self.remaining[d] -= 1;
            if self.remaining[d] == 0 {
                self.make_ready(d)?;
            }
        }
        Ok(())
    }

    /// Marks every transitive dependent of `failed` skipped; `what` says what happened to
    /// it (`failed`, `was skipped`).
    fn skip_dependents(&mut self, failed: usize, what: &str) -> Result<(), StepError> {
        let s = self.s;
        let failed_id = s.steps[failed].id.to_string();
        let mut stack: Vec<usize> = s.plan.dependents[failed].clone();
        while let Some(d) = stack.pop() {
            if self.finals[d].is_some() {
                continue;
            }
            self.finals[d] = Some(Final::Skipped);
            s.journal.record(Event::StepSkipped {
                step: s.steps[d].id.to_string(),
                dependency: Some(failed_id.clone()),
                reason: format!("dependency {failed_id} {what}"),
            })?;
            stack.extend(s.plan.dependents[d].iter().copied());
        }
        Ok(())
    }
}

/// The checkpoint's commit when it is still valid for `definition_hash` and `inputs`.
fn reusable(
    checkpoint: Option<&Checkpoint>,
    definition_hash: &str,
    inputs: &[Oid],
    commit_exists: &mut (dyn FnMut(&str) -> bool + Send),
) -> Option<Oid> {
    let cp = checkpoint?;
    if cp.definition_hash != definition_hash {
        return None;
    }
    let recorded = &cp.outputs.inputs;
    if recorded.len() != inputs.len()
        || recorded
            .iter()
            .zip(inputs)
            .any(|(r, i)| r.as_str() != i.to_string())
    {
        return None;
    }
    if !commit_exists(&cp.commit) {
        return None;
    }
    Oid::from_str(&cp.commit).ok()
}

#[cfg(test)]
mod tests;
