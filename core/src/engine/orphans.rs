//! Tools left running by a crashed run.
//!
//! A tool runs in its own process group, so when the `pipeline` process driving a run is
//! killed (`kill -9`, power loss of a VM snapshot, OOM killer), its tools keep running and
//! may keep writing into their worktrees. Before resume re-runs such a step from a clean
//! worktree, every process whose working directory is inside that worktree is killed with
//! its whole process group. Matching on the working directory (from `/proc`, Linux) rather
//! than on a recorded pid means a reused pid can never hit an unrelated process.

use std::path::Path;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

/// Kills the process groups of processes whose working directory is `dir` or below it.
/// Returns how many groups were signalled. Best effort: unreadable `/proc` entries (other
/// users' processes, races with exiting processes) are skipped; non-Linux systems have no
/// `/proc/<pid>/cwd` and nothing is killed.
pub(crate) fn kill_processes_in(dir: &Path) -> usize {
    let Ok(dir) = std::fs::canonicalize(dir) else {
        return 0;
    };
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0;
    };
    let me = std::process::id();
    let mut groups = std::collections::BTreeSet::new();
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
        if let Some(pgid) = process_group(&entry.path()) {
            // Never signal our own group.
            if pgid != nix::unistd::getpgrp().as_raw() {
                groups.insert(pgid);
            }
        }
    }
    for &pgid in &groups {
        let _ = killpg(Pid::from_raw(pgid), Signal::SIGKILL);
    }
    groups.len()
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
        assert_eq!(kill_processes_in(&inside), 1);
        let status = child.wait().unwrap();
        assert!(!status.success(), "the shell was killed");
        // SIGKILL is delivered asynchronously: the group disappears shortly after.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while kill_processes_in(dir.path()) > 0 {
            assert!(
                std::time::Instant::now() < deadline,
                "processes left in the directory"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}
