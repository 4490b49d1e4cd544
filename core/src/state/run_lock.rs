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

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use super::StateError;

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
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(StateError::RunLocked {
                    run_id: run_id.to_owned(),
                    pid: read_pid(&mut file),
                });
            }
            Err(TryLockError::Error(source)) => return Err(lock_error(source)),
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
