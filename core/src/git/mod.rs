//! Git repositories, worktrees, merges and commits for step isolation.
//!
//! Each step of a run works in its own linked git worktree at
//! `<workdir>/.pipeline/worktrees/<run>/<step path>` on its own branch, started at the
//! merge of its dependencies' result commits ([`Repository::merge_commits`]; roots
//! start at the run's base commit). Two independent steps never see each other's
//! changes; a dependent step sees all of its dependencies'. When the step's tool and
//! tests succeed, [`commit_worktree`] commits the worktree on the step's branch and
//! that commit is the step's result; [`changed_paths`] lists what it will contain.
//!
//! Worktrees are pooled per run ([`WorktreePool`]): a released worktree is reset for
//! the next step instead of being deleted and re-created, because a full checkout of a
//! large tree costs seconds. Everything here is blocking; the engine calls it from
//! `tokio::task::spawn_blocking`, from several threads at once.
//!
//! # What a reused worktree looks like after `acquire`
//!
//! Reset is a libgit2 forced checkout of the start commit's tree, removing untracked
//! and ignored files, with the index made equal to the start tree. Afterwards (`git
//! status --ignored` is empty):
//!
//! * **Reset**: content of every tracked file; tracked files deleted by the previous
//!   step are restored and files it added are deleted; file modes git tracks (the
//!   executable bit, with `core.fileMode` on) and symlinks; untracked files and
//!   directories, including empty directories and untracked nested git repositories
//!   (a directory with its own `.git` is deleted with it); ignored files and
//!   directories (`.gitignore`, `info/exclude`, e.g. build output such as `target/`);
//!   the index (staged changes are dropped); `HEAD` (on the step's branch, forced to
//!   the start commit); an unfinished merge, rebase, cherry-pick or revert of the tool
//!   (`MERGE_HEAD`, `rebase-merge/`, ...); a stale `index.lock` of a killed tool.
//! * **Not reset**: permission bits git does not track (only the executable bit is
//!   tracked), ownership, timestamps of unchanged files, extended attributes;
//!   submodule contents (a submodule is an empty directory in a worktree, as after
//!   `git worktree add`); the worktree's own admin files other than `HEAD`, `index`
//!   and operation state (e.g. a `config.worktree`, per-worktree refs such as
//!   `refs/bisect/*`); everything the worktrees share through the repository
//!   (objects, branches and tags, stashes, `config`, `info/exclude`, hooks).
//!
//! # Cost per step, and the change feed
//!
//! On Linux each pooled worktree is watched with inotify ([`ChangeTracker`]): the
//! kernel reports every path the tool and tests create, modify, delete, rename or
//! chmod. Staging then examines only those paths and builds the step's tree by updating
//! the start tree at them; the next reset checks out only those paths plus the paths
//! that differ between the two start commits (found by comparing tree ids, skipping
//! equal subtrees), and verifies the result with a status limited to the same paths;
//! merging independent results applies one side's changed paths to the other's tree.
//! So a step costs the size of what it and its predecessor changed, not the size of the
//! repository; what still grows with the tree is reading the index once per step and
//! writing it once (a checksum over ~100 bytes per tracked file).
//!
//! Whenever the tracker cannot vouch for its list it falls back to walking the
//! worktree (one stat pass per staging and per reset), which gives the same result:
//! no inotify (not Linux), `PIPELINE_CHANGE_FEED=0`, the kernel's event queue
//! overflowed or a watch could not be added (`fs.inotify.max_queued_events`,
//! `max_user_watches`), the index was changed by someone else (a tool's `git add`,
//! `git commit`, `git reset`; a mere stat refresh by `git status` is fine), a tracked
//! file became a directory or the reverse, a worktree left by an earlier process, or a
//! limited reset that left any difference. Writes through a shared memory mapping that
//! are never followed by a `close` are not reported by inotify.

mod blocking;
mod branch;
mod change_feed;
mod changes;
mod commit;
mod commit_diff;
mod durable_writes;
mod git_error;
mod merge;
mod repository;
mod result_containment;
mod signature;
mod staging;
mod tree_diff;
mod uncommitted;
mod worktree;
mod worktree_add;
mod worktree_admin;
mod worktree_pool;
mod worktree_removal;
mod worktree_reset;
mod worktree_tracking;

#[cfg(test)]
mod tests;

pub(crate) use blocking::blocking;
pub use change_feed::CHANGE_FEED_ENV;
pub use changes::{
    ChangeKind, ChangedPath, StagedChanges, changed_paths, stage_changes, stage_worktree_changes,
};
pub use commit::{commit_staged, commit_worktree};
pub use commit_diff::{ConflictingPath, StepChange};
pub use durable_writes::{durable_writes, set_durable_writes};
pub use git_error::GitError;
pub use repository::{CommitCheck, Repository};
pub use result_containment::{EscapingLink, LinkEscape};
pub use uncommitted::{snapshot_uncommitted, uncommitted_paths};
pub use worktree::Worktree;
pub use worktree_pool::WorktreePool;
pub use worktree_removal::{remove_run_worktrees, run_worktree_root};
pub use worktree_tracking::ChangeTracker;
