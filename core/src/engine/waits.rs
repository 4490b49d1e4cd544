//! Waiting inside a step's lifecycle: backoff and rate-limit delays, breaker cooldowns,
//! tool limits, and a wait that a killed run left unfinished.
//!
//! A waiting step lends its `--jobs` slot to ready steps ([`super::job_slots`]) and stops
//! waiting when the run is cancelled. Every wait is journalled first
//! ([`Event::StepWaiting`] with its end), so a resume after a kill finishes the wait
//! instead of retrying early (a rate limit would only answer 429 again).

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::run_context::RunContext;
use super::step_error::StepError;
use super::tool_limits::ToolPermit;
use crate::state::{Event, WaitKind};

/// Sleeps until `until` unless the run is cancelled first (returns false then). The
/// step's job slot is lent to other steps meanwhile.
pub(crate) async fn sleep_until(ctx: &RunContext, until: SystemTime) -> bool {
    let wait = until
        .duration_since(SystemTime::now())
        .unwrap_or(Duration::ZERO);
    super::job_slots::while_waiting(&ctx.cancel, async {
        tokio::select! {
            _ = tokio::time::sleep(wait) => true,
            _ = ctx.cancel.cancelled() => false,
        }
    })
    .await
    .unwrap_or(false)
}

/// The end of the step's last journalled backoff or rate-limit wait, when it followed
/// attempt `last_attempt` and ends in the future: the run was killed while waiting.
pub(crate) fn unfinished_wait(
    ctx: &RunContext,
    step_id: &str,
    last_attempt: u32,
) -> Option<SystemTime> {
    let entry = ctx
        .state
        .last_step_event(&ctx.run_id, step_id, "step_waiting")
        .ok()??;
    let Event::StepWaiting {
        attempt,
        wait: WaitKind::Backoff | WaitKind::RateLimit,
        until: Some(until),
        ..
    } = entry.event
    else {
        return None;
    };
    if attempt != last_attempt {
        return None;
    }
    let until = humantime::parse_rfc3339(&until).ok()?;
    (until > SystemTime::now()).then_some(until)
}

/// RFC 3339 text of an instant, as journalled.
pub(crate) fn rfc3339(at: SystemTime) -> String {
    humantime::format_rfc3339_millis(at).to_string()
}

/// Waits for the tool's `max_concurrent` slot and `requests_per_minute` window (status
/// `waiting` meanwhile, journalled). `Ok(None)` when the run is interrupted while
/// waiting; the inner option is the held concurrency slot.
pub(crate) async fn hold_tool_limits(
    ctx: &Arc<RunContext>,
    step_id: &str,
    tool: &str,
    last_attempt: u32,
) -> Result<Option<ToolPermit>, StepError> {
    let mut permit = None;
    if let Some((max, sem)) = ctx.limits.semaphore(tool) {
        let busy = sem.available_permits() == 0;
        if busy {
            ctx.journal.record(Event::StepWaiting {
                step: step_id.to_owned(),
                attempt: last_attempt,
                wait: WaitKind::ToolConcurrency,
                tool: Some(tool.to_owned()),
                class: None,
                reason: format!(
                    "tool `{tool}` is at its max_concurrent ({max}); waiting for a slot"
                ),
                delay_ms: 0,
                until: None,
            })?;
        }
        let acquire = async {
            tokio::select! {
                p = sem.clone().acquire_owned() => Some(p.ok()),
                _ = ctx.cancel.cancelled() => None,
            }
        };
        // Lend the job slot only when the tool is busy (a real wait).
        let acquired = if busy {
            super::job_slots::while_waiting(&ctx.cancel, acquire)
                .await
                .flatten()
        } else {
            acquire.await
        };
        match acquired {
            Some(p) => permit = p,
            None => return Ok(None),
        }
    }
    while let Some((limit, wait)) = ctx.limits.rate_slot(tool) {
        let until = SystemTime::now() + wait;
        ctx.journal.record(Event::StepWaiting {
            step: step_id.to_owned(),
            attempt: last_attempt,
            wait: WaitKind::ToolRate,
            tool: Some(tool.to_owned()),
            class: None,
            reason: format!(
                "tool `{tool}` reached its requests_per_minute ({limit}); waiting {:.1} s",
                wait.as_secs_f64()
            ),
            delay_ms: wait.as_millis() as u64,
            until: Some(rfc3339(until)),
        })?;
        if !sleep_until(ctx, until).await {
            return Ok(None);
        }
    }
    Ok(Some(permit))
}
