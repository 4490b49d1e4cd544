//! How hard the state store, and git, push each write to disk.
//!
//! In WAL mode SQLite never corrupts the database on a crash; the choice is only how
//! much of the newest history a power loss may drop (SQLite "PRAGMA synchronous").
//! Under [`Durability::Full`] git's writes are fsynced too
//! ([`Durability::fsyncs_git`]), so a step recorded completed never names a commit that
//! a power loss took away. docs/SECURITY.md "Durability" states what each level
//! promises against a process crash, an OS crash and a power loss.

use serde::{Deserialize, Serialize};

/// Durability of committed transactions; maps to `PRAGMA synchronous`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Durability {
    /// `synchronous=NORMAL`: a commit survives a crash or `kill -9` of the process; a power
    /// loss or OS crash may drop the last transactions but never corrupts the database.
    /// Fast: no fsync per commit (the WAL is synced at checkpoints).
    #[default]
    Normal,
    /// `synchronous=FULL`: a commit is fsynced and survives a power loss too, except
    /// those recorded [`Flush::WithNextWrite`], which become durable with the next fsynced
    /// commit (the WAL is written in order): the engine uses that for a step's completion,
    /// whose effects (dependents starting from its result, the run's end) are each
    /// recorded by a later, fsynced commit. A power loss in between makes resume run the
    /// step again; nothing built on it was ever started. About one fsync per step for
    /// SQLite; git's objects, refs and index files are fsynced as they are written (a
    /// few per step, see [`Durability::fsyncs_git`]).
    Full,
}

/// When a recorded change must be on disk, under [`Durability::Full`] (under
/// [`Durability::Normal`] no commit is fsynced and both are the same).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flush {
    /// Fsynced before `record` returns.
    Now,
    /// Fsynced with the next [`Flush::Now`] commit (or at a WAL checkpoint): for changes
    /// whose effects are only observable through a later recorded change.
    WithNextWrite,
}

impl Durability {
    /// The value given to `PRAGMA synchronous`.
    pub fn synchronous_pragma(self) -> &'static str {
        match self {
            Durability::Normal => "NORMAL",
            Durability::Full => "FULL",
        }
    }

    /// Whether git's writes (objects, refs, index files, and the directories holding new
    /// ones) are fsynced: only under [`Durability::Full`], where the engine turns on
    /// libgit2's process-wide `GIT_OPT_ENABLE_FSYNC_GITDIR` when the run starts
    /// (`crate::git::set_durable_writes`). Under [`Durability::Normal`] git writes go to
    /// the page cache only: they survive a process crash, not an OS crash.
    pub fn fsyncs_git(self) -> bool {
        self == Durability::Full
    }
}
