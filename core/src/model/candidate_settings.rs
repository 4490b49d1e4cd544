//! Checks of `candidates` and `select` on built steps (docs/CANDIDATES.md): best-of-N
//! needs an AI tool to ask N times and a worktree per candidate to compare.
//!
//! The JSON Schema bounds `candidates` to 1..=8 already; this check says the same in the
//! loader's words (for input the schema check did not see) and refuses what the schema
//! cannot express: `candidates` on a step run by a command, on a workstream's acceptance
//! gate, on a step without its own worktree (`isolation: "none"`, `read_only`), and
//! `select` without `candidates` of 2 or more.

use super::{Isolation, MAX_CANDIDATES, Step, StepKind, ToolChoice, ValidationDiagnostic};

/// One error per step whose `candidates` or `select` cannot apply, naming the step's file,
/// the field's JSON pointer and what to do.
pub(crate) fn check_candidates(steps: &[Step]) -> Vec<ValidationDiagnostic> {
    let mut diags = Vec::new();
    for step in steps {
        let at = |field: &str| format!("{}/{field}", step.pointer);
        let error = |field: &str, message: String, hint: &str| {
            ValidationDiagnostic::error(&*step.file, at(field), message)
                .with_step(step.id.as_str())
                .with_hint(hint)
        };
        let n = step.candidates;
        if n == 0 || n > MAX_CANDIDATES {
            diags.push(error(
                "candidates",
                format!(
                    "step `{}` has `candidates: {n}`; it must be between 1 and {MAX_CANDIDATES}",
                    step.id
                ),
                "each candidate is a full attempt (tool, tests, worktree): use 2 to 8, or leave `candidates` out for one attempt",
            ));
            continue;
        }
        if n >= 2 {
            let why = match (&step.tool, step.kind) {
                (_, StepKind::WorkstreamAcceptance) => {
                    Some("a workstream's acceptance gate runs tests only")
                }
                (ToolChoice::Shell(_), _) => {
                    Some("it runs a command, which gives the same result every time")
                }
                (ToolChoice::None, _) => Some("it runs no tool"),
                _ if step.isolation == Isolation::None => Some(
                    "it runs in place (`isolation: \"none\"`); each candidate needs its own worktree",
                ),
                _ if step.read_only => {
                    Some("it is `read_only`: it has no result to choose between")
                }
                _ => None,
            };
            if let Some(why) = why {
                diags.push(error(
                    "candidates",
                    format!("step `{}` has `candidates: {n}`, but {why}", step.id),
                    "set `candidates` only on an AI step (`tool` or `capability`) that runs in its own worktree",
                ));
                continue;
            }
        }
        if let Some(select) = &step.select {
            if n < 2 {
                diags.push(error(
                    "select",
                    format!(
                        "step `{}` has `select` but no `candidates` of 2 or more: there is nothing to choose between",
                        step.id
                    ),
                    "add `\"candidates\": N` (2 to 8) to the step, or remove `select`",
                ));
            } else if select.command.trim().is_empty() {
                diags.push(error(
                    "select/command",
                    format!("step `{}` has an empty `select.command`", step.id),
                    "name a command that prints a score (a number, higher is better) as its last line",
                ));
            }
        }
    }
    diags
}
