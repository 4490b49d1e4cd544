//! `pipeline status` and `pipeline runs`.
//!
//! Both say when a run is recorded `running` but no process drives it (its run lock is
//! free: the driver was stopped by a closed terminal, `kill -9` or a crash), and how to
//! continue it. In JSON that is the `driver` field: `"live"`, `"gone"` or `null`.

use pipeline_core::engine::{
    CandidateView, Driver, RunListEntry, RunStatusReport, UsageTotals, counted, list_runs,
    run_status,
};
use pipeline_core::state::{CandidateOutcome, StepStatus};

use super::exit;
use super::usage::thousands;
use crate::cli::{RemoteRunArgs, RepoArgs};
use crate::command_error::CommandError;
use crate::json_output::print_json;

/// The lines `status` prints under a run whose driver is gone.
fn driver_gone_hint(run_id: &str) -> String {
    format!(
        "  no process is driving this run (it was stopped: a closed terminal, kill -9, a crash)\n  continue it with: pipeline resume {run_id}"
    )
}

/// `pipeline status [RUN]`: a run's steps (default: the newest run; `latest` also names
/// it) as a table or JSON (`RunStatusReport`, with `driver`). For a run recorded
/// `running` whose driver is gone, the text says so and prints the resume command.
/// Errors: from the engine (no repository or database, unknown run).
pub fn status(
    run: Option<&str>,
    json: bool,
    repo: &RepoArgs,
    remote: &RemoteRunArgs,
) -> Result<i32, CommandError> {
    // A Temporal run is brought up to date with its workflow first (a run id not
    // recorded here is looked up on `--temporal`'s server).
    if let Some(found) = super::temporal_attach::find(repo, remote, run)? {
        super::temporal_attach::refresh(&found, remote)?;
    }
    let report = run_status(repo.repo.as_deref(), repo.db.as_deref(), run)?;
    if json {
        print_json(&report)?;
        return Ok(exit::OK);
    }
    print!("{}", render_status(&report));
    Ok(exit::OK)
}

fn render_status(report: &RunStatusReport) -> String {
    let mut out = format!("Run {}  {}\n", report.run_id, report.status.as_str());
    if report.driver == Some(Driver::Gone) {
        out.push_str(&driver_gone_hint(&report.run_id));
        out.push('\n');
    }
    out.push_str(&format!(
        "  workstreams: {}\n",
        report.workstream.replace('\n', ", ")
    ));
    out.push_str(&format!(
        "  base: {}  result: {}\n",
        &report.base_commit[..report.base_commit.len().min(10)],
        report.result_branch
    ));
    out.push_str(&format!(
        "  started: {}{}\n",
        report.started_at,
        report
            .finished_at
            .as_deref()
            .map(|f| format!("  finished: {f}"))
            .unwrap_or_default()
    ));
    let width = report
        .steps
        .iter()
        .map(|s| s.id.len())
        .max()
        .unwrap_or(4)
        .max(4);
    // `awaiting_approval` is the one status longer than the usual column.
    let status_width = report
        .steps
        .iter()
        .map(|s| s.status.as_str().len())
        .max()
        .unwrap_or(0)
        .max(11);
    let costs: Vec<String> = report.steps.iter().map(|s| s.usage.cost_text()).collect();
    let cost_width = costs.iter().map(String::len).max().unwrap_or(0).max(4);
    out.push_str(&format!(
        "\n  {:width$}  {:<status_width$} {:>8}  {:<10}  {:<cost_width$}  ERROR\n",
        "STEP", "STATUS", "ATTEMPTS", "COMMIT", "COST"
    ));
    for (s, cost) in report.steps.iter().zip(&costs) {
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
        let line = format!(
            "  {:width$}  {:<status_width$} {:>8}  {:<10}  {:<cost_width$}  {}",
            s.id,
            s.status.as_str(),
            s.attempts,
            commit,
            cost,
            error
        );
        out.push_str(line.trim_end());
        out.push('\n');
        if let Some(round) = candidates_line(&s.candidates) {
            out.push_str(&format!("  {:width$}  {round}\n", ""));
        }
    }
    out.push_str(&usage_line(&report.usage));
    let awaiting: Vec<&str> = report
        .steps
        .iter()
        .filter(|s| s.status == StepStatus::AwaitingApproval)
        .map(|s| s.id.as_str())
        .collect();
    if !awaiting.is_empty() {
        out.push_str(
            "
  awaiting approval (docs/APPROVALS.md):
",
        );
        for step in awaiting {
            out.push_str(&format!(
                "    pipeline approve {run} {step} [--comment TEXT]  |  pipeline reject {run} {step} --comment TEXT\n",
                run = report.run_id
            ));
        }
    }
    out
}

/// The latest round of a best-of-N step under its line (docs/CANDIDATES.md), e.g.
/// `candidates: #1 failed (1 failed test, 1 line), #2 passed (4 lines), #3 kept (1 line)`;
/// `None` for a step without candidates.
fn candidates_line(candidates: &[CandidateView]) -> Option<String> {
    let last = candidates.last()?;
    let mut round: Vec<&CandidateView> = candidates
        [candidates.len().saturating_sub(last.of as usize)..]
        .iter()
        .collect();
    round.sort_by_key(|c| c.candidate);
    let described: Vec<String> = round
        .into_iter()
        .map(|c| {
            let state = match c.outcome {
                _ if c.selected => "kept",
                None => "running",
                Some(CandidateOutcome::Passed) => "passed",
                Some(CandidateOutcome::Failed) => "failed",
                Some(CandidateOutcome::Interrupted) => "interrupted",
            };
            let mut details = Vec::new();
            if let Some(n) = c.failed_tests.filter(|n| *n > 0) {
                details.push(format!("{n} failed test{}", if n == 1 { "" } else { "s" }));
            }
            if let Some(score) = c.score {
                details.push(format!("score {score}"));
            }
            if let Some(n) = c.diff_lines {
                details.push(format!("{n} line{}", if n == 1 { "" } else { "s" }));
            }
            if details.is_empty() {
                format!("#{} {state}", c.candidate)
            } else {
                format!("#{} {state} ({})", c.candidate, details.join(", "))
            }
        })
        .collect();
    Some(format!("candidates: {}", described.join(", ")))
}

/// The run's total under the steps: tokens, requests and cost, or that no attempt
/// reported usage (docs/COSTS.md).
fn usage_line(u: &UsageTotals) -> String {
    if u.attempts == 0 {
        return "\n  usage: none reported (only AI tools report tokens)\n".to_owned();
    }
    format!(
        "\n  usage: {} input tokens ({} cached), {} output, {} requests; cost {}\n",
        thousands(u.input_tokens),
        thousands(u.cached_input_tokens),
        thousands(u.output_tokens),
        thousands(u.requests),
        u.cost_text()
    )
}

/// `pipeline runs`: the recorded runs, newest first, as a table (run id, status,
/// started, duration, steps completed/failed/skipped/total, workstreams) or as JSON (the
/// same fields: `RunListEntry`). A run recorded `running` whose driver is gone is marked
/// `running (no driver)`, with the resume command under the table. Errors: from the
/// engine (no repository or database).
pub fn runs(json: bool, repo: &RepoArgs) -> Result<i32, CommandError> {
    let runs = list_runs(repo.repo.as_deref(), repo.db.as_deref())?;
    if json {
        print_json(&runs)?;
        return Ok(exit::OK);
    }
    print!("{}", render_runs(&runs));
    Ok(exit::OK)
}

/// `12.3s`, `4m05s`, `2h03m`; `-` for a run that has not finished.
fn duration(secs: Option<f64>) -> String {
    let Some(secs) = secs else {
        return "-".into();
    };
    if secs < 60.0 {
        return format!("{secs:.1}s");
    }
    // Whole seconds from here: a float of at most a few years' seconds fits a u64.
    let whole = secs.round() as u64;
    if whole < 3600 {
        format!("{}m{:02}s", whole / 60, whole % 60)
    } else {
        format!("{}h{:02}m", whole / 3600, (whole % 3600) / 60)
    }
}

fn render_runs(runs: &[RunListEntry]) -> String {
    if runs.is_empty() {
        return "no runs recorded\n  hint: start one with `pipeline run <workstream.json>`\n"
            .into();
    }
    let rows: Vec<[String; 6]> = runs
        .iter()
        .map(|r| {
            let mut status = if r.driver == Some(Driver::Gone) {
                format!("{} (no driver)", r.status.as_str())
            } else {
                r.status.as_str().to_string()
            };
            let s = r.steps;
            if s.awaiting_approval > 0 {
                status.push_str(&format!(", {} awaiting approval", s.awaiting_approval));
            }
            [
                r.run_id.clone(),
                status,
                r.started_at.clone(),
                duration(r.duration_secs),
                format!("{}/{}/{}/{}", s.completed, s.failed, s.skipped, s.total),
                r.workstream.replace('\n', ", "),
            ]
        })
        .collect();
    let header = [
        "RUN",
        "STATUS",
        "STARTED",
        "DURATION",
        "STEPS ok/failed/skipped/total",
        "WORKSTREAMS",
    ];
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.len());
        }
    }
    let line = |cells: [&str; 6]| {
        let mut l = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                l.push_str(cell);
            } else {
                l.push_str(&format!("{cell:<w$}  ", w = widths[i]));
            }
        }
        l.trim_end().to_string() + "\n"
    };
    let mut out = line(header);
    for row in &rows {
        out.push_str(&line(row.each_ref().map(String::as_str)));
    }
    out.push_str(&format!("{}\n", counted(runs.len(), "run", "runs")));
    for r in runs.iter().filter(|r| r.driver == Some(Driver::Gone)) {
        out.push_str(&format!(
            "run {id} (no driver): no process is driving it (it was stopped: a closed terminal, kill -9, a crash); continue it with `pipeline resume {id}`\n",
            id = r.run_id
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::duration;

    #[test]
    fn durations_read_as_seconds_minutes_or_hours() {
        assert_eq!(duration(None), "-");
        assert_eq!(duration(Some(0.31)), "0.3s");
        assert_eq!(duration(Some(59.94)), "59.9s");
        assert_eq!(duration(Some(245.0)), "4m05s");
        assert_eq!(duration(Some(7380.0)), "2h03m");
    }
}
