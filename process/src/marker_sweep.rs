//! Ending every process that carries an attempt's marker, wherever it went.
//!
//! Stopping a child's process group (see [`process_group`](crate::process_group)) ends
//! what the child started in that group, but not a process that left it: `setsid`, a
//! daemon's double fork, `nohup ... &` under a shell with job control. Such a process
//! outlives its step and keeps writing into a worktree that the pool hands to the next
//! step. Every process of an attempt therefore inherits an environment entry
//! `PIPELINE_CONTAINMENT=<marker>` ([`MARKER_ENV`](crate::MARKER_ENV)) that survives
//! `setsid` and forks, and a sweep ends them all:
//!
//! 1. **Scan.** Every `/proc/<pid>/environ` readable by us (processes of our user) is
//!    split at its NUL bytes; a process matches when one entry is
//!    `PIPELINE_CONTAINMENT=<marker>` exactly ([`MarkerMatch::Exact`]), or begins with
//!    `PIPELINE_CONTAINMENT=<prefix>` ([`MarkerMatch::Prefix`], every attempt of a run).
//!    Zombies have an empty environment: they are already dead.
//! 2. **Kill.** Each match gets SIGKILL, and so does its process group when the group's
//!    leader carries a matching marker too (a `setsid` process leads its own session and
//!    group, and the group also reaches children that cleared their environment). Our
//!    own process and our own process group are never signalled.
//! 3. **Repeat** until a scan finds nothing, since a process may fork between our scan and
//!    our signal, giving up after a bound and reporting the survivors.
//!
//! After a short child, only processes with larger pids than the child's are read (see
//! `Candidates`): a sweep costs the step a few microseconds, not one read per process of
//! the machine.
//!
//! The environment read is the one the process was started with (`execve`): a process
//! that starts a program with a cleared or rewritten environment (`env -i`, or
//! `PIPELINE_CONTAINMENT` set to another value) or that makes itself non-dumpable (its
//! `environ` is then unreadable to us) is not found, unless it is in a marked group. On
//! systems without `/proc` (macOS) a sweep finds nothing: process groups are all there
//! is. See `docs/SECURITY.md`.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Read;
use std::path::Path;
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::{Pid, getpgrp};

use crate::MARKER_ENV;

/// How long [`sweep_marked`] and [`sweep_marked_blocking`] keep killing before they give
/// up and report the survivors.
pub const SWEEP_LIMIT: Duration = Duration::from_secs(5);

/// How long the sweep of a dropped supervisor (see [`AttemptSweep`]) may block the thread
/// dropping it.
const DROP_LIMIT: Duration = Duration::from_secs(1);

/// Pause between two passes of a sweep that found processes, in which their SIGKILL
/// takes effect.
const PASS_INTERVAL: Duration = Duration::from_millis(5);

/// Which marked processes a sweep ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MarkerMatch<'a> {
    /// Processes whose marker is exactly this value: one attempt's processes.
    Exact(&'a str),
    /// Processes whose marker starts with this value, e.g. `<run id>/` for every
    /// process of a run (a run id contains no `/`, so `r1/` never matches run `r10`).
    Prefix(&'a str),
}

/// A process a sweep killed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KilledProcess {
    /// Its process id.
    pub pid: u32,
    /// Its process group id when it was found (`None` if `/proc/<pid>/stat` could not
    /// be read).
    pub pgid: Option<u32>,
    /// The marker it carried (the value of [`MARKER_ENV`]).
    pub marker: String,
}

/// What a sweep did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Every process signalled, once each, in order of pid.
    pub killed: Vec<KilledProcess>,
    /// Pids still carrying a matching marker when the sweep gave up (empty on success).
    pub survivors: Vec<u32>,
}

/// Kills every process matching `which` (see the module documentation), pass after pass,
/// until none is left or `limit` has passed, sleeping asynchronously between passes.
/// Never fails: survivors are in the report and logged with `tracing::warn!`.
pub async fn sweep_marked(which: MarkerMatch<'_>, limit: Duration) -> SweepReport {
    sweep(which, Scope::EVERY_PROCESS, limit).await
}

async fn sweep(which: MarkerMatch<'_>, scope: Scope, limit: Duration) -> SweepReport {
    let deadline = tokio::time::Instant::now() + limit;
    let mut found = BTreeMap::new();
    loop {
        let matched = kill_pass(which, scope, &mut found);
        if matched.is_empty() {
            return finish(which, found, Vec::new());
        }
        if tokio::time::Instant::now() >= deadline {
            return finish(which, found, matched);
        }
        tokio::time::sleep(PASS_INTERVAL).await;
    }
}

/// [`sweep_marked`] for synchronous callers: blocks the calling thread between passes.
pub fn sweep_marked_blocking(which: MarkerMatch<'_>, limit: Duration) -> SweepReport {
    let deadline = std::time::Instant::now() + limit;
    let mut found = BTreeMap::new();
    loop {
        let matched = kill_pass(which, Scope::EVERY_PROCESS, &mut found);
        if matched.is_empty() {
            return finish(which, found, Vec::new());
        }
        if std::time::Instant::now() >= deadline {
            return finish(which, found, matched);
        }
        std::thread::sleep(PASS_INTERVAL);
    }
}

/// The sweep owed by a supervisor for one child: run it with [`AttemptSweep::run`] once
/// the child's group is stopped; if the supervising future is dropped first (its task
/// aborted), `Drop` runs it synchronously, bounded by [`DROP_LIMIT`].
#[derive(Debug)]
pub(crate) struct AttemptSweep<'a> {
    marker: Option<&'a str>,
    child: u32,
    spawned: std::time::Instant,
}

impl<'a> AttemptSweep<'a> {
    /// The sweep of the processes marked `marker`, descendants of `child`, spawned just
    /// now; `None` (an unmarked child) owes none.
    pub(crate) fn new(marker: Option<&'a str>, child: u32) -> Self {
        AttemptSweep {
            marker,
            child,
            spawned: std::time::Instant::now(),
        }
    }

    /// On timeout or cancel, while the child's group gets SIGTERM and its grace period:
    /// kills the marked processes outside that group at once. They left it, so they take
    /// no part in the child's orderly stop, and any that holds the output pipes would
    /// otherwise keep the supervisor waiting the whole grace period, writing all along.
    pub(crate) async fn escaped(&self) {
        if let Some(marker) = self.marker {
            let scope = Scope {
                candidates: Candidates::descendants_of(self.child, self.spawned.elapsed()),
                spared_group: Some(self.child),
            };
            sweep(MarkerMatch::Exact(marker), scope, SWEEP_LIMIT).await;
        }
    }

    /// Kills every process still carrying the marker (see [`sweep_marked`]).
    pub(crate) async fn run(mut self) {
        if let Some(marker) = self.marker.take() {
            let scope = Scope {
                candidates: Candidates::descendants_of(self.child, self.spawned.elapsed()),
                spared_group: None,
            };
            sweep(MarkerMatch::Exact(marker), scope, SWEEP_LIMIT).await;
        }
    }
}

impl Drop for AttemptSweep<'_> {
    fn drop(&mut self) {
        if let Some(marker) = self.marker.take() {
            sweep_marked_blocking(MarkerMatch::Exact(marker), DROP_LIMIT);
        }
    }
}

/// Which processes a pass looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Scope {
    /// Whose environment is read.
    candidates: Candidates,
    /// A process group left alone (the child's, while it gets its grace period).
    spared_group: Option<u32>,
}

impl Scope {
    const EVERY_PROCESS: Scope = Scope {
        candidates: Candidates::All,
        spared_group: None,
    };
}

/// Which processes a pass reads the environment of.
///
/// Reading `/proc/<pid>/environ` costs a few microseconds per process, which matters for
/// short steps (a run of thousands of `sh -c true` steps sweeps after each). Linux hands
/// out pids in increasing order until it wraps around at `pid_max`, so the descendants
/// of a child all have larger pids than the child unless the counter wrapped since it
/// was spawned. A wrap is seen in `/proc/sys/kernel/ns_last_pid` (the last pid handed
/// out) being below the child's pid, unless the counter went all the way round again,
/// which takes `pid_max` (at least 32,768) forks: impossible within [`FAST_WINDOW`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Candidates {
    /// Every process.
    All,
    /// Processes whose pid is at least this one.
    AtLeast(u32),
}

/// How long after a child's spawn its descendants are looked for among larger pids only.
const FAST_WINDOW: Duration = Duration::from_secs(1);

impl Candidates {
    /// The candidates for descendants of `child`, spawned `age` ago.
    fn descendants_of(child: u32, age: Duration) -> Candidates {
        let last = std::fs::read_to_string("/proc/sys/kernel/ns_last_pid")
            .ok()
            .and_then(|text| text.trim().parse::<u32>().ok());
        match last {
            Some(last) if age < FAST_WINDOW && last >= child => Candidates::AtLeast(child),
            _ => Candidates::All,
        }
    }

    fn admits(self, pid: u32) -> bool {
        match self {
            Candidates::All => true,
            Candidates::AtLeast(first) => pid >= first,
        }
    }
}

fn finish(
    which: MarkerMatch<'_>,
    found: BTreeMap<u32, KilledProcess>,
    survivors: Vec<u32>,
) -> SweepReport {
    if !survivors.is_empty() {
        tracing::warn!(
            ?which,
            ?survivors,
            "processes carrying the attempt marker are still alive after SIGKILL; giving up on them"
        );
    } else if !found.is_empty() {
        tracing::debug!(
            ?which,
            killed = found.len(),
            "killed processes that left the attempt's process group"
        );
    }
    SweepReport {
        killed: found.into_values().collect(),
        survivors,
    }
}

/// One scan of `/proc` that kills what matches; returns the pids matched in this pass and
/// adds new ones to `found`.
fn kill_pass(
    which: MarkerMatch<'_>,
    scope: Scope,
    found: &mut BTreeMap<u32, KilledProcess>,
) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let me = std::process::id();
    let our_group = u32::try_from(getpgrp().as_raw()).unwrap_or(0);
    let mut buffer = Vec::new();
    let mut matched = Vec::new();
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == me || !scope.candidates.admits(pid) {
            continue;
        }
        let Some(marker) = marker_of(&entry.path(), which, &mut buffer) else {
            continue;
        };
        let pgid = process_group(&entry.path());
        if scope.spared_group.is_some() && pgid == scope.spared_group {
            continue;
        }
        signal_pid(pid, Signal::SIGKILL);
        if let Some(pgid) = pgid
            && pgid != our_group
            && pgid > 1
            && (pgid == pid || leader_matches(pgid, which, &mut buffer))
        {
            signal_group(pgid);
        }
        matched.push(pid);
        found
            .entry(pid)
            .or_insert(KilledProcess { pid, pgid, marker });
    }
    matched
}

/// Whether the leader of group `pgid` carries a matching marker.
fn leader_matches(pgid: u32, which: MarkerMatch<'_>, buffer: &mut Vec<u8>) -> bool {
    marker_of(&Path::new("/proc").join(pgid.to_string()), which, buffer).is_some()
}

/// The marker of the process at `proc_dir` when it matches `which`.
fn marker_of(proc_dir: &Path, which: MarkerMatch<'_>, buffer: &mut Vec<u8>) -> Option<String> {
    buffer.clear();
    File::open(proc_dir.join("environ"))
        .and_then(|mut file| file.read_to_end(buffer))
        .ok()?;
    matching_marker(buffer, which).map(|m| String::from_utf8_lossy(m).into_owned())
}

/// The value of the first [`MARKER_ENV`] entry of the NUL-separated `environ` that
/// matches `which`.
fn matching_marker<'e>(environ: &'e [u8], which: MarkerMatch<'_>) -> Option<&'e [u8]> {
    environ
        .split(|&b| b == 0)
        .filter_map(|entry| {
            entry
                .strip_prefix(MARKER_ENV.as_bytes())?
                .strip_prefix(b"=")
        })
        .find(|value| match which {
            MarkerMatch::Exact(marker) => *value == marker.as_bytes(),
            MarkerMatch::Prefix(prefix) => value.starts_with(prefix.as_bytes()),
        })
}

/// Field 5 of `/proc/<pid>/stat` (the process group), read after the command name, which
/// may contain spaces and parentheses.
fn process_group(proc_dir: &Path) -> Option<u32> {
    let stat = std::fs::read_to_string(proc_dir.join("stat")).ok()?;
    let mut fields = stat[stat.rfind(')')? + 1..].split_whitespace();
    fields.nth(2)?.parse().ok()
}

fn signal_pid(pid: u32, signal: Signal) {
    let Ok(raw) = i32::try_from(pid) else { return };
    match kill(Pid::from_raw(raw), signal) {
        Ok(()) | Err(Errno::ESRCH) => {}
        Err(errno) => {
            tracing::warn!(pid, %errno, "cannot kill a process carrying the attempt marker")
        }
    }
}

fn signal_group(pgid: u32) {
    let Ok(raw) = i32::try_from(pgid) else { return };
    match killpg(Pid::from_raw(raw), Signal::SIGKILL) {
        Ok(()) | Err(Errno::ESRCH) => {}
        Err(errno) => {
            tracing::warn!(pgid, %errno, "cannot kill the process group of a marked process")
        }
    }
}

#[cfg(test)]
mod tests;
