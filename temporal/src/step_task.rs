//! What the workflow sends to the activities and gets back: the contract between the
//! `pipeline-run` workflow and the workers' `run_step` / `merge_results` activities.

use serde::{Deserialize, Serialize};

/// One step to run on a worker (input of `run_step`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepTask {
    /// The run id.
    pub run_id: String,
    /// The step id, `ws/step`.
    pub step: String,
    /// The commit root steps start from (fetched from `refs/pipeline-base/<run>`).
    pub base_commit: String,
    /// Ids of the step's dependencies: their results are fetched from
    /// `pipeline-steps/<run>/<dep>` and merged onto the base.
    pub dependencies: Vec<String>,
    /// The dependencies' result commits as the workflow recorded them (sorted): the
    /// worker checks that the refs it fetched still point there.
    pub inputs: Vec<String>,
    /// Workstream files relative to the repository root.
    pub workstream_files: Vec<String>,
    /// How often this step was started before on a worker that was lost (0 the first
    /// time): shown in the worker's log, and part of the activity id.
    pub worker_losses: u32,
}

/// How a step ended on its worker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "outcome")]
pub enum StepOutcome {
    /// The result commit is pushed to `pipeline-steps/<run>/<step>`.
    Completed {
        /// The result commit (hex).
        commit: String,
        /// The worker's identity (`pid@host`).
        worker: String,
    },
    /// The step failed for good (the error engine in `pipeline step exec` gave up, or the
    /// step could not be prepared); its dependents are skipped.
    Failed {
        /// Why, with the last lines of the step's output.
        error: String,
        /// The worker's identity.
        worker: String,
    },
}

/// The final merge (input of `merge_results`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MergeTask {
    /// The run id; the result goes to `pipeline/<run>` on the remote.
    pub run_id: String,
    /// Result commits to merge, sorted (see `DagSchedule::result_heads`).
    pub heads: Vec<String>,
}

/// What the final merge produced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "outcome")]
pub enum MergeOutcome {
    /// `pipeline/<run>` points at `commit` on the remote.
    Pushed {
        /// The result commit (hex).
        commit: String,
    },
    /// The results conflict or could not be merged or pushed.
    Failed {
        /// Why (conflicting paths, git's message).
        error: String,
    },
}
