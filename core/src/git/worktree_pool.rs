//! A run's pool of reusable step worktrees.
//!
//! `git worktree add` of a large tree costs a full checkout, so worktrees are made once
//! and reused. Layout under the run's root `<workdir>/.pipeline/worktrees/<run>`:
//!
//! * `<step path>/`: a worktree in use by that step, or kept after it failed;
//! * `.pool/<name>/`: idle worktrees, detached `HEAD`, named after their git admin
//!   directory `<commondir>/worktrees/<name>`.
//!
//! `acquire` takes, in order of preference, the directory already at the step path
//! (left by a failed attempt or a crash), an idle worktree (renamed to the step path,
//! its admin `gitdir` file rewritten as `git worktree move` does), or a new worktree
//! (added into `.pool/` as `git worktree add` would, then renamed). Reused worktrees
//! are then reset with [`reset_worktree`](super::worktree_reset::reset_worktree): with
//! the pool's [`ChangeTracker`] of that worktree, at the cost of what changed; without
//! one (not Linux, or a worktree left by an earlier process), a stat pass plus that.
//!
//! A mutex guards directory moves and the idle list only; checkouts run outside it,
//! so several steps acquire at once. Idle worktrees left on disk by an earlier
//! process for the same run are picked up on first use.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};

use super::branch::branch_refname;
use super::repository::open_worktree;
use super::worktree_add::add_worktree;
use super::worktree_admin::{admin_dir_of, admin_root, checked_out_at, registered, write_gitdir};
use super::worktree_removal::{remove_run_worktrees, remove_tree, run_worktree_root};
use super::worktree_reset::{remove_stale_locks, reset_worktree};
use super::worktree_tracking::ChangeTracker;
use super::{GitError, Repository, Worktree};

/// Directory (under the run's root) holding idle worktrees.
const POOL_DIR: &str = ".pool";

/// The worktrees of one run, reused from step to step. `Send + Sync`: share it across
/// the engine's blocking threads behind an `Arc`.
#[derive(Debug)]
pub struct WorktreePool {
    repo: Repository,
    run_id: String,
    root: PathBuf,
    state: Mutex<PoolState>,
}

#[derive(Debug, Default)]
struct PoolState {
    /// File names of idle worktrees under `<root>/.pool/`; `None` until the directory
    /// has been scanned for worktrees left by an earlier process.
    idle: Option<Vec<String>>,
    /// Next number tried when naming a new worktree.
    next_number: u64,
    /// Change tracking of the worktrees this pool made or reset, by admin name.
    trackers: HashMap<String, ChangeTracker>,
}

/// How `acquire` obtained the directory at the step path.
enum Placement {
    /// A worktree is at the step path and must be reset; `name` is its admin name.
    Reuse { name: String },
    /// No worktree to reuse: create one with this admin name.
    Create { name: String },
}

impl WorktreePool {
    /// A pool for run `run_id` of `repo`, rooted at
    /// `<workdir>/.pipeline/worktrees/<run_id>`. Touches nothing on disk; an invalid
    /// run id is reported by the first operation ([`GitError::InvalidRunId`]).
    pub fn new(repo: Repository, run_id: &str) -> WorktreePool {
        let root = repo
            .workdir()
            .join(".pipeline")
            .join("worktrees")
            .join(run_id);
        WorktreePool {
            repo,
            run_id: run_id.to_string(),
            root,
            state: Mutex::new(PoolState::default()),
        }
    }

    /// The run's worktree root, `<workdir>/.pipeline/worktrees/<run>`.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Gives step `step_path` (e.g. `ws-a` or `ws-a/step-1`) a worktree at
    /// `<root>/<step_path>`, on branch `branch` created or forced to `start`, clean and
    /// exactly at `start` (see the [`git`](super) module doc for what "exactly" covers).
    /// Reuses the directory already at the step path if it is a worktree of this
    /// repository, else an idle pooled worktree, else adds a new one (a full checkout,
    /// the only one); anything else at the step path (a plain directory or file) is
    /// deleted first.
    ///
    /// Errors: [`GitError::UnknownRevision`] when `start` is not a commit of the
    /// repository, [`GitError::InvalidRunId`], [`GitError::InvalidStepPath`] (empty,
    /// absolute, a component empty or starting with `.`), [`GitError::InvalidBranchName`],
    /// [`GitError::NestedStepPath`] (the step path is inside another worktree or
    /// contains one), [`GitError::BranchCheckedOut`] (another worktree has `branch`),
    /// [`GitError::Git`] / [`GitError::Io`] for failures of checkout or file moves. On
    /// a failed reset the directory stays at the step path; the next `acquire` of the
    /// same step path reuses and resets it again.
    pub fn acquire(
        &self,
        step_path: &str,
        branch: &str,
        start: git2::Oid,
    ) -> Result<Worktree, GitError> {
        self.acquire_keeping(step_path, branch, start, &[])
    }

    /// [`WorktreePool::acquire`], keeping the untracked paths `keep` (worktree-relative,
    /// e.g. a set-up's `node_modules`) of a reused worktree across its reset: they are
    /// moved into the worktree's git admin directory before the reset and back after, so
    /// that a step's set-up outputs a pooled worktree already holds (from an earlier
    /// step, docs/WORKTREES.md "Set-up") are not deleted with the other untracked files.
    /// A path that is tracked at `start` is not kept (the checkout wins); one that cannot
    /// be moved is reset away like any untracked file (a warning).
    ///
    /// Errors: those of [`WorktreePool::acquire`].
    pub fn acquire_keeping(
        &self,
        step_path: &str,
        branch: &str,
        start: git2::Oid,
        keep: &[String],
    ) -> Result<Worktree, GitError> {
        run_worktree_root(&self.repo, &self.run_id)?;
        validate_step_path(step_path)?;
        let refname = branch_refname(branch)?;
        let target = self.root.join(step_path);
        // Checked before any directory moves, so a bad start leaves the pool as it was.
        self.repo
            .git2()?
            .find_commit(start)
            .map_err(|cause| GitError::UnknownRevision {
                rev: start.to_string(),
                path: self.repo.workdir().to_path_buf(),
                cause,
            })?;

        let placement = {
            let mut state = self.lock();
            self.place(&mut state, step_path, &target, &refname, branch)?
        };
        match placement {
            Placement::Reuse { name } => {
                let tracker = self.lock().trackers.get(&name).cloned();
                let kept = self.set_aside(&target, keep);
                let reset = reset_worktree(&target, branch, start, tracker.as_ref());
                self.put_back(&target, kept, start);
                let limited_reset = reset?;
                let tracker = match tracker {
                    Some(tracker) => Some(tracker),
                    // A worktree left by an earlier process: track it from now on.
                    None => self.track(&name, &target, start),
                };
                tracing::debug!(step = step_path, worktree = %name, tracked = tracker.is_some(), limited_reset, "reused worktree");
                Ok(Worktree {
                    path: target,
                    branch: branch.to_string(),
                    name,
                    tracker,
                    limited_reset,
                })
            }
            Placement::Create { name } => {
                let created = self.create(&name, &refname, branch, start)?;
                let mut state = self.lock();
                if fs::symlink_metadata(&target).is_ok() {
                    // Another thread acquired the same step path meanwhile (a caller
                    // bug): keep the new worktree for later instead of losing it.
                    detach_head(&created)?;
                    state.idle.get_or_insert_with(Vec::new).push(name);
                    return Err(GitError::io("create worktree at", &target)(
                        std::io::Error::from(std::io::ErrorKind::AlreadyExists),
                    ));
                }
                move_worktree(&created, &target, &admin_root(&self.repo).join(&name))?;
                drop(state);
                let tracker = self.track(&name, &target, start);
                tracing::debug!(step = step_path, worktree = %name, tracked = tracker.is_some(), "added worktree");
                Ok(Worktree {
                    path: target,
                    branch: branch.to_string(),
                    name,
                    tracker,
                    limited_reset: false,
                })
            }
        }
    }

    /// Moves the existing paths of `keep` out of the worktree at `dir` into its admin
    /// directory (`<admin>/pipeline-kept/<i>`): (kept location, relative path) pairs.
    fn set_aside(&self, dir: &Path, keep: &[String]) -> Vec<(PathBuf, String)> {
        let Some(admin) = admin_dir_of(&self.repo, dir).filter(|_| !keep.is_empty()) else {
            return Vec::new();
        };
        let aside = admin.join("pipeline-kept");
        let _ = remove_tree(&aside);
        let mut moved = Vec::new();
        for (i, path) in keep.iter().enumerate() {
            let from = dir.join(path);
            if fs::symlink_metadata(&from).is_err() {
                continue;
            }
            let to = aside.join(i.to_string());
            match fs::create_dir_all(&aside).and_then(|()| fs::rename(&from, &to)) {
                Ok(()) => moved.push((to, path.clone())),
                Err(e) => tracing::warn!(
                    "cannot keep `{path}` of {} across its reset: {e}",
                    dir.display()
                ),
            }
        }
        moved
    }

    /// Moves paths [`Self::set_aside`] kept back into the worktree at `dir`, except where
    /// the reset checked out a tracked file of `start` at that path (then the kept copy is
    /// deleted).
    fn put_back(&self, dir: &Path, kept: Vec<(PathBuf, String)>, start: git2::Oid) {
        if kept.is_empty() {
            return;
        }
        let repo = self.repo.git2().ok();
        let tree = repo
            .as_ref()
            .and_then(|repo| repo.find_commit(start).ok()?.tree().ok());
        let tracked = |path: &str| {
            tree.as_ref()
                .is_some_and(|tree| tree.get_path(Path::new(path)).is_ok())
        };
        for (from, path) in kept {
            let to = dir.join(&path);
            let restored = if tracked(&path) || fs::symlink_metadata(&to).is_ok() {
                Err(std::io::Error::from(std::io::ErrorKind::AlreadyExists))
            } else {
                to.parent()
                    .map_or(Ok(()), fs::create_dir_all)
                    .and_then(|()| fs::rename(&from, &to))
            };
            if let Err(e) = restored {
                tracing::warn!(
                    "`{path}` of {} not kept across its reset: {e}",
                    dir.display()
                );
                let _ = remove_tree(&from);
            }
        }
    }

    /// Step done: detaches the worktree's `HEAD` (so its branch is free to be checked
    /// out elsewhere) and moves the directory to the idle pool `<root>/.pool/<name>`,
    /// so nothing is left at the step path; empty parent directories of the step path
    /// are removed. A worktree whose admin directory has vanished (pruned) is deleted
    /// instead.
    ///
    /// Errors: [`GitError::ForeignWorktree`] when `wt` is not at a step path of this
    /// pool, [`GitError::Git`] / [`GitError::Io`].
    pub fn release(&self, wt: Worktree) -> Result<(), GitError> {
        let pool_dir = self.root.join(POOL_DIR);
        let relative = wt.path.strip_prefix(&self.root).ok();
        let at_step_path = relative.is_some_and(|relative| {
            relative.components().next().is_some() && !relative.starts_with(POOL_DIR)
        });
        if !at_step_path {
            return Err(GitError::ForeignWorktree {
                path: wt.path,
                root: self.root.clone(),
            });
        }
        let mut state = self.lock();
        self.ensure_idle_loaded(&mut state)?;
        let Some(admin) = admin_dir_of(&self.repo, &wt.path) else {
            tracing::warn!(path = %wt.path.display(), "worktree lost its admin directory; deleting it");
            state.trackers.remove(&wt.name);
            remove_tree(&wt.path)?;
            self.remove_empty_parents(&wt.path);
            return Ok(());
        };
        detach_head(&wt.path)?;
        let name = file_name(&admin);
        fs::create_dir_all(&pool_dir).map_err(GitError::io("create directory", &pool_dir))?;
        let destination = pool_dir.join(&name);
        remove_tree(&destination)?;
        move_worktree(&wt.path, &destination, &admin)?;
        self.remove_empty_parents(&wt.path);
        if let Some(idle) = state.idle.as_mut() {
            idle.push(name);
        }
        Ok(())
    }

    /// Failed step: leaves the worktree at its step path, on its branch, with the
    /// tool's changes, for inspection. A later `acquire` of the same step path reuses
    /// and resets it; `remove_all` deletes it.
    pub fn keep(&self, wt: Worktree) {
        tracing::info!(path = %wt.path.display(), branch = %wt.branch, "kept worktree for inspection");
    }

    /// `pipeline clean`: removes every worktree of this run, idle or kept (working
    /// directories and admin directories), and the run's root directory. See
    /// [`remove_run_worktrees`], which does the same without a pool. Branches stay.
    ///
    /// Errors: [`GitError::InvalidRunId`], [`GitError::Io`].
    pub fn remove_all(&self) -> Result<(), GitError> {
        let mut state = self.lock();
        remove_run_worktrees(&self.repo, &self.run_id)?;
        state.idle = Some(Vec::new());
        state.trackers.clear();
        Ok(())
    }

    /// End of a run: removes the idle pooled worktrees (working directories and admin
    /// directories) and the pool directory. Worktrees at step paths (kept for failed
    /// steps) stay. Returns how many were removed.
    ///
    /// Errors: [`GitError::Io`] when a directory cannot be removed.
    pub fn remove_idle(&self) -> Result<usize, GitError> {
        let mut state = self.lock();
        self.ensure_idle_loaded(&mut state)?;
        let pool_dir = self.root.join(POOL_DIR);
        let mut removed = 0;
        for name in state.idle.take().unwrap_or_default() {
            let dir = pool_dir.join(&name);
            if let Some(admin) = admin_dir_of(&self.repo, &dir) {
                remove_tree(&admin)?;
            }
            remove_tree(&dir)?;
            state.trackers.remove(&name);
            removed += 1;
        }
        state.idle = Some(Vec::new());
        remove_tree(&pool_dir)?;
        // The run root goes too when nothing was kept in it.
        let _ = fs::remove_dir(&self.root);
        Ok(removed)
    }

    /// End of a run that is over (completed or failed, not interrupted): removes every
    /// worktree of the run, idle or at a step path, except those at the step paths in
    /// `kept` (failed steps' worktrees, kept for inspection), then the pool directory,
    /// the directories left empty, and the run root when nothing is kept. What belongs
    /// to the run is read from the repository's worktree registry (paths under the run
    /// root), not from this pool's memory, so worktrees left by an earlier process of the
    /// same run (a crash before resume, a step completed but not yet released) go too.
    /// Branches stay. Returns how many worktrees were removed.
    ///
    /// Errors: [`GitError::InvalidRunId`], [`GitError::Io`] when a directory cannot be
    /// removed or the registry cannot be listed; what was removed before stays removed.
    pub fn remove_unkept(&self, kept: &[&str]) -> Result<usize, GitError> {
        let mut state = self.lock();
        if kept.is_empty() {
            let removed = remove_run_worktrees(&self.repo, &self.run_id)?;
            state.idle = Some(Vec::new());
            state.trackers.clear();
            return Ok(removed);
        }
        run_worktree_root(&self.repo, &self.run_id)?;
        let canonical_root = fs::canonicalize(&self.root).ok();
        let mut removed = 0;
        for worktree in registered(&self.repo)? {
            let Some(path) = worktree.path else {
                continue;
            };
            let relative = path.strip_prefix(&self.root).ok().or_else(|| {
                canonical_root
                    .as_ref()
                    .and_then(|root| path.strip_prefix(root).ok())
            });
            let Some(relative) = relative else {
                continue;
            };
            if kept
                .iter()
                .any(|step_path| Path::new(step_path) == relative)
            {
                continue;
            }
            let at = self.root.join(relative);
            remove_tree(&at)?;
            remove_tree(&worktree.admin_dir)?;
            state.trackers.remove(&worktree.name);
            self.remove_empty_parents(&at);
            removed += 1;
        }
        state.idle = Some(Vec::new());
        remove_tree(&self.root.join(POOL_DIR))?;
        let _ = fs::remove_dir(&self.root);
        Ok(removed)
    }

    /// Starts change tracking of worktree `name` at `dir`, exactly at `start` now.
    fn track(&self, name: &str, dir: &Path, start: git2::Oid) -> Option<ChangeTracker> {
        let tracker = ChangeTracker::start(dir, start)?;
        self.lock()
            .trackers
            .insert(name.to_string(), tracker.clone());
        Some(tracker)
    }

    fn lock(&self) -> MutexGuard<'_, PoolState> {
        // The state is a list of names; a panic elsewhere cannot leave it torn.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Under the lock: puts a worktree at `target` if one can be reused, or reserves
    /// a name for a new one.
    fn place(
        &self,
        state: &mut PoolState,
        step_path: &str,
        target: &Path,
        refname: &str,
        branch: &str,
    ) -> Result<Placement, GitError> {
        // First, so idle worktrees of an earlier process are detached before the
        // branch check below looks at who holds the branch.
        self.ensure_idle_loaded(state)?;
        self.check_no_enclosing_worktree(step_path, target)?;
        if let Some(holder) = checked_out_at(&self.repo, refname)?
            && !same_file(&holder, target)
        {
            return Err(GitError::BranchCheckedOut {
                branch: branch.to_string(),
                path: holder,
            });
        }

        match fs::symlink_metadata(target) {
            Ok(meta) => {
                if meta.is_dir() {
                    if let Some(admin) = admin_dir_of(&self.repo, target) {
                        write_gitdir(&admin, target)?;
                        return Ok(Placement::Reuse {
                            name: file_name(&admin),
                        });
                    }
                    self.check_no_enclosed_worktree(step_path, target)?;
                }
                tracing::warn!(path = %target.display(), "removing a leftover that is not a worktree");
                remove_tree(target)?;
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => return Err(GitError::io("inspect", target)(error)),
        }

        let pool_dir = self.root.join(POOL_DIR);
        while let Some(entry) = state.idle.as_mut().and_then(Vec::pop) {
            let idle_dir = pool_dir.join(&entry);
            let Some(admin) = admin_dir_of(&self.repo, &idle_dir) else {
                tracing::warn!(path = %idle_dir.display(), "dropping an idle worktree that lost its admin directory");
                remove_tree(&idle_dir)?;
                continue;
            };
            move_worktree(&idle_dir, target, &admin)?;
            return Ok(Placement::Reuse {
                name: file_name(&admin),
            });
        }
        Ok(Placement::Create {
            name: self.next_name(state),
        })
    }

    /// Adds a new worktree at `<root>/.pool/<name>` on `branch` forced to `start`.
    /// Runs outside the lock: this is the one full checkout.
    fn create(
        &self,
        name: &str,
        refname: &str,
        branch: &str,
        start: git2::Oid,
    ) -> Result<PathBuf, GitError> {
        let repo = self.repo.git2()?;
        let workdir = self.repo.workdir();
        repo.find_commit(start)
            .map_err(GitError::git(format!("find start commit {start}"), workdir))?;
        repo.reference(refname, start, true, "pipeline: start step")
            .map_err(GitError::git(
                format!("set branch `{branch}` to {start}"),
                workdir,
            ))?;
        let pool_dir = self.root.join(POOL_DIR);
        fs::create_dir_all(&pool_dir).map_err(GitError::io("create directory", &pool_dir))?;
        let dir = pool_dir.join(name);
        add_worktree(&self.repo, name, &dir, refname)?;
        Ok(dir)
    }

    /// Loads the idle list from `<root>/.pool/` once per pool: worktrees there were
    /// left by an earlier process of the same run. Their `HEAD` is detached so that
    /// no idle worktree holds a branch; entries that are not worktrees are deleted.
    fn ensure_idle_loaded(&self, state: &mut PoolState) -> Result<(), GitError> {
        if state.idle.is_some() {
            return Ok(());
        }
        let pool_dir = self.root.join(POOL_DIR);
        let mut idle = Vec::new();
        let entries = match fs::read_dir(&pool_dir) {
            Ok(entries) => Some(entries),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => None,
            Err(error) => return Err(GitError::io("list directory", &pool_dir)(error)),
        };
        for entry in entries.into_iter().flatten() {
            let entry = entry.map_err(GitError::io("list directory", &pool_dir))?;
            let dir = entry.path();
            let usable = match admin_dir_of(&self.repo, &dir) {
                Some(admin) => remove_stale_locks(&admin)
                    .and_then(|()| write_gitdir(&admin, &dir))
                    .and_then(|()| detach_head(&dir))
                    .is_ok(),
                None => false,
            };
            if usable {
                idle.push(entry.file_name().to_string_lossy().into_owned());
            } else {
                tracing::warn!(path = %dir.display(), "deleting an unusable idle worktree");
                remove_tree(&dir)?;
            }
        }
        state.idle = Some(idle);
        Ok(())
    }

    /// `pipeline-<run>-<n>` for the first `n` whose admin directory and pool
    /// directory are both free. Characters git dislikes in names become `_`.
    fn next_name(&self, state: &mut PoolState) -> String {
        let run: String = self
            .run_id
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let registry = admin_root(&self.repo);
        let pool_dir = self.root.join(POOL_DIR);
        loop {
            let name = format!("pipeline-{run}-{}", state.next_number);
            state.next_number += 1;
            if !registry.join(&name).exists() && !pool_dir.join(&name).exists() {
                return name;
            }
        }
    }

    /// The step's directory must not lie inside another worktree (e.g. step `a/b`
    /// inside the worktree of step `a`): that worktree's reset would delete it.
    fn check_no_enclosing_worktree(&self, step_path: &str, target: &Path) -> Result<(), GitError> {
        let mut ancestor = target.parent();
        while let Some(dir) = ancestor {
            if dir == self.root || !dir.starts_with(&self.root) {
                break;
            }
            if fs::symlink_metadata(dir.join(".git")).is_ok() {
                return Err(GitError::NestedStepPath {
                    step_path: step_path.to_string(),
                    other: dir.to_path_buf(),
                });
            }
            ancestor = dir.parent();
        }
        Ok(())
    }

    /// A non-worktree directory at the step path is deleted, unless it contains the
    /// worktree of another step (e.g. step `a` while step `a/b` has one).
    fn check_no_enclosed_worktree(&self, step_path: &str, target: &Path) -> Result<(), GitError> {
        let canonical =
            fs::canonicalize(target).map_err(GitError::io("resolve the path of", target))?;
        for worktree in registered(&self.repo)? {
            if let Some(path) = worktree.path
                && (path.starts_with(target) || path.starts_with(&canonical))
            {
                return Err(GitError::NestedStepPath {
                    step_path: step_path.to_string(),
                    other: path,
                });
            }
        }
        Ok(())
    }

    /// Removes now-empty directories between a released step path and the root.
    fn remove_empty_parents(&self, step_dir: &Path) {
        let mut ancestor = step_dir.parent();
        while let Some(dir) = ancestor {
            if dir == self.root || !dir.starts_with(&self.root) || fs::remove_dir(dir).is_err() {
                break;
            }
            ancestor = dir.parent();
        }
    }
}

/// Renames a worktree's directory and points its admin `gitdir` file at the new place.
fn move_worktree(from: &Path, to: &Path, admin: &Path) -> Result<(), GitError> {
    if let Some(parent) = to.parent() {
        fs::create_dir_all(parent).map_err(GitError::io("create directory", parent))?;
    }
    fs::rename(from, to).map_err(GitError::io(
        format!("move worktree {} to", from.display()),
        to,
    ))?;
    write_gitdir(admin, to)
}

/// Detaches the worktree's `HEAD` at the commit it points to.
fn detach_head(dir: &Path) -> Result<(), GitError> {
    let repo = open_worktree(dir)?;
    let head = repo
        .head()
        .and_then(|head| head.peel_to_commit())
        .map_err(GitError::git("read HEAD", dir))?;
    repo.set_head_detached(head.id())
        .map_err(GitError::git("detach HEAD", dir))
}

/// Whether two paths name the same existing file or directory.
fn same_file(a: &Path, b: &Path) -> bool {
    match (fs::canonicalize(a), fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Step paths are `/`-separated relative paths whose components are non-empty and do
/// not start with `.` (so they can never be `..`, `.git` or the pool's `.pool`).
fn validate_step_path(step_path: &str) -> Result<(), GitError> {
    let invalid = |reason| GitError::InvalidStepPath {
        step_path: step_path.to_string(),
        reason,
    };
    if step_path.is_empty() {
        return Err(invalid("it is empty"));
    }
    if step_path.starts_with('/') || Path::new(step_path).is_absolute() {
        return Err(invalid("it is absolute"));
    }
    if step_path.contains(['\\', '\0']) {
        return Err(invalid("it contains a backslash or NUL character"));
    }
    for component in step_path.split('/') {
        if component.is_empty() {
            return Err(invalid(
                "it has an empty component (`//` or a trailing `/`)",
            ));
        }
        if component.starts_with('.') {
            return Err(invalid("a component starts with `.`"));
        }
    }
    Ok(())
}
