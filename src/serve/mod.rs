//! `pipeline serve`: the REST API, server-sent events of the journal, approvals and
//! webhook delivery (docs/API.md).

use crate::cli::ServeArgs;
use crate::command_error::CommandError;

/// `pipeline serve [--repo DIR] [--bind ADDR:PORT] [--token-file FILE]`.
pub fn serve(args: ServeArgs) -> Result<i32, CommandError> {
    let _ = args;
    Err(CommandError::internal(
        "the server is not built yet (issue #12)",
    ))
}
