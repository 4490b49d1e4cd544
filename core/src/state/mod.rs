//! SQLite state store: runs, steps, attempts, events and checkpoints.
//!
//! Why: every state change of a run lands in SQLite before its effect can be observed
//! (write-ahead discipline), so a run killed at any moment (crash, `kill -9`, power loss)
//! resumes without redoing finished work, and `pipeline status/runs/logs` can read the
//! state of a run while another process drives it.
//!
//! How: [`StateStore`] wraps one rusqlite connection in WAL mode behind a mutex; every
//! method is one short transaction with cached statements. The schema is versioned by
//! `PRAGMA user_version` and built by the SQL files in `schema/migrations/`, applied in
//! order by [`migrations`]. [`RunLock`] makes sure one process at a time drives a run.

mod attempt_outcome;
mod attempt_result;
mod checkpoint;
mod durability;
pub mod event_kind;
pub mod migrations;
mod new_run;
mod records;
mod run_lock;
mod run_status;
mod state_error;
mod state_store;
mod step_status;
mod text_enum;
mod timestamp;
mod unknown_value;

pub use attempt_outcome::AttemptOutcome;
pub use attempt_result::AttemptResult;
pub use checkpoint::Checkpoint;
pub use durability::Durability;
pub use new_run::{NewRun, NewStep};
pub use records::{AttemptRecord, EventRecord, RunRecord, StepRecord};
pub use run_lock::RunLock;
pub use run_status::RunStatus;
pub use state_error::StateError;
pub use state_store::{BUSY_TIMEOUT, ErrorRecord, StateStore};
pub use step_status::StepStatus;
pub use timestamp::timestamp_now;
pub use unknown_value::UnknownValue;
