//! `pipeline clean [RUN] [--dry-run]`: removes (or lists) the worktrees, step branches,
//! logs and tmp directories runs left behind.

use std::path::PathBuf;

use pipeline_core::engine::{CleanReport, clean_runs, counted};

use super::exit;
use crate::cli::RepoArgs;
use crate::command_error::CommandError;
use crate::json_output::print_json;

/// `pipeline clean [RUN]`: removes what `run` (`latest`, or default: every run no live
/// process drives) left behind and prints the counts; with `dry_run`, lists every run,
/// worktree, branch, logs and tmp directory it would remove and removes nothing. `--json`
/// prints the `CleanReport` (lists, and `dry_run`). Errors: from the engine (no
/// repository, unknown run, a directory that cannot be removed).
pub fn clean(
    run: Option<&str>,
    dry_run: bool,
    json: bool,
    repo: &RepoArgs,
) -> Result<i32, CommandError> {
    let report = clean_runs(repo.repo.as_deref(), repo.db.as_deref(), run, dry_run)?;
    if json {
        print_json(&report)?;
        return Ok(exit::OK);
    }
    print!("{}", render(&report));
    Ok(exit::OK)
}

fn summary(report: &CleanReport) -> String {
    format!(
        "{}: {}, {}, {}, {}",
        counted(report.runs.len(), "run", "runs"),
        counted(report.worktrees.len(), "worktree", "worktrees"),
        counted(report.branches.len(), "step branch", "step branches"),
        counted(report.log_dirs.len(), "log directory", "log directories"),
        counted(report.tmp_dirs.len(), "tmp directory", "tmp directories"),
    )
}

fn render(report: &CleanReport) -> String {
    let mut out = String::new();
    if report.dry_run {
        out.push_str(&format!(
            "dry run: would clean {} (nothing removed)\n",
            summary(report)
        ));
        let paths = |list: &[PathBuf]| -> Vec<String> {
            list.iter().map(|p| p.display().to_string()).collect()
        };
        for (label, items) in [
            ("run", report.runs.clone()),
            ("worktree", paths(&report.worktrees)),
            ("branch", report.branches.clone()),
            ("logs", paths(&report.log_dirs)),
            ("tmp", paths(&report.tmp_dirs)),
        ] {
            for item in items {
                out.push_str(&format!("  {label:<8} {item}\n"));
            }
        }
    } else {
        out.push_str(&format!("cleaned {}\n", summary(report)));
    }
    for r in &report.skipped_running {
        out.push_str(&format!(
            "skipped run {r}: a live pipeline process is driving it\n"
        ));
    }
    out
}
