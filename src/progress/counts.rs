//! The step counts the bar and the plain `progress` lines show.

use std::fmt;

/// How many of a run's steps are where, at one point of its journal.
///
/// `completed`, `failed`, `skipped` and `interrupted` are final and add up to the bar's
/// position; a failed step is not "done". `queued` is every step of the run not yet
/// started and not waiting: pending, whether its dependencies are met or not (on a
/// resume, also the steps this process has not mentioned yet). Cancelled steps left the
/// run and are in no count.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Counts {
    /// Steps in the run (`run_started.steps`).
    pub(super) total: usize,
    /// Completed, kept ones (`step_reused`) included.
    pub(super) completed: usize,
    /// Failed for good.
    pub(super) failed: usize,
    /// Not run because a dependency failed.
    pub(super) skipped: usize,
    /// Stopped with the run.
    pub(super) interrupted: usize,
    /// A tool or an acceptance test runs.
    pub(super) running: usize,
    /// Waiting for their next attempt (backoff, rate limit, breaker, tool limits) or on
    /// their way back to a tool (fix, escalation).
    pub(super) waiting: usize,
    /// Not started: pending, dependencies met or not.
    pub(super) queued: usize,
}

impl Counts {
    /// Steps in a final state: the bar's position.
    pub(super) fn finished(&self) -> usize {
        self.completed + self.failed + self.skipped + self.interrupted
    }
}

impl Counts {
    /// `1 completed, 1 failed, 1 skipped | 1 running, 0 waiting, 1 queued` (the
    /// interrupted count only when there is one).
    pub(super) fn detail(&self) -> String {
        let interrupted = if self.interrupted > 0 {
            format!(", {} interrupted", self.interrupted)
        } else {
            String::new()
        };
        format!(
            "{} completed, {} failed, {} skipped{interrupted} | {} running, {} waiting, {} queued",
            self.completed, self.failed, self.skipped, self.running, self.waiting, self.queued
        )
    }
}

/// `3/5: 1 completed, 1 failed, 1 skipped | 1 running, 0 waiting, 1 queued`.
impl fmt::Display for Counts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}: {}", self.finished(), self.total, self.detail())
    }
}
