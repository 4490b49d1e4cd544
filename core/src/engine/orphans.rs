//! Tools left running by a crashed run.
//!
//! A tool runs in its own process group, so when the `pipeline` process driving a run is
//! killed (`kill -9`, power loss of a VM snapshot, OOM killer), its tools keep running and
//! may keep writing into their worktrees. Before resume reuses or resets any worktree of
//! the run, two scans of `/proc` (Linux) end them:
//!
//! 1. [`kill_run_processes`]: every process carrying an attempt marker of the run
//!    (`PIPELINE_CONTAINMENT=<run id>/...`, see
//!    [`AttemptMarker`](super::containment::AttemptMarker)), of any step, also those
//!    that left their process group with `setsid` and work outside the worktree;
//! 2. [`end_processes_in`]: every process whose working directory is inside the
//!    worktree of a step that was active, with its whole process group, for processes
//!    that cleared their environment (or were started before markers existed).
//!
//! Matching on a marker or a working directory rather than on a recorded pid means a
//! reused pid can never hit an unrelated process.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use pipeline_adapters::{KilledProcess, MarkerMatch, SWEEP_LIMIT, sweep_marked_blocking};

use super::containment::AttemptMarker;

/// Kills every process carrying a marker of run `run_id` of the state directory
/// `state_dir` (see the module documentation),
/// until none is left or [`SWEEP_LIMIT`] has passed (survivors are logged). Returns, per
/// step id, the process groups hit. Blocks the calling thread; on systems without
/// `/proc` it finds nothing.
pub(crate) fn kill_run_processes(
    state_dir: &Path,
    run_id: &str,
) -> BTreeMap<String, BTreeSet<u32>> {
    let prefix = AttemptMarker::run_prefix(&AttemptMarker::state_key(state_dir), run_id);
    let report = sweep_marked_blocking(MarkerMatch::Prefix(&prefix), SWEEP_LIMIT);
    groups_by_step(&report.killed)
}

/// Distinct process groups (a process without a known group counts as its own) of the
/// `killed` processes, per step named by their markers.
fn groups_by_step(killed: &[KilledProcess]) -> BTreeMap<String, BTreeSet<u32>> {
    let mut groups: BTreeMap<String, BTreeSet<u32>> = BTreeMap::new();
    for process in killed {
        let step = AttemptMarker::parse(&process.marker)
            .map_or_else(|| process.marker.clone(), |marker| marker.step_id);
        groups
            .entry(step)
            .or_default()
            .insert(process.pgid.unwrap_or(process.pid));
    }
    groups
}

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

/// [`kill_processes_in`] until no process works in `dir` any more (SIGKILL takes effect
/// asynchronously, and a dying group may still fork), for at most [`SWEEP_LIMIT`].
/// Returns every group signalled; survivors are logged.
pub(crate) fn end_processes_in(dir: &Path) -> BTreeSet<u32> {
    let deadline = std::time::Instant::now() + SWEEP_LIMIT;
    let mut all = BTreeSet::new();
    loop {
        let groups = kill_processes_in(dir);
        if groups.is_empty() {
            return all;
        }
        if std::time::Instant::now() >= deadline {
            tracing::warn!(dir = %dir.display(), ?groups, "processes still work in the worktree after SIGKILL; giving up on them");
            all.extend(groups);
            return all;
        }
        all.extend(groups);
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// Kills the process groups of processes whose working directory is `dir` or below it.
/// Returns the groups signalled. Best effort: unreadable `/proc` entries (other
/// users' processes, races with exiting processes) are skipped; non-Linux systems have no
/// `/proc/<pid>/cwd` and nothing is killed.
pub(crate) fn kill_processes_in(dir: &Path) -> BTreeSet<u32> {
    let mut groups = BTreeSet::new();
    let Ok(dir) = std::fs::canonicalize(dir) else {
        return groups;
    };
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return groups;
    };
    let me = std::process::id();
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == me {
            continue;
        }
        let Ok(cwd) = std::fs::read_link(entry.path().join("cwd")) else {
            continue;
        };
        if !cwd.starts_with(&dir) {
            continue;
        }
        // Never signal our own group.
        if let Some(pgid) = process_group(&entry.path())
            && pgid != nix::unistd::getpgrp().as_raw()
            && let Ok(pgid) = u32::try_from(pgid)
        {
            groups.insert(pgid);
        }
    }
    for &pgid in &groups {
        if let Ok(raw) = i32::try_from(pgid) {
            let _ = killpg(Pid::from_raw(raw), Signal::SIGKILL);
        }
    }
    groups
}

/// Field 5 of `/proc/<pid>/stat` (the process group), parsed after the command name,
/// which may contain spaces and parentheses; `None` for zombies (field 3 `Z`), which are
/// already dead and only wait to be reaped.
fn process_group(proc_dir: &Path) -> Option<i32> {
    let stat = std::fs::read_to_string(proc_dir.join("stat")).ok()?;
    let mut fields = stat[stat.rfind(')')? + 1..].split_whitespace();
    if fields.next()? == "Z" {
        return None;
    }
    fields.nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use std::os::unix::process::CommandExt;

    use super::*;

    #[test]
    fn kills_every_marked_process_of_the_run_outside_any_worktree() {
        let run = format!("orphans-{}", std::process::id());
        let state = tempfile::tempdir().unwrap();
        let other_state = tempfile::tempdir().unwrap();
        let key = AttemptMarker::state_key(state.path());
        let other_key = AttemptMarker::state_key(other_state.path());
        let spawn = |marker: String| {
            // A new session, working outside any worktree: what a daemon does.
            std::process::Command::new("setsid")
                .args(["sleep", "300"])
                .current_dir("/")
                .env(pipeline_adapters::MARKER_ENV, marker)
                .spawn()
                .unwrap()
        };
        let mut ours = [
            spawn(format!("{key}/{run}/ws/a/1/tool")),
            spawn(format!("{key}/{run}/ws/a/2/test-1")),
            spawn(format!("{key}/{run}/b/1/compensation-1")),
        ];
        // Another run of this state directory, and the same run id of another one.
        let mut others = [
            spawn(format!("{key}/{run}x/ws/a/1/tool")),
            spawn(format!("{other_key}/{run}/ws/a/1/tool")),
        ];
        let killed = kill_run_processes(state.path(), &run);
        let counts: Vec<(&str, usize)> = killed
            .iter()
            .map(|(step, groups)| (step.as_str(), groups.len()))
            .collect();
        assert_eq!(counts, [("b", 1), ("ws/a", 2)]);
        for child in &mut ours {
            assert!(!child.wait().unwrap().success());
        }
        for other in &mut others {
            assert_eq!(
                other.try_wait().unwrap(),
                None,
                "another run's process lives"
            );
            other.kill().unwrap();
            other.wait().unwrap();
        }
        assert!(kill_run_processes(state.path(), &run).is_empty());
    }

    #[test]
    fn kills_the_group_of_a_process_working_in_the_directory() {
        let dir = tempfile::tempdir().unwrap();
        let inside = dir.path().join("wt");
        std::fs::create_dir(&inside).unwrap();
        let mut child = std::process::Command::new("sh")
            .args(["-c", "sleep 300 & wait"])
            .current_dir(&inside)
            .process_group(0)
            .spawn()
            .unwrap();
        // Let the shell start its sleep.
        std::thread::sleep(std::time::Duration::from_millis(200));
        assert_eq!(kill_processes_in(&inside).len(), 1);
        let status = child.wait().unwrap();
        assert!(!status.success(), "the shell was killed");
        // SIGKILL is delivered asynchronously: the group disappears shortly after.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while !kill_processes_in(dir.path()).is_empty() {
            assert!(
                std::time::Instant::now() < deadline,
                "processes left in the directory"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}
