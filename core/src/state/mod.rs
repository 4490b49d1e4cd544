//! SQLite state store: runs, steps, attempts, the event journal and checkpoints.
//!
//! Why: every state change of a run lands in SQLite before its effect can be observed
//! (write-ahead discipline), so a run killed at any moment (crash, `kill -9`, power loss)
//! resumes without redoing finished work, and `pipeline status/runs/logs` can read the
//! state of a run while another process drives it.
//!
//! How: [`StateStore`] wraps one rusqlite connection in WAL mode behind a mutex. Every
//! state change is a typed journal [`Event`] recorded by [`StateStore::record`], which
//! updates the tables and appends the event in one transaction; [`RunReplay`] rebuilds a
//! run's state from its journal alone. The schema is versioned by `PRAGMA user_version`
//! and built by the SQL files in `schema/migrations/`, applied in order by
//! [`migrations`]. [`RunLock`] makes sure one process at a time drives a run.

mod attempt_result;
mod checkpoint;
mod durability;
mod event;
pub mod migrations;
mod records;
mod replay;
mod run_lock;
mod run_status;
mod state_error;
mod state_store;
mod step_status;
mod test_result;
mod text_enum;
mod timestamp;
mod unknown_value;
mod webhook_outbox;

pub use attempt_result::AttemptResult;
pub use checkpoint::{Checkpoint, CheckpointOutputs};
pub use durability::{Durability, Flush};
pub use event::{
    CandidateOutcome, ErrorSummary, Event, JournalEntry, RemoteEngine, Usage, WaitKind,
};
pub use records::{AttemptRecord, RunRecord, StepRecord};
pub(crate) use replay::keep_latest_attempt;
pub use replay::{ReplayedAttempt, ReplayedStep, RunReplay};
pub use run_lock::{LockProbe, PROBE_GRACE, RunLock};
pub use run_status::RunStatus;
pub use state_error::StateError;
pub use state_store::{
    BUSY_TIMEOUT, CacheEntry, CacheStats, CachedFrom, Change, DecisionWrite, ErrorRecord,
    PendingDecision, StateStore,
};
pub use step_status::StepStatus;
pub use test_result::TestResult;
pub use timestamp::timestamp_now;
pub use unknown_value::UnknownValue;
pub use webhook_outbox::{
    ClaimedDelivery, DeliveryOutcome, DeliveryRecord, DeliveryStatus, EVENT_KINDS, EndpointType,
    RESERVED_EVENT_KINDS, Subscription, Subscriptions, endpoint_key, notify_display,
    subscribable_kinds, webhook_id,
};
