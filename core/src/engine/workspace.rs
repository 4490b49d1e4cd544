//! Where a repository keeps pipeline's files: `<repo>/.pipeline/` holds the state database
//! (`state.db`), run locks (`locks/`), attempt logs (`logs/<run>/<step>/<attempt>.log`) and
//! step worktrees (`worktrees/<run>/<step>`). The directory is added to the repository's
//! `info/exclude` so it never shows up as untracked.

use std::path::{Path, PathBuf};

/// Paths of one repository's pipeline directory.
#[derive(Debug, Clone)]
pub struct Workspace {
    /// Root of the repository's working directory.
    pub repo_root: PathBuf,
    /// `<repo>/.pipeline`.
    pub state_dir: PathBuf,
    /// The state database: `--db`, else `<repo>/.pipeline/state.db`.
    pub db_path: PathBuf,
}

impl Workspace {
    /// Paths for `repo_root`, with the database at `db` when given.
    pub fn new(repo_root: &Path, db: Option<&Path>) -> Workspace {
        let state_dir = repo_root.join(".pipeline");
        Workspace {
            db_path: db
                .map(Path::to_path_buf)
                .unwrap_or_else(|| state_dir.join("state.db")),
            repo_root: repo_root.to_path_buf(),
            state_dir,
        }
    }

    /// Directory of run lock files.
    pub fn locks_dir(&self) -> PathBuf {
        self.state_dir.join("locks")
    }

    /// Logs of one run.
    pub fn run_logs_dir(&self, run_id: &str) -> PathBuf {
        self.state_dir.join("logs").join(run_id)
    }

    /// Temporary directories of one run's sandboxed steps (`<run tmp>/<step>` is a step's
    /// `TMPDIR`); removed when the run is over or cleaned.
    pub fn run_tmp_dir(&self, run_id: &str) -> PathBuf {
        self.state_dir.join("tmp").join(run_id)
    }

    /// Logs of one step: the prompt and one log per attempt.
    pub fn step_logs_dir(&self, run_id: &str, step_id: &str) -> PathBuf {
        self.run_logs_dir(run_id).join(step_id)
    }

    /// The tool's output for one attempt (1-based).
    pub fn attempt_log(&self, run_id: &str, step_id: &str, attempt: u32) -> PathBuf {
        self.step_logs_dir(run_id, step_id)
            .join(format!("{attempt}.log"))
    }

    /// The output of acceptance test `index` (1-based) of one attempt.
    pub fn test_log(&self, run_id: &str, step_id: &str, attempt: u32, index: usize) -> PathBuf {
        self.step_logs_dir(run_id, step_id)
            .join(format!("{attempt}.test-{index}.log"))
    }

    /// Worktrees of one run.
    pub fn run_worktrees_dir(&self, run_id: &str) -> PathBuf {
        self.state_dir.join("worktrees").join(run_id)
    }
}
