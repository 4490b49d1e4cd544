//! Approval gates: a step declaring `approval: required` waits in `awaiting_approval`
//! after its result is committed, until somebody approves or rejects it.
//!
//! Decisions are written by whoever decides (`pipeline approve`/`reject`, the REST API,
//! the MCP server) into the state database's `approval_decisions` table; the run's driver
//! picks them up and journals them (`step_approved` / `step_rejected`), so the journal
//! stays written by the driver alone and a decision made while no process drives the run
//! is applied when it resumes.

use std::path::Path;

use serde::Serialize;

use super::EngineError;

/// Approve or reject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The step completes and its dependents start.
    Approve,
    /// An AI step with fix attempts left gets the comment as a fix prompt; any other step
    /// fails with class `rejected` (permanent).
    Reject,
}

/// A decision on a step awaiting approval.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApprovalDecision {
    /// Approve or reject.
    pub verdict: Verdict,
    /// Who decided (`--by`, default the OS user; the API's `"by"`).
    pub by: String,
    /// Why; the fix prompt of a rejected AI step.
    pub comment: Option<String>,
}

/// What [`decide_approval`] recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DecisionRecorded {
    /// The run.
    pub run_id: String,
    /// The step.
    pub step: String,
    /// The attempt whose result was decided.
    pub attempt: u32,
    /// Approve or reject.
    pub verdict: Verdict,
    /// Whether a live process drives the run (it applies the decision within a second);
    /// otherwise `pipeline resume RUN` applies it.
    pub driver_live: bool,
}

/// Records `decision` for `step` of `run` (`latest`: the newest run).
///
/// Errors: [`EngineError::UnknownRun`], [`EngineError::Input`] for an unknown step,
/// [`EngineError::NotAwaitingApproval`] when the step is not `awaiting_approval` (or
/// already has a pending decision), and state errors.
pub fn decide_approval(
    repo: Option<&Path>,
    db: Option<&Path>,
    run: &str,
    step: &str,
    decision: ApprovalDecision,
) -> Result<DecisionRecorded, EngineError> {
    let _ = (repo, db, run, step, decision);
    Err(EngineError::Internal("approvals are not built yet".into()))
}
