//! One attempt of a step: tool, acceptance tests, scope check, commit.
//!
//! An attempt either produces a result commit or fails with an [`AttemptFailure`] that the
//! error engine can classify (tool, command, how the process ended, its output and log).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use git2::Oid;
use pipeline_adapters::{
    Containment, Invocation, LineCallback, OutputLimits, ProcessOutcome, ProcessSpec, Termination,
    Usage, run_process,
};
use pipeline_error::{AttemptFailure, Termination as FailureTermination};

use super::containment::{ProcessKind, containment};
use super::next_action::Stage;
use super::run_context::RunContext;
use super::step_error::StepError;
use super::step_error_text;
use super::tool_choice::ChosenTool;
use crate::git::{
    ChangeKind, ChangeTracker, blocking, commit_staged, snapshot_uncommitted,
    stage_worktree_changes,
};
use crate::model::{FileScope, Isolation, Step, StepKind};
use crate::state::{AttemptResult, Event, TestResult};

/// A failed attempt, for the error engine and the decision that follows.
pub(crate) struct AttemptFailed {
    /// Which part failed.
    pub stage: Stage,
    /// How the attempt ended.
    pub result: AttemptResult,
    /// The tool's or test's exit code, when it exited.
    pub exit_code: Option<i32>,
    /// What went wrong, with the output's tail.
    pub error: String,
    /// What the error engine classifies.
    pub failure: AttemptFailure,
    /// Tokens and cost the tool reported before the failure.
    pub usage: Option<Usage>,
    /// The stall timeout, when the tool was stopped for writing nothing and using no CPU
    /// that long (journalled as `attempt_stalled`).
    pub stalled: Option<Duration>,
}

/// Why an attempt did not complete.
pub(crate) enum Failure {
    /// It failed (classified next).
    Attempt(Box<AttemptFailed>),
    /// The run was interrupted while it ran.
    Interrupted {
        /// Tokens and cost the tool reported before it was stopped.
        usage: Option<Usage>,
    },
    /// Recording the attempt's state failed: the run stops.
    Journal(StepError),
}

/// A successful attempt.
pub(crate) struct Success {
    /// The result commit (the start commit for a step that commits nothing).
    pub commit: Oid,
    /// Tokens and cost the tool reported.
    pub usage: Option<Usage>,
    /// Its acceptance tests.
    pub tests: Vec<TestResult>,
    /// Paths it changed.
    pub changed: Vec<String>,
}

fn termination(t: Termination) -> FailureTermination {
    match t {
        Termination::Cancelled => FailureTermination::TimedOut,
        other => other,
    }
}

fn failure_of(
    tool: &str,
    kind: &str,
    command: &str,
    out: &ProcessOutcome,
    log: &Path,
) -> AttemptFailure {
    let mut f = AttemptFailure::new(
        tool,
        command,
        termination(out.termination),
        out.tail.clone(),
    )
    .with_kind(kind)
    .finished_at(SystemTime::now());
    f.log_path = Some(log.to_path_buf());
    f
}

fn plain_failure(stage: Stage, error: String, tool: &str) -> Failure {
    let failure = AttemptFailure::new(tool, "", FailureTermination::Exited(1), error.clone())
        .finished_at(SystemTime::now());
    Failure::Attempt(Box::new(AttemptFailed {
        stage,
        result: AttemptResult::Failed,
        exit_code: None,
        error,
        failure,
        usage: None,
        stalled: None,
    }))
}

/// Runs the tool (unless the step is a workstream's acceptance gate), the acceptance tests,
/// the scope check and the commit, in `cwd` starting from `start`. `prompt` is `None` for
/// a plain command with nothing to say (it gets no prompt file).
#[allow(clippy::too_many_arguments)]
pub(crate) async fn run_attempt(
    ctx: &Arc<RunContext>,
    step: &Step,
    tool: Option<&ChosenTool>,
    prompt: Option<&str>,
    cwd: &Path,
    tracker: Option<ChangeTracker>,
    start: Oid,
    attempt: u32,
    log_path: &Path,
) -> Result<Success, Failure> {
    let step_id = step.id.as_str();
    let cancel = ctx.cancel.child_token();
    let limits = OutputLimits {
        max_log_bytes: ctx.options.max_log_bytes,
        ..OutputLimits::default()
    };

    // A read_only step in the main checkout: what the checkout holds before, to find what
    // the tool and tests changed (a worktree is compared with its start commit instead).
    let main_checkout = cwd == ctx.workspace.repo_root.as_path();
    let before = if step.read_only && step.kind == StepKind::Task && main_checkout {
        let repo = ctx.repo.clone();
        Some(
            blocking(move || snapshot_uncommitted(&repo))
                .await
                .map_err(|e| {
                    plain_failure(
                        Stage::Commit,
                        format!("cannot record the checkout before a read_only step: {e}"),
                        "git",
                    )
                })?,
        )
    } else {
        None
    };

    let mut usage = None;
    if let Some(tool) = tool {
        let prompt_file = ctx
            .workspace
            .step_logs_dir(&ctx.run_id, step_id)
            .join(format!("{attempt}.prompt.md"));
        let mut env: BTreeMap<String, String> = step.env.clone();
        env.insert("PIPELINE_RUN_ID".into(), ctx.run_id.clone());
        let mut tool_containment = containment(ctx, step, attempt, ProcessKind::Tool, cwd);
        if let Some(profile) = ctx.registry.profile(&tool.name) {
            super::containment::apply_profile(ctx, &mut tool_containment, profile);
        }
        if tool_containment.sandbox.is_some() {
            let tmp = super::containment::step_tmp_dir(ctx, step);
            env.entry("TMPDIR".into())
                .or_insert_with(|| tmp.to_string_lossy().into_owned());
        }
        // A tool that streams usage is stopped as soon as the step's budget is crossed.
        let budget_stop = if tool.takes_prompts {
            super::budgets::budget_stop(ctx, step, &cancel).map_err(Failure::Journal)?
        } else {
            None
        };
        let inv = Invocation {
            step_id: step_id.to_string(),
            attempt,
            worktree: cwd.to_path_buf(),
            prompt: prompt.unwrap_or_default().to_string(),
            prompt_file,
            has_prompt: prompt.is_some(),
            files: step.files_scope.clone(),
            context_files: step.context_files.clone(),
            env,
            timeout: step.timeout_sec.map(Duration::from_secs_f64),
            stall_timeout: step
                .stall_timeout_sec
                .and_then(|s| Duration::try_from_secs_f64(s).ok()),
            log_path: log_path.to_path_buf(),
            limits,
            containment: tool_containment,
            secrets: ctx.secrets.clone(),
            usage_watch: budget_stop.as_ref().map(|stop| stop.watch.clone()),
        };
        let outcome = tool
            .adapter
            .invoke(&inv, line_callback(ctx, step_id), cancel.clone())
            .await
            .map_err(|e| plain_failure(Stage::Tool, e.to_string(), &tool.name))?;
        usage = outcome.usage.clone();
        let command = match &step.tool {
            crate::model::ToolChoice::Shell(c) => c.clone(),
            _ => tool.name.clone(),
        };
        let failure = failure_of(&tool.name, &tool.kind, &command, &outcome.process, log_path)
            .with_sandbox(inv.containment.sandbox.is_some());
        match outcome.process.termination {
            Termination::Cancelled => {
                let crossed = budget_stop.as_ref().and_then(|stop| stop.crossed());
                match crossed {
                    // Stopped by its budget, not by the run: a failed attempt, which the
                    // after-failure path finds over budget (class `budget_exceeded`).
                    Some(crossed) if !ctx.cancel.is_cancelled() => {
                        let usage = usage.or(Some(crossed));
                        let tokens = usage.as_ref().map_or(0, |u| {
                            u.input_tokens.unwrap_or(0) + u.output_tokens.unwrap_or(0)
                        });
                        return Err(Failure::Attempt(Box::new(AttemptFailed {
                            stage: Stage::Tool,
                            result: AttemptResult::Failed,
                            exit_code: None,
                            error: step_error_text(
                                &format!(
                                    "tool stopped after {:.1} s: the usage it reported so far \
                                     ({tokens} tokens) took the step over its budget; its \
                                     process group was terminated",
                                    outcome.process.duration.as_secs_f64()
                                ),
                                &outcome.process.tail,
                            ),
                            failure,
                            usage,
                            stalled: None,
                        })));
                    }
                    _ => return Err(Failure::Interrupted { usage }),
                }
            }
            Termination::TimedOut => {
                return Err(Failure::Attempt(Box::new(AttemptFailed {
                    stage: Stage::Tool,
                    result: AttemptResult::TimedOut,
                    exit_code: None,
                    error: format!(
                        "tool timed out after {:.1} s; its process group was killed",
                        outcome.process.duration.as_secs_f64()
                    ),
                    failure,
                    usage,
                    stalled: None,
                })));
            }
            Termination::Stalled => {
                let step_stall = inv.stall_timeout;
                let stall = ctx
                    .registry
                    .profile(&tool.name)
                    .and_then(|profile| profile.stall_timeout(step_stall))
                    .or(step_stall)
                    .unwrap_or(outcome.process.duration);
                return Err(Failure::Attempt(Box::new(AttemptFailed {
                    stage: Stage::Tool,
                    result: AttemptResult::Failed,
                    exit_code: None,
                    error: step_error_text(
                        &format!(
                            "tool stalled: no output and no CPU for {} s (after {:.1} s); its process group was killed",
                            stall.as_secs_f64(),
                            outcome.process.duration.as_secs_f64()
                        ),
                        &outcome.process.tail,
                    ),
                    failure,
                    usage,
                    stalled: Some(stall),
                })));
            }
            _ if !outcome.success => {
                return Err(Failure::Attempt(Box::new(AttemptFailed {
                    stage: Stage::Tool,
                    result: AttemptResult::Failed,
                    exit_code: outcome.process.termination.exit_code(),
                    error: step_error_text(
                        &format!("tool failed: {}", outcome.summary),
                        &outcome.process.tail,
                    ),
                    failure,
                    usage,
                    stalled: None,
                })));
            }
            _ => {
                // Some AI tools exit 0 after failing (Aider on API errors): ask the plugins.
                if tool.takes_prompts
                    && let Some(report) = ctx.errors.detect(&failure)
                {
                    return Err(Failure::Attempt(Box::new(AttemptFailed {
                        stage: Stage::Tool,
                        result: AttemptResult::Failed,
                        exit_code: Some(0),
                        error: step_error_text(
                            &format!(
                                "tool reported a failure although it exited 0: {}",
                                report.summary
                            ),
                            &outcome.process.tail,
                        ),
                        failure,
                        usage,
                        stalled: None,
                    })));
                }
            }
        }
    }

    if let Some(tool) = tool
        && changes_nothing_allowed(ctx, step, tool) == Some(false)
    {
        let staged = staged_changes(step, cwd, tracker.clone(), start)
            .await
            .map_err(|f| f.with_usage(usage.clone()))?;
        if staged.changes.is_empty() {
            return Err(no_change_failure(step, tool, log_path, usage));
        }
    }

    let tests = run_acceptance_tests(ctx, step, cwd, attempt, &limits, &cancel)
        .await
        .map_err(|f| f.with_usage(usage.clone()))?;

    // A read_only step has no result commit of its own: its result is its start (its
    // dependencies' merge), and any change it made is its failure.
    if step.read_only && step.kind == StepKind::Task {
        let changed = match before {
            Some(before) => {
                let repo = ctx.repo.clone();
                blocking(move || {
                    let after = snapshot_uncommitted(&repo)?;
                    repo.changed_between(before, after)
                })
                .await
            }
            None => {
                let wt = cwd.to_path_buf();
                let excluded = super::worktree_setup::excluded_paths(step);
                blocking(move || {
                    stage_worktree_changes(&wt, tracker.as_ref(), start)?
                        .without_paths(&wt, start, &excluded)
                })
                .await
                .map(|staged| staged.changes.iter().map(describe_change).collect())
            }
        }
        .map_err(|e| {
            plain_failure(
                Stage::Scope,
                format!("cannot list what the read_only step changed: {e}"),
                "read-only-check",
            )
        })?;
        if !changed.is_empty() {
            return Err(plain_failure(
                Stage::Scope,
                read_only_violation(step, &changed),
                "read-only-check",
            ));
        }
        return Ok(Success {
            commit: start,
            usage,
            tests,
            changed: Vec::new(),
        });
    }

    // OpenSpec progress: tick the step's tasks in its change's tasks.md (part of its commit;
    // pipeline's own change, so exempt from the scope check).
    let mut exempt: Option<String> = None;
    if step.kind == StepKind::Task
        && step.isolation == Isolation::Worktree
        && let Some(change) = ctx
            .set
            .workstreams
            .iter()
            .find(|w| w.id == step.workstream)
            .and_then(|w| w.openspec_change.as_deref())
    {
        exempt = super::spec_references::tick_change_tasks(cwd, change, &step.openspec_tasks)
            .map_err(|e| {
                plain_failure(
                    Stage::Commit,
                    format!("cannot tick the tasks of change `{change}`: {e}"),
                    "openspec",
                )
            })?;
    }

    // Scope check and commit (only for steps that run a tool in their own worktree).
    if step.isolation == Isolation::None || step.kind != StepKind::Task {
        return Ok(Success {
            commit: start,
            usage,
            tests,
            changed: Vec::new(),
        });
    }
    let staged = staged_changes(step, cwd, tracker, start).await?;
    let changes = &staged.changes;
    let changed: Vec<String> = changes.iter().map(|c| c.path.clone()).collect();
    if !step.files_scope.is_empty()
        && let Ok(scope) = FileScope::new(step.files_scope.iter().map(String::as_str))
    {
        let outside: Vec<String> = changes
            .iter()
            .filter(|c| !scope.allows(&c.path) && exempt.as_deref() != Some(c.path.as_str()))
            .map(describe_change)
            .collect();
        if !outside.is_empty() {
            let error = format!(
                "changed files outside files_scope: {} (scope: {})",
                outside.join(", "),
                step.files_scope.join(", ")
            );
            return Err(plain_failure(Stage::Scope, error, "scope-check"));
        }
    }
    // Escaping symlinks and nested repositories (docs/SECURITY.md "Results"); the loader
    // has checked `allow_symlinks`, so it compiles.
    let allowed = FileScope::new(step.allow_symlinks.iter().map(String::as_str)).ok();
    if let Some(error) = staged.violations(|path| allowed.as_ref().is_some_and(|a| a.allows(path)))
    {
        return Err(plain_failure(Stage::Scope, error, "scope-check"));
    }
    let wt = cwd.to_path_buf();
    let message = commit_message(step, &ctx.run_id, attempt);
    let commit = blocking(move || commit_staged(&wt, start, &staged, &message))
        .await
        .map_err(|e| {
            plain_failure(
                Stage::Commit,
                format!("cannot commit the step's changes: {e}"),
                "git",
            )
        })?;
    Ok(Success {
        commit,
        usage,
        tests,
        changed,
    })
}

/// Whether a result that changes nothing is accepted from `tool` in `step`: `None` when
/// the question does not arise (a step without a worktree result: `read_only`,
/// `isolation: none`, a workstream's acceptance gate), `Some(true)` for a command or a
/// step with `allow_empty: true`, `Some(false)` for an AI tool (see [`is_ai_tool`]).
fn changes_nothing_allowed(ctx: &RunContext, step: &Step, tool: &ChosenTool) -> Option<bool> {
    if step.kind != StepKind::Task || step.isolation != Isolation::Worktree || step.read_only {
        return None;
    }
    Some(step.allow_empty || !is_ai_tool(ctx, tool))
}

/// Whether `tool` is an AI tool whose result must change something: an `aider`, `codex`
/// or `claude` profile, or a custom profile declaring capability `code_generation` or
/// `refactoring` (the capabilities of the built-in AI profiles). A step's own command
/// and other custom profiles (linters, formatters) may change nothing.
pub(crate) fn is_ai_tool(ctx: &RunContext, tool: &ChosenTool) -> bool {
    if !tool.takes_prompts {
        return false;
    }
    if matches!(tool.kind.as_str(), "aider" | "codex" | "claude") {
        return true;
    }
    ctx.registry.profile(&tool.name).is_some_and(|p| {
        p.capabilities
            .iter()
            .any(|c| c == "code_generation" || c == "refactoring")
    })
}

/// The reason an AI step's attempt fails when its tool changed no file.
pub(crate) const NO_CHANGE: &str = "no_change";

/// The failure of an attempt whose AI tool exited successfully but changed no file in the
/// step's worktree (reason [`NO_CHANGE`]; classified by the lifecycle, not the plugins).
/// The changes of the worktree at `cwd` against `start`, staged, without the step's
/// `copy_into_worktree` files and `setup` outputs (never committed nor scope-checked).
async fn staged_changes(
    step: &Step,
    cwd: &Path,
    tracker: Option<ChangeTracker>,
    start: Oid,
) -> Result<crate::git::StagedChanges, Failure> {
    let wt = cwd.to_path_buf();
    let excluded = super::worktree_setup::excluded_paths(step);
    blocking(move || {
        stage_worktree_changes(&wt, tracker.as_ref(), start)?.without_paths(&wt, start, &excluded)
    })
    .await
    .map_err(|e| {
        plain_failure(
            Stage::Commit,
            format!("cannot list the step's changes: {e}"),
            "git",
        )
    })
}

fn no_change_failure(step: &Step, tool: &ChosenTool, log: &Path, usage: Option<Usage>) -> Failure {
    let error = format!(
        "{NO_CHANGE}: tool `{}` finished without changing any file of step `{}`\n  hint: an AI \
         step must change something; if changing nothing is a valid result, set \
         \"allow_empty\": true on the step",
        tool.name, step.id
    );
    let mut failure = AttemptFailure::new(
        &tool.name,
        &tool.name,
        FailureTermination::Exited(0),
        error.clone(),
    )
    .with_kind(&tool.kind)
    .finished_at(SystemTime::now());
    failure.log_path = Some(log.to_path_buf());
    Failure::Attempt(Box::new(AttemptFailed {
        stage: Stage::NoChange,
        result: AttemptResult::Failed,
        exit_code: Some(0),
        error,
        failure,
        usage,
        stalled: None,
    }))
}

/// `path (added)`, `path (deleted)` or `path (modified)`.
fn describe_change(c: &crate::git::ChangedPath) -> String {
    match c.change {
        ChangeKind::Added => format!("{} (added)", c.path),
        ChangeKind::Deleted => format!("{} (deleted)", c.path),
        ChangeKind::Modified => format!("{} (modified)", c.path),
    }
}

/// The error of a read_only step that left `changed` files (issue #11: a read_only step
/// must leave its checkout as it found it; it has no result commit to carry changes).
fn read_only_violation(step: &Step, changed: &[String]) -> String {
    format!(
        "read_only step `{}` changed {} file{}: {}\n  hint: a read_only step must leave its \
         checkout unchanged; write scratch files under $TMPDIR, or remove \"read_only\": true \
         (with \"isolation\": \"worktree\") if the step is meant to change files",
        step.id,
        changed.len(),
        if changed.len() == 1 { "" } else { "s" },
        changed.join(", ")
    )
}

/// Runs `step`'s acceptance tests in `cwd` in order as attempt `attempt` (journalling
/// `test_started` and `test_finished`), stopping at the first failure, which is returned
/// as the attempt's failure (stage `tests`). Also used by `--verify-cached`.
pub(crate) async fn run_acceptance_tests(
    ctx: &Arc<RunContext>,
    step: &Step,
    cwd: &Path,
    attempt: u32,
    limits: &OutputLimits,
    cancel: &tokio_util::sync::CancellationToken,
) -> Result<Vec<TestResult>, Failure> {
    let step_id = step.id.as_str();
    let mut tests = Vec::with_capacity(step.acceptance_tests.len());
    if step.acceptance_tests.is_empty() {
        return Ok(tests);
    }
    for (k, test) in step.acceptance_tests.iter().enumerate() {
        let log = ctx.workspace.test_log(&ctx.run_id, step_id, attempt, k + 1);
        ctx.journal
            .record(Event::TestStarted {
                step: step_id.to_owned(),
                attempt,
                name: test.name.clone(),
                command: test.command.clone(),
            })
            .map_err(Failure::Journal)?;
        let spec = shell_spec(
            ctx,
            step,
            &test.command,
            cwd,
            test.timeout_sec,
            containment(ctx, step, attempt, ProcessKind::Test(k + 1), cwd),
        );
        let out = run_process(&spec, &log, limits, None, cancel.clone())
            .await
            .map_err(|e| {
                plain_failure(
                    Stage::Tests,
                    format!("acceptance test `{}` could not run: {e}", test.name),
                    "acceptance-test",
                )
            })?;
        if out.termination == Termination::Cancelled {
            return Err(Failure::Interrupted { usage: None });
        }
        let passed = out.termination == Termination::Exited(0);
        let result = TestResult {
            attempt,
            name: test.name.clone(),
            command: test.command.clone(),
            passed,
            duration_ms: out.duration.as_millis() as u64,
            outcome: out.termination.to_string(),
            log: log.to_string_lossy().into_owned(),
        };
        ctx.journal
            .record(Event::TestFinished {
                step: step_id.to_owned(),
                attempt,
                name: result.name.clone(),
                command: result.command.clone(),
                passed,
                duration_ms: result.duration_ms,
                outcome: result.outcome.clone(),
                log: result.log.clone(),
            })
            .map_err(Failure::Journal)?;
        tests.push(result);
        if !passed {
            return Err(Failure::Attempt(Box::new(AttemptFailed {
                stage: Stage::Tests,
                result: if out.termination == Termination::TimedOut {
                    AttemptResult::TimedOut
                } else {
                    AttemptResult::Failed
                },
                exit_code: out.termination.exit_code(),
                error: step_error_text(
                    &format!(
                        "acceptance test `{}` failed ({})",
                        test.name, out.termination
                    ),
                    &out.tail,
                ),
                failure: failure_of("acceptance-test", "custom", &test.command, &out, &log)
                    .with_sandbox(spec.containment.sandbox.is_some()),
                usage: None,
                stalled: None,
            })));
        }
    }
    Ok(tests)
}

/// `sh -c <command>` in `cwd` with the step's env and `PIPELINE_RUN_ID` /
/// `PIPELINE_STEP_ID`, timing out after `timeout_sec` (default: the run's acceptance-test
/// timeout): how acceptance tests and compensations run.
pub(crate) fn shell_spec(
    ctx: &RunContext,
    step: &Step,
    command: &str,
    cwd: &Path,
    timeout_sec: Option<f64>,
    containment: Containment,
) -> ProcessSpec {
    let mut spec = ProcessSpec::new("sh", ["-c", command], cwd);
    spec.containment = containment;
    spec.secrets = ctx.secrets.clone();
    spec.timeout = Some(
        timeout_sec
            .map(Duration::from_secs_f64)
            .unwrap_or(ctx.options.acceptance_timeout),
    );
    spec.kill_grace = ctx.options.kill_grace;
    spec.env = Vec::new();
    if spec.containment.sandbox.is_some() {
        // Before the step's env, which may set its own TMPDIR.
        let tmp = super::containment::step_tmp_dir(ctx, step);
        spec.env.push(("TMPDIR".into(), tmp.into()));
    }
    spec.env
        .extend(step.env.iter().map(|(k, v)| (k.into(), v.into())));
    spec.env
        .push(("PIPELINE_RUN_ID".into(), ctx.run_id.clone().into()));
    spec.env
        .push(("PIPELINE_STEP_ID".into(), step.id.as_str().into()));
    spec
}

fn line_callback(ctx: &Arc<RunContext>, step_id: &str) -> Option<LineCallback> {
    let reporter = ctx.journal.reporter().clone();
    if !reporter.wants_output() {
        return None;
    }
    let step = step_id.to_string();
    Some(Arc::new(move |line: &str| reporter.output(&step, line)))
}

fn commit_message(step: &Step, run_id: &str, attempt: u32) -> String {
    let mut m = format!("pipeline: {}", step.id);
    if let Some(d) = &step.description {
        m.push_str(&format!("\n\n{d}"));
    }
    if !step.tasks.is_empty() {
        m.push_str("\n\nTasks:\n");
        for t in &step.tasks {
            m.push_str(&format!("- {t}\n"));
        }
    }
    if !m.ends_with('\n') {
        m.push('\n');
    }
    m.push_str(&format!(
        "\nPipeline-Run: {run_id}\nPipeline-Step: {}\nPipeline-Attempt: {attempt}\n",
        step.id
    ));
    m
}

impl Failure {
    /// The same failure carrying the tool's usage (tests fail after the tool reported).
    fn with_usage(self, usage: Option<Usage>) -> Failure {
        match self {
            Failure::Attempt(mut f) => {
                f.usage = usage;
                Failure::Attempt(f)
            }
            Failure::Interrupted { .. } => Failure::Interrupted { usage },
            other => other,
        }
    }
}
