//! How the processes of one step attempt are contained: the attempt marker that finds
//! every process the attempt started (also those that left its process group) and the
//! sandbox that limits where they may write. See `docs/SECURITY.md`.

use std::path::Path;

use pipeline_adapters::{Containment, SandboxPolicy};

use super::run_context::RunContext;
use crate::model::Step;

/// Which process of an attempt a [`Containment`] is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ProcessKind {
    /// The step's tool (an AI CLI, a custom tool or a shell command).
    Tool,
    /// Acceptance test number `n` (1-based).
    Test(usize),
    /// Compensation number `n` (1-based).
    Compensation(usize),
}

/// The containment of process `kind` of attempt `attempt` of `step`, running in `cwd`.
pub(crate) fn containment(
    ctx: &RunContext,
    step: &Step,
    attempt: u32,
    kind: ProcessKind,
    cwd: &Path,
) -> Containment {
    Containment {
        marker: attempt_marker(ctx, step, attempt, kind),
        sandbox: sandbox_policy(ctx, step, kind, cwd),
    }
}

/// The marker of the attempt's processes; `None` leaves them unmarked.
fn attempt_marker(
    _ctx: &RunContext,
    _step: &Step,
    _attempt: u32,
    _kind: ProcessKind,
) -> Option<String> {
    None
}

/// Where the process may write; `None` runs it without a sandbox.
fn sandbox_policy(
    _ctx: &RunContext,
    _step: &Step,
    _kind: ProcessKind,
    _cwd: &Path,
) -> Option<SandboxPolicy> {
    None
}
