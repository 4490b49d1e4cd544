//! Best of N (`candidates: N` on an AI step, docs/CANDIDATES.md): one round runs N
//! candidate attempts of the step in parallel, each in its own worktree at the same start
//! commit, and keeps the best by a fixed rule.
//!
//! ```text
//!  step_lifecycle ── round due (first attempt, retry, escalation) ──► run_round
//!        ▲                                                               │ lends the step's --jobs slot
//!        │           ┌───────────────┬───────────────┬───────────────────┘
//!        │           ▼               ▼               ▼
//!        │      candidate 1     candidate 2 ... candidate N   each: --jobs slot, tool limits,
//!        │      (attempt a)     (attempt a+1)   (attempt ..)  worktree <step>@candidate-<k> on
//!        │           │               │               │        pipeline-candidates/<run>/<step>/<k>,
//!        │           └───────────────┴───────┬───────┘        set-up, tool, tests, scope, commit,
//!        │                                   ▼                `select` score; journalled
//!        │                         select (pure rule, [`select`])  attempt_finished + candidate_finished
//!        └── kept: its Success (completion records candidate_selected) | none passed: the best
//!            failed candidate's failure, classified and decided on like one attempt's
//! ```
//!
//! Each candidate is an attempt of its own (its own number, `attempt_started` /
//! `attempt_finished`, log, tests, usage), so every existing view of attempts, the usage
//! totals and the budgets count discarded candidates with no special case. Attempt
//! numbers are given out in the order candidates really start (under one lock, with the
//! journal write), so they rise in the journal as the state store requires.
//!
//! Why candidates take slots of their own: `--jobs` bounds the work at once, and each
//! candidate is a full tool run. The step lends its slot for the round ([`lend_slot`]
//! then [`take_slot_again`]): with `--jobs 1` candidates run one after the other, with
//! `--jobs N` up to N overlap. A candidate takes its `--jobs` slot before its tool's
//! `max_concurrent` slot, as a step does, so no cycle of waits can form.
//!
//! [`lend_slot`]: super::job_slots::lend_slot
//! [`take_slot_again`]: super::job_slots::take_slot_again

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use git2::Oid;
use pipeline_adapters::OutputLimits;

use super::attempt::{AttemptFailed, Failure, Success, run_attempt, shell_spec};
use super::containment::{ProcessKind, containment};
use super::next_action::Stage;
use super::run_context::RunContext;
use super::step_error::{StepError, StepFailure};
use super::tool_choice::ChosenTool;
use super::usage_cost::priced_usage;
use super::waits::hold_tool_limits;
use crate::git::{GitError, Worktree, blocking};
use crate::model::Step;
use crate::state::{CandidateOutcome, Change, ErrorSummary, Event};

/// The environment variable a candidate's tool, set-up, tests and `select` command see:
/// its number in the round, 1-based.
pub(crate) const CANDIDATE_ENV: &str = "PIPELINE_CANDIDATE";
/// The environment variable holding the number of candidates of the round.
pub(crate) const CANDIDATES_ENV: &str = "PIPELINE_CANDIDATES";

/// What the selection rule knows of one finished candidate.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Ranked {
    /// Its number in the round, 1-based.
    pub candidate: u32,
    /// Whether it passed: tool, every acceptance test, scope check and commit succeeded.
    pub passed: bool,
    /// Acceptance tests that did not pass (failed, or not run after a failure).
    pub failed_tests: u32,
    /// Lines added plus removed against the start commit.
    pub diff_lines: u64,
    /// The `select` command's score (higher is better); `None` without one.
    pub score: Option<f64>,
}

/// The rule's verdict on a round.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Selection {
    /// Keep this candidate (index into the slice given to [`select`]), for this reason.
    Kept { index: usize, reason: String },
    /// No candidate passed: this one (index) ranks best among the failed ones and stands
    /// for the round in the error engine.
    NonePassed { best: usize },
}

/// The selection rule (docs/CANDIDATES.md "Selection"), in order:
/// 1. only candidates that passed may be kept;
/// 2. with a `select` command, a higher score first; a passing candidate without a score
///    (the command failed or printed no number) after every scored one;
/// 3. fewer failed tests (this ranks the failed candidates when none passed);
/// 4. a smaller diff (lines added plus removed against the start commit);
/// 5. the lower candidate number.
///
/// `None` for an empty round.
pub(crate) fn select(round: &[Ranked]) -> Option<Selection> {
    let order = |a: &&Ranked, b: &&Ranked| {
        let score = |r: &Ranked| r.score.filter(|s| s.is_finite());
        // Descending score, `None` last.
        let by_score = match (score(a), score(b)) {
            (Some(x), Some(y)) => y.total_cmp(&x),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => std::cmp::Ordering::Equal,
        };
        by_score
            .then(a.failed_tests.cmp(&b.failed_tests))
            .then(a.diff_lines.cmp(&b.diff_lines))
            .then(a.candidate.cmp(&b.candidate))
    };
    let index_of = |r: &Ranked| round.iter().position(|x| std::ptr::eq(x, r));
    let passing: Vec<&Ranked> = round.iter().filter(|r| r.passed).collect();
    let Some(best) = passing.iter().copied().min_by(order) else {
        let best = round.iter().min_by(order)?;
        return Some(Selection::NonePassed {
            best: index_of(best)?,
        });
    };
    Some(Selection::Kept {
        index: index_of(best)?,
        reason: reason(best, &passing),
    })
}

/// Why `best` won among `passing` (the first rule that told it from the runner-up).
fn reason(best: &Ranked, passing: &[&Ranked]) -> String {
    let n = passing.len();
    if n == 1 {
        return format!(
            "the only passing candidate of the round ({} diff lines)",
            best.diff_lines
        );
    }
    let others: Vec<&&Ranked> = passing
        .iter()
        .filter(|r| r.candidate != best.candidate)
        .collect();
    if let Some(score) = best.score.filter(|s| s.is_finite())
        && others
            .iter()
            .all(|r| r.score.is_none_or(|s| !s.is_finite() || s < score))
    {
        return format!("highest select score ({score}) among {n} passing candidates");
    }
    if others
        .iter()
        .filter(|r| r.score == best.score)
        .all(|r| r.diff_lines > best.diff_lines)
    {
        let tie = if best.score.is_some() {
            " (select scores tied)"
        } else {
            ""
        };
        return format!(
            "smallest diff ({} lines) among {n} passing candidates{tie}",
            best.diff_lines
        );
    }
    format!(
        "lowest candidate number among {n} passing candidates with the same {}diff size ({} lines)",
        if best.score.is_some() {
            "score and "
        } else {
            ""
        },
        best.diff_lines
    )
}

/// How one round ended.
pub(crate) enum Round {
    /// Every candidate ended; `end` says which attempt stands for the round.
    Ended(Box<RoundEnd>),
    /// The run was interrupted while candidates ran (their attempts are recorded
    /// interrupted; their worktrees stay for resume).
    Interrupted,
}

/// A round's outcome as the lifecycle carries it on: like one attempt's.
pub(crate) struct RoundEnd {
    /// The kept candidate's attempt, or the best failed one's.
    pub attempt: u32,
    /// Its success (kept) or failure (none passed; its `usage` is taken out: it is
    /// journalled already).
    pub outcome: Result<Success, Box<AttemptFailed>>,
    /// Its wall-clock milliseconds.
    pub duration_ms: u64,
    /// Its worktree: the kept result's (released on completion), or the best failed
    /// candidate's (a fix continues in it; kept for inspection on failure).
    pub worktree: Option<Worktree>,
    /// `candidate_selected` of the kept candidate, recorded with the step's completion.
    pub selected: Option<Event>,
    /// The number the step's next attempt gets.
    pub next_attempt: u32,
}

/// One finished candidate.
struct Finished {
    ranked: Ranked,
    attempt: u32,
    outcome: Result<Success, Box<AttemptFailed>>,
    duration_ms: u64,
    worktree: Option<Worktree>,
}

/// What ended a candidate's task before it had a result.
enum Stopped {
    Interrupted,
    Journal(StepError),
}

/// The branch of candidate `k` of `step` in run `run`.
pub(crate) fn candidate_branch(run: &str, step: &str, k: u32) -> String {
    format!("pipeline-candidates/{run}/{step}/{k}")
}

/// The worktree path (under the run's worktree root) of candidate `k` of `step`.
pub(crate) fn candidate_path(step: &str, k: u32) -> String {
    format!("{step}@candidate-{k}")
}

/// Runs one round of `step.candidates` candidates of step `idx` with `tool` from `start`;
/// attempt numbers start at `first_attempt`. Errors: the journal could not be written, or
/// a worktree could not be made (the step fails like any step without a worktree).
pub(crate) async fn run_round(
    ctx: &Arc<RunContext>,
    idx: usize,
    tool: &ChosenTool,
    start: Oid,
    first_attempt: u32,
) -> Result<Round, StepError> {
    let step = &ctx.set.steps[idx];
    let n = step.candidates;
    let counter = Arc::new(Mutex::new(first_attempt));
    let slots = super::job_slots::current_slots();
    let lent = super::job_slots::lend_slot();
    let mut tasks = tokio::task::JoinSet::new();
    for k in 1..=n {
        let candidate = Candidate {
            ctx: ctx.clone(),
            idx,
            tool: ChosenTool {
                name: tool.name.clone(),
                kind: tool.kind.clone(),
                adapter: tool.adapter.clone(),
                takes_prompts: tool.takes_prompts,
            },
            start,
            k,
            n,
            counter: counter.clone(),
            slots: slots.clone(),
        };
        tasks.spawn(candidate.run());
    }
    let mut finished = Vec::with_capacity(n as usize);
    let mut interrupted = false;
    let mut journal = None;
    let mut failure = None;
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(Ok(Ok(f))) => finished.push(f),
            Ok(Ok(Err(Stopped::Interrupted))) => interrupted = true,
            Ok(Ok(Err(Stopped::Journal(e)))) => journal = Some(e),
            Ok(Err(e)) => failure = Some(e),
            Err(e) => {
                failure = Some(StepError::Failed(StepFailure::Candidates(format!(
                    "a candidate's task ended abnormally: {e}"
                ))))
            }
        }
    }
    let next_attempt = *counter.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(e) = journal {
        return Err(e);
    }
    if !super::job_slots::take_slot_again(&ctx.cancel, lent).await || interrupted {
        for f in finished {
            if let Some(wt) = f.worktree {
                ctx.pool.keep(wt);
            }
        }
        return Ok(Round::Interrupted);
    }
    if let Some(e) = failure {
        release_all(ctx, finished.into_iter().filter_map(|f| f.worktree)).await;
        return Err(e);
    }
    finished.sort_by_key(|f| f.ranked.candidate);
    not_taken_over_budget(
        ctx,
        step,
        tool,
        next_attempt.saturating_sub(1),
        &mut finished,
    )?;
    let ranked: Vec<Ranked> = finished.iter().map(|f| f.ranked.clone()).collect();
    let Some(selection) = select(&ranked) else {
        return Err(StepFailure::Candidates("no candidate ran".into()).into());
    };
    let (index, selected_reason) = match selection {
        Selection::Kept { index, reason } => (index, Some(reason)),
        Selection::NonePassed { best } => (best, None),
    };
    let chosen = finished.remove(index);
    let discarded: Vec<u32> = finished.iter().map(|f| f.ranked.candidate).collect();
    release_all(ctx, finished.into_iter().filter_map(|f| f.worktree)).await;
    let selected = match (&chosen.outcome, selected_reason) {
        (Ok(success), Some(reason)) => {
            // The step's own branch names its result, as for a step without candidates.
            let repo = ctx.repo.clone();
            let branch = format!("pipeline-steps/{}/{}", ctx.run_id, step.id);
            let commit = success.commit;
            if let Err(e) = blocking(move || repo.set_branch(&branch, commit)).await {
                tracing::warn!(
                    "step {}: cannot point its branch at the kept candidate: {e}",
                    step.id
                );
            }
            Some(Event::CandidateSelected {
                step: step.id.as_str().to_owned(),
                attempt: chosen.attempt,
                candidate: chosen.ranked.candidate,
                commit: success.commit.to_string(),
                reason,
                discarded,
            })
        }
        _ => None,
    };
    Ok(Round::Ended(Box::new(RoundEnd {
        attempt: chosen.attempt,
        outcome: chosen.outcome.map_err(|mut failed| {
            // Journalled with the candidate's end already.
            failed.usage = None;
            failed.stalled = None;
            failed
        }),
        duration_ms: chosen.duration_ms,
        worktree: chosen.worktree,
        selected,
        next_attempt,
    })))
}

/// When the round took the step over its `budget` (every candidate's usage is journalled
/// by now), no candidate is kept: each passing one becomes a failure saying so, and the
/// lifecycle's after-failure path finds the budget exceeded and fails the step with class
/// `budget_exceeded` (docs/COSTS.md "Budgets"), as for a single attempt.
///
/// Errors: [`StepFailure::Usage`] when the journal cannot be read.
fn not_taken_over_budget(
    ctx: &RunContext,
    step: &Step,
    tool: &ChosenTool,
    last_attempt: u32,
    finished: &mut [Finished],
) -> Result<(), StepError> {
    let Some((_, why)) = super::budgets::step_budget_exceeded(
        ctx,
        step.id.as_str(),
        step.budget,
        last_attempt,
        None,
    )?
    else {
        return Ok(());
    };
    let why = why
        .lines()
        .next()
        .unwrap_or(super::budgets::BUDGET_EXCEEDED);
    for f in finished.iter_mut().filter(|f| f.ranked.passed) {
        let Ok(success) = &f.outcome else { continue };
        let error = format!(
            "candidate {} passed (result {}), but it is not taken: {why}",
            f.ranked.candidate, success.commit
        );
        let failure = pipeline_error::AttemptFailure::new(
            &tool.name,
            &tool.name,
            pipeline_error::Termination::Exited(0),
            error.clone(),
        )
        .with_kind(&tool.kind)
        .finished_at(std::time::SystemTime::now());
        f.ranked.passed = false;
        f.outcome = Err(Box::new(AttemptFailed {
            stage: Stage::Tool,
            result: crate::state::AttemptResult::Failed,
            exit_code: Some(0),
            error,
            failure,
            usage: None,
            stalled: None,
        }));
    }
    Ok(())
}

/// End of a run that is over (unless `--keep-candidates`): deletes its candidate
/// branches `pipeline-candidates/<run>/...` except those of kept candidates (each
/// `candidate_selected` of the run) and those checked out in a worktree kept for
/// inspection (a failed step's best failed candidate). Returns how many were deleted;
/// nothing is deleted when the journal cannot be read.
///
/// Errors: git cannot list or delete a branch.
pub(crate) async fn delete_discarded_branches(ctx: &RunContext) -> Result<usize, GitError> {
    let selected = match ctx.state.journal_of_kind(&ctx.run_id, "candidate_selected") {
        Ok(entries) => entries,
        Err(e) => {
            tracing::warn!("cannot read which candidates were kept: {e}; no branch deleted");
            return Ok(0);
        }
    };
    let kept: Vec<String> = selected
        .into_iter()
        .filter_map(|entry| match entry.event {
            Event::CandidateSelected {
                step, candidate, ..
            } => Some(candidate_branch(&ctx.run_id, &step, candidate)),
            _ => None,
        })
        .collect();
    let prefix = format!("pipeline-candidates/{}/", ctx.run_id);
    let repo = ctx.repo.clone();
    blocking(move || {
        let mut deleted = 0;
        for branch in repo.branches_with_prefix(&prefix)? {
            if kept.contains(&branch) {
                continue;
            }
            match repo.delete_branch(&branch) {
                Ok(()) => deleted += 1,
                // A failed step's best failed candidate, kept for inspection.
                Err(GitError::BranchCheckedOut { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(deleted)
    })
    .await
}

/// Gives discarded candidates' worktrees back to the pool (their results stay on their
/// branches until the run ends).
async fn release_all(ctx: &Arc<RunContext>, worktrees: impl Iterator<Item = Worktree>) {
    for wt in worktrees {
        let pool = ctx.pool.clone();
        if let Err(e) = blocking(move || pool.release(wt)).await {
            tracing::warn!("cannot return a candidate's worktree to the pool: {e}");
        }
    }
}

/// One candidate's task (owned: it runs on its own tokio task).
struct Candidate {
    ctx: Arc<RunContext>,
    idx: usize,
    tool: ChosenTool,
    start: Oid,
    k: u32,
    n: u32,
    /// The step's next attempt number, shared by the round.
    counter: Arc<Mutex<u32>>,
    slots: Option<super::job_slots::JobSlots>,
}

impl Candidate {
    /// Takes a `--jobs` slot and the tool's limits, then runs the attempt in the
    /// candidate's worktree and records how it ended. `Err` when its worktree cannot be
    /// made.
    async fn run(self) -> Result<Result<Finished, Stopped>, StepError> {
        let slot = match &self.slots {
            Some(slots) => match slots.take(&self.ctx.cancel).await {
                Some(permit) => Some(permit),
                None => return Ok(Err(Stopped::Interrupted)),
            },
            None => None,
        };
        let ended = self.run_holding_slot().await;
        if let (Some(slots), Some(permit)) = (&self.slots, slot) {
            slots.give_back(permit);
        }
        ended
    }

    /// [`Candidate::run`] once its `--jobs` slot is held.
    async fn run_holding_slot(&self) -> Result<Result<Finished, Stopped>, StepError> {
        let ctx = &self.ctx;
        let step = &ctx.set.steps[self.idx];
        let id = step.id.as_str();
        let last = self
            .counter
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .saturating_sub(1);
        let tool_permit = match hold_tool_limits(ctx, id, &self.tool.name, last).await {
            Ok(Some(p)) => p,
            Ok(None) => return Ok(Err(Stopped::Interrupted)),
            Err(e) => return Ok(Err(Stopped::Journal(e))),
        };
        let pool = ctx.pool.clone();
        let path = candidate_path(id, self.k);
        let branch = candidate_branch(&ctx.run_id, id, self.k);
        let start = self.start;
        let worktree = {
            let branch = branch.clone();
            blocking(move || pool.acquire(&path, &branch, start))
                .await
                .map_err(|e| StepFailure::Worktree(Box::new(e)))?
        };
        if let Err(e) =
            super::worktree_setup::copy_files(&ctx.workspace.repo_root, step, worktree.path())
        {
            ctx.pool.keep(worktree);
            return Err(StepFailure::Setup(e).into());
        }
        let started = Instant::now();
        let attempt = match self.begin(step, &worktree, &branch) {
            Ok(a) => a,
            Err(e) => {
                ctx.pool.keep(worktree);
                return Ok(Err(Stopped::Journal(e)));
            }
        };
        let mut own = step.clone();
        own.env.insert(CANDIDATE_ENV.into(), self.k.to_string());
        own.env.insert(CANDIDATES_ENV.into(), self.n.to_string());
        let log = ctx.workspace.attempt_log(&ctx.run_id, id, attempt);
        let cwd = worktree.path().to_path_buf();
        let prompt = super::prompts::attempt_prompt(ctx, &own, self.tool.takes_prompts);
        let outcome = match super::worktree_setup::run_setup(ctx, &own, &cwd, attempt).await {
            Ok(()) => {
                run_attempt(
                    ctx,
                    &own,
                    Some(&self.tool),
                    prompt.as_deref(),
                    &cwd,
                    worktree.tracker().cloned(),
                    self.start,
                    attempt,
                    &log,
                )
                .await
            }
            Err(failed) => Err(failed),
        };
        super::worktree_setup::merge_log(
            &super::worktree_setup::setup_log(ctx, &own, attempt),
            &log,
        );
        drop(tool_permit);
        let outcome = match outcome {
            Ok(success) => {
                match super::budgets::over_budget_success(
                    ctx,
                    step,
                    Some(&self.tool),
                    attempt,
                    &log,
                    success,
                ) {
                    Ok(Ok(success)) => Ok(success),
                    Ok(Err(failed)) => Err(Failure::Attempt(failed)),
                    Err(e) => Err(Failure::Journal(e)),
                }
            }
            Err(f) => Err(f),
        };
        let duration_ms = started.elapsed().as_millis() as u64;
        let outcome = match outcome {
            Ok(success) => Ok(success),
            Err(Failure::Attempt(failed)) => Err(failed),
            Err(Failure::Interrupted { usage }) => {
                let recorded = self.finish_interrupted(attempt, usage, duration_ms);
                ctx.pool.keep(worktree);
                return Ok(Err(match recorded {
                    Ok(()) => Stopped::Interrupted,
                    Err(e) => Stopped::Journal(e),
                }));
            }
            Err(Failure::Journal(e)) => {
                ctx.pool.keep(worktree);
                return Ok(Err(Stopped::Journal(e)));
            }
        };
        let ranked = self.rank(step, &own, &worktree, attempt, &outcome).await;
        if let Err(e) = self.finish(attempt, &outcome, &ranked, duration_ms) {
            ctx.pool.keep(worktree);
            return Ok(Err(Stopped::Journal(e)));
        }
        Ok(Ok(Finished {
            ranked,
            attempt,
            outcome,
            duration_ms,
            worktree: Some(worktree),
        }))
    }

    /// Takes the next attempt number and records `attempt_started` with
    /// `candidate_started` in one transaction, under the round's lock (so attempt numbers
    /// rise in the journal).
    fn begin(&self, step: &Step, worktree: &Worktree, branch: &str) -> Result<u32, StepError> {
        let ctx = &self.ctx;
        let mut next = self.counter.lock().unwrap_or_else(PoisonError::into_inner);
        let attempt = *next;
        let log = ctx
            .workspace
            .attempt_log(&ctx.run_id, step.id.as_str(), attempt);
        ctx.journal.record_changes(vec![
            Change::Event(Event::AttemptStarted {
                step: step.id.as_str().to_owned(),
                attempt,
                tool: Some(self.tool.name.clone()),
                worktree: Some(worktree.path().to_string_lossy().into_owned()),
                log: log.to_string_lossy().into_owned(),
            }),
            Change::Event(Event::CandidateStarted {
                step: step.id.as_str().to_owned(),
                attempt,
                candidate: self.k,
                of: self.n,
                branch: branch.to_owned(),
            }),
        ])?;
        *next = attempt + 1;
        Ok(attempt)
    }

    /// What the rule compares: passed, failed tests, diff size, `select` score.
    async fn rank(
        &self,
        step: &Step,
        own: &Step,
        worktree: &Worktree,
        attempt: u32,
        outcome: &Result<Success, Box<AttemptFailed>>,
    ) -> Ranked {
        let ctx = &self.ctx;
        let total = step.acceptance_tests.len() as u32;
        let passed_tests = match outcome {
            Ok(_) => total,
            Err(_) => passed_tests(ctx, step.id.as_str(), attempt),
        };
        let commit = outcome.as_ref().ok().map(|s| s.commit);
        let repo = ctx.repo.clone();
        let start = self.start;
        let cwd = worktree.path().to_path_buf();
        let diff_lines = blocking(move || diff_lines(&repo, &cwd, start, commit))
            .await
            .unwrap_or_else(|e| {
                tracing::warn!("cannot count a candidate's diff: {e}");
                u64::MAX
            });
        let score = match (outcome, &step.select) {
            (Ok(_), Some(select)) => self.score(own, select, worktree, attempt).await,
            _ => None,
        };
        Ranked {
            candidate: self.k,
            passed: outcome.is_ok(),
            failed_tests: total.saturating_sub(passed_tests),
            diff_lines,
            score,
        }
    }

    /// Runs the `select` command in the candidate's worktree (log
    /// `<attempt>.select.log`); the last line of its output that parses as a finite
    /// number is the score. `None` when it fails or prints none.
    async fn score(
        &self,
        own: &Step,
        select: &crate::model::SelectCommand,
        worktree: &Worktree,
        attempt: u32,
    ) -> Option<f64> {
        let ctx = &self.ctx;
        let log = ctx
            .workspace
            .step_logs_dir(&ctx.run_id, own.id.as_str())
            .join(format!("{attempt}.select.log"));
        // Contained like one more acceptance test of the attempt.
        let number = own.acceptance_tests.len() + 1;
        let contained = containment(
            ctx,
            own,
            attempt,
            ProcessKind::Test(number),
            worktree.path(),
        );
        let spec = shell_spec(
            ctx,
            own,
            &select.command,
            worktree.path(),
            select.timeout_sec,
            contained,
        );
        let limits = OutputLimits {
            max_log_bytes: ctx.options.max_log_bytes,
            ..OutputLimits::default()
        };
        let out =
            pipeline_adapters::run_process(&spec, &log, &limits, None, ctx.cancel.child_token())
                .await
                .ok()?;
        if out.termination != pipeline_adapters::Termination::Exited(0) {
            return None;
        }
        parse_score(&out.tail)
    }

    /// Records the candidate's `attempt_finished` (with its usage and, for a failure, its
    /// classification) and `candidate_finished` in one transaction.
    fn finish(
        &self,
        attempt: u32,
        outcome: &Result<Success, Box<AttemptFailed>>,
        ranked: &Ranked,
        duration_ms: u64,
    ) -> Result<(), StepError> {
        let ctx = &self.ctx;
        let step = ctx.set.steps[self.idx].id.as_str().to_owned();
        let (finished, usage, error, commit) = match outcome {
            Ok(success) => {
                let usage = success.usage.clone().map(|u| priced_usage(u, &ctx.prices));
                (
                    Event::AttemptFinished {
                        step: step.clone(),
                        attempt,
                        outcome: crate::state::AttemptResult::Succeeded,
                        exit_code: Some(0),
                        error: None,
                        classified: None,
                        usage: usage.clone(),
                        duration_ms,
                    },
                    usage,
                    None,
                    Some(success.commit.to_string()),
                )
            }
            Err(failed) => {
                let usage = failed.usage.clone().map(|u| priced_usage(u, &ctx.prices));
                let report = if failed.stage == Stage::NoChange {
                    super::step_lifecycle::no_change_report(&failed.error)
                } else {
                    ctx.errors.classify(&failed.failure)
                };
                (
                    Event::AttemptFinished {
                        step: step.clone(),
                        attempt,
                        outcome: failed.result,
                        exit_code: failed.exit_code,
                        error: Some(failed.error.clone()),
                        classified: Some(ErrorSummary {
                            class: report.class.name().to_owned(),
                            plugin: report.plugin.clone(),
                            signature: report.signature.clone(),
                            summary: report.summary.clone(),
                        }),
                        usage: usage.clone(),
                        duration_ms,
                    },
                    usage,
                    failed.error.lines().next().map(str::to_owned),
                    None,
                )
            }
        };
        let error = error.or_else(|| {
            (outcome.is_ok() && ctx.set.steps[self.idx].select.is_some() && ranked.score.is_none())
                .then(|| "the select command failed or printed no number: no score".to_owned())
        });
        // A stall is journalled as such first, as for any attempt.
        let stalled = outcome.as_ref().err().and_then(|f| f.stalled).map(|stall| {
            Change::Event(Event::AttemptStalled {
                step: step.clone(),
                attempt,
                tool: Some(self.tool.name.clone()),
                stall_timeout_ms: u64::try_from(stall.as_millis()).unwrap_or(u64::MAX),
                duration_ms,
            })
        });
        let mut changes: Vec<Change<'_>> = stalled.into_iter().collect();
        changes.extend([
            Change::Event(finished),
            Change::Event(Event::CandidateFinished {
                step,
                attempt,
                candidate: self.k,
                outcome: if ranked.passed {
                    CandidateOutcome::Passed
                } else {
                    CandidateOutcome::Failed
                },
                failed_tests: ranked.failed_tests,
                diff_lines: ranked.diff_lines,
                commit,
                score: ranked.score,
                error,
                usage,
                duration_ms,
            }),
        ]);
        ctx.journal.record_changes(changes)
    }

    /// Records an interrupted candidate's end (its usage counts).
    fn finish_interrupted(
        &self,
        attempt: u32,
        usage: Option<pipeline_adapters::Usage>,
        duration_ms: u64,
    ) -> Result<(), StepError> {
        let ctx = &self.ctx;
        let step = ctx.set.steps[self.idx].id.as_str().to_owned();
        let usage = usage.map(|u| priced_usage(u, &ctx.prices));
        ctx.journal.record_changes(vec![
            Change::Event(Event::AttemptFinished {
                step: step.clone(),
                attempt,
                outcome: crate::state::AttemptResult::Interrupted,
                exit_code: None,
                error: Some("interrupted".into()),
                classified: None,
                usage: usage.clone(),
                duration_ms,
            }),
            Change::Event(Event::CandidateFinished {
                step,
                attempt,
                candidate: self.k,
                outcome: CandidateOutcome::Interrupted,
                failed_tests: 0,
                diff_lines: 0,
                commit: None,
                score: None,
                error: Some("interrupted".into()),
                usage,
                duration_ms,
            }),
        ])
    }
}

/// Acceptance tests of `attempt` of `step` that passed, from its `test_finished` events.
fn passed_tests(ctx: &RunContext, step: &str, attempt: u32) -> u32 {
    let entries = match ctx.state.journal_of_kind(&ctx.run_id, "test_finished") {
        Ok(entries) => entries,
        Err(e) => {
            tracing::warn!("cannot read a candidate's test results: {e}");
            return 0;
        }
    };
    entries
        .iter()
        .filter(|e| {
            matches!(&e.event, Event::TestFinished { step: s, attempt: a, passed: true, .. }
                if s == step && *a == attempt)
        })
        .count() as u32
}

/// Lines added plus removed from `start` to `commit`, or (no commit: a failed candidate)
/// to the worktree at `cwd` as it is, untracked files included.
fn diff_lines(
    repo: &crate::git::Repository,
    cwd: &std::path::Path,
    start: Oid,
    commit: Option<Oid>,
) -> Result<u64, GitError> {
    let failed = |what: &str| GitError::git(format!("count {what}"), cwd);
    let stats = match commit {
        Some(commit) => {
            let git = repo.git2()?;
            let old = git
                .find_commit(start)
                .and_then(|c| c.tree())
                .map_err(failed("the start tree"))?;
            let new = git
                .find_commit(commit)
                .and_then(|c| c.tree())
                .map_err(failed("the candidate's tree"))?;
            git.diff_tree_to_tree(Some(&old), Some(&new), None)
                .and_then(|d| d.stats())
                .map_err(failed("the candidate's diff"))?
        }
        None => {
            let git = git2::Repository::open(cwd).map_err(failed("the candidate's worktree"))?;
            let old = git
                .find_commit(start)
                .and_then(|c| c.tree())
                .map_err(failed("the start tree"))?;
            let mut options = git2::DiffOptions::new();
            options
                .include_untracked(true)
                .recurse_untracked_dirs(true)
                .show_untracked_content(true);
            git.diff_tree_to_workdir_with_index(Some(&old), Some(&mut options))
                .and_then(|d| d.stats())
                .map_err(failed("the candidate's changes"))?
        }
    };
    Ok((stats.insertions() + stats.deletions()) as u64)
}

/// The last line of `output` that parses as a finite number (surrounding blanks
/// ignored), e.g. `0.93` or `12`; `None` when no line does.
pub(crate) fn parse_score(output: &str) -> Option<f64> {
    output
        .lines()
        .rev()
        .filter_map(|line| line.trim().parse::<f64>().ok())
        .find(|score| score.is_finite())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ranked(candidate: u32, passed: bool, failed_tests: u32, diff_lines: u64) -> Ranked {
        Ranked {
            candidate,
            passed,
            failed_tests,
            diff_lines,
            score: None,
        }
    }

    fn kept(round: &[Ranked]) -> (u32, String) {
        match select(round) {
            Some(Selection::Kept { index, reason }) => (round[index].candidate, reason),
            other => panic!("expected a kept candidate, got {other:?}"),
        }
    }

    #[test]
    fn a_passing_candidate_beats_any_failing_one_however_small() {
        let round = [
            ranked(1, false, 1, 1),
            ranked(2, true, 0, 500),
            ranked(3, false, 1, 2),
        ];
        let (k, reason) = kept(&round);
        assert_eq!(k, 2);
        assert_eq!(
            reason,
            "the only passing candidate of the round (500 diff lines)"
        );
    }

    #[test]
    fn among_passing_candidates_the_smallest_diff_wins() {
        let round = [
            ranked(1, true, 0, 40),
            ranked(2, false, 1, 3),
            ranked(3, true, 0, 12),
        ];
        let (k, reason) = kept(&round);
        assert_eq!(k, 3);
        assert_eq!(
            reason,
            "smallest diff (12 lines) among 2 passing candidates"
        );
    }

    #[test]
    fn equal_diffs_fall_back_to_the_lowest_candidate_number() {
        let round = [
            ranked(3, true, 0, 7),
            ranked(2, true, 0, 7),
            ranked(4, true, 0, 9),
        ];
        let (k, reason) = kept(&round);
        assert_eq!(k, 2);
        assert!(reason.starts_with("lowest candidate number"), "{reason}");
    }

    #[test]
    fn a_higher_select_score_beats_a_smaller_diff_and_ties_fall_back() {
        let mut round = [
            ranked(1, true, 0, 5),
            ranked(2, true, 0, 50),
            ranked(3, true, 0, 20),
        ];
        round[0].score = Some(0.2);
        round[1].score = Some(0.9);
        round[2].score = Some(0.9);
        let (k, reason) = kept(&round);
        assert_eq!(k, 3, "tied scores: the smaller diff");
        assert_eq!(
            reason,
            "smallest diff (20 lines) among 3 passing candidates (select scores tied)"
        );
        round[2].score = Some(0.5);
        let (k, reason) = kept(&round);
        assert_eq!(k, 2);
        assert_eq!(
            reason,
            "highest select score (0.9) among 3 passing candidates"
        );
    }

    #[test]
    fn a_candidate_without_a_score_ranks_after_scored_ones() {
        let mut round = [ranked(1, true, 0, 1), ranked(2, true, 0, 90)];
        round[1].score = Some(-3.0);
        assert_eq!(kept(&round).0, 2);
        round[1].score = Some(f64::NAN);
        assert_eq!(kept(&round).0, 1, "NaN is no score");
    }

    #[test]
    fn when_none_passes_the_fewest_failed_tests_then_smallest_diff_stand_for_the_round() {
        let round = [
            ranked(1, false, 2, 1),
            ranked(2, false, 1, 30),
            ranked(3, false, 1, 10),
        ];
        assert_eq!(select(&round), Some(Selection::NonePassed { best: 2 }));
        assert_eq!(select(&[]), None);
    }

    #[test]
    fn a_score_is_the_last_line_that_is_a_number() {
        assert_eq!(parse_score("running\n0.5\n  0.93 \n"), Some(0.93));
        assert_eq!(parse_score("12\nscore: high\n"), Some(12.0));
        assert_eq!(parse_score("no number here"), None);
        assert_eq!(parse_score("inf\nNaN\n"), None);
        assert_eq!(parse_score(""), None);
    }

    #[test]
    fn candidate_branches_and_paths_are_per_step_and_number() {
        assert_eq!(
            candidate_branch("r1", "ws/a", 2),
            "pipeline-candidates/r1/ws/a/2"
        );
        assert_eq!(candidate_path("ws/a", 3), "ws/a@candidate-3");
    }
}
