//! What a step changed: the paths that differ between a commit and a worktree.
//!
//! The worktree is staged in memory exactly as [`commit_worktree`](super::commit_worktree)
//! would stage it, and the staged tree is compared with the base commit's tree. So the
//! list is what the step's commit would contain: ignored files are not in it, renames
//! are a deletion plus an addition, and the on-disk index is left untouched.

use std::collections::BTreeMap;
use std::path::Path;

use super::GitError;
use super::repository::open_worktree;
use super::staging::stage_all;

/// How a path differs from the base commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ChangeKind {
    /// Not in the base commit; present (and not ignored) in the worktree.
    Added,
    /// In both, with different content, file mode or type (file, symlink, submodule).
    Modified,
    /// In the base commit, missing from the worktree.
    Deleted,
}

/// One changed path.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ChangedPath {
    /// Repository-relative path with `/` separators, e.g. `src/lib.rs`.
    pub path: String,
    /// How it changed.
    pub change: ChangeKind,
}

/// Every path of the worktree at `worktree` that differs from commit `base`: modified
/// tracked files, added files (untracked and not ignored), deleted files; a rename is
/// its old path [`Deleted`](ChangeKind::Deleted) plus its new path
/// [`Added`](ChangeKind::Added). Sorted by path, one entry per path. Cost: one stat
/// pass over the worktree plus hashing of files whose stat data changed.
///
/// Errors: [`GitError::NotARepository`] when `worktree` is not a worktree,
/// [`GitError::UnknownRevision`] when `base` is not a commit of the repository,
/// [`GitError::Git`].
pub fn changed_paths(worktree: &Path, base: git2::Oid) -> Result<Vec<ChangedPath>, GitError> {
    Ok(stage(worktree, base, false)?.changes)
}

/// A worktree's changes, staged: the changed paths (as [`changed_paths`] lists them) and
/// the tree they make, ready for [`commit_staged`](super::commit_staged). Staging walks the
/// whole worktree; doing it once per step instead of once for the scope check and once
/// for the commit halves that cost.
#[derive(Debug, Clone)]
pub struct StagedChanges {
    pub changes: Vec<ChangedPath>,
    /// The tree of everything staged (`base`'s tree when nothing changed).
    pub tree: git2::Oid,
}

/// Stages every change of `worktree` (as [`commit_worktree`](super::commit_worktree)
/// would) and writes the worktree's index, returning what changed relative to `base` and
/// the staged tree. Errors as [`changed_paths`].
pub fn stage_changes(worktree: &Path, base: git2::Oid) -> Result<StagedChanges, GitError> {
    stage(worktree, base, true)
}

fn stage(worktree: &Path, base: git2::Oid, persist: bool) -> Result<StagedChanges, GitError> {
    let repo = open_worktree(worktree)?;
    let base_tree = repo
        .find_commit(base)
        .and_then(|commit| commit.tree())
        .map_err(|cause| GitError::UnknownRevision {
            rev: base.to_string(),
            path: worktree.to_path_buf(),
            cause,
        })?;
    let mut index = stage_all(&repo, worktree)?;
    let staged = index
        .write_tree()
        .and_then(|oid| repo.find_tree(oid))
        .map_err(GitError::git("write the staged tree", worktree))?;
    if persist {
        index
            .write()
            .map_err(GitError::git("write the index", worktree))?;
    }
    let diff = repo
        .diff_tree_to_tree(Some(&base_tree), Some(&staged), None)
        .map_err(GitError::git(
            format!("compare the worktree with {base}"),
            worktree,
        ))?;

    let mut changes: BTreeMap<String, ChangeKind> = BTreeMap::new();
    for delta in diff.deltas() {
        let (file, change) = match delta.status() {
            git2::Delta::Added | git2::Delta::Untracked | git2::Delta::Copied => {
                (delta.new_file(), ChangeKind::Added)
            }
            git2::Delta::Deleted => (delta.old_file(), ChangeKind::Deleted),
            git2::Delta::Renamed => {
                record(&mut changes, delta.old_file(), ChangeKind::Deleted);
                (delta.new_file(), ChangeKind::Added)
            }
            git2::Delta::Unmodified | git2::Delta::Ignored => continue,
            git2::Delta::Modified
            | git2::Delta::Typechange
            | git2::Delta::Unreadable
            | git2::Delta::Conflicted => (delta.new_file(), ChangeKind::Modified),
        };
        record(&mut changes, file, change);
    }
    Ok(StagedChanges {
        changes: changes
            .into_iter()
            .map(|(path, change)| ChangedPath { path, change })
            .collect(),
        tree: staged.id(),
    })
}

/// Adds one delta side; a path both deleted and added (a type change split in two by
/// the diff) is a modification.
fn record(
    changes: &mut BTreeMap<String, ChangeKind>,
    file: git2::DiffFile<'_>,
    change: ChangeKind,
) {
    let path = String::from_utf8_lossy(file.path_bytes().unwrap_or_default()).into_owned();
    changes
        .entry(path)
        .and_modify(|existing| {
            if *existing != change {
                *existing = ChangeKind::Modified;
            }
        })
        .or_insert(change);
}
