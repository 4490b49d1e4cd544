//! What the pool knows about a pooled worktree between steps, so that staging and
//! reset look only at the paths a step touched.
//!
//! Invariant kept by a valid [`ChangeTracker`]: the worktree's files and its index (as
//! held by the tracker's repository handle) differ from commit `clean_at` (the last
//! commit the worktree was reset to) only at the paths its [`ChangeFeed`] reports (or
//! below them). It holds after a reset; the tool and tests only change files
//! (reported by the feed); staging changes the index only at reported paths. What
//! would break it is checked, not assumed:
//! * the feed lost track (queue overflow, watch limit): the feed says so;
//! * something else rewrote the index with different entries (a tool running `git add`,
//!   `git rm --cached`, `git reset`): the index file's trailing checksum no longer
//!   matches the one recorded when pipeline last wrote it, and its entries differ from
//!   the in-memory copy (a `git status` that only refreshed stat data keeps the entries,
//!   and the feed stays in use).
//!
//! Either makes the next staging walk the worktree and the next reset a full one, after
//! which the tracker is valid again (with a new feed if the old one lost track).
//!
//! The tracker also keeps the worktree's index in memory across steps (with a libgit2
//! handle reopened whenever the pool moves the directory: libgit2 caches ignore rules by
//! path), so that the index, whose reading costs a checksum of the whole file, is read
//! from disk again only when someone else changed it.

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::GitError;
use super::change_feed::ChangeFeed;
use super::repository::open_worktree;
use super::tree_diff::diff_trees;

/// Shared handle to a pooled worktree's tracking state; cheap to clone, `Send + Sync`.
#[derive(Clone)]
pub struct ChangeTracker(Arc<Mutex<Tracking>>);

impl std::fmt::Debug for ChangeTracker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ChangeTracker")
    }
}

struct Tracking {
    /// The worktree's repository, kept open while the worktree stays at `repo_dir`
    /// (reopened after the pool moved the directory: libgit2 caches ignore rules by
    /// path, so re-pointing a handle at a new place is not enough).
    repo: git2::Repository,
    repo_dir: PathBuf,
    /// `None` after the feed lost track and no new one could be started.
    feed: Option<ChangeFeed>,
    /// The commit the worktree was last made exactly equal to.
    clean_at: git2::Oid,
    /// Trailer (checksum) of the index file as pipeline last wrote it; `None` when unknown.
    index_trailer: Option<Vec<u8>>,
    /// Set when the invariant may be broken (foreign index write); cleared by a full reset.
    tainted: bool,
}

impl ChangeTracker {
    /// Starts tracking the worktree at `dir`, which is exactly at commit `clean_at`
    /// right now. `None` when no change feed can be started (see
    /// [`ChangeFeed::watch`]) or the worktree cannot be opened; the worktree is then
    /// walked as before.
    pub(crate) fn start(dir: &Path, clean_at: git2::Oid) -> Option<ChangeTracker> {
        let repo = open_worktree(dir).ok()?;
        let feed = ChangeFeed::watch(dir)?;
        // Loaded now, while it is what pipeline wrote: later checks compare the file
        // with this copy.
        repo.index().ok()?;
        let index_trailer = index_trailer(&repo);
        Some(ChangeTracker(Arc::new(Mutex::new(Tracking {
            repo,
            repo_dir: dir.to_path_buf(),
            feed: Some(feed),
            clean_at,
            index_trailer,
            tainted: false,
        }))))
    }

    /// Exclusive use of the tracking state for the worktree now at `dir`.
    ///
    /// Errors: [`GitError::NotARepository`] / [`GitError::Git`] when the worktree
    /// cannot be opened at `dir`.
    pub(crate) fn lock(&self, dir: &Path) -> Result<Tracked<'_>, GitError> {
        // Plain data; after a panic elsewhere the checks below still hold (a stale
        // trailer only forces a walk).
        let mut guard = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if guard.repo_dir != dir {
            let repo = open_worktree(dir)?;
            // The new handle takes over the in-memory index (its file did not move), so
            // it is not read and checksummed again; detached from the old handle first,
            // which would otherwise disown it when dropped.
            let moved = guard.repo.index().and_then(|mut index| {
                guard.repo.set_index(&mut git2::Index::new()?)?;
                repo.set_index(&mut index)
            });
            guard.repo = match moved {
                Ok(()) => repo,
                Err(error) => {
                    // A fresh read would hide what someone else may have written to the
                    // index: trust it again only after a full reset.
                    tracing::debug!(%error, "cannot keep the index in memory; walking until the next full reset");
                    guard.tainted = true;
                    open_worktree(dir)?
                }
            };
            guard.repo_dir = dir.to_path_buf();
        }
        Ok(Tracked {
            guard,
            dir: dir.to_path_buf(),
        })
    }
}

/// A locked [`ChangeTracker`] for a worktree directory.
pub(crate) struct Tracked<'a> {
    guard: MutexGuard<'a, Tracking>,
    dir: PathBuf,
}

impl Tracked<'_> {
    /// The worktree's repository handle (workdir = the locked directory).
    pub(crate) fn repo(&self) -> &git2::Repository {
        &self.guard.repo
    }

    /// The commit the worktree was last reset to.
    pub(crate) fn clean_at(&self) -> git2::Oid {
        self.guard.clean_at
    }

    /// Whether the invariant can be relied on: not tainted, and the index file holds
    /// what pipeline last wrote. An index rewritten with the same entries (`git status`
    /// refreshing its stat data, as AI tools do all the time) is fine; other changes
    /// taint the tracker until the next full reset.
    fn trustworthy(&mut self) -> bool {
        let tracking = &mut *self.guard;
        if tracking.tainted {
            return false;
        }
        let trailer = index_trailer(&tracking.repo);
        if trailer.is_none() || trailer != tracking.index_trailer {
            // The in-memory index is still what pipeline last wrote (libgit2 reloads it
            // only when a status or checkout runs, which happens after this check).
            let same_entries = match (
                git2::Index::open(&tracking.repo.path().join("index")),
                tracking.repo.index(),
            ) {
                (Ok(on_disk), Ok(ours)) => same_entries(&on_disk, &ours),
                _ => false,
            };
            if same_entries {
                tracking.index_trailer = trailer;
            } else {
                tracing::debug!(
                    "the index was changed by someone else; worktree walks until the next full reset"
                );
                tracking.tainted = true;
            }
        }
        !tracking.tainted
    }

    /// The paths touched since the last reset (sorted; a path covers everything below
    /// it), for staging; `None` when they cannot be vouched for and the caller must
    /// walk the worktree.
    pub(crate) fn touched_paths(&mut self) -> Option<Vec<PathBuf>> {
        if !self.trustworthy() {
            return None;
        }
        let dir = self.dir.clone();
        self.guard.feed.as_mut()?.dirty(&dir).map(outermost)
    }

    /// The paths a reset from the clean commit to commit `target` must look at: those
    /// touched since the last reset plus those that differ between the two commits'
    /// trees (equal subtrees skipped by id: O(changed paths)). `None` when the tracker
    /// cannot vouch for them (full reset needed).
    pub(crate) fn reset_paths(&mut self, target: git2::Oid) -> Option<Vec<PathBuf>> {
        let mut paths = self.touched_paths()?;
        let tracking = &*self.guard;
        let tree_of = |oid: git2::Oid| {
            tracking
                .repo
                .find_commit(oid)
                .and_then(|commit| commit.tree())
                .ok()
        };
        let changes = diff_trees(
            &tracking.repo,
            &tree_of(tracking.clean_at)?,
            &tree_of(target)?,
        )
        .ok()?;
        paths.extend(changes.into_iter().map(|change| change.path));
        Some(outermost(paths))
    }

    /// Something may have broken the invariant (a reset that failed half-way): the
    /// next staging walks and the next reset is a full one.
    pub(crate) fn taint(&mut self) {
        self.guard.tainted = true;
    }

    /// The worktree is now exactly at commit `clean_at` (after any reset): forget the
    /// paths touched so far, untaint, record the index's checksum, and replace a feed
    /// that lost track.
    pub(crate) fn reset_done(&mut self, clean_at: git2::Oid) {
        let tracking = &mut *self.guard;
        let keeps_track = tracking
            .feed
            .as_mut()
            .is_some_and(|feed| feed.clear(&self.dir));
        if !keeps_track {
            tracking.feed = ChangeFeed::watch(&self.dir);
        }
        tracking.clean_at = clean_at;
        tracking.index_trailer = index_trailer(&tracking.repo);
        tracking.tainted = false;
    }
}

/// `paths` sorted, without duplicates and without paths below another listed path
/// (which already covers them).
fn outermost(mut paths: Vec<PathBuf>) -> Vec<PathBuf> {
    // `Path` orders by component, so a directory comes right before its contents.
    paths.sort();
    let mut kept: Vec<PathBuf> = Vec::with_capacity(paths.len());
    for path in paths {
        if kept.last().is_none_or(|last| !path.starts_with(last)) {
            kept.push(path);
        }
    }
    kept
}

/// Whether two indexes say the same (path, object id, mode and conflict stage of every
/// entry), ignoring the stat data that `git status` refreshes. O(entries), in memory.
fn same_entries(a: &git2::Index, b: &git2::Index) -> bool {
    a.len() == b.len()
        && a.iter().zip(b.iter()).all(|(x, y)| {
            x.path == y.path
                && x.id == y.id
                && x.mode == y.mode
                && x.flags & 0x3000 == y.flags & 0x3000
        })
}

/// The last 32 bytes of the worktree's index file (its checksum trailer: 20 bytes of
/// SHA-1, or 32 of SHA-256, preceded by content), `None` when it cannot be read.
fn index_trailer(repo: &git2::Repository) -> Option<Vec<u8>> {
    let mut file = std::fs::File::open(repo.path().join("index")).ok()?;
    let length = file.metadata().ok()?.len();
    let take = length.min(32);
    file.seek(SeekFrom::Start(length - take)).ok()?;
    let mut trailer = vec![0; take as usize];
    file.read_exact(&mut trailer).ok()?;
    Some(trailer)
}
