//! Committing a step's work: the commit that becomes the step's result.
//!
//! Everything in the worktree is staged (as `git add --all`), committed with the
//! given parent, and the worktree's branch is pointed at the commit. The parent is
//! explicit rather than "HEAD" because tools may commit on their own (Aider does):
//! those commits are folded into one commit on top of the step's start, so the
//! result's history is the DAG's, not the tool's.

use std::path::Path;

use super::GitError;
use super::durable_writes::sync_new_directories;
use super::repository::open_worktree;
use super::signature::signature;
use super::staging::stage_all;

/// Stages all changes in the worktree at `worktree` (additions, modifications,
/// deletions; ignored files and untracked nested git repositories are left out) and
/// commits them with the single parent `parent` and message `message`, author and
/// committer from `user.name` / `user.email` or `pipeline <pipeline@localhost>`. The
/// branch the worktree's `HEAD` names is then set to the result (commits the tool made
/// itself are folded in and dropped from the branch), and the index is written so
/// `git status` shows only ignored files.
/// When the staged tree equals `parent`'s tree, no commit is made: the branch is set
/// to `parent` and `parent` is returned.
///
/// Errors: [`GitError::NotARepository`], [`GitError::DetachedHead`] when `HEAD` is
/// not a branch, [`GitError::UnknownRevision`] when `parent` is not a commit,
/// [`GitError::Git`] (e.g. a conflicted index left by the tool).
pub fn commit_worktree(
    worktree: &Path,
    parent: git2::Oid,
    message: &str,
) -> Result<git2::Oid, GitError> {
    let repo = open_worktree(worktree)?;
    let (branch_ref, parent_commit) = head_and_parent(&repo, worktree, parent)?;
    let mut staged = stage_all(&repo, worktree, None)?;
    for nested in &staged.nested_repositories {
        tracing::warn!(
            worktree = %worktree.display(),
            path = %nested,
            "not committing an untracked nested git repository"
        );
    }
    let index = &mut staged.index;
    let tree_id = index
        .write_tree()
        .map_err(GitError::git("write the staged tree", worktree))?;
    index
        .write()
        .map_err(GitError::git("write the index", worktree))?;
    commit_tree(
        &repo,
        worktree,
        &branch_ref,
        &parent_commit,
        tree_id,
        message,
    )
}

/// Commits what [`stage_changes`](super::stage_changes) staged, without walking the
/// worktree again: the same commit [`commit_worktree`] would make if nothing changed in
/// between. Errors as [`commit_worktree`].
pub fn commit_staged(
    worktree: &Path,
    parent: git2::Oid,
    staged: &super::StagedChanges,
    message: &str,
) -> Result<git2::Oid, GitError> {
    let repo = open_worktree(worktree)?;
    let (branch_ref, parent_commit) = head_and_parent(&repo, worktree, parent)?;
    commit_tree(
        &repo,
        worktree,
        &branch_ref,
        &parent_commit,
        staged.tree,
        message,
    )
}

/// The branch `HEAD` names and the `parent` commit. Errors: detached `HEAD`, unknown parent.
fn head_and_parent<'r>(
    repo: &'r git2::Repository,
    worktree: &Path,
    parent: git2::Oid,
) -> Result<(String, git2::Commit<'r>), GitError> {
    let head = repo
        .find_reference("HEAD")
        .map_err(GitError::git("read HEAD", worktree))?;
    let Some(branch_ref) = head
        .symbolic_target()
        .map_err(GitError::git("read HEAD", worktree))?
        .map(str::to_string)
    else {
        return Err(GitError::DetachedHead {
            path: worktree.to_path_buf(),
        });
    };
    let parent_commit = repo
        .find_commit(parent)
        .map_err(|cause| GitError::UnknownRevision {
            rev: parent.to_string(),
            path: worktree.to_path_buf(),
            cause,
        })?;
    Ok((branch_ref, parent_commit))
}

fn commit_tree(
    repo: &git2::Repository,
    worktree: &Path,
    branch_ref: &str,
    parent_commit: &git2::Commit<'_>,
    tree_id: git2::Oid,
    message: &str,
) -> Result<git2::Oid, GitError> {
    let parent = parent_commit.id();
    let result = if tree_id == parent_commit.tree_id() {
        parent
    } else {
        let tree = repo
            .find_tree(tree_id)
            .map_err(GitError::git("read the staged tree", worktree))?;
        let author = signature(repo, worktree)?;
        repo.commit(None, &author, &author, message, &tree, &[parent_commit])
            .map_err(GitError::git("create the step's commit", worktree))?
    };
    repo.reference(branch_ref, result, true, "pipeline: step result")
        .map_err(GitError::git(
            format!("set `{branch_ref}` to {result}"),
            worktree,
        ))?;
    // Under `--durability full` the commit and the ref are on disk before the step is
    // recorded completed.
    sync_new_directories(repo, branch_ref)?;
    Ok(result)
}
