//! `pipeline approve` and `pipeline reject`: decide a step awaiting approval.
//!
//! The decision goes into the state database ([`decide_approval`]); the process driving
//! the run journals it (`step_approved` / `step_rejected`), or `pipeline resume RUN` does
//! when none drives it. The command says which. For a Temporal run (recorded in the
//! state database, or found on the server of `--temporal`) the decision is the `decide`
//! signal of its workflow ([`approve_on_temporal`]).

use pipeline_core::engine::{ApprovalDecision, DecisionRecorded, Verdict, decide_approval};

use super::exit;
use super::temporal_attach::{self, TemporalRun};
use crate::cli::DecisionArgs;
use crate::command_error::CommandError;

/// `pipeline approve RUN STEP [--comment TEXT] [--by NAME]`. Exit 0 when recorded, 2 when
/// the run or step is unknown or the step is not awaiting approval.
pub fn approve(args: &DecisionArgs) -> Result<i32, CommandError> {
    if let Some(run) = temporal_attach::find(&args.repo, &args.remote, Some(&args.run))? {
        return approve_on_temporal(args, &run, Verdict::Approve);
    }
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
    if let Some(run) = temporal_attach::find(&args.repo, &args.remote, Some(&args.run))? {
        return approve_on_temporal(args, &run, Verdict::Reject);
    }
    decide(args, Verdict::Reject)
}

/// `pipeline approve|reject RUN STEP` on a Temporal run: signals its workflow
/// `pipeline-run/<RUN>` (docs/TEMPORAL.md "Semantics"). Exit 0 when sent, 2 for an
/// unknown step, a step not awaiting approval, or an unreachable server; 3 when the
/// server fails.
pub fn approve_on_temporal(
    args: &DecisionArgs,
    run: &TemporalRun,
    verdict: Verdict,
) -> Result<i32, CommandError> {
    let connection = run.connection(&args.remote)?;
    let address = connection.address.clone();
    let by = match &args.by {
        Some(by) => by.clone(),
        None => os_user(),
    };
    let approve = verdict == Verdict::Approve;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CommandError::internal(format!("cannot start the async runtime: {e}")))?;
    let sent = runtime
        .block_on(pipeline_temporal::control::decide(
            &connection,
            &run.run_id,
            &args.step,
            approve,
            &by,
            args.comment.as_deref(),
        ))
        .map_err(|e| CommandError::with_code(e.exit_code(), e))?;
    let commit = &sent.commit[..sent.commit.len().min(12)];
    println!(
        "{} step {} ({commit}) of run {} as {by}: signalled workflow {} on Temporal {address}; \
         the workflow applies it now",
        if approve { "approved" } else { "rejected" },
        args.step,
        run.run_id,
        sent.workflow_id
    );
    Ok(exit::OK)
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
