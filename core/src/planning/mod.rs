//! Planner: the DAG of steps, its waves, critical path and mutual exclusions.
//!
//! A [`Plan`] is computed once from a validated [`WorkstreamSet`](crate::model::WorkstreamSet)
//! and used read-only by `pipeline plan` and by the scheduler. Waves are topological levels
//! (a step's wave is one more than its deepest dependency); the critical path is the longest
//! dependency chain counted in steps (step durations are unknown before a run); a step's
//! priority is the length of the longest chain from it to a sink, so ready steps on the
//! critical path start first. Two steps whose declared `files_scope`s overlap and that no
//! path in the DAG orders get an implicit edge (the later-declared one depends on the
//! earlier one, [`ImplicitEdge`]), so the later one starts from the earlier one's result
//! instead of conflicting with it when merged (issue #11). Two steps exclude each other
//! (never run at the same time) when they share a `conflict_group`, when their declared
//! `files_scope`s overlap, or when either says `parallel_ok: false`.

mod plan;
mod plan_render;

#[cfg(test)]
mod plan_properties;

pub use plan::{Exclusion, ImplicitEdge, Plan, PlanError};
pub use plan_render::{PlanFormat, render_plan, write_plan};
