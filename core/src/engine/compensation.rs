//! Saga-style compensation: when a step fails permanently, its `compensation` commands run
//! in order (in the repository, with `sh -c`), each recorded as an event with its outcome
//! and log, so effects outside git (a deployed service, a created ticket) can be undone.
//! A failing compensation is recorded and the next one still runs.

use std::sync::Arc;

use pipeline_adapters::{OutputLimits, Termination, run_process};

use super::attempt::shell_spec;
use super::containment::{ProcessKind, containment};
use super::run_context::RunContext;
use super::step_error::StepError;
use crate::model::Step;
use crate::state::Event;

/// Runs the step's compensations in order, each journalled with its outcome. Errors:
/// [`StepError::Journal`] when an outcome cannot be recorded.
pub(crate) async fn compensate(
    ctx: &Arc<RunContext>,
    step: &Step,
    attempt: u32,
) -> Result<(), StepError> {
    let step_id = step.id.as_str();
    for (k, action) in step.compensation.iter().enumerate() {
        let log = ctx
            .workspace
            .step_logs_dir(&ctx.run_id, step_id)
            .join(format!("compensation-{}.log", k + 1));
        let spec = shell_spec(
            ctx,
            step,
            &action.command,
            &ctx.workspace.repo_root,
            action.timeout_sec,
            containment(
                ctx,
                step,
                attempt,
                ProcessKind::Compensation(k + 1),
                &ctx.workspace.repo_root,
            ),
        );
        // Compensations run even when the run is being interrupted: they undo effects.
        let outcome = run_process(
            &spec,
            &log,
            &OutputLimits::default(),
            None,
            tokio_util::sync::CancellationToken::new(),
        )
        .await;
        let (ok, what) = match &outcome {
            Ok(o) => (
                o.termination == Termination::Exited(0),
                o.termination.to_string(),
            ),
            Err(e) => (false, e.to_string()),
        };
        if !ok {
            tracing::warn!("compensation {} of step {step_id} failed: {what}", k + 1);
        }
        ctx.journal.record(Event::CompensationFinished {
            step: step_id.to_owned(),
            index: k + 1,
            command: action.command.clone(),
            succeeded: ok,
            outcome: what,
            log: log.to_string_lossy().into_owned(),
        })?;
    }
    Ok(())
}
