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
/// tracked stay tracked even if ignored). Untracked nested git repositories (a
/// directory with its own `.git`, e.g. a `git clone` made by the tool) are skipped
/// with a warning: git would record them as a submodule link without their content,
/// which is never what a step means. Writes the staged blobs to the object database
/// but not the index to disk; call `Index::write` to persist it.
///
/// Errors: [`GitError::Git`] (e.g. an unreadable file).
pub(crate) fn stage_all(repo: &git2::Repository, worktree: &Path) -> Result<git2::Index, GitError> {
    let mut index = repo
        .index()
        .map_err(GitError::git("open the index", worktree))?;
    index
        .update_all(["*"], None)
        .map_err(GitError::git("stage modified and deleted files", worktree))?;
    let mut skip_nested_repository = |path: &Path, _pathspec: &[u8]| -> i32 {
        if worktree.join(path).join(".git").exists() {
            tracing::warn!(
                worktree = %worktree.display(),
                path = %path.display(),
                "not committing an untracked nested git repository"
            );
            1
        } else {
            0
        }
    };
    index
        .add_all(
            ["*"],
            git2::IndexAddOption::DEFAULT,
            Some(&mut skip_nested_repository),
        )
        .map_err(GitError::git("stage new files", worktree))?;
    Ok(index)
}
