//! Staging a worktree's changes the way `git add --all` does.
//!
//! Shared by [`changed_paths`](super::changed_paths) and
//! [`commit_worktree`](super::commit_worktree) so that the paths a step is checked
//! against (its `files_scope`) are exactly the paths its commit contains.

use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use super::GitError;

/// Loads the worktree's index and stages every change of the working directory in
/// memory: modifications and deletions of tracked files, and untracked files that no
/// `.gitignore`, `info/exclude` or `core.excludesFile` rule ignores (files already
/// tracked stay tracked even if ignored). Untracked nested git repositories (a
/// directory with its own `.git`, e.g. a `git clone` made by the tool) are not staged
/// but listed in [`StagedIndex::nested_repositories`]: git would record them as a
/// submodule link without their content, which is never what a step means, and the
/// engine fails the step naming them. Writes the staged blobs to the object database
/// but not the index to disk; call `Index::write` to persist it.
///
/// `touched`: when the caller knows every path that can differ from the index (a
/// [`ChangeTracker`](super::ChangeTracker)'s report; a path covers everything below
/// it), only those are examined instead of walking the whole working directory.
///
/// Errors: [`GitError::Git`] (e.g. an unreadable file).
pub(crate) fn stage_all(
    repo: &git2::Repository,
    worktree: &Path,
    touched: Option<&[PathBuf]>,
) -> Result<StagedIndex, GitError> {
    let index = repo
        .index()
        .map_err(GitError::git("open the index", worktree))?;
    let mut staged = StagedIndex {
        index,
        nested_repositories: Vec::new(),
    };
    if touched.is_some_and(<[PathBuf]>::is_empty) {
        // Nothing touched (and an empty pathlist would mean "everything" to libgit2).
        return Ok(staged);
    }
    let index = &mut staged.index;
    // One walk of the working directory (a status scan) finds every change, or a look
    // at the touched paths only; the index is then updated path by path, which costs
    // O(changes) instead of two more walks (`update_all` + `add_all`).
    let mut options = git2::StatusOptions::new();
    if let Some(paths) = touched {
        // A status limited to a path below an ignored directory reports the path as
        // untracked (the walk would not enter the directory): leave out ignored paths
        // that the index does not track.
        let mut any = false;
        for path in paths {
            let ignored = repo.is_path_ignored(path).map_err(GitError::git(
                format!("check whether {} is ignored", path.display()),
                worktree,
            ))?;
            if !ignored || tracks(index, path) {
                options.pathspec(path);
                any = true;
            }
        }
        if !any {
            return Ok(staged);
        }
        options.disable_pathspec_match(true);
    }
    options
        .include_untracked(true)
        .recurse_untracked_dirs(true)
        .include_ignored(false)
        .exclude_submodules(true)
        .renames_head_to_index(false)
        .renames_index_to_workdir(false);
    let statuses = repo
        .statuses(Some(&mut options))
        .map_err(GitError::git("list the worktree's changes", worktree))?;
    for entry in statuses.iter() {
        // Raw bytes: a file name that is not UTF-8 is still a file to stage.
        let path = Path::new(std::ffi::OsStr::from_bytes(entry.path_bytes()));
        let status = entry.status();
        if status.contains(git2::Status::WT_DELETED) {
            index.remove_path(path).map_err(GitError::git(
                format!("stage the deletion of {}", path.display()),
                worktree,
            ))?;
        } else if status.intersects(
            git2::Status::WT_NEW
                | git2::Status::WT_MODIFIED
                | git2::Status::WT_TYPECHANGE
                | git2::Status::WT_RENAMED,
        ) {
            if status.contains(git2::Status::WT_NEW) && worktree.join(path).join(".git").exists() {
                tracing::debug!(
                    worktree = %worktree.display(),
                    path = %path.display(),
                    "not staging an untracked nested git repository"
                );
                let name = path.to_string_lossy();
                staged
                    .nested_repositories
                    .push(name.trim_end_matches('/').to_owned());
                continue;
            }
            index
                .add_path(path)
                .map_err(GitError::git(format!("stage {}", path.display()), worktree))?;
        }
    }
    Ok(staged)
}

/// What [`stage_all`] staged.
pub(crate) struct StagedIndex {
    /// The index with every change staged (in memory).
    pub index: git2::Index,
    /// Untracked nested git repositories found and left out, repository-relative, `/`
    /// separated, without a trailing `/` (e.g. `vendor/clone`), in the order found.
    pub nested_repositories: Vec<String>,
}

/// Whether the index has an entry at `path` or below it.
fn tracks(index: &git2::Index, path: &Path) -> bool {
    if index.get_path(path, 0).is_some() {
        return true;
    }
    let mut prefix = path.as_os_str().as_bytes().to_vec();
    prefix.push(b'/');
    index
        .find_prefix(Path::new(std::ffi::OsStr::from_bytes(&prefix)))
        .is_ok()
}
