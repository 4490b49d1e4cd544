//! `pipeline approve` and `pipeline reject`: decide a step awaiting approval.
//!
//! The decision goes into the state database ([`decide_approval`]); the process driving
//! the run journals it (`step_approved` / `step_rejected`), or `pipeline resume RUN` does
//! when none drives it. The command says which.

use pipeline_core::engine::{ApprovalDecision, DecisionRecorded, Verdict, decide_approval};

use super::exit;
use crate::cli::DecisionArgs;
use crate::command_error::CommandError;

/// `pipeline approve RUN STEP [--comment TEXT] [--by NAME]`. Exit 0 when recorded, 2 when
/// the run or step is unknown or the step is not awaiting approval.
pub fn approve(args: &DecisionArgs) -> Result<i32, CommandError> {
    decide(args, Verdict::Approve)
}

/// `pipeline reject RUN STEP --comment TEXT [--by NAME]`. The comment is required: it is
/// the step's error, or the fix prompt of an AI step. Exits as [`approve`].
pub fn reject(args: &DecisionArgs) -> Result<i32, CommandError> {
    if args.comment.as_deref().is_none_or(|c| c.trim().is_empty()) {
        return Err(CommandError::invalid(format!(
            "reject needs --comment: say what is wrong with step {}; it becomes the step's \
             error, or the fix prompt of an AI step\n  hint: pipeline reject {} {} --comment \"...\"",
            args.step, args.run, args.step
        )));
    }
    decide(args, Verdict::Reject)
}

fn decide(args: &DecisionArgs, verdict: Verdict) -> Result<i32, CommandError> {
    let by = match &args.by {
        Some(by) => by.clone(),
        None => os_user(),
    };
    let recorded = decide_approval(
        args.repo.repo.as_deref(),
        args.repo.db.as_deref(),
        &args.run,
        &args.step,
        ApprovalDecision {
            verdict,
            by: by.clone(),
            comment: args.comment.clone(),
        },
    )?;
    println!("{}", describe(&recorded, &by));
    Ok(exit::OK)
}

/// What was recorded and who applies it, e.g. `approved step ws/a (attempt 1) of run R as
/// alice; the running pipeline applies it now`.
fn describe(r: &DecisionRecorded, by: &str) -> String {
    let verb = match r.verdict {
        Verdict::Approve => "approved",
        Verdict::Reject => "rejected",
    };
    let applies = if r.driver_live {
        "the pipeline process driving the run applies it now".to_owned()
    } else {
        format!(
            "no process drives the run: `pipeline resume {}` applies it",
            r.run_id
        )
    };
    format!(
        "{verb} step {} (attempt {}) of run {} as {by}; {applies}",
        r.step, r.attempt, r.run_id
    )
}

/// The OS user: `$USER`, else `$LOGNAME`, else the numeric uid. Who decides when
/// nobody is named (`--by`; the MCP server's `by`).
pub(crate) fn os_user() -> String {
    ["USER", "LOGNAME"]
        .iter()
        .filter_map(|v| std::env::var(v).ok())
        .find(|v| !v.trim().is_empty())
        .unwrap_or_else(|| {
            // The owner of this process's /proc entry is its real uid.
            use std::os::unix::fs::MetadataExt as _;
            match std::fs::metadata("/proc/self") {
                Ok(m) => format!("uid {}", m.uid()),
                Err(_) => "unknown user".to_owned(),
            }
        })
}
