//! CPU time used by a process group, read from `/proc` (Linux).
//!
//! Stall detection (see [`stall_watch`](crate::stall_watch)) must tell a tool that is
//! silent because it works (a compiler, a test suite, a model thinking locally) from one
//! that is silent because it waits forever (a model request that never gets an answer).
//! The kernel counts the CPU time of each process in `/proc/<pid>/stat`: fields 14 and 15
//! (`utime`, `stime`: user and system time of the process itself) and 16 and 17
//! (`cutime`, `cstime`: the time of its children it has waited for), in clock ticks of
//! `sysconf(_SC_CLK_TCK)` (USER_HZ, 100 on Linux). A group's CPU time is the sum of the
//! four over every process whose field 5 (`pgrp`) is the group; counting the waited-for
//! children's time too keeps short-lived helpers (one compiler run per file, each over
//! before a sample sees it) from being missed.
//!
//! A process blocked on the disk (state `D`, field 3 of `stat`: a cold start reading a
//! large binary on a loaded machine) is working too: a sample that finds one is
//! [`GroupSample::disk_wait`]. A process that wants to compute but is kept off the CPU by
//! a busy machine is not stalled either: the time it spent runnable on a run queue (field 2 of
//! `/proc/<pid>/schedstat`, nanoseconds, kept by kernels with `CONFIG_SCHED_INFO`, which
//! distributions enable) is added to its CPU time. Without `schedstat` only CPU time
//! counts.
//!
//! One sample reads `/proc/<pid>/stat` of every process (a few microseconds each; the
//! supervisor samples at most ten times a second per watched child). Processes of other
//! users are readable too: `stat` is world-readable. On systems without `/proc` a sample
//! is `None` and only output counts as activity.

use std::time::Duration;

/// Clock ticks per second of the `/proc/<pid>/stat` time fields when `sysconf` cannot
/// tell (USER_HZ on every Linux architecture but Alpha).
const DEFAULT_TICKS_PER_SECOND: u64 = 100;

/// One sample of a process group.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct GroupSample {
    /// The CPU time (user and system, of its processes and of the children they have
    /// waited for) used so far, plus the time its processes spent waiting on a run queue
    /// for a CPU.
    pub(crate) cpu: Duration,
    /// Whether a process of the group was blocked on the disk (state `D`) when sampled.
    pub(crate) disk_wait: bool,
}

/// Samples every process of process group `pgid`, or `None` when `/proc` cannot be read
/// (not Linux, or `/proc` not mounted). A group with no process left has used nothing.
pub(crate) fn group_sample(pgid: u32) -> Option<GroupSample> {
    let entries = std::fs::read_dir("/proc").ok()?;
    let mut ticks: u64 = 0;
    let mut waited_ns: u64 = 0;
    let mut disk_wait = false;
    let mut buffer = String::new();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
        else {
            continue;
        };
        buffer.clear();
        let path = format!("/proc/{pid}/stat");
        // A process that exits between the listing and the read is simply not counted.
        if read_into(&path, &mut buffer).is_err() {
            continue;
        }
        if let Some(stat) = parse_stat(&buffer)
            && stat.pgrp == pgid
        {
            ticks = ticks.saturating_add(stat.cpu_ticks);
            disk_wait |= stat.state == 'D';
            buffer.clear();
            if read_into(&format!("/proc/{pid}/schedstat"), &mut buffer).is_ok()
                && let Some(waited) = parse_run_delay(&buffer)
            {
                waited_ns = waited_ns.saturating_add(waited);
            }
        }
    }
    Some(GroupSample {
        cpu: ticks_to_duration(ticks, ticks_per_second()) + Duration::from_nanos(waited_ns),
        disk_wait,
    })
}

/// Field 2 of a `/proc/<pid>/schedstat` line (`<on cpu ns> <run queue ns> <slices>`): the
/// nanoseconds the process spent runnable, waiting for a CPU.
pub(crate) fn parse_run_delay(line: &str) -> Option<u64> {
    line.split_whitespace().nth(1)?.parse().ok()
}

fn read_into(path: &str, buffer: &mut String) -> std::io::Result<()> {
    use std::io::Read;
    std::fs::File::open(path)?.read_to_string(buffer)?;
    Ok(())
}

/// What a sample needs of one `/proc/<pid>/stat` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ProcStat {
    /// Field 3: the state (`R` running, `S` sleeping, `D` disk wait, `Z` zombie, ...).
    pub(crate) state: char,
    /// Field 5: the process group.
    pub(crate) pgrp: u32,
    /// Fields 14 to 17 summed: `utime + stime + cutime + cstime`, in clock ticks.
    pub(crate) cpu_ticks: u64,
}

/// Parses one `/proc/<pid>/stat` line, e.g.
/// `4242 (sh) S 4241 4242 4242 0 -1 4194304 97 0 0 0 3 1 0 0 20 0 1 0 ...`. The command
/// name (field 2) is in parentheses and may itself hold spaces and parentheses, so the
/// fields are counted after its last `)`. `None` when the line is cut short or a field
/// is not a number.
pub(crate) fn parse_stat(line: &str) -> Option<ProcStat> {
    let rest = &line[line.rfind(')')? + 1..];
    // After the command name: field 3 (state) is index 0, so field N is index N - 3.
    let fields: Vec<&str> = rest.split_whitespace().take(15).collect();
    let number = |field: usize| -> Option<u64> { fields.get(field - 3)?.parse().ok() };
    let state = fields.first()?.chars().next()?;
    let pgrp = u32::try_from(number(5)?).ok()?;
    let mut cpu_ticks: u64 = 0;
    for field in 14..=17 {
        cpu_ticks = cpu_ticks.saturating_add(number(field)?);
    }
    Some(ProcStat {
        state,
        pgrp,
        cpu_ticks,
    })
}

/// `sysconf(_SC_CLK_TCK)`, else [`DEFAULT_TICKS_PER_SECOND`].
fn ticks_per_second() -> u64 {
    match nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK) {
        Ok(Some(ticks)) => u64::try_from(ticks)
            .ok()
            .filter(|t| *t > 0)
            .unwrap_or(DEFAULT_TICKS_PER_SECOND),
        _ => DEFAULT_TICKS_PER_SECOND,
    }
}

/// `ticks` clock ticks at `per_second` ticks a second, as a duration.
pub(crate) fn ticks_to_duration(ticks: u64, per_second: u64) -> Duration {
    let per_second = per_second.max(1);
    let nanos_per_tick = 1_000_000_000 / per_second;
    Duration::from_secs(ticks / per_second)
        + Duration::from_nanos((ticks % per_second) * nanos_per_tick)
}

#[cfg(test)]
mod tests;
