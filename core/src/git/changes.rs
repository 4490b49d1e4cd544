//! What a step changed: the paths that differ between a commit and a worktree.
//!
//! The worktree is staged in memory exactly as [`commit_worktree`](super::commit_worktree)
//! would stage it, and the staged tree is compared with the base commit's tree. So the
//! list is what the step's commit would contain: ignored files are not in it, renames
//! are a deletion plus an addition, and the on-disk index is left untouched.

use std::collections::{BTreeMap, HashSet};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use super::GitError;
use super::repository::open_worktree;
use super::result_containment::{EscapingLink, escaping_links};
use super::staging::{StagedIndex, stage_all};
use super::tree_diff::{diff_trees, file_mode, update_tree};
use super::worktree_tracking::ChangeTracker;

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
    /// Whether the whole worktree was walked to find the changes (`false`: only the
    /// paths a [`ChangeTracker`] reported were looked at).
    pub walked: bool,
    /// Untracked nested git repositories the worktree holds (directories with their own
    /// `.git`), repository-relative without a trailing `/`: not staged, not in `tree`.
    pub nested_repositories: Vec<String>,
    /// Symlinks added or changed in `tree` whose target resolves outside the repository
    /// (see [`StagedChanges::violations`]), in path order.
    pub escaping_links: Vec<EscapingLink>,
}

impl StagedChanges {
    /// These changes without the paths `excluded` names (a path equal to an entry, or
    /// below it when the entry is a directory): their entries of the staged tree are put
    /// back as they are in `base`, so they are neither committed nor scope-checked. Used
    /// for a step's `copy_into_worktree` files and `setup` outputs. Errors as
    /// [`changed_paths`].
    pub fn without_paths(
        mut self,
        worktree: &Path,
        base: git2::Oid,
        excluded: &[String],
    ) -> Result<StagedChanges, GitError> {
        let hit = |path: &str| {
            excluded.iter().any(|e| {
                let e = e.trim_end_matches('/');
                path == e
                    || path
                        .strip_prefix(e)
                        .is_some_and(|rest| rest.starts_with('/'))
            })
        };
        if !self.changes.iter().any(|c| hit(&c.path)) {
            return Ok(self);
        }
        let repo = open_worktree(worktree)?;
        let base_tree = base_tree(&repo, worktree, base)?;
        let staged = repo
            .find_tree(self.tree)
            .map_err(GitError::git("read the staged tree", worktree))?;
        let mut removals = git2::build::TreeUpdateBuilder::new();
        let mut upserts = git2::build::TreeUpdateBuilder::new();
        for change in self.changes.iter().filter(|c| hit(&c.path)) {
            match base_tree.get_path(Path::new(&change.path)) {
                Ok(entry) => {
                    upserts.upsert(
                        change.path.as_str(),
                        entry.id(),
                        file_mode(entry.filemode() as u32),
                    );
                }
                Err(_) => {
                    removals.remove(change.path.as_str());
                }
            }
        }
        self.tree = update_tree(&repo, &staged, &mut removals, &mut upserts)
            .map_err(GitError::git("write the staged tree", worktree))?;
        self.changes.retain(|c| !hit(&c.path));
        self.escaping_links.retain(|l| !hit(&l.path));
        self.nested_repositories.retain(|n| !hit(n));
        Ok(self)
    }
}

/// Stages every change of `worktree` (as [`commit_worktree`](super::commit_worktree)
/// would) and writes the worktree's index, returning what changed relative to `base` and
/// the staged tree. Errors as [`changed_paths`].
pub fn stage_changes(worktree: &Path, base: git2::Oid) -> Result<StagedChanges, GitError> {
    stage(worktree, base, true)
}

/// [`stage_changes`] of a pooled [`Worktree`](super::Worktree). When the pool tracks it
/// (a [`ChangeTracker`], see [`Worktree::tracker`](super::Worktree::tracker)) and the
/// tracker can vouch for the paths the step touched, only those are examined and the
/// staged tree is `base`'s tree updated at those paths, so the cost does not grow with
/// the size of the tree; the index is then updated in the tracker's memory only (the
/// next reset writes it). Otherwise the worktree is walked as by [`stage_changes`].
/// Same changes and tree either way. Errors as [`changed_paths`].
pub fn stage_worktree_changes(
    worktree: &Path,
    tracker: Option<&ChangeTracker>,
    base: git2::Oid,
) -> Result<StagedChanges, GitError> {
    let Some(tracker) = tracker else {
        return stage(worktree, base, true);
    };
    let mut tracked = tracker.lock(worktree)?;
    let touched = if tracked.clean_at() == base {
        tracked.touched_paths()
    } else {
        None
    };
    let repo = tracked.repo();
    let base_tree = base_tree(repo, worktree, base)?;
    let Some(touched) = touched else {
        tracing::debug!(worktree = %worktree.display(), "staging walks the worktree");
        return stage_in(repo, worktree, &base_tree, true);
    };
    let staged_index = stage_all(repo, worktree, Some(&touched))?;
    let index = &staged_index.index;
    let tree = tree_updated_from_index(repo, index, &base_tree, &touched)
        .map_err(GitError::git("write the staged tree", worktree))?;
    let staged = repo
        .find_tree(tree)
        .map_err(GitError::git("read the staged tree", worktree))?;
    let mut changes = changes_between(
        repo,
        worktree,
        &base_tree,
        &staged,
        staged_index.nested_repositories,
    )?;
    changes.walked = false;
    Ok(changes)
}

fn stage(worktree: &Path, base: git2::Oid, persist: bool) -> Result<StagedChanges, GitError> {
    let repo = open_worktree(worktree)?;
    let base_tree = base_tree(&repo, worktree, base)?;
    stage_in(&repo, worktree, &base_tree, persist)
}

fn base_tree<'r>(
    repo: &'r git2::Repository,
    worktree: &Path,
    base: git2::Oid,
) -> Result<git2::Tree<'r>, GitError> {
    repo.find_commit(base)
        .and_then(|commit| commit.tree())
        .map_err(|cause| GitError::UnknownRevision {
            rev: base.to_string(),
            path: worktree.to_path_buf(),
            cause,
        })
}

/// Staging by a walk of the whole worktree; the tree is written from the index.
fn stage_in(
    repo: &git2::Repository,
    worktree: &Path,
    base_tree: &git2::Tree<'_>,
    persist: bool,
) -> Result<StagedChanges, GitError> {
    let StagedIndex {
        mut index,
        nested_repositories,
    } = stage_all(repo, worktree, None)?;
    let staged = index
        .write_tree()
        .and_then(|oid| repo.find_tree(oid))
        .map_err(GitError::git("write the staged tree", worktree))?;
    if persist {
        index
            .write()
            .map_err(GitError::git("write the index", worktree))?;
    }
    changes_between(repo, worktree, base_tree, &staged, nested_repositories)
}

/// What differs between the base tree and the staged tree, as [`ChangedPath`]s, with the
/// symlinks of the staged tree that escape the repository and the `nested_repositories`
/// staging left out.
fn changes_between(
    repo: &git2::Repository,
    worktree: &Path,
    base_tree: &git2::Tree<'_>,
    staged: &git2::Tree<'_>,
    nested_repositories: Vec<String>,
) -> Result<StagedChanges, GitError> {
    // Only subtrees whose ids differ are read: O(changed paths), not O(files).
    let diff = diff_trees(repo, base_tree, staged).map_err(GitError::git(
        format!("compare the worktree with {}", base_tree.id()),
        worktree,
    ))?;
    let escaping_links = escaping_links(repo, staged, &diff)
        .map_err(GitError::git("read the step's symlinks", worktree))?;
    let mut changes: BTreeMap<String, ChangeKind> = BTreeMap::new();
    for change in diff {
        let kind = match (change.old, change.new) {
            (None, _) => ChangeKind::Added,
            (_, None) => ChangeKind::Deleted,
            _ => ChangeKind::Modified,
        };
        let path = change.path.to_string_lossy().into_owned();
        changes
            .entry(path)
            .and_modify(|existing| {
                if *existing != kind {
                    *existing = ChangeKind::Modified;
                }
            })
            .or_insert(kind);
    }
    Ok(StagedChanges {
        changes: changes
            .into_iter()
            .map(|(path, change)| ChangedPath { path, change })
            .collect(),
        tree: staged.id(),
        walked: true,
        nested_repositories,
        escaping_links,
    })
}

/// `base_tree` with every path at or below one of `touched` set to what `index` has
/// there (added, replaced or removed). Given that the index equals `base_tree`
/// everywhere else (the [`ChangeTracker`] invariant), this is the tree `write_tree`
/// would write, without reading every directory of the tree. Cost: the index entries
/// and base tree entries at or below the touched paths.
fn tree_updated_from_index(
    repo: &git2::Repository,
    index: &git2::Index,
    base_tree: &git2::Tree<'_>,
    touched: &[PathBuf],
) -> Result<git2::Oid, git2::Error> {
    let mut removals = git2::build::TreeUpdateBuilder::new();
    let mut upserts = git2::build::TreeUpdateBuilder::new();
    let mut in_index: HashSet<Vec<u8>> = HashSet::new();
    let mut removed: HashSet<PathBuf> = HashSet::new();
    for path in touched {
        let prefix = path.as_os_str().as_bytes();
        let covered = |candidate: &[u8]| {
            candidate == prefix
                || (candidate.starts_with(prefix) && candidate.get(prefix.len()) == Some(&b'/'))
        };
        if let Ok(start) = index.find_prefix(path) {
            for position in start..index.len() {
                let Some(entry) = index.get(position) else {
                    break;
                };
                if !entry.path.starts_with(prefix) {
                    break;
                }
                // Conflict stages (bits 12-13 of the flags) are not content.
                if !covered(&entry.path)
                    || entry.flags & 0x3000 != 0
                    || in_index.contains(&entry.path)
                {
                    continue;
                }
                let mode = file_mode(entry.mode);
                let entry_path = Path::new(std::ffi::OsStr::from_bytes(&entry.path));
                let current = base_tree
                    .get_path(entry_path)
                    .ok()
                    .map(|e| (e.id(), e.filemode()));
                if current != Some((entry.id, i32::from(mode))) {
                    upserts.upsert(entry_path, entry.id, mode);
                }
                in_index.insert(entry.path);
            }
        }
        // Entries of the base tree at or below the path that the index no longer has.
        let Ok(entry) = base_tree.get_path(path) else {
            continue;
        };
        let mut pending = vec![(path.clone(), entry.id(), entry.filemode())];
        while let Some((at, id, mode)) = pending.pop() {
            if mode == i32::from(git2::FileMode::Tree) {
                let tree = repo.find_tree(id)?;
                for child in tree.iter() {
                    let name = std::ffi::OsStr::from_bytes(child.name_bytes());
                    pending.push((at.join(name), child.id(), child.filemode()));
                }
            } else if !in_index.contains(at.as_os_str().as_bytes()) && removed.insert(at.clone()) {
                removals.remove(&at);
            }
        }
    }
    update_tree(repo, base_tree, &mut removals, &mut upserts)
}
