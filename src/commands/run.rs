//! `pipeline run` and `pipeline resume`.
//!
//! Signals while a run is driven (issue #10, point 5): SIGINT (Ctrl-C), SIGTERM (a CI
//! runner cancelling a job) and SIGHUP (a closed terminal or tmux window) all stop it the
//! same way: scheduling stops, the tools' process groups are terminated (the cancel
//! token), unfinished steps are recorded `interrupted`, and the run stays resumable. The
//! exit code names the signal: 130, 143 or 129 (128 + the signal's number). A second
//! signal ends the process at once. SIGPIPE is ignored while a run is driven: a closed
//! stdout (`pipeline run --json ... | head -1`) stops the output, not the run.

use std::fmt::Write as _;
use std::io::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::Duration;

use pipeline_core::engine::{
    Driver, EngineError, ResumeTarget, RunOptions, RunSummary, UnfinishedPolicy,
    completed_step_stats, counted, delivery_workspace, load_and_plan, resumable_run, resume_run,
    run_status, run_workstreams, uncommitted_changes,
};
use pipeline_core::planning::{PlanFormat, render_plan};
use pipeline_core::state::{Durability, RunStatus, StepStatus};
use pipeline_webhooks::{Delivery, DeliveryConfig};
use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio_util::sync::CancellationToken;

use super::{exit, report_error};
use crate::cli::{self, RepoArgs, ReportArgs, ResumeArgs, RunArgs};
use crate::junit::write_junit;
use crate::progress::reporter;

fn durability(d: cli::Durability) -> Durability {
    match d {
        cli::Durability::Normal => Durability::Normal,
        cli::Durability::Full => Durability::Full,
    }
}

fn base_options(
    repo: &RepoArgs,
    jobs: Option<u32>,
    d: cli::Durability,
    test_timeout: u64,
) -> RunOptions {
    let mut o = RunOptions {
        repo: repo.repo.clone(),
        db: repo.db.clone(),
        durability: durability(d),
        acceptance_timeout: Duration::from_secs(test_timeout.max(1)),
        ..RunOptions::default()
    };
    if let Some(j) = jobs {
        o.jobs = j as usize;
    }
    o
}

pub fn run(args: RunArgs) -> Result<i32, EngineError> {
    if args.dry_run {
        let (set, plan) = load_and_plan(&args.paths, args.repo.repo.as_deref())?;
        if args.report.json {
            print!("{}", render_plan(&set, &plan, PlanFormat::Json));
        } else {
            print!("{}", render_plan(&set, &plan, PlanFormat::Text));
            println!("\ndry run: nothing was executed or recorded");
        }
        return Ok(exit::OK);
    }
    if !args.include_uncommitted {
        warn_uncommitted(&args.repo, args.report.json);
    }
    let mut options = base_options(&args.repo, args.jobs, args.durability, args.test_timeout);
    options.include_uncommitted = args.include_uncommitted;
    options.sandbox = args.sandbox == cli::SandboxMode::On;
    options.approve_all = args.approve_all;
    options.no_cache = args.no_cache;
    if args.budget_usd.is_some() || args.budget_tokens.is_some() {
        options.budget = Some(pipeline_core::model::Budget {
            usd: args.budget_usd,
            tokens: args.budget_tokens,
        });
    }
    options.verify_cached = args.verify_cached;
    options.keep_candidates = args.keep_candidates;
    options.base = Some(args.base.clone());
    options.run_id = args.run_id.clone();
    options.unfinished = if args.resume {
        UnfinishedPolicy::Resume
    } else if args.new {
        UnfinishedPolicy::New
    } else {
        UnfinishedPolicy::Refuse
    };
    let paths = args.paths.clone();
    drive(&args.repo, &args.report, move |rep, cancel| {
        Box::pin(async move { run_workstreams(&paths, options, rep, cancel).await })
    })
}

/// How many uncommitted paths the warning names at most.
const UNCOMMITTED_SHOWN: usize = 10;

/// Warns when the checkout has changes the run will not see (it starts from a commit):
/// on stderr, or with `--json` as one NDJSON line on stdout (docs/EVENTS.md), naming up
/// to [`UNCOMMITTED_SHOWN`] paths and the count. A repository that cannot be read is
/// left to the run to report.
fn warn_uncommitted(repo: &RepoArgs, json: bool) {
    let paths = match uncommitted_changes(repo.repo.as_deref()) {
        Ok(paths) if !paths.is_empty() => paths,
        _ => return,
    };
    let shown = &paths[..paths.len().min(UNCOMMITTED_SHOWN)];
    let message = format!(
        "the repository has {} uncommitted change(s) the run will not see (it starts from a \
         commit); commit them, or pass --include-uncommitted to run on them",
        paths.len()
    );
    if json {
        let line = serde_json::json!({
            "event": "warning",
            "warning": "uncommitted_changes",
            "message": message,
            "count": paths.len(),
            "paths": shown,
        });
        println!("{line}");
    } else {
        eprintln!("warning: {message}:");
        for path in shown {
            eprintln!("  {path}");
        }
        if paths.len() > shown.len() {
            eprintln!("  ... and {} more", paths.len() - shown.len());
        }
    }
}

/// `pipeline resume [RUN]`: continues `RUN` (`latest`: the newest run) or, without one,
/// the newest run that is interrupted, failed, or recorded `running` with no live driver
/// (never a completed run). Says on stderr which run and why it qualifies, e.g.
/// "resuming run X (failed: 1 step failed, 2 skipped)"; completed steps are kept, failed,
/// skipped and interrupted ones run again. Errors: no run qualifies (exit 2, saying
/// what to do), and those of the engine.
pub fn resume(args: ResumeArgs) -> Result<i32, EngineError> {
    let target = match resumable_run(
        args.repo.repo.as_deref(),
        args.repo.db.as_deref(),
        args.run.as_deref(),
    ) {
        Ok(t) => t,
        Err(e) => return Ok(report_error(&e)),
    };
    note(&format!(
        "resuming run {} ({})",
        target.run_id,
        resume_reason(&target)
    ));
    let mut options = base_options(&args.repo, args.jobs, args.durability, args.test_timeout);
    options.sandbox = args.sandbox == cli::SandboxMode::On;
    options.approve_all = args.approve_all;
    if args.budget_usd.is_some() || args.budget_tokens.is_some() {
        options.budget = Some(pipeline_core::model::Budget {
            usd: args.budget_usd,
            tokens: args.budget_tokens,
        });
    }
    options.verify_cached = args.verify_cached;
    options.keep_candidates = args.keep_candidates;
    let run = target.run_id;
    drive(&args.repo, &args.report, move |rep, cancel| {
        Box::pin(async move { resume_run(&run, options, rep, cancel).await })
    })
}

/// Why a run can be resumed, in words: "failed: 1 step failed, 2 skipped",
/// "interrupted: 3 of 5 steps completed", "running, but no process drives it".
fn resume_reason(target: &ResumeTarget) -> String {
    let steps = target.steps;
    match (target.status, target.driver) {
        (RunStatus::Failed, _) => {
            let mut parts = vec![format!("{} failed", counted(steps.failed, "step", "steps"))];
            if steps.skipped > 0 {
                parts.push(format!("{} skipped", steps.skipped));
            }
            format!("failed: {}", parts.join(", "))
        }
        (RunStatus::Running, Some(Driver::Gone)) => format!(
            "running, but no process drives it: {} of {} completed",
            steps.completed,
            counted(steps.total, "step", "steps")
        ),
        (status, _) => format!(
            "{}: {} of {} completed",
            status.as_str(),
            steps.completed,
            counted(steps.total, "step", "steps")
        ),
    }
}

pub(super) type RunFuture =
    std::pin::Pin<Box<dyn Future<Output = Result<RunSummary, EngineError>> + Send>>;

/// Runs the engine on a tokio runtime with SIGINT, SIGTERM and SIGHUP wired to
/// cancellation (see the module docs), then reports. Also drives `pipeline step exec`.
pub(super) fn drive(
    repo: &RepoArgs,
    report: &ReportArgs,
    start: impl FnOnce(Arc<dyn pipeline_core::engine::Reporter>, CancellationToken) -> RunFuture,
) -> Result<i32, EngineError> {
    // Before the runtime's threads exist.
    crate::ignore_sigpipe();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| EngineError::Internal(format!("cannot start the async runtime: {e}")))?;
    let ci = crate::ci_report::ci_mode(report.ci);
    let rep = reporter(report.json, ci);
    let cancel = CancellationToken::new();
    // The exit code of the first stop signal received (0: none).
    let stopped_by = Arc::new(AtomicI32::new(0));
    let (summary, delivery_note) = runtime.block_on(async {
        match StopSignals::new() {
            Ok(signals) => {
                tokio::spawn(handle_stop_signals(
                    signals,
                    cancel.clone(),
                    stopped_by.clone(),
                    report.json,
                ));
            }
            Err(e) => tracing::warn!("cannot handle stop signals: {e}"),
        }
        let deliveries = WebhookDeliveries::start(repo);
        let summary = start(rep, cancel.clone()).await;
        let pending_note = match deliveries {
            Some(deliveries) => deliveries.finish().await,
            None => None,
        };
        (summary, pending_note)
    });
    let summary = match summary {
        Ok(s) => s,
        Err(e) => {
            let code = report_error(&e);
            if let Some(line) = &delivery_note {
                note(line);
            }
            return Ok(code);
        }
    };
    if let Some(path) = &report.junit {
        match run_status(
            Some(&summary.repo),
            repo.db.as_deref(),
            Some(&summary.run_id),
        ) {
            Ok(status) => {
                if let Err(e) = write_junit(&status, path) {
                    note(&format!("error: {e}"));
                }
            }
            Err(e) => note(&format!("error: cannot write the JUnit report: {e}")),
        }
    }
    if report.json {
        print_json_line(&summary);
    } else {
        print_summary(&summary, repo);
    }
    ci_reports(&summary, repo, report, ci);
    if let Some(line) = delivery_note {
        note(&line);
    }
    Ok(match summary.status {
        RunStatus::Completed => exit::OK,
        RunStatus::Interrupted => match stopped_by.load(Ordering::SeqCst) {
            0 => exit::INTERRUPTED,
            code => code,
        },
        RunStatus::Failed | RunStatus::Running => exit::FAILED,
    })
}

/// The CI reports of a finished run (docs/CI.md): on GitHub Actions in CI mode the
/// workflow commands on stdout (not with `--json`, whose stdout is NDJSON) and the job
/// summary appended to `$GITHUB_STEP_SUMMARY`; with `--summary FILE` the summary in FILE.
/// A report that cannot be made is a note on stderr: the run's outcome stands.
fn ci_reports(summary: &RunSummary, repo: &RepoArgs, report: &ReportArgs, ci: bool) {
    let github = ci && crate::ci_report::on_github_actions();
    let step_summary = std::env::var_os("GITHUB_STEP_SUMMARY")
        .filter(|p| github && !p.is_empty())
        .map(std::path::PathBuf::from);
    if !github && report.summary.is_none() {
        return;
    }
    let status = match run_status(
        Some(&summary.repo),
        repo.db.as_deref(),
        Some(&summary.run_id),
    ) {
        Ok(status) => status,
        Err(e) => return note(&format!("error: cannot write the CI reports: {e}")),
    };
    // The detail (errors, logs) of the steps that did not complete.
    let details: Vec<_> = status
        .steps
        .iter()
        .filter(|s| !matches!(s.status, StepStatus::Completed | StepStatus::Skipped))
        .filter_map(|s| {
            pipeline_core::engine::step_detail(
                Some(&summary.repo),
                repo.db.as_deref(),
                &summary.run_id,
                &s.id,
            )
            .ok()
        })
        .collect();
    let run = crate::ci_report::CiRun {
        status: &status,
        details: &details,
    };
    if github && !report.json {
        let mut out = std::io::stdout().lock();
        if let Err(e) = crate::ci_report::write_workflow_commands(&run, &mut out) {
            note(&format!("error: cannot write the workflow commands: {e}"));
        }
    }
    let markdown = crate::ci_report::summary_markdown(&run);
    if let Some(path) = step_summary
        && let Err(e) = crate::ci_report::append_summary(&path, &markdown)
    {
        note(&format!(
            "error: cannot append the job summary to {}: {e}",
            path.display()
        ));
    }
    if let Some(path) = &report.summary
        && let Err(e) = std::fs::write(path, &markdown)
    {
        note(&format!(
            "error: cannot write the summary to {}: {e}",
            path.display()
        ));
    }
}

/// Webhook and notify deliveries while a run is driven (docs/WEBHOOKS.md): a loop
/// delivering the outbox (of every run) in the background, then, once the run ended, a
/// drain of at most `webhook_delivery.drain_sec`.
pub(crate) struct WebhookDeliveries {
    db_path: std::path::PathBuf,
    config: DeliveryConfig,
    cancel: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl WebhookDeliveries {
    /// Starts the loop when `.pipeline/config.yaml` has endpoints. A configuration that
    /// cannot be loaded starts nothing here: the run reports it (and refuses to start).
    pub(crate) fn start(repo: &RepoArgs) -> Option<WebhookDeliveries> {
        let workspace = delivery_workspace(repo.repo.as_deref(), repo.db.as_deref()).ok()?;
        let config = DeliveryConfig::load(&workspace.repo_root, &workspace.state_dir).ok()?;
        if config.is_empty() {
            return None;
        }
        let cancel = CancellationToken::new();
        match Delivery::start(&workspace.db_path, config.clone(), cancel.clone()) {
            Ok(task) => Some(WebhookDeliveries {
                db_path: workspace.db_path,
                config,
                cancel,
                task,
            }),
            Err(e) => {
                note(&format!("warning: webhook deliveries not started: {e}"));
                None
            }
        }
    }

    /// Stops the loop (its deliveries in flight finish), drains for at most
    /// `drain_sec`, and returns what to say about deliveries still pending (or a
    /// failed drain), printed after the run's summary.
    pub(crate) async fn finish(self) -> Option<String> {
        self.cancel.cancel();
        // A loop that panicked left its rows leased; they are delivered later.
        let _ = self.task.await;
        let within = Duration::from_secs(self.config.settings.drain_sec);
        match Delivery::drain(&self.db_path, self.config, within).await {
            Ok(report) if report.pending > 0 => Some(format!(
                "{} pending webhook/notify deliver{}: a later `pipeline run`, `resume` or `serve` delivers {} (`pipeline webhooks` lists deliveries)",
                report.pending,
                if report.pending == 1 { "y" } else { "ies" },
                if report.pending == 1 { "it" } else { "them" },
            )),
            Ok(_) => None,
            Err(e) => Some(format!("warning: webhook deliveries not drained: {e}")),
        }
    }
}

/// The stop signals a driven run listens to, registered before the run starts.
struct StopSignals {
    interrupt: Signal,
    terminate: Signal,
    hangup: Signal,
}

impl StopSignals {
    /// Registers the handlers (from then on these signals no longer end the process).
    fn new() -> std::io::Result<StopSignals> {
        Ok(StopSignals {
            interrupt: signal(SignalKind::interrupt())?,
            terminate: signal(SignalKind::terminate())?,
            hangup: signal(SignalKind::hangup())?,
        })
    }

    /// The next stop signal, as its name and the exit code it gives
    /// (`exit::INTERRUPTED`, `exit::TERMINATED`, `exit::HANGUP`).
    async fn next(&mut self) -> (&'static str, i32) {
        tokio::select! {
            _ = self.interrupt.recv() => ("Ctrl-C", exit::INTERRUPTED),
            _ = self.terminate.recv() => ("SIGTERM", exit::TERMINATED),
            _ = self.hangup.recv() => ("SIGHUP", exit::HANGUP),
        }
    }
}

/// First stop signal: cancel the run (it ends `interrupted`, resumable) and remember the
/// code to exit with; a second one ends the process at once with its code.
async fn handle_stop_signals(
    mut signals: StopSignals,
    cancel: CancellationToken,
    stopped_by: Arc<AtomicI32>,
    json: bool,
) {
    let (name, code) = signals.next().await;
    stopped_by.store(code, Ordering::SeqCst);
    if !json {
        note(&format!(
            "\ninterrupted by {name}: stopping running tools ({name} again to force)"
        ));
    }
    cancel.cancel();
    let (_, code) = signals.next().await;
    std::process::exit(code);
}

/// Writes `line` to stderr, ignoring a closed or broken stderr (a hung-up terminal):
/// the run's state, not its messages, is what must survive.
pub(super) fn note(line: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

/// Writes `text` to stdout; a closed stdout (EPIPE) or any other write error only ends
/// the output, never the command (see the module docs).
fn out(text: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush());
}

fn print_json_line(summary: &RunSummary) {
    if let Ok(s) =
        serde_json::to_string(&serde_json::json!({"event": "summary", "summary": summary}))
    {
        out(&format!("{s}\n"));
    }
}

fn print_summary(summary: &RunSummary, repo: &RepoArgs) {
    out(&summary_text(summary, repo));
}

/// `1 step`, `2 steps`: `n` and `noun`, plural unless `n` is 1.
fn count(n: usize, noun: &str) -> String {
    format!("{n} {noun}{}", if n == 1 { "" } else { "s" })
}

/// What to do about a step that failed before its first attempt, from its recorded
/// error: install or choose a tool when none was usable; otherwise fix what the error
/// names (a merge conflict's error carries its own hint).
fn never_ran_advice(error: &str) -> &'static str {
    if error.starts_with("no usable tool") {
        "install the tool or give the step another one (`pipeline tools` lists what is \
         installed), then resume"
    } else if error.contains("conflicts in") {
        "do what the hint above says, then resume"
    } else {
        "fix what the error names, then resume"
    }
}

/// Most completed steps the summary gives a diffstat line.
const DIFFSTAT_STEPS: usize = 20;

/// `Changes (pipeline diff RUN STEP):` and one `  step  2 files changed, ...` line per
/// completed step (at most [`DIFFSTAT_STEPS`]); nothing when no step completed or the
/// diffs cannot be read (the run itself is reported either way).
fn diffstat_lines(summary: &RunSummary, repo: &RepoArgs) -> String {
    let Ok((stats, more)) = completed_step_stats(
        Some(&summary.repo),
        repo.db.as_deref(),
        &summary.run_id,
        DIFFSTAT_STEPS,
    ) else {
        return String::new();
    };
    if stats.is_empty() {
        return String::new();
    }
    let width = stats.iter().map(|(s, _)| s.len()).max().unwrap_or(0);
    let mut text = format!(
        "\nChanges (pipeline diff {} STEP shows one):\n",
        summary.run_id
    );
    for (step, stat) in &stats {
        let _ = writeln!(text, "  {step:width$}  {stat}");
    }
    if more > 0 {
        let _ = writeln!(text, "  ... and {more} more completed steps");
    }
    text
}

/// The human-readable end of a run: counts, result branch, failed steps (with their
/// logs, or why they never ran), skipped steps, what next.
fn summary_text(summary: &RunSummary, repo: &RepoArgs) -> String {
    let mut text = String::new();
    let secs = summary.duration_ms as f64 / 1000.0;
    let _ = writeln!(
        text,
        "\nRun {} {}: {} completed, {} failed, {} skipped{} in {secs:.1} s",
        summary.run_id,
        summary.status.as_str(),
        summary.completed,
        summary.failed,
        summary.skipped,
        if summary.interrupted + summary.not_run > 0 {
            format!(", {} not finished", summary.interrupted + summary.not_run)
        } else {
            String::new()
        },
    );
    if let Some(err) = &summary.result_error {
        let _ = writeln!(text, "Result branch not built: {err}");
    }
    if let (Some(branch), Some(commit)) = (&summary.result_branch, &summary.result_commit) {
        let _ = writeln!(
            text,
            "Result branch: {branch} ({})",
            &commit[..commit.len().min(10)]
        );
        if summary.status == RunStatus::Completed {
            let _ = writeln!(text, "Merge it with:  git merge {branch}");
        }
    }
    text.push_str(&diffstat_lines(summary, repo));
    if summary.status != RunStatus::Completed
        && let Ok(status) = run_status(
            Some(&summary.repo),
            repo.db.as_deref(),
            Some(&summary.run_id),
        )
    {
        for s in status
            .steps
            .iter()
            .filter(|s| s.status == StepStatus::Failed)
        {
            let error = s.error.as_deref().unwrap_or("").replace('\n', "\n  ");
            if s.attempts == 0 {
                // It failed before any attempt (no usable tool, its inputs conflict): it
                // has no logs, so say why it never ran and what to do instead.
                let _ = writeln!(text, "\nFailed before it ran: {}\n  {error}", s.id);
                let _ = writeln!(
                    text,
                    "  it never started, so it has no logs; {}",
                    never_ran_advice(s.error.as_deref().unwrap_or(""))
                );
            } else {
                let _ = writeln!(text, "\nFailed: {}\n  {error}", s.id);
                let _ = writeln!(text, "  logs: pipeline logs {} {}", summary.run_id, s.id);
            }
            if let Some(wt) = &s.worktree {
                let _ = writeln!(text, "  worktree kept: {wt}");
            }
        }
        let skipped: Vec<&str> = status
            .steps
            .iter()
            .filter(|s| s.status == StepStatus::Skipped)
            .map(|s| s.id.as_str())
            .collect();
        if !skipped.is_empty() {
            let _ = writeln!(
                text,
                "\nSkipped (never ran, no logs): {} ({})\n  {} on a step that failed; \
                 {} when the run is resumed after that step is fixed",
                count(skipped.len(), "step"),
                skipped.join(", "),
                if skipped.len() == 1 {
                    "it depends"
                } else {
                    "they depend"
                },
                if skipped.len() == 1 {
                    "it runs"
                } else {
                    "they run"
                },
            );
        }
    }
    match summary.status {
        RunStatus::Interrupted => {
            let _ = writeln!(text, "\nResume with:  pipeline resume {}", summary.run_id);
        }
        RunStatus::Failed => {
            let _ = writeln!(
                text,
                "\nAfter fixing, re-run the failed steps with:  pipeline resume {}",
                summary.run_id
            );
        }
        _ => {}
    }
    text
}
