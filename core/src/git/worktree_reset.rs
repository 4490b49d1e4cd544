//! Moving an existing worktree to a step's branch and start commit, touching only
//! what differs.
//!
//! This is what makes pooled worktrees cheap: instead of `git worktree add` (a full
//! checkout, ~2 s for 5,000 files), a reused worktree gets a libgit2 forced checkout
//! of the start commit's tree *with the worktree's current `HEAD` tree as baseline*
//! (libgit2's default baseline). libgit2 then diffs baseline and target trees
//! (cheap, by tree ids) and walks the working directory once, using the index's stat
//! cache to tell modified files from clean ones: only files that differ are written
//! or deleted. The cost is one stat pass plus the size of the difference.
//!
//! Order of effects, chosen so that a crash at any point is repaired by the next
//! acquire of the same directory: check out the tree (with `HEAD` still the old
//! baseline), then point the branch at the start commit, then `HEAD` at the branch,
//! then rewrite the index from the start tree (keeping stat data of unchanged
//! entries, so the next `git status` stays a stat pass).

use std::fs;
use std::path::Path;

use git2::build::CheckoutBuilder;

use super::GitError;
use super::branch::branch_refname;
use super::repository::open_worktree;

/// Makes the worktree at `dir` exactly commit `start` on branch `branch` (created or
/// forced to `start`): tracked files as in `start`, no untracked or ignored files,
/// index equal to `start`'s tree, `HEAD` on the branch, no operation in progress. See the module doc of
/// [`git`](super) for what is and is not reset.
///
/// Errors: [`GitError::InvalidBranchName`], [`GitError::Git`] (e.g. a file cannot
/// be written), [`GitError::Io`].
pub(crate) fn reset_worktree(dir: &Path, branch: &str, start: git2::Oid) -> Result<(), GitError> {
    let refname = branch_refname(branch)?;
    let repo = open_worktree(dir)?;
    remove_stale_index_lock(&repo)?;
    // An operation the tool left half-done (merge, rebase, cherry-pick, revert, bisect
    // leftovers such as MERGE_HEAD) would make git treat the worktree as mid-operation.
    repo.cleanup_state().map_err(GitError::git(
        "clear an unfinished merge, rebase or cherry-pick",
        dir,
    ))?;
    let commit = repo
        .find_commit(start)
        .map_err(GitError::git(format!("find start commit {start}"), dir))?;
    let tree = commit
        .tree()
        .map_err(GitError::git(format!("read the tree of {start}"), dir))?;

    let mut checkout = CheckoutBuilder::new();
    checkout
        .force()
        .recreate_missing(true)
        .remove_untracked(true)
        .remove_ignored(true);
    repo.checkout_tree(tree.as_object(), Some(&mut checkout))
        .map_err(GitError::git(format!("check out {start}"), dir))?;

    repo.reference(&refname, start, true, "pipeline: start step")
        .map_err(GitError::git(
            format!("set branch `{branch}` to {start}"),
            dir,
        ))?;
    // Not `set_head`: libgit2's "checked out elsewhere" scan behind it fails spuriously
    // while the pool moves other worktrees; the pool has checked ownership already.
    repo.reference_symbolic("HEAD", &refname, true, "pipeline: start step")
        .map_err(GitError::git(
            format!("switch HEAD to branch `{branch}`"),
            dir,
        ))?;

    let mut index = repo.index().map_err(GitError::git("open the index", dir))?;
    index.read_tree(&tree).map_err(GitError::git(
        format!("load the tree of {start} into the index"),
        dir,
    ))?;
    index
        .write()
        .map_err(GitError::git("write the index", dir))?;
    Ok(())
}

/// Removes `index.lock` left in the worktree's admin directory by a tool that was
/// killed mid-write. Safe because a worktree is only reset while no step uses it.
fn remove_stale_index_lock(repo: &git2::Repository) -> Result<(), GitError> {
    let lock = repo.path().join("index.lock");
    match fs::remove_file(&lock) {
        Ok(()) => {
            tracing::warn!(path = %lock.display(), "removed a stale index lock");
            Ok(())
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(error) => Err(GitError::io("remove stale lock", &lock)(error)),
    }
}
