//! `pipeline run` and `pipeline resume`.

use std::sync::Arc;
use std::time::Duration;

use pipeline_core::engine::{
    EngineError, RunOptions, RunSummary, UnfinishedPolicy, load_and_plan, resume_run, run_status,
    run_workstreams,
};
use pipeline_core::planning::{PlanFormat, render_plan};
use pipeline_core::state::{Durability, RunStatus, StepStatus};
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
    let mut options = base_options(&args.repo, args.jobs, args.durability, args.test_timeout);
    options.sandbox = args.sandbox == cli::SandboxMode::On;
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

pub fn resume(args: ResumeArgs) -> Result<i32, EngineError> {
    let mut options = base_options(&args.repo, args.jobs, args.durability, args.test_timeout);
    options.sandbox = args.sandbox == cli::SandboxMode::On;
    let run = args.run.clone();
    drive(&args.repo, &args.report, move |rep, cancel| {
        Box::pin(async move { resume_run(run.as_deref(), options, rep, cancel).await })
    })
}

type RunFuture = std::pin::Pin<Box<dyn Future<Output = Result<RunSummary, EngineError>> + Send>>;

/// Runs the engine on a tokio runtime with Ctrl-C wired to cancellation, then reports.
fn drive(
    repo: &RepoArgs,
    report: &ReportArgs,
    start: impl FnOnce(Arc<dyn pipeline_core::engine::Reporter>, CancellationToken) -> RunFuture,
) -> Result<i32, EngineError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| EngineError::Internal(format!("cannot start the async runtime: {e}")))?;
    let rep = reporter(report.json);
    let cancel = CancellationToken::new();
    let summary = runtime.block_on(async {
        let c = cancel.clone();
        let json = report.json;
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                if !json {
                    eprintln!("\ninterrupted: stopping running tools (Ctrl-C again to force)");
                }
                c.cancel();
                if tokio::signal::ctrl_c().await.is_ok() {
                    std::process::exit(exit::INTERRUPTED);
                }
            }
        });
        start(rep, cancel.clone()).await
    });
    let summary = match summary {
        Ok(s) => s,
        Err(e) => return Ok(report_error(&e)),
    };
    if let Some(path) = &report.junit {
        match run_status(
            Some(&summary.repo),
            repo.db.as_deref(),
            Some(&summary.run_id),
        ) {
            Ok(status) => {
                if let Err(e) = write_junit(&status, path) {
                    eprintln!("error: {e}");
                }
            }
            Err(e) => eprintln!("error: cannot write the JUnit report: {e}"),
        }
    }
    if report.json {
        print_json_line(&summary);
    } else {
        print_summary(&summary, repo);
    }
    Ok(match summary.status {
        RunStatus::Completed => exit::OK,
        RunStatus::Interrupted => exit::INTERRUPTED,
        RunStatus::Failed | RunStatus::Running => exit::FAILED,
    })
}

fn print_json_line(summary: &RunSummary) {
    if let Ok(s) =
        serde_json::to_string(&serde_json::json!({"event": "summary", "summary": summary}))
    {
        println!("{s}");
    }
}

fn print_summary(summary: &RunSummary, repo: &RepoArgs) {
    let secs = summary.duration_ms as f64 / 1000.0;
    println!(
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
        println!("Result branch not built: {err}");
    }
    if let (Some(branch), Some(commit)) = (&summary.result_branch, &summary.result_commit) {
        println!(
            "Result branch: {branch} ({})",
            &commit[..commit.len().min(10)]
        );
        if summary.status == RunStatus::Completed {
            println!("Merge it with:  git merge {branch}");
        }
    }
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
            println!(
                "\nFailed: {}\n  {}",
                s.id,
                s.error.as_deref().unwrap_or("").replace('\n', "\n  ")
            );
            println!("  logs: pipeline logs {} {}", summary.run_id, s.id);
            if let Some(wt) = &s.worktree {
                println!("  worktree kept: {wt}");
            }
        }
    }
    match summary.status {
        RunStatus::Interrupted => println!("\nResume with:  pipeline resume {}", summary.run_id),
        RunStatus::Failed => println!(
            "\nAfter fixing, re-run the failed steps with:  pipeline resume {}",
            summary.run_id
        ),
        _ => {}
    }
}
