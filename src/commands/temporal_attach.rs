//! `status`, `resume`, `cancel` and `logs` on Temporal runs, and the following loop that
//! `pipeline run --engine temporal` and `pipeline resume` share (docs/TEMPORAL.md "Runs
//! in the state database").
//!
//! A Temporal run is recorded in the state database of the repository that submitted it
//! ([`RunMirror`]); its `run_started` names the server, namespace and workflow. From
//! another clone (another machine), `--temporal ADDR` (or `PIPELINE_TEMPORAL_ADDRESS`)
//! finds a run that is not recorded there: its plan is read from the workflow's history
//! and the run is recorded in that clone's database too, then shown, followed or
//! cancelled like one submitted there.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicI32, Ordering};

use pipeline_core::engine::{EngineError, LATEST, Workspace, repository_root_or_current_dir};
use pipeline_core::state::{LockProbe, RemoteEngine, RunLock, StateStore};
use pipeline_temporal::connection::ConnectionSettings;
use pipeline_temporal::dag_schedule::StepStatus;
use pipeline_temporal::run_plan::workflow_id;
use pipeline_temporal::workflow_client;
use pipeline_temporal::{RunOutcome, RunState, StepChanges, StepState, SubmitConfig, follow};
use tokio::signal::unix::{SignalKind, signal};

use super::exit;
use super::temporal_mirror::{RunMirror, TEMPORAL, open_state, remote_engine};
use super::temporal_target::resolve;
use crate::cli::{RemoteRunArgs, RepoArgs};
use crate::command_error::CommandError;

/// A Temporal run recorded in this repository's state database.
pub struct TemporalRun {
    /// The repository's pipeline paths.
    pub workspace: Workspace,
    /// Its state database.
    pub state: StateStore,
    /// The run id.
    pub run_id: String,
    /// Where its workflow is.
    pub engine: RemoteEngine,
}

impl TemporalRun {
    /// How to reach the run's workflow: `flags` (`--temporal`, `--namespace`, TLS, API
    /// key) over the address and namespace the run was submitted to, with the TLS and
    /// API key settings of the repository's `.pipeline/config.yaml`. Errors (exit 2): a
    /// bad flag or configuration value (see [`resolve`]).
    pub fn connection(&self, flags: &RemoteRunArgs) -> Result<ConnectionSettings, CommandError> {
        let mut connect = flags.connect.clone();
        if connect.temporal.is_none() {
            connect.temporal = Some(self.engine.address.clone());
            connect.namespace = connect
                .namespace
                .or_else(|| Some(self.engine.namespace.clone()));
        }
        let target = resolve(
            &connect,
            Some(&self.remote(flags)),
            Some(&self.workspace.repo_root),
        )?;
        Ok(target.map_or_else(
            || ConnectionSettings::plain(&self.engine.address, &self.engine.namespace),
            |t| t.connection,
        ))
    }

    /// The shared git remote: `--remote`, else the one the run was submitted with.
    pub fn remote(&self, flags: &RemoteRunArgs) -> String {
        flags
            .remote
            .clone()
            .unwrap_or_else(|| self.engine.remote.clone())
    }
}

/// Prints `line` on stdout; a closed stdout (`pipeline run --json ... | head -1`) only
/// ends the output, not the following (SIGPIPE is ignored while following).
pub fn out_line(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stdout().lock(), "{line}");
}

fn runtime() -> Result<tokio::runtime::Runtime, CommandError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CommandError::internal(format!("cannot start the async runtime: {e}")))
}

fn temporal_error(e: pipeline_temporal::TemporalError) -> CommandError {
    CommandError::with_code(e.exit_code(), e)
}

/// The Temporal run `run` (an id, `latest` or `None` for the newest run) of this
/// repository, or `None` when it is a local run. A run id the database does not record
/// is looked up on the server of `--temporal` (or `PIPELINE_TEMPORAL_ADDRESS`, or
/// `temporal.address` of `.pipeline/config.yaml`) when there is one, and recorded here
/// when its workflow exists. Errors: an unknown run (with no server to ask, or not on it), the
/// database or the server failing.
pub fn find(
    repo: &RepoArgs,
    flags: &RemoteRunArgs,
    run: Option<&str>,
) -> Result<Option<TemporalRun>, CommandError> {
    let root = repository_root_or_current_dir(repo.repo.as_deref())?;
    let workspace = Workspace::new(&root, repo.db.as_deref());
    let recorded = if workspace.db_path.exists() {
        let state = open_state(&workspace)?;
        let record = match run {
            Some(id) if id != LATEST => state.run(id)?,
            _ => state.runs()?.into_iter().next(),
        };
        record.map(|r| (state, r.run_id))
    } else {
        None
    };
    if let Some((state, run_id)) = recorded {
        return Ok(remote_engine(&state, &run_id)?.map(|engine| TemporalRun {
            workspace,
            state,
            run_id,
            engine,
        }));
    }
    let Some(run_id) = run.filter(|r| *r != LATEST) else {
        return Ok(None);
    };
    // `--temporal`, PIPELINE_TEMPORAL_ADDRESS or `temporal.address` of the configuration.
    let Some(target) = resolve(&flags.connect, flags.remote.as_deref(), Some(&root))? else {
        return Ok(None);
    };
    let plan = runtime()?
        .block_on(workflow_client::planned_run(&target.connection, run_id))
        .map_err(temporal_error)?;
    let state = open_state(&workspace)?;
    let engine = RemoteEngine {
        kind: TEMPORAL.to_string(),
        address: target.connection.address.clone(),
        namespace: target.connection.namespace.clone(),
        workflow_id: workflow_id(run_id),
        task_queue: plan.task_queue.clone(),
        remote: target.remote.clone(),
    };
    RunMirror::create(
        &state,
        &workspace,
        &plan,
        &workspace.repo_root.to_string_lossy(),
        engine.clone(),
    )?;
    eprintln!(
        "run {run_id}: recorded from workflow {} on {}",
        engine.workflow_id, engine.address
    );
    Ok(Some(TemporalRun {
        workspace,
        state,
        run_id: run_id.to_string(),
        engine,
    }))
}

/// Brings the database's copy of `run` up to date with its workflow, unless a live
/// process (the submitter, a `resume`) follows it, or it already ended. A server that
/// does not answer only warns: the recorded state is shown. Errors: the database.
pub fn refresh(run: &TemporalRun, flags: &RemoteRunArgs) -> Result<(), CommandError> {
    let mut mirror = RunMirror::open(run.state.clone(), &run.workspace, &run.run_id)?;
    if mirror.is_finished() {
        return Ok(());
    }
    let locks = run.workspace.locks_dir();
    if let LockProbe::Held { .. } =
        RunLock::probe(&locks, &run.run_id).map_err(EngineError::from)?
    {
        return Ok(());
    }
    // Held while writing, so a `resume` starting now does not write beside us.
    let Ok(_lock) = RunLock::acquire(&locks, &run.run_id) else {
        return Ok(());
    };
    let target = run.connection(flags)?;
    match runtime()?.block_on(workflow_client::snapshot(&target, &run.run_id)) {
        Ok(snapshot) => match snapshot.state {
            Some(state) => {
                mirror.apply(&state)?;
            }
            None => eprintln!(
                "note: workflow {} is {}, and no worker answered its state query; showing \
                 the state recorded here",
                run.engine.workflow_id, snapshot.execution
            ),
        },
        Err(e) => eprintln!(
            "note: cannot read workflow {} ({e}); showing the state recorded here",
            run.engine.workflow_id
        ),
    }
    Ok(())
}

/// Follows the workflow of `run` to its end from this process: holds the run lock (so
/// `status` shows a live driver), records every state in the database, prints each step
/// transition on stdout (or, with `json`, the recorded journal entries as NDJSON), then
/// the run's summary; Ctrl-C/SIGTERM cancel the workflow and wait for it. Returns the
/// exit code as for a local run. Errors: another process follows the run, the database,
/// the server (see [`follow`]).
pub fn follow_run(
    run: &TemporalRun,
    connection: ConnectionSettings,
    remote: String,
    json: bool,
) -> Result<i32, CommandError> {
    // Before the runtime's threads exist: a notify command that does not read its
    // stdin, or a closed stdout, must not kill the follower (as for a local run).
    crate::ignore_sigpipe();
    let lock = RunLock::acquire(&run.workspace.locks_dir(), &run.run_id).map_err(|e| {
        CommandError::invalid(format!(
            "run {} is already followed by another process ({e}); `pipeline status {}` \
             shows it",
            run.run_id, run.run_id
        ))
    })?;
    let mut mirror = RunMirror::open(run.state.clone(), &run.workspace, &run.run_id)?;
    let config = SubmitConfig {
        connection,
        repo: run.workspace.repo_root.clone(),
        remote,
    };
    let signalled = Arc::new(AtomicI32::new(0));
    let mut changes = StepChanges::default();
    let mut write_error: Option<EngineError> = None;
    let run_id = run.run_id.clone();
    let state = runtime()?.block_on(async {
        let mut term = signal(SignalKind::terminate())
            .map_err(|e| CommandError::internal(format!("cannot watch SIGTERM: {e}")))?;
        let flag = signalled.clone();
        let cancel = async move {
            let code = tokio::select! {
                _ = tokio::signal::ctrl_c() => exit::INTERRUPTED,
                _ = term.recv() => exit::TERMINATED,
            };
            flag.store(code, Ordering::SeqCst);
            eprintln!("cancelling run {run_id}; waiting for its running steps to stop");
        };
        let mut on_state = |state: &RunState| {
            if write_error.is_none() {
                match mirror.apply(state) {
                    Ok(entries) if json => {
                        for entry in entries {
                            if let Ok(line) = serde_json::to_string(&entry) {
                                out_line(&line);
                            }
                        }
                    }
                    Ok(_) => {}
                    Err(e) => write_error = Some(e),
                }
            }
            if !json {
                changes.report(&state.steps, &mut print_step);
            }
        };
        let repo = RepoArgs {
            repo: Some(run.workspace.repo_root.clone()),
            db: Some(run.workspace.db_path.clone()),
        };
        let deliveries = super::run::WebhookDeliveries::start(&repo);
        let followed = follow(&config, &run.run_id, cancel, &mut on_state)
            .await
            .map_err(temporal_error);
        if let Some(deliveries) = deliveries
            && let Some(note) = deliveries.finish().await
        {
            eprintln!("{note}");
        }
        followed
    })?;
    drop(lock);
    if let Some(e) = write_error {
        eprintln!("the run ended on the cluster, but its state could not be recorded here: {e}");
        return Ok(exit::INTERNAL);
    }
    if !json {
        out_line(&summary(&state));
    }
    Ok(match state.outcome {
        RunOutcome::Completed => exit::OK,
        RunOutcome::Cancelled => match signalled.load(Ordering::SeqCst) {
            0 => exit::INTERRUPTED,
            code => code,
        },
        RunOutcome::Failed | RunOutcome::Running => exit::FAILED,
    })
}

/// `run R completed: 3 completed, 0 failed, ...; result branch pipeline/R (abc...)`.
fn summary(state: &RunState) -> String {
    let count = |word: &str| {
        state
            .steps
            .iter()
            .filter(|s| s.status.word() == word)
            .count()
    };
    let mut summary = format!(
        "run {} {}: {} completed, {} failed, {} skipped, {} cancelled",
        state.run_id,
        match state.outcome {
            RunOutcome::Completed => "completed",
            RunOutcome::Failed => "failed",
            RunOutcome::Cancelled => "cancelled",
            RunOutcome::Running => "running",
        },
        count("completed"),
        count("failed"),
        count("skipped"),
        count("cancelled"),
    );
    if let (Some(branch), Some(commit)) = (&state.result_branch, &state.result_commit) {
        summary.push_str(&format!("; result branch {branch} ({commit})"));
    }
    if let Some(e) = &state.result_error {
        summary.push_str(&format!("; no result branch: {e}"));
    }
    summary
}

/// One line per step transition.
fn print_step(step: &StepState) {
    let losses = if step.worker_losses > 0 {
        format!(" (worker lost {} time(s))", step.worker_losses)
    } else {
        String::new()
    };
    let on = step
        .worker
        .as_deref()
        .map(|w| format!(" on worker {w}"))
        .unwrap_or_default();
    let line = match &step.status {
        StepStatus::Completed { commit } => {
            format!("completed {}{on}", &commit[..commit.len().min(12)])
        }
        StepStatus::Failed { error } => format!("failed{on}: {error}"),
        StepStatus::Skipped {
            reason: Some(reason),
            ..
        } => format!("skipped: {reason}"),
        StepStatus::Skipped { dependency, .. } => {
            format!("skipped (dependency {dependency} did not complete)")
        }
        other => other.word().to_string(),
    };
    out_line(&format!("step {}: {line}{losses}", step.id));
}

/// `pipeline cancel RUN`: a Temporal run's workflow is cancelled (its running steps stop
/// on their workers; the process following it, if any, records the end); a local run's
/// driving process gets SIGINT, as Ctrl-C in its terminal. Errors (exit 2): an unknown
/// run, a run nothing drives (nothing to cancel), a workflow that already ended.
pub fn cancel(run: &str, flags: &RemoteRunArgs, repo: &RepoArgs) -> Result<i32, CommandError> {
    if let Some(found) = find(repo, flags, Some(run))? {
        let target = found.connection(flags)?;
        let runtime = runtime()?;
        // The server accepts a cancel request for a workflow that already ended, and
        // nothing happens: say so instead.
        let now = runtime
            .block_on(workflow_client::snapshot(&target, &found.run_id))
            .map_err(temporal_error)?;
        if now.is_closed() {
            refresh(&found, flags)?;
            return Err(CommandError::invalid(format!(
                "run {} has ended (its workflow {} is {}): nothing to cancel",
                found.run_id, found.engine.workflow_id, now.execution
            )));
        }
        runtime
            .block_on(workflow_client::cancel(
                &target,
                &found.run_id,
                "cancelled with pipeline cancel",
            ))
            .map_err(temporal_error)?;
        println!(
            "run {}: cancellation requested for workflow {} on {}; its running steps stop \
             on their workers (`pipeline status {}` shows when)",
            found.run_id, found.engine.workflow_id, target.address, found.run_id
        );
        return Ok(exit::OK);
    }
    let root = repository_root_or_current_dir(repo.repo.as_deref())?;
    let workspace = Workspace::new(&root, repo.db.as_deref());
    let record = if workspace.db_path.exists() {
        let state = open_state(&workspace)?;
        pipeline_core::engine::resolve_run(&state, Some(run)).ok()
    } else {
        None
    };
    let Some(record) = record else {
        return Err(CommandError::invalid(format!(
            "no run `{run}` is recorded in {}{}",
            workspace.db_path.display(),
            if flags.connect.temporal.is_none() {
                "; for a Temporal run submitted elsewhere, pass --temporal HOST:PORT"
            } else {
                ""
            }
        )));
    };
    match RunLock::probe(&workspace.locks_dir(), &record.run_id).map_err(EngineError::from)? {
        LockProbe::Held { pid: Some(pid) } => {
            nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid as i32),
                nix::sys::signal::Signal::SIGINT,
            )
            .map_err(|e| {
                CommandError::internal(format!(
                    "cannot signal process {pid} driving run {}: {e}",
                    record.run_id
                ))
            })?;
            println!(
                "run {}: sent SIGINT to process {pid}, which drives it; it stops its steps \
                 and records the run interrupted (`pipeline resume {}` continues it)",
                record.run_id, record.run_id
            );
            Ok(exit::OK)
        }
        LockProbe::Held { pid: None } => Err(CommandError::internal(format!(
            "run {} is driven by a process whose id its lock file does not give; stop it \
             with Ctrl-C in its terminal",
            record.run_id
        ))),
        LockProbe::Free => Err(CommandError::invalid(format!(
            "run {} is not being driven by any process (status {}): nothing to cancel",
            record.run_id,
            record.status.as_str()
        ))),
    }
}

/// `pipeline logs RUN STEP` on a Temporal run: the step's record its worker pushed to
/// the shared remote at `refs/pipeline-logs/<run>/<step>` when the step ended, fetched
/// into this repository; prints its `output.log` (or the ref's file paths with
/// `paths_only`). Errors (exit 2): the step is not in the run, or has no record on the
/// remote yet (it has not ended); exit 3 when git fails.
pub fn logs(
    run: &TemporalRun,
    flags: &RemoteRunArgs,
    step: &str,
    paths_only: bool,
) -> Result<i32, CommandError> {
    if run.state.step(&run.run_id, step)?.is_none() {
        let steps: Vec<String> = run
            .state
            .steps(&run.run_id)?
            .into_iter()
            .map(|s| s.step_id)
            .collect();
        return Err(CommandError::invalid(format!(
            "run {} has no step `{step}`; its steps: {}",
            run.run_id,
            steps.join(", ")
        )));
    }
    let reference = format!("refs/pipeline-logs/{}/{step}", run.run_id);
    let remote = run.remote(flags);
    let root: PathBuf = run.workspace.repo_root.clone();
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .arg("-C")
            .arg(&root)
            .args(args)
            .env("GIT_TERMINAL_PROMPT", "0")
            .output()
            .map_err(|e| CommandError::internal(format!("cannot run git: {e}")))
    };
    let fetched = git(&[
        "fetch",
        "--quiet",
        "--no-tags",
        "--",
        &remote,
        &format!("+{reference}:{reference}"),
    ])?;
    if !fetched.status.success() {
        let status = run
            .state
            .step(&run.run_id, step)?
            .map(|s| s.status.as_str().to_string())
            .unwrap_or_default();
        return Err(CommandError::invalid(format!(
            "step {step} of run {} has no log on remote `{remote}` yet (its status here: \
             {status}): a worker pushes {reference} when the step ends; `pipeline status {}` \
             shows where it is",
            run.run_id, run.run_id
        )));
    }
    if paths_only {
        let files = git(&["ls-tree", "--name-only", &reference])?;
        for name in String::from_utf8_lossy(&files.stdout).lines() {
            println!("{reference}:{name}");
        }
        return Ok(exit::OK);
    }
    let shown = git(&["show", &format!("{reference}:output.log")])?;
    if !shown.status.success() {
        return Err(CommandError::internal(format!(
            "{reference} on remote `{remote}` has no output.log: {}",
            String::from_utf8_lossy(&shown.stderr).trim()
        )));
    }
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    // A closed stdout (`pipeline logs ... | head`) only ends the output.
    let _ = writeln!(out, "==> {reference}:output.log <==");
    let _ = out.write_all(&shown.stdout);
    Ok(exit::OK)
}
