//! One step's life, from its inputs to its final status, as one forward trip.
//!
//! ```text
//!  inputs ──► merge inputs ──► finish a wait a killed run left ──► worktree
//!                                                                     │
//!        ┌────────────────────────────────────────────────────────────┘
//!        ▼
//!  choose tool ──► hold tool limits ──► attempt ──► (tool ► tests ► scope ► commit)
//!  (breakers:        (max_concurrent,      │ journalled `attempt_started` first
//!   wait/fallback)    requests_per_minute)  │
//!        ▲                                  ├── success ──► `step_completed` + checkpoint
//!        │                                  ├── interrupted ──► `step_interrupted`
//!        │                                  └── failure ──► classify ──► next_action
//!        │                                        Fix (same worktree) ─────────┤
//!        │                                        Retry / Wait (sleep, clean) ─┤
//!        └─────────────────────────────────────── Escalate (next tool, clean) ─┘
//!                                                 Fail ──► compensations ──► `step_failed`
//! ```
//!
//! Files: this one drives the trip; [`super::attempt`] runs one attempt;
//! [`super::next_action`] is the decision after a failure (pure);
//! [`super::tool_choice`] picks the tool (pure rule + breaker waits); [`super::waits`]
//! sleeps and finishes interrupted waits; [`super::compensation`] runs compensations;
//! [`super::prompts`] builds prompts. Every state change goes through the run's journal
//! ([`super::run_journal`]), which is the only writer of run state.
//!
//! Approval gate (`approval: required`, docs/APPROVALS.md): on success the step records
//! `approval_requested` with its checkpoint instead of `step_completed`, lends its job slot
//! and waits for a decision ([`super::approvals::ApprovalWatch`]). Approved: completed.
//! Rejected: the comment goes back to an AI tool with fix attempts left (the loop goes on
//! in the same worktree, like a fix), else the step fails with class `rejected`. A resumed
//! run starts such a step at its gate ([`StepLife::resume_gate`]).
//!
//! Write-ahead discipline (DESIGN "State and resume"): `attempt_started` is recorded
//! before the tool starts; `step_completed` with its checkpoint only after the result
//! commit exists, in the same transaction as `attempt_finished`. A crash between two
//! records leaves the step running, validating, retrying or waiting, which resume runs
//! again from a clean worktree with the next attempt number.

use std::sync::Arc;
use std::time::{Instant, SystemTime};

use git2::Oid;

use super::approvals::Verdict;
use super::attempt::{Failure, Success, run_attempt};
use super::merge_conflict::{conflict_authors, conflict_text};
use super::next_action::{FailedAttempt, NextAction, Recovery, Stage, next_action};
use super::run_context::RunContext;
use super::step_error::{StepError, StepFailure};
use super::tool_choice::{ChosenTool, choose_tool};
use super::usage_cost::priced_usage;
use super::waits::{hold_tool_limits, rfc3339, sleep_until, unfinished_wait};
use crate::git::{GitError, Worktree, blocking};
use crate::model::{Isolation, Step, StepKind, ToolChoice};
use crate::state::{
    AttemptResult, Change, Checkpoint, CheckpointOutputs, ErrorSummary, Event, WaitKind,
};

/// How one execution of a step ended.
#[derive(Debug)]
pub(crate) enum StepResult {
    /// Committed and checkpointed.
    Completed {
        /// Its result commit.
        commit: Oid,
    },
    /// Failed for good (recorded); its dependents are skipped.
    Failed,
    /// Not started because the run's budget was spent (recorded `step_skipped`); its
    /// dependents are skipped.
    Skipped,
    /// Stopped by the run's interruption: resumable, runs again on resume.
    Interrupted,
    /// The run's state could not be recorded: the run stops (the journal keeps why).
    Aborted,
}

/// Runs step `idx` of the plan from input commits `inputs` (its dependencies' results,
/// sorted; the run's base commit for a root). `first_attempt` is the attempt number its
/// next attempt gets (attempt numbers continue across resumes). Everything that goes
/// wrong is recorded on the step; the result says how it ended.
pub(crate) async fn execute_step(
    ctx: Arc<RunContext>,
    idx: usize,
    inputs: Vec<Oid>,
    first_attempt: u32,
    awaiting: Option<Checkpoint>,
) -> StepResult {
    let mut life = StepLife {
        idx,
        step: &ctx.set.steps[idx],
        ctx: &ctx,
        started: Instant::now(),
        next_attempt: first_attempt,
        worktree: None,
        cache: None,
        finish_recorded: None,
        selected: None,
    };
    match life.run(inputs, awaiting).await {
        Ok(result) => {
            // Step cache (docs/CACHE.md): a step that ran and completed leaves its entry.
            if let (StepResult::Completed { commit }, Some(pending)) = (&result, life.cache.take())
            {
                super::step_cache::remember(&ctx, life.step, pending, *commit).await;
            }
            result
        }
        Err(StepError::Journal(_)) => StepResult::Aborted,
        Err(StepError::Failed(failure)) => life.fail(failure.to_string()).await,
    }
}

/// The state of one step's trip.
struct StepLife<'a> {
    ctx: &'a Arc<RunContext>,
    /// Its position in the plan.
    idx: usize,
    step: &'a Step,
    started: Instant,
    /// The number the next attempt gets.
    next_attempt: u32,
    /// The step's worktree while it has one (`isolation: worktree`, or the temporary
    /// checkout of a read_only step with `isolation: none` and dependencies).
    worktree: Option<Worktree>,
    /// The step's cache key when it runs (written as its cache entry once completed).
    cache: Option<Box<super::step_cache::Pending>>,
    /// The attempt whose `attempt_finished` a candidate round recorded already (its
    /// completion or failure records none again).
    finish_recorded: Option<u32>,
    /// The round's `candidate_selected`, recorded with the kept candidate's completion.
    selected: Option<Event>,
}

/// What follows a committed result: the step ended (completed, or its approval gate
/// decided), or a rejection is fed back to its AI tool.
enum Gated {
    /// The step ended.
    Done(StepResult),
    /// Attempt again at once in the same worktree with this fix prompt.
    Fix { prompt: String, fixes_left: u32 },
}

/// What the lifecycle does after a failed attempt was recorded (and any wait is over).
enum AfterFailure {
    /// Attempt again at once in the same worktree with this fix prompt.
    Fix { prompt: String, fixes_left: u32 },
    /// Attempt again with the same tool from a clean worktree.
    Retry,
    /// Attempt again with the next tool of the escalation chain from a clean worktree.
    Escalate,
    /// The step ended.
    Done(StepResult),
}

impl StepLife<'_> {
    fn id(&self) -> &str {
        self.step.id.as_str()
    }

    fn duration_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    /// The trip (see the module docs). With `awaiting` (a resumed run), the step's result
    /// is that checkpoint's and the trip starts at its approval gate.
    async fn run(
        &mut self,
        inputs: Vec<Oid>,
        awaiting: Option<Checkpoint>,
    ) -> Result<StepResult, StepError> {
        let mut chain: Vec<ToolChoice> = vec![self.step.tool.clone()];
        chain.extend(
            self.step
                .escalation
                .iter()
                .map(|t| ToolChoice::Profile(t.clone())),
        );
        let mut link = 0;
        let mut fixes_left = self.step.fix_attempts;
        let mut prompt: Option<String> = None;
        let mut clean = false;
        // The run's budget is checked before the step's first attempt only: a started
        // step finishes (docs/COSTS.md "Budgets").
        let mut first_start = awaiting.is_none();
        // Set-up (copy_into_worktree, setup) is due before the next attempt: the worktree
        // is fresh or was reset, or the last set-up failed.
        let mut setup_due = true;
        let start = match awaiting {
            Some(checkpoint) => {
                let (p, f, start) = match self.resume_gate(&checkpoint, &chain).await? {
                    (_, Gated::Done(result)) => return Ok(result),
                    (start, Gated::Fix { prompt, fixes_left }) => (prompt, fixes_left, start),
                };
                if let Some(tool) = &checkpoint.outputs.tool
                    && let Some(at) = chain
                        .iter()
                        .position(|c| matches!(c, ToolChoice::Profile(p) if p == tool))
                {
                    link = at;
                }
                (prompt, fixes_left) = (Some(p), f);
                start
            }
            None => {
                let start = self.merge_inputs(&inputs).await?;
                match super::step_cache::lookup(self.ctx, self.idx, &inputs, start, self.started)
                    .await?
                {
                    super::step_cache::Lookup::Hit(result) => return Ok(result),
                    super::step_cache::Lookup::Miss(pending) => self.cache = pending,
                }
                if !self.finish_interrupted_wait().await? {
                    return self.interrupted();
                }
                self.worktree = self.prepare_worktree(start).await?;
                start
            }
        };
        loop {
            let attempt = self.next_attempt;
            let tool = match self.step.kind {
                StepKind::WorkstreamAcceptance => None,
                StepKind::Task => {
                    match choose_tool(self.ctx, self.step, &chain[link], attempt).await? {
                        Some(t) => Some(t),
                        None => return self.interrupted(),
                    }
                }
            };
            if first_start && let Some(result) = self.skip_over_run_budget(tool.as_ref()).await? {
                return Ok(result);
            }
            first_start = false;
            // Best of N (docs/CANDIDATES.md): a first attempt, retry or escalation runs a
            // round of candidates; a fix continues in the best failed candidate's worktree.
            let round_due = self.step.candidates > 1 && (clean || prompt.is_none());
            let (attempt, outcome, duration_ms) = if let Some(t) =
                tool.as_ref().filter(|_| round_due)
            {
                self.release_worktree().await;
                match super::candidates::run_round(self.ctx, self.idx, t, start, attempt).await? {
                    super::candidates::Round::Interrupted => return self.interrupted(),
                    super::candidates::Round::Ended(end) => {
                        self.next_attempt = end.next_attempt;
                        self.worktree = end.worktree;
                        self.selected = end.selected;
                        self.finish_recorded = Some(end.attempt);
                        setup_due = false;
                        (
                            end.attempt,
                            end.outcome.map_err(Failure::Attempt),
                            end.duration_ms,
                        )
                    }
                }
            } else {
                // Tool limits are waited for before the attempt is recorded, so `running`
                // means the tool is really running.
                let permit = match &tool {
                    Some(t) => {
                        match hold_tool_limits(self.ctx, self.id(), &t.name, attempt - 1).await? {
                            Some(p) => p,
                            None => return self.interrupted(),
                        }
                    }
                    None => None,
                };
                if clean {
                    let kept = self
                        .worktree
                        .as_ref()
                        .map(|w| super::worktree_setup::keep_outputs(self.step, w.path()));
                    self.reset_worktree(start).await?;
                    if let (Some(kept), Some(w)) = (kept, &self.worktree) {
                        super::worktree_setup::restore_outputs(kept, w.path());
                    }
                    setup_due = true;
                }
                if setup_due && let Some(w) = &self.worktree {
                    super::worktree_setup::copy_files(
                        &self.ctx.workspace.repo_root,
                        self.step,
                        w.path(),
                    )
                    .map_err(StepFailure::Setup)?;
                }
                let started = Instant::now();
                let log = self.begin_attempt(attempt, tool.as_ref())?;
                let prompt_text = prompt.take().or_else(|| {
                    let takes_prompts = tool.as_ref().is_some_and(|t| t.takes_prompts);
                    super::prompts::attempt_prompt(self.ctx, self.step, takes_prompts)
                });
                let cwd = self
                    .worktree
                    .as_ref()
                    .map(|w| w.path().to_path_buf())
                    .unwrap_or_else(|| self.ctx.workspace.repo_root.clone());
                let tracker = self.worktree.as_ref().and_then(|w| w.tracker().cloned());
                let set_up = match setup_due {
                    true => {
                        super::worktree_setup::run_setup(self.ctx, self.step, &cwd, attempt).await
                    }
                    false => Ok(()),
                };
                setup_due = set_up.is_err();
                let outcome = match set_up {
                    Ok(()) => {
                        run_attempt(
                            self.ctx,
                            self.step,
                            tool.as_ref(),
                            prompt_text.as_deref(),
                            &cwd,
                            tracker,
                            start,
                            attempt,
                            &log,
                        )
                        .await
                    }
                    Err(failed) => Err(failed),
                };
                super::worktree_setup::merge_log(
                    &super::worktree_setup::setup_log(self.ctx, self.step, attempt),
                    &log,
                );
                drop(permit);
                let duration_ms = started.elapsed().as_millis() as u64;
                // A successful attempt that took the step over its budget is not taken.
                let outcome = match outcome {
                    Ok(success) => super::budgets::over_budget_success(
                        self.ctx,
                        self.step,
                        tool.as_ref(),
                        attempt,
                        &log,
                        success,
                    )?
                    .map_err(Failure::Attempt),
                    other => other,
                };
                (attempt, outcome, duration_ms)
            };
            match outcome {
                Ok(success) => {
                    let done = Done {
                        inputs: &inputs,
                        start,
                        attempt,
                        tool: tool.as_ref(),
                        duration_ms,
                        fixes_left,
                    };
                    match self.complete(success, done).await? {
                        Gated::Done(result) => return Ok(result),
                        Gated::Fix {
                            prompt: p,
                            fixes_left: f,
                        } => (prompt, fixes_left, clean) = (Some(p), f, false),
                    }
                }
                Err(Failure::Journal(e)) => return Err(e),
                Err(Failure::Interrupted { usage }) => {
                    self.ctx.journal.record(Event::AttemptFinished {
                        step: self.id().to_owned(),
                        attempt,
                        outcome: AttemptResult::Interrupted,
                        exit_code: None,
                        error: Some("interrupted".into()),
                        classified: None,
                        usage: usage.map(|u| priced_usage(u, &self.ctx.prices)),
                        duration_ms,
                    })?;
                    return self.interrupted();
                }
                Err(Failure::Attempt(failed)) => {
                    let next_tool = match chain.get(link + 1) {
                        Some(ToolChoice::Profile(p)) => Some(p.as_str()),
                        _ => None,
                    };
                    let recovery = Recovery {
                        fixes_left,
                        next_tool,
                        has_compensations: !self.step.compensation.is_empty(),
                    };
                    match self
                        .after_failure(*failed, tool.as_ref(), attempt, duration_ms, recovery)
                        .await?
                    {
                        AfterFailure::Fix {
                            prompt: p,
                            fixes_left: f,
                        } => {
                            (prompt, fixes_left, clean) = (Some(p), f, false);
                        }
                        AfterFailure::Retry => clean = true,
                        AfterFailure::Escalate => {
                            link += 1;
                            (fixes_left, clean) = (self.step.fix_attempts, true);
                        }
                        AfterFailure::Done(result) => return Ok(result),
                    }
                }
            }
        }
    }

    /// The merge of the step's input commits: where its worktree starts.
    async fn merge_inputs(&self, inputs: &[Oid]) -> Result<Oid, StepError> {
        // One input (the base commit, or a result this run recorded) is its own merge: no
        // repository access at all.
        if let [only] = inputs {
            return Ok(*only);
        }
        let repo = self.ctx.repo.clone();
        let heads = inputs.to_vec();
        let message = format!("pipeline: merge inputs of {}", self.id());
        match blocking(move || repo.merge_commits(&heads, &message)).await {
            Ok(start) => Ok(start),
            Err(GitError::MergeConflict { paths }) => {
                let authors = conflict_authors(self.ctx, inputs, &paths).await;
                Err(StepFailure::InputConflict(conflict_text(
                    "merging the results of its dependencies conflicts",
                    &authors,
                ))
                .into())
            }
            Err(other) => Err(StepFailure::InputMerge(Box::new(other)).into()),
        }
    }

    /// Resumed in the middle of a backoff or rate-limit wait (the process was killed
    /// while waiting): finishes the wait before the next attempt. False when the run is
    /// interrupted meanwhile.
    async fn finish_interrupted_wait(&self) -> Result<bool, StepError> {
        let last = self.next_attempt.saturating_sub(1);
        if last == 0 {
            return Ok(true);
        }
        let Some(until) = unfinished_wait(self.ctx, self.id(), last) else {
            return Ok(true);
        };
        let left = until.duration_since(SystemTime::now()).unwrap_or_default();
        self.ctx.journal.record(Event::StepWaiting {
            step: self.id().to_owned(),
            attempt: last,
            wait: WaitKind::Backoff,
            tool: None,
            class: None,
            reason: format!(
                "resumed during its wait after attempt {last}: {:.1} s left before the next attempt",
                left.as_secs_f64()
            ),
            delay_ms: left.as_millis() as u64,
            until: Some(rfc3339(until)),
        })?;
        Ok(sleep_until(self.ctx, until).await)
    }

    /// A worktree at `start` for an isolated step (from the run's pool). A read_only step
    /// with `isolation: none` and dependencies gets one too when its dependencies changed
    /// something (`start` is not the run's base commit): the main checkout does not hold
    /// their results, `start` does (issue #11). When they changed nothing, the main
    /// checkout is what it would see, as for a step without dependencies, and no checkout
    /// is made. It is a checkout of `start` like any other; the read_only check refuses any
    /// change left in it, and the pool removes it when the run ends.
    async fn prepare_worktree(&self, start: Oid) -> Result<Option<Worktree>, StepError> {
        let temporary_checkout = self.step.isolation == Isolation::None
            && self.step.read_only
            && !self.ctx.plan.deps[self.idx].is_empty()
            && start != self.ctx.base;
        if self.step.isolation == Isolation::None && !temporary_checkout {
            return Ok(None);
        }
        let pool = self.ctx.pool.clone();
        let path = self.id().to_string();
        let branch = format!("pipeline-steps/{}/{}", self.ctx.run_id, self.id());
        // The outputs of its set-up (cached by `inputs`) that a pooled worktree holds from
        // an earlier step survive the reset; the set-up's marker decides whether they fit.
        let keep = super::worktree_setup::kept_outputs(self.step);
        let worktree = blocking(move || pool.acquire_keeping(&path, &branch, start, &keep))
            .await
            .map_err(|e| StepFailure::Worktree(Box::new(e)))?;
        Ok(Some(worktree))
    }

    /// A new attempt of the same tool (or the next tool of the chain) starts clean: the
    /// used worktree is kept aside and a fresh one prepared.
    async fn reset_worktree(&mut self, start: Oid) -> Result<(), StepError> {
        if let Some(wt) = self.worktree.take() {
            self.ctx.pool.keep(wt);
        }
        self.worktree = self.prepare_worktree(start).await?;
        Ok(())
    }

    /// Records `attempt_started` (the step is `running` from here on) and returns the
    /// attempt's log path.
    fn begin_attempt(
        &mut self,
        attempt: u32,
        tool: Option<&ChosenTool>,
    ) -> Result<std::path::PathBuf, StepError> {
        let log = self
            .ctx
            .workspace
            .attempt_log(&self.ctx.run_id, self.id(), attempt);
        self.ctx.journal.record(Event::AttemptStarted {
            step: self.id().to_owned(),
            attempt,
            tool: tool.map(|t| t.name.clone()),
            worktree: self
                .worktree
                .as_ref()
                .map(|w| w.path().to_string_lossy().into_owned()),
            log: log.to_string_lossy().into_owned(),
        })?;
        self.next_attempt = attempt + 1;
        Ok(log)
    }

    /// The attempt succeeded: its commit exists. Without an approval gate the step is
    /// completed, with its checkpoint, in one transaction, and its worktree goes back to
    /// the pool. With one (`approval: required`), the step is checkpointed and awaits
    /// approval (or is approved at once under `--approve-all`).
    async fn complete(&mut self, success: Success, done: Done<'_>) -> Result<Gated, StepError> {
        let Done {
            inputs,
            start,
            attempt,
            tool,
            duration_ms,
            fixes_left,
        } = done;
        let tool_name = tool.map(|t| t.name.clone());
        if let Some(name) = tool_name.as_deref().filter(|n| is_breaker_tool(n))
            && let Err(e) = self.ctx.errors.breaker(name, self.step).record_success_in(
                &self.ctx.state,
                name,
                SystemTime::now(),
            )
        {
            tracing::warn!("cannot record success on the circuit breaker of {name}: {e}");
        }
        let tool_requires = tool_name
            .as_deref()
            .and_then(|n| self.ctx.registry.profile(n))
            .is_some_and(|p| p.approval_required);
        let gated = self.step.kind == StepKind::Task && self.step.requires_approval(tool_requires);
        let usage = success.usage.map(|u| priced_usage(u, &self.ctx.prices));
        let checkpoint = Checkpoint {
            commit: success.commit.to_string(),
            definition_hash: self.step.definition_hash.clone(),
            outputs: CheckpointOutputs {
                version: CheckpointOutputs::VERSION,
                inputs: inputs.iter().map(Oid::to_string).collect(),
                start_commit: start.to_string(),
                changed: success.changed,
                tests: success.tests,
                attempt,
                tool: tool_name.clone(),
                usage: usage.clone(),
            },
        };
        // A candidate's attempt is journalled finished already; the round's choice is
        // recorded with the completion, so one step never has two kept candidates.
        let finished: Vec<Change<'_>> = if self.finish_recorded.take() == Some(attempt) {
            self.selected
                .take()
                .map(Change::Event)
                .into_iter()
                .collect()
        } else {
            vec![Change::Event(Event::AttemptFinished {
                step: self.id().to_owned(),
                attempt,
                outcome: AttemptResult::Succeeded,
                exit_code: Some(0),
                error: None,
                classified: None,
                usage,
                duration_ms,
            })]
        };
        if gated && !self.ctx.options.approve_all {
            // Durable now: the step may wait for days, across a kill and a resume.
            let mut changes = finished;
            changes.extend([
                Change::Event(Event::ApprovalRequested {
                    step: self.id().to_owned(),
                    attempt,
                    commit: checkpoint.commit.clone(),
                    tool: tool_name,
                }),
                Change::Checkpoint {
                    step: self.id(),
                    checkpoint: &checkpoint,
                },
            ]);
            self.ctx.journal.record_changes(changes)?;
            let takes_prompts = tool.is_some_and(|t| t.takes_prompts);
            return self
                .gate(success.commit, attempt, takes_prompts, fixes_left)
                .await;
        }
        let mut changes = finished;
        if gated {
            changes.push(Change::Event(auto_approval(self.id(), attempt)));
        }
        changes.push(Change::Event(Event::StepCompleted {
            step: self.id().to_owned(),
            attempt,
            commit: checkpoint.commit.clone(),
            duration_ms: self.duration_ms(),
        }));
        changes.push(Change::Checkpoint {
            step: self.id(),
            checkpoint: &checkpoint,
        });
        // Durable with the next record (a dependent's start, the run's end): nothing can
        // build on this completion before then.
        self.ctx.journal.record_changes_with_next_write(changes)?;
        self.release_worktree().await;
        Ok(Gated::Done(StepResult::Completed {
            commit: success.commit,
        }))
    }

    /// A resumed run found the step awaiting approval of `checkpoint`'s result: it waits
    /// for the decision again (a decision recorded meanwhile is applied at once). Returns
    /// the step's start commit and what follows the decision; a rejection fed back to the
    /// AI tool gets a worktree at the rejected result.
    async fn resume_gate(
        &mut self,
        checkpoint: &Checkpoint,
        chain: &[ToolChoice],
    ) -> Result<(Oid, Gated), StepError> {
        let commit = Oid::from_str(&checkpoint.commit)
            .map_err(|e| StepFailure::Checkpoint(format!("its result commit: {e}")))?;
        let start = Oid::from_str(&checkpoint.outputs.start_commit).unwrap_or(commit);
        let tool = checkpoint.outputs.tool.as_deref();
        let takes_prompts = tool.is_some_and(|t| {
            is_breaker_tool(t)
                && self.ctx.registry.profile(t).is_some()
                && chain
                    .iter()
                    .any(|c| matches!(c, ToolChoice::Profile(p) if p == t))
        });
        let gated = self
            .gate(
                commit,
                checkpoint.outputs.attempt,
                takes_prompts,
                self.step.fix_attempts,
            )
            .await?;
        if matches!(gated, Gated::Fix { .. }) {
            // The rejected result is what the tool is asked to change.
            self.worktree = self.prepare_worktree(commit).await?;
        }
        Ok((start, gated))
    }

    /// The approval gate of `attempt`'s result `commit` (recorded `awaiting_approval`):
    /// waits for a decision without holding a `--jobs` slot and journals it. Approved:
    /// completed. Rejected: fed back to an AI tool with fix attempts left, else failed
    /// with class `rejected`. The run's interruption ends the wait with nothing recorded:
    /// the step stays awaiting approval and resume waits again.
    async fn gate(
        &mut self,
        commit: Oid,
        attempt: u32,
        takes_prompts: bool,
        fixes_left: u32,
    ) -> Result<Gated, StepError> {
        let ctx = self.ctx;
        let (decided, lent) = if ctx.options.approve_all {
            (None, None)
        } else {
            let lent = super::job_slots::lend_slot();
            let waited = ctx
                .approvals
                .wait(&ctx.state, &ctx.run_id, self.id(), attempt, &ctx.cancel)
                .await;
            match waited {
                Some(d) => (Some(d), lent),
                None => {
                    if let Some(wt) = self.worktree.take() {
                        ctx.pool.keep(wt);
                    }
                    return Ok(Gated::Done(StepResult::Interrupted));
                }
            }
        };
        let step = self.id().to_owned();
        let decided = match decided {
            Some(d) if d.verdict == Verdict::Reject => d,
            decided => {
                let approved = match decided {
                    Some(d) => Event::StepApproved {
                        step: step.clone(),
                        attempt,
                        by: d.by,
                        comment: d.comment,
                        auto: false,
                    },
                    None => auto_approval(&step, attempt),
                };
                ctx.journal.record_changes_with_next_write(vec![
                    Change::Event(approved),
                    Change::Event(Event::StepCompleted {
                        step,
                        attempt,
                        commit: commit.to_string(),
                        duration_ms: self.duration_ms(),
                    }),
                ])?;
                self.release_worktree().await;
                return Ok(Gated::Done(StepResult::Completed { commit }));
            }
        };
        let comment = decided.comment.clone().unwrap_or_default();
        let rejected = Change::Event(Event::StepRejected {
            step: step.clone(),
            attempt,
            by: decided.by.clone(),
            comment: decided.comment.clone(),
        });
        let said = if comment.is_empty() {
            format!("rejected by {}", decided.by)
        } else {
            format!("rejected by {}: {comment}", decided.by)
        };
        match super::next_action::after_rejection(takes_prompts, fixes_left) {
            super::next_action::Rejection::Fix { fixes_left } => {
                ctx.journal.record_changes(vec![
                    rejected,
                    Change::Event(Event::FixRequested {
                        step,
                        attempt,
                        class: super::next_action::REJECTED_CLASS.to_owned(),
                        fixes_left,
                        reason: format!(
                            "{said}\n(asking the tool to change it; {fixes_left} fix attempt(s) left)"
                        ),
                    }),
                ])?;
                if !super::job_slots::take_slot_again(&ctx.cancel, lent).await {
                    return self.interrupted().map(Gated::Done);
                }
                Ok(Gated::Fix {
                    prompt: super::prompts::rejection_fix_prompt(
                        ctx,
                        self.step,
                        &decided.by,
                        &comment,
                    ),
                    fixes_left,
                })
            }
            super::next_action::Rejection::Fail { why } => {
                let error = format!(
                    "{said}\n(class {}; permanent: {why})",
                    super::next_action::REJECTED_CLASS
                );
                if self.step.compensation.is_empty() {
                    let recorded = ctx.journal.record_changes(vec![
                        rejected,
                        Change::Event(Event::StepFailed {
                            step,
                            attempt,
                            error,
                            duration_ms: self.duration_ms(),
                        }),
                    ]);
                    if let Some(wt) = self.worktree.take() {
                        ctx.pool.keep(wt);
                    }
                    recorded?;
                    return Ok(Gated::Done(StepResult::Failed));
                }
                ctx.journal.record_changes(vec![rejected])?;
                super::compensation::compensate(ctx, self.step, attempt).await?;
                Ok(Gated::Done(self.fail(error).await))
            }
        }
    }

    /// Gives the step's worktree back to the pool (its result is committed).
    async fn release_worktree(&mut self) {
        if let Some(wt) = self.worktree.take() {
            let pool = self.ctx.pool.clone();
            if let Err(e) = blocking(move || pool.release(wt)).await {
                tracing::warn!(
                    "step {}: cannot return its worktree to the pool: {e}",
                    self.id()
                );
            }
        }
    }

    /// Classifies a failed attempt, records it with the decision's event, and carries the
    /// decision out (waits, compensations, failure).
    async fn after_failure(
        &mut self,
        failed: super::attempt::AttemptFailed,
        tool: Option<&ChosenTool>,
        attempt: u32,
        duration_ms: u64,
        recovery: Recovery<'_>,
    ) -> Result<AfterFailure, StepError> {
        let ctx = self.ctx;
        let mut failed = failed;
        let priced = failed.usage.take().map(|u| priced_usage(u, &ctx.prices));
        let over_budget = super::budgets::step_budget_exceeded(
            ctx,
            self.id(),
            self.step.budget,
            attempt,
            priced.as_ref(),
        )?;
        let report = if let Some((_, error)) = &over_budget {
            failed.error = format!("{error}\n(the attempt: {})", failed.error);
            super::budgets::budget_report(error)
        } else if failed.stage == Stage::NoChange {
            no_change_report(&failed.error)
        } else {
            ctx.errors.classify(&failed.failure)
        };
        let history = ctx
            .state
            .attempt_error_history(&ctx.run_id, self.id())
            .map_err(|e| StepFailure::History(Box::new(e)))?;
        let tool_name = tool.map(|t| t.name.as_str()).filter(|n| is_breaker_tool(n));
        // Journalled after the attempt it follows, in the same transaction.
        let mut opened = None;
        if let Some(name) = tool_name
            && failed.stage == Stage::Tool
        {
            let now = SystemTime::now();
            match ctx.errors.breaker(name, self.step).record_failure_in(
                &ctx.state,
                name,
                &report.class,
                &report.summary,
                now,
            ) {
                Ok(state) => opened = breaker_opened(&state, self.id(), now).map(Change::Event),
                Err(e) => {
                    tracing::warn!("cannot record failure on the circuit breaker of {name}: {e}")
                }
            }
        }
        let class = report.class.name();
        let policy = ctx.errors.policy(self.step, tool_name);
        let action = if over_budget.is_some() {
            // Another attempt, fix or tool would only spend more.
            NextAction::Fail {
                reason: pipeline_error::GiveUpReason::NotRetryable {
                    class: super::budgets::BUDGET_EXCEEDED.to_owned(),
                },
                compensate: recovery.has_compensations,
            }
        } else {
            next_action(
                FailedAttempt {
                    stage: failed.stage,
                    report: &report,
                    takes_prompts: tool.is_some_and(|t| t.takes_prompts),
                },
                recovery,
                &policy,
                &history,
                SystemTime::now(),
            )
        };
        let error = failed.error.clone();
        // A stall is journalled as such first, then the attempt's end with its class.
        let stalled = failed.stalled.map(|stall| {
            Change::Event(Event::AttemptStalled {
                step: self.id().to_owned(),
                attempt,
                tool: tool.map(|t| t.name.clone()),
                stall_timeout_ms: u64::try_from(stall.as_millis()).unwrap_or(u64::MAX),
                duration_ms,
            })
        });
        // A candidate round journalled its attempts' ends already.
        let recorded = self.finish_recorded.take() == Some(attempt);
        let finished = (!recorded).then(|| {
            Change::Event(Event::AttemptFinished {
                step: self.id().to_owned(),
                attempt,
                outcome: failed.result,
                exit_code: failed.exit_code,
                error: Some(error.clone()),
                classified: Some(ErrorSummary {
                    class: class.to_owned(),
                    plugin: report.plugin.clone(),
                    signature: report.signature.clone(),
                    summary: report.summary.clone(),
                }),
                usage: priced,
                duration_ms,
            })
        });
        let exceeded = over_budget.map(|(event, _)| Change::Event(event));
        let counted = Change::AttemptError {
            step: self.id(),
            attempt,
            report: &report,
        };
        let step = self.id().to_owned();
        let (next, after) = match action {
            NextAction::Fix { fixes_left } => (
                Event::FixRequested {
                    step,
                    attempt,
                    class: class.to_owned(),
                    fixes_left,
                    reason: format!(
                        "{error}\n(asking the tool to fix it; {fixes_left} fix attempt(s) left)"
                    ),
                },
                AfterFailure::Fix {
                    prompt: if failed.stage == Stage::NoChange {
                        super::prompts::no_change_fix_prompt(ctx, self.step)
                    } else {
                        super::prompts::fix_prompt_text(ctx, self.step, &error, &report)
                    },
                    fixes_left,
                },
            ),
            NextAction::Retry { after } => {
                let until = SystemTime::now() + after;
                (
                    Event::StepWaiting {
                        step,
                        attempt,
                        wait: WaitKind::Backoff,
                        tool: None,
                        class: Some(class.to_owned()),
                        reason: format!(
                            "{error}\n(class {class}: retrying in {:.1} s)",
                            after.as_secs_f64()
                        ),
                        delay_ms: after.as_millis() as u64,
                        until: Some(rfc3339(until)),
                    },
                    AfterFailure::Retry,
                )
            }
            NextAction::Wait { until } => {
                let wait = until.duration_since(SystemTime::now()).unwrap_or_default();
                (
                    Event::StepWaiting {
                        step,
                        attempt,
                        wait: WaitKind::RateLimit,
                        tool: None,
                        class: Some(class.to_owned()),
                        reason: format!(
                            "{error}\n(class {class}: waiting {:.1} s for the rate limit to reset)",
                            wait.as_secs_f64()
                        ),
                        delay_ms: wait.as_millis() as u64,
                        until: Some(rfc3339(until)),
                    },
                    AfterFailure::Retry,
                )
            }
            NextAction::Escalate { to, reason } => (
                Event::Escalated {
                    step,
                    attempt,
                    reason: format!("{error}\n({reason}; escalating to tool `{to}`)"),
                    to,
                },
                AfterFailure::Escalate,
            ),
            NextAction::Fail { reason, compensate } => {
                ctx.journal.record_changes(
                    stalled
                        .into_iter()
                        .chain(finished)
                        .chain(exceeded)
                        .chain([counted])
                        .chain(opened)
                        .collect(),
                )?;
                if compensate {
                    super::compensation::compensate(ctx, self.step, attempt).await?;
                    // Saga semantics: the step's changes are undone with it.
                    if let Some(wt) = self.worktree.take() {
                        let pool = ctx.pool.clone();
                        if let Err(e) = blocking(move || pool.release(wt)).await {
                            tracing::warn!("cannot return a compensated worktree: {e}");
                        }
                    }
                }
                // A plugin that recognised the failure says why in its summary (the first
                // diagnostic as file:line message; for a denied write, the path and the way
                // out): show it. The fallback's summary only repeats the exit status.
                let hint = if report.plugin != "exit-status" && report.plugin != "none" {
                    format!("\n{}", report.summary)
                } else {
                    String::new()
                };
                return Ok(AfterFailure::Done(
                    self.fail(format!("{error}{hint}\n(class {class}; {reason})"))
                        .await,
                ));
            }
        };
        let until = match &next {
            Event::StepWaiting { until, .. } => until.clone(),
            _ => None,
        };
        ctx.journal.record_changes(
            stalled
                .into_iter()
                .chain(finished)
                .chain([counted])
                .chain(opened)
                .chain([Change::Event(next)])
                .collect(),
        )?;
        if let Some(until) = until.and_then(|u| humantime::parse_rfc3339(&u).ok())
            && !sleep_until(ctx, until).await
        {
            return self.interrupted().map(AfterFailure::Done);
        }
        Ok(after)
    }

    /// Before an AI step's first attempt: when the run's budget is spent, records the
    /// step `skipped` with the reason and returns its result (docs/COSTS.md "Budgets").
    async fn skip_over_run_budget(
        &mut self,
        tool: Option<&ChosenTool>,
    ) -> Result<Option<StepResult>, StepError> {
        if !tool.is_some_and(|t| super::attempt::is_ai_tool(self.ctx, t)) {
            return Ok(None);
        }
        let Some(reason) = super::budgets::run_budget_spent(self.ctx)? else {
            return Ok(None);
        };
        self.ctx.journal.record(Event::StepSkipped {
            step: self.id().to_owned(),
            dependency: None,
            reason,
        })?;
        self.release_worktree().await;
        Ok(Some(StepResult::Skipped))
    }

    /// Records the step's failure (its worktree is kept for inspection).
    async fn fail(&mut self, error: String) -> StepResult {
        let recorded = self.ctx.journal.record(Event::StepFailed {
            step: self.id().to_owned(),
            attempt: self.next_attempt.saturating_sub(1),
            error,
            duration_ms: self.duration_ms(),
        });
        if let Some(wt) = self.worktree.take() {
            self.ctx.pool.keep(wt);
        }
        match recorded {
            Ok(()) => StepResult::Failed,
            Err(_) => StepResult::Aborted,
        }
    }

    /// Records the step interrupted (the run was cancelled); its worktree is kept.
    fn interrupted(&mut self) -> Result<StepResult, StepError> {
        if let Some(wt) = self.worktree.take() {
            self.ctx.pool.keep(wt);
        }
        self.ctx.journal.record(Event::StepInterrupted {
            step: self.id().to_owned(),
            reason: "interrupted".into(),
        })?;
        Ok(StepResult::Interrupted)
    }
}

/// What [`StepLife::complete`] needs to know of the successful attempt.
struct Done<'a> {
    /// The step's input commits.
    inputs: &'a [Oid],
    /// Where its worktree started.
    start: Oid,
    attempt: u32,
    tool: Option<&'a ChosenTool>,
    /// The attempt's wall-clock milliseconds.
    duration_ms: u64,
    /// Fix prompts left for the current tool (a rejection uses one).
    fixes_left: u32,
}

/// `breaker_opened` when this failure (recorded at `now`) turned `state` open: its status
/// is open and changed at `now`.
fn breaker_opened(
    state: &pipeline_error::BreakerState,
    step: &str,
    now: SystemTime,
) -> Option<Event> {
    if state.status != pipeline_error::BreakerStatus::Open || state.changed_at != now {
        return None;
    }
    let cooldown = state
        .open_until
        .and_then(|until| until.duration_since(now).ok())
        .unwrap_or_default();
    Some(Event::BreakerOpened {
        tool: state.tool.clone(),
        step: step.to_owned(),
        failures: state.consecutive_failures,
        cooldown_ms: cooldown.as_millis() as u64,
        until: state.open_until.map(rfc3339),
    })
}

/// `step_approved` of `--approve-all`.
fn auto_approval(step: &str, attempt: u32) -> Event {
    Event::StepApproved {
        step: step.to_owned(),
        attempt,
        by: APPROVE_ALL.to_owned(),
        comment: None,
        auto: true,
    }
}

/// The classification of an attempt whose AI tool changed nothing (reason `no_change`):
/// permanent (another try of the same prompt would do the same), plugin `no_change`,
/// the signature of the reason, so repeats count as the same error. Made here, not by
/// the error plugins: nothing in the tool's output says it, the worktree does.
pub(crate) fn no_change_report(error: &str) -> pipeline_error::ErrorReport {
    let key = super::attempt::NO_CHANGE;
    let normalized = pipeline_error::normalize(key);
    pipeline_error::ErrorReport {
        class: pipeline_error::ErrorClass::Permanent,
        plugin: key.to_owned(),
        signature: pipeline_error::signature_of(&normalized),
        normalized,
        summary: error.lines().next().unwrap_or(key).to_owned(),
        diagnostics: Vec::new(),
        output_hash: pipeline_error::fingerprint(key.as_bytes()),
        diff_hash: None,
        plugin_failures: Vec::new(),
    }
}

/// `by` of an approval `--approve-all` made.
const APPROVE_ALL: &str = "--approve-all";

/// Whether failures of `tool` count on a circuit breaker (a step's own command does not).
fn is_breaker_tool(tool: &str) -> bool {
    tool != pipeline_adapters::SHELL_TOOL
}
