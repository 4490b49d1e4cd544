//! How a supervised process ended and what it printed.
//!
//! The supervisor reports facts only; deciding whether an exit code means success is
//! the adapter's business (a tool profile's `success_exit_codes`), and classifying a
//! failure is the error engine's. [`Termination`] is declared here once and used by
//! every crate that talks about how a process ended (adapters, the error engine, core).

use std::fmt;
use std::time::Duration;

use nix::sys::signal::Signal;

/// Why a supervised process stopped.
///
/// Serialized as `{"kind": "exited", "value": 3}`, `{"kind": "signaled", "value": 9}`,
/// `{"kind": "timed_out"}`, `{"kind": "stalled"}` or `{"kind": "cancelled"}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "value")]
pub enum Termination {
    /// The process exited on its own with this exit code.
    Exited(i32),
    /// The process was killed by this signal number, not sent by the supervisor.
    Signaled(i32),
    /// The timeout expired; the supervisor terminated the process group.
    TimedOut,
    /// The process wrote no output and its group used no CPU for the stall timeout
    /// ([`crate::ProcessSpec::stall_timeout`]); the supervisor terminated the group.
    Stalled,
    /// The cancellation token fired; the supervisor terminated the process group.
    Cancelled,
}

impl Termination {
    /// The exit code when the process exited on its own, else `None`.
    pub fn exit_code(&self) -> Option<i32> {
        match self {
            Termination::Exited(code) => Some(*code),
            _ => None,
        }
    }

    /// True when the process exited on its own with code 0.
    pub fn is_success(&self) -> bool {
        *self == Termination::Exited(0)
    }

    /// True when the supervisor stopped the process (timeout, stall or cancellation)
    /// rather than it ending on its own.
    pub fn was_stopped(&self) -> bool {
        matches!(
            self,
            Termination::TimedOut | Termination::Stalled | Termination::Cancelled
        )
    }
}

impl fmt::Display for Termination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Termination::Exited(code) => write!(f, "exited with code {code}"),
            Termination::Signaled(signal) => match Signal::try_from(*signal) {
                Ok(name) => write!(f, "killed by signal {signal} ({name})"),
                Err(_) => write!(f, "killed by signal {signal}"),
            },
            Termination::TimedOut => f.write_str("timed out"),
            Termination::Stalled => f.write_str("stalled"),
            Termination::Cancelled => f.write_str("cancelled"),
        }
    }
}

/// What [`crate::run_process`] observed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ProcessOutcome {
    /// How the process ended.
    pub termination: Termination,
    /// Wall-clock time from spawn until the process (group) was gone.
    pub duration: Duration,
    /// Bytes of child output written to the attempt log; at most
    /// [`crate::OutputLimits::max_log_bytes`]. The supervisor's header, footer and
    /// truncation marker are not counted.
    pub log_bytes: u64,
    /// Bytes the child printed on stdout and stderr together, including discarded ones.
    pub output_bytes: u64,
    /// True when output beyond the log limit was discarded.
    pub truncated: bool,
    /// The last [`crate::OutputLimits::tail_bytes`] bytes of output (stdout and stderr
    /// interleaved as read), decoded as lossy UTF-8.
    pub tail: String,
}
