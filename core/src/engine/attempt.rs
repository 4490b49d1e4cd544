//! One attempt of a step: tool, acceptance tests, scope check, commit.
//!
//! An attempt either produces a result commit or fails with an [`AttemptFailure`] that the
//! error engine can classify (tool, command, how the process ended, its output and log).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use git2::Oid;
use pipeline_adapters::{
    Invocation, LineCallback, OutputLimits, ProcessOutcome, ProcessSpec, Termination, ToolAdapter,
    run_process,
};
use pipeline_error::{AttemptFailure, Termination as FailureTermination};

use super::run_context::RunContext;
use super::{RunEvent, step_error_text};
use crate::git::{ChangeKind, ChangeTracker, GitError, commit_staged, stage_worktree_changes};
use crate::model::{FileScope, Isolation, Step, StepKind};
use crate::state::{AttemptResult, StepStatus};

/// Result of one acceptance test, kept in the checkpoint and in JUnit reports.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct TestResult {
    /// Attempt of the step the test ran in.
    pub attempt: u32,
    pub name: String,
    pub command: String,
    pub passed: bool,
    pub duration_ms: u64,
    /// Exit code, or why it did not exit (timed out, signal).
    pub outcome: String,
    pub log: String,
}

/// Which part of the attempt failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stage {
    Tool,
    Tests,
    Scope,
    Commit,
}

/// Why an attempt did not complete.
pub(crate) enum Failure {
    Attempt {
        stage: Stage,
        result: AttemptResult,
        exit_code: Option<i32>,
        error: String,
        /// What the error engine classifies.
        failure: Box<AttemptFailure>,
    },
    Interrupted,
}

/// A successful attempt.
pub(crate) struct Success {
    pub commit: Oid,
    /// Tokens and cost the tool reported.
    pub usage: Option<pipeline_adapters::Usage>,
    pub tests: Vec<TestResult>,
    pub changed: Vec<String>,
}

/// The tool chosen for this attempt.
pub(crate) struct ChosenTool {
    /// Profile name, or `shell` for a step's own command.
    pub name: String,
    pub kind: String,
    pub adapter: Arc<dyn ToolAdapter>,
    /// Whether it is an AI tool that can take a fix prompt (not a plain command).
    pub takes_prompts: bool,
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
) -> Box<AttemptFailure> {
    let mut f = AttemptFailure::new(
        tool,
        command,
        termination(out.termination),
        out.tail.clone(),
    )
    .with_kind(kind)
    .finished_at(SystemTime::now());
    f.log_path = Some(log.to_path_buf());
    Box::new(f)
}

fn plain_failure(stage: Stage, error: String, tool: &str) -> Failure {
    let failure = Box::new(
        AttemptFailure::new(tool, "", FailureTermination::Exited(1), error.clone())
            .finished_at(SystemTime::now()),
    );
    Failure::Attempt {
        stage,
        result: AttemptResult::Failed,
        exit_code: None,
        error,
        failure,
    }
}

/// Runs the tool (unless the step is a workstream's acceptance gate), the acceptance tests,
/// the scope check and the commit, in `cwd` starting from `start`.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn run_attempt(
    ctx: &Arc<RunContext>,
    step: &Step,
    tool: Option<&ChosenTool>,
    prompt: &str,
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

    let mut usage = None;
    if let Some(tool) = tool {
        let prompt_file = ctx
            .workspace
            .step_logs_dir(&ctx.run_id, step_id)
            .join(format!("{attempt}.prompt.md"));
        let mut env: BTreeMap<String, String> = step.env.clone();
        env.insert("PIPELINE_RUN_ID".into(), ctx.run_id.clone());
        let inv = Invocation {
            step_id: step_id.to_string(),
            attempt,
            worktree: cwd.to_path_buf(),
            prompt: prompt.to_string(),
            prompt_file,
            has_prompt: !step.tasks.is_empty()
                || step.prompt.is_some()
                || prompt != step.prompt_text(),
            files: step.files_scope.clone(),
            context_files: step.context_files.clone(),
            env,
            timeout: step.timeout_sec.map(Duration::from_secs_f64),
            log_path: log_path.to_path_buf(),
            limits,
        };
        let outcome = tool
            .adapter
            .invoke(&inv, line_callback(ctx, step_id), cancel.clone())
            .await
            .map_err(|e| plain_failure(Stage::Tool, e.to_string(), &tool.name))?;
        usage = outcome.usage.clone();
        if let Some(u) = &outcome.usage {
            let _ = ctx.state.append_event(
                &ctx.run_id,
                Some(step_id),
                "usage",
                &serde_json::json!({"attempt": attempt, "tool": tool.name, "usage": u}),
            );
        }
        let command = match &step.tool {
            crate::model::ToolChoice::Shell(c) => c.clone(),
            _ => tool.name.clone(),
        };
        let failure = failure_of(&tool.name, &tool.kind, &command, &outcome.process, log_path);
        match outcome.process.termination {
            Termination::Cancelled => return Err(Failure::Interrupted),
            Termination::TimedOut => {
                return Err(Failure::Attempt {
                    stage: Stage::Tool,
                    result: AttemptResult::TimedOut,
                    exit_code: None,
                    error: format!(
                        "tool timed out after {:.1} s; its process group was killed",
                        outcome.process.duration.as_secs_f64()
                    ),
                    failure,
                });
            }
            _ if !outcome.success => {
                return Err(Failure::Attempt {
                    stage: Stage::Tool,
                    result: AttemptResult::Failed,
                    exit_code: outcome.process.termination.exit_code(),
                    error: step_error_text(
                        &format!("tool failed: {}", outcome.summary),
                        &outcome.process.tail,
                    ),
                    failure,
                });
            }
            _ => {
                // Some AI tools exit 0 after failing (Aider on API errors): ask the plugins.
                if tool.takes_prompts
                    && let Some(report) = ctx.errors.detect(&failure)
                {
                    return Err(Failure::Attempt {
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
                    });
                }
            }
        }
    }

    let tests = run_acceptance_tests(ctx, step, cwd, attempt, &limits, &cancel).await?;

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
    let wt = cwd.to_path_buf();
    let staged = blocking(move || stage_worktree_changes(&wt, tracker.as_ref(), start))
        .await
        .map_err(|e| {
            plain_failure(
                Stage::Commit,
                format!("cannot list the step's changes: {e}"),
                "git",
            )
        })?;
    let changes = &staged.changes;
    let changed: Vec<String> = changes.iter().map(|c| c.path.clone()).collect();
    if !step.files_scope.is_empty()
        && let Ok(scope) = FileScope::new(step.files_scope.iter().map(String::as_str))
    {
        let outside: Vec<String> = changes
            .iter()
            .filter(|c| !scope.allows(&c.path) && exempt.as_deref() != Some(c.path.as_str()))
            .map(|c| match c.change {
                ChangeKind::Added => format!("{} (added)", c.path),
                ChangeKind::Deleted => format!("{} (deleted)", c.path),
                ChangeKind::Modified => format!("{} (modified)", c.path),
            })
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

async fn run_acceptance_tests(
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
    ctx.state
        .set_step_status(&ctx.run_id, step_id, StepStatus::Validating, None)
        .map_err(|e| {
            plain_failure(
                Stage::Tests,
                format!("cannot record validation: {e}"),
                "state",
            )
        })?;
    ctx.reporter.report(&RunEvent::StepStatus {
        step: step_id.to_string(),
        status: StepStatus::Validating,
        error: None,
        commit: None,
    });
    for (k, test) in step.acceptance_tests.iter().enumerate() {
        let log = ctx.workspace.test_log(&ctx.run_id, step_id, attempt, k + 1);
        let spec = shell_spec(ctx, step, &test.command, cwd, test.timeout_sec);
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
            return Err(Failure::Interrupted);
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
        ctx.reporter.report(&RunEvent::TestFinished {
            step: step_id.to_string(),
            name: test.name.clone(),
            passed,
            duration_ms: result.duration_ms,
        });
        let _ = ctx.state.append_event(
            &ctx.run_id,
            Some(step_id),
            "test_finished",
            &serde_json::to_value(&result).unwrap_or_default(),
        );
        tests.push(result);
        if !passed {
            return Err(Failure::Attempt {
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
                failure: failure_of("acceptance-test", "custom", &test.command, &out, &log),
            });
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
) -> ProcessSpec {
    let mut spec = ProcessSpec::new("sh", ["-c", command], cwd);
    spec.timeout = Some(
        timeout_sec
            .map(Duration::from_secs_f64)
            .unwrap_or(ctx.options.acceptance_timeout),
    );
    spec.kill_grace = ctx.options.kill_grace;
    spec.env = step.env.iter().map(|(k, v)| (k.into(), v.into())).collect();
    spec.env
        .push(("PIPELINE_RUN_ID".into(), ctx.run_id.clone().into()));
    spec.env
        .push(("PIPELINE_STEP_ID".into(), step.id.as_str().into()));
    spec
}

fn line_callback(ctx: &Arc<RunContext>, step_id: &str) -> Option<LineCallback> {
    if !ctx.reporter.wants_output() {
        return None;
    }
    let reporter = ctx.reporter.clone();
    let step = step_id.to_string();
    Some(Arc::new(move |line: &str| {
        reporter.report(&RunEvent::StepOutput {
            step: step.clone(),
            line: line.to_string(),
        })
    }))
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

/// Runs blocking git work off the async threads.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, GitError> + Send + 'static,
) -> Result<T, GitError> {
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r,
        Err(e) => Err(GitError::Io {
            action: "run a git task".into(),
            path: PathBuf::new(),
            cause: std::io::Error::other(e.to_string()),
        }),
    }
}
