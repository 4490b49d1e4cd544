//! Scheduler and executor: runs a planned workstream set, step by step, in git worktrees,
//! recording every state change in the state database first.
//!
//! Entry points: [`run_workstreams`] (`pipeline run`), [`resume_run`] (`pipeline resume`),
//! [`prepare`] (load + plan, for `plan`, `validate` and `run --dry-run`), and the queries
//! behind `status`, `runs`, `logs` and `clean` ([`run_status`], [`list_runs`],
//! [`step_logs`], [`clean_runs`]).

mod attempt;
mod compensation;
mod engine_error;
mod error_engine;
mod failure_text;
mod job_slots;
mod next_action;
mod orphans;
mod prompts;
mod queries;
mod reporter;
mod repository_root;
mod run_context;
mod run_driver;
mod run_id;
mod run_journal;
mod run_options;
mod scheduler;
mod spec_references;
mod step_error;
mod step_lifecycle;
mod tool_choice;
mod tool_limits;
mod waits;
mod workspace;

pub use crate::state::TestResult;
pub use engine_error::EngineError;
pub use error_engine::{ErrorEngine, plugin_dirs};
pub(crate) use failure_text::step_error_text;
pub use queries::{
    CleanReport, RunListEntry, RunStatusReport, StepLogs, StepStatusView, breakers, clean_runs,
    diagnose, list_runs, plugins, run_errors, run_status, step_logs,
};
pub use reporter::{Reporter, SilentReporter};
pub use repository_root::{current_dir, repository_root_or_current_dir};
pub use run_driver::{
    PreparedRun, RunSummary, load_and_plan, open_repository, prepare, resume_run, run_workstreams,
};
pub use run_id::{check_run_id, generate_run_id};
pub use run_options::{RunOptions, UnfinishedPolicy};
pub use workspace::Workspace;
