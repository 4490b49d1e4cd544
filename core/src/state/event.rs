//! The typed events of the run journal: everything a run reports, one variant per kind of
//! state change.
//!
//! Why: one schema for every consumer. The `events` table stores these (kind = the
//! `event` tag, data = the whole event as JSON), `pipeline run --json` prints them as
//! NDJSON, and the REST API, server-sent events and webhooks expose the same objects.
//! `docs/EVENTS.md` documents each event and field; `schema/events.schema.json` is
//! generated from these types (a test keeps it current) and `--json` output is checked
//! against it.
//!
//! How: [`Event`] is internally tagged (`{"event": "attempt_started", "step": ..., ...}`).
//! The state store applies an event to the state tables in the same transaction that
//! appends it ([`StateStore::record`](super::StateStore::record)); what each event does to
//! the tables is [`Event::step_status`] / [`Event::run_status`], which replay
//! ([`RunReplay`](super::RunReplay)) uses too, so the tables and the journal cannot
//! disagree. Tool output lines are not events: they stay in the log files.
//!
//! Units: durations are `*_ms` (milliseconds, u64); instants are RFC 3339 UTC text with
//! milliseconds (`2026-01-31T12:00:00.123Z`), as everywhere in the state database.

use serde::{Deserialize, Serialize};

use super::{AttemptResult, RunStatus, StepStatus};

/// Tokens, requests and cost one attempt of an AI tool reported (all optional: tools
/// report different subsets).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct Usage {
    /// Model name as the tool reported it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Input (prompt) tokens, cached ones included.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_tokens: Option<u64>,
    /// Input tokens served from the provider's prompt cache.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cached_input_tokens: Option<u64>,
    /// Output (completion) tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_tokens: Option<u64>,
    /// Cost in US dollars: as the tool reported it, or, when it reported tokens but no
    /// cost, computed from the price table (`estimated: true`; docs/COSTS.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_usd: Option<f64>,
    /// Model requests the tool made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests: Option<u32>,
    /// True when `cost_usd` is pipeline's estimate from the price table
    /// (`config/prices.yaml`, `prices:` in `.pipeline/config.yaml`), not the tool's own
    /// figure. Left out when false.
    #[serde(default, skip_serializing_if = "is_false")]
    pub estimated: bool,
    /// Why there is no `cost_usd` although the tool reported tokens: the price table has
    /// no price for its model, or it named no model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_unknown: Option<String>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// The error engine's classification of a failed attempt, as journalled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct ErrorSummary {
    /// `transient`, `rate_limited`, `timeout`, `stalled`, `permanent`, `conflict` or
    /// `infrastructure` (docs/ERRORS.md).
    pub class: String,
    /// The plugin that classified it.
    pub plugin: String,
    /// Normalised message hash (16 hex digits): equal signatures are "the same error".
    pub signature: String,
    /// One line.
    pub summary: String,
}

/// Why a step waits before its next attempt (status `waiting` or `retrying`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum WaitKind {
    /// Backoff with jitter after a transient failure (status `retrying`).
    Backoff,
    /// A rate limit's reset (status `waiting`).
    RateLimit,
    /// A circuit breaker's cooldown (status `waiting`).
    Breaker,
    /// A tool profile's `max_concurrent` slot (status `waiting`; no known end).
    ToolConcurrency,
    /// A tool profile's `requests_per_minute` window (status `waiting`).
    ToolRate,
}

/// The remote engine a run executes on (`run_started.engine`): today a Temporal
/// workflow. The submitter records it so that `status`, `resume`, `cancel` and `logs`
/// on this machine find the workflow again; no credential is in it (TLS files and API
/// keys come from the configuration or flags of the command that connects).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct RemoteEngine {
    /// The engine: `temporal`.
    pub kind: String,
    /// The Temporal frontend address the run was submitted to (`HOST:PORT` or a URL).
    pub address: String,
    /// The Temporal namespace.
    pub namespace: String,
    /// The workflow id, `pipeline-run/<run>`.
    pub workflow_id: String,
    /// The main task queue of the run's workers.
    pub task_queue: String,
    /// The name of the shared git remote in the submitter's repository.
    pub remote: String,
}

/// One thing that happened to a run. See the module docs; `docs/EVENTS.md` is the
/// reference for users.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// A run was created (`resumed: false`: the run row and status `running`) or a
    /// process took over an unfinished run (`resumed: true`: status `running` again).
    /// Followed, for a new run, by one [`Event::StepAdded`] per step.
    RunStarted {
        /// Canonical workstream file paths, one per line.
        workstreams: String,
        /// The repository's working directory.
        repo: String,
        /// Hex commit the root steps start from.
        base_commit: String,
        /// `pipeline/<run>`: where the result goes.
        result_branch: String,
        /// Steps in the run.
        steps: usize,
        /// `--jobs`: steps at most at once.
        jobs: usize,
        /// Hash of the planned workstream set.
        plan_hash: String,
        /// Whether an unfinished run is being continued.
        resumed: bool,
        /// Process id of the driving process.
        pid: u32,
        /// The run's budget in US dollars (`--budget-usd`), when it has one; a resume
        /// without the flag keeps the last recorded budget (docs/COSTS.md "Budgets").
        #[serde(default, skip_serializing_if = "Option::is_none")]
        budget_usd: Option<f64>,
        /// The run's budget in tokens (`--budget-tokens`), when it has one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        budget_tokens: Option<u64>,
        /// Where the steps run when not in this process: the Temporal workflow of a run
        /// submitted with `--engine temporal` (docs/TEMPORAL.md "Runs in the state
        /// database"); absent for a local run.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        engine: Option<RemoteEngine>,
    },
    /// A step joined the run (status `pending`): at creation, or on resume when the
    /// workstream file gained the step.
    StepAdded {
        /// `ws` for a workstream without steps, `ws/step` otherwise.
        step: String,
        /// The workstream it belongs to.
        workstream: String,
        /// Hash of its definition.
        definition_hash: String,
        /// Step ids it depends on.
        depends_on: Vec<String>,
    },
    /// Resume kept a step completed by an earlier process: its checkpoint still matches.
    StepReused {
        /// The step.
        step: String,
        /// Hex result commit kept.
        commit: String,
    },
    /// Resume sent a step back to `pending` (its definition or inputs changed, or it had
    /// not finished); its checkpoint is deleted. Attempt numbers continue.
    StepReset {
        /// The step.
        step: String,
        /// Its status before.
        previous_status: StepStatus,
        /// The definition hash it runs with now.
        definition_hash: String,
    },
    /// The tool for the next attempt differs from the one the step asked for (a missing
    /// tool, an open circuit breaker, a capability) or follows a wait.
    ToolSelected {
        /// The step.
        step: String,
        /// The tool profile chosen.
        tool: String,
        /// The tool the step asked for first.
        requested: String,
        /// Tools passed over, each with why.
        skipped: Vec<String>,
        /// A half-open circuit breaker's trial call.
        trial: bool,
    },
    /// The step waits before its next attempt (status `retrying` for a backoff, else
    /// `waiting`). A run killed during the wait finishes it on resume.
    StepWaiting {
        /// The step.
        step: String,
        /// The attempt that failed before the wait (0 when none did).
        attempt: u32,
        /// What it waits for.
        wait: WaitKind,
        /// The tool concerned (breaker, tool limits).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        tool: Option<String>,
        /// The error class that led to it (backoff, rate limit).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        class: Option<String>,
        /// Why, in words (also the step's `error` note in `status`).
        reason: String,
        /// Wait in milliseconds (0 when unknown).
        delay_ms: u64,
        /// When the wait ends (RFC 3339), when known.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        until: Option<String>,
    },
    /// An attempt began: the step is `running` and its tool starts after this is recorded.
    AttemptStarted {
        /// The step.
        step: String,
        /// Attempt number, 1-based, continuing across resumes.
        attempt: u32,
        /// Tool profile, `shell` for a step's own command, absent for a workstream's
        /// acceptance gate.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        tool: Option<String>,
        /// The worktree it runs in (absent for `isolation: none`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        worktree: Option<String>,
        /// The attempt's log file.
        log: String,
    },
    /// An acceptance test starts (the step is `validating`).
    TestStarted {
        /// The step.
        step: String,
        /// The attempt.
        attempt: u32,
        /// Test name.
        name: String,
        /// Shell command.
        command: String,
    },
    /// An acceptance test ended.
    TestFinished {
        /// The step.
        step: String,
        /// The attempt.
        attempt: u32,
        /// Test name.
        name: String,
        /// Shell command.
        command: String,
        /// Exit code 0 within its timeout.
        passed: bool,
        /// Wall-clock milliseconds.
        duration_ms: u64,
        /// `exit N`, `timed out`, `signal N`.
        outcome: String,
        /// Its log file.
        log: String,
    },
    /// A `setup` command of the step ran (or was skipped: cached) in its worktree before
    /// the attempt's tool (docs/WORKTREES.md "Set-up"). Leaves the step's status alone; a
    /// failed one is followed by the attempt's `attempt_finished`.
    SetupFinished {
        /// The step.
        step: String,
        /// The attempt.
        attempt: u32,
        /// Shell command.
        command: String,
        /// Exit code 0 within its timeout (true when skipped).
        succeeded: bool,
        /// Not run: it already succeeded in this worktree with the same `inputs`.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        cached: bool,
        /// Wall-clock milliseconds (0 when skipped).
        duration_ms: u64,
        /// `exit N`, `timed out`, `signal N`, `cached`.
        outcome: String,
    },
    /// The attempt's tool wrote no output and its processes used no CPU for its stall
    /// timeout (`stall_timeout_sec`), so its process group was stopped. Recorded just
    /// before the attempt's `attempt_finished` (class `stalled`), in the same transaction;
    /// the step's status does not change by itself.
    AttemptStalled {
        /// The step.
        step: String,
        /// The attempt.
        attempt: u32,
        /// Tool profile (`shell` for a step's own command).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        tool: Option<String>,
        /// The stall timeout that elapsed, in milliseconds.
        stall_timeout_ms: u64,
        /// How long the attempt's tool ran before it was stopped, in milliseconds.
        duration_ms: u64,
    },
    /// An attempt ended. Does not change the step's status by itself: the next event
    /// (completed, waiting, failed, ...) does.
    AttemptFinished {
        /// The step.
        step: String,
        /// The attempt.
        attempt: u32,
        /// How it ended.
        outcome: AttemptResult,
        /// The tool's exit code, when it exited.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        exit_code: Option<i32>,
        /// What went wrong.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
        /// The error engine's classification of a failure.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        classified: Option<ErrorSummary>,
        /// Tokens and cost the tool reported.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        usage: Option<Usage>,
        /// Wall-clock milliseconds.
        duration_ms: u64,
    },
    /// Failing acceptance tests are fed back to the AI tool (status `retrying`).
    FixRequested {
        /// The step.
        step: String,
        /// The attempt whose tests failed.
        attempt: u32,
        /// Its error class.
        class: String,
        /// Fix attempts left after this one.
        fixes_left: u32,
        /// The failure and what happens next, in words.
        reason: String,
    },
    /// The step's tool gave up; the next tool of its `escalation` chain takes over
    /// (status `retrying`).
    Escalated {
        /// The step.
        step: String,
        /// The last attempt of the previous tool.
        attempt: u32,
        /// The next tool.
        to: String,
        /// Why the previous tool gave up, in words.
        reason: String,
    },
    /// A compensation command of a failed step ran.
    CompensationFinished {
        /// The step.
        step: String,
        /// 1-based position in the step's `compensation` list.
        index: usize,
        /// Shell command.
        command: String,
        /// Exit code 0.
        succeeded: bool,
        /// How it ended.
        outcome: String,
        /// Its log file.
        log: String,
    },
    /// The step's cache key matched a completed step of an earlier run: its result is
    /// that step's change re-applied on this step's start commit, without running its
    /// tool or tests (docs/CACHE.md). [`Event::StepCompleted`] (attempt 0) follows in the
    /// same transaction.
    StepCached {
        /// The step.
        step: String,
        /// Its cache key (SHA-256, hex).
        key: String,
        /// The earlier run the result was taken from.
        from_run: String,
        /// The step of that run.
        from_step: String,
        /// Hex result commit of this step (the re-applied change).
        commit: String,
        /// The git remote of the shared cache the entry was fetched from (`cache.remote`,
        /// docs/CACHE.md "The shared cache"); absent for an entry of this database.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        remote: Option<String>,
    },
    /// The step's result is committed and checkpointed (status `completed`).
    StepCompleted {
        /// The step.
        step: String,
        /// The attempt that produced it.
        attempt: u32,
        /// Hex result commit.
        commit: String,
        /// Milliseconds since the step started in this process.
        duration_ms: u64,
    },
    /// The step failed for good (status `failed`); its dependents are skipped.
    StepFailed {
        /// The step.
        step: String,
        /// Its last attempt (0 when it failed before one began: a merge conflict of its
        /// inputs, no usable tool).
        attempt: u32,
        /// Why, with the error engine's verdict.
        error: String,
        /// Milliseconds since the step started in this process.
        duration_ms: u64,
    },
    /// The step's result is committed and checkpointed, and the step declares
    /// `approval: required` (status `awaiting_approval`): its dependents wait for
    /// `pipeline approve` or `reject` (docs/APPROVALS.md). Not recorded under
    /// `--approve-all`, which records [`Event::StepApproved`] at once.
    ApprovalRequested {
        /// The step.
        step: String,
        /// The attempt that produced the result.
        attempt: u32,
        /// Hex result commit awaiting approval.
        commit: String,
        /// The tool profile that produced it (absent for a step's own command).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        tool: Option<String>,
    },
    /// The step's result was approved; [`Event::StepCompleted`] follows in the same
    /// transaction.
    StepApproved {
        /// The step.
        step: String,
        /// The attempt whose result was approved.
        attempt: u32,
        /// Who decided (`--by`, default the OS user; `--approve-all` when automatic).
        by: String,
        /// Why, as given.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        comment: Option<String>,
        /// Approved by `--approve-all`, not by a person.
        auto: bool,
    },
    /// The step's result was rejected; [`Event::FixRequested`] (an AI tool with fix
    /// attempts left gets the comment as a fix prompt) or [`Event::StepFailed`] (class
    /// `rejected`) follows in the same transaction.
    StepRejected {
        /// The step.
        step: String,
        /// The attempt whose result was rejected.
        attempt: u32,
        /// Who decided (`--by`, default the OS user).
        by: String,
        /// Why: the fix prompt, or the step's error.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        comment: Option<String>,
    },
    /// A tool's circuit breaker opened after a failure of `step` (closed -> open, or a
    /// failed half-open trial): no step uses the tool until `until`.
    BreakerOpened {
        /// The tool profile.
        tool: String,
        /// The step whose failure opened it.
        step: String,
        /// Consecutive counting failures when it opened.
        failures: u32,
        /// How long it stays open, in milliseconds.
        cooldown_ms: u64,
        /// When it becomes half-open (RFC 3339), when known.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        until: Option<String>,
    },
    /// The step's attempts together spent more than its budget (`budget` of the step or
    /// its workstream, docs/COSTS.md "Budgets"), counted after attempt `attempt`: the step
    /// fails with class `budget_exceeded`, without a retry or a fix prompt.
    BudgetExceeded {
        /// The step.
        step: String,
        /// The attempt after which the budget was found spent.
        attempt: u32,
        /// US dollars the step's attempts spent (known costs only); absent when none is
        /// known.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        spent_usd: Option<f64>,
        /// Input plus output tokens the step's attempts spent.
        spent_tokens: u64,
        /// The budget's US dollars, when it has some.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        budget_usd: Option<f64>,
        /// The budget's tokens, when it has some.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        budget_tokens: Option<u64>,
    },
    /// Not run (status `skipped`): a dependency failed or was skipped, or the run's budget
    /// was spent before this AI step started (docs/COSTS.md "Budgets").
    StepSkipped {
        /// The step.
        step: String,
        /// The failed step that caused it; absent when the run's budget did.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        dependency: Option<String>,
        /// In words.
        reason: String,
    },
    /// The step stopped because its run was interrupted (status `interrupted`); resume
    /// runs it again. Its unfinished attempt, if any, ends `interrupted`.
    StepInterrupted {
        /// The step.
        step: String,
        /// In words.
        reason: String,
    },
    /// The step left the run for good (status `cancelled`): resume found it no longer in
    /// the workstream files. Its unfinished attempt, if any, ends `interrupted`.
    StepCancelled {
        /// The step.
        step: String,
        /// In words, e.g. `removed from the workstream file`.
        reason: String,
    },
    /// Tools of steps that were running when the previous driving process died were
    /// stopped before resuming.
    OrphansKilled {
        /// The step whose worktree they ran in.
        step: String,
        /// Process groups killed.
        process_groups: usize,
        /// The worktree.
        worktree: String,
    },
    /// A run left `running` by a process that died was marked `interrupted`.
    RunInterrupted {
        /// In words.
        reason: String,
    },
    /// The run ended: every step is final, or it was interrupted.
    RunFinished {
        /// `completed`, `failed` or `interrupted`.
        status: RunStatus,
        /// Steps completed (kept ones included).
        completed: usize,
        /// Steps failed.
        failed: usize,
        /// Steps skipped.
        skipped: usize,
        /// Steps interrupted.
        interrupted: usize,
        /// Steps never started.
        not_run: usize,
        /// `pipeline/<run>`, when at least one step completed and the results merged.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        result_branch: Option<String>,
        /// Hex commit of the result branch.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        result_commit: Option<String>,
        /// Why the result branch could not be built.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        result_error: Option<String>,
        /// Milliseconds this process drove the run.
        duration_ms: u64,
    },
    /// One candidate of a best-of-N step (`candidates: N`, docs/CANDIDATES.md) started:
    /// recorded with its attempt's [`Event::AttemptStarted`], in the same transaction.
    /// Each candidate is an attempt of its own (its own number, log, tests and usage).
    CandidateStarted {
        /// The step.
        step: String,
        /// The candidate's attempt.
        attempt: u32,
        /// The candidate's number in its round, 1-based.
        candidate: u32,
        /// How many candidates the round runs.
        of: u32,
        /// Its branch, `pipeline-candidates/<run>/<step>/<candidate>`.
        branch: String,
    },
    /// One candidate ended: what the selection rule compares. Recorded with its attempt's
    /// [`Event::AttemptFinished`] (which carries the same usage, so it counts in the
    /// run's totals and budgets once).
    CandidateFinished {
        /// The step.
        step: String,
        /// The candidate's attempt.
        attempt: u32,
        /// The candidate's number in its round, 1-based.
        candidate: u32,
        /// `passed` (tool, every acceptance test, scope check and commit succeeded),
        /// `failed` or `interrupted`.
        outcome: CandidateOutcome,
        /// Acceptance tests that did not pass: failed, or not run because an earlier
        /// one failed (tests stop at the first failure) or the tool failed.
        failed_tests: u32,
        /// Lines added plus lines removed against the round's start commit (its commit,
        /// or for a failed candidate its worktree's uncommitted changes).
        diff_lines: u64,
        /// Its commit on its branch, when it passed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        commit: Option<String>,
        /// The `select` command's score, when the step has one and it printed a number.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        score: Option<f64>,
        /// Why it failed (first line), or why it has no score.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
        /// Tokens and cost its tool reported.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        usage: Option<Usage>,
        /// Wall-clock milliseconds, from its start to its end.
        duration_ms: u64,
    },
    /// The round chose the candidate kept as the step's result (recorded right before
    /// that attempt's completion); every other candidate of the round is discarded.
    /// A round where no candidate passed records none: its best failed candidate is the
    /// attempt the error engine classifies.
    CandidateSelected {
        /// The step.
        step: String,
        /// The kept candidate's attempt.
        attempt: u32,
        /// The kept candidate's number.
        candidate: u32,
        /// Its result commit.
        commit: String,
        /// The rule that decided, e.g. `the only passing candidate`, `smallest diff (12
        /// lines) among 2 passing candidates`.
        reason: String,
        /// The numbers of the discarded candidates of the round.
        discarded: Vec<u32>,
    },
}

/// How a candidate of a best-of-N step ended (`candidate_finished`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum CandidateOutcome {
    /// Tool, every acceptance test, scope check and commit succeeded: it may be kept.
    Passed,
    /// Something failed: it is not kept.
    Failed,
    /// The run was interrupted while it ran.
    Interrupted,
}

impl Event {
    /// The event's kind: its `event` tag, e.g. `attempt_started` (the `kind` column).
    pub fn kind(&self) -> &'static str {
        match self {
            Event::RunStarted { .. } => "run_started",
            Event::StepAdded { .. } => "step_added",
            Event::StepReused { .. } => "step_reused",
            Event::StepReset { .. } => "step_reset",
            Event::ToolSelected { .. } => "tool_selected",
            Event::StepWaiting { .. } => "step_waiting",
            Event::AttemptStarted { .. } => "attempt_started",
            Event::TestStarted { .. } => "test_started",
            Event::TestFinished { .. } => "test_finished",
            Event::SetupFinished { .. } => "setup_finished",
            Event::AttemptStalled { .. } => "attempt_stalled",
            Event::AttemptFinished { .. } => "attempt_finished",
            Event::FixRequested { .. } => "fix_requested",
            Event::Escalated { .. } => "escalated",
            Event::CompensationFinished { .. } => "compensation_finished",
            Event::StepCached { .. } => "step_cached",
            Event::StepCompleted { .. } => "step_completed",
            Event::StepFailed { .. } => "step_failed",
            Event::BudgetExceeded { .. } => "budget_exceeded",
            Event::StepSkipped { .. } => "step_skipped",
            Event::ApprovalRequested { .. } => "approval_requested",
            Event::StepApproved { .. } => "step_approved",
            Event::StepRejected { .. } => "step_rejected",
            Event::BreakerOpened { .. } => "breaker_opened",
            Event::StepInterrupted { .. } => "step_interrupted",
            Event::StepCancelled { .. } => "step_cancelled",
            Event::OrphansKilled { .. } => "orphans_killed",
            Event::RunInterrupted { .. } => "run_interrupted",
            Event::RunFinished { .. } => "run_finished",
            Event::CandidateStarted { .. } => "candidate_started",
            Event::CandidateFinished { .. } => "candidate_finished",
            Event::CandidateSelected { .. } => "candidate_selected",
        }
    }

    /// The step a step event is about; `None` for run events.
    pub fn step(&self) -> Option<&str> {
        match self {
            Event::StepAdded { step, .. }
            | Event::StepReused { step, .. }
            | Event::StepReset { step, .. }
            | Event::ToolSelected { step, .. }
            | Event::StepWaiting { step, .. }
            | Event::AttemptStarted { step, .. }
            | Event::TestStarted { step, .. }
            | Event::TestFinished { step, .. }
            | Event::SetupFinished { step, .. }
            | Event::AttemptStalled { step, .. }
            | Event::AttemptFinished { step, .. }
            | Event::FixRequested { step, .. }
            | Event::Escalated { step, .. }
            | Event::CompensationFinished { step, .. }
            | Event::StepCached { step, .. }
            | Event::StepCompleted { step, .. }
            | Event::StepFailed { step, .. }
            | Event::BudgetExceeded { step, .. }
            | Event::StepSkipped { step, .. }
            | Event::ApprovalRequested { step, .. }
            | Event::StepApproved { step, .. }
            | Event::StepRejected { step, .. }
            | Event::BreakerOpened { step, .. }
            | Event::StepInterrupted { step, .. }
            | Event::StepCancelled { step, .. }
            | Event::OrphansKilled { step, .. }
            | Event::CandidateStarted { step, .. }
            | Event::CandidateFinished { step, .. }
            | Event::CandidateSelected { step, .. } => Some(step),
            Event::RunStarted { .. } | Event::RunInterrupted { .. } | Event::RunFinished { .. } => {
                None
            }
        }
    }

    /// The status this event puts its step in, with the step's `error` note (`None` for
    /// events that leave the status alone). The one table of step transitions: the state
    /// store applies it and replay follows it.
    pub fn step_status(&self) -> Option<(StepStatus, Option<&str>)> {
        Some(match self {
            Event::StepAdded { .. } | Event::StepReset { .. } => (StepStatus::Pending, None),
            Event::StepWaiting { wait, reason, .. } => (
                if *wait == WaitKind::Backoff {
                    StepStatus::Retrying
                } else {
                    StepStatus::Waiting
                },
                Some(reason.as_str()),
            ),
            Event::AttemptStarted { .. } => (StepStatus::Running, None),
            Event::TestStarted { .. } => (StepStatus::Validating, None),
            Event::FixRequested { reason, .. } | Event::Escalated { reason, .. } => {
                (StepStatus::Retrying, Some(reason.as_str()))
            }
            Event::StepCompleted { .. } => (StepStatus::Completed, None),
            Event::ApprovalRequested { .. } => (StepStatus::AwaitingApproval, None),
            Event::StepFailed { error, .. } => (StepStatus::Failed, Some(error.as_str())),
            Event::StepSkipped { reason, .. } => (StepStatus::Skipped, Some(reason.as_str())),
            Event::StepInterrupted { reason, .. } => {
                (StepStatus::Interrupted, Some(reason.as_str()))
            }
            Event::StepCancelled { reason, .. } => (StepStatus::Cancelled, Some(reason.as_str())),
            Event::RunStarted { .. }
            | Event::StepReused { .. }
            | Event::ToolSelected { .. }
            | Event::TestFinished { .. }
            | Event::SetupFinished { .. }
            | Event::AttemptStalled { .. }
            | Event::AttemptFinished { .. }
            | Event::BudgetExceeded { .. }
            | Event::CompensationFinished { .. }
            | Event::OrphansKilled { .. }
            | Event::StepApproved { .. }
            | Event::StepCached { .. }
            | Event::StepRejected { .. }
            | Event::BreakerOpened { .. }
            | Event::RunInterrupted { .. }
            | Event::RunFinished { .. }
            | Event::CandidateStarted { .. }
            | Event::CandidateFinished { .. }
            | Event::CandidateSelected { .. } => return None,
        })
    }

    /// The acceptance test result a `test_finished` event reports.
    pub fn test_result(&self) -> Option<super::TestResult> {
        let Event::TestFinished {
            attempt,
            name,
            command,
            passed,
            duration_ms,
            outcome,
            log,
            ..
        } = self
        else {
            return None;
        };
        Some(super::TestResult {
            attempt: *attempt,
            name: name.clone(),
            command: command.clone(),
            passed: *passed,
            duration_ms: *duration_ms,
            outcome: outcome.clone(),
            log: log.clone(),
        })
    }

    /// The status this event puts its run in (`None` for events that leave it alone).
    pub fn run_status(&self) -> Option<RunStatus> {
        match self {
            Event::RunStarted { .. } => Some(RunStatus::Running),
            Event::RunInterrupted { .. } => Some(RunStatus::Interrupted),
            Event::RunFinished { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// One journalled event with its envelope: what `--json` prints, one per line, and what
/// the `events` table holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct JournalEntry {
    /// The journal's row id: increasing, never reused; `Last-Event-ID` of the event
    /// stream.
    pub id: i64,
    /// When it was recorded: RFC 3339 UTC with milliseconds.
    pub at: String,
    /// The run.
    pub run_id: String,
    /// The event, flattened: `event` is its kind.
    #[serde(flatten)]
    pub event: Event,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `schema/events.schema.json` is generated from these types; this test fails when
    /// they change without the file (run with `UPDATE_SCHEMAS=1` to rewrite it).
    #[test]
    fn the_published_event_schema_matches_the_types() {
        let schema = schemars::schema_for!(JournalEntry);
        let mut generated = serde_json::to_string_pretty(&schema)
            .unwrap_or_else(|e| panic!("cannot serialise the schema: {e}"));
        generated.push('\n');
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../schema/events.schema.json");
        if std::env::var_os("UPDATE_SCHEMAS").is_some() {
            std::fs::write(&path, &generated)
                .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
        }
        let published = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            published == generated,
            "{} is out of date: run `UPDATE_SCHEMAS=1 cargo test -p pipeline-core published_event_schema` and commit it",
            path.display()
        );
    }

    #[test]
    fn every_kind_is_the_serde_tag() {
        let event = Event::StepSkipped {
            step: "ws/b".into(),
            dependency: Some("ws/a".into()),
            reason: "dependency ws/a failed".into(),
        };
        let value = serde_json::to_value(&event).unwrap_or_default();
        assert_eq!(value["event"], event.kind());
        assert_eq!(event.step(), Some("ws/b"));
        assert_eq!(
            event.step_status(),
            Some((StepStatus::Skipped, Some("dependency ws/a failed")))
        );
    }
}
