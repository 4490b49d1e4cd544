//! `pipeline step exec`: one step of a workstream in the current checkout, the command
//! each job of an exported GitHub Actions workflow runs (docs/CI.md "Export to GitHub
//! Actions"). The work is `pipeline_core::engine::exec_step`; this module turns the
//! arguments into its request and drives it like `run` (signals, progress, JUnit, CI
//! reports, exit codes).

use std::time::Duration;

use pipeline_core::engine::{EngineError, RunOptions, StepExec, exec_step, step_result_branch};

use super::exit;
use super::run::{drive, note};
use crate::cli::{SandboxMode, StepExecArgs};

/// Runs the step; the exit code is the one-step run's (0 completed, 1 failed, 2 invalid
/// input, 3 internal error, 129/130/143 stopped by a signal). With a push, a completed
/// step's note on stderr names the branch it was pushed to.
pub fn step_exec(args: StepExecArgs, paths: Vec<std::path::PathBuf>) -> Result<i32, EngineError> {
    let options = RunOptions {
        repo: args.repo.repo.clone(),
        db: args.repo.db.clone(),
        run_id: args.run.clone(),
        acceptance_timeout: Duration::from_secs(args.test_timeout.max(1)),
        sandbox: args.sandbox == SandboxMode::On,
        no_cache: args.no_cache,
        approve_all: args.approve_all,
        ..RunOptions::default()
    };
    // Generated here when not given, so the note below can name the pushed branch.
    let run_id = args
        .run
        .clone()
        .unwrap_or_else(pipeline_core::engine::generate_run_id);
    let exec = StepExec {
        paths,
        step: args.step.clone(),
        from: args.from.clone(),
        remote: args.remote.clone(),
        push: !args.no_push,
    };
    let mut options = options;
    options.run_id = Some(run_id.clone());
    let code = drive(&args.repo, &args.report, move |rep, cancel| {
        Box::pin(async move { exec_step(exec, options, rep, cancel).await })
    })?;
    if code == exit::OK && !args.report.json {
        let branch = step_result_branch(&run_id, &args.step);
        if args.no_push {
            note(&format!(
                "step result on the local branch {branch} (not pushed)"
            ));
        } else {
            note(&format!(
                "step result pushed to {branch} on remote `{}`",
                args.remote
            ));
        }
    }
    Ok(code)
}
