//! Approval gates: a step declaring `approval: required` waits in `awaiting_approval`
//! after its result is committed, until somebody approves or rejects it.
//!
//! Decisions are written by whoever decides (`pipeline approve`/`reject`, the REST API,
//! the MCP server) into the state database's `approval_decisions` table; the run's driver
//! picks them up and journals them (`step_approved` / `step_rejected`), so the journal
//! stays written by the driver alone and a decision made while no process drives the run
//! is applied when it resumes.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

use super::EngineError;
use super::queries::{Driver, driver_of, resolve_run};
use crate::state::{DecisionWrite, PendingDecision, StateError, StateStore};

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

/// Records `decision` for `step` of `run` (`latest`: the newest run) in the state
/// database; the run's driver journals it (within about a quarter of a second when a
/// process drives the run, else when `pipeline resume RUN` does).
///
/// Errors: [`EngineError::UnknownRun`], [`EngineError::Input`] for an unknown step or an
/// empty `by`, [`EngineError::NotAwaitingApproval`] when the step is not
/// `awaiting_approval` (or already has a pending decision), and state errors.
pub fn decide_approval(
    repo: Option<&Path>,
    db: Option<&Path>,
    run: &str,
    step: &str,
    decision: ApprovalDecision,
) -> Result<DecisionRecorded, EngineError> {
    let by = decision.by.trim();
    if by.is_empty() {
        return Err(EngineError::Input(
            "the decision names nobody: `by` is empty\n  hint: pass `--by NAME`".into(),
        ));
    }
    let (_, workspace, state) = super::queries::open(repo, db)?;
    let record = resolve_run(&state, Some(run))?;
    let run_id = record.run_id.clone();
    let comment = decision
        .comment
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty());
    let approve = decision.verdict == Verdict::Approve;
    let written = match state.record_approval_decision(&run_id, step, approve, by, comment) {
        Err(StateError::RunNotFound { .. }) => return Err(EngineError::UnknownRun(run_id)),
        other => other?,
    };
    let attempt = match written {
        DecisionWrite::Recorded { attempt } => attempt,
        DecisionWrite::UnknownStep => {
            let known: Vec<String> = state
                .steps(&run_id)?
                .into_iter()
                .map(|s| s.step_id)
                .collect();
            let hint = match closest_step(step, &known) {
                Some(near) => format!("did you mean `{near}`? "),
                None => String::new(),
            };
            return Err(EngineError::Input(format!(
                "run {run_id} has no step `{step}`\n  hint: {hint}`pipeline status {run_id}` lists its steps"
            )));
        }
        DecisionWrite::NotAwaiting(status) => {
            return Err(EngineError::NotAwaitingApproval {
                run_id,
                step: step.to_owned(),
                status: status.to_string(),
            });
        }
        DecisionWrite::AlreadyDecided { approve, by } => {
            return Err(EngineError::NotAwaitingApproval {
                run_id,
                step: step.to_owned(),
                status: format!(
                    "awaiting_approval, already {} by {by} and not yet applied",
                    if approve { "approved" } else { "rejected" }
                ),
            });
        }
    };
    let driver_live = driver_of(&workspace, &record)? == Some(Driver::Live);
    Ok(DecisionRecorded {
        run_id,
        step: step.to_owned(),
        attempt,
        verdict: decision.verdict,
        driver_live,
    })
}

/// The known step id closest to `wanted` by edit distance, when close enough to be a typo.
fn closest_step<'a>(wanted: &str, known: &'a [String]) -> Option<&'a str> {
    known
        .iter()
        .map(|k| (strsim::levenshtein(wanted, k), k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 4))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k.as_str())
}

/// How often the driver looks for decisions while a step awaits one.
const POLL_INTERVAL: Duration = Duration::from_millis(250);

/// A decision the driver picked up for one awaiting attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Decided {
    /// Approve or reject.
    pub verdict: Verdict,
    /// Who decided.
    pub by: String,
    /// Why.
    pub comment: Option<String>,
}

/// The driver's side of approval gates: steps awaiting a decision register here, and one
/// poller task (running only while some step waits) reads the run's pending decisions
/// every [`POLL_INTERVAL`] when `PRAGMA data_version` says another process wrote to the
/// database, and hands each to its step.
#[derive(Clone)]
pub(crate) struct ApprovalWatch {
    inner: Arc<Mutex<Waiters>>,
}

#[derive(Default)]
struct Waiters {
    /// `(step, attempt)` -> where its decision goes.
    waiting: HashMap<(String, u32), oneshot::Sender<Decided>>,
    /// Whether the poller task runs.
    polling: bool,
    /// A step registered since the last read: read even if nobody wrote meanwhile (its
    /// decision may have been recorded before it registered).
    force: bool,
}

impl ApprovalWatch {
    pub(crate) fn new() -> ApprovalWatch {
        ApprovalWatch {
            inner: Arc::new(Mutex::new(Waiters::default())),
        }
    }

    /// Waits for the decision on `attempt` of `step`, polling `state` for run `run_id`.
    /// `None` when the run is cancelled first (the step stays awaiting approval).
    pub(crate) async fn wait(
        &self,
        state: &StateStore,
        run_id: &str,
        step: &str,
        attempt: u32,
        cancel: &CancellationToken,
    ) -> Option<Decided> {
        let (tx, rx) = oneshot::channel();
        let start_poller = {
            let mut w = self.lock();
            w.waiting.insert((step.to_owned(), attempt), tx);
            w.force = true;
            !std::mem::replace(&mut w.polling, true)
        };
        if start_poller {
            tokio::spawn(
                self.clone()
                    .poll(state.clone(), run_id.to_owned(), cancel.clone()),
            );
        }
        let decided = tokio::select! {
            d = rx => d.ok(),
            _ = cancel.cancelled() => None,
        };
        self.lock().waiting.remove(&(step.to_owned(), attempt));
        decided
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Waiters> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The poller: ends when no step waits any more, or when the run is cancelled.
    async fn poll(self, state: StateStore, run_id: String, cancel: CancellationToken) {
        let mut seen: Option<i64> = None;
        loop {
            let force = {
                let mut w = self.lock();
                if w.waiting.is_empty() || cancel.is_cancelled() {
                    w.polling = false;
                    return;
                }
                std::mem::take(&mut w.force)
            };
            let version = state.data_version().ok();
            if force || version.is_none() || version != seen {
                seen = version;
                match state.pending_approval_decisions(&run_id) {
                    Ok(pending) => self.deliver(pending),
                    Err(e) => tracing::warn!("cannot read the pending approval decisions: {e}"),
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(POLL_INTERVAL) => {}
                _ = cancel.cancelled() => {}
            }
        }
    }

    fn deliver(&self, pending: Vec<PendingDecision>) {
        let mut w = self.lock();
        for d in pending {
            if let Some(tx) = w.waiting.remove(&(d.step_id, d.attempt)) {
                // The step's wait may have ended meanwhile (cancelled): the decision
                // stays pending in the database and resume applies it.
                let _ = tx.send(Decided {
                    verdict: if d.approve {
                        Verdict::Approve
                    } else {
                        Verdict::Reject
                    },
                    by: d.by,
                    comment: d.comment,
                });
            }
        }
    }
}
