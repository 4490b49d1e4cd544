//! OpenSpec in runs: a step's `specs` references (`spec://<capability>#<requirement>`,
//! `change://<id>`, `change://<id>/tasks#1.2`) are resolved against the repository's
//! `openspec/` tree when the workstreams are loaded, so an unresolvable reference is a
//! validation error naming the closest match, and the referenced text (requirement with its
//! scenarios, change proposal, task) is appended to the step's prompt.

use std::collections::HashMap;
use std::path::Path;

use pipeline_specs::layout::Layout;
use pipeline_specs::resolver::resolve;

use crate::model::{LoadError, StepId, ValidationDiagnostic, WorkstreamSet};

/// Prompt text per step with `specs`, resolved in `repo_root/openspec`.
///
/// Errors: a [`LoadError`] with one diagnostic per unresolvable reference, at the JSON
/// pointer of the reference.
pub(crate) fn resolve_spec_references(
    set: &WorkstreamSet,
    repo_root: &Path,
) -> Result<HashMap<StepId, String>, LoadError> {
    let mut texts = HashMap::new();
    let mut diagnostics = Vec::new();
    let layout = Layout::new(repo_root);
    for step in set.steps.iter().filter(|s| !s.specs.is_empty()) {
        let mut text = String::new();
        for (i, reference) in step.specs.iter().enumerate() {
            match resolve(&layout, reference) {
                Ok(resolved) => {
                    text.push_str(&format!(
                        "\n### {} ({})\n\n{}\n",
                        resolved.reference,
                        resolved.source,
                        resolved.text.trim_end()
                    ));
                }
                Err(e) => diagnostics.push(
                    ValidationDiagnostic::error(
                        &step.file,
                        format!("{}/specs/{i}", step.pointer),
                        format!("unresolvable reference: {e}"),
                    )
                    .with_step(step.id.to_string())
                    .with_hint(format!(
                        "references resolve in {}",
                        layout.openspec_dir().display()
                    )),
                ),
            }
        }
        texts.insert(step.id.clone(), text);
    }
    if diagnostics.is_empty() {
        Ok(texts)
    } else {
        Err(LoadError { diagnostics })
    }
}

/// Ticks the step's OpenSpec tasks in `openspec/changes/<change>/tasks.md` of `worktree`
/// (so `openspec list` shows progress on the result branch). Returns the repository-relative
/// path of the file when it changed it.
pub(crate) fn tick_change_tasks(
    worktree: &Path,
    change: &str,
    task_numbers: &[String],
) -> std::io::Result<Option<String>> {
    let relative = format!("openspec/changes/{change}/tasks.md");
    let path = worktree.join(&relative);
    if task_numbers.is_empty() || !path.is_file() {
        return Ok(None);
    }
    let before = std::fs::read_to_string(&path)?;
    let after = pipeline_specs::tick_tasks(&before, task_numbers);
    if after == before {
        return Ok(None);
    }
    std::fs::write(&path, after)?;
    Ok(Some(relative))
}
