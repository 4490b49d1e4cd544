//! A step's worktree, as handed out by the [`WorktreePool`](super::WorktreePool).
//!
//! The value is a receipt: it says where the step's files are and which branch they
//! are on. Giving it back with `release` or `keep` decides what happens to the
//! directory; dropping it leaves the directory where it is, like `keep`.

use std::path::{Path, PathBuf};

use super::worktree_tracking::ChangeTracker;

/// A linked git worktree checked out for one step.
#[derive(Debug)]
pub struct Worktree {
    pub(crate) path: PathBuf,
    pub(crate) branch: String,
    pub(crate) name: String,
    /// The pool's change tracking of this worktree, when it has one.
    pub(crate) tracker: Option<ChangeTracker>,
    /// Whether `acquire` reset it by looking at touched paths only (for tests and logs).
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) limited_reset: bool,
}

impl Worktree {
    /// The worktree's directory, `<workdir>/.pipeline/worktrees/<run>/<step path>`.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The branch checked out in it, as given to `acquire` (e.g.
    /// `pipeline-steps/<run>/<step>`).
    pub fn branch(&self) -> &str {
        &self.branch
    }

    /// git's name for the worktree (its admin directory
    /// `<commondir>/worktrees/<name>`), stable across reuse by other steps.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// What the pool knows of the paths touched in this worktree since it was reset
    /// for the step: pass it to
    /// [`stage_worktree_changes`](super::stage_worktree_changes) so staging looks at
    /// those paths only. `None` when the worktree is not tracked (no inotify, or
    /// `PIPELINE_CHANGE_FEED=0`); staging then walks it.
    pub fn tracker(&self) -> Option<&ChangeTracker> {
        self.tracker.as_ref()
    }
}
