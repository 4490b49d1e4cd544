//! What to run and how much of its output to keep.
//!
//! [`ProcessSpec`] is the fully resolved command line of one tool process (no
//! placeholders left, environment already layered); [`OutputLimits`] bounds what the
//! supervisor keeps of its output on disk and in memory. Both are plain data so that a
//! caller (an adapter, the engine, the error engine) can build them and
//! [`crate::run_process`] or [`crate::run_captured`] can execute them.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

/// Time between SIGTERM and SIGKILL when a process group is stopped (5 seconds), unless
/// a [`ProcessSpec`] says otherwise. Long enough for a tool to flush its state, short
/// enough that a cancelled run stops promptly.
pub const DEFAULT_KILL_GRACE: Duration = Duration::from_secs(5);

/// One process to run under supervision.
///
/// The process starts in `cwd` with stdout/stderr captured and stdin connected to
/// `/dev/null` ([`crate::run_process`]) or fed from bytes ([`crate::run_captured`]). Its environment is the supervisor's own environment (or an empty one when
/// `env_clear` is set) plus `env`, applied in order so that a later pair wins over an
/// earlier pair with the same name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessSpec {
    /// Program to execute: a bare name is looked up on the child's `PATH` (once per name
    /// and `PATH`, then remembered), a path is used as is.
    pub program: OsString,
    /// Arguments, passed verbatim (no shell is involved).
    pub args: Vec<OsString>,
    /// Working directory, normally the step's worktree. Must exist.
    pub cwd: PathBuf,
    /// Environment variables to set, later pairs winning over earlier ones.
    pub env: Vec<(OsString, OsString)>,
    /// Start from an empty environment instead of the supervisor's.
    pub env_clear: bool,
    /// Wall-clock limit from spawn; on expiry the process group is terminated and the
    /// outcome is [`crate::Termination::TimedOut`]. `None` means no limit.
    pub timeout: Option<Duration>,
    /// Stall timeout: when the process writes no output and its process group uses no
    /// CPU (Linux; output only elsewhere) for this long, the group is terminated as on
    /// a timeout and the outcome is [`crate::Termination::Stalled`] (see
    /// [`crate::stall_watch`] for what "no CPU" allows). `None` (or zero) means no
    /// stall detection.
    pub stall_timeout: Option<Duration>,
    /// Time between SIGTERM and SIGKILL when the group is stopped (timeout or cancel).
    pub kill_grace: Duration,
    /// Secret values (API keys, values of a profile's `secret_env` variables) that must
    /// never reach the attempt log or the in-memory tail: every occurrence in the
    /// child's output is replaced by `[REDACTED]`, also when it is split across reads.
    /// Values shorter than [`crate::MIN_SECRET_BYTES`] (8) are ignored (they would redact
    /// ordinary text).
    /// Default empty. Adapters fill it; the process still receives the real values
    /// through `env`.
    pub secrets: Vec<String>,
    /// Attempt marker and sandbox ([`crate::Containment`]); default: none.
    pub containment: crate::Containment,
}

impl ProcessSpec {
    /// A spec running `program` with `args` in `cwd`, inheriting the environment, with
    /// no timeout, no stall detection and the [`DEFAULT_KILL_GRACE`].
    pub fn new(
        program: impl Into<OsString>,
        args: impl IntoIterator<Item = impl Into<OsString>>,
        cwd: impl Into<PathBuf>,
    ) -> Self {
        ProcessSpec {
            program: program.into(),
            args: args.into_iter().map(Into::into).collect(),
            cwd: cwd.into(),
            env: Vec::new(),
            env_clear: false,
            timeout: None,
            stall_timeout: None,
            kill_grace: DEFAULT_KILL_GRACE,
            secrets: Vec::new(),
            containment: crate::Containment::default(),
        }
    }
}

/// Bounds on the output the supervisor keeps.
///
/// Whatever the child prints, at most `max_log_bytes` bytes of it reach the attempt log
/// (followed by one truncation marker line) and at most `tail_bytes` bytes stay in
/// memory for error messages; everything beyond is read and discarded so that the child
/// never blocks on a full pipe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputLimits {
    /// Maximum bytes of child output written to the attempt log (header and footer
    /// lines written by the supervisor are not counted). Default 64 MiB.
    pub max_log_bytes: u64,
    /// Bytes of the most recent output kept in memory as [`crate::ProcessOutcome::tail`].
    /// Default 16 KiB.
    pub tail_bytes: usize,
}

impl Default for OutputLimits {
    fn default() -> Self {
        OutputLimits {
            max_log_bytes: 64 * 1024 * 1024,
            tail_bytes: 16 * 1024,
        }
    }
}
