//! Executing one step: worktree at the merge of its inputs, tool, acceptance tests, scope
//! check, commit, checkpoint.
//!
//! Write-ahead discipline (DESIGN "State and resume"): the attempt is recorded (`running`)
//! before the tool starts; `completed` is recorded, with its checkpoint, only after the
//! result commit exists. A crash between two records leaves the step `running` (or
//! `validating`), which resume re-runs from a clean worktree. Failed steps keep their
//! worktree for inspection; completed ones give it back to the run's pool.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use git2::Oid;
use pipeline_adapters::{
    Invocation, LineCallback, OutputLimits, ProcessSpec, Termination, ToolAdapter, run_process,
};

use super::run_context::RunContext;
use super::{RunEvent, step_error_text};
use crate::git::{ChangeKind, GitError, Worktree, changed_paths, commit_worktree};
use crate::model::{FileScope, Isolation, Step, StepKind, ToolChoice};
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

enum Failure {
    /// Recorded as a failed attempt with this result and message.
    Attempt {
        result: AttemptResult,
        exit_code: Option<i32>,
        error: String,
    },
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
            // Infrastructure failure outside an attempt (merge conflict, worktree, state).
            if let Err(e) =
                ctx.state
                    .set_step_status(&ctx.run_id, &step_id, StepStatus::Failed, Some(&message))
            {
                tracing::error!("cannot record failure of step {step_id}: {e}");
            }
            ctx.reporter.report(&RunEvent::StepStatus {
                step: step_id,
                status: StepStatus::Failed,
                error: Some(message.clone()),
                commit: None,
            });
            StepResult::Failed { error: message }
        }
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

    // Worktree (or the repository itself for `isolation: none`).
    let worktree: Option<Worktree> = match step.isolation {
        Isolation::Worktree => {
            let pool = ctx.pool.clone();
            let path = step_id.to_string();
            let branch = format!("pipeline-steps/{}/{}", ctx.run_id, step_id);
            Some(
                blocking(move || pool.acquire(&path, &branch, start))
                    .await
                    .map_err(|e| format!("cannot prepare the worktree: {e}"))?,
            )
        }
        Isolation::None => None,
    };
    let cwd: PathBuf = worktree
        .as_ref()
        .map(|w| w.path().to_path_buf())
        .unwrap_or_else(|| ctx.workspace.repo_root.clone());

    let log_path = ctx
        .workspace
        .attempt_log(&ctx.run_id, step_id, attempt_hint);
    let attempt = ctx
        .state
        .begin_attempt(
            &ctx.run_id,
            step_id,
            worktree
                .as_ref()
                .map(|w| w.path().to_string_lossy().into_owned())
                .as_deref(),
            &log_path.to_string_lossy(),
        )
        .map_err(|e| format!("cannot record the attempt: {e}"))?;
    // The hint comes from the database; if another writer raced us, follow the record.
    let log_path = if attempt == attempt_hint {
        log_path
    } else {
        ctx.workspace.attempt_log(&ctx.run_id, step_id, attempt)
    };
    ctx.reporter.report(&RunEvent::StepStarted {
        step: step_id.to_string(),
        attempt,
        worktree: worktree
            .as_ref()
            .map(|w| w.path().to_string_lossy().into_owned()),
        log: log_path.to_string_lossy().into_owned(),
    });
    let started = Instant::now();

    let outcome = run_attempt(ctx, step, &cwd, start, attempt, &log_path).await;
    let duration_ms = started.elapsed().as_millis() as u64;
    match outcome {
        Ok((commit, tests, changed)) => {
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
                commit: commit.to_string(),
                definition_hash: step.definition_hash.clone(),
                outputs: serde_json::json!({
                    "inputs": inputs.iter().map(Oid::to_string).collect::<Vec<_>>(),
                    "start_commit": start.to_string(),
                    "changed": changed,
                    "tests": tests,
                    "attempt": attempt,
                }),
            };
            ctx.state
                .complete_step(&ctx.run_id, step_id, &checkpoint)
                .map_err(|e| format!("cannot record completion: {e}"))?;
            ctx.reporter.report(&RunEvent::StepStatus {
                step: step_id.to_string(),
                status: StepStatus::Completed,
                error: None,
                commit: Some(commit.to_string()),
            });
            if let Some(wt) = worktree {
                let pool = ctx.pool.clone();
                if let Err(e) = blocking(move || pool.release(wt)).await {
                    tracing::warn!("step {step_id}: cannot return its worktree to the pool: {e}");
                }
            }
            Ok(StepResult::Completed { commit })
        }
        Err(Failure::Attempt {
            result,
            exit_code,
            error,
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
            ctx.state
                .set_step_status(&ctx.run_id, step_id, StepStatus::Failed, Some(&error))
                .map_err(|e| format!("cannot record the failure: {e}"))?;
            ctx.reporter.report(&RunEvent::StepStatus {
                step: step_id.to_string(),
                status: StepStatus::Failed,
                error: Some(error.clone()),
                commit: None,
            });
            if let Some(wt) = worktree {
                ctx.pool.keep(wt);
            }
            Ok(StepResult::Failed { error })
        }
        Err(Failure::Interrupted) => {
            let record = AttemptOutcome {
                outcome: AttemptResult::Interrupted,
                exit_code: None,
                error: Some("interrupted".into()),
                duration_ms,
            };
            let _ = ctx
                .state
                .finish_attempt(&ctx.run_id, step_id, attempt, &record);
            let _ = ctx.state.set_step_status(
                &ctx.run_id,
                step_id,
                StepStatus::Interrupted,
                Some("interrupted"),
            );
            ctx.reporter.report(&RunEvent::StepStatus {
                step: step_id.to_string(),
                status: StepStatus::Interrupted,
                error: None,
                commit: None,
            });
            if let Some(wt) = worktree {
                ctx.pool.keep(wt);
            }
            Ok(StepResult::Interrupted)
        }
    }
}

/// Tool, tests, scope check and commit. Returns the result commit, the test results and
/// the changed paths.
async fn run_attempt(
    ctx: &Arc<RunContext>,
    step: &Step,
    cwd: &Path,
    start: Oid,
    attempt: u32,
    log_path: &Path,
) -> Result<(Oid, Vec<TestResult>, Vec<String>), Failure> {
    let step_id = step.id.as_str();
    let cancel = ctx.cancel.child_token();
    let limits = OutputLimits {
        max_log_bytes: ctx.options.max_log_bytes,
        ..OutputLimits::default()
    };

    if step.kind == StepKind::Task {
        let adapter = resolve_adapter(ctx, step).map_err(|error| Failure::Attempt {
            result: AttemptResult::Failed,
            exit_code: None,
            error,
        })?;
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
            prompt: step.prompt_text(),
            prompt_file,
            files: step.files_scope.clone(),
            env,
            timeout: step.timeout_sec.map(Duration::from_secs_f64),
            log_path: log_path.to_path_buf(),
            limits,
        };
        let on_line = line_callback(ctx, step_id);
        let outcome = adapter
            .invoke(&inv, on_line, cancel.clone())
            .await
            .map_err(|e| Failure::Attempt {
                result: AttemptResult::Failed,
                exit_code: None,
                error: e.to_string(),
            })?;
        match outcome.process.termination {
            Termination::Cancelled => return Err(Failure::Interrupted),
            Termination::TimedOut => {
                return Err(Failure::Attempt {
                    result: AttemptResult::TimedOut,
                    exit_code: None,
                    error: format!(
                        "tool timed out after {:.1} s; its process group was killed",
                        outcome.process.duration.as_secs_f64()
                    ),
                });
            }
            _ if !outcome.success => {
                return Err(Failure::Attempt {
                    result: AttemptResult::Failed,
                    exit_code: outcome.process.termination.exit_code(),
                    error: step_error_text(
                        &format!("tool failed: {}", outcome.summary),
                        &outcome.process.tail,
                    ),
                });
            }
            _ => {}
        }
    }

    // Acceptance tests.
    let mut tests = Vec::with_capacity(step.acceptance_tests.len());
    if !step.acceptance_tests.is_empty() {
        ctx.state
            .set_step_status(&ctx.run_id, step_id, StepStatus::Validating, None)
            .map_err(|e| Failure::Attempt {
                result: AttemptResult::Failed,
                exit_code: None,
                error: format!("cannot record validation: {e}"),
            })?;
        ctx.reporter.report(&RunEvent::StepStatus {
            step: step_id.to_string(),
            status: StepStatus::Validating,
            error: None,
            commit: None,
        });
    }
    for (k, test) in step.acceptance_tests.iter().enumerate() {
        let log = ctx.workspace.test_log(&ctx.run_id, step_id, attempt, k + 1);
        let mut spec = ProcessSpec::new("sh", ["-c", test.command.as_str()], cwd);
        spec.timeout = Some(
            test.timeout_sec
                .map(Duration::from_secs_f64)
                .unwrap_or(ctx.options.acceptance_timeout),
        );
        spec.kill_grace = ctx.options.kill_grace;
        spec.env = step.env.iter().map(|(k, v)| (k.into(), v.into())).collect();
        spec.env
            .push(("PIPELINE_RUN_ID".into(), ctx.run_id.clone().into()));
        spec.env.push(("PIPELINE_STEP_ID".into(), step_id.into()));
        let out = run_process(&spec, &log, &limits, None, cancel.clone())
            .await
            .map_err(|e| Failure::Attempt {
                result: AttemptResult::Failed,
                exit_code: None,
                error: format!("acceptance test `{}` could not run: {e}", test.name),
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
            });
        }
    }

    // Scope check and commit (only for steps that run a tool in their own worktree).
    if step.isolation == Isolation::None || step.kind != StepKind::Task {
        return Ok((start, tests, Vec::new()));
    }
    let wt = cwd.to_path_buf();
    let changes = blocking(move || changed_paths(&wt, start))
        .await
        .map_err(|e| Failure::Attempt {
            result: AttemptResult::Failed,
            exit_code: None,
            error: format!("cannot list the step's changes: {e}"),
        })?;
    let changed: Vec<String> = changes.iter().map(|c| c.path.clone()).collect();
    if !step.files_scope.is_empty()
        && let Ok(scope) = FileScope::new(step.files_scope.iter().map(String::as_str))
    {
        let outside: Vec<String> = changes
            .iter()
            .filter(|c| !scope.allows(&c.path))
            .map(|c| match c.change {
                ChangeKind::Added => format!("{} (added)", c.path),
                ChangeKind::Deleted => format!("{} (deleted)", c.path),
                ChangeKind::Modified => format!("{} (modified)", c.path),
            })
            .collect();
        if !outside.is_empty() {
            return Err(Failure::Attempt {
                result: AttemptResult::Failed,
                exit_code: None,
                error: format!(
                    "changed files outside files_scope: {} (scope: {})",
                    outside.join(", "),
                    step.files_scope.join(", ")
                ),
            });
        }
    }
    let wt = cwd.to_path_buf();
    let message = commit_message(step, &ctx.run_id, attempt);
    let commit = blocking(move || commit_worktree(&wt, start, &message))
        .await
        .map_err(|e| Failure::Attempt {
            result: AttemptResult::Failed,
            exit_code: None,
            error: format!("cannot commit the step's changes: {e}"),
        })?;
    Ok((commit, tests, changed))
}

fn resolve_adapter(ctx: &RunContext, step: &Step) -> Result<Arc<dyn ToolAdapter>, String> {
    match &step.tool {
        ToolChoice::Shell(command) => Ok(ctx.registry.shell_adapter(command)),
        ToolChoice::Profile(name) => ctx.registry.adapter(name).map_err(|e| e.to_string()),
        ToolChoice::Capability(cap) => {
            let candidates = ctx.registry.with_capability(cap);
            let mut reasons = Vec::new();
            for name in &candidates {
                match ctx.registry.adapter(name) {
                    Ok(a) => {
                        let _ = ctx.state.append_event(&ctx.run_id, Some(step.id.as_str()), "tool_selected", &serde_json::json!({"capability": cap, "tool": name, "skipped": reasons}));
                        return Ok(a);
                    }
                    Err(e) => reasons.push(format!("{name}: {e}")),
                }
            }
            Err(format!(
                "no usable tool has capability `{cap}`: {}",
                if reasons.is_empty() {
                    "no profile lists it".to_string()
                } else {
                    reasons.join("; ")
                }
            ))
        }
        ToolChoice::None => Err("step has no tool".into()),
    }
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
