//! `pipeline webhooks`: webhook and notify deliveries with status, attempts, last error.

use crate::cli::RepoArgs;
use crate::command_error::CommandError;

/// `pipeline webhooks [--run RUN] [--json]`.
pub fn webhooks(run: Option<&str>, json: bool, repo: &RepoArgs) -> Result<i32, CommandError> {
    let _ = (run, json, repo);
    Err(CommandError::internal(
        "webhooks are not built yet (issue #12)",
    ))
}
