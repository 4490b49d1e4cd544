//! The terminal's live frame at one instant: a bar with the step counts, then one line
//! per step that runs or waits (its elapsed time, the running acceptance test, the time
//! left before a retry). Pure: the terminal layer passes the current time; tests pass
//! instants taken from a recorded stream.

use std::time::{Duration, SystemTime};

use pipeline_core::state::WaitKind;

use super::counts::Counts;
use super::run_view::{RunView, wait_kind_note};
use super::step_view::{StepState, StepView, Wait};
use super::timing::{between, human};

/// Characters of the bar between its brackets.
const BAR_WIDTH: usize = 24;

/// Step ids are padded to this many characters so that the columns align.
const STEP_COLUMN: usize = 24;

/// Characters of a tool's output line kept (the terminal truncates to its width).
const OUTPUT_CHARS: usize = 200;

/// A running tool silent for longer than this gets "quiet for N s" on its line: the
/// stall detection (`stall_timeout_sec`) may be about to stop it, or it is thinking.
pub(super) const QUIET_AFTER: Duration = Duration::from_secs(30);

/// The frame's lines at `now`: the bar with the steps finished and the time since the
/// run started, the counts (a line of their own, so that both fit 80 columns), then the
/// active steps' lines. The terminal draws each as one line cut to its width
/// (indicatif's `wide_msg`).
pub(super) fn frame(view: &RunView, now: SystemTime) -> Vec<String> {
    let counts = view.counts();
    let elapsed = view.origin().map(|o| between(o, now)).unwrap_or_default();
    let mut lines = vec![
        format!(
            "{} {}/{} steps · {}",
            bar(&counts),
            counts.finished(),
            counts.total,
            human(elapsed)
        ),
        counts.detail(),
    ];
    lines.extend(view.active().map(|(id, step)| step_line(id, step, now)));
    lines
}

/// `[=====xx--      ]`: completed `=`, failed `x`, skipped `-`, interrupted `!`, the rest
/// blank; each part in proportion to the run's steps.
fn bar(c: &Counts) -> String {
    let total = c.total.max(c.finished()).max(1);
    let parts = [
        (c.completed, '='),
        (c.failed, 'x'),
        (c.skipped, '-'),
        (c.interrupted, '!'),
    ];
    let mut text = String::from("[");
    let mut before = 0;
    let mut drawn = 0;
    for (n, ch) in parts {
        before += n;
        let upto = before * BAR_WIDTH / total;
        text.extend(std::iter::repeat_n(ch, upto - drawn));
        drawn = upto;
    }
    text.extend(std::iter::repeat_n(' ', BAR_WIDTH - drawn));
    text.push(']');
    text
}

/// One active step's line at `now`.
fn step_line(id: &str, step: &StepView, now: SystemTime) -> String {
    let what = match &step.state {
        StepState::Running {
            attempt,
            tool,
            since,
        } => {
            let tool = tool.as_deref().unwrap_or("acceptance gate");
            let output = step
                .output
                .as_deref()
                .map(|o| format!(": {}", o.chars().take(OUTPUT_CHARS).collect::<String>()))
                .unwrap_or_default();
            // Silent since its last line, or since it started when it printed none.
            let quiet = between(step.output_at.unwrap_or(*since), now);
            let quiet = if quiet > QUIET_AFTER {
                format!(" · quiet for {} s", quiet.as_secs())
            } else {
                String::new()
            };
            format!(
                "running {} (attempt {attempt}, {tool}){quiet}{output}",
                human(between(*since, now))
            )
        }
        StepState::Testing {
            attempt,
            name,
            number,
            since,
        } => format!(
            "testing {}: {name} (attempt {attempt}, test {number})",
            human(between(*since, now))
        ),
        StepState::Waiting(wait) => wait_text(wait, now),
        StepState::Retrying { next_attempt, what } => {
            format!("attempt {next_attempt} next: {what}")
        }
        StepState::AwaitingApproval {
            attempt,
            approve,
            since,
        } => format!(
            "awaiting approval {} (attempt {attempt}): {approve}",
            human(between(*since, now))
        ),
        // Not active: `RunView::active` leaves these out.
        _ => String::new(),
    };
    format!("  {id:<STEP_COLUMN$} {what}")
}

/// `retry attempt 2 in 0.5s: transient (...)` with the time left before the wait ends,
/// or `waiting 3.0s (tool busy): ...` with the time waited when the end is unknown.
fn wait_text(wait: &Wait, now: SystemTime) -> String {
    let verb = if wait.kind == WaitKind::Backoff {
        "retry"
    } else {
        "waiting"
    };
    let note = wait_kind_note(wait.kind);
    match wait.until {
        Some(until) => format!(
            "{verb} attempt {} in {}{note}: {}",
            wait.next_attempt,
            human(between(now, until)),
            wait.why
        ),
        None => format!(
            "{verb} {} for attempt {}{note}: {}",
            human(between(wait.since, now)),
            wait.next_attempt,
            wait.why
        ),
    }
}
