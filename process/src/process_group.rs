//! Signalling a child's whole process group.
//!
//! Tools spawn helpers (compilers, test runners, language servers). Signalling only the
//! direct child would leave those running and holding the output pipes, so every child
//! is started as the leader of its own process group (`process_group(0)`) and is always
//! stopped through the group. The handle also kills the group when dropped while armed,
//! so a supervisor future that is dropped half-way (its task aborted) leaks nothing.

use nix::errno::Errno;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

/// The process group led by a child spawned with `process_group(0)`.
#[derive(Debug)]
pub(crate) struct ProcessGroup {
    pgid: Pid,
    armed: bool,
}

impl ProcessGroup {
    /// The group whose id is the child's pid (the child is its leader). Armed: dropping
    /// it sends SIGKILL to the group.
    pub(crate) fn led_by(child_pid: u32) -> Self {
        // Pids fit in i32 on every Unix; a value that does not cannot name our child.
        let raw = i32::try_from(child_pid).unwrap_or(i32::MAX);
        ProcessGroup {
            pgid: Pid::from_raw(raw),
            armed: true,
        }
    }

    /// Sends `signal` to every process of the group. A group that no longer exists
    /// (ESRCH) is not an error: everything in it is already gone.
    pub(crate) fn signal(&self, signal: Signal) {
        match killpg(self.pgid, signal) {
            Ok(()) | Err(Errno::ESRCH) => {}
            Err(errno) => {
                tracing::warn!(pgid = self.pgid.as_raw(), %signal, %errno, "cannot signal process group");
            }
        }
    }

    /// Stops the drop-time SIGKILL, once the supervisor has stopped the group itself.
    pub(crate) fn disarm(&mut self) {
        self.armed = false;
    }
}

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        if self.armed {
            self.signal(Signal::SIGKILL);
        }
    }
}
