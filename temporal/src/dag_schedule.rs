//! The ready-queue rules of a run, as a pure state machine the workflow drives.
//!
//! The local scheduler (`pipeline_core`'s `engine::scheduler`) interleaves its rules with
//! the journal, tokio tasks and resume checkpoints, so it cannot run inside a Temporal
//! workflow, whose code must be deterministic and do no I/O. This module is its
//! documented equivalent, with the same rules and no side effects:
//!
//! * a step becomes ready the moment its last dependency completes (no wave barrier);
//! * ready steps start in priority order (higher [`PlannedStep::priority`] first, then
//!   plan order) while fewer than `jobs` steps run and no running step excludes them
//!   (an excluded step waits and the next ready step is tried, a full slot count stops);
//! * a failed step marks every transitive dependent skipped; independent branches go on;
//! * a step may be held back when it would start ([`DagSchedule::start_ready_gated`]):
//!   its tool's circuit breaker is open (it is `waiting`, holds no slot and is tried
//!   again on the next call), or the run's budget is spent (an AI step is `skipped` with
//!   the reason, its dependents after it);
//! * a step that requires approval ends `awaiting_approval` instead of `completed`
//!   ([`DagSchedule::await_approval`]); its dependents stay pending until
//!   [`DagSchedule::approve`] (then it completes) or [`DagSchedule::reject`] (it fails);
//! * cancellation stops starting steps; pending, ready, waiting and awaiting steps end
//!   `cancelled`.
//!
//! Everything is decided from the inputs and the order of [`DagSchedule::complete`] /
//! [`DagSchedule::fail`] calls, so replaying the same history gives the same decisions.
//!
//! [`PlannedStep::priority`]: crate::run_plan::PlannedStep::priority

use serde::{Deserialize, Serialize};

use crate::run_plan::RunPlan;

/// Where a step is, as the workflow's `state` query reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "status")]
pub enum StepStatus {
    /// Waiting for a dependency.
    Pending,
    /// Dependencies completed; waiting for a job slot or an excluding step.
    Ready,
    /// Its activity is scheduled or running on a worker.
    Running,
    /// Ready, but held back: its tool's circuit breaker is open (or half-open with its
    /// trial running). It holds no job slot and starts once the breaker admits it.
    Waiting {
        /// The tool profile whose breaker holds it.
        tool: String,
        /// Why, in words.
        reason: String,
    },
    /// Its result commit is on the remote at `pipeline-steps/<run>/<step>`, and it
    /// requires approval: its dependents wait for `pipeline approve` (it completes) or
    /// `pipeline reject` (it fails); docs/APPROVALS.md.
    AwaitingApproval {
        /// The result commit awaiting approval (hex).
        commit: String,
    },
    /// Its result commit is on the remote at `pipeline-steps/<run>/<step>`.
    Completed {
        /// The result commit (hex).
        commit: String,
    },
    /// Failed for good (the error engine gave up inside the step, or the worker could
    /// not run it).
    Failed {
        /// Why, as the worker reported it.
        error: String,
    },
    /// Not run because a dependency failed or was skipped, or (with `reason`) because
    /// the run's budget was spent before this AI step started.
    Skipped {
        /// The dependency that failed or was skipped; empty when `reason` says why.
        #[serde(default, skip_serializing_if = "String::is_empty")]
        dependency: String,
        /// Why, when no dependency is the cause (the run budget's words, as a local run
        /// journals them in `step_skipped`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// Not finished because the run was cancelled.
    Cancelled,
}

impl StepStatus {
    /// Whether the step will not change any more.
    pub fn is_final(&self) -> bool {
        matches!(
            self,
            StepStatus::Completed { .. }
                | StepStatus::Failed { .. }
                | StepStatus::Skipped { .. }
                | StepStatus::Cancelled
        )
    }

    /// The status word (`pending`, `running`, ...), as `pipeline status` prints it.
    pub fn word(&self) -> &'static str {
        match self {
            StepStatus::Pending => "pending",
            StepStatus::Ready => "ready",
            StepStatus::Running => "running",
            StepStatus::Waiting { .. } => "waiting",
            StepStatus::AwaitingApproval { .. } => "awaiting_approval",
            StepStatus::Completed { .. } => "completed",
            StepStatus::Failed { .. } => "failed",
            StepStatus::Skipped { .. } => "skipped",
            StepStatus::Cancelled => "cancelled",
        }
    }
}

/// What the gate of [`DagSchedule::start_ready_gated`] decides for a step that could
/// start now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Gate {
    /// Start it.
    Start,
    /// Hold it back (status `waiting`) because of `tool`'s circuit breaker.
    Hold {
        /// The tool profile.
        tool: String,
        /// Why, in words.
        reason: String,
    },
    /// Do not run it: it ends `skipped` with the reason, and its dependents after it.
    Skip(String),
}

/// The ready queue of one run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DagSchedule {
    ids: Vec<String>,
    deps: Vec<Vec<usize>>,
    dependents: Vec<Vec<usize>>,
    priority: Vec<u32>,
    /// `excludes[a]` lists the steps that may not run at the same time as `a`.
    excludes: Vec<Vec<usize>>,
    jobs: usize,
    remaining: Vec<usize>,
    status: Vec<StepStatus>,
}

impl DagSchedule {
    /// The schedule of `plan` before anything ran: roots ready, the rest pending.
    /// Dependency or exclusion indexes out of range are ignored (the submitter builds
    /// them from a valid plan).
    pub fn new(plan: &RunPlan) -> DagSchedule {
        let n = plan.steps.len();
        let ids: Vec<String> = plan.steps.iter().map(|s| s.id.clone()).collect();
        let deps: Vec<Vec<usize>> = plan
            .steps
            .iter()
            .map(|s| s.deps.iter().copied().filter(|&d| d < n).collect())
            .collect();
        let mut dependents = vec![Vec::new(); n];
        for (i, ds) in deps.iter().enumerate() {
            for &d in ds {
                dependents[d].push(i);
            }
        }
        let mut excludes = vec![Vec::new(); n];
        for &(a, b) in &plan.exclusions {
            if a < n && b < n && a != b {
                excludes[a].push(b);
                excludes[b].push(a);
            }
        }
        let remaining: Vec<usize> = deps.iter().map(Vec::len).collect();
        let status = remaining
            .iter()
            .map(|&r| {
                if r == 0 {
                    StepStatus::Ready
                } else {
                    StepStatus::Pending
                }
            })
            .collect();
        DagSchedule {
            ids,
            deps,
            dependents,
            priority: plan.steps.iter().map(|s| s.priority).collect(),
            excludes,
            jobs: (plan.jobs as usize).max(1),
            remaining,
            status,
        }
    }

    /// Step `i`'s id.
    pub fn id(&self, i: usize) -> &str {
        &self.ids[i]
    }

    /// Step `i`'s status.
    pub fn status(&self, i: usize) -> &StepStatus {
        &self.status[i]
    }

    /// All statuses, in plan order.
    pub fn statuses(&self) -> &[StepStatus] {
        &self.status
    }

    /// Picks the ready steps to start now and marks them running: by priority (higher
    /// first, then plan order), skipping any a running step excludes, until `jobs` steps
    /// run. Returns their indexes in start order.
    pub fn start_ready(&mut self) -> Vec<usize> {
        self.start_ready_gated(|_| Gate::Start)
    }

    /// [`Self::start_ready`] with a gate: each ready or waiting step that has a free slot
    /// and no excluding step running is offered to `gate` (in priority order, at most
    /// once per call), which starts it, holds it back (`waiting`, no slot taken: the next
    /// step is tried) or skips it (with its transitive dependents). Returns the started
    /// steps in start order.
    pub fn start_ready_gated(&mut self, mut gate: impl FnMut(usize) -> Gate) -> Vec<usize> {
        let mut ready: Vec<usize> = (0..self.status.len())
            .filter(|&i| {
                matches!(
                    self.status[i],
                    StepStatus::Ready | StepStatus::Waiting { .. }
                )
            })
            .collect();
        ready.sort_by_key(|&i| (std::cmp::Reverse(self.priority[i]), i));
        let mut running = self.running();
        let mut started = Vec::new();
        for i in ready {
            if running.len() >= self.jobs {
                break;
            }
            // A step skipped earlier in this call (a dependent of a skipped step).
            if !matches!(
                self.status[i],
                StepStatus::Ready | StepStatus::Waiting { .. }
            ) {
                continue;
            }
            if running.iter().any(|&r| self.excludes[i].contains(&r)) {
                continue;
            }
            match gate(i) {
                Gate::Start => {
                    self.status[i] = StepStatus::Running;
                    running.push(i);
                    started.push(i);
                }
                Gate::Hold { tool, reason } => {
                    self.status[i] = StepStatus::Waiting { tool, reason };
                }
                Gate::Skip(reason) => self.skip(i, reason),
            }
        }
        started
    }

    /// Step `i` is not run: `skipped` with `reason`, and every transitive dependent not
    /// final yet `skipped` naming `i`.
    pub fn skip(&mut self, i: usize, reason: String) {
        if self.status[i].is_final() {
            return;
        }
        self.status[i] = StepStatus::Skipped {
            dependency: String::new(),
            reason: Some(reason),
        };
        self.skip_dependents(i);
    }

    /// Records that running step `i` produced `commit` and requires approval: it is
    /// `awaiting_approval` and its dependents stay pending. A step that is not running is
    /// left as it is.
    pub fn await_approval(&mut self, i: usize, commit: String) {
        if self.status[i] == StepStatus::Running {
            self.status[i] = StepStatus::AwaitingApproval { commit };
        }
    }

    /// Whether step `i` awaits a decision.
    pub fn is_awaiting(&self, i: usize) -> bool {
        matches!(self.status[i], StepStatus::AwaitingApproval { .. })
    }

    /// Approves step `i` awaiting approval: it completes with its commit and dependents
    /// whose last dependency it was become ready. Returns `false` (nothing changed) when
    /// it is not awaiting approval.
    pub fn approve(&mut self, i: usize) -> bool {
        let StepStatus::AwaitingApproval { commit } = &self.status[i] else {
            return false;
        };
        let commit = commit.clone();
        self.status[i] = StepStatus::Running;
        self.complete(i, commit);
        true
    }

    /// Rejects step `i` awaiting approval: it fails with `error` and its dependents are
    /// skipped. Returns `false` (nothing changed) when it is not awaiting approval.
    pub fn reject(&mut self, i: usize, error: String) -> bool {
        if !self.is_awaiting(i) {
            return false;
        }
        self.fail(i, error);
        true
    }

    /// Indexes of the running steps, in plan order.
    pub fn running(&self) -> Vec<usize> {
        (0..self.status.len())
            .filter(|&i| self.status[i] == StepStatus::Running)
            .collect()
    }

    /// The result commits step `i` starts from: its dependencies' results, sorted and
    /// unique (as the local scheduler's inputs); empty for a root step (it starts from
    /// the base commit).
    pub fn inputs(&self, i: usize) -> Vec<String> {
        let mut inputs: Vec<String> = self.deps[i]
            .iter()
            .filter_map(|&d| match &self.status[d] {
                StepStatus::Completed { commit } => Some(commit.clone()),
                _ => None,
            })
            .collect();
        inputs.sort();
        inputs.dedup();
        inputs
    }

    /// Ids of step `i`'s dependencies, in plan order.
    pub fn dependency_ids(&self, i: usize) -> Vec<String> {
        self.deps[i].iter().map(|&d| self.ids[d].clone()).collect()
    }

    /// Records that running step `i` completed with `commit`; dependents whose last
    /// dependency this was become ready. A step that is not running is left as it is
    /// (a late result after cancellation).
    pub fn complete(&mut self, i: usize, commit: String) {
        if self.status[i] != StepStatus::Running {
            return;
        }
        self.status[i] = StepStatus::Completed { commit };
        for k in 0..self.dependents[i].len() {
            let d = self.dependents[i][k];
            self.remaining[d] = self.remaining[d].saturating_sub(1);
            if self.remaining[d] == 0 && self.status[d] == StepStatus::Pending {
                self.status[d] = StepStatus::Ready;
            }
        }
    }

    /// Records that step `i` failed for good with `error`, and marks every transitive
    /// dependent not final yet skipped, naming `i` as the dependency that failed (as the
    /// local run records it).
    pub fn fail(&mut self, i: usize, error: String) {
        if self.status[i].is_final() {
            return;
        }
        self.status[i] = StepStatus::Failed { error };
        self.skip_dependents(i);
    }

    /// Marks every transitive dependent of `i` not final yet skipped, naming `i`.
    fn skip_dependents(&mut self, i: usize) {
        let mut stack: Vec<usize> = self.dependents[i].clone();
        while let Some(d) = stack.pop() {
            if self.status[d].is_final() {
                continue;
            }
            self.status[d] = StepStatus::Skipped {
                dependency: self.ids[i].clone(),
                reason: None,
            };
            stack.extend(self.dependents[d].iter().copied());
        }
    }

    /// Records that running step `i` was cancelled.
    pub fn cancel_running(&mut self, i: usize) {
        if self.status[i] == StepStatus::Running {
            self.status[i] = StepStatus::Cancelled;
        }
    }

    /// Cancellation: every pending, ready, waiting or awaiting step ends cancelled
    /// (running steps are cancelled through their activities and recorded by
    /// [`Self::cancel_running`]).
    pub fn cancel_waiting(&mut self) {
        for s in &mut self.status {
            if matches!(
                s,
                StepStatus::Pending
                    | StepStatus::Ready
                    | StepStatus::Waiting { .. }
                    | StepStatus::AwaitingApproval { .. }
            ) {
                *s = StepStatus::Cancelled;
            }
        }
    }

    /// Whether every step is final.
    pub fn is_done(&self) -> bool {
        self.status.iter().all(StepStatus::is_final)
    }

    /// The commits the run's result merges, as the local run builds `pipeline/<run>`:
    /// the results of completed steps no completed step built on (a dependent's result
    /// contains its inputs), sorted and unique.
    pub fn result_heads(&self) -> Vec<String> {
        let completed = |i: usize| match &self.status[i] {
            StepStatus::Completed { commit } => Some(commit.clone()),
            _ => None,
        };
        let mut heads: Vec<String> = (0..self.status.len())
            .filter(|&i| !self.dependents[i].iter().any(|&d| completed(d).is_some()))
            .filter_map(completed)
            .collect();
        heads.sort();
        heads.dedup();
        heads
    }
}

#[cfg(test)]
mod tests;
