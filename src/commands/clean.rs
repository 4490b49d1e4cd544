//! `pipeline clean [RUN]`: removes worktrees, step branches and logs runs left behind.

use pipeline_core::engine::clean_runs;

use super::exit;
use crate::cli::RepoArgs;
use crate::command_error::CommandError;
use crate::json_output::print_json;

/// `pipeline clean [RUN]`: removes what `run` (default: every run no live process drives)
/// left behind and prints the counts. Errors: from the engine (no repository, unknown run).
pub fn clean(
    run: Option<&str>,
    _dry_run: bool,
    json: bool,
    repo: &RepoArgs,
) -> Result<i32, CommandError> {
    let report = clean_runs(repo.repo.as_deref(), repo.db.as_deref(), run)?;
    if json {
        print_json(&report)?;
        return Ok(exit::OK);
    }
    println!(
        "cleaned {} run{}: {} worktree{}, {} step branch{}, {} log director{}",
        report.runs.len(),
        if report.runs.len() == 1 { "" } else { "s" },
        report.worktrees,
        if report.worktrees == 1 { "" } else { "s" },
        report.branches,
        if report.branches == 1 { "" } else { "es" },
        report.log_dirs,
        if report.log_dirs == 1 { "y" } else { "ies" },
    );
    for r in &report.skipped_running {
        println!("skipped run {r}: a live pipeline process is driving it");
    }
    Ok(exit::OK)
}
