//! How hard the state store pushes each transaction to disk.
//!
//! In WAL mode SQLite never corrupts the database on a crash; the choice is only how
//! much of the newest history a power loss may drop (SQLite "PRAGMA synchronous").

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
    /// step again; nothing built on it was ever started. About one fsync per step.
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
}
