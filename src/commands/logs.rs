//! `pipeline logs RUN STEP [--attempt N]`: the tool's output, then each acceptance test's.

use std::io::Write;

use pipeline_core::engine::step_logs;

use super::exit;
use crate::cli::RepoArgs;
use crate::command_error::CommandError;

/// `pipeline logs RUN STEP`: the log files of a step's attempt (default: its last), or
/// their paths with `paths_only`. Errors: from the engine (unknown run, step or attempt).
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
        let _ = writeln!(out, "==> {} <==", f.display());
        match std::fs::File::open(f) {
            // Logs are bounded by the supervisor, but stream them anyway.
            Ok(mut file) => {
                let _ = std::io::copy(&mut file, &mut out);
            }
            Err(e) => {
                let _ = writeln!(out, "(cannot read: {e})");
            }
        }
        let _ = writeln!(out);
    }
    Ok(exit::OK)
}
