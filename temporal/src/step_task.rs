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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "outcome")]
pub enum StepOutcome {
    /// The result commit is pushed to `pipeline-steps/<run>/<step>`.
    Completed {
        /// The result commit (hex).
        commit: String,
        /// The worker's identity (`pid@host`).
        worker: String,
        /// What the step's own run recorded (absent in histories of older versions).
        #[serde(default)]
        report: StepReport,
    },
    /// The step failed for good (the error engine in `pipeline step exec` gave up, or the
    /// step could not be prepared); its dependents are skipped.
    Failed {
        /// Why, with the last lines of the step's output.
        error: String,
        /// The worker's identity.
        worker: String,
        /// What the step's own run recorded; empty when the step never started (its
        /// checkout could not be prepared).
        #[serde(default)]
        report: StepReport,
    },
}

impl StepOutcome {
    /// The step's report, whichever way it ended.
    pub fn report(&self) -> &StepReport {
        match self {
            StepOutcome::Completed { report, .. } | StepOutcome::Failed { report, .. } => report,
        }
    }
}

/// What `pipeline step exec` recorded of a step in its clone's state database (the run
/// of one step, under the run's id), read by the worker after the step ended: the facts
/// the workflow decides on (circuit breakers, the run's budget, approval gates). Every
/// field is optional or empty by default, so results recorded before a field existed
/// still read.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct StepReport {
    /// The tool profile of the step's last attempt (`shell` for a step's own command),
    /// from its `attempt_started` event.
    pub tool: Option<String>,
    /// Whether that tool is an AI tool (an `aider`, `codex` or `claude` profile, or a
    /// custom profile with capability `code_generation` or `refactoring`), the steps a
    /// run budget stops (docs/COSTS.md "Budgets").
    pub ai: bool,
    /// The error class of the step's failure, as the engine names it (`transient`,
    /// `rate_limited`, `timeout`, `stalled`, `infrastructure`, `permanent`, `conflict`,
    /// `budget_exceeded`, `rejected`; docs/ERRORS.md): the class of its last failed
    /// attempt, or `budget_exceeded` when the step's own budget stopped it. `None` for a
    /// completed step.
    pub error_class: Option<String>,
    /// Attempts the step made (the error engine's retries included).
    pub attempts: u32,
    /// Each attempt in order, with its tool and, for a failed one, its class: what the
    /// cluster-wide circuit breakers count, attempt by attempt, as the local breakers do.
    pub attempt_classes: Vec<AttemptClass>,
    /// Tokens and cost of all the step's attempts.
    pub usage: StepUsage,
    /// Whether the step asked for approval in its run (`approval: required` of the step,
    /// its workstream or its tool profile); the worker's run approved it at once, the
    /// workflow holds the gate.
    pub approval_requested: bool,
    /// Whether the step's log was pushed to `refs/pipeline-logs/<run>/<step>`
    /// (`crate::run_plan::log_ref`).
    pub log_pushed: bool,
}

/// One attempt of a step in a [`StepReport`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AttemptClass {
    /// Attempt number, 1-based.
    pub attempt: u32,
    /// Its tool profile (`shell` for a step's own command), when journalled.
    pub tool: Option<String>,
    /// `None` when it succeeded, else its error class (see [`StepReport::error_class`]).
    pub class: Option<String>,
}

/// Tokens and US dollars a step's attempts spent, as its journal's `attempt_finished`
/// events reported them (docs/COSTS.md): the sum over the attempts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct StepUsage {
    /// Input tokens, cached ones included.
    pub input_tokens: u64,
    /// Output tokens.
    pub output_tokens: u64,
    /// US dollars of the attempts whose cost is known; `None` when none is.
    pub cost_usd: Option<f64>,
    /// Whether part of `cost_usd` is estimated from the price table.
    pub estimated: bool,
}

impl StepUsage {
    /// Input plus output tokens.
    pub fn tokens(&self) -> u64 {
        self.input_tokens + self.output_tokens
    }

    /// Adds `other`.
    pub fn add(&mut self, other: &StepUsage) {
        self.input_tokens += other.input_tokens;
        self.output_tokens += other.output_tokens;
        if let Some(cost) = other.cost_usd {
            self.cost_usd = Some(self.cost_usd.unwrap_or(0.0) + cost);
        }
        self.estimated |= other.estimated;
    }
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
