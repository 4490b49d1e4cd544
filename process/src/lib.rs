//! pipeline-process: how `pipeline` runs a child process, whatever the child is.
//!
//! Every process the project starts for a step (a tool, an acceptance test, a
//! compensation) or for the error engine (a `command` plugin) goes through this crate, so
//! that all of them get the same guarantees: the child leads its own process group, its
//! output is drained concurrently and kept within bounds, and a timeout or cancellation
//! stops the whole group (SIGTERM, a grace period, SIGKILL), and so does a stall (no
//! output and no CPU for the spec's stall timeout, see [`stall_watch`]). See
//! [`supervisor`] for the theory of operation.
//!
//! - [`run_process`]: run a [`ProcessSpec`] with stdin on `/dev/null`, writing its output
//!   to an attempt log and keeping a tail in memory ([`ProcessOutcome`]).
//! - [`run_captured`] / [`run_captured_blocking`]: run a [`ProcessSpec`] with the given
//!   bytes on stdin, keeping stdout and stderr in memory within [`CaptureLimits`]
//!   ([`CapturedOutput`]); the blocking form is for synchronous callers.
//! - [`Termination`]: how a process ended, the one type every crate uses for it.
//! - [`sweep_marked`] / [`sweep_marked_blocking`]: kill every process carrying an
//!   attempt marker ([`MARKER_ENV`]), also those that left their process group; the
//!   supervisor does it for a marked child, resume for the attempts of a crashed run.
//!
//! The crate is a leaf: it depends on no other crate of the workspace.

mod captured_output;
mod containment;
mod group_cpu;
mod line_splitter;
pub mod marker_sweep;
mod output_capture;
mod process_error;
mod process_group;
mod process_outcome;
mod process_spec;
mod program_resolver;
mod redactor;
mod sandbox;
pub mod stall_watch;
pub mod supervisor;
mod tail_buffer;

pub use captured_output::{CaptureLimits, CapturedOutput};
pub use containment::{Containment, MARKER_ENV, SandboxPolicy};
pub use marker_sweep::{
    KilledProcess, MarkerMatch, SWEEP_LIMIT, SweepReport, sweep_marked, sweep_marked_blocking,
};
pub use process_error::ProcessError;
pub use process_outcome::{ProcessOutcome, Termination};
pub use process_spec::{DEFAULT_KILL_GRACE, OutputLimits, ProcessSpec};
pub use redactor::{MIN_SECRET_BYTES, REDACTED, redact};
pub use sandbox::{SYSTEM_WRITABLE, SandboxSupport, sandbox_support};
pub use stall_watch::{QUIET_CPU_FLOOR, QUIET_CPU_SHARE};
pub use supervisor::{LineCallback, run_captured, run_captured_blocking, run_process};
