//! Where a step runs, checked: the rules that tie `isolation: "none"`, `depends_on` and
//! `read_only` together (issue #11, "two traps pass validation").
//!
//! A step with `isolation: "none"` runs in the main checkout, which holds the base commit,
//! not its dependencies' results: if it depends on steps and changes files it would work
//! on the wrong tree, so that is an error naming the two ways out. A `read_only` step
//! changes no file, so a `files_scope` or `files_create` of its own contradicts it.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use super::raw_workstream::RawFields;
use super::{Isolation, Step, StepId, StepKind, ValidationDiagnostic};

/// An error when an object that is read-only (its own `read_only`, else `inherited`, the
/// workstream's) declares `files_scope` or `files_create`. `noun` is `step` or
/// `workstream`; the error points at the first of the two fields it has.
pub(crate) fn check_read_only_scope(
    fields: &RawFields,
    inherited: Option<bool>,
    noun: &str,
    file: &Path,
    pointer: &str,
    id: &str,
    diags: &mut Vec<ValidationDiagnostic>,
) {
    if !fields.read_only.or(inherited).unwrap_or(false) {
        return;
    }
    let key = if fields.files_scope.is_some() {
        "files_scope"
    } else if fields.files_create.is_some() {
        "files_create"
    } else {
        return;
    };
    diags.push(
        ValidationDiagnostic::error(
            file,
            format!("{pointer}/{key}"),
            format!("{noun} `{id}` is `read_only` but declares `{key}`: a read-only step changes no file"),
        )
        .with_step(id)
        .with_hint(format!(
            "remove `{key}` if it only checks, or remove `\"read_only\": true` if it changes those files"
        )),
    );
}

/// One error per task step that runs in place (`isolation: "none"`), is not `read_only`
/// and depends, directly or through other dependencies, on a step that changes files (a
/// task step in its own worktree that is not `read_only`: its result is a commit the main
/// checkout does not contain). Dependencies of its phase and workstream count (they are
/// resolved by now). A chain of in-place steps is fine: each one's changes are in the
/// main checkout the next one runs in. The workstream acceptance gate is left out: it
/// runs tests only. Each error names the first dependencies (up to 3) whose results are
/// missing.
pub(crate) fn check_in_place_steps(steps: &[Step]) -> Vec<ValidationDiagnostic> {
    let by_id: HashMap<&StepId, &Step> = steps.iter().map(|s| (&s.id, s)).collect();
    let mut memo: HashMap<&StepId, bool> = HashMap::new();
    steps
        .iter()
        .filter(|s| s.kind == StepKind::Task && s.isolation == Isolation::None && !s.read_only)
        .filter_map(|s| {
            let missing: Vec<&StepId> = s
                .depends_on
                .iter()
                .filter(|d| changes_files_upstream(d, &by_id, &mut memo))
                .collect();
            if missing.is_empty() {
                return None;
            }
            let shown: Vec<String> = missing.iter().take(3).map(|d| format!("`{d}`")).collect();
            let more = match missing.len().saturating_sub(3) {
                0 => String::new(),
                n => format!(" and {n} more"),
            };
            Some(
                ValidationDiagnostic::error(
                    &s.file,
                    s.pointer.clone(),
                    format!(
                        "step `{}` runs in the main checkout (`isolation: \"none\"`) but depends on {}{more}, whose results that checkout does not contain",
                        s.id,
                        shown.join(", ")
                    ),
                )
                .with_step(s.id.to_string())
                .with_hint(
                    "remove `isolation` to run it in its own worktree, which starts from its dependencies' merged result; \
                     or, if it changes no file, add `\"read_only\": true`: it then runs in a temporary checkout of its dependencies' merged result",
                ),
            )
        })
        .collect()
}

/// Whether the result of step `id` (the commit its dependants start from) can differ from
/// the run's base: it changes files itself (a task step in a worktree, not `read_only`),
/// or one of its dependencies' results does. Unknown ids (reported elsewhere) count as
/// not changing files. Iterative, so deep chains cannot overflow the stack; a cycle (an
/// error reported by the planner) is cut where the walk meets a step it is still deciding.
fn changes_files_upstream<'a>(
    id: &'a StepId,
    by_id: &HashMap<&'a StepId, &'a Step>,
    memo: &mut HashMap<&'a StepId, bool>,
) -> bool {
    // Post-order walk: a step is decided once all its dependencies are.
    let mut open: HashSet<&'a StepId> = HashSet::new();
    let mut stack: Vec<(&'a StepId, bool)> = vec![(id, false)];
    while let Some((current, expanded)) = stack.pop() {
        if memo.contains_key(current) || (!expanded && !open.insert(current)) {
            continue;
        }
        let Some(step) = by_id.get(current) else {
            memo.insert(current, false);
            continue;
        };
        let own =
            step.kind == StepKind::Task && step.isolation == Isolation::Worktree && !step.read_only;
        if own {
            memo.insert(current, true);
            continue;
        }
        if expanded {
            let upstream = step
                .depends_on
                .iter()
                .any(|d| memo.get(d).copied().unwrap_or(false));
            memo.insert(current, upstream);
            continue;
        }
        stack.push((current, true));
        for d in &step.depends_on {
            if !memo.contains_key(d) {
                stack.push((d, false));
            }
        }
    }
    memo.get(id).copied().unwrap_or(false)
}
