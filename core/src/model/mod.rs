//! Workstream model and loader.
//!
//! A workstream file (JSON; one workstream object or an array of them) is read once at the
//! edge by [`load_workstreams`]: parsed (with line and column on syntax errors), checked
//! against `schema/workstream.schema.json` (JSON Schema 2020-12), normalised into typed
//! [`Step`]s, and checked semantically (duplicate ids, unknown dependencies, cycles, unknown
//! tools, paths escaping the repository, empty workstreams). Everything downstream (planner,
//! engine) works on the resulting [`WorkstreamSet`] and never re-reads the JSON.
//!
//! Format rules come from the tool this one replaces (see `shared/conformance`): keys
//! starting with `_` are comments; a workstream without `steps` is a single step whose prompt
//! is its `tasks`; `phases[]` group steps and a phase's `depends_on` makes all its steps
//! depend on every step of the named phase; `depends_on` between workstreams may name
//! workstreams of sibling files in the same directory.

mod diagnostic;
mod file_scope;
mod loader;
mod normalize;
mod schema;
mod semantic_checks;
mod step;
mod step_id;
mod tool_catalog;
mod workstream_set;

#[cfg(test)]
mod loader_tests;

pub use diagnostic::{Diagnostic, LoadError, Severity};
pub use file_scope::{FileScope, ScopePathError, check_scope_path};
pub use loader::{LoadOptions, load_workstreams};
pub use step::{AcceptanceTest, CompensationAction, Isolation, Step, StepKind, ToolChoice};
pub use step_id::StepId;
pub use tool_catalog::ToolCatalog;
pub use workstream_set::{Workstream, WorkstreamSet};
