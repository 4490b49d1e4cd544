//! The one writer of a run's state.
//!
//! Every state change of a run driven by this process goes through [`RunJournal`]: it
//! records typed events (and their attachments) in one SQLite transaction through
//! [`StateStore::record`], then hands the recorded entries to the reporters in journal
//! order. No state write's error is ignored: the first failure is kept, the run is
//! cancelled (running tools stop), and the driver ends the run with that error (exit 3).
//! What was recorded before stays, so the run is resumable.
//!
//! Each record also inserts the webhook outbox rows of the recorded events (the run's
//! subscriptions, from `.pipeline/config.yaml`), in the same transaction.
//!
//! It is also the last line of defence against leaked secrets: the text fields of what
//! it records that can carry tool output (errors, reasons, summaries, diagnostics,
//! commands) are redacted first, and so are the tools' live output lines it passes to
//! the reporter (see [`redaction`]).

mod redaction;

use std::sync::{Arc, Mutex, PoisonError};

use tokio_util::sync::CancellationToken;

use self::redaction::{RedactingReporter, SecretFilter};
use super::Reporter;
use super::step_error::StepError;
use crate::state::{Change, Event, Flush, StateError, StateStore, Subscriptions};

/// Records a run's events and reports them. Shared by the scheduler and the step tasks.
pub(crate) struct RunJournal {
    state: StateStore,
    run_id: String,
    reporter: Arc<dyn Reporter>,
    /// Held while recording and reporting, so reporters see entries in id order.
    order: Mutex<()>,
    /// The first write that failed.
    failure: Mutex<Option<StateError>>,
    cancel: CancellationToken,
    /// The run's secrets, redacted from what is recorded.
    filter: SecretFilter,
    /// Webhook and notify endpoints: each recorded event gets its outbox rows in the
    /// transaction that records it.
    subscriptions: Subscriptions,
}

impl RunJournal {
    /// A journal for run `run_id`; a failed write cancels `cancel`; `secrets` (values
    /// of at least `MIN_SECRET_BYTES`) are redacted from what it records and reports.
    pub(crate) fn new(
        state: StateStore,
        run_id: &str,
        reporter: Arc<dyn Reporter>,
        cancel: CancellationToken,
        secrets: &[String],
    ) -> RunJournal {
        let filter = SecretFilter::new(secrets);
        let reporter: Arc<dyn Reporter> = if filter.is_active() && reporter.wants_output() {
            Arc::new(RedactingReporter {
                inner: reporter,
                filter: filter.clone(),
            })
        } else {
            reporter
        };
        RunJournal {
            state,
            run_id: run_id.to_owned(),
            reporter,
            order: Mutex::new(()),
            failure: Mutex::new(None),
            cancel,
            filter,
            subscriptions: Subscriptions::default(),
        }
    }

    /// This journal, inserting a delivery into the webhook outbox for every recorded
    /// event that `subscriptions` want, in the event's own transaction (so a crash
    /// never loses one; see `crate::state::Subscriptions`).
    pub(crate) fn with_subscriptions(mut self, subscriptions: Subscriptions) -> RunJournal {
        self.subscriptions = subscriptions;
        self
    }

    /// Records one event. Errors: [`StepError::Journal`] when the write failed (the run
    /// is being stopped).
    pub(crate) fn record(&self, event: Event) -> Result<(), StepError> {
        self.record_changes(vec![Change::Event(event)])
    }

    /// Records `changes` in one transaction and reports the events among them. Errors:
    /// [`StepError::Journal`] when the write failed (nothing of it was recorded; the run
    /// is being stopped).
    pub(crate) fn record_changes(&self, changes: Vec<Change<'_>>) -> Result<(), StepError> {
        self.record_flushed(changes, Flush::Now)
    }

    /// [`RunJournal::record_changes`] for changes whose effects are only observable
    /// through a later recorded change (a step's completion: its dependents start with a
    /// later record): under `--durability full` they reach the disk with that record
    /// instead of with an fsync of their own (see [`Flush::WithNextWrite`]).
    pub(crate) fn record_changes_with_next_write(
        &self,
        changes: Vec<Change<'_>>,
    ) -> Result<(), StepError> {
        self.record_flushed(changes, Flush::WithNextWrite)
    }

    fn record_flushed(&self, changes: Vec<Change<'_>>, flush: Flush) -> Result<(), StepError> {
        if !self.filter.is_active() {
            return self.write(changes, flush);
        }
        // Redacted copies of borrowed reports and checkpoints, by position in `changes`.
        let owned: Vec<Owned> = changes
            .iter()
            .map(|change| match change {
                Change::AttemptError { report, .. } => self
                    .filter
                    .report(report)
                    .map_or(Owned::None, Owned::Report),
                Change::Checkpoint { checkpoint, .. } => self
                    .filter
                    .checkpoint(checkpoint)
                    .map_or(Owned::None, Owned::Checkpoint),
                Change::Event(_) => Owned::None,
            })
            .collect();
        let changes: Vec<Change<'_>> = changes
            .into_iter()
            .zip(&owned)
            .map(|(change, owned)| match (change, owned) {
                (Change::Event(mut event), _) => {
                    self.filter.scrub_event(&mut event);
                    Change::Event(event)
                }
                (Change::AttemptError { step, attempt, .. }, Owned::Report(report)) => {
                    Change::AttemptError {
                        step,
                        attempt,
                        report,
                    }
                }
                (Change::Checkpoint { step, .. }, Owned::Checkpoint(checkpoint)) => {
                    Change::Checkpoint { step, checkpoint }
                }
                (change, _) => change,
            })
            .collect();
        self.write(changes, flush)
    }

    fn write(&self, changes: Vec<Change<'_>>, flush: Flush) -> Result<(), StepError> {
        let _order = self.order.lock().unwrap_or_else(PoisonError::into_inner);
        match self
            .state
            .record_delivering(&self.run_id, changes, flush, &self.subscriptions)
        {
            Ok(entries) => {
                for entry in &entries {
                    self.reporter.report(entry);
                }
                Ok(())
            }
            Err(err) => {
                let message = err.to_string();
                tracing::error!("cannot record the state of run {}: {message}", self.run_id);
                self.failure
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .get_or_insert(err);
                self.cancel.cancel();
                Err(StepError::Journal(message))
            }
        }
    }

    /// The first failed write, if any (taken: a second call returns `None`).
    pub(crate) fn take_failure(&self) -> Option<StateError> {
        self.failure
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }

    /// The reporter, for tool output lines (not journalled).
    pub(crate) fn reporter(&self) -> &Arc<dyn Reporter> {
        &self.reporter
    }
}

/// A redacted copy made for one change of a batch (see `record_flushed`).
enum Owned {
    None,
    Report(pipeline_error::ErrorReport),
    Checkpoint(crate::state::Checkpoint),
}

#[cfg(test)]
mod tests;
