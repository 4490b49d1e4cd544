//! Where a run's journal goes live: the progress view, plain CI lines, NDJSON.
//!
//! Reporters receive every [`JournalEntry`] right after it is recorded, in journal order
//! (increasing ids), from the one journal writer of the run
//! ([`RunJournal`](super::run_journal::RunJournal)). Tool output lines are not journalled;
//! a reporter that wants them for a live view says so with [`Reporter::wants_output`].

use crate::state::JournalEntry;

/// Receives a run's journal entries as they are recorded. Called from the scheduler and
/// from step tasks, so implementations must be cheap and thread-safe.
pub trait Reporter: Send + Sync {
    /// One recorded entry (`--json` prints exactly these, one per line).
    fn report(&self, entry: &JournalEntry);

    /// The latest line a running step's tool printed (only when
    /// [`Reporter::wants_output`] is true; not journalled).
    fn output(&self, _step: &str, _line: &str) {}

    /// Whether [`Reporter::output`] is wanted (tool output is frequent).
    fn wants_output(&self) -> bool {
        false
    }
}

/// A reporter that drops everything (library use, tests).
pub struct SilentReporter;

impl Reporter for SilentReporter {
    fn report(&self, _entry: &JournalEntry) {}
}
