//! Where a step runs, checked: the rules that tie `isolation: "none"`, `depends_on` and
//! `read_only` together (issue #11, "two traps pass validation").
//!
//! A step with `isolation: "none"` runs in the main checkout, which holds the base commit,
//! not its dependencies' results: if it depends on steps and changes files it would work
//! on the wrong tree, so that is an error naming the two ways out. A `read_only` step
//! changes no file, so a `files_scope` or `files_create` of its own contradicts it.

use std::path::Path;

use super::raw_workstream::RawFields;
use super::{Isolation, Step, StepKind, ValidationDiagnostic};

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
/// and has dependencies (after resolution, so dependencies of its phase and workstream
/// count). The workstream acceptance gate is left out: it runs tests only.
pub(crate) fn check_in_place_steps(steps: &[Step]) -> Vec<ValidationDiagnostic> {
    steps
        .iter()
        .filter(|s| {
            s.kind == StepKind::Task
                && s.isolation == Isolation::None
                && !s.read_only
                && !s.depends_on.is_empty()
        })
        .map(|s| {
            let shown: Vec<String> = s
                .depends_on
                .iter()
                .take(3)
                .map(|d| format!("`{d}`"))
                .collect();
            let more = match s.depends_on.len().saturating_sub(3) {
                0 => String::new(),
                n => format!(" and {n} more"),
            };
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
            )
        })
        .collect()
}
