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

/// The marker of the attempt's processes, `<run>/<step>/<attempt>/<kind>` (see
/// [`AttemptMarker`]); every process of the attempt carries it, so the supervisor ends
/// those that escaped its process group, and resume those of a crashed run.
fn attempt_marker(
    ctx: &RunContext,
    step: &Step,
    attempt: u32,
    kind: ProcessKind,
) -> Option<String> {
    Some(
        AttemptMarker {
            run_id: ctx.run_id.clone(),
            step_id: step.id.to_string(),
            attempt,
            kind,
        }
        .to_string(),
    )
}

/// The value of `PIPELINE_CONTAINMENT` for one process of one attempt:
/// `<run id>/<step id>/<attempt>/<kind>`, with `<kind>` one of `tool`, `test-<n>`,
/// `compensation-<n>` (1-based). A run id contains no `/` (see `check_run_id`) and the
/// attempt and kind none either, so the step id (which may contain `/`, e.g. `ws/a`) is
/// what lies between the first `/` and the second-to-last one; `<run id>/` is the prefix
/// of every marker of a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AttemptMarker {
    pub run_id: String,
    pub step_id: String,
    pub attempt: u32,
    pub kind: ProcessKind,
}

impl AttemptMarker {
    /// The prefix shared by the markers of every process of run `run_id`.
    pub(crate) fn run_prefix(run_id: &str) -> String {
        format!("{run_id}/")
    }

    /// Reads a marker written by `Display`; `None` for anything else.
    pub(crate) fn parse(marker: &str) -> Option<AttemptMarker> {
        let (run_id, rest) = marker.split_once('/')?;
        let (rest, kind) = rest.rsplit_once('/')?;
        let (step_id, attempt) = rest.rsplit_once('/')?;
        let kind = match kind {
            "tool" => ProcessKind::Tool,
            other => {
                let (name, n) = other.split_once('-')?;
                let n = n.parse().ok()?;
                match name {
                    "test" => ProcessKind::Test(n),
                    "compensation" => ProcessKind::Compensation(n),
                    _ => return None,
                }
            }
        };
        let attempt = attempt.parse().ok()?;
        (!run_id.is_empty() && !step_id.is_empty()).then(|| AttemptMarker {
            run_id: run_id.to_owned(),
            step_id: step_id.to_owned(),
            attempt,
            kind,
        })
    }
}

impl std::fmt::Display for AttemptMarker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}/{}/", self.run_id, self.step_id, self.attempt)?;
        match self.kind {
            ProcessKind::Tool => write!(f, "tool"),
            ProcessKind::Test(n) => write!(f, "test-{n}"),
            ProcessKind::Compensation(n) => write!(f, "compensation-{n}"),
        }
    }
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

#[cfg(test)]
mod marker_tests {
    use super::*;

    #[test]
    fn markers_read_back_including_step_ids_with_slashes() {
        for kind in [
            ProcessKind::Tool,
            ProcessKind::Test(2),
            ProcessKind::Compensation(11),
        ] {
            let marker = AttemptMarker {
                run_id: "20261206-033000-ab12".to_owned(),
                step_id: "ws/a-b.c".to_owned(),
                attempt: 3,
                kind,
            };
            let text = marker.to_string();
            assert!(text.starts_with(&AttemptMarker::run_prefix("20261206-033000-ab12")));
            assert_eq!(AttemptMarker::parse(&text), Some(marker));
        }
        assert_eq!(
            AttemptMarker {
                run_id: "r".to_owned(),
                step_id: "ws/s".to_owned(),
                attempt: 1,
                kind: ProcessKind::Test(1),
            }
            .to_string(),
            "r/ws/s/1/test-1"
        );
    }

    #[test]
    fn other_values_are_not_markers() {
        for bad in [
            "",
            "r",
            "r/s/1",
            "r//1/tool",
            "/s/1/tool",
            "r/s/x/tool",
            "r/s/1/test",
            "r/s/1/test-x",
            "r/s/1/build-1",
        ] {
            assert_eq!(AttemptMarker::parse(bad), None, "{bad}");
        }
    }
}
