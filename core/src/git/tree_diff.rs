//! The paths that differ between two trees, found by descending only into subtrees
//! whose ids differ.
//!
//! libgit2's `git_diff_tree_to_tree` iterates every file of both trees (its tree
//! iterators do not skip equal subtrees), so its cost grows with the repository. Here
//! two subtrees with the same id are skipped whole, which makes the cost the number of
//! changed paths times their depth, plus the entries of the directories they are in.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One side of a changed path: the blob (or symlink, or submodule commit) id and mode.
pub(crate) type Side = Option<(git2::Oid, git2::FileMode)>;

/// A path whose entry differs between the old and the new tree. Never a directory:
/// a directory added or removed as a whole shows as each file below it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TreeChange {
    /// Repository-relative path with `/` separators.
    pub path: PathBuf,
    /// Entry in the old tree; `None` when added.
    pub old: Side,
    /// Entry in the new tree; `None` when deleted.
    pub new: Side,
}

/// Every non-directory path whose entry (id or mode) differs between `old` and `new`,
/// sorted by path. A path that is a file on one side and a directory on the other
/// gives the file's change plus one change per file below the directory.
///
/// Errors: `git2::Error` when a subtree cannot be read.
pub(crate) fn diff_trees(
    repo: &git2::Repository,
    old: &git2::Tree<'_>,
    new: &git2::Tree<'_>,
) -> Result<Vec<TreeChange>, git2::Error> {
    let mut changes = Vec::new();
    if old.id() != new.id() {
        diff_into(repo, Some(old), Some(new), Path::new(""), &mut changes)?;
    }
    changes.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(changes)
}

type Entries = BTreeMap<Vec<u8>, (git2::Oid, git2::FileMode)>;

fn entries(tree: Option<&git2::Tree<'_>>) -> Entries {
    tree.map(|tree| {
        tree.iter()
            .map(|entry| {
                let mode = file_mode(entry.filemode() as u32);
                (entry.name_bytes().to_vec(), (entry.id(), mode))
            })
            .collect()
    })
    .unwrap_or_default()
}

/// The [`git2::FileMode`] of raw mode bits, as found in tree entries and index entries.
pub(crate) fn file_mode(raw: u32) -> git2::FileMode {
    match raw {
        0o040000 => git2::FileMode::Tree,
        0o100755 => git2::FileMode::BlobExecutable,
        0o120000 => git2::FileMode::Link,
        0o160000 => git2::FileMode::Commit,
        0o100664 => git2::FileMode::BlobGroupWritable,
        _ => git2::FileMode::Blob,
    }
}

/// `tree` with `removals` applied, then `upserts`: two passes, because libgit2 refuses a
/// file replaced by a directory (or the reverse) within one update ("D/F conflict").
/// Returns the new tree's id. Cost: the changed paths times their depth.
///
/// Errors: `git2::Error` when a tree cannot be read or written.
pub(crate) fn update_tree(
    repo: &git2::Repository,
    tree: &git2::Tree<'_>,
    removals: &mut git2::build::TreeUpdateBuilder,
    upserts: &mut git2::build::TreeUpdateBuilder,
) -> Result<git2::Oid, git2::Error> {
    let pruned = repo.find_tree(removals.create_updated(repo, tree)?)?;
    upserts.create_updated(repo, &pruned)
}

fn diff_into(
    repo: &git2::Repository,
    old: Option<&git2::Tree<'_>>,
    new: Option<&git2::Tree<'_>>,
    prefix: &Path,
    out: &mut Vec<TreeChange>,
) -> Result<(), git2::Error> {
    let old_entries = entries(old);
    let new_entries = entries(new);
    let mut names: Vec<&Vec<u8>> = old_entries.keys().chain(new_entries.keys()).collect();
    names.sort();
    names.dedup();
    for name in names {
        let path = prefix.join(bytes_path(name));
        let a = old_entries.get(name).copied();
        let b = new_entries.get(name).copied();
        if a == b {
            continue;
        }
        let is_tree = |side: Option<(git2::Oid, git2::FileMode)>| {
            side.is_some_and(|(_, mode)| mode == git2::FileMode::Tree)
        };
        let subtree = |side: Option<(git2::Oid, git2::FileMode)>| match side {
            Some((id, git2::FileMode::Tree)) => repo.find_tree(id).map(Some),
            _ => Ok(None),
        };
        let (a_tree, b_tree) = (subtree(a)?, subtree(b)?);
        if is_tree(a) || is_tree(b) {
            diff_into(repo, a_tree.as_ref(), b_tree.as_ref(), &path, out)?;
        }
        let a_leaf = a.filter(|_| !is_tree(a));
        let b_leaf = b.filter(|_| !is_tree(b));
        if a_leaf.is_some() || b_leaf.is_some() {
            out.push(TreeChange {
                path,
                old: a_leaf,
                new: b_leaf,
            });
        }
    }
    Ok(())
}

fn bytes_path(name: &[u8]) -> &Path {
    use std::os::unix::ffi::OsStrExt;
    Path::new(std::ffi::OsStr::from_bytes(name))
}
