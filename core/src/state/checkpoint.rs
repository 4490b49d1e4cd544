//! A checkpoint: what resume needs to keep a completed step instead of re-running it.
//!
//! DESIGN.md "State and resume": a checkpoint is the step's result commit plus its
//! definition hash and outputs. Resume keeps the step only while its definition hash
//! still matches.

use serde::{Deserialize, Serialize};

/// The recorded result of a completed step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Hex id of the step's result commit (on branch `pipeline/<run>/<step>`).
    pub commit: String,
    /// Hash of the step definition and inputs the commit was produced from.
    pub definition_hash: String,
    /// Outputs the step exposes to its dependents (any JSON; `null` when none).
    pub outputs: serde_json::Value,
}
