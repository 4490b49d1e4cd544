//! `pipeline clean [RUN] [--dry-run]`: what runs left behind, listed, then removed.
//!
//! One inventory ([`RunLeftovers`]) serves both the dry run and the real clean, so
//! `--dry-run` lists exactly what a real clean of the same runs then removes: the run's
//! step worktrees (directories under `.pipeline/worktrees/<run>/` holding a `.git` file),
//! its step branches (`pipeline-steps/<run>/...`) and candidate branches
//! (`pipeline-candidates/<run>/...`), its logs directory and its tmp directory. The recorded history and the result branches are kept.

use std::path::{Path, PathBuf};

use super::super::{EngineError, Workspace};
use super::{open, resolve_run};
use crate::git::{Repository, remove_run_worktrees, run_worktree_root};
use crate::state::{LockProbe, RunLock, RunRecord, RunStatus};

/// What `pipeline clean` removed, or with `dry_run` would remove (`clean --json`).
/// Paths are absolute; branches are short names (`pipeline-steps/<run>/<step>`).
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct CleanReport {
    /// True when nothing was removed (`--dry-run`): the lists say what would be.
    pub dry_run: bool,
    /// The runs cleaned (or to clean), newest first.
    pub runs: Vec<String>,
    /// Step worktrees.
    pub worktrees: Vec<PathBuf>,
    /// Step branches.
    pub branches: Vec<String>,
    /// Logs directories (`.pipeline/logs/<run>`).
    pub log_dirs: Vec<PathBuf>,
    /// Temporary directories of the runs' steps.
    pub tmp_dirs: Vec<PathBuf>,
    /// Runs left alone because a live process drives them.
    pub skipped_running: Vec<String>,
}

/// What one run left on disk and in the repository.
struct RunLeftovers {
    worktrees: Vec<PathBuf>,
    branches: Vec<String>,
    logs: Option<PathBuf>,
    tmp: Option<PathBuf>,
}

/// `pipeline clean [RUN] [--dry-run]`: removes what runs left behind (worktrees, step
/// branches `pipeline-steps/<run>/...`, logs, tmp directories); with `dry_run`, only lists
/// it. `run` may be `latest`. Without a run id, cleans every run; a run driven by a live
/// process (its lock is held) is never touched, and listed in `skipped_running`.
///
/// Errors: no repository or state database, an unknown run ([`EngineError::UnknownRun`]),
/// a directory or branch that cannot be listed or removed.
pub fn clean_runs(
    repo: Option<&Path>,
    db: Option<&Path>,
    run_id: Option<&str>,
    dry_run: bool,
) -> Result<CleanReport, EngineError> {
    let (repo, workspace, state) = open(repo, db)?;
    let runs: Vec<RunRecord> = match run_id {
        Some(_) => vec![resolve_run(&state, run_id)?],
        None => state.runs()?,
    };
    let mut report = CleanReport {
        dry_run,
        ..CleanReport::default()
    };
    for run in runs {
        if dry_run {
            if let LockProbe::Held { .. } = RunLock::probe(&workspace.locks_dir(), &run.run_id)? {
                report.skipped_running.push(run.run_id);
                continue;
            }
            let found = leftovers(&repo, &workspace, &run.run_id)?;
            add(&mut report, run.run_id, found);
            continue;
        }
        let Ok(lock) = RunLock::acquire(&workspace.locks_dir(), &run.run_id) else {
            report.skipped_running.push(run.run_id);
            continue;
        };
        if run_id.is_none() && run.status == RunStatus::Running {
            // Recorded running but nobody drives it: a crashed run that can be resumed.
            // Cleaning it all the same is what `clean` without a run id promises.
            tracing::info!("cleaning crashed run {}", run.run_id);
        }
        let found = leftovers(&repo, &workspace, &run.run_id)?;
        remove(&repo, &workspace, &run.run_id, &found)?;
        add(&mut report, run.run_id.clone(), found);
        drop(lock);
        // Best effort: an emptied lock file left behind is harmless (see `RunLock`).
        let _ = std::fs::remove_file(workspace.locks_dir().join(format!("{}.lock", run.run_id)));
    }
    Ok(report)
}

fn add(report: &mut CleanReport, run_id: String, found: RunLeftovers) {
    report.runs.push(run_id);
    report.worktrees.extend(found.worktrees);
    report.branches.extend(found.branches);
    report.log_dirs.extend(found.logs);
    report.tmp_dirs.extend(found.tmp);
}

/// Lists what run `run_id` left behind. Errors: an invalid run id, a branch listing that
/// fails.
fn leftovers(
    repo: &Repository,
    workspace: &Workspace,
    run_id: &str,
) -> Result<RunLeftovers, EngineError> {
    let mut worktrees = Vec::new();
    find_worktrees(&run_worktree_root(repo, run_id)?, &mut worktrees);
    worktrees.sort();
    let logs = workspace.run_logs_dir(run_id);
    let tmp = workspace.run_tmp_dir(run_id);
    Ok(RunLeftovers {
        worktrees,
        branches: step_branches(repo, run_id)?,
        logs: logs.exists().then_some(logs),
        tmp: tmp.exists().then_some(tmp),
    })
}

/// Directories under `dir` that are git worktrees (hold a `.git` entry), not descending
/// into them. An unreadable directory holds none.
fn find_worktrees(dir: &Path, found: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if !entry.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        if path.join(".git").exists() {
            found.push(path);
        } else {
            find_worktrees(&path, found);
        }
    }
}

/// The run's step branches, `pipeline-steps/<run_id>/...`, then its candidate branches
/// (`pipeline-candidates/<run_id>/...`, docs/CANDIDATES.md), each sorted.
fn step_branches(repo: &Repository, run_id: &str) -> Result<Vec<String>, EngineError> {
    let mut branches = repo.branches_with_prefix(&format!("pipeline-steps/{run_id}/"))?;
    branches.extend(repo.branches_with_prefix(&format!("pipeline-candidates/{run_id}/"))?);
    Ok(branches)
}

/// Removes what [`leftovers`] found, after ending the processes a crashed run's steps
/// left behind (they would keep writing into what is removed).
fn remove(
    repo: &Repository,
    workspace: &Workspace,
    run_id: &str,
    found: &RunLeftovers,
) -> Result<(), EngineError> {
    let killed = super::super::orphans::kill_run_processes(&workspace.state_dir, run_id)
        .values()
        .map(std::collections::BTreeSet::len)
        .sum::<usize>();
    if killed > 0 {
        tracing::info!("ended {killed} process group(s) left by run {run_id}");
    }
    remove_run_worktrees(repo, run_id)?;
    repo.delete_branches_with_prefix(&format!("pipeline-steps/{run_id}/"))?;
    repo.delete_branches_with_prefix(&format!("pipeline-candidates/{run_id}/"))?;
    for dir in found.logs.iter().chain(found.tmp.iter()) {
        std::fs::remove_dir_all(dir)
            .map_err(|e| EngineError::Input(format!("cannot remove {}: {e}", dir.display())))?;
    }
    Ok(())
}
