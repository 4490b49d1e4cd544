//! A checkpoint: what resume needs to keep a completed step instead of re-running it.
//!
//! DESIGN.md "State and resume": a checkpoint is the step's result commit plus its
//! definition hash and outputs. Resume keeps the step only while its definition hash and
//! its input commits still match and the commit still exists.

use serde::{Deserialize, Serialize};

use super::{TestResult, Usage};

/// The recorded result of a completed step (table `checkpoints`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Hex id of the step's result commit (on branch `pipeline-steps/<run>/<step>`).
    pub commit: String,
    /// Hash of the step definition the commit was produced from.
    pub definition_hash: String,
    /// What else resume, reports and dependents need of the step.
    pub outputs: CheckpointOutputs,
}

/// The outputs of a completed step, stored as JSON in `checkpoints.outputs`.
///
/// Versioned: [`CheckpointOutputs::VERSION`] is written with every checkpoint. Outputs
/// written before the field existed read as version 0 with the same fields; outputs that
/// do not parse at all make the checkpoint unusable, so the step runs again (never an
/// error).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CheckpointOutputs {
    /// Format version of these outputs.
    #[serde(default)]
    pub version: u32,
    /// Hex input commits the step started from (its dependencies' results, sorted; the
    /// run's base commit for a root). Resume keeps the step only for the same inputs.
    pub inputs: Vec<String>,
    /// Hex commit the step's worktree started at (the merge of `inputs`).
    pub start_commit: String,
    /// Paths the step changed, relative to the repository root.
    #[serde(default)]
    pub changed: Vec<String>,
    /// The acceptance tests of the completing attempt.
    #[serde(default)]
    pub tests: Vec<TestResult>,
    /// The completing attempt.
    pub attempt: u32,
    /// The tool profile that produced it (`shell` for a command; `None` for a
    /// workstream's acceptance gate).
    #[serde(default)]
    pub tool: Option<String>,
    /// Tokens and cost the tool reported.
    #[serde(default)]
    pub usage: Option<Usage>,
}

impl CheckpointOutputs {
    /// The version this binary writes.
    pub const VERSION: u32 = 1;
}
