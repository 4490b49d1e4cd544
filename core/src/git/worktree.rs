//! A step's worktree, as handed out by the [`WorktreePool`](super::WorktreePool).
//!
//! The value is a receipt: it says where the step's files are and which branch they
//! are on. Giving it back with `release` or `keep` decides what happens to the
//! directory; dropping it leaves the directory where it is, like `keep`.

use std::path::{Path, PathBuf};

/// A linked git worktree checked out for one step.
#[derive(Debug)]
pub struct Worktree {
    pub(crate) path: PathBuf,
    pub(crate) branch: String,
    pub(crate) name: String,
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
}
