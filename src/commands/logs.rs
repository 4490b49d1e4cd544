//! `pipeline logs RUN STEP [--attempt N]`: the tool's output, then each acceptance test's.

use std::io::Write;

use pipeline_core::engine::step_logs;

use super::exit;
use crate::cli::RepoArgs;
use crate::command_error::CommandError;

/// `pipeline logs RUN STEP`: the log files of a step's attempt (default: its last), or
/// their paths with `paths_only`. `RUN` may be `latest`. Errors (exit 2): an unknown run,
/// an unknown step (naming the closest and listing the run's steps), an attempt the step
/// does not have, logs removed by `pipeline clean` (naming the directory); a log that
/// cannot be read while printed (exit 3).
pub fn logs(
    run: &str,
    step: &str,
    attempt: Option<u32>,
    paths_only: bool,
    repo: &RepoArgs,
) -> Result<i32, CommandError> {
    let logs = step_logs(repo.repo.as_deref(), repo.db.as_deref(), run, step, attempt)?;
    let files: Vec<_> = std::iter::once(&logs.tool_log)
        .chain(logs.test_logs.iter())
        .collect();
    if paths_only {
        for f in files {
            println!("{}", f.display());
        }
        return Ok(exit::OK);
    }
    let mut out = std::io::stdout().lock();
    for f in files {
        let mut file = std::fs::File::open(f)
            .map_err(|e| CommandError::internal(format!("cannot read {}: {e}", f.display())))?;
        // A closed stdout (`pipeline logs ... | head`) only ends the output.
        if writeln!(out, "==> {} <==", f.display()).is_err() {
            return Ok(exit::OK);
        }
        // Logs are bounded by the supervisor, but stream them anyway.
        if std::io::copy(&mut file, &mut out).is_err() || writeln!(out).is_err() {
            return Ok(exit::OK);
        }
    }
    Ok(exit::OK)
}
