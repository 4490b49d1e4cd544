//! Uncommitted work in the user's checkout: what a run would not see, and a commit of it.
//!
//! A run starts from a commit (`HEAD` or `--base`), so changes only in the working tree
//! or the index are invisible to its steps. [`uncommitted_paths`] lists them (for the
//! warning of `pipeline run`); [`snapshot_uncommitted`] makes a commit of the working
//! tree (`--include-uncommitted`), like `git stash create` with untracked files, but
//! without touching the user's branch, index file or files: the tree is built in a
//! private in-memory index that is never written, and the commit is referenced by no
//! branch (the run's step branches and result branch reference it).
//!
//! Both ignore the state directory `.pipeline/` and files the repository ignores.

use std::path::Path;

use git2::{IndexAddOption, Status, StatusOptions};

use super::signature::signature;
use super::{GitError, Repository};

/// The state directory, never part of a run's input.
const STATE_DIR: &str = ".pipeline";

/// Whether `path` (relative to the working directory) lies in the state directory.
fn in_state_dir(path: &Path) -> bool {
    path.starts_with(STATE_DIR)
}

/// Paths (relative to the working directory, `/`-separated, sorted) with uncommitted
/// changes: tracked files modified, deleted or renamed in the working tree or the index,
/// new files in the index, and untracked files that are not ignored (each file of an
/// untracked directory). `.pipeline/` is left out. Empty for a clean checkout.
///
/// Errors: [`GitError::Git`] when the status cannot be read.
pub fn uncommitted_paths(repo: &Repository) -> Result<Vec<String>, GitError> {
    let git = repo.git2()?;
    let mut options = StatusOptions::new();
    options
        .include_untracked(true)
        .recurse_untracked_dirs(true)
        .include_ignored(false)
        .exclude_submodules(true);
    let statuses = git
        .statuses(Some(&mut options))
        .map_err(GitError::git("read the status of", repo.workdir()))?;
    let mut paths: Vec<String> = statuses
        .iter()
        .filter(|entry| !entry.status().is_empty() && !entry.status().contains(Status::IGNORED))
        .filter_map(|entry| entry.path().ok().map(str::to_owned))
        .filter(|path| !in_state_dir(Path::new(path)))
        .collect();
    paths.sort();
    paths.dedup();
    Ok(paths)
}

/// A commit of the working tree's tracked and untracked non-ignored files (deleted
/// tracked files are left out), with `HEAD` as its parent, for `--include-uncommitted`.
/// `.pipeline/` is left out. Returns `HEAD` itself when the working tree matches it.
///
/// Nothing of the user's is touched: the tree is built in a private in-memory index
/// (read from `HEAD`'s tree, then every working-tree file added as `git add -A` would)
/// that is never written to `.git/index`, and no reference is created or moved.
///
/// Errors: [`GitError::NoCommits`] when `HEAD` has no commit, [`GitError::Git`] when a
/// file cannot be read or an object written.
pub fn snapshot_uncommitted(repo: &Repository) -> Result<git2::Oid, GitError> {
    let workdir = repo.workdir();
    // A handle of our own: the in-memory index set on it is seen by no other handle.
    let git = repo.git2()?;
    let head = match git.head().and_then(|head| head.peel_to_commit()) {
        Ok(commit) => commit,
        Err(_) => {
            return Err(GitError::NoCommits {
                path: workdir.to_path_buf(),
            });
        }
    };
    let head_tree = head
        .tree()
        .map_err(GitError::git("read the tree of HEAD", workdir))?;
    let mut index =
        git2::Index::new().map_err(GitError::git("create an in-memory index", workdir))?;
    index
        .read_tree(&head_tree)
        .map_err(GitError::git("read the tree of HEAD", workdir))?;
    git.set_index(&mut index)
        .map_err(GitError::git("use an in-memory index", workdir))?;
    // 1 skips a path, 0 takes it: the state directory is never part of the snapshot.
    let mut skip_state_dir = |path: &Path, _: &[u8]| i32::from(in_state_dir(path));
    index
        .add_all(
            ["*"],
            IndexAddOption::DEFAULT,
            Some(&mut skip_state_dir as &mut git2::IndexMatchedPath<'_>),
        )
        .map_err(GitError::git("add the working tree's files", workdir))?;
    index
        .update_all(
            ["*"],
            Some(&mut skip_state_dir as &mut git2::IndexMatchedPath<'_>),
        )
        .map_err(GitError::git(
            "record the working tree's deletions",
            workdir,
        ))?;
    let tree_id = index
        .write_tree_to(&git)
        .map_err(GitError::git("write the working tree's tree", workdir))?;
    if tree_id == head_tree.id() {
        return Ok(head.id());
    }
    let tree = git
        .find_tree(tree_id)
        .map_err(GitError::git("read the working tree's tree", workdir))?;
    let who = signature(&git, workdir)?;
    let message = format!(
        "pipeline: uncommitted changes of the working tree on top of {}",
        head.id()
    );
    git.commit(None, &who, &who, &message, &tree, &[&head])
        .map_err(GitError::git("commit the uncommitted changes", workdir))
}
