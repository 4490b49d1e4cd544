//! The journal's last line of defence against leaked secrets: text fields of events (and
//! of the error reports and checkpoints recorded with them) that can carry a tool's
//! output or a command are redacted before they are recorded or reported, and so are
//! the live output lines handed to the reporter.
//!
//! The supervisor already redacts a child's output before it reaches the attempt log
//! and the tail that error messages are built from; this catches text built any other
//! way. Cost: with no secret, nothing is done; otherwise each field is searched once per
//! secret (`str::contains`, a two-way search) and rebuilt only when one occurs.
//! Measured with 10 secrets and a 400-byte error (unit test
//! `redacting_an_event_costs_less_than_recording_it`, which holds it below the cost of
//! recording): about 30 µs per event in a debug build against 150-280 µs to record it;
//! the search is generic code, so an optimised build is much faster still.

use std::sync::Arc;

use pipeline_adapters::{MIN_SECRET_BYTES, redact};
use pipeline_error::ErrorReport;

use crate::engine::Reporter;
use crate::state::{Checkpoint, Event, JournalEntry};

/// The secret values of a run, ready to redact text with.
#[derive(Debug, Clone, Default)]
pub(crate) struct SecretFilter {
    /// Values of at least [`MIN_SECRET_BYTES`], longest first.
    secrets: Vec<String>,
}

impl SecretFilter {
    /// A filter of `secrets`; values shorter than [`MIN_SECRET_BYTES`] are left alone.
    pub(crate) fn new(secrets: &[String]) -> SecretFilter {
        let mut secrets: Vec<String> = secrets
            .iter()
            .filter(|s| s.len() >= MIN_SECRET_BYTES)
            .cloned()
            .collect();
        secrets.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        secrets.dedup();
        SecretFilter { secrets }
    }

    /// True when there is any secret to redact.
    pub(crate) fn is_active(&self) -> bool {
        !self.secrets.is_empty()
    }

    /// Whether `text` contains a secret.
    fn leaks(&self, text: &str) -> bool {
        self.secrets.iter().any(|s| text.contains(s.as_str()))
    }

    /// `text` with every secret replaced; `None` when it contains none.
    pub(crate) fn redacted(&self, text: &str) -> Option<String> {
        self.leaks(text).then(|| redact(text, &self.secrets))
    }

    /// Redacts `text` in place.
    fn scrub(&self, text: &mut String) {
        if let Some(clean) = self.redacted(text) {
            *text = clean;
        }
    }

    fn scrub_option(&self, text: &mut Option<String>) {
        if let Some(text) = text {
            self.scrub(text);
        }
    }

    /// Redacts the text fields of `event` that can carry tool output, an error message
    /// or a command. Every variant is listed, so a new event must decide.
    pub(crate) fn scrub_event(&self, event: &mut Event) {
        match event {
            Event::ToolSelected { skipped, .. } => skipped.iter_mut().for_each(|s| self.scrub(s)),
            Event::StepWaiting { reason, .. }
            | Event::FixRequested { reason, .. }
            | Event::Escalated { reason, .. }
            | Event::StepSkipped { reason, .. }
            | Event::StepInterrupted { reason, .. }
            | Event::StepCancelled { reason, .. }
            | Event::RunInterrupted { reason } => self.scrub(reason),
            Event::TestStarted { command, .. } => self.scrub(command),
            Event::TestFinished {
                command, outcome, ..
            }
            | Event::CompensationFinished {
                command, outcome, ..
            }
            | Event::SetupFinished {
                command, outcome, ..
            } => {
                self.scrub(command);
                self.scrub(outcome);
            }
            Event::AttemptFinished {
                error, classified, ..
            } => {
                self.scrub_option(error);
                if let Some(classified) = classified {
                    self.scrub(&mut classified.summary);
                }
            }
            Event::StepFailed { error, .. } => self.scrub(error),
            // A reviewer's comment may quote output holding a secret.
            Event::StepApproved { comment, .. } | Event::StepRejected { comment, .. } => {
                self.scrub_option(comment)
            }
            Event::RunFinished { result_error, .. } => self.scrub_option(result_error),
            Event::CandidateFinished { error, .. } => self.scrub_option(error),
            // Ids, hashes, paths, counts and statuses only.
            Event::RunStarted { .. }
            | Event::StepAdded { .. }
            | Event::StepReused { .. }
            | Event::StepReset { .. }
            | Event::AttemptStarted { .. }
            | Event::StepCached { .. }
            | Event::AttemptStalled { .. }
            | Event::BudgetExceeded { .. }
            | Event::StepCompleted { .. }
            | Event::ApprovalRequested { .. }
            | Event::BreakerOpened { .. }
            | Event::OrphansKilled { .. }
            | Event::CandidateStarted { .. }
            | Event::CandidateSelected { .. } => {}
        }
    }

    /// A redacted copy of `report` (summary, normalised text, diagnostics, plugin
    /// failures), or `None` when it holds no secret.
    pub(crate) fn report(&self, report: &ErrorReport) -> Option<ErrorReport> {
        let leaks = self.leaks(&report.summary)
            || self.leaks(&report.normalized)
            || report.diagnostics.iter().any(|d| {
                self.leaks(&d.message) || d.file.as_deref().is_some_and(|f| self.leaks(f))
            })
            || report
                .plugin_failures
                .iter()
                .any(|f| self.leaks(&f.message));
        if !leaks {
            return None;
        }
        let mut clean = report.clone();
        self.scrub(&mut clean.summary);
        self.scrub(&mut clean.normalized);
        for d in &mut clean.diagnostics {
            self.scrub(&mut d.message);
            self.scrub_option(&mut d.file);
        }
        for f in &mut clean.plugin_failures {
            self.scrub(&mut f.message);
        }
        Some(clean)
    }

    /// A redacted copy of `checkpoint` (its tests' commands and outcomes), or `None` when
    /// it holds no secret.
    pub(crate) fn checkpoint(&self, checkpoint: &Checkpoint) -> Option<Checkpoint> {
        let tests = &checkpoint.outputs.tests;
        if !tests
            .iter()
            .any(|t| self.leaks(&t.command) || self.leaks(&t.outcome))
        {
            return None;
        }
        let mut clean = checkpoint.clone();
        for t in &mut clean.outputs.tests {
            self.scrub(&mut t.command);
            self.scrub(&mut t.outcome);
        }
        Some(clean)
    }
}

/// A reporter that redacts the live output lines of tools before passing them on
/// (journal entries reach it already redacted).
pub(crate) struct RedactingReporter {
    pub(crate) inner: Arc<dyn Reporter>,
    pub(crate) filter: SecretFilter,
}

impl Reporter for RedactingReporter {
    fn report(&self, entry: &JournalEntry) {
        self.inner.report(entry);
    }

    fn output(&self, step: &str, line: &str) {
        match self.filter.redacted(line) {
            Some(clean) => self.inner.output(step, &clean),
            None => self.inner.output(step, line),
        }
    }

    fn wants_output(&self) -> bool {
        self.inner.wants_output()
    }
}
