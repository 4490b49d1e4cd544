//! The run lock: at most one process drives a run at a time.
//!
//! DESIGN.md "State and resume": a second `pipeline run`/`resume` of a run that is being
//! driven is refused. The lock is an advisory whole-file lock (`File::try_lock`: `flock`
//! on Unix) on `<lock_dir>/<run_id>.lock`. The kernel releases it when the holder's file
//! is closed, including when the process dies by `kill -9`, so a crash never leaves a
//! stale lock behind. The holder writes its pid into the file so the refusal can name it.
//!
//! The file is never deleted: deleting a lock file races with a process that has it open
//! and is about to lock it (two holders on two different inodes). On release the file is
//! emptied instead.
//!
//! [`RunLock::probe`] tells readers (`pipeline status`, `runs`, `resume`) whether a live
//! process drives a run: it takes a shared lock for an instant. A driver that tries to
//! lock in that instant would be refused, so [`RunLock::acquire`] tries again for
//! [`PROBE_GRACE`] before it reports the run as locked.

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::StateError;

/// How long [`RunLock::acquire`] keeps trying a lock that is held, so that a reader's
/// [`RunLock::probe`] (which holds it for microseconds) never makes a driver fail.
pub const PROBE_GRACE: Duration = Duration::from_millis(200);

/// Whether a process drives a run, as [`RunLock::probe`] finds its lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockProbe {
    /// No process holds the lock: nobody drives the run (it ended, or its driver died).
    Free,
    /// A live process holds the lock; `pid` is the one it wrote, if readable.
    Held {
        /// Process id of the holder.
        pid: Option<u32>,
    },
}

/// Exclusive right to drive one run; released when dropped (or when the process dies).
#[derive(Debug)]
pub struct RunLock {
    file: File,
    path: PathBuf,
    run_id: String,
}

impl RunLock {
    /// Takes the lock of `run_id`: creates `lock_dir` if needed, opens
    /// `<lock_dir>/<run_id>.lock`, locks it without waiting and writes this process's pid
    /// into it.
    ///
    /// Errors: [`StateError::InvalidRunId`] if `run_id` is not 1-128 characters of
    /// `[A-Za-z0-9._-]` not starting with `.` (it names a file); [`StateError::CreateDir`]
    /// if `lock_dir` cannot be created; [`StateError::LockFile`] if the file cannot be
    /// opened, locked or written; [`StateError::RunLocked`] with the holder's pid when
    /// another open file (in this or another process) holds the lock.
    pub fn acquire(lock_dir: &Path, run_id: &str) -> Result<RunLock, StateError> {
        validate_run_id(run_id)?;
        fs::create_dir_all(lock_dir).map_err(|source| StateError::CreateDir {
            path: lock_dir.to_path_buf(),
            source,
        })?;
        let path = lock_dir.join(format!("{run_id}.lock"));
        let lock_error = |source| StateError::LockFile {
            path: path.clone(),
            source,
        };
        // No truncation on open: the file may hold the current holder's pid.
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(lock_error)?;
        let deadline = Instant::now() + PROBE_GRACE;
        loop {
            match file.try_lock() {
                Ok(()) => break,
                // Held: by a driver, or for an instant by a reader's probe.
                Err(TryLockError::WouldBlock) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(TryLockError::WouldBlock) => {
                    return Err(StateError::RunLocked {
                        run_id: run_id.to_owned(),
                        pid: read_pid(&mut file),
                    });
                }
                Err(TryLockError::Error(source)) => return Err(lock_error(source)),
            }
        }
        file.set_len(0).map_err(lock_error)?;
        file.write_all(format!("{}\n", std::process::id()).as_bytes())
            .map_err(lock_error)?;
        Ok(RunLock {
            file,
            path,
            run_id: run_id.to_owned(),
        })
    }

    /// Whether a live process holds the lock of `run_id` in `lock_dir`, without taking
    /// it for longer than an instant (a shared lock, released at once) and without
    /// creating anything: a missing lock file means no process ever drove the run from
    /// this state directory, [`LockProbe::Free`].
    ///
    /// Errors: [`StateError::InvalidRunId`] as for [`RunLock::acquire`];
    /// [`StateError::LockFile`] if the file exists but cannot be opened or probed.
    pub fn probe(lock_dir: &Path, run_id: &str) -> Result<LockProbe, StateError> {
        validate_run_id(run_id)?;
        let path = lock_dir.join(format!("{run_id}.lock"));
        let mut file = match File::open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(LockProbe::Free),
            Err(source) => return Err(StateError::LockFile { path, source }),
        };
        match file.try_lock_shared() {
            Ok(()) => {
                // Released at once: the probe must not keep a driver out.
                file.unlock()
                    .map_err(|source| StateError::LockFile { path, source })?;
                Ok(LockProbe::Free)
            }
            Err(TryLockError::WouldBlock) => Ok(LockProbe::Held {
                pid: read_pid(&mut file),
            }),
            Err(TryLockError::Error(source)) => Err(StateError::LockFile { path, source }),
        }
    }

    /// The lock file, `<lock_dir>/<run_id>.lock`.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The locked run.
    pub fn run_id(&self) -> &str {
        &self.run_id
    }
}

impl Drop for RunLock {
    fn drop(&mut self) {
        // Best effort: closing the file releases the lock anyway. Emptying it first keeps a
        // later refusal from naming a pid that no longer holds the lock.
        let _ = self.file.set_len(0);
        let _ = self.file.unlock();
    }
}

/// The pid the holder wrote, if the file holds one (it may be empty for a moment after
/// the holder locked it).
fn read_pid(file: &mut File) -> Option<u32> {
    let mut text = String::new();
    file.read_to_string(&mut text).ok()?;
    text.trim().parse().ok()
}

fn validate_run_id(run_id: &str) -> Result<(), StateError> {
    let valid = (1..=128).contains(&run_id.len())
        && !run_id.starts_with('.')
        && run_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if valid {
        Ok(())
    } else {
        Err(StateError::InvalidRunId {
            run_id: run_id.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_acquire_is_refused_while_held_and_succeeds_after_drop()
    -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let lock_dir = dir.path().join("locks");
        let first = RunLock::acquire(&lock_dir, "run-1")?;
        assert_eq!(first.path(), lock_dir.join("run-1.lock"));
        assert_eq!(first.run_id(), "run-1");
        let on_disk = fs::read_to_string(first.path())?;
        assert_eq!(on_disk.trim(), std::process::id().to_string());

        match RunLock::acquire(&lock_dir, "run-1") {
            Err(StateError::RunLocked { run_id, pid }) => {
                assert_eq!(run_id, "run-1");
                assert_eq!(pid, Some(std::process::id()));
            }
            other => panic!("expected RunLocked, got {other:?}"),
        }
        let message = RunLock::acquire(&lock_dir, "run-1")
            .err()
            .map(|err| err.to_string())
            .unwrap_or_default();
        assert!(
            message.contains(&format!("pid {}", std::process::id())) && message.contains("wait"),
            "{message}"
        );

        // Another run's lock is independent.
        let other = RunLock::acquire(&lock_dir, "run-2")?;
        drop(other);

        drop(first);
        assert_eq!(fs::read_to_string(lock_dir.join("run-1.lock"))?, "");
        let again = RunLock::acquire(&lock_dir, "run-1")?;
        assert_eq!(again.run_id(), "run-1");
        Ok(())
    }

    #[test]
    fn probe_sees_a_held_lock_and_a_free_one_without_taking_it()
    -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let lock_dir = dir.path().join("locks");
        // Never locked: no file, and the probe creates none.
        assert_eq!(RunLock::probe(&lock_dir, "run-1")?, LockProbe::Free);
        assert!(!lock_dir.exists());
        let held = RunLock::acquire(&lock_dir, "run-1")?;
        assert_eq!(
            RunLock::probe(&lock_dir, "run-1")?,
            LockProbe::Held {
                pid: Some(std::process::id())
            }
        );
        drop(held);
        assert_eq!(RunLock::probe(&lock_dir, "run-1")?, LockProbe::Free);
        // A probe leaves the lock free for a driver.
        let again = RunLock::acquire(&lock_dir, "run-1")?;
        drop(again);
        assert!(matches!(
            RunLock::probe(&lock_dir, "../x"),
            Err(StateError::InvalidRunId { .. })
        ));
        Ok(())
    }

    #[test]
    fn run_ids_that_are_not_plain_file_names_are_rejected() {
        let dir = std::env::temp_dir();
        for bad in [
            "",
            "../escape",
            "a/b",
            ".hidden",
            "sp ace",
            &"x".repeat(129),
        ] {
            assert!(
                matches!(
                    RunLock::acquire(&dir, bad),
                    Err(StateError::InvalidRunId { ref run_id }) if run_id == bad
                ),
                "{bad:?} must be rejected"
            );
        }
    }
}
