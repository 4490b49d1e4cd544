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
    /// `synchronous=FULL`: every commit is fsynced and survives a power loss too.
    /// Costs one fsync per transaction (about four per step).
    Full,
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
