//! `pipeline status` and `pipeline runs`.

use pipeline_core::engine::{list_runs, run_status};

use super::exit;
use crate::cli::RepoArgs;
use crate::command_error::CommandError;
use crate::json_output::print_json;

/// `pipeline status [RUN]`: a run's steps (default: the newest run) as a table or JSON.
/// Errors: from the engine (no repository or database, unknown run).
pub fn status(run: Option<&str>, json: bool, repo: &RepoArgs) -> Result<i32, CommandError> {
    let report = run_status(repo.repo.as_deref(), repo.db.as_deref(), run)?;
    if json {
        print_json(&report)?;
        return Ok(exit::OK);
    }
    println!("Run {}  {}", report.run_id, report.status.as_str());
    println!("  workstreams: {}", report.workstream.replace('\n', ", "));
    println!(
        "  base: {}  result: {}",
        &report.base_commit[..report.base_commit.len().min(10)],
        report.result_branch
    );
    println!(
        "  started: {}{}",
        report.started_at,
        report
            .finished_at
            .as_deref()
            .map(|f| format!("  finished: {f}"))
            .unwrap_or_default()
    );
    let width = report
        .steps
        .iter()
        .map(|s| s.id.len())
        .max()
        .unwrap_or(4)
        .max(4);
    println!(
        "\n  {:width$}  {:<11} {:>8}  {:<10}  ERROR",
        "STEP", "STATUS", "ATTEMPTS", "COMMIT"
    );
    for s in &report.steps {
        let commit = s
            .commit
            .as_deref()
            .map(|c| &c[..c.len().min(10)])
            .unwrap_or("-");
        let error = s
            .error
            .as_deref()
            .and_then(|e| e.lines().next())
            .unwrap_or("");
        let class = s
            .last_error
            .as_ref()
            .and_then(|e| e["class"].as_str())
            .map(|c| format!("[{c}] "))
            .unwrap_or_default();
        let error = if error.is_empty() {
            String::new()
        } else {
            format!("{class}{error}")
        };
        println!(
            "  {:width$}  {:<11} {:>8}  {:<10}  {}",
            s.id,
            s.status.as_str(),
            s.attempts,
            commit,
            error
        );
    }
    Ok(exit::OK)
}

/// `pipeline runs`: the recorded runs, newest first. Errors: from the engine.
pub fn runs(json: bool, repo: &RepoArgs) -> Result<i32, CommandError> {
    let runs = list_runs(repo.repo.as_deref(), repo.db.as_deref())?;
    if json {
        print_json(&runs)?;
        return Ok(exit::OK);
    }
    if runs.is_empty() {
        println!("no runs recorded");
    }
    for r in &runs {
        println!(
            "{}  {:<11}  {}  {}",
            r.run_id,
            r.status.as_str(),
            r.started_at,
            r.workstream.replace('\n', ", ")
        );
    }
    Ok(exit::OK)
}
