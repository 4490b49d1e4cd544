//! `scope_overlap: error` in `.pipeline/config.yaml`: two steps whose declared
//! `files_scope`s overlap and that no dependency orders are refused instead of being
//! ordered by an implicit edge (issue #11, what must hold 2; the setting is read by
//! [`pipeline_adapters::ProjectSettings`]).

use std::path::Path;

use pipeline_adapters::{ProjectSettings, ScopeOverlap};

use super::EngineError;
use crate::model::{LoadError, ValidationDiagnostic, WorkstreamSet};
use crate::planning::Plan;

/// Checks `plan` of `set` against the `scope_overlap` setting of the configuration file
/// `config` (absent: the default, `serialize`, which accepts every plan).
///
/// Errors: [`EngineError::Config`] for a configuration file that cannot be read or has a
/// bad value; [`EngineError::Invalid`] with one error per implicit edge when the setting
/// is `error`, naming both steps, both workstream files, the overlapping scope and the fix
/// (exit code 2).
pub(crate) fn check_scope_overlap(
    set: &WorkstreamSet,
    plan: &Plan,
    config: &Path,
) -> Result<(), EngineError> {
    if plan.implicit.is_empty() {
        return Ok(());
    }
    if ProjectSettings::load(config)?.scope_overlap != ScopeOverlap::Error {
        return Ok(());
    }
    let diagnostics = plan
        .implicit
        .iter()
        .map(|e| {
            let (earlier, later) = (&set.steps[e.earlier], &set.steps[e.later]);
            ValidationDiagnostic::error(
                &*later.file,
                format!("{}/files_scope", later.pointer),
                format!(
                    "steps `{}` ({}) and `{}` ({}) declare overlapping files_scope ({}) and \
                     no depends_on orders them; `scope_overlap: error` in {} refuses this",
                    earlier.id,
                    earlier.file.display(),
                    later.id,
                    later.file.display(),
                    e.scope(),
                    config.display(),
                ),
            )
            .with_step(later.id.to_string())
            .with_hint(format!(
                "add \"depends_on\": [\"{}\"] to step `{}` (or the reverse), or narrow their \
                 files_scope so that they no longer overlap",
                earlier.id, later.id
            ))
        })
        .collect();
    Err(EngineError::Invalid(LoadError { diagnostics }))
}
