//! What keeps the processes of one step attempt inside that attempt.
//!
//! A [`ProcessSpec`](crate::ProcessSpec) carries a [`Containment`]: an optional
//! attempt marker (an environment variable every descendant inherits, so that processes
//! that left the process group, e.g. through `setsid`, can still be found and ended) and
//! an optional [`SandboxPolicy`] (on Linux, a Landlock ruleset limiting where the process
//! and its descendants may write).

use std::path::PathBuf;

/// Name of the environment variable that carries a [`Containment::marker`] into the
/// child and, by inheritance, into every process it starts.
pub const MARKER_ENV: &str = "PIPELINE_CONTAINMENT";

/// How the processes of one attempt are contained. `Default` contains nothing (no
/// marker, no sandbox): what callers outside a step (version probes, plugins) use.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Containment {
    /// A value unique to the attempt, e.g. `<run>/<step>/<attempt>/<kind>`, exported to
    /// the child as [`MARKER_ENV`]. When set, every process still carrying it once the
    /// attempt's process group has ended is killed before the supervisor returns.
    pub marker: Option<String>,
    /// Write restrictions for the child and its descendants; `None` runs unrestricted.
    pub sandbox: Option<SandboxPolicy>,
}

/// Where a sandboxed process may write. Everything else stays readable and executable
/// but not writable.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SandboxPolicy {
    /// Absolute paths (directories or files) under which writes are allowed: the step's
    /// worktree, its temporary directory, the parts of the git directory a commit needs,
    /// and paths a tool profile or step declares (`writable_paths`).
    pub writable: Vec<PathBuf>,
}
