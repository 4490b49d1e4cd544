//! The one writer of a run's state.
//!
//! Every state change of a run driven by this process goes through [`RunJournal`]: it
//! records typed events (and their attachments) in one SQLite transaction through
//! [`StateStore::record`], then hands the recorded entries to the reporters in journal
//! order. No state write's error is ignored: the first failure is kept, the run is
//! cancelled (running tools stop), and the driver ends the run with that error (exit 3).
//! What was recorded before stays, so the run is resumable.

use std::sync::{Arc, Mutex, PoisonError};

use tokio_util::sync::CancellationToken;

use super::Reporter;
use super::step_error::StepError;
use crate::state::{Change, Event, StateError, StateStore};

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
}

impl RunJournal {
    /// A journal for run `run_id`; a failed write cancels `cancel`.
    pub(crate) fn new(
        state: StateStore,
        run_id: &str,
        reporter: Arc<dyn Reporter>,
        cancel: CancellationToken,
    ) -> RunJournal {
        RunJournal {
            state,
            run_id: run_id.to_owned(),
            reporter,
            order: Mutex::new(()),
            failure: Mutex::new(None),
            cancel,
        }
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
        let _order = self.order.lock().unwrap_or_else(PoisonError::into_inner);
        match self.state.record(&self.run_id, changes) {
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

#[cfg(test)]
mod tests;
