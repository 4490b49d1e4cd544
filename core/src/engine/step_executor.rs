//! Executing one step: its worktree at the merge of its inputs, then attempts until one
//! succeeds or the error engine gives up.
//!
//! Write-ahead discipline (DESIGN "State and resume"): each attempt is recorded (`running`)
//! before its tool starts; `completed` is recorded, with its checkpoint, only after the
//! result commit exists. A crash between two records leaves the step `running`,
//! `validating`, `retrying` or `waiting`, which resume runs again from a clean worktree with
//! the next attempt number (attempt numbers and the error history live in the database).
//!
//! After a failed attempt (DESIGN "Errors and recovery"): the error engine classifies it
//! and the report is stored; the tool's circuit breaker counts it; failed acceptance tests
//! of an AI tool are fed back as a fix prompt while `fix_attempts` last; otherwise the
//! retry policy decides: retry after a backoff with jitter (state `retrying`), wait for a
//! rate limit's reset (`waiting`), or give up, which escalates to the next tool of the
//! step's `escalation` chain, or fails the step: its compensations run, and its dependents
//! are skipped by the scheduler. While a tool's breaker is open the step waits (`waiting`)
//! or takes the profile's fallback; it never calls the failing tool.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use git2::Oid;
use pipeline_error::{Admission, Decision};

use super::attempt::{ChosenTool, Failure, Stage, blocking, run_attempt};
use super::run_context::RunContext;
use super::{RunEvent, step_error_text};
use crate::git::{GitError, Worktree};
use crate::model::{Isolation, Step, StepKind, ToolChoice};
use crate::state::{AttemptOutcome, AttemptResult, Checkpoint, StepStatus};

/// How one execution of a step ended.
#[derive(Debug)]
pub(crate) enum StepResult {
    Completed {
        commit: Oid,
    },
    Failed {
        error: String,
    },
    /// Stopped by Ctrl-C: the run is resumable and the step runs again on resume.
    Interrupted,
}

/// Runs step `idx` of the plan with input commits `inputs` (its dependencies' results,
/// sorted; the run's base commit for a root). Never returns an error: everything that goes
/// wrong is recorded on the step and reported as [`StepResult::Failed`].
pub(crate) async fn execute_step(
    ctx: Arc<RunContext>,
    idx: usize,
    inputs: Vec<Oid>,
    attempt_hint: u32,
) -> StepResult {
    let step = &ctx.set.steps[idx];
    let step_id = step.id.as_str().to_string();
    match execute_inner(&ctx, step, inputs, attempt_hint).await {
        Ok(r) => r,
        Err(message) => {
            // Failure outside an attempt (merge conflict, worktree, state).
            if let Err(e) =
                ctx.state
                    .set_step_status(&ctx.run_id, &step_id, StepStatus::Failed, Some(&message))
            {
                tracing::error!("cannot record failure of step {step_id}: {e}");
            }
            report_status(
                &ctx,
                &step_id,
                StepStatus::Failed,
                Some(message.clone()),
                None,
            );
            StepResult::Failed { error: message }
        }
    }
}

fn report_status(
    ctx: &RunContext,
    step: &str,
    status: StepStatus,
    error: Option<String>,
    commit: Option<String>,
) {
    ctx.reporter.report(&RunEvent::StepStatus {
        step: step.to_string(),
        status,
        error,
        commit,
    });
}

/// Milliseconds since the Unix epoch (0 before it), as recorded in wait events.
fn unix_ms(at: SystemTime) -> u64 {
    at.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// When the step's last recorded wait (`retry_scheduled` or `rate_limit_wait`, with an
/// `until_ms`) followed attempt `last_attempt` and ends in the future: a run killed while
/// waiting must not retry early on resume (a rate limit would only answer 429 again).
fn unfinished_wait(ctx: &RunContext, step_id: &str, last_attempt: u32) -> Option<SystemTime> {
    let event = ctx
        .state
        .last_step_event(
            &ctx.run_id,
            step_id,
            &["retry_scheduled", "rate_limit_wait"],
        )
        .ok()??;
    if event.data.get("attempt")?.as_u64()? != u64::from(last_attempt) {
        return None;
    }
    let until =
        SystemTime::UNIX_EPOCH + Duration::from_millis(event.data.get("until_ms")?.as_u64()?);
    (until > SystemTime::now()).then_some(until)
}

/// Sleeps until `until` unless the run is cancelled first (returns false then). The
/// step's job slot is lent to other steps meanwhile (see [`super::job_slots`]).
async fn sleep_until(ctx: &RunContext, until: SystemTime) -> bool {
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

async fn prepare_worktree(
    ctx: &Arc<RunContext>,
    step: &Step,
    start: Oid,
) -> Result<Option<Worktree>, String> {
    match step.isolation {
        Isolation::Worktree => {
            let pool = ctx.pool.clone();
            let path = step.id.as_str().to_string();
            let branch = format!("pipeline-steps/{}/{}", ctx.run_id, step.id);
            Ok(Some(
                blocking(move || pool.acquire(&path, &branch, start))
                    .await
                    .map_err(|e| format!("cannot prepare the worktree: {e}"))?,
            ))
        }
        Isolation::None => Ok(None),
    }
}

async fn execute_inner(
    ctx: &Arc<RunContext>,
    step: &Step,
    inputs: Vec<Oid>,
    attempt_hint: u32,
) -> Result<StepResult, String> {
    let step_id = step.id.as_str();
    let repo = ctx.repo.clone();
    let merge_inputs = inputs.clone();
    let message = format!("pipeline: merge inputs of {step_id}");
    let start = blocking(move || repo.merge_commits(&merge_inputs, &message))
        .await
        .map_err(|e| match e {
            GitError::MergeConflict { paths } => format!(
                "merging the results of its dependencies conflicts in: {}",
                paths.join(", ")
            ),
            other => format!("cannot merge the results of its dependencies: {other}"),
        })?;

    // Resumed in the middle of a backoff or rate-limit wait (the process was killed
    // while waiting): finish the wait before the next attempt.
    if attempt_hint > 1
        && let Some(until) = unfinished_wait(ctx, step_id, attempt_hint - 1)
    {
        let secs = until
            .duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO)
            .as_secs_f64();
        set_status(
            ctx,
            step_id,
            StepStatus::Retrying,
            &format!(
                "resumed during its wait after attempt {}: {secs:.1} s left before the next attempt",
                attempt_hint - 1
            ),
        )?;
        if !sleep_until(ctx, until).await {
            return interrupted(ctx, step_id, None, None, 0).await;
        }
    }
    let mut worktree = prepare_worktree(ctx, step, start).await?;
    let mut chain: Vec<ToolChoice> = vec![step.tool.clone()];
    chain.extend(
        step.escalation
            .iter()
            .map(|t| ToolChoice::Profile(t.clone())),
    );
    let mut link = 0;
    let mut fixes_left = step.fix_attempts;
    let mut fix_prompt: Option<String> = None;
    let mut next_attempt = attempt_hint;
    let mut reset_before_attempt = false;

    loop {
        // Tool for this attempt (waits while circuit breakers are open).
        let tool = match step.kind {
            StepKind::WorkstreamAcceptance => None,
            StepKind::Task => match choose_tool(ctx, step, &chain[link]).await? {
                Some(t) => Some(t),
                None => return interrupted(ctx, step_id, worktree, None, 0).await,
            },
        };
        // Tool limits (max_concurrent, requests_per_minute) are waited for before the
        // attempt is recorded, so `running` means the tool is really running.
        let permit = match &tool {
            Some(t) => match hold_tool_limits(ctx, step_id, &t.name).await? {
                Some(p) => p,
                None => return interrupted(ctx, step_id, worktree, None, 0).await,
            },
            None => None,
        };
        if reset_before_attempt {
            // A new attempt of the same tool (or the next tool of the chain) starts clean.
            if let Some(wt) = worktree.take() {
                ctx.pool.keep(wt);
            }
            worktree = prepare_worktree(ctx, step, start).await?;
        }
        let cwd = worktree
            .as_ref()
            .map(|w| w.path().to_path_buf())
            .unwrap_or_else(|| ctx.workspace.repo_root.clone());
        let log_path = ctx
            .workspace
            .attempt_log(&ctx.run_id, step_id, next_attempt);
        let worktree_text = worktree
            .as_ref()
            .map(|w| w.path().to_string_lossy().into_owned());
        let attempt = ctx
            .state
            .begin_attempt(
                &ctx.run_id,
                step_id,
                worktree_text.as_deref(),
                &log_path.to_string_lossy(),
            )
            .map_err(|e| format!("cannot record the attempt: {e}"))?;
        let log_path = if attempt == next_attempt {
            log_path
        } else {
            ctx.workspace.attempt_log(&ctx.run_id, step_id, attempt)
        };
        next_attempt = attempt + 1;
        ctx.reporter.report(&RunEvent::StepStarted {
            step: step_id.to_string(),
            attempt,
            worktree: worktree_text,
            log: log_path.to_string_lossy().into_owned(),
        });
        let started = Instant::now();
        let prompt = fix_prompt
            .take()
            .unwrap_or_else(|| prompt_with_specs(ctx, step));
        let outcome = run_attempt(
            ctx,
            step,
            tool.as_ref(),
            &prompt,
            &cwd,
            worktree.as_ref().and_then(|w| w.tracker().cloned()),
            start,
            attempt,
            &log_path,
        )
        .await;
        drop(permit);
        let duration_ms = started.elapsed().as_millis() as u64;
        let breaker_tool = tool
            .as_ref()
            .filter(|t| t.name != pipeline_adapters::SHELL_TOOL)
            .map(|t| t.name.clone());

        match outcome {
            Ok(success) => {
                if let Some(name) = &breaker_tool
                    && let Err(e) = ctx.errors.breaker(name, step).record_success_in(
                        &ctx.state,
                        name,
                        SystemTime::now(),
                    )
                {
                    tracing::warn!("cannot record success on the circuit breaker of {name}: {e}");
                }
                let record = AttemptOutcome {
                    outcome: AttemptResult::Succeeded,
                    exit_code: Some(0),
                    error: None,
                    duration_ms,
                };
                ctx.state
                    .finish_attempt(&ctx.run_id, step_id, attempt, &record)
                    .map_err(|e| format!("cannot record the attempt: {e}"))?;
                let checkpoint = Checkpoint {
                    commit: success.commit.to_string(),
                    definition_hash: step.definition_hash.clone(),
                    outputs: serde_json::json!({
                        "inputs": inputs.iter().map(Oid::to_string).collect::<Vec<_>>(),
                        "start_commit": start.to_string(),
                        "changed": success.changed,
                        "tests": success.tests,
                        "attempt": attempt,
                        "tool": tool.as_ref().map(|t| t.name.clone()),
                        "usage": success.usage,
                    }),
                };
                ctx.state
                    .complete_step(&ctx.run_id, step_id, &checkpoint)
                    .map_err(|e| format!("cannot record completion: {e}"))?;
                report_status(
                    ctx,
                    step_id,
                    StepStatus::Completed,
                    None,
                    Some(success.commit.to_string()),
                );
                if let Some(wt) = worktree {
                    let pool = ctx.pool.clone();
                    if let Err(e) = blocking(move || pool.release(wt)).await {
                        tracing::warn!(
                            "step {step_id}: cannot return its worktree to the pool: {e}"
                        );
                    }
                }
                return Ok(StepResult::Completed {
                    commit: success.commit,
                });
            }
            Err(Failure::Interrupted) => {
                return interrupted(ctx, step_id, worktree, Some(attempt), duration_ms).await;
            }
            Err(Failure::Attempt {
                stage,
                result,
                exit_code,
                error,
                failure,
            }) => {
                let record = AttemptOutcome {
                    outcome: result,
                    exit_code,
                    error: Some(error.clone()),
                    duration_ms,
                };
                ctx.state
                    .finish_attempt(&ctx.run_id, step_id, attempt, &record)
                    .map_err(|e| format!("cannot record the attempt: {e}"))?;
                let report = ctx.errors.classify(&failure);
                let history = ctx
                    .state
                    .attempt_error_history(&ctx.run_id, step_id)
                    .map_err(|e| format!("cannot read the error history: {e}"))?;
                ctx.state
                    .record_attempt_error(&ctx.run_id, step_id, attempt, &report)
                    .map_err(|e| format!("cannot record the error: {e}"))?;
                if let Some(name) = &breaker_tool
                    && stage == Stage::Tool
                    && let Err(e) = ctx.errors.breaker(name, step).record_failure_in(
                        &ctx.state,
                        name,
                        &report.class,
                        &report.summary,
                        SystemTime::now(),
                    )
                {
                    tracing::warn!("cannot record failure on the circuit breaker of {name}: {e}");
                }
                let class = report.class.name();

                // Fix loop: feed failing acceptance tests back to an AI tool.
                if stage == Stage::Tests
                    && fixes_left > 0
                    && tool.as_ref().is_some_and(|t| t.takes_prompts)
                {
                    fixes_left -= 1;
                    fix_prompt = Some(fix_prompt_text(ctx, step, &error, &report));
                    let note = format!(
                        "{error}\n(asking the tool to fix it; {fixes_left} fix attempt(s) left)"
                    );
                    set_status(ctx, step_id, StepStatus::Retrying, &note)?;
                    let _ = ctx.state.append_event(
                        &ctx.run_id,
                        Some(step_id),
                        "fix_requested",
                        &serde_json::json!({"attempt": attempt, "class": class}),
                    );
                    reset_before_attempt = false;
                    continue;
                }

                let tool_name = tool
                    .as_ref()
                    .map(|t| t.name.as_str())
                    .filter(|n| *n != pipeline_adapters::SHELL_TOOL);
                let policy = ctx.errors.policy(step, tool_name);
                // `history` was read before this attempt's error was recorded: the earlier
                // attempts only, as `decide` expects.
                let decision =
                    pipeline_error::decide(&policy, &history, &report, SystemTime::now());
                match decision {
                    Decision::Retry { after } => {
                        let note = format!(
                            "{error}\n(class {class}: retrying in {:.1} s)",
                            after.as_secs_f64()
                        );
                        // The event first: a resume after a kill finds the wait's end in it.
                        let _ = ctx.state.append_event(&ctx.run_id, Some(step_id), "retry_scheduled", &serde_json::json!({"attempt": attempt, "class": class, "delay_ms": after.as_millis() as u64, "until_ms": unix_ms(SystemTime::now() + after)}));
                        set_status(ctx, step_id, StepStatus::Retrying, &note)?;
                        if !sleep_until(ctx, SystemTime::now() + after).await {
                            return interrupted(ctx, step_id, worktree, None, 0).await;
                        }
                        reset_before_attempt = true;
                    }
                    Decision::WaitUntil(until) => {
                        let secs = until
                            .duration_since(SystemTime::now())
                            .unwrap_or(Duration::ZERO)
                            .as_secs_f64();
                        let note = format!(
                            "{error}\n(class {class}: waiting {secs:.1} s for the rate limit to reset)"
                        );
                        let _ = ctx.state.append_event(&ctx.run_id, Some(step_id), "rate_limit_wait", &serde_json::json!({"attempt": attempt, "wait_ms": (secs * 1000.0) as u64, "until_ms": unix_ms(until)}));
                        set_status(ctx, step_id, StepStatus::Waiting, &note)?;
                        if !sleep_until(ctx, until).await {
                            return interrupted(ctx, step_id, worktree, None, 0).await;
                        }
                        reset_before_attempt = true;
                    }
                    Decision::GiveUp { reason } => {
                        if link + 1 < chain.len() {
                            link += 1;
                            fixes_left = step.fix_attempts;
                            let next = match &chain[link] {
                                ToolChoice::Profile(p) => p.clone(),
                                _ => String::new(),
                            };
                            let note = format!("{error}\n({reason}; escalating to tool `{next}`)");
                            set_status(ctx, step_id, StepStatus::Retrying, &note)?;
                            let _ = ctx.state.append_event(&ctx.run_id, Some(step_id), "escalated", &serde_json::json!({"attempt": attempt, "to": next, "reason": reason.to_string()}));
                            reset_before_attempt = true;
                            continue;
                        }
                        let final_error = format!("{error}\n(class {class}; {reason})");
                        let compensated = super::compensation::compensate(ctx, step).await;
                        ctx.state
                            .set_step_status(
                                &ctx.run_id,
                                step_id,
                                StepStatus::Failed,
                                Some(&final_error),
                            )
                            .map_err(|e| format!("cannot record the failure: {e}"))?;
                        report_status(
                            ctx,
                            step_id,
                            StepStatus::Failed,
                            Some(final_error.clone()),
                            None,
                        );
                        if let Some(wt) = worktree {
                            if compensated {
                                // Saga semantics: the step's changes are undone with it.
                                let pool = ctx.pool.clone();
                                let _ = blocking(move || pool.release(wt)).await;
                            } else {
                                ctx.pool.keep(wt);
                            }
                        }
                        return Ok(StepResult::Failed { error: final_error });
                    }
                }
            }
        }
    }
}

fn set_status(
    ctx: &RunContext,
    step_id: &str,
    status: StepStatus,
    note: &str,
) -> Result<(), String> {
    ctx.state
        .set_step_status(&ctx.run_id, step_id, status, Some(note))
        .map_err(|e| format!("cannot record the step's status: {e}"))?;
    report_status(ctx, step_id, status, Some(note.to_string()), None);
    Ok(())
}

async fn interrupted(
    ctx: &Arc<RunContext>,
    step_id: &str,
    worktree: Option<Worktree>,
    attempt: Option<u32>,
    duration_ms: u64,
) -> Result<StepResult, String> {
    if let Some(attempt) = attempt {
        let record = AttemptOutcome {
            outcome: AttemptResult::Interrupted,
            exit_code: None,
            error: Some("interrupted".into()),
            duration_ms,
        };
        let _ = ctx
            .state
            .finish_attempt(&ctx.run_id, step_id, attempt, &record);
    }
    let _ = ctx.state.set_step_status(
        &ctx.run_id,
        step_id,
        StepStatus::Interrupted,
        Some("interrupted"),
    );
    report_status(ctx, step_id, StepStatus::Interrupted, None, None);
    if let Some(wt) = worktree {
        ctx.pool.keep(wt);
    }
    Ok(StepResult::Interrupted)
}

/// Waits for the tool's `max_concurrent` slot and `requests_per_minute` window (state
/// `waiting` meanwhile). `Ok(None)` when the run is interrupted while waiting; the inner
/// option is the held concurrency slot.
async fn hold_tool_limits(
    ctx: &Arc<RunContext>,
    step_id: &str,
    tool: &str,
) -> Result<Option<super::tool_limits::ToolPermit>, String> {
    let mut permit = None;
    if let Some((max, sem)) = ctx.limits.semaphore(tool) {
        if sem.available_permits() == 0 {
            set_status(
                ctx,
                step_id,
                StepStatus::Waiting,
                &format!("tool `{tool}` is at its max_concurrent ({max}); waiting for a slot"),
            )?;
        }
        let acquire = async {
            tokio::select! {
                p = sem.clone().acquire_owned() => Some(p.ok()),
                _ = ctx.cancel.cancelled() => None,
            }
        };
        // Lend the job slot only when the tool is busy (a real wait).
        let acquired = if sem.available_permits() == 0 {
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
        set_status(
            ctx,
            step_id,
            StepStatus::Waiting,
            &format!(
                "tool `{tool}` reached its requests_per_minute ({limit}); waiting {:.1} s",
                wait.as_secs_f64()
            ),
        )?;
        if !sleep_until(ctx, SystemTime::now() + wait).await {
            return Ok(None);
        }
    }
    Ok(Some(permit))
}

/// The step's prompt with the text of its `specs` references.
fn prompt_with_specs(ctx: &RunContext, step: &Step) -> String {
    let mut p = step.prompt_text();
    if let Some(text) = ctx.spec_texts.get(&step.id).filter(|t| !t.is_empty()) {
        p.push_str(
            "
## Referenced specifications
",
        );
        p.push_str(text);
    }
    p
}

/// The prompt of a fix attempt: the step's prompt, what failed, and the diagnostics the
/// error engine extracted.
fn fix_prompt_text(
    ctx: &RunContext,
    step: &Step,
    error: &str,
    report: &pipeline_error::ErrorReport,
) -> String {
    let mut p = prompt_with_specs(ctx, step);
    p.push_str("\n## The previous attempt failed its acceptance tests\n\n");
    p.push_str(error);
    p.push('\n');
    let diagnostics: Vec<String> = report
        .diagnostics
        .iter()
        .take(50)
        .map(|d| format!("- {d}"))
        .collect();
    if !diagnostics.is_empty() {
        p.push_str("\nDiagnostics:\n");
        p.push_str(&diagnostics.join("\n"));
        p.push('\n');
    }
    p.push_str("\nFix the code so that the acceptance tests pass. Change only files in scope.\n");
    p
}

/// Picks the tool for the next attempt of `choice`: the profile itself, or (for a
/// capability) the highest-priority available profile; a profile whose circuit breaker is
/// open is replaced by its first admitted `fallback`; when none is admitted, the step waits
/// (`waiting`) until the earliest breaker cooldown ends. Returns `None` when interrupted.
async fn choose_tool(
    ctx: &Arc<RunContext>,
    step: &Step,
    choice: &ToolChoice,
) -> Result<Option<ChosenTool>, String> {
    let step_id = step.id.as_str();
    let candidates: Vec<String> = match choice {
        ToolChoice::Shell(command) => {
            return Ok(Some(ChosenTool {
                name: pipeline_adapters::SHELL_TOOL.to_string(),
                kind: "custom".into(),
                adapter: ctx.registry.shell_adapter(command),
                takes_prompts: false,
            }));
        }
        ToolChoice::Profile(name) => {
            let mut c = vec![name.clone()];
            if let Some(p) = ctx.registry.profile(name) {
                c.extend(p.fallback.iter().cloned());
            }
            c
        }
        ToolChoice::Capability(cap) => ctx
            .registry
            .with_capability(cap)
            .into_iter()
            .map(str::to_string)
            .collect(),
        ToolChoice::None => return Err("step has no tool".into()),
    };
    let mut waited = false;
    loop {
        let mut unavailable = Vec::new();
        let mut earliest: Option<(SystemTime, String)> = None;
        for name in &candidates {
            if !ctx.registry.is_installed(name) {
                let command = ctx
                    .registry
                    .profile(name)
                    .map(|p| p.command.clone())
                    .unwrap_or_default();
                unavailable.push(format!("{name}: `{command}` is not installed"));
                continue;
            }
            let adapter = match ctx.registry.adapter(name) {
                Ok(a) => a,
                Err(e) => {
                    unavailable.push(format!("{name}: {e}"));
                    continue;
                }
            };
            let admission = ctx
                .errors
                .breaker(name, step)
                .admit_in(&ctx.state, name, SystemTime::now())
                .map_err(|e| format!("cannot read the circuit breaker of {name}: {e}"))?;
            match admission {
                Admission::Allowed | Admission::Trial => {
                    if name != &candidates[0] || !unavailable.is_empty() || waited {
                        let _ = ctx.state.append_event(
                            &ctx.run_id,
                            Some(step_id),
                            "tool_selected",
                            &serde_json::json!({"tool": name, "requested": candidates[0], "skipped": unavailable, "trial": admission == Admission::Trial}),
                        );
                    }
                    let profile = ctx.registry.profile(name);
                    let kind = profile
                        .map(|p| p.kind.as_str().to_string())
                        .unwrap_or_else(|| "custom".into());
                    let takes_prompts = profile.is_some();
                    if waited {
                        report_status(ctx, step_id, StepStatus::Running, None, None);
                    }
                    return Ok(Some(ChosenTool {
                        name: name.clone(),
                        kind,
                        adapter,
                        takes_prompts,
                    }));
                }
                Admission::Rejected { until } => {
                    unavailable.push(format!(
                        "{name}: circuit breaker open until {}",
                        humantime::format_rfc3339_seconds(until)
                    ));
                    if earliest.as_ref().is_none_or(|(t, _)| until < *t) {
                        earliest = Some((until, name.clone()));
                    }
                }
            }
        }
        let Some((until, tool)) = earliest else {
            return Err(step_error_text(
                "no usable tool for the step",
                &unavailable.join("\n"),
            ));
        };
        let secs = until
            .duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO)
            .as_secs_f64();
        let note = format!(
            "circuit breaker of tool `{tool}` is open; waiting {secs:.1} s for its cooldown"
        );
        set_status(ctx, step_id, StepStatus::Waiting, &note)?;
        let _ = ctx.state.append_event(
            &ctx.run_id,
            Some(step_id),
            "breaker_wait",
            &serde_json::json!({"tool": tool, "wait_ms": (secs * 1000.0) as u64}),
        );
        waited = true;
        if !sleep_until(ctx, until).await {
            return Ok(None);
        }
    }
}
