//! The progress view's state machine: journal entries in, log lines out, and the state
//! the live frame is drawn from ([`super::live`]).
//!
//! [`RunView::apply`] takes the entries of one driving process in journal order (what a
//! [`pipeline_core::engine::Reporter`] receives, or a recorded `--json` stream) and
//! returns the lines they are worth. Every instant comes from the entries themselves
//! (`at`, `until`, `*_ms`), never from the clock of the process showing them, so a replay
//! of a recorded stream renders the same lines.

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use pipeline_core::state::{Event, JournalEntry, WaitKind};

use super::counts::Counts;
use super::step_view::{Attempt, Failure, StepState, StepView, Wait};
use super::timing::{between, human, human_ms, parse_at};

/// One line of the log the view writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Line {
    /// Which views print it.
    pub(super) kind: LineKind,
    /// `[   1.2s] completed app/docs in 0.4s (c0b34ce1a9)`: the time since the run
    /// started (this process), a fixed-width label, the step and what happened.
    pub(super) text: String,
}

/// Which views print a [`Line`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum LineKind {
    /// Both: a result or a decision worth keeping in the scrollback (a step's outcome, a
    /// test's result, a retry, a wait, the run's start and end).
    Milestone,
    /// Plain only: the terminal's live frame shows it (an attempt or a test starting).
    Transition,
    /// Plain only: the counts after a step reached a final state (the terminal's bar).
    Progress,
}

/// A run as its journal so far describes it.
#[derive(Debug, Default)]
pub(super) struct RunView {
    /// When this process started driving the run (`at` of `run_started`).
    origin: Option<SystemTime>,
    /// The instant of the latest entry applied.
    latest: Option<SystemTime>,
    /// Steps in the run (`run_started.steps`).
    total: usize,
    /// Steps in a final state so far, by state (`running`, `waiting` and `queued` stay
    /// zero here: they are derived from `steps`).
    finals: Counts,
    /// What the view knows of each step that is not pending and not final: a running,
    /// testing, waiting or retrying step, with the sequence number of when the journal
    /// first named it. Pending steps have no entry (they are counted as queued from
    /// `total`), and a step leaves when it reaches a final state, so the view holds only
    /// what can be drawn: its memory does not grow with the run's size.
    steps: HashMap<String, (u64, StepView)>,
    /// The next sequence number for `steps`.
    next_seq: u64,
    /// `run_finished` or `run_interrupted` was seen: nothing runs any more.
    ended: bool,
}

impl RunView {
    /// Applies one entry and returns the lines it is worth (none for entries the view
    /// does not show, such as `step_added` or a successful `attempt_finished`).
    pub(super) fn apply(&mut self, entry: &JournalEntry) -> Vec<Line> {
        let at = parse_at(&entry.at)
            .or(self.latest)
            .or(self.origin)
            .unwrap_or(UNIX_EPOCH);
        self.latest = Some(at);
        if self.origin.is_none() || matches!(entry.event, Event::RunStarted { .. }) {
            self.origin = Some(at);
        }
        let mut lines = Vec::new();
        let mut emit = |kind: LineKind, text: String| {
            lines.push((kind, text));
        };
        self.update(entry, at, &mut emit);
        let label = self.label(at);
        lines
            .into_iter()
            .map(|(kind, text)| Line {
                kind,
                text: format!("{label} {text}"),
            })
            .collect()
    }

    /// Records that `step`'s tool printed `line` at `at` (live view only: the terminal
    /// passes the clock's time, the only instant here not taken from an entry).
    pub(super) fn note_output(&mut self, step: &str, line: &str, at: SystemTime) {
        if let Some((_, view)) = self.steps.get_mut(step)
            && view.state.is_running()
        {
            view.output = Some(line.trim_end().to_owned());
            view.output_at = Some(at);
        }
    }

    /// The counts now: O(steps running or waiting).
    pub(super) fn counts(&self) -> Counts {
        let mut c = Counts {
            total: self.total,
            ..self.finals
        };
        for (_, view) in self.steps.values() {
            match &view.state {
                s if s.is_running() => c.running += 1,
                s if s.is_waiting() => c.waiting += 1,
                _ => {}
            }
        }
        c.queued = c.total.saturating_sub(c.finished() + c.running + c.waiting);
        c
    }

    /// When this process started driving the run.
    pub(super) fn origin(&self) -> Option<SystemTime> {
        self.origin
    }

    /// Whether the run ended (nothing runs any more).
    pub(super) fn ended(&self) -> bool {
        self.ended
    }

    /// The steps that run or wait now, in the order they first became active (started or
    /// waited): a step keeps its line while it retries.
    pub(super) fn active(&self) -> impl Iterator<Item = (&str, &StepView)> {
        let mut active: Vec<(u64, &str, &StepView)> = self
            .steps
            .iter()
            .filter(|(_, (_, view))| view.state.is_running() || view.state.is_waiting())
            .map(|(id, (seq, view))| (*seq, id.as_str(), view))
            .collect();
        active.sort_unstable_by_key(|(seq, _, _)| *seq);
        active.into_iter().map(|(_, id, view)| (id, view))
    }

    /// `[  12.3s]`: the time since the run started, fixed width so that lines align.
    fn label(&self, at: SystemTime) -> String {
        let since = self.origin.map(|o| between(o, at)).unwrap_or_default();
        format!("[{:>7}]", human(since))
    }

    /// The step's view, added (queued) when the journal names it for the first time.
    fn step(&mut self, id: &str) -> &mut StepView {
        let next_seq = &mut self.next_seq;
        &mut self
            .steps
            .entry(id.to_owned())
            .or_insert_with(|| {
                let seq = *next_seq;
                *next_seq += 1;
                (seq, StepView::default())
            })
            .1
    }

    /// Moves `step` to a final `state` and says so, with the counts after it. The step
    /// leaves `steps`; only its count stays.
    fn finish(
        &mut self,
        step: &str,
        state: StepState,
        text: String,
        emit: &mut impl FnMut(LineKind, String),
    ) {
        self.steps.remove(step);
        match state {
            StepState::Completed => self.finals.completed += 1,
            StepState::Failed => self.finals.failed += 1,
            StepState::Skipped => self.finals.skipped += 1,
            StepState::Interrupted => self.finals.interrupted += 1,
            // Cancelled steps left the run: in no count.
            _ => {}
        }
        emit(LineKind::Milestone, text);
        emit(LineKind::Progress, format!("progress  {}", self.counts()));
    }

    /// The state change and the lines of one event.
    fn update(
        &mut self,
        entry: &JournalEntry,
        at: SystemTime,
        emit: &mut impl FnMut(LineKind, String),
    ) {
        match &entry.event {
            Event::RunStarted { .. } | Event::RunFinished { .. } | Event::RunInterrupted { .. } => {
                self.update_run(entry, emit);
            }
            Event::StepAdded { step, .. } => {
                // Pending: no entry (queued is derived from the run's step count).
                self.steps.remove(step);
            }
            Event::StepReset {
                step,
                previous_status,
                ..
            } => {
                self.steps.remove(step);
                emit(
                    LineKind::Transition,
                    format!(
                        "reset     {step}: was {}, runs again",
                        previous_status.as_str()
                    ),
                );
            }
            Event::AttemptStarted {
                step,
                attempt,
                tool,
                ..
            } => {
                let view = self.step(step);
                let current = Attempt {
                    number: *attempt,
                    tool: tool.clone(),
                    since: at,
                    tests: 0,
                };
                view.state = current.running();
                view.attempt = Some(current);
                view.output = None;
                view.output_at = None;
                let tool = match tool {
                    Some(tool) => format!(", {tool}"),
                    None => ", acceptance gate".to_owned(),
                };
                emit(
                    LineKind::Transition,
                    format!("started   {step} (attempt {attempt}{tool})"),
                );
            }
            Event::AttemptStalled {
                step,
                attempt,
                stall_timeout_ms,
                ..
            } => emit(
                LineKind::Milestone,
                format!(
                    "stalled   {step} (attempt {attempt}): no output and no CPU for {}; stopped",
                    human_ms(*stall_timeout_ms)
                ),
            ),
            Event::AttemptFinished {
                step,
                attempt,
                classified,
                ..
            } => {
                if let Some(c) = classified {
                    self.step(step).failure = Some(Failure {
                        attempt: *attempt,
                        class: c.class.clone(),
                        summary: c.summary.clone(),
                    });
                }
            }
            Event::TestStarted { .. } | Event::TestFinished { .. } => {
                self.update_test(&entry.event, at, emit);
            }
            Event::StepWaiting { .. } | Event::FixRequested { .. } | Event::Escalated { .. } => {
                self.update_retry(&entry.event, at, emit);
            }
            Event::ApprovalRequested {
                step,
                attempt,
                commit,
                ..
            } => {
                let run_id = &entry.run_id;
                let approve = format!("pipeline approve {run_id} {step}");
                self.step(step).state = StepState::AwaitingApproval {
                    attempt: *attempt,
                    approve: approve.clone(),
                    since: at,
                };
                emit(
                    LineKind::Milestone,
                    format!(
                        "awaiting  {step}: attempt {attempt}'s result ({}) awaits approval",
                        short(commit)
                    ),
                );
                emit(
                    LineKind::Milestone,
                    format!(
                        "decide    {step}: {approve} [--comment TEXT]  or  pipeline reject {run_id} {step} --comment TEXT"
                    ),
                );
            }
            Event::StepCached {
                step,
                from_run,
                commit,
                remote,
                ..
            } => emit(
                LineKind::Milestone,
                match remote {
                    Some(remote) => format!(
                        "cached    {step}: result of run {from_run} from the shared cache ({remote}) re-applied ({})",
                        short(commit)
                    ),
                    None => format!(
                        "cached    {step}: result of run {from_run} re-applied ({})",
                        short(commit)
                    ),
                },
            ),
            Event::StepApproved { step, by, auto, .. } => {
                let how = if *auto { " (--approve-all)" } else { "" };
                let by = if *auto { "" } else { by.as_str() };
                emit(
                    LineKind::Milestone,
                    format!(
                        "approved  {step}{how}{}",
                        if by.is_empty() {
                            String::new()
                        } else {
                            format!(" by {by}")
                        }
                    ),
                );
            }
            Event::StepRejected {
                step, by, comment, ..
            } => {
                let comment = comment
                    .as_deref()
                    .map(|c| format!(": {}", first_line(c)))
                    .unwrap_or_default();
                emit(
                    LineKind::Milestone,
                    format!("rejected  {step} by {by}{comment}"),
                );
            }
            Event::BreakerOpened {
                tool,
                step,
                failures,
                cooldown_ms,
                ..
            } => emit(
                LineKind::Milestone,
                format!(
                    "breaker   {tool}: opened for {} after {failures} failure(s) (last: {step})",
                    human_ms(*cooldown_ms)
                ),
            ),
            _ => self.update_outcome(&entry.event, emit),
        }
    }

    /// `run_started`, `run_finished`, `run_interrupted`.
    fn update_run(&mut self, entry: &JournalEntry, emit: &mut impl FnMut(LineKind, String)) {
        let run_id = &entry.run_id;
        match &entry.event {
            Event::RunStarted {
                base_commit,
                steps,
                jobs,
                resumed,
                ..
            } => {
                self.total = *steps;
                self.ended = false;
                emit(
                    LineKind::Milestone,
                    format!(
                        "{} run {run_id}: {steps} {}, {jobs} at once, base {}",
                        if *resumed { "resuming" } else { "starting" },
                        plural(*steps, "step", "steps"),
                        short(base_commit)
                    ),
                );
            }
            Event::RunFinished {
                status,
                completed,
                failed,
                skipped,
                interrupted,
                not_run,
                duration_ms,
                ..
            } => {
                self.ended = true;
                let mut text = format!(
                    "run {run_id} {} in {}: {completed} completed, {failed} failed, {skipped} skipped",
                    status.as_str(),
                    human_ms(*duration_ms)
                );
                if *interrupted > 0 {
                    text.push_str(&format!(", {interrupted} interrupted"));
                }
                if *not_run > 0 {
                    text.push_str(&format!(", {not_run} not run"));
                }
                emit(LineKind::Milestone, text);
            }
            Event::RunInterrupted { reason } => {
                self.ended = true;
                emit(
                    LineKind::Milestone,
                    format!("run {run_id} interrupted: {}", first_line(reason)),
                );
            }
            _ => {}
        }
    }

    /// `test_started`, `test_finished`.
    fn update_test(
        &mut self,
        event: &Event,
        at: SystemTime,
        emit: &mut impl FnMut(LineKind, String),
    ) {
        match event {
            Event::TestStarted {
                step,
                attempt,
                name,
                ..
            } => {
                let view = self.step(step);
                let number = match &mut view.attempt {
                    Some(current) if current.number == *attempt => {
                        current.tests += 1;
                        current.tests
                    }
                    _ => 1,
                };
                view.state = StepState::Testing {
                    attempt: *attempt,
                    name: name.clone(),
                    number,
                    since: at,
                };
                emit(
                    LineKind::Transition,
                    format!("testing   {step}: {name} (attempt {attempt}, test {number})"),
                );
            }
            Event::TestFinished {
                step,
                attempt,
                name,
                passed,
                duration_ms,
                outcome,
                ..
            } => {
                // Between two tests (or after the last) the attempt shows again.
                let view = self.step(step);
                if let Some(current) = &view.attempt
                    && current.number == *attempt
                    && matches!(view.state, StepState::Testing { .. })
                {
                    view.state = current.running();
                }
                let text = if *passed {
                    format!("test ok   {step}: {name} in {}", human_ms(*duration_ms))
                } else {
                    format!(
                        "test FAIL {step}: {name} in {} ({outcome})",
                        human_ms(*duration_ms)
                    )
                };
                emit(LineKind::Milestone, text);
            }
            _ => {}
        }
    }

    /// `step_waiting`, `fix_requested`, `escalated`: the step goes back to a tool, now or
    /// after a wait.
    fn update_retry(
        &mut self,
        event: &Event,
        at: SystemTime,
        emit: &mut impl FnMut(LineKind, String),
    ) {
        match event {
            Event::StepWaiting {
                step,
                attempt,
                wait,
                class,
                reason,
                delay_ms,
                until,
                ..
            } => {
                let view = self.step(step);
                let why = wait_reason(view, *attempt, class.as_deref(), reason);
                let until = until
                    .as_deref()
                    .and_then(parse_at)
                    .or_else(|| (*delay_ms > 0).then(|| at + ms(*delay_ms)));
                let wait = Wait {
                    kind: *wait,
                    next_attempt: attempt + 1,
                    why,
                    until,
                    delay_ms: *delay_ms,
                    since: at,
                };
                emit(LineKind::Milestone, wait_line(step, &wait));
                view.state = StepState::Waiting(wait);
                view.output = None;
            }
            Event::FixRequested {
                step,
                attempt,
                fixes_left,
                reason,
                ..
            } => {
                let rejected =
                    matches!(event, Event::FixRequested { class, .. } if class == "rejected");
                self.step(step).state = StepState::Retrying {
                    next_attempt: attempt + 1,
                    what: if rejected {
                        "asking the tool to address the rejection".to_owned()
                    } else {
                        "asking the tool to fix the failing tests".to_owned()
                    },
                };
                emit(
                    LineKind::Milestone,
                    format!(
                        "fix       {step}: attempt {} asks the tool to fix attempt {attempt} ({fixes_left} {} left after it): {}",
                        attempt + 1,
                        plural(*fixes_left as usize, "fix", "fixes"),
                        first_line(reason)
                    ),
                );
            }
            Event::Escalated {
                step,
                attempt,
                to,
                reason,
            } => {
                self.step(step).state = StepState::Retrying {
                    next_attempt: attempt + 1,
                    what: format!("escalating to tool `{to}`"),
                };
                emit(
                    LineKind::Milestone,
                    format!(
                        "escalate  {step}: attempt {} goes to tool `{to}`: {}",
                        attempt + 1,
                        first_line(reason)
                    ),
                );
            }
            _ => {}
        }
    }

    /// Final states and the remaining step events.
    fn update_outcome(&mut self, event: &Event, emit: &mut impl FnMut(LineKind, String)) {
        match event {
            Event::StepReused { step, commit } => self.finish(
                step,
                StepState::Completed,
                format!("kept      {step} (completed earlier, {})", short(commit)),
                emit,
            ),
            Event::StepCompleted {
                step,
                commit,
                duration_ms,
                ..
            } => self.finish(
                step,
                StepState::Completed,
                format!(
                    "completed {step} in {} ({})",
                    human_ms(*duration_ms),
                    short(commit)
                ),
                emit,
            ),
            Event::StepFailed {
                step,
                attempt,
                error,
                duration_ms,
            } => {
                // The error engine's verdict on that attempt says why in one line (class,
                // then the first diagnostic); the step's error text is the fallback.
                let why = match self
                    .steps
                    .get(step.as_str())
                    .and_then(|(_, view)| view.failure.as_ref())
                    .filter(|failure| failure.attempt == *attempt)
                {
                    Some(failure) => format!("{}: {}", failure.class, first_line(&failure.summary)),
                    None => first_line(error).to_owned(),
                };
                self.finish(
                    step,
                    StepState::Failed,
                    format!(
                        "failed    {step} after {} (attempt {attempt}): {why}",
                        human_ms(*duration_ms),
                    ),
                    emit,
                )
            }
            Event::StepSkipped { step, reason, .. } => self.finish(
                step,
                StepState::Skipped,
                format!("skipped   {step}: {reason}"),
                emit,
            ),
            Event::StepInterrupted { step, reason } => self.finish(
                step,
                StepState::Interrupted,
                format!("interrupted {step}: {}", first_line(reason)),
                emit,
            ),
            Event::StepCancelled { step, reason } => {
                // It left the run: no entry, in no count.
                self.steps.remove(step);
                emit(LineKind::Milestone, format!("cancelled {step}: {reason}"));
            }
            Event::ToolSelected {
                step,
                tool,
                requested,
                trial,
                ..
            } if tool != requested || *trial => {
                let trial = if *trial {
                    " (circuit breaker trial)"
                } else {
                    ""
                };
                emit(
                    LineKind::Milestone,
                    format!("tool      {step}: `{tool}` instead of `{requested}`{trial}"),
                );
            }
            Event::CompensationFinished {
                step,
                index,
                command,
                succeeded,
                outcome,
                ..
            } => emit(
                LineKind::Milestone,
                format!(
                    "compensate {step}: #{index} `{command}` {}",
                    if *succeeded { "ok" } else { outcome.as_str() }
                ),
            ),
            Event::OrphansKilled {
                step,
                process_groups,
                ..
            } => emit(
                LineKind::Milestone,
                format!(
                    "cleanup   {step}: stopped {process_groups} process {} a dead run left",
                    plural(*process_groups, "group", "groups")
                ),
            ),
            _ => {}
        }
    }
}

/// One line on why a step waits: `class (summary of the failed attempt)` after a
/// classified failure, else the first line of the event's reason.
fn wait_reason(view: &StepView, attempt: u32, class: Option<&str>, reason: &str) -> String {
    let summary = view
        .failure
        .as_ref()
        .filter(|f| f.attempt == attempt && attempt > 0)
        .map(|f| f.summary.as_str());
    match (class, summary) {
        (Some(class), Some(summary)) => format!("{class} ({})", first_line(summary)),
        (Some(class), None) => format!("{class} ({})", first_line(reason)),
        (None, _) => first_line(reason).to_owned(),
    }
}

/// `retry     api/fetch: attempt 2 in 1.5s: transient (the connection failed ...)`: the
/// attempt that follows, the wait as recorded (`delay_ms`), the class and the reason.
fn wait_line(step: &str, wait: &Wait) -> String {
    let label = if wait.kind == WaitKind::Backoff {
        "retry    "
    } else {
        "waiting  "
    };
    let delay = if wait.delay_ms > 0 {
        format!(" in {}", human_ms(wait.delay_ms))
    } else {
        String::new()
    };
    format!(
        "{label} {step}: attempt {}{delay}{}: {}",
        wait.next_attempt,
        wait_kind_note(wait.kind),
        wait.why
    )
}

/// What a wait other than a backoff waits for, as a note after the delay.
pub(super) fn wait_kind_note(kind: WaitKind) -> &'static str {
    match kind {
        WaitKind::Backoff => "",
        WaitKind::RateLimit => " (rate limit)",
        WaitKind::Breaker => " (circuit breaker)",
        WaitKind::ToolConcurrency => " (tool busy)",
        WaitKind::ToolRate => " (tool rate)",
    }
}

/// `n` milliseconds.
fn ms(n: u64) -> std::time::Duration {
    std::time::Duration::from_millis(n)
}

/// `1 step`, `2 steps`.
fn plural(n: usize, one: &'static str, many: &'static str) -> &'static str {
    if n == 1 { one } else { many }
}

/// The first 10 hex digits of a commit.
fn short(commit: &str) -> &str {
    commit.get(..10).unwrap_or(commit)
}

/// The first line of a multi-line note.
pub(super) fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or("")
}
