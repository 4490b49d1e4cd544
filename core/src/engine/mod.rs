//! Scheduler and executor: runs a planned workstream set, step by step, in git worktrees,
//! recording every state change in the run's journal first.
//!
//! Entry points: [`run_workstreams`] (`pipeline run`), [`resume_run`] (`pipeline resume`),
//! [`prepare`] and [`load_and_plan`] (load + plan, for `plan`, `validate` and `run
//! --dry-run`), and the queries behind `status`, `runs`, `logs`, `errors`, `breakers`,
//! `plugins`, `diagnose` and `clean` (file `queries.rs`).
//!
//! # Theory of operation
//!
//! ```text
//!  run_driver ── records run_started + step_added ──► journal (state.db)
//!      │                                                  ▲   │ entries in id order
//!      ▼                                                  │   ▼
//!  scheduler ── ready queue over the plan's DAG ──┐   every     Reporter: progress bars,
//!  (jobs slots, exclusions, skip dependents,      │   state     plain lines, --json NDJSON
//!   keep checkpoints on resume)                   │   change
//!      │ spawns one task per ready step           │
//!      ▼                                          │
//!  step_lifecycle: merge inputs ► worktree ► choose tool ► hold limits ► attempt
//!      ▲                                    │ (tool ► tests ► scope ► commit)
//!      └──── next_action: fix | retry | wait | escalate | fail ◄── classify failure
//! ```
//!
//! One rule shapes everything: the run's [`RunJournal`](run_journal::RunJournal) is the
//! only writer of run state. Each state change is one typed event
//! ([`crate::state::Event`]) recorded with its table updates in one SQLite transaction,
//! then handed to the reporters; a failed write stops the run (exit 3) and leaves it
//! resumable. The scheduler and the lifecycle never print or report anything themselves.
//! The decisions are pure functions with unit tests: what follows a failed attempt
//! (`next_action.rs`), which tool runs (`tool_choice.rs`, `pick_tool`), and the
//! scheduler's rules (tested with a fake [`StepRunner`](scheduler::StepRunner)).
//!
//! # Files
//!
//! | file | what it holds |
//! | --- | --- |
//! | `run_driver.rs` | start, resume, finish a run; the result branch |
//! | `scheduler.rs` | the ready queue, `--jobs`, exclusions, skips, kept checkpoints |
//! | `job_slots.rs` | `--jobs` slots lent while a step waits |
//! | `step_lifecycle.rs` | one step's life as one forward trip (diagram inside) |
//! | `attempt.rs` | one attempt: tool, acceptance tests, scope check (read_only check), commit |
//! | `candidates.rs` | best of N: a round of candidate attempts and the rule that keeps one |
//! | `merge_conflict.rs` | a merge conflict explained: files, the steps that touched them, the fix |
//! | `scope_overlap.rs` | `scope_overlap: error`: overlapping unordered scopes refused |
//! | `next_action.rs` | the decision after a failed attempt (pure) |
//! | `tool_choice.rs` | candidates, breakers, fallbacks (pure rule + waits) |
//! | `waits.rs` | backoff, rate-limit, breaker and tool-limit waits |
//! | `compensation.rs` | a failed step's compensations (saga) |
//! | `prompts.rs` | prompts and fix prompts |
//! | `run_journal.rs` | the one writer of run state |
//! | `reporter.rs` | where journal entries go live |
//! | `recovery_config.rs` | plugins, retry policies, breaker settings for a run |
//! | `step_error.rs`, `engine_error.rs` | typed errors of a step, of a command |
//! | `run_context.rs`, `run_options.rs`, `workspace.rs`, `run_id.rs` | a run's shared context and paths |
//! | `tool_limits.rs` | `max_concurrent` and `requests_per_minute` across a run |
//! | `orphans.rs` | tools a dead driver left running |
//! | `spec_references.rs` | `specs` references resolved into prompts; tasks ticked |
//! | `approvals.rs` | approval gates: decisions recorded, picked up by the driver |
//! | `queries.rs`, `repository_root.rs` | the read-only commands |
//! | `webhook_deliveries.rs` | `pipeline webhooks`: the outbox's deliveries |
//! | `step_exec.rs` | `pipeline step exec`: one step in the current checkout, inputs fetched, result pushed |

mod approvals;
mod attempt;
mod budgets;
mod candidates;
mod compensation;
mod containment;
mod engine_error;
mod failure_text;
mod job_slots;
mod merge_conflict;
mod next_action;
mod orphans;
mod prompts;
mod queries;
mod recovery_config;
mod reporter;
mod repository_root;
mod run_context;
mod run_driver;
mod run_id;
mod run_journal;
mod run_options;
mod run_secrets;
mod scheduler;
mod scope_overlap;
mod spec_references;
mod step_cache;
mod step_error;
mod step_exec;
mod step_lifecycle;
mod tool_choice;
mod tool_limits;
mod usage_cost;
mod waits;
mod webhook_deliveries;
mod workspace;
mod worktree_setup;

pub use crate::state::TestResult;
pub use approvals::{ApprovalDecision, DecisionRecorded, Verdict, decide_approval};
pub use engine_error::EngineError;
pub(crate) use failure_text::step_error_text;
/// Whether this machine can run steps under the write sandbox (see `docs/SECURITY.md`).
pub use pipeline_adapters::{SandboxSupport, sandbox_support};
pub use queries::{
    AttemptUsage, AttemptView, CandidateView, CheckpointView, DiffStat, FileChange, MOST_EXPENSIVE,
    RunDiff, StepCost, StepDetail, StepDiff, UsageGroup, UsageGrouping, UsageReport, UsageTotals,
    completed_step_stats, driver_of, resolve_run, run_diff, run_usage, step_detail, step_diff,
};
pub use queries::{
    CleanReport, Driver, LATEST, ResumeTarget, RunListEntry, RunStatusReport, StepCounts, StepLogs,
    StepStatusView, breakers, clean_runs, counted, diagnose, list_runs, plugins, resumable_run,
    run_errors, run_status, step_logs,
};
pub use recovery_config::{RecoveryConfig, plugin_dirs};
pub use reporter::{Reporter, SilentReporter};
pub use repository_root::{current_dir, repository_root_or_current_dir};
pub use run_driver::uncommitted_changes;
pub use run_driver::{
    PreparedRun, RunSummary, load_and_plan, open_repository, prepare, remote_engine_of, resume_run,
    run_workstreams,
};
pub use run_id::{check_run_id, generate_run_id};
pub use run_options::{RunOptions, UnfinishedPolicy};
pub use run_secrets::{KnownSecret, KnownSecrets, MIN_SECRET_BYTES, known_secrets};
pub use step_cache::queries::{
    RemoteCache, cache_entries, cache_stats, clear_cache, remote_cache, why_step,
};
pub use step_cache::why::{Why, why};
pub use step_exec::{STEP_BRANCH_PREFIX, StepExec, exec_step, step_result_branch};
pub use webhook_deliveries::{delivery_workspace, webhook_deliveries};
pub use workspace::Workspace;
