//! Options of `pipeline run` and `pipeline resume`.

use std::path::PathBuf;
use std::time::Duration;

use crate::state::Durability;

/// What to do when the workstreams given to `run` have an unfinished run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnfinishedPolicy {
    /// Refuse with [`EngineError::UnfinishedRun`](super::EngineError::UnfinishedRun).
    Refuse,
    Resume,
    New,
}

/// Options of a run. `Default` gives the CLI's defaults.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Repository to run in; `None` discovers it from the current directory.
    pub repo: Option<PathBuf>,
    /// State database; `None` uses `<repo>/.pipeline/state.db`.
    pub db: Option<PathBuf>,
    /// Steps running at once, at least 1.
    pub jobs: usize,
    /// Commit the run starts from (`--base`); `None` is `HEAD`.
    pub base: Option<String>,
    /// Run id (`--run-id`); `None` generates one.
    pub run_id: Option<String>,
    /// Plan and check only: no state, no worktrees, no tools.
    pub dry_run: bool,
    pub unfinished: UnfinishedPolicy,
    pub durability: Durability,
    /// Timeout of an acceptance test without its own `timeout_sec`.
    pub acceptance_timeout: Duration,
    /// Bytes of tool output kept per attempt log.
    pub max_log_bytes: u64,
    /// Time between SIGTERM and SIGKILL when a tool is stopped.
    pub kill_grace: Duration,
    /// `--include-uncommitted`: a new run starts from a commit of the working tree's
    /// uncommitted changes on top of `HEAD` (see
    /// [`snapshot_uncommitted`](crate::git::snapshot_uncommitted)) instead of `base`.
    pub include_uncommitted: bool,
    /// Whether steps run under the write sandbox where the machine has one (`--sandbox`,
    /// default on); a step's or tool profile's `sandbox: none` turns it off for that
    /// step alone.
    pub sandbox: bool,
    /// `--approve-all`: a step that requires approval is approved as soon as its result
    /// is committed (journalled `step_approved` with `auto: true`, `by: "--approve-all"`),
    /// also one that was awaiting approval when the run is resumed.
    pub approve_all: bool,
    /// `--no-cache`: no step is satisfied from an earlier run's result (docs/CACHE.md);
    /// completed steps still write their cache entries.
    pub no_cache: bool,
    /// `--budget-usd` / `--budget-tokens`: once the run's attempts spent this, AI steps
    /// not started yet are skipped (docs/COSTS.md "Budgets"); `None` for no limit.
    pub budget: Option<crate::model::Budget>,
    /// `--verify-cached`: a step satisfied from the cache runs its acceptance tests on the
    /// re-applied result; a failing test makes it a miss and the step runs (docs/CACHE.md).
    pub verify_cached: bool,
    /// `--keep-candidates`: the branches of discarded candidates of best-of-N steps stay
    /// when the run ends (by default only the kept candidates' do; docs/CANDIDATES.md).
    pub keep_candidates: bool,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            repo: None,
            db: None,
            jobs: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2),
            base: None,
            run_id: None,
            dry_run: false,
            unfinished: UnfinishedPolicy::Refuse,
            durability: Durability::Normal,
            acceptance_timeout: Duration::from_secs(600),
            max_log_bytes: 64 * 1024 * 1024,
            kill_grace: Duration::from_secs(5),
            include_uncommitted: false,
            sandbox: true,
            approve_all: false,
            no_cache: false,
            budget: None,
            verify_cached: false,
            keep_candidates: false,
        }
    }
}
