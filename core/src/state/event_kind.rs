//! Names of the events the state store itself appends to the `events` journal.
//!
//! The engine may append events of its own kinds with
//! [`StateStore::append_event`](super::StateStore::append_event); these are the ones
//! every run has. Each constant documents the shape of the event's `data`.

/// `create_run`: `{"status": "running", "steps": <count>, "jobs": <n>, "plan_hash": "..."}`.
pub const RUN_CREATED: &str = "run_created";
/// `set_run_status` / `interrupt_run`: `{"status": "<run status>"}`.
pub const RUN_STATUS: &str = "run_status";
/// `add_steps`, one per step: `{"workstream_id": "...", "definition_hash": "...",
/// "depends_on": [...]}`.
pub const STEP_ADDED: &str = "step_added";
/// `begin_attempt`: `{"attempt": <n>, "worktree": "..." | null, "log_path": "..."}`.
pub const ATTEMPT_STARTED: &str = "attempt_started";
/// `finish_attempt`: `{"attempt": <n>, "outcome": "<attempt result>", "exit_code": <i32> |
/// null, "error": "..." | null, "duration_ms": <u64>}`.
pub const ATTEMPT_FINISHED: &str = "attempt_finished";
/// `set_step_status` / `interrupt_run`: `{"status": "<step status>", "error": "..." | null}`.
pub const STEP_STATUS: &str = "step_status";
/// `complete_step`: `{"commit": "<hex>", "definition_hash": "..."}`.
pub const STEP_COMPLETED: &str = "step_completed";
/// `reset_step`: `{"previous_status": "<step status>", "definition_hash": "<new hash>"}`.
pub const STEP_RESET: &str = "step_reset";
