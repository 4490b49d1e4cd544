//! The one error type of the git module.
//!
//! Every variant names what the user needs to act: the path of the repository or
//! worktree, the revision, branch or step path involved, and, where there is one, what
//! to do. Messages of the underlying libgit2 or I/O error are part of the `Display`
//! text (field `cause`, also its `#[source]` for error-chain readers), so printing an error
//! once tells the whole story.

use std::path::{Path, PathBuf};

/// Errors of repository, worktree, merge and commit operations.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    /// No git repository contains `path` (discovery walks up from it).
    #[error(
        "{} is not inside a git repository: run `git init` there and make an initial commit, \
         or run pipeline from inside an existing repository ({cause})",
        path.display()
    )]
    NotARepository {
        /// The path the search started from.
        path: PathBuf,
        /// What libgit2 reported.
        #[source]
        cause: git2::Error,
    },

    /// The repository has no working tree, so steps cannot get worktrees from it.
    #[error(
        "{} is a bare repository: pipeline needs a working tree; clone it \
         (`git clone {} <dir>`) and run pipeline in the clone",
        path.display(),
        path.display()
    )]
    BareRepository {
        /// The repository's git directory.
        path: PathBuf,
    },

    /// The repository has no commit yet, so there is no base commit for a run.
    #[error(
        "repository {} has no commits yet: make an initial commit first \
         (e.g. `git commit --allow-empty -m 'initial commit'`)",
        path.display()
    )]
    NoCommits {
        /// The repository's working directory.
        path: PathBuf,
    },

    /// A revision (`HEAD`, a branch, a hex commit id) does not resolve.
    #[error(
        "revision `{rev}` was not found in repository {}: check the branch name or \
         commit id ({cause})",
        path.display()
    )]
    UnknownRevision {
        /// The revision as given.
        rev: String,
        /// The repository's working directory.
        path: PathBuf,
        /// What libgit2 reported.
        #[source]
        cause: git2::Error,
    },

    /// A revision resolves to an object that is not a commit (a blob, or a tag of one).
    #[error("revision `{rev}` in repository {} names a {kind}, not a commit", path.display())]
    NotACommit {
        /// The revision as given.
        rev: String,
        /// The repository's working directory.
        path: PathBuf,
        /// The kind of object found (`blob`, `tree`, ...).
        kind: String,
    },

    /// Merging the result commits of a step's dependencies conflicts.
    #[error(
        "merge conflict in {}: the dependencies changed the same lines; make the steps touch \
         different files, or make one depend on the other",
        paths.join(", ")
    )]
    MergeConflict {
        /// Repository-relative paths with `/` separators, sorted and unique.
        paths: Vec<String>,
    },

    /// `merge_commits` was given no commit at all.
    #[error("no commits to merge: a step's start commit needs at least one commit")]
    NothingToMerge,

    /// A branch name that git refuses (`refs/heads/<name>` is not a valid reference).
    #[error("`{name}` is not a valid git branch name")]
    InvalidBranchName {
        /// The name as given.
        name: String,
    },

    /// A run id that cannot name a directory under `.pipeline/worktrees/`.
    #[error(
        "run id `{run_id}` cannot name a worktree directory: it must be one non-empty path \
         component that does not start with `.`"
    )]
    InvalidRunId {
        /// The run id as given.
        run_id: String,
    },

    /// A step path that cannot name a directory below the run's worktree root.
    #[error("step path `{step_path}` cannot name a worktree directory: {reason}")]
    InvalidStepPath {
        /// The step path as given (e.g. `ws-a/step-1`).
        step_path: String,
        /// Which rule it breaks.
        reason: &'static str,
    },

    /// The step's worktree would contain another worktree, or lie inside one.
    #[error(
        "the worktree of step `{step_path}` would nest with the worktree at {}: step \
         worktrees cannot contain one another; give the steps paths that are not prefixes \
         of each other",
        other.display()
    )]
    NestedStepPath {
        /// The step path being acquired.
        step_path: String,
        /// The worktree it would nest with.
        other: PathBuf,
    },

    /// The branch is the checked-out branch of another worktree, so it cannot be moved.
    #[error(
        "branch `{branch}` is checked out in the worktree at {}: switch that worktree to \
         another branch or remove it (`git worktree remove`) first",
        path.display()
    )]
    BranchCheckedOut {
        /// The branch name.
        branch: String,
        /// The worktree that has it checked out.
        path: PathBuf,
    },

    /// A worktree whose `HEAD` is not a branch cannot receive a step's commit.
    #[error(
        "worktree {} is not on a branch (detached HEAD): the step's result commit needs a \
         branch; check out the step's branch there",
        path.display()
    )]
    DetachedHead {
        /// The worktree.
        path: PathBuf,
    },

    /// A worktree handed to a pool is not one of its worktrees.
    #[error("worktree {} does not belong to the worktree pool at {}", path.display(), root.display())]
    ForeignWorktree {
        /// The worktree's path.
        path: PathBuf,
        /// The pool's root directory.
        root: PathBuf,
    },

    /// A file-system operation failed.
    #[error("cannot {action} {}: {cause}", path.display())]
    Io {
        /// What was being done, as a verb phrase (`create directory`, `rename`, ...).
        action: String,
        /// The path it was done to.
        path: PathBuf,
        /// The I/O error.
        #[source]
        cause: std::io::Error,
    },

    /// A libgit2 operation failed.
    #[error("git could not {action} in {}: {cause}", path.display())]
    Git {
        /// What was being done, as a verb phrase (`read HEAD`, `check out commit ...`).
        action: String,
        /// The repository or worktree it was done in.
        path: PathBuf,
        /// What libgit2 reported.
        #[source]
        cause: git2::Error,
    },
}

impl GitError {
    /// Wraps a libgit2 error: `.map_err(GitError::git("read HEAD", path))`.
    pub(crate) fn git(
        action: impl Into<String>,
        path: &Path,
    ) -> impl FnOnce(git2::Error) -> GitError {
        let action = action.into();
        let path = path.to_path_buf();
        move |cause| GitError::Git {
            action,
            path,
            cause,
        }
    }

    /// Wraps an I/O error: `.map_err(GitError::io("rename", path))`.
    pub(crate) fn io(
        action: impl Into<String>,
        path: &Path,
    ) -> impl FnOnce(std::io::Error) -> GitError {
        let action = action.into();
        let path = path.to_path_buf();
        move |cause| GitError::Io {
            action,
            path,
            cause,
        }
    }
}
