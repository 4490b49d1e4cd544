//! pipeline-specs: OpenSpec support for `pipeline`.
//!
//! Reads, validates and archives OpenSpec specs and change proposals with the same
//! grammar, rules, messages and results as the OpenSpec CLI (`@fission-ai/openspec`
//! 1.x, the reference implementation, checked by the oracle tests in
//! `tests/oracle.rs`), and adds what the CLI lacks: a spec index in the SQLite state
//! database, `spec://` / `change://` references, conflicting-change and dependency
//! cycle reports, and a bridge that turns a change proposal (or a CCPM epic) into a
//! workstream. Deliberate differences from the CLI are listed in `docs/OPENSPEC.md`.
//!
//! Reading order: [`layout`] (where things are), [`spec`] and [`delta`] (the grammar),
//! [`validator`] (the rules), [`spec_merge`] and [`archive`] (applying a change).

pub mod archive;
pub mod catalog;
pub mod change_graph;
pub mod change_metadata;
pub mod change_view;
pub mod code_fence;
pub mod delta;
mod delta_rules;
pub mod ecma_text;
pub mod issue;
pub mod layout;
pub mod line_ending;
pub mod messages;
pub mod nested_change;
pub mod project_scaffold;
pub mod purpose_placeholder;
pub mod requirement_block;
mod requirement_operations;
pub mod requirement_text;
pub mod resolver;
mod retirement_audit;
pub mod scaffold;
pub mod scenario_diff;
pub mod section;
pub mod spec;
pub mod spec_index;
mod spec_journal;
pub mod spec_merge;
pub mod spec_structure;
pub mod task_lint;
pub mod task_list;
pub mod validation_run;
pub mod validator;
pub mod workstream_bridge;

pub use issue::{Issue, Level, Report};
pub use layout::Layout;
pub use task_list::tick_tasks;
pub use validator::{ChangeContext, Validator};
