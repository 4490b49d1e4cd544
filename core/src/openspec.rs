//! OpenSpec for the CLI: the `specifications` crate's operations reached through core,
//! so that the binary depends on core only (DESIGN: binary -> core -> specifications),
//! and the relations between change proposals that `pipeline spec validate` reports
//! beside the OpenSpec CLI's own result.
//!
//! The engine uses the same crate for `spec://` / `change://` references in workstreams
//! (`engine::spec_references`) and for ticking a change's tasks on the result branch.

use std::path::Path;

use crate::engine::{EngineError, current_dir};

pub use pipeline_specs::archive::{ArchiveError, ArchiveOptions, archive_change, local_date_today};
pub use pipeline_specs::catalog::{ChangeConflict, find_conflicts};
pub use pipeline_specs::change_graph::dependency_report;
pub use pipeline_specs::change_view::{
    ShowError, list_changes, list_specs, show_change, show_spec,
};
pub use pipeline_specs::project_scaffold::{
    ProjectScaffoldError, ScaffoldedFile, scaffold_project,
};
pub use pipeline_specs::resolver::{ReferenceError, resolve};
pub use pipeline_specs::scaffold::{ScaffoldError, scaffold_change};
pub use pipeline_specs::spec_index::{IndexError, SpecIndex};
pub use pipeline_specs::task_list::TaskProgress;
pub use pipeline_specs::validation_run::{
    ItemLookupError, ItemType, ValidationRun, validate_item, validate_scope,
};
pub use pipeline_specs::workstream_bridge::{
    BridgeError, BridgeOptions, ccpm_epic_to_workstream, change_to_workstream,
};
pub use pipeline_specs::{Issue, Layout, Level};

/// The OpenSpec project `pipeline spec` works on: `root` when given, which must contain
/// `openspec/`; otherwise the nearest ancestor of the current directory that has
/// `openspec/`, as the OpenSpec CLI looks for it.
///
/// Errors: [`EngineError::Input`] (invalid input or usage) when `root` has no
/// `openspec/`, when neither the current directory nor its parents have one, and when
/// the current directory cannot be read; each message says what to do.
pub fn locate_project(root: Option<&Path>) -> Result<Layout, EngineError> {
    match root {
        Some(root) if root.join("openspec").is_dir() => Ok(Layout::new(root)),
        Some(root) => Err(EngineError::Input(format!(
            "{} has no openspec/ directory; pass the project root that contains it, or create one there with `pipeline spec init --repo {}`",
            root.display(),
            root.display()
        ))),
        None => {
            let cwd = current_dir()?;
            Layout::discover(&cwd).ok_or_else(|| {
                EngineError::Input(format!(
                    "no openspec/ directory in {} or its parents; run inside an OpenSpec project, pass --repo, or create one with `pipeline spec init`",
                    cwd.display()
                ))
            })
        }
    }
}

/// How the active change proposals of a project relate, beyond each one's validity.
#[derive(Debug, Clone, Default)]
pub struct ChangeRelations {
    /// Pairs of changes that touch the same requirement (archiving one changes what
    /// the other's delta applies to).
    pub conflicts: Vec<ChangeConflict>,
    /// Dependency cycles between changes, each as `a -> b -> a`.
    pub cycles: Vec<String>,
}

/// The [`ChangeRelations`] of the project at `layout`. A project whose changes cannot be
/// read has none (validation reports the unreadable files itself).
pub fn change_relations(layout: &Layout) -> ChangeRelations {
    ChangeRelations {
        conflicts: find_conflicts(layout).unwrap_or_default(),
        cycles: dependency_report(layout)
            .map(|report| report.cycle_lines())
            .unwrap_or_default(),
    }
}
