//! The candidates of best-of-N steps (docs/CANDIDATES.md) as `status --json` and the
//! API's step detail show them, read from the run's `candidate_started`,
//! `candidate_finished` and `candidate_selected` events.

use std::collections::HashMap;

use super::StateStore;
use crate::engine::EngineError;
use crate::state::{CandidateOutcome, Event, Usage};

/// One candidate of a step's round.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CandidateView {
    /// The candidate's attempt number.
    pub attempt: u32,
    /// Its number in its round, 1-based.
    pub candidate: u32,
    /// Candidates in its round.
    pub of: u32,
    /// Its branch, `pipeline-candidates/<run>/<step>/<candidate>` (deleted at the end of
    /// the run unless it was kept or `--keep-candidates` was given).
    pub branch: String,
    /// `passed`, `failed` or `interrupted`; `null` while it runs.
    pub outcome: Option<CandidateOutcome>,
    /// Acceptance tests that did not pass.
    pub failed_tests: Option<u32>,
    /// Lines added plus removed against the round's start commit.
    pub diff_lines: Option<u64>,
    /// Its commit, when it passed.
    pub commit: Option<String>,
    /// The `select` command's score, if any.
    pub score: Option<f64>,
    /// Why it failed or has no score.
    pub error: Option<String>,
    /// Tokens, requests and cost its tool reported.
    pub usage: Option<Usage>,
    /// Whether it is the kept candidate: the step's result.
    pub selected: bool,
    /// The selection rule's reason, on the kept candidate.
    pub reason: Option<String>,
}

/// Every candidate of run `run_id`, by step id, in the order they started.
///
/// Errors: the state database cannot be read.
pub(crate) fn candidates_of_run(
    state: &StateStore,
    run_id: &str,
) -> Result<HashMap<String, Vec<CandidateView>>, EngineError> {
    let mut by_step: HashMap<String, Vec<CandidateView>> = HashMap::new();
    for entry in state.journal_of_kind(run_id, "candidate_started")? {
        if let Event::CandidateStarted {
            step,
            attempt,
            candidate,
            of,
            branch,
        } = entry.event
        {
            by_step.entry(step).or_default().push(CandidateView {
                attempt,
                candidate,
                of,
                branch,
                outcome: None,
                failed_tests: None,
                diff_lines: None,
                commit: None,
                score: None,
                error: None,
                usage: None,
                selected: false,
                reason: None,
            });
        }
    }
    let mut finished = Vec::new();
    for entry in state.journal_of_kind(run_id, "candidate_finished")? {
        finished.push(entry.event);
    }
    let mut selected = Vec::new();
    for entry in state.journal_of_kind(run_id, "candidate_selected")? {
        selected.push(entry.event);
    }
    for event in finished {
        if let Event::CandidateFinished {
            step,
            attempt,
            outcome,
            failed_tests,
            diff_lines,
            commit,
            score,
            error,
            usage,
            ..
        } = event
            && let Some(view) = by_step
                .get_mut(&step)
                .and_then(|views| views.iter_mut().find(|v| v.attempt == attempt))
        {
            view.outcome = Some(outcome);
            view.failed_tests = Some(failed_tests);
            view.diff_lines = Some(diff_lines);
            view.commit = commit;
            view.score = score;
            view.error = error;
            view.usage = usage;
        }
    }
    for event in selected {
        if let Event::CandidateSelected {
            step,
            attempt,
            reason,
            ..
        } = event
            && let Some(view) = by_step
                .get_mut(&step)
                .and_then(|views| views.iter_mut().find(|v| v.attempt == attempt))
        {
            view.selected = true;
            view.reason = Some(reason);
        }
    }
    Ok(by_step)
}
