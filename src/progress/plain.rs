//! The plain view: every line of [`RunView::apply`] on stderr, for CI logs and pipes.

use std::sync::Mutex;

use pipeline_core::engine::Reporter;
use pipeline_core::state::JournalEntry;

use super::output::Output;
use super::run_view::RunView;

/// One line per state change on stderr (milestones, transitions and the counts after
/// each step's outcome), each with the time since the run started.
#[derive(Default)]
pub(super) struct PlainReporter {
    /// The run as the entries so far describe it.
    view: Mutex<RunView>,
    /// stderr, until a write fails.
    out: Output,
}

impl Reporter for PlainReporter {
    fn report(&self, entry: &JournalEntry) {
        // A panic elsewhere while holding the lock leaves a usable view: keep drawing.
        let lines = self
            .view
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .apply(entry);
        for line in lines {
            self.out.line(std::io::stderr().lock(), &line.text);
        }
    }
}
