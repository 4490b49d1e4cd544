//! OpenSpec for the CLI: the `specifications` crate's operations reached through core,
//! so that the binary depends on core only (DESIGN: binary -> core -> specifications),
//! and the relations between change proposals that `pipeline spec validate` reports
//! beside the OpenSpec CLI's own result.
//!
//! The engine uses the same crate for `spec://` / `change://` references in workstreams
//! (`engine::spec_references`) and for ticking a change's tasks on the result branch.

pub use pipeline_specs::archive::{ArchiveError, ArchiveOptions, archive_change, local_date_today};
pub use pipeline_specs::catalog::{ChangeConflict, find_conflicts};
pub use pipeline_specs::change_graph::dependency_report;
pub use pipeline_specs::change_view::{list_changes, list_specs, show_change, show_spec};
pub use pipeline_specs::resolver::resolve;
pub use pipeline_specs::scaffold::scaffold_change;
pub use pipeline_specs::spec_index::SpecIndex;
pub use pipeline_specs::task_list::TaskProgress;
pub use pipeline_specs::validation_run::{
    ItemLookupError, ItemType, ValidationRun, validate_item, validate_scope,
};
pub use pipeline_specs::workstream_bridge::{
    BridgeOptions, ccpm_epic_to_workstream, change_to_workstream,
};
pub use pipeline_specs::{Issue, Layout, Level};

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
