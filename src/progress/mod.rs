//! Run progress: a live frame on a terminal (indicatif), one plain line per state change
//! otherwise (CI logs, pipes), NDJSON journal entries with `--json` (docs/EVENTS.md).
//!
//! How it works: the journal entries a run records (`pipeline_core::state::JournalEntry`)
//! go through one state machine, [`run_view::RunView`], which turns each entry into log
//! lines and keeps what the live frame needs; [`live::frame`] renders that frame at a
//! given instant. Both are pure, and every time they show comes from the entries (`at`,
//! `until`, `delay_ms`, `duration_ms`), so a replay of a recorded `--json` stream renders
//! exactly what the run showed (the snapshot tests replay recorded streams from
//! `tests/fixtures/events/`). The terminal and plain reporters only draw.
//!
//! What the views show:
//! - the counts: completed, failed, skipped (and interrupted) separately, a failed step
//!   is not "done"; running (a tool or a test runs), waiting (for a backoff, a rate limit,
//!   a circuit breaker, a tool's limits, or on its way back to a tool after a fix request
//!   or an escalation) and queued. *Queued* is every step not yet started and not
//!   waiting: pending steps whether their dependencies are met or not (on a resume also
//!   the steps this process has not named yet). The terminal shows them in the bar; the
//!   plain view prints them after each step's outcome (`progress  3/5: ...`);
//! - retries and waits: the attempt that follows, the wait, the error class and the
//!   classified reason (`retry api/fetch: attempt 2 in 1.5s: transient (...)`); the
//!   terminal counts the wait down to its `until`. The maximum number of attempts is not
//!   shown: no event carries it;
//! - acceptance tests: which one runs and for how long (ticking in the terminal), and
//!   each result with its duration; fix requests and escalations;
//! - a running tool silent for more than 30 s: "quiet for N s" on its terminal line,
//!   counted from its last output line (the live output is not journalled, so a replay
//!   counts from the attempt's start); a tool stopped by stall detection
//!   (`attempt_stalled`): a milestone line;
//! - each step's outcome with its duration, and the run's end.
//!
//! Files: `run_view.rs` (entries to lines and state), `step_view.rs` (one step's state),
//! `counts.rs`, `live.rs` (the frame), `timing.rs` (instants and durations),
//! `terminal.rs` and `plain.rs` (the reporters), `output.rs` (fallible line output).
//!
//! Output never stops a run: the writers stop writing after the first failed write (see
//! `output.rs`) and the run goes on.

mod counts;
mod live;
mod output;
mod plain;
mod run_view;
mod step_view;
mod terminal;
mod timing;

#[cfg(test)]
mod tests;

use std::io::IsTerminal;
use std::sync::Arc;

use pipeline_core::engine::Reporter;
use pipeline_core::state::JournalEntry;

use output::Output;

/// Picks the reporter: NDJSON on stdout with `--json`, the live frame when stderr is a
/// terminal and not in CI mode (`ci`: `--ci` or `CI` set, see [`crate::ci_report::ci_mode`]),
/// plain lines on stderr otherwise.
pub fn reporter(json: bool, ci: bool) -> Arc<dyn Reporter> {
    if json {
        return Arc::new(JsonReporter {
            out: Output::default(),
        });
    }
    if std::io::stderr().is_terminal() && !ci {
        Arc::new(terminal::TerminalReporter::new())
    } else {
        Arc::new(plain::PlainReporter::default())
    }
}

/// One JSON object per line on stdout.
struct JsonReporter {
    out: Output,
}

impl Reporter for JsonReporter {
    fn report(&self, entry: &JournalEntry) {
        if let Ok(line) = serde_json::to_string(entry) {
            self.out.line(std::io::stdout().lock(), &line);
        }
    }
}
