//! `GET /api/runs/{run}/steps/{step}/diff` and `pipeline diff RUN [STEP]`: what a step
//! changed, as a unified diff of its result commit against the commit its worktree
//! started at, with a per-file stat; and what a whole run changed, its result branch
//! against its base commit ([`run_diff`]). The run summary's diffstat lines come from
//! here too.

use std::path::Path;

use super::{open, resolve_run, unknown_step};
use crate::engine::EngineError;
use crate::git::GitError;

/// A step's changes.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StepDiff {
    /// The run (resolved: never `latest`).
    pub run_id: String,
    /// The step.
    pub step: String,
    /// Hex commit the step started at: its checkpoint's `start_commit`, or, without
    /// one, the result commit's first parent.
    pub from: String,
    /// Hex result commit.
    pub to: String,
    /// Unified diff (`git diff from to`), with `diff --git` headers; empty when the step
    /// changed nothing.
    pub patch: String,
    /// Each changed file with its line counts, in path order.
    pub files: Vec<FileChange>,
}

/// One changed file of a diff.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FileChange {
    /// Path relative to the repository root (the new path of a rename).
    pub path: String,
    /// `added`, `deleted`, `modified`, `renamed`, `copied` or `type_changed`.
    pub status: String,
    /// Lines added (0 for a binary file).
    pub insertions: usize,
    /// Lines removed (0 for a binary file).
    pub deletions: usize,
    /// Whether git sees it as binary.
    pub binary: bool,
}

/// Totals of a diff, as `git diff --stat` ends.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct DiffStat {
    /// Files changed.
    pub files_changed: usize,
    /// Lines added.
    pub insertions: usize,
    /// Lines removed.
    pub deletions: usize,
}

impl DiffStat {
    /// The totals of `files`.
    pub fn of(files: &[FileChange]) -> DiffStat {
        DiffStat {
            files_changed: files.len(),
            insertions: files.iter().map(|f| f.insertions).sum(),
            deletions: files.iter().map(|f| f.deletions).sum(),
        }
    }
}

impl std::fmt::Display for DiffStat {
    /// `2 files changed, 3 insertions(+), 1 deletion(-)`, as git words it; `no changes`
    /// for an empty diff.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.files_changed == 0 {
            return f.write_str("no changes");
        }
        let plural =
            |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
        write!(
            f,
            "{}, {}, {}",
            plural(self.files_changed, "file changed", "files changed"),
            plural(self.insertions, "insertion(+)", "insertions(+)"),
            plural(self.deletions, "deletion(-)", "deletions(-)")
        )
    }
}

/// What a whole run changed: its result branch against its base commit.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RunDiff {
    /// The run (resolved: never `latest`).
    pub run_id: String,
    /// `pipeline/<run>`.
    pub result_branch: String,
    /// Hex base commit of the run.
    pub from: String,
    /// Hex commit the result branch points at.
    pub to: String,
    /// Unified diff; empty when the run changed nothing.
    pub patch: String,
    /// Each changed file with its line counts, in path order.
    pub files: Vec<FileChange>,
}

/// The diff of step `step_id` of run `run_id` (or `latest`), or `None` when the step
/// has no result commit yet (its own, or, awaiting approval, its checkpoint's).
///
/// Errors: [`EngineError::UnknownRun`]; [`EngineError::Input`] for a step the run does
/// not have; [`EngineError::Git`] when a commit cannot be read (e.g. removed by `git gc`
/// after `pipeline clean`).
pub fn step_diff(
    repo: Option<&Path>,
    db: Option<&Path>,
    run_id: &str,
    step_id: &str,
) -> Result<Option<StepDiff>, EngineError> {
    let (repository, _, state) = open(repo, db)?;
    let run_id = resolve_run(&state, Some(run_id))?.run_id;
    diff_of_step(&repository, &state, run_id, step_id)
}

/// Diff totals of the completed steps of run `run_id` (or `latest`), in plan order: at
/// most `limit` of them, and how many more completed steps there are. For the run
/// summary of `pipeline run`.
///
/// Errors: as [`step_diff`].
pub fn completed_step_stats(
    repo: Option<&Path>,
    db: Option<&Path>,
    run_id: &str,
    limit: usize,
) -> Result<(Vec<(String, DiffStat)>, usize), EngineError> {
    let (repository, _, state) = open(repo, db)?;
    let run_id = resolve_run(&state, Some(run_id))?.run_id;
    let completed: Vec<String> = state
        .steps(&run_id)?
        .into_iter()
        .filter(|s| s.status == crate::state::StepStatus::Completed)
        .map(|s| s.step_id)
        .collect();
    let mut stats = Vec::with_capacity(completed.len().min(limit));
    for step in completed.iter().take(limit) {
        if let Some(d) = diff_of_step(&repository, &state, run_id.clone(), step)? {
            stats.push((step.clone(), DiffStat::of(&d.files)));
        }
    }
    Ok((stats, completed.len().saturating_sub(limit)))
}

/// [`step_diff`] on an open repository and state database, `run_id` resolved.
fn diff_of_step(
    repository: &crate::git::Repository,
    state: &super::StateStore,
    run_id: String,
    step_id: &str,
) -> Result<Option<StepDiff>, EngineError> {
    let Some(record) = state.step(&run_id, step_id)? else {
        let known = state.steps(&run_id)?;
        let ids: Vec<&str> = known.iter().map(|s| s.step_id.as_str()).collect();
        return Err(EngineError::Input(unknown_step(&run_id, step_id, &ids)));
    };
    // A step awaiting approval has its result checkpointed, not yet recorded on the step.
    let checkpoint = state.checkpoint(&run_id, step_id)?;
    let Some(to) = record
        .commit
        .or_else(|| checkpoint.as_ref().map(|c| c.commit.clone()))
    else {
        return Ok(None);
    };
    let start = checkpoint
        .map(|c| c.outputs.start_commit)
        .filter(|s| !s.is_empty());
    let path = repository.workdir().to_path_buf();
    let git = repository.git2()?;
    let read = |what: &str| GitError::git(format!("read {what}"), &path);
    let to_oid = git2::Oid::from_str(&to).map_err(read("the step's result commit"))?;
    let to_commit = git
        .find_commit(to_oid)
        .map_err(read("the step's result commit"))?;
    let from_commit = match start {
        Some(s) => {
            let oid = git2::Oid::from_str(&s).map_err(read("the step's start commit"))?;
            git.find_commit(oid)
                .map_err(read("the step's start commit"))?
        }
        None => to_commit
            .parent(0)
            .map_err(read("the parent of the step's result commit"))?,
    };
    let (patch, files) = commit_diff(&git, &from_commit, &to_commit, &path)?;
    Ok(Some(StepDiff {
        run_id,
        step: step_id.to_owned(),
        from: from_commit.id().to_string(),
        to,
        patch,
        files,
    }))
}

/// The diff of run `run_id` (or `latest`): its result branch against its base commit.
///
/// Errors: [`EngineError::UnknownRun`]; [`EngineError::Input`] when the run has no
/// result branch (no step completed yet, or it was deleted); [`EngineError::Git`] when a
/// commit cannot be read.
pub fn run_diff(
    repo: Option<&Path>,
    db: Option<&Path>,
    run_id: &str,
) -> Result<RunDiff, EngineError> {
    let (repository, _, state) = open(repo, db)?;
    let run = resolve_run(&state, Some(run_id))?;
    let path = repository.workdir().to_path_buf();
    let git = repository.git2()?;
    let read = |what: &str| GitError::git(format!("read {what}"), &path);
    let reference = format!("refs/heads/{}", run.result_branch);
    let Ok(to_oid) = git.refname_to_id(&reference) else {
        return Err(EngineError::Input(format!(
            "run {} has no result branch {}: no step of it completed yet, or the branch was deleted\n  hint: `pipeline status {}` shows its steps; `pipeline diff {} STEP` shows one step's change",
            run.run_id, run.result_branch, run.run_id, run.run_id
        )));
    };
    let to_commit = git
        .find_commit(to_oid)
        .map_err(read("the run's result commit"))?;
    let base = git2::Oid::from_str(&run.base_commit).map_err(read("the run's base commit"))?;
    let from_commit = git
        .find_commit(base)
        .map_err(read("the run's base commit"))?;
    let (patch, files) = commit_diff(&git, &from_commit, &to_commit, &path)?;
    Ok(RunDiff {
        run_id: run.run_id,
        result_branch: run.result_branch,
        from: from_commit.id().to_string(),
        to: to_oid.to_string(),
        patch,
        files,
    })
}

/// The unified diff of `to`'s tree against `from`'s and its files with line counts.
fn commit_diff(
    git: &git2::Repository,
    from: &git2::Commit<'_>,
    to: &git2::Commit<'_>,
    path: &Path,
) -> Result<(String, Vec<FileChange>), EngineError> {
    let read = |what: &str| GitError::git(format!("read {what}"), path);
    let old = from.tree().map_err(read("a commit's tree"))?;
    let new = to.tree().map_err(read("a commit's tree"))?;
    let mut diff = git
        .diff_tree_to_tree(Some(&old), Some(&new), None)
        .map_err(read("the diff"))?;
    diff.find_similar(None).map_err(read("the diff"))?;
    let mut patch: Vec<u8> = Vec::new();
    diff.print(git2::DiffFormat::Patch, |_, _, line| {
        if matches!(line.origin(), '+' | '-' | ' ') {
            patch.push(line.origin() as u8);
        }
        patch.extend_from_slice(line.content());
        true
    })
    .map_err(read("the diff"))?;
    let mut files = Vec::with_capacity(diff.deltas().len());
    for (index, delta) in diff.deltas().enumerate() {
        let file = delta.new_file().path().or_else(|| delta.old_file().path());
        let status = match delta.status() {
            git2::Delta::Added => "added",
            git2::Delta::Deleted => "deleted",
            git2::Delta::Renamed => "renamed",
            git2::Delta::Copied => "copied",
            git2::Delta::Typechange => "type_changed",
            _ => "modified",
        };
        let (insertions, deletions, binary) =
            match git2::Patch::from_diff(&diff, index).map_err(read("the diff"))? {
                Some(p) if !delta.flags().is_binary() => {
                    let (_, added, removed) = p.line_stats().map_err(read("the diff"))?;
                    (added, removed, false)
                }
                _ => (0, 0, true),
            };
        files.push(FileChange {
            path: file
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_default(),
            status: status.to_owned(),
            insertions,
            deletions,
            binary,
        });
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok((String::from_utf8_lossy(&patch).into_owned(), files))
}
