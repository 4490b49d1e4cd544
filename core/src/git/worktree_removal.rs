//! Removing every worktree of a run: what `pipeline clean` does.
//!
//! It works from the repository alone (the admin registry and the run's directory),
//! so runs whose [`WorktreePool`](super::WorktreePool) no longer exists, e.g. after a
//! crash, are cleaned the same way. A worktree belongs to the run when the path its
//! admin `gitdir` file records lies under the run's root; both the working directory
//! and the admin directory go, which is what `git worktree remove --force` followed by
//! `git worktree prune` would leave. Branches are not touched.

use std::fs;
use std::path::{Path, PathBuf};

use super::worktree_admin::registered;
use super::{GitError, Repository};

/// The directory holding a run's step worktrees:
/// `<workdir>/.pipeline/worktrees/<run_id>`.
///
/// Errors: [`GitError::InvalidRunId`] when `run_id` is empty, starts with `.`, or is
/// not a single path component (so it can never point outside `.pipeline/worktrees`).
pub fn run_worktree_root(repo: &Repository, run_id: &str) -> Result<PathBuf, GitError> {
    let single_component = !run_id.is_empty()
        && !run_id.starts_with('.')
        && !run_id.contains(['/', '\\', '\0'])
        && Path::new(run_id).components().count() == 1;
    if !single_component {
        return Err(GitError::InvalidRunId {
            run_id: run_id.to_string(),
        });
    }
    Ok(repo
        .workdir()
        .join(".pipeline")
        .join("worktrees")
        .join(run_id))
}

/// Removes every registered worktree whose directory is under the run's root
/// (working directory and admin directory), then the root directory itself with
/// anything left in it. Returns how many registered worktrees were removed. A run
/// with nothing on disk gives `Ok(0)`.
///
/// Errors: [`GitError::InvalidRunId`], [`GitError::Io`] when a directory cannot be
/// removed (e.g. permissions); what was removed before stays removed.
pub fn remove_run_worktrees(repo: &Repository, run_id: &str) -> Result<usize, GitError> {
    let root = run_worktree_root(repo, run_id)?;
    let canonical_root = fs::canonicalize(&root).ok();
    let mut removed = 0;
    for worktree in registered(repo)? {
        let Some(path) = worktree.path else {
            continue;
        };
        let under_root = path.starts_with(&root)
            || canonical_root
                .as_ref()
                .is_some_and(|canonical| path.starts_with(canonical));
        if !under_root {
            continue;
        }
        remove_tree(&path)?;
        remove_tree(&worktree.admin_dir)?;
        tracing::debug!(name = %worktree.name, path = %path.display(), "removed worktree");
        removed += 1;
    }
    remove_tree(&root)?;
    Ok(removed)
}

/// Removes a directory tree (or a file); absence is not an error.
pub(crate) fn remove_tree(path: &Path) -> Result<(), GitError> {
    let result = match fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => fs::remove_dir_all(path),
        Ok(_) => fs::remove_file(path),
        Err(error) => Err(error),
    };
    match result {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(error) => Err(GitError::io("remove", path)(error)),
    }
}
