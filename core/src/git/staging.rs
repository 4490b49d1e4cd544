//! Staging a worktree's changes the way `git add --all` does.
//!
//! Shared by [`changed_paths`](super::changed_paths) and
//! [`commit_worktree`](super::commit_worktree) so that the paths a step is checked
//! against (its `files_scope`) are exactly the paths its commit contains.

use std::path::Path;

use super::GitError;

/// Loads the worktree's index and stages every change of the working directory in
/// memory: modifications and deletions of tracked files, and untracked files that no
/// `.gitignore`, `info/exclude` or `core.excludesFile` rule ignores (files already
/// tracked stay tracked even if ignored). Writes the staged blobs to the object
/// database but not the index to disk; call `Index::write` to persist it.
///
/// Errors: [`GitError::Git`] (e.g. an unreadable file).
pub(crate) fn stage_all(repo: &git2::Repository, worktree: &Path) -> Result<git2::Index, GitError> {
    let mut index = repo
        .index()
        .map_err(GitError::git("open the index", worktree))?;
    index
        .update_all(["*"], None)
        .map_err(GitError::git("stage modified and deleted files", worktree))?;
    index
        .add_all(["*"], git2::IndexAddOption::DEFAULT, None)
        .map_err(GitError::git("stage new files", worktree))?;
    Ok(index)
}
