//! `pipeline-temporal`: runs a pipeline run on a Temporal cluster (issue #16).
//!
//! ```text
//!  submitter (pipeline run --engine temporal)          workers (pipeline worker), N machines
//!  load + validate + plan locally                       each: own clone, `origin` = shared remote
//!  push base -> refs/pipeline-base/<run>                poll task queue Q (+ Q@<capability>)
//!  start workflow pipeline-run/<run> (RunPlan) ──────▶  workflow PipelineRun (DagSchedule)
//!  poll `state` query, print transitions                 └ activity run_step -> pipeline step exec
//!  fetch pipeline/<run> at the end                          pushes pipeline-steps/<run>/<step>
//!                                                        └ activity merge_results -> pipeline/<run>
//! ```
//!
//! Files: [`run_plan`] (the workflow input, built from a local plan), [`dag_schedule`]
//! (the deterministic ready queue), [`run_workflow`] (the workflow), [`step_task`]
//! (activity inputs and outputs), [`step_activities`] (the activities), [`tool_breakers`]
//! (the cluster-wide circuit breakers), [`control`] (approving and rejecting steps of a
//! running workflow), [`worker`], [`submit`], [`workflow_client`] (status, cancel and the
//! plan of a run from any machine), [`connection`], [`git_cli`], [`history`] (record and
//! replay histories),
//! [`temporal_error`]. Nothing else in the
//! workspace depends on this crate but the `pipeline` binary, so the Temporal SDK does not
//! rebuild with the rest.

pub mod connection;
pub mod control;
pub mod dag_schedule;
pub mod git_cli;
pub mod history;
pub mod run_plan;
pub mod run_workflow;
pub mod step_activities;
pub mod step_task;
pub mod submit;
pub mod temporal_error;
pub mod tool_breakers;
pub mod worker;
pub mod workflow_client;

pub use connection::{ConnectionSettings, DEFAULT_NAMESPACE, DEFAULT_TASK_QUEUE, TlsSettings};
pub use run_plan::{RunPlan, RunSettings};
pub use run_workflow::{Decision, PipelineRun, RunOutcome, RunState, StepState};
pub use submit::{StepChanges, SubmitConfig, follow, submit};
pub use temporal_error::TemporalError;
pub use worker::{WorkerConfig, run_worker};
