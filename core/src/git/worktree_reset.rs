//! Moving an existing worktree to a step's branch and start commit, touching only
//! what differs.
//!
//! This is what makes pooled worktrees cheap: instead of `git worktree add` (a full
//! checkout, ~2 s for 5,000 files), a reused worktree gets a libgit2 forced checkout
//! of the start commit's tree. Two ways, same result:
//!
//! * **Tracked** (the pool has a valid [`ChangeTracker`] for the worktree: Linux, and
//!   nothing broke its invariant): the checkout is limited to the paths touched since
//!   the last reset plus the paths that differ between the last reset's commit and the
//!   new one (a diff by tree ids), then verified by a status of the same paths. Cost:
//!   the size of the difference, not of the tree.
//! * **Full** (no tracker, or it cannot vouch for its paths, or the verification found
//!   a difference): the checkout walks the working directory once, using the index's
//!   stat cache to tell modified files from clean ones, and the index is rewritten from
//!   the start tree (keeping stat data of unchanged entries, so the next `git status`
//!   stays a stat pass). Cost: one stat pass plus the size of the difference.
//!
//! Order of effects, chosen so that a crash at any point is repaired by the next
//! acquire of the same directory (a new process has no tracker, so it does a full
//! reset): check out the tree (with `HEAD` still the old baseline), then point the
//! branch at the start commit, then `HEAD` at the branch, then (full reset) rewrite the
//! index from the start tree.

use std::fs;
use std::path::{Path, PathBuf};

use git2::build::CheckoutBuilder;

use super::GitError;
use super::branch::branch_refname;
use super::repository::open_worktree;
use super::worktree_tracking::ChangeTracker;

/// Makes the worktree at `dir` exactly commit `start` on branch `branch` (created or
/// forced to `start`): tracked files as in `start`, no untracked or ignored files,
/// index equal to `start`'s tree, `HEAD` on the branch, no operation in progress. See the module doc of
/// [`git`](super) for what is and is not reset.
///
/// Returns whether the reset was path-limited (tracked) rather than full.
///
/// Errors: [`GitError::InvalidBranchName`], [`GitError::Git`] (e.g. a file cannot
/// be written), [`GitError::Io`].
pub(crate) fn reset_worktree(
    dir: &Path,
    branch: &str,
    start: git2::Oid,
    tracker: Option<&ChangeTracker>,
) -> Result<bool, GitError> {
    let refname = branch_refname(branch)?;
    let mut tracked = tracker.map(|tracker| tracker.lock(dir)).transpose()?;
    let paths = tracked.as_mut().and_then(|tracked| {
        let clean_at = tracked.clean_at();
        tracked.reset_paths(start).map(|paths| (paths, clean_at))
    });
    let opened;
    let repo = match &tracked {
        Some(tracked) => tracked.repo(),
        None => {
            opened = open_worktree(dir)?;
            &opened
        }
    };
    let limited = reset_with(repo, dir, &refname, branch, start, paths.as_ref());
    if let Some(tracked) = tracked.as_mut() {
        match limited {
            Ok(_) => tracked.reset_done(start),
            // A checkout that failed half-way may have changed files and index entries
            // anywhere it looked: only a full reset can be trusted next.
            Err(_) => tracked.taint(),
        }
    }
    limited
}

/// The reset proper, with `repo` open on the worktree: path-limited when `limited`
/// (the paths to look at, and the commit the index and files equal everywhere else)
/// is given and its result checks out (returns `true`), full otherwise (`false`).
fn reset_with(
    repo: &git2::Repository,
    dir: &Path,
    refname: &str,
    branch: &str,
    start: git2::Oid,
    limited: Option<&(Vec<PathBuf>, git2::Oid)>,
) -> Result<bool, GitError> {
    remove_stale_locks(repo.path())?;
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
    if let Some((paths, clean_at)) = limited {
        match reset_paths(repo, dir, &tree, paths, *clean_at, refname, branch, start) {
            Ok(true) => return Ok(true),
            Ok(false) => {}
            Err(error) => {
                tracing::debug!(dir = %dir.display(), %error, "path-limited reset failed; full reset");
            }
        }
        // The failed attempt may have changed the in-memory index; start from the file.
        repo.index()
            .and_then(|mut index| index.read(true))
            .map_err(GitError::git("reload the index", dir))?;
    }
    full_reset(repo, dir, &tree, refname, branch, start)?;
    Ok(false)
}

/// The whole-tree reset: a forced checkout removing untracked and ignored files (one
/// stat pass), branch and `HEAD`, then the index rewritten from the tree.
fn full_reset(
    repo: &git2::Repository,
    dir: &Path,
    tree: &git2::Tree<'_>,
    refname: &str,
    branch: &str,
    start: git2::Oid,
) -> Result<(), GitError> {
    let mut checkout = CheckoutBuilder::new();
    checkout
        .force()
        .recreate_missing(true)
        .remove_untracked(true)
        .remove_ignored(true);
    repo.checkout_tree(tree.as_object(), Some(&mut checkout))
        .map_err(GitError::git(format!("check out {start}"), dir))?;
    point_head(repo, dir, refname, branch, start)?;

    let mut index = repo.index().map_err(GitError::git("open the index", dir))?;
    index.read_tree(tree).map_err(GitError::git(
        format!("load the tree of {start} into the index"),
        dir,
    ))?;
    index
        .write()
        .map_err(GitError::git("write the index", dir))?;
    Ok(())
}

/// The tracked reset: the same forced checkout limited to `paths` (those touched since
/// the last reset plus those that differ between the two commits; see
/// [`ChangeTracker`]), so only they are looked at. `HEAD` is first detached at
/// `clean_at`, the commit the index equals outside `paths`, because libgit2 judges
/// what is tracked by the baseline (`HEAD`'s tree). libgit2 updates the index entries
/// of the paths it writes or deletes; every other entry already equals the target's. Then
/// checks its work with a status limited to the same paths (untracked and ignored
/// included): `Ok(false)` when anything still differs, and the caller does a full
/// reset. The cost does not depend on the size of the tree.
#[allow(clippy::too_many_arguments)]
fn reset_paths(
    repo: &git2::Repository,
    dir: &Path,
    tree: &git2::Tree<'_>,
    paths: &[PathBuf],
    clean_at: git2::Oid,
    refname: &str,
    branch: &str,
    start: git2::Oid,
) -> Result<bool, GitError> {
    // An empty pathlist would mean "everything" to libgit2: nothing to do then.
    if !paths.is_empty() {
        // A tracked file that becomes a directory or the reverse trips libgit2's
        // path-limited checkout (it removes one side and fails or forgets the other):
        // leave such resets to the full checkout, before anything is touched.
        let clean_tree = repo
            .find_commit(clean_at)
            .and_then(|commit| commit.tree())
            .map_err(GitError::git(format!("read the tree of {clean_at}"), dir))?;
        let is_tree = |tree: &git2::Tree<'_>, path: &Path| {
            tree.get_path(path)
                .ok()
                .map(|entry| entry.kind() == Some(git2::ObjectType::Tree))
        };
        if paths.iter().any(|path| {
            matches!(
                (is_tree(&clean_tree, path), is_tree(tree, path)),
                (Some(a), Some(b)) if a != b
            )
        }) {
            return Ok(false);
        }
        repo.set_head_detached(clean_at)
            .map_err(GitError::git(format!("detach HEAD at {clean_at}"), dir))?;
        // A directory where the target has a file, or a file where it has a directory:
        // a limited checkout removes the one but does not create the other, so the old
        // one goes first (it is a touched or differing path, overwritten anyway).
        for path in paths {
            let on_disk = dir.join(path);
            let Ok(meta) = fs::symlink_metadata(&on_disk) else {
                continue;
            };
            let target_is_dir = tree
                .get_path(path)
                .is_ok_and(|entry| entry.kind() == Some(git2::ObjectType::Tree));
            if meta.is_dir() != target_is_dir && tree.get_path(path).is_ok() {
                let removed = if meta.is_dir() {
                    fs::remove_dir_all(&on_disk)
                } else {
                    fs::remove_file(&on_disk)
                };
                removed.map_err(GitError::io("remove", &on_disk))?;
            }
        }
        let mut checkout = CheckoutBuilder::new();
        checkout
            .force()
            .recreate_missing(true)
            .remove_untracked(true)
            .remove_ignored(true)
            .disable_pathspec_match(true);
        for path in paths {
            checkout.path(path);
        }
        repo.checkout_tree(tree.as_object(), Some(&mut checkout))
            .map_err(GitError::git(format!("check out {start}"), dir))?;
    }
    point_head(repo, dir, refname, branch, start)?;
    if paths.is_empty() {
        return Ok(true);
    }
    let mut options = git2::StatusOptions::new();
    options
        .include_untracked(true)
        .include_ignored(true)
        .recurse_untracked_dirs(false)
        .exclude_submodules(true)
        .disable_pathspec_match(true);
    for path in paths {
        options.pathspec(path);
    }
    let statuses = repo
        .statuses(Some(&mut options))
        .map_err(GitError::git("check the reset", dir))?;
    if let Some(entry) = statuses.iter().next() {
        tracing::debug!(
            dir = %dir.display(),
            path = %String::from_utf8_lossy(entry.path_bytes()),
            status = ?entry.status(),
            "path-limited reset left a difference; full reset"
        );
        return Ok(false);
    }
    Ok(true)
}

/// Points branch `refname` at `start` and `HEAD` at the branch.
fn point_head(
    repo: &git2::Repository,
    dir: &Path,
    refname: &str,
    branch: &str,
    start: git2::Oid,
) -> Result<(), GitError> {
    repo.reference(refname, start, true, "pipeline: start step")
        .map_err(GitError::git(
            format!("set branch `{branch}` to {start}"),
            dir,
        ))?;
    // Not `set_head`: libgit2's "checked out elsewhere" scan behind it fails spuriously
    // while the pool moves other worktrees; the pool has checked ownership already.
    repo.reference_symbolic("HEAD", refname, true, "pipeline: start step")
        .map_err(GitError::git(
            format!("switch HEAD to branch `{branch}`"),
            dir,
        ))?;
    Ok(())
}

/// Removes `index.lock` and `HEAD.lock` left in the worktree's admin directory
/// `admin` by a tool or a pipeline driver killed mid-write (the next write of the index
/// or `HEAD` would fail with "failed to lock file"). Safe because a worktree is only
/// reset (or picked up from the pool) while no step uses it, and the run lock keeps a
/// second driver of the same run out.
///
/// Errors: [`GitError::Io`] when a lock file exists but cannot be removed.
pub(crate) fn remove_stale_locks(admin: &Path) -> Result<(), GitError> {
    for name in ["index.lock", "HEAD.lock"] {
        let lock = admin.join(name);
        match fs::remove_file(&lock) {
            Ok(()) => tracing::warn!(path = %lock.display(), "removed a stale lock file"),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => return Err(GitError::io("remove stale lock", &lock)(error)),
        }
    }
    Ok(())
}
