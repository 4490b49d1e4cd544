//! Workstream model and loader.
//!
//! A workstream file (JSON, or YAML for `.yaml`/`.yml`; one workstream object or an array
//! of them) is read once at the edge by [`load_workstreams`], in two layers, like a command
//! line parsed into low-level arguments and turned once into high-level ones:
//!
//! 1. raw: each file is parsed (with line and column on syntax errors) and each workstream
//!    object checked against `schema/workstream.schema.json` (JSON Schema 2020-12) and
//!    deserialized into plain serde structs that mirror the JSON (`raw_workstream`);
//!    fields they do not type are kept by name and checked against the field lists
//!    (`other_fields`: unknown keys are errors with "did you mean", keys of the original
//!    format notes);
//! 2. typed: each raw workstream is turned into [`Step`]s as soon as it is read
//!    (`workstream_builder`, `step_draft`: inheritance, defaults, tool and scope checks);
//!    then the workstreams to load are selected (`workstream_selection`) and dependencies
//!    resolved across them and checked for cycles (`dependency_resolution`).
//!
//! Everything downstream (planner, engine) works on the resulting [`WorkstreamSet`] and
//! never re-reads the JSON.
//!
//! ```text
//! load_workstreams (loader)
//!   file_discovery ---- given files; siblings only when a depends_on needs them
//!   workstream_file --- bytes -> JSON -> schema (schema) -> RawWorkstream, one item at a time,
//!                       each handed on at once to
//!   workstream_builder -- RawWorkstream -> Steps (step_draft, tool_resolution,
//!                         declared_scope, error_settings, other_fields, input_limits,
//!                         step_placement)
//!   workstream_selection -- duplicate ids; given workstreams + what they depend on
//!   dependency_resolution -- names -> steps, exit steps, definition_hash, semantic_checks
//!                            step_placement (in-place steps with dependencies)
//!                            (id maps use id_hasher)
//! ```
//!
//! Format rules come from the tool this one replaces (see `shared/conformance`): keys
//! starting with `_` are comments; a workstream without `steps` is a single step whose prompt
//! is its `tasks`; `phases[]` group steps and a phase's `depends_on` makes all its steps
//! depend on every step of the named phase; `depends_on` between workstreams may name
//! workstreams of sibling files in the same directory.

mod candidate_settings;
mod declared_scope;
mod definition_hash;
mod dependency_resolution;
mod error_settings;
mod file_discovery;
mod file_scope;
mod id_hasher;
mod input_limits;
mod loader;
mod other_fields;
mod raw_workstream;
mod schema;
mod semantic_checks;
mod step;
mod step_draft;
mod step_id;
mod step_placement;
mod tool_catalog;
mod tool_resolution;
mod validation_diagnostic;
mod workstream_builder;
mod workstream_file;
mod workstream_selection;
mod workstream_set;

#[cfg(test)]
mod loader_properties;
#[cfg(test)]
mod loader_tests;

pub use file_scope::{FileScope, ScopePathError, check_scope_path};
pub use input_limits::MAX_DURATION_SEC;
pub use loader::{LoadOptions, load_workstreams};
pub use step::{
    AcceptanceTest, Approval, Budget, CompensationAction, Isolation, MAX_CANDIDATES, SelectCommand,
    SetupCommand, Step, StepKind, ToolChoice,
};
pub use step_id::StepId;
pub use tool_catalog::ToolCatalog;
pub use validation_diagnostic::{LoadError, ValidationDiagnostic, ValidationSeverity};
pub use workstream_file::{DEFAULT_MAX_WORKSTREAM_BYTES, MAX_WORKSTREAM_BYTES_ENV};
pub use workstream_set::{Workstream, WorkstreamSet};
