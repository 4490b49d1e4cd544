//! The worker's activities: `run_step` (one step, in a fresh shared clone of the worker's
//! clone) and `merge_results` (the run's result branch).
//!
//! `run_step` does not run the step itself: it prepares a checkout at the run's base
//! commit and starts `pipeline step exec <step> --file <workstream file>... --from
//! pipeline-steps/<run>/<dep>... --run <run> --remote <remote>` there as a child process in its own process group. That
//! command is the normal engine (worktree, tool, acceptance tests, scope check, error
//! engine retries, commit) and pushes the result to `pipeline-steps/<run>/<step>`. While
//! it runs, the activity heartbeats every third of the heartbeat timeout; when the
//! activity is cancelled (the run was cancelled, or the server timed the heartbeat out)
//! the group gets SIGTERM, then SIGKILL after a grace period. The child also gets SIGTERM
//! when the worker process dies (`PR_SET_PDEATHSIG`), so a SIGKILLed worker does not
//! leave a step running that could push a second result.
//!
//! After the step ended, the activity reads the step's record from the clone's state
//! database (the one-step run under the run's id) into the outcome's [`StepReport`], and
//! pushes the step's log to [`log_ref`] on the remote: a parent-less commit with
//! `output.log`, `status.json` and `events.jsonl` (a push that fails only warns).
//!
//! `pipeline step exec` runs with `--approve-all`: a step that requires approval
//! completes in its clone (its result is pushed), and the workflow holds the gate
//! ([`StepReport::approval_requested`]).

use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::Arc;
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use pipeline_core::exit_code;
use pipeline_core::git::Repository;
use temporalio_macros::activities;
use temporalio_sdk::ApplicationFailure;
use temporalio_sdk::activities::{ActivityContext, ActivityError};

use crate::git_cli::{git, remote_ref};
use crate::run_plan::{base_ref, log_ref, result_branch, step_result_branch};
use crate::step_task::{
    AttemptClass, MergeOutcome, MergeTask, StepOutcome, StepReport, StepTask, StepUsage,
};
use crate::temporal_error::TemporalError;

/// Seconds between SIGTERM and SIGKILL when a step is stopped.
const STOP_GRACE: Duration = Duration::from_secs(10);
/// How many lines of a failed step's output its error carries.
const OUTPUT_TAIL_LINES: usize = 20;

/// What a worker's activities need: where its clone is and how to reach the remote.
#[derive(Debug, Clone)]
pub struct WorkerSetup {
    /// The worker's clone of the repository (`--repo`).
    pub repo: PathBuf,
    /// The name of the shared remote in that clone (`--remote`, default `origin`).
    pub remote: String,
    /// The `pipeline` binary that runs `pipeline step exec` (the worker's own executable).
    pub pipeline_bin: PathBuf,
    /// Where step checkouts and step logs go: `<repo>/.pipeline/temporal`.
    pub work_dir: PathBuf,
    /// This worker's identity, `pid@host`, reported with each outcome.
    pub identity: String,
    /// Variables removed from the steps' environment: the worker's own credentials (the
    /// Temporal API key's variable), which no step may read.
    pub hidden_env: Vec<String>,
}

/// The activities a worker registers.
pub struct StepActivities {
    setup: WorkerSetup,
    /// Serialises this worker's fetches into its clone.
    fetch_lock: tokio::sync::Mutex<()>,
}

impl StepActivities {
    /// Activities working in `setup.repo`.
    pub fn new(setup: WorkerSetup) -> StepActivities {
        StepActivities {
            setup,
            fetch_lock: tokio::sync::Mutex::new(()),
        }
    }
}

#[activities]
impl StepActivities {
    /// Runs one step on this worker; see the module documentation. A step that fails (exit
    /// code 1 or 2 of `pipeline step exec`, or a checkout that cannot be prepared) is
    /// returned as [`StepOutcome::Failed`]; the activity itself fails only when it is
    /// cancelled.
    #[activity(name = "run_step")]
    pub async fn run_step(
        self: Arc<Self>,
        ctx: ActivityContext,
        task: StepTask,
    ) -> Result<StepOutcome, ActivityError> {
        let setup = &self.setup;
        let heartbeat = ctx
            .info()
            .heartbeat_timeout
            .map_or(Duration::from_secs(10), |t| t / 3)
            .max(Duration::from_millis(200));
        tracing::info!(
            step = %task.step,
            run = %task.run_id,
            worker_losses = task.worker_losses,
            "running step"
        );
        let prepared = prepare_checkout(setup, &self.fetch_lock, &task, &ctx).await;
        let (checkout, log) = match prepared {
            Ok(p) => p,
            Err(e) => {
                return Ok(StepOutcome::Failed {
                    error: format!("cannot prepare the step on worker {}: {e}", setup.identity),
                    worker: setup.identity.clone(),
                    report: StepReport::default(),
                });
            }
        };
        if let Err(error) = check_inputs(setup, &task).await {
            remove_checkout(&checkout);
            return Ok(StepOutcome::Failed {
                error,
                worker: setup.identity.clone(),
                report: StepReport::default(),
            });
        }
        let ran = run_step_exec(setup, &task, &checkout, &log, &ctx, heartbeat).await;
        let status = match ran {
            Ok(status) => status,
            Err(StepStop::Cancelled) => {
                remove_checkout(&checkout);
                return Err(ActivityError::cancelled());
            }
            Err(StepStop::Spawn(e)) => {
                remove_checkout(&checkout);
                return Ok(StepOutcome::Failed {
                    error: format!(
                        "cannot start {} on worker {}: {e}",
                        setup.pipeline_bin.display(),
                        setup.identity
                    ),
                    worker: setup.identity.clone(),
                    report: StepReport::default(),
                });
            }
        };
        let mut report = read_and_push_record(setup, &task, &checkout, &log).await;
        remove_checkout(&checkout);
        let code = status.code().unwrap_or(exit_code::INTERNAL);
        if code != exit_code::OK {
            if report.error_class.is_none() && code == exit_code::INVALID {
                report.error_class = Some("permanent".to_string());
            }
            return Ok(StepOutcome::Failed {
                error: format!(
                    "pipeline step exec exited with code {code} on worker {}; its output \
                     ends:\n{}",
                    setup.identity,
                    output_tail(&log)
                ),
                worker: setup.identity.clone(),
                report,
            });
        }
        let branch = format!(
            "refs/heads/{}",
            step_result_branch(&task.run_id, &task.step)
        );
        match remote_ref(&setup.repo, &setup.remote, &branch).await {
            Ok(Some(commit)) => Ok(StepOutcome::Completed {
                commit,
                worker: setup.identity.clone(),
                report,
            }),
            Ok(None) => Ok(StepOutcome::Failed {
                error: format!(
                    "pipeline step exec succeeded but the remote `{}` has no {branch}",
                    setup.remote
                ),
                worker: setup.identity.clone(),
                report,
            }),
            // The remote is unreachable from this worker: let the workflow decide (the
            // activity fails, the step fails with this message).
            Err(e) => Err(ActivityError::application(
                ApplicationFailure::non_retryable(e.to_string()),
            )),
        }
    }

    /// Merges the run's result heads (as the local run builds its result branch) and
    /// pushes the merge to `pipeline/<run>` on the remote.
    #[activity(name = "merge_results")]
    pub async fn merge_results(
        self: Arc<Self>,
        _ctx: ActivityContext,
        task: MergeTask,
    ) -> Result<MergeOutcome, ActivityError> {
        Ok(
            match merge_and_push(&self.setup, &self.fetch_lock, &task).await {
                Ok(commit) => MergeOutcome::Pushed { commit },
                Err(error) => MergeOutcome::Failed { error },
            },
        )
    }
}

/// Why a step's process did not run to its end.
enum StepStop {
    /// The activity was cancelled; the process group was stopped.
    Cancelled,
    /// The process could not be started.
    Spawn(std::io::Error),
}

/// Fetches the run's base into the worker's clone and makes a fresh checkout of it for
/// one step: a `git clone --shared` of the worker's clone (objects borrowed, nothing
/// copied) at `<work_dir>/steps/<run>/<step>-<activity id>`, detached at the base, with
/// the shared remote under its usual name and the clone's commit identity. A clone per
/// step rather than a worktree: `pipeline step exec` makes its own worktrees, whose
/// administrative names must not collide between steps running side by side. Returns the
/// checkout and the log file the step's output goes to.
async fn prepare_checkout(
    setup: &WorkerSetup,
    fetch_lock: &tokio::sync::Mutex<()>,
    task: &StepTask,
    ctx: &ActivityContext,
) -> Result<(PathBuf, PathBuf), TemporalError> {
    let base = base_ref(&task.run_id);
    {
        // Concurrent fetches into one repository race for the same ref locks.
        let _one_at_a_time = fetch_lock.lock().await;
        git(
            &setup.repo,
            &[
                "fetch",
                "--no-tags",
                "--quiet",
                "--",
                &setup.remote,
                &format!("+{base}:{base}"),
            ],
        )
        .await?;
    }
    let flat = format!("{}-{}", task.step, ctx.info().activity_id)
        .replace(['/', '#'], "_")
        .replace("..", "_");
    let checkout = setup.work_dir.join("steps").join(&task.run_id).join(&flat);
    remove_checkout(&checkout);
    if let Some(parent) = checkout.parent() {
        std::fs::create_dir_all(parent).map_err(|e| {
            TemporalError::Invalid(format!("cannot create {}: {e}", parent.display()))
        })?;
    }
    let path = checkout.to_string_lossy().to_string();
    let source = setup.repo.to_string_lossy().to_string();
    git(
        &setup.work_dir,
        &[
            "clone",
            "--quiet",
            "--shared",
            "--no-checkout",
            "--origin",
            "pipeline-worker",
            "--",
            &source,
            &path,
        ],
    )
    .await?;
    let url = git(&setup.repo, &["remote", "get-url", "--", &setup.remote]).await?;
    git(&checkout, &["remote", "add", "--", &setup.remote, &url]).await?;
    for key in ["user.name", "user.email"] {
        if let Ok(value) = git(&setup.repo, &["config", "--get", key]).await
            && !value.is_empty()
        {
            git(&checkout, &["config", key, &value]).await?;
        }
    }
    git(
        &checkout,
        &["checkout", "--quiet", "--detach", &task.base_commit],
    )
    .await?;
    let logs = setup.work_dir.join("logs").join(&task.run_id);
    std::fs::create_dir_all(&logs)
        .map_err(|e| TemporalError::Invalid(format!("cannot create {}: {e}", logs.display())))?;
    Ok((checkout, logs.join(format!("{flat}.log"))))
}

/// Removes a step's checkout (its result is on the remote); a failure only warns.
fn remove_checkout(checkout: &Path) {
    if checkout.exists()
        && let Err(e) = std::fs::remove_dir_all(checkout)
    {
        tracing::warn!(
            "cannot remove the step checkout {}: {e}",
            checkout.display()
        );
    }
}

/// Checks that the dependencies' result branches on the remote still point at the commits
/// the workflow recorded (`task.inputs`), so the step runs on exactly the inputs the run
/// decided on; returns why not.
async fn check_inputs(setup: &WorkerSetup, task: &StepTask) -> Result<(), String> {
    if task.dependencies.is_empty() {
        return Ok(());
    }
    let mut found = Vec::with_capacity(task.dependencies.len());
    for dep in &task.dependencies {
        let branch = format!("refs/heads/{}", step_result_branch(&task.run_id, dep));
        match remote_ref(&setup.repo, &setup.remote, &branch).await {
            Ok(Some(commit)) => found.push(commit),
            Ok(None) => return Err(format!("the remote `{}` has no {branch}", setup.remote)),
            Err(e) => return Err(e.to_string()),
        }
    }
    found.sort();
    found.dedup();
    if found != task.inputs {
        return Err(format!(
            "the dependencies' result branches on `{}` point at {found:?}, not at the results \
             the run recorded ({:?}); a result was pushed twice",
            setup.remote, task.inputs
        ));
    }
    Ok(())
}

/// The arguments of `pipeline step exec` for `task`.
fn step_exec_args(task: &StepTask, remote: &str) -> Vec<String> {
    let mut args = vec!["step".to_string(), "exec".to_string(), task.step.clone()];
    for file in &task.workstream_files {
        args.push("--file".into());
        args.push(file.clone());
    }
    for dep in &task.dependencies {
        args.push("--from".into());
        args.push(step_result_branch(&task.run_id, dep));
    }
    args.extend([
        "--run".to_string(),
        task.run_id.clone(),
        "--remote".to_string(),
        remote.to_string(),
        // The workflow holds approval gates (the step's report says it asked).
        "--approve-all".to_string(),
    ]);
    args
}

/// What the step's run in `checkout` recorded: the report, `pipeline status --json` of
/// the run and its journal as JSON lines (`None` when the database cannot be read:
/// the step failed before its run started).
struct StepRecord {
    report: StepReport,
    status_json: Option<String>,
    events_jsonl: Option<String>,
}

/// Reads the step's record from the clone (see [`read_record`]) and pushes its log to
/// [`log_ref`]; a failure of either only warns (the step's result stands).
async fn read_and_push_record(
    setup: &WorkerSetup,
    task: &StepTask,
    checkout: &Path,
    log: &Path,
) -> StepReport {
    let dir = checkout.to_path_buf();
    let (run, step) = (task.run_id.clone(), task.step.clone());
    let record = tokio::task::spawn_blocking(move || read_record(&dir, &run, &step))
        .await
        .unwrap_or_else(|e| {
            tracing::warn!("cannot read the record of step {}: {e}", task.step);
            StepRecord {
                report: StepReport::default(),
                status_json: None,
                events_jsonl: None,
            }
        });
    let mut report = record.report;
    let output = std::fs::read(log).unwrap_or_default();
    let files = [
        ("output.log", output),
        (
            "status.json",
            record.status_json.unwrap_or_default().into_bytes(),
        ),
        (
            "events.jsonl",
            record.events_jsonl.unwrap_or_default().into_bytes(),
        ),
    ];
    match push_log(setup, task, &files).await {
        Ok(()) => report.log_pushed = true,
        Err(e) => tracing::warn!(
            "cannot push the log of step {} to {}: {e}",
            task.step,
            log_ref(&task.run_id, &task.step)
        ),
    }
    report
}

/// The step's record in the state database of `checkout` (run `run`, step `step`).
fn read_record(checkout: &Path, run: &str, step: &str) -> StepRecord {
    use pipeline_core::state::{AttemptResult, Durability, Event, StateStore};
    let mut report = StepReport::default();
    let status = match pipeline_core::engine::run_status(Some(checkout), None, Some(run)) {
        Ok(status) => status,
        Err(e) => {
            tracing::warn!("cannot read the status of step {step} in its clone: {e}");
            return StepRecord {
                report,
                status_json: None,
                events_jsonl: None,
            };
        }
    };
    let status_json = serde_json::to_string_pretty(&status).ok();
    if let Some(view) = status.steps.iter().find(|s| s.id == step) {
        report.attempts = view.attempts;
        report.usage = StepUsage {
            input_tokens: view.usage.input_tokens,
            output_tokens: view.usage.output_tokens,
            cost_usd: view.usage.cost_usd,
            estimated: view.usage.estimated,
        };
    }
    let db = checkout.join(".pipeline").join("state.db");
    let journal = StateStore::open(&db, Durability::Normal).and_then(|s| s.journal(run, 0));
    let entries = match journal {
        Ok(entries) => entries,
        Err(e) => {
            tracing::warn!("cannot read the journal of step {step} in its clone: {e}");
            return StepRecord {
                report,
                status_json,
                events_jsonl: None,
            };
        }
    };
    let mut lines = String::new();
    let mut budget_exceeded = false;
    let mut failed = false;
    for entry in &entries {
        if let Ok(line) = serde_json::to_string(entry) {
            lines.push_str(&line);
            lines.push('\n');
        }
        match &entry.event {
            Event::AttemptStarted {
                step: s,
                attempt,
                tool,
                ..
            } if s == step => {
                report.tool = tool.clone().or(report.tool.take());
                report.attempt_classes.push(AttemptClass {
                    attempt: *attempt,
                    tool: tool.clone(),
                    class: None,
                });
            }
            Event::AttemptFinished {
                step: s,
                attempt,
                outcome,
                classified,
                ..
            } if s == step => {
                let class = match outcome {
                    AttemptResult::Succeeded => None,
                    AttemptResult::TimedOut => Some(
                        classified
                            .as_ref()
                            .map_or_else(|| "timeout".to_string(), |c| c.class.clone()),
                    ),
                    AttemptResult::Failed => Some(
                        classified
                            .as_ref()
                            .map_or_else(|| "permanent".to_string(), |c| c.class.clone()),
                    ),
                    // Stopped from outside: says nothing about the tool.
                    AttemptResult::Cancelled | AttemptResult::Interrupted => None,
                };
                if let Some(a) = report
                    .attempt_classes
                    .iter_mut()
                    .rev()
                    .find(|a| a.attempt == *attempt)
                {
                    a.class = class.clone();
                }
                if class.is_some() {
                    report.error_class = class;
                }
            }
            Event::BudgetExceeded { step: s, .. } if s == step => budget_exceeded = true,
            Event::StepFailed { step: s, .. } if s == step => failed = true,
            Event::ApprovalRequested { step: s, .. } if s == step => {
                report.approval_requested = true;
            }
            Event::StepApproved { step: s, auto, .. } if s == step && *auto => {
                report.approval_requested = true;
            }
            Event::StepCompleted { step: s, .. } if s == step => {
                report.error_class = None;
            }
            _ => {}
        }
    }
    if budget_exceeded {
        report.error_class = Some("budget_exceeded".to_string());
    } else if !failed && report.attempt_classes.iter().all(|a| a.class.is_none()) {
        report.error_class = None;
    }
    report.ai = report
        .tool
        .as_deref()
        .is_some_and(|t| is_ai_tool(checkout, t));
    StepRecord {
        report,
        status_json,
        events_jsonl: Some(lines),
    }
}

/// Whether tool profile `tool` of the clone's configuration is an AI tool, by the rule of
/// a local run: an `aider`, `codex` or `claude` profile, or a custom profile with
/// capability `code_generation` or `refactoring`.
fn is_ai_tool(checkout: &Path, tool: &str) -> bool {
    let Ok((_, _, registry)) = pipeline_core::engine::open_repository(Some(checkout), None) else {
        return false;
    };
    registry.profile(tool).is_some_and(|p| {
        matches!(p.kind.as_str(), "aider" | "codex" | "claude")
            || p.capabilities
                .iter()
                .any(|c| c == "code_generation" || c == "refactoring")
    })
}

/// Writes `files` as a parent-less commit in the worker's clone and pushes it to
/// [`log_ref`] on the remote (forced: a step that ran again replaces its log).
async fn push_log(
    setup: &WorkerSetup,
    task: &StepTask,
    files: &[(&str, Vec<u8>)],
) -> Result<(), String> {
    let repo_dir = setup.repo.clone();
    let files: Vec<(String, Vec<u8>)> = files
        .iter()
        .map(|(name, bytes)| ((*name).to_string(), bytes.clone()))
        .collect();
    let message = format!(
        "pipeline: log of step {} of run {} on worker {}",
        task.step, task.run_id, setup.identity
    );
    let commit = tokio::task::spawn_blocking(move || -> Result<String, git2::Error> {
        let repo = git2::Repository::open(&repo_dir)?;
        let mut tree = repo.treebuilder(None)?;
        for (name, bytes) in &files {
            let blob = repo.blob(bytes)?;
            tree.insert(name, blob, 0o100_644)?;
        }
        let tree = repo.find_tree(tree.write()?)?;
        let signature = repo
            .signature()
            .or_else(|_| git2::Signature::now("pipeline worker", "pipeline@localhost"))?;
        let oid = repo.commit(None, &signature, &signature, &message, &tree, &[])?;
        Ok(oid.to_string())
    })
    .await
    .map_err(|e| format!("the log task failed: {e}"))?
    .map_err(|e| e.to_string())?;
    let target = format!("{commit}:{}", log_ref(&task.run_id, &task.step));
    git(
        &setup.repo,
        &["push", "--quiet", "--force", "--", &setup.remote, &target],
    )
    .await
    .map_err(|e| e.to_string())?;
    Ok(())
}

/// Runs `pipeline step exec` in `checkout`, output to `log`, heartbeating every
/// `heartbeat` until it exits or the activity is cancelled.
async fn run_step_exec(
    setup: &WorkerSetup,
    task: &StepTask,
    checkout: &Path,
    log: &Path,
    ctx: &ActivityContext,
    heartbeat: Duration,
) -> Result<ExitStatus, StepStop> {
    let out = std::fs::File::create(log).map_err(StepStop::Spawn)?;
    let err = out.try_clone().map_err(StepStop::Spawn)?;
    let mut cmd = step_exec_command(setup, task, checkout);
    cmd.stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .process_group(0);
    die_with_parent(&mut cmd);
    let mut child = cmd.spawn().map_err(StepStop::Spawn)?;
    let pgid = child.id().and_then(|id| i32::try_from(id).ok());
    let mut ticker = tokio::time::interval(heartbeat);
    loop {
        tokio::select! {
            status = child.wait() => return status.map_err(StepStop::Spawn),
            _ = ticker.tick() => {
                if let Err(e) = ctx.record_heartbeat(task.step.clone()).await {
                    tracing::warn!("cannot record a heartbeat for step {}: {e}", task.step);
                }
            }
            () = ctx.cancelled() => {
                if let Some(pgid) = pgid {
                    stop_group(pgid, &mut child).await;
                }
                return Err(StepStop::Cancelled);
            }
        }
    }
}

/// `pipeline step exec ...` for `task` in `checkout`, without the variables the steps
/// must not see ([`WorkerSetup::hidden_env`]).
fn step_exec_command(
    setup: &WorkerSetup,
    task: &StepTask,
    checkout: &Path,
) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(&setup.pipeline_bin);
    cmd.args(step_exec_args(task, &setup.remote))
        .current_dir(checkout);
    for name in &setup.hidden_env {
        cmd.env_remove(name);
    }
    cmd
}

/// SIGTERM to the group, SIGKILL after [`STOP_GRACE`].
async fn stop_group(pgid: i32, child: &mut tokio::process::Child) {
    let group = Pid::from_raw(pgid);
    if killpg(group, Signal::SIGTERM).is_err() {
        return;
    }
    if tokio::time::timeout(STOP_GRACE, child.wait())
        .await
        .is_err()
    {
        // The group may be gone already; nothing else to do then.
        let _ = killpg(group, Signal::SIGKILL);
        let _ = child.wait().await;
    }
}

/// Makes the child get SIGTERM when the worker dies (Linux `PR_SET_PDEATHSIG`), so a
/// lost worker's step stops instead of pushing a result after the step ran elsewhere.
#[allow(
    unsafe_code,
    reason = "pre_exec is unsafe: the closure runs between fork and exec"
)]
fn die_with_parent(cmd: &mut tokio::process::Command) {
    // SAFETY: the closure only calls prctl(2), which is async-signal-safe, and allocates
    // nothing.
    unsafe {
        cmd.pre_exec(|| {
            nix::sys::prctl::set_pdeathsig(Signal::SIGTERM).map_err(std::io::Error::from)
        });
    }
}

/// The last [`OUTPUT_TAIL_LINES`] lines of `log`.
fn output_tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(OUTPUT_TAIL_LINES)..].join("\n")
}

/// Fetches every result head, merges them and pushes `pipeline/<run>`; returns the
/// result commit, or why not.
async fn merge_and_push(
    setup: &WorkerSetup,
    fetch_lock: &tokio::sync::Mutex<()>,
    task: &MergeTask,
) -> Result<String, String> {
    let run = &task.run_id;
    let remote_glob = format!("+refs/heads/pipeline-steps/{run}/*:refs/pipeline-steps/{run}/*");
    let _one_at_a_time = fetch_lock.lock().await;
    git(
        &setup.repo,
        &[
            "fetch",
            "--no-tags",
            "--quiet",
            "--",
            &setup.remote,
            &remote_glob,
        ],
    )
    .await
    .map_err(|e| e.to_string())?;
    let heads: Vec<git2::Oid> = task
        .heads
        .iter()
        .map(|h| git2::Oid::from_str(h).map_err(|e| format!("bad result commit {h}: {e}")))
        .collect::<Result<_, _>>()?;
    let repo_dir = setup.repo.clone();
    let message = format!("pipeline: result of run {run}");
    let merged = tokio::task::spawn_blocking(move || {
        let repo = Repository::open(&repo_dir).map_err(|e| e.to_string())?;
        repo.merge_commits(&heads, &message).map_err(|e| match e {
            pipeline_core::git::GitError::MergeConflict { paths } => format!(
                "the results of the completed steps conflict when merged: {}",
                paths.join(", ")
            ),
            other => format!("cannot build the result branch: {other}"),
        })
    })
    .await
    .map_err(|e| format!("the merge task failed: {e}"))??;
    let commit = merged.to_string();
    let target = format!("{commit}:refs/heads/{}", result_branch(run));
    git(
        &setup.repo,
        &["push", "--quiet", "--force", "--", &setup.remote, &target],
    )
    .await
    .map_err(|e| e.to_string())?;
    Ok(commit)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task() -> StepTask {
        StepTask {
            run_id: "r1".into(),
            step: "ws/a".into(),
            base_commit: "0".repeat(40),
            dependencies: vec!["ws/base".into()],
            inputs: vec!["1".repeat(40)],
            workstream_files: vec!["workstreams/ws.json".into()],
            worker_losses: 0,
        }
    }

    #[test]
    fn the_step_command_runs_without_the_workers_credentials() {
        let setup = WorkerSetup {
            repo: PathBuf::from("/clone"),
            remote: "origin".into(),
            pipeline_bin: PathBuf::from("/bin/pipeline"),
            work_dir: PathBuf::from("/clone/.pipeline/temporal"),
            identity: "1@host".into(),
            hidden_env: vec!["TEMPORAL_CLOUD_API_KEY".into()],
        };
        let cmd = step_exec_command(&setup, &task(), Path::new("/checkout"));
        let std = cmd.as_std();
        let removed: Vec<_> = std
            .get_envs()
            .filter(|(_, value)| value.is_none())
            .map(|(name, _)| name.to_string_lossy().into_owned())
            .collect();
        assert_eq!(removed, ["TEMPORAL_CLOUD_API_KEY"]);
        assert_eq!(std.get_current_dir(), Some(Path::new("/checkout")));
        let args: Vec<_> = std
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(&args[..3], ["step", "exec", "ws/a"], "{args:?}");
    }
}
