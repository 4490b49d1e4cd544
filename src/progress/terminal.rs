//! The terminal view: milestone lines scroll above a live frame (the bar with the step
//! counts, one line per running or waiting step) that indicatif draws on stderr.
//!
//! This layer only draws: [`RunView`] turns entries into lines and state, [`frame`]
//! turns that state into the frame's text at an instant. A ticker thread redraws the
//! frame every [`TICK`] so that elapsed times and countdowns move between entries; it
//! holds a weak reference and stops when the reporter is dropped or the run ends.

use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, SystemTime};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use pipeline_core::engine::Reporter;
use pipeline_core::state::JournalEntry;

use super::live::frame;
use super::run_view::{LineKind, RunView};

/// How often the frame is redrawn between entries.
const TICK: Duration = Duration::from_millis(200);

/// Live bars on stderr.
pub(super) struct TerminalReporter {
    shared: Arc<Shared>,
}

/// What the reporter and its ticker share.
struct Shared {
    /// The run as the entries so far describe it. Lock order: `view`, then `bars`.
    view: Mutex<RunView>,
    /// The draw target.
    multi: MultiProgress,
    /// One bar per frame line, each showing its line as a `wide_msg` (cut to the
    /// terminal's width).
    bars: Mutex<Vec<ProgressBar>>,
}

impl TerminalReporter {
    /// Starts drawing on stderr. Without a ticker thread (the system refused one) the
    /// frame is redrawn at each entry only.
    pub(super) fn new() -> Self {
        Self::with_target(ProgressDrawTarget::stderr())
    }

    /// Starts drawing on `target` (stderr, or a fake terminal in tests).
    fn with_target(target: ProgressDrawTarget) -> Self {
        let shared = Arc::new(Shared {
            view: Mutex::new(RunView::default()),
            multi: MultiProgress::with_draw_target(target),
            bars: Mutex::new(Vec::new()),
        });
        let weak = Arc::downgrade(&shared);
        // A refused thread costs the ticking only; the run must not stop for it.
        let _ticker = std::thread::Builder::new()
            .name("progress".into())
            .spawn(move || tick(&weak));
        TerminalReporter { shared }
    }
}

/// Redraws the frame every [`TICK`] until the reporter is dropped or the run ends.
fn tick(shared: &Weak<Shared>) {
    loop {
        std::thread::sleep(TICK);
        let Some(shared) = shared.upgrade() else {
            return;
        };
        let view = shared.view.lock().unwrap_or_else(|e| e.into_inner());
        if view.ended() {
            return;
        }
        shared.draw(&view, SystemTime::now());
    }
}

impl Shared {
    /// Shows the frame of `view` at `now`, or clears it once the run ended.
    fn draw(&self, view: &RunView, now: SystemTime) {
        let mut bars = self.bars.lock().unwrap_or_else(|e| e.into_inner());
        let lines = if view.ended() {
            Vec::new()
        } else {
            frame(view, now)
        };
        while bars.len() > lines.len() {
            if let Some(bar) = bars.pop() {
                bar.finish_and_clear();
                self.multi.remove(&bar);
            }
        }
        while bars.len() < lines.len() {
            let bar = self.multi.add(ProgressBar::new(0));
            bar.set_style(
                ProgressStyle::with_template("{wide_msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bars.push(bar);
        }
        for (bar, line) in bars.iter().zip(lines) {
            bar.set_message(line);
        }
    }
}

impl Reporter for TerminalReporter {
    fn wants_output(&self) -> bool {
        true
    }

    fn output(&self, step: &str, line: &str) {
        self.shared
            .view
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .note_output(step, line, SystemTime::now());
    }

    fn report(&self, entry: &JournalEntry) {
        let mut view = self.shared.view.lock().unwrap_or_else(|e| e.into_inner());
        for line in view.apply(entry) {
            if line.kind == LineKind::Milestone {
                // indicatif's own write errors (a hung-up terminal) must not stop the
                // run; the next line tries again.
                self.shared.multi.println(&line.text).ok();
            }
        }
        self.shared.draw(&view, SystemTime::now());
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use indicatif::{ProgressDrawTarget, TermLike};
    use pipeline_core::engine::Reporter;
    use pipeline_core::state::JournalEntry;

    use super::TerminalReporter;

    /// A terminal `width` columns wide that keeps what is written to it.
    #[derive(Debug, Clone)]
    struct NarrowTerm {
        width: u16,
        written: Arc<Mutex<Vec<String>>>,
    }

    impl NarrowTerm {
        fn keep(&self, s: &str) -> std::io::Result<()> {
            self.written
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(s.to_owned());
            Ok(())
        }
    }

    impl TermLike for NarrowTerm {
        fn width(&self) -> u16 {
            self.width
        }
        fn move_cursor_up(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_down(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_right(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_left(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn write_line(&self, s: &str) -> std::io::Result<()> {
            self.keep(s)
        }
        fn write_str(&self, s: &str) -> std::io::Result<()> {
            self.keep(s)
        }
        fn clear_line(&self) -> std::io::Result<()> {
            Ok(())
        }
        fn flush(&self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn live_lines_are_cut_to_the_terminal_width_and_milestones_kept_whole() {
        let term = NarrowTerm {
            width: 72,
            written: Arc::default(),
        };
        let reporter =
            TerminalReporter::with_target(ProgressDrawTarget::term_like(Box::new(term.clone())));
        let stream = include_str!("../../tests/fixtures/events/retry.ndjson");
        // Up to the first wait: the step's live line is the long retry reason.
        for line in stream.lines().take(6) {
            let entry: JournalEntry = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("a journal entry: {e}: {line}"));
            reporter.report(&entry);
        }
        let written = term
            .written
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let live = written
            .iter()
            .rfind(|l| l.starts_with("  api/fetch                retry attempt 2 in "))
            .unwrap_or_else(|| panic!("the waiting step's live line: {written:#?}"));
        assert!(live.chars().count() <= 72, "cut to the width: {live:?}");
        assert!(
            written.iter().any(|l| l
                .starts_with("[   0.1s] retry     api/fetch: attempt 2 in 1.5s: transient")
                && l.ends_with("Connection reset by peer)")),
            "the retry line is printed whole above the frame: {written:#?}"
        );
    }
}
