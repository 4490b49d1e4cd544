//! Which paths of a worktree were touched since a known point, learned from the
//! kernel's file-change notifications instead of a walk of the whole tree.
//!
//! Staging a step's changes and resetting a pooled worktree for the next step both
//! need to know what differs from the commit the worktree was last reset to. A walk
//! (what `git status` does) stats every file: its cost grows with the repository. A
//! [`ChangeFeed`] watches every directory of the worktree with Linux inotify (one
//! watch per directory, set up once per pooled worktree) and collects the paths that
//! the kernel reports as created, deleted, modified, renamed or changed in mode, so
//! that staging and reset only look at those paths: the same idea as git's fsmonitor
//! and Watchman.
//!
//! Events are queued by the kernel synchronously with the file operation, so once the
//! tool's process group has exited, draining the queue gives every change it made; no
//! background thread is needed. When the feed cannot vouch for completeness it says so
//! ([`ChangeFeed::dirty`] returns `None`) and callers fall back to a walk:
//! * the kernel's queue overflowed (`fs.inotify.max_queued_events`, 16,384 by default:
//!   a tool that touched more paths than that between two drains);
//! * a watch could not be added (`fs.inotify.max_user_watches`), or an event came for
//!   a directory the feed does not know;
//! * the platform has no inotify (every OS but Linux), or `PIPELINE_CHANGE_FEED=0`.
//!
//! Not seen by inotify, hence not by the feed: writes through a shared memory mapping
//! that is never closed (a `close` after writing is seen), writes through a hard link
//! that lives outside the worktree, changes made on another machine to a network file
//! system, and changes inside an untracked nested git repository's `.git` directory
//! (which staging skips anyway).

#[cfg(not(target_os = "linux"))]
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Environment variable that turns the feed off when set to `0`, `false`, `no` or
/// `off` (staging and reset then walk the worktree, as without inotify).
pub const CHANGE_FEED_ENV: &str = "PIPELINE_CHANGE_FEED";

/// Whether [`CHANGE_FEED_ENV`] allows the feed.
fn enabled() -> bool {
    !matches!(
        std::env::var(CHANGE_FEED_ENV)
            .unwrap_or_default()
            .to_ascii_lowercase()
            .as_str(),
        "0" | "false" | "no" | "off"
    )
}

/// The paths of one worktree touched since the last [`clear`](ChangeFeed::clear).
///
/// Paths are relative to the worktree's root, without the root's own `.git` file. A
/// path stands for itself and, when it is (or was) a directory, everything below it:
/// feed it to libgit2 as a pathlist with pathspec matching disabled.
#[derive(Debug)]
pub(crate) struct ChangeFeed {
    #[cfg(target_os = "linux")]
    inner: linux::Watcher,
    #[cfg(not(target_os = "linux"))]
    inner: NoWatcher,
}

impl ChangeFeed {
    /// Starts watching the worktree at `root` (a walk of its directories, no file
    /// stats). `None` when the platform has no inotify, the feed is turned off
    /// ([`CHANGE_FEED_ENV`]), or the kernel refuses an inotify instance or a watch
    /// (limits reached); the reason is logged at debug level.
    pub(crate) fn watch(root: &Path) -> Option<ChangeFeed> {
        if !enabled() {
            return None;
        }
        #[cfg(target_os = "linux")]
        {
            match linux::Watcher::new(root) {
                Ok(inner) => Some(ChangeFeed { inner }),
                Err(error) => {
                    tracing::debug!(root = %root.display(), %error, "no change feed; worktree walks instead");
                    None
                }
            }
        }
        #[cfg(not(target_os = "linux"))]
        {
            let _ = root;
            None
        }
    }

    /// Drains the kernel's queue and returns every path touched since the last
    /// [`clear`](ChangeFeed::clear), sorted; `None` when the feed lost track (queue
    /// overflow, a watch that could not be added) and a walk is needed. `root` is the
    /// worktree's current directory (it moves between the pool and step paths; paths
    /// are kept relative, so moving it is harmless).
    pub(crate) fn dirty(&mut self, root: &Path) -> Option<Vec<PathBuf>> {
        self.inner.drain(root);
        if self.inner.lost() {
            return None;
        }
        Some(self.inner.dirty().iter().cloned().collect())
    }

    /// Drains the queue (picking up directories created meanwhile) and forgets every
    /// path touched so far: the worktree is now exactly at a known commit. Returns
    /// `false` when the feed has lost track and must be replaced by a new one.
    pub(crate) fn clear(&mut self, root: &Path) -> bool {
        self.inner.drain(root);
        self.inner.clear();
        !self.inner.lost()
    }
}

#[cfg(not(target_os = "linux"))]
#[derive(Debug)]
struct NoWatcher;

#[cfg(not(target_os = "linux"))]
impl NoWatcher {
    fn drain(&mut self, _root: &Path) {}
    fn lost(&self) -> bool {
        true
    }
    fn dirty(&self) -> &BTreeSet<PathBuf> {
        static NOTHING: BTreeSet<PathBuf> = BTreeSet::new();
        &NOTHING
    }
    fn clear(&mut self) {}
}

#[cfg(target_os = "linux")]
mod linux {
    use std::collections::{BTreeSet, HashMap, HashSet};
    use std::ffi::OsStr;
    use std::io;
    use std::path::{Path, PathBuf};

    use nix::errno::Errno;
    use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify, InotifyEvent, WatchDescriptor};

    /// Events that change what `git status` would report for a path.
    fn mask() -> AddWatchFlags {
        AddWatchFlags::IN_CREATE
            | AddWatchFlags::IN_DELETE
            | AddWatchFlags::IN_MODIFY
            | AddWatchFlags::IN_ATTRIB
            | AddWatchFlags::IN_CLOSE_WRITE
            | AddWatchFlags::IN_MOVED_FROM
            | AddWatchFlags::IN_MOVED_TO
            | AddWatchFlags::IN_ONLYDIR
            | AddWatchFlags::IN_DONT_FOLLOW
    }

    #[derive(Debug)]
    pub(super) struct Watcher {
        inotify: Inotify,
        /// Directory of each watch, relative to the root (`""` for the root).
        dirs: HashMap<WatchDescriptor, PathBuf>,
        /// Watches removed by us whose `IN_IGNORED` has not arrived yet; their
        /// late events are about directories no longer in the worktree.
        removed: HashSet<WatchDescriptor>,
        /// `IN_MOVED_FROM` of a directory, by cookie, waiting for its `IN_MOVED_TO`.
        moves: HashMap<u32, PathBuf>,
        dirty: BTreeSet<PathBuf>,
        lost: bool,
    }

    impl Watcher {
        pub(super) fn new(root: &Path) -> io::Result<Watcher> {
            let inotify = Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC)?;
            let mut watcher = Watcher {
                inotify,
                dirs: HashMap::new(),
                removed: HashSet::new(),
                moves: HashMap::new(),
                dirty: BTreeSet::new(),
                lost: false,
            };
            watcher.watch_tree(root, Path::new(""))?;
            Ok(watcher)
        }

        pub(super) fn lost(&self) -> bool {
            self.lost
        }

        pub(super) fn dirty(&self) -> &BTreeSet<PathBuf> {
            &self.dirty
        }

        pub(super) fn clear(&mut self) {
            self.dirty.clear();
        }

        /// Watches `relative` (a directory under `root`) and every directory below it.
        /// Directories that vanish meanwhile are skipped (their parent's events cover
        /// them); any other failure (e.g. the watch limit) is returned.
        fn watch_tree(&mut self, root: &Path, relative: &Path) -> io::Result<()> {
            let mut pending = vec![relative.to_path_buf()];
            while let Some(dir) = pending.pop() {
                let absolute = root.join(&dir);
                let wd = match self.inotify.add_watch(&absolute, mask()) {
                    Ok(wd) => wd,
                    Err(Errno::ENOENT | Errno::ENOTDIR) => continue,
                    Err(errno) => return Err(io::Error::from(errno)),
                };
                self.removed.remove(&wd);
                self.dirs.insert(wd, dir.clone());
                let entries = match std::fs::read_dir(&absolute) {
                    Ok(entries) => entries,
                    Err(error) if error.kind() == io::ErrorKind::NotFound => continue,
                    Err(error) => return Err(error),
                };
                for entry in entries {
                    let entry = entry?;
                    // `file_type` comes from the directory entry (no stat on most file
                    // systems) and does not follow symlinks.
                    if entry.file_type().is_ok_and(|t| t.is_dir()) && entry.file_name() != ".git" {
                        pending.push(dir.join(entry.file_name()));
                    }
                }
            }
            Ok(())
        }

        /// Stops watching `relative` and everything below it (moved out of the tree).
        fn unwatch_tree(&mut self, relative: &Path) {
            let gone: Vec<WatchDescriptor> = self
                .dirs
                .iter()
                .filter(|(_, dir)| dir.starts_with(relative))
                .map(|(wd, _)| *wd)
                .collect();
            for wd in gone {
                self.dirs.remove(&wd);
                if self.inotify.rm_watch(wd).is_ok() {
                    self.removed.insert(wd);
                }
            }
        }

        /// Renames the directories of watches below `from` to below `to`.
        fn rename_tree(&mut self, from: &Path, to: &Path) {
            for dir in self.dirs.values_mut() {
                if let Ok(rest) = dir.strip_prefix(from) {
                    *dir = if rest.as_os_str().is_empty() {
                        to.to_path_buf()
                    } else {
                        to.join(rest)
                    };
                }
            }
        }

        pub(super) fn drain(&mut self, root: &Path) {
            loop {
                match self.inotify.read_events() {
                    Ok(events) if events.is_empty() => break,
                    Ok(events) => {
                        for event in events {
                            self.handle(root, event);
                        }
                    }
                    Err(Errno::EAGAIN) => break,
                    Err(Errno::EINTR) => continue,
                    Err(errno) => {
                        tracing::debug!(%errno, "change feed unreadable");
                        self.lost = true;
                        break;
                    }
                }
            }
            // A directory moved out of the worktree: no `IN_MOVED_TO` will follow (the
            // kernel queues both halves of a rename together).
            for (_, from) in std::mem::take(&mut self.moves) {
                self.unwatch_tree(&from);
            }
        }

        fn handle(&mut self, root: &Path, event: InotifyEvent) {
            let mask = event.mask;
            if mask.intersects(AddWatchFlags::IN_Q_OVERFLOW | AddWatchFlags::IN_UNMOUNT) {
                tracing::debug!("change feed overflowed; worktree walks instead");
                self.lost = true;
                return;
            }
            if mask.contains(AddWatchFlags::IN_IGNORED) {
                self.removed.remove(&event.wd);
                // The kernel dropped the watch (its directory was deleted or moved away);
                // the parent's event already named the directory.
                self.dirs.remove(&event.wd);
                return;
            }
            let Some(dir) = self.dirs.get(&event.wd).cloned() else {
                if !self.removed.contains(&event.wd) {
                    tracing::debug!(wd = ?event.wd, "change feed event for an unknown directory");
                    self.lost = true;
                }
                return;
            };
            // Events about the watched directory itself carry no name.
            let Some(name) = event.name else { return };
            if dir.as_os_str().is_empty() && name == OsStr::new(".git") {
                return;
            }
            let path = dir.join(&name);
            if !mask.contains(AddWatchFlags::IN_ISDIR) {
                self.dirty.insert(path);
                return;
            }
            // A directory's own mode or times do not matter to git; its appearance,
            // disappearance or move does (everything below it is then covered).
            if !mask.intersects(
                AddWatchFlags::IN_CREATE
                    | AddWatchFlags::IN_DELETE
                    | AddWatchFlags::IN_MOVED_FROM
                    | AddWatchFlags::IN_MOVED_TO,
            ) {
                return;
            }
            self.dirty.insert(path.clone());
            if mask.contains(AddWatchFlags::IN_MOVED_FROM) {
                self.moves.insert(event.cookie, path);
            } else if mask.contains(AddWatchFlags::IN_MOVED_TO) {
                if let Some(from) = self.moves.remove(&event.cookie) {
                    self.rename_tree(&from, &path);
                }
                // Also when it came from inside: it may have been created (and filled)
                // after the last drain, so that nothing below it is watched yet. Watches
                // that exist are found again and keep their descriptor.
                self.add_tree(root, &path);
            } else if mask.contains(AddWatchFlags::IN_CREATE) {
                self.add_tree(root, &path);
            } else if mask.contains(AddWatchFlags::IN_DELETE) {
                // Its own watch ends with `IN_IGNORED`; the ones below went before it.
            }
        }

        fn add_tree(&mut self, root: &Path, relative: &Path) {
            if relative.file_name() == Some(OsStr::new(".git")) {
                return;
            }
            if let Err(error) = self.watch_tree(root, relative) {
                tracing::debug!(path = %relative.display(), %error, "cannot watch a new directory; worktree walks instead");
                self.lost = true;
            }
        }
    }
}
