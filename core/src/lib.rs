//! `pipeline-core`: the workstream model and loader, the DAG planner, the scheduler and
//! executor, the SQLite state store, git worktrees, checkpoints and resume.
//!
//! Data flows forward: [`model`] loads and validates workstream files into typed values,
//! [`planning`] turns them into a DAG plan, [`engine`] schedules and executes the plan,
//! recording every state change through [`state`] and isolating steps with [`git`].

pub mod engine;
pub mod exit_code;
pub mod git;
pub mod model;
pub mod openspec;
pub mod planning;
pub mod state;
