//! `pipeline mcp`: the Model Context Protocol over stdio (docs/API.md).

use crate::cli::RepoArgs;
use crate::command_error::CommandError;

/// `pipeline mcp [--repo DIR] [--db PATH]`.
pub fn mcp(repo: &RepoArgs) -> Result<i32, CommandError> {
    let _ = repo;
    Err(CommandError::internal(
        "the MCP server is not built yet (issue #12)",
    ))
}
