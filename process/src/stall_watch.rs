//! Stall detection: a child that neither prints nor computes for its stall timeout.
//!
//! An AI coding CLI waiting on a model request that never gets an answer (a provider
//! that accepted the connection and went silent, a half-open TCP connection) waits until
//! the step's timeout, often half an hour, and peers retry it only then. A child is
//! *stalled* when, for [`ProcessSpec::stall_timeout`](crate::ProcessSpec::stall_timeout)
//! in a row, it wrote no output and its process group used no CPU time (see
//! [`group_cpu`](crate::group_cpu)); the supervisor then stops the group as it does on a
//! timeout and reports [`Termination::Stalled`](crate::Termination::Stalled).
//!
//! "No CPU" allows for the housekeeping of an idle runtime: a Node.js CLI blocked on a
//! socket still wakes for timers and garbage collection (Claude Code: about 1% of a core,
//! in bursts of up to 80 ms in one second, measured here). The group counts as idle while
//! the CPU time it used since it last printed or computed stays within
//! [`QUIET_CPU_SHARE`] (5%) of the time since then, or within [`QUIET_CPU_FLOOR`] (200 ms,
//! at most a tenth of the stall timeout) early on, when the share is still a few
//! milliseconds; using more makes it active again. A busy child uses far more, so it is
//! never stalled however long it stays silent; on a machine so busy that it gets little
//! CPU, the time it waits for one counts as use (see [`group_cpu`](crate::group_cpu)). The group's CPU time is counted from its spawn (a new group has used
//! none), so its start-up work counts as activity.
//!
//! A process blocked on the disk (state `D`) when sampled counts as active too.
//!
//! The supervisor feeds a [`StallWatch`] one [`StallWatch::observe`] per tick of
//! [`sample_interval`]: the number of output chunks read so far and a sample of the group
//! (its CPU time, whether a process waits for the disk).
//! The watch is pure (instants and samples come from the caller), so its rules are tested
//! without processes.

use std::time::Duration;

use tokio::time::Instant;

use crate::group_cpu::GroupSample;

/// The largest share of one core an idle group may use, on average since it was last
/// active, and still count as idle: 5%.
pub const QUIET_CPU_SHARE: f64 = 0.05;

/// CPU time an idle group may use whatever the time since it was last active: 200 ms
/// (a runtime's garbage collection right after it went quiet is not work), or a tenth of
/// the stall timeout when that is less (a short timeout must still see a busy child).
pub const QUIET_CPU_FLOOR: Duration = Duration::from_millis(200);

/// Shortest and longest time between two samples of a watched child.
const MIN_INTERVAL: Duration = Duration::from_millis(100);
const MAX_INTERVAL: Duration = Duration::from_secs(1);

/// How often a child with stall timeout `timeout` is sampled: a tenth of the timeout,
/// within 100 ms and 1 s, so a stall is seen at most a tenth (or 1 s) late.
pub(crate) fn sample_interval(timeout: Duration) -> Duration {
    (timeout / 10).clamp(MIN_INTERVAL, MAX_INTERVAL)
}

/// What one observation found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Activity {
    /// The child printed or computed since the last observation.
    Active,
    /// Idle for this long, less than the stall timeout.
    Quiet(Duration),
    /// Idle for at least the stall timeout: stop it.
    Stalled(Duration),
}

/// The stall state of one child (see the module documentation).
#[derive(Debug)]
pub(crate) struct StallWatch {
    timeout: Duration,
    /// [`QUIET_CPU_FLOOR`], at most a tenth of `timeout`.
    floor: Duration,
    /// When the child was last seen printing or computing.
    active_at: Instant,
    /// Output chunks read up to the last observation.
    chunks: u64,
    /// CPU time the group had used when it was last active.
    cpu_at_active: Duration,
    /// CPU time of the group at the last sample (zero at spawn: a new group has used
    /// none), and the time it has used in all, summed over positive steps only: a
    /// member that exits unwaited takes its time with it, which must not look like
    /// negative work.
    last_cpu: Option<Duration>,
    cpu_used: Duration,
}

impl StallWatch {
    /// A watch for a child spawned at `started`, stalled after `timeout` of idleness.
    pub(crate) fn new(timeout: Duration, started: Instant) -> Self {
        StallWatch {
            timeout,
            floor: QUIET_CPU_FLOOR.min(timeout / 10),
            active_at: started,
            chunks: 0,
            cpu_at_active: Duration::ZERO,
            last_cpu: Some(Duration::ZERO),
            cpu_used: Duration::ZERO,
        }
    }

    /// Records an observation at `now`: `chunks` output chunks read since spawn, and a
    /// `sample` of the group (`None` where it cannot be read: then only output counts).
    /// A process blocked on the disk counts as activity, like output.
    pub(crate) fn observe(
        &mut self,
        now: Instant,
        chunks: u64,
        sample: Option<GroupSample>,
    ) -> Activity {
        let disk_wait = sample.is_some_and(|sample| sample.disk_wait);
        if let Some(cpu) = sample.map(|sample| sample.cpu) {
            if let Some(last) = self.last_cpu {
                self.cpu_used += cpu.saturating_sub(last);
            }
            self.last_cpu = Some(cpu);
        }
        let quiet = now.saturating_duration_since(self.active_at);
        let computed = self.cpu_used.saturating_sub(self.cpu_at_active);
        let allowed = quiet.mul_f64(QUIET_CPU_SHARE).max(self.floor);
        if chunks != self.chunks || computed > allowed || disk_wait {
            self.chunks = chunks;
            self.active_at = now;
            self.cpu_at_active = self.cpu_used;
            return Activity::Active;
        }
        if quiet >= self.timeout {
            Activity::Stalled(quiet)
        } else {
            Activity::Quiet(quiet)
        }
    }
}

#[cfg(test)]
mod tests;
