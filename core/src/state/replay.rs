//! Rebuilding a run's state from its journal alone.
//!
//! Why: the journal is the one source of truth (DESIGN "The journal"). A process that did
//! not start a run (the REST API, a dashboard, a Temporal mirror) follows it by reading
//! new events; replay is how such a reader knows the run's status, its steps and their
//! attempts without the state tables. A test replays real runs and compares the result
//! with `pipeline status --json`, which reads the tables.
//!
//! How: events are folded in id order with the same transitions the state store applies
//! ([`Event::step_status`], [`Event::run_status`]), plus the columns each event sets.

use std::collections::HashMap;

use super::{AttemptRecord, ErrorSummary, Event, JournalEntry, RunRecord, StepRecord, TestResult};

/// A run's state rebuilt from its journal.
#[derive(Debug, Clone, PartialEq)]
pub struct RunReplay {
    /// The run, as table `runs` holds it.
    pub run: RunRecord,
    /// Its steps in the order they were added (plan order, then steps added on resume).
    pub steps: Vec<ReplayedStep>,
}

/// One step of a [`RunReplay`].
#[derive(Debug, Clone, PartialEq)]
pub struct ReplayedStep {
    /// The step, as table `steps` holds it.
    pub record: StepRecord,
    /// Its attempts by number, as table `attempts` holds them.
    pub attempts: Vec<ReplayedAttempt>,
    /// Acceptance tests of its latest attempt that ran them.
    pub tests: Vec<TestResult>,
}

/// One attempt of a [`ReplayedStep`].
#[derive(Debug, Clone, PartialEq)]
pub struct ReplayedAttempt {
    /// The attempt, as table `attempts` holds it.
    pub record: AttemptRecord,
    /// The error engine's classification, for a failed attempt.
    pub classified: Option<ErrorSummary>,
}

impl RunReplay {
    /// Folds `entries` (one run's journal, oldest first, from its `run_started`) into
    /// the run's state. Returns `None` when the journal does not begin the run (no
    /// `run_started` of a new run). Events of steps never added are ignored.
    pub fn from_journal(entries: &[JournalEntry]) -> Option<RunReplay> {
        let mut run: Option<RunRecord> = None;
        let mut steps: Vec<ReplayedStep> = Vec::new();
        let mut index: HashMap<String, usize> = HashMap::new();
        for entry in entries {
            let event = &entry.event;
            if let Event::RunStarted {
                resumed: false,
                workstreams,
                repo,
                base_commit,
                result_branch,
                jobs,
                plan_hash,
                ..
            } = event
            {
                run = Some(RunRecord {
                    run_id: entry.run_id.clone(),
                    workstream_path: workstreams.clone(),
                    repo_path: repo.clone(),
                    base_commit: base_commit.clone(),
                    result_branch: result_branch.clone(),
                    status: super::RunStatus::Running,
                    jobs: u32::try_from(*jobs).unwrap_or(u32::MAX),
                    plan_hash: plan_hash.clone(),
                    started_at: entry.at.clone(),
                    finished_at: None,
                });
            }
            let run = run.as_mut()?;
            if let Some(status) = event.run_status() {
                run.status = status;
                run.finished_at = status.is_terminal().then(|| entry.at.clone());
            }
            if let Event::StepAdded {
                step,
                workstream,
                definition_hash,
                depends_on,
            } = event
            {
                index.insert(step.clone(), steps.len());
                steps.push(ReplayedStep {
                    record: StepRecord {
                        run_id: entry.run_id.clone(),
                        step_id: step.clone(),
                        workstream_id: workstream.clone(),
                        status: super::StepStatus::Pending,
                        definition_hash: definition_hash.clone(),
                        depends_on: depends_on.clone(),
                        attempts: 0,
                        commit: None,
                        worktree: None,
                        started_at: None,
                        finished_at: None,
                        error: None,
                    },
                    attempts: Vec::new(),
                    tests: Vec::new(),
                });
                continue;
            }
            let Some(&i) = event.step().and_then(|s| index.get(s)) else {
                continue;
            };
            steps[i].apply(event, &entry.at);
        }
        Some(RunReplay { run: run?, steps })
    }
}

/// Adds `test` to a step's tests, dropping those of an earlier attempt: a step shows the
/// tests of its latest attempt that ran them.
pub(crate) fn keep_latest_attempt(tests: &mut Vec<TestResult>, test: TestResult) {
    if tests.first().is_some_and(|t| t.attempt != test.attempt) {
        tests.clear();
    }
    tests.push(test);
}

impl ReplayedStep {
    /// Applies one event of this step (see the module docs).
    fn apply(&mut self, event: &Event, at: &str) {
        let record = &mut self.record;
        match event {
            Event::StepReset {
                definition_hash, ..
            } => {
                record.commit = None;
                record.definition_hash = definition_hash.clone();
            }
            Event::AttemptStarted {
                attempt,
                worktree,
                log,
                ..
            } => {
                record.attempts = *attempt;
                record.worktree = worktree.clone();
                if record.started_at.is_none() {
                    record.started_at = Some(at.to_owned());
                }
                self.attempts.push(ReplayedAttempt {
                    record: AttemptRecord {
                        step_id: record.step_id.clone(),
                        attempt: *attempt,
                        started_at: at.to_owned(),
                        finished_at: None,
                        outcome: None,
                        exit_code: None,
                        error: None,
                        log_path: log.clone(),
                        duration_ms: None,
                    },
                    classified: None,
                });
            }
            Event::AttemptFinished {
                attempt,
                outcome,
                exit_code,
                error,
                classified,
                duration_ms,
                ..
            } => {
                if let Some(a) = self
                    .attempts
                    .iter_mut()
                    .find(|a| a.record.attempt == *attempt)
                {
                    a.record.finished_at = Some(at.to_owned());
                    a.record.outcome = Some(*outcome);
                    a.record.exit_code = *exit_code;
                    a.record.error = error.clone();
                    a.record.duration_ms = Some(*duration_ms);
                    a.classified = classified.clone();
                }
            }
            Event::TestFinished { .. } => {
                if let Some(test) = event.test_result() {
                    keep_latest_attempt(&mut self.tests, test);
                }
            }
            Event::StepCompleted { commit, .. } => record.commit = Some(commit.clone()),
            Event::StepInterrupted { reason, .. } | Event::StepCancelled { reason, .. } => {
                for a in self
                    .attempts
                    .iter_mut()
                    .filter(|a| a.record.finished_at.is_none())
                {
                    a.record.finished_at = Some(at.to_owned());
                    a.record.outcome = Some(super::AttemptResult::Interrupted);
                    a.record.error = Some(reason.clone());
                }
            }
            _ => {}
        }
        if let Some((status, note)) = event.step_status() {
            record.status = status;
            record.error = note.map(str::to_owned);
            record.finished_at = status.is_terminal().then(|| at.to_owned());
        }
    }

    /// The step's latest classified error with how many of its attempts had the same
    /// signature: `(summary, occurrences, last attempt with it)`, as `status` shows it.
    pub fn last_error(&self) -> Option<(&ErrorSummary, u32, u32)> {
        let last = self
            .attempts
            .iter()
            .rev()
            .find_map(|a| a.classified.as_ref().map(|c| (c, a.record.attempt)))?;
        let occurrences = self
            .attempts
            .iter()
            .filter(|a| {
                a.classified
                    .as_ref()
                    .is_some_and(|c| c.signature == last.0.signature)
            })
            .count();
        Some((
            last.0,
            u32::try_from(occurrences).unwrap_or(u32::MAX),
            last.1,
        ))
    }
}
