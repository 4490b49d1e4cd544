//! What the engine hands to the state store when it starts a run: the run's identity
//! and the steps of its plan.

/// A run about to start; recorded by [`StateStore::create_run`](super::StateStore::create_run).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRun {
    /// Unique id of the run (also names its lock file, branches and log directory).
    pub run_id: String,
    /// Canonical path of the workstream file or directory given to `pipeline run`.
    pub workstream_path: String,
    /// Path of the git repository the run works in.
    pub repo_path: String,
    /// Hex id of the commit the root steps start from.
    pub base_commit: String,
    /// Branch that receives the run's result, e.g. `pipeline/<run_id>`.
    pub result_branch: String,
    /// Maximum number of steps running at once (`--jobs`).
    pub jobs: u32,
    /// Hash of the whole plan, to tell whether a resumed run's plan changed.
    pub plan_hash: String,
    /// The plan's steps, in plan order; all start `pending`.
    pub steps: Vec<NewStep>,
}

/// One step of a new run, or a step added to a run on resume.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewStep {
    /// `"ws"` for a workstream without steps, `"ws/step"` otherwise; unique in the run.
    pub step_id: String,
    /// Id of the workstream the step belongs to.
    pub workstream_id: String,
    /// Hash of the step's definition and inputs; a checkpoint is valid only for it.
    pub definition_hash: String,
    /// Step ids this step waits for.
    pub depends_on: Vec<String>,
}
