//! `pipeline mcp`: the Model Context Protocol over stdio, so that coding agents (Claude
//! Code, Codex, any MCP client) can author, check, launch and follow workstreams
//! (docs/MCP.md).
//!
//! Built on the official Rust SDK, `rmcp`: newline-delimited JSON-RPC on stdin/stdout.
//! Nothing but the protocol goes to stdout; diagnostics go to stderr (the tracing
//! subscriber of `main`). The server serves one repository, fixed at start (`--repo`, or
//! the repository containing the current directory), and its state database (`--db`);
//! it works in the repository's top directory, where relative workstream paths start.
//!
//! - Tools ([`tools`]): `validate`, `plan`, `run`, `status`, `logs`, `approve`, `reject`,
//!   each calling what the CLI command calls and answering its JSON document.
//! - Resources ([`resources`]): runs and the OpenSpec project's specs and changes.
//! - Workstream paths from a client must stay inside the repository ([`paths`]).
//! - `run` starts a detached `pipeline run` process that outlives the session
//!   ([`launch`]).
//!
//! Tools run on the blocking thread pool: they read SQLite and git, which block.

mod launch;
mod paths;
mod resources;
mod tools;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use pipeline_core::engine::{EngineError, current_dir};
use pipeline_core::git::Repository;
use rmcp::model::{
    CallToolResult, ContentBlock, Implementation, ListResourceTemplatesResult, ListResourcesResult,
    PaginatedRequestParams, ReadResourceRequestParams, ReadResourceResponse, ReadResourceResult,
    ServerCapabilities, ServerConfig,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler, ServiceExt, tool_handler};

use crate::cli::RepoArgs;
use crate::command_error::CommandError;
use crate::commands::exit;

/// What the server tells a client at `initialize`.
const INSTRUCTIONS: &str = "pipeline runs AI-development workstreams (JSON/YAML files of steps with tools, prompts, acceptance tests and dependencies) as a DAG in parallel git worktrees. Workstream paths are relative to the repository root. Typical use: write a workstream file, `validate` it, look at its `plan`, `run` it (returns a run id at once), poll `status` until completed or failed, read `logs` of failed steps, `approve` or `reject` steps awaiting approval. Resources: pipeline://runs, pipeline://runs/{run}, pipeline://specs, pipeline://changes.";

/// The server: the repository it serves and its tools.
#[derive(Clone)]
pub struct PipelineMcp {
    /// The repository's top directory, canonical.
    root: PathBuf,
    /// The state database given with `--db` (absolute), else the repository's default.
    db: Option<PathBuf>,
    tool_router: rmcp::handler::server::router::tool::ToolRouter<PipelineMcp>,
}

impl PipelineMcp {
    /// A server for the repository at `root` (canonical) and the database `db`.
    fn new(root: PathBuf, db: Option<PathBuf>) -> PipelineMcp {
        PipelineMcp {
            root,
            db,
            tool_router: Self::tool_router(),
        }
    }

    /// `--repo DIR` and `--db PATH` for the command functions this server reuses.
    fn repo_args(&self) -> RepoArgs {
        RepoArgs {
            repo: Some(self.root.clone()),
            db: self.db.clone(),
        }
    }

    /// Runs `work` on the blocking thread pool (tools read SQLite and git, which block).
    async fn blocking(
        &self,
        work: impl FnOnce(&PipelineMcp) -> CallToolResult + Send + 'static,
    ) -> CallToolResult {
        let server = Arc::new(self.clone());
        match tokio::task::spawn_blocking(move || work(&server)).await {
            Ok(result) => result,
            Err(e) => CallToolResult::error(vec![ContentBlock::text(format!(
                "error: the tool stopped unexpectedly: {e}"
            ))]),
        }
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for PipelineMcp {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_resources()
                .build(),
        )
        .with_server_info(Implementation::new("pipeline", env!("CARGO_PKG_VERSION")))
        .with_instructions(INSTRUCTIONS)
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        let server = self.clone();
        let resources = tokio::task::spawn_blocking(move || server.resources())
            .await
            .map_err(|e| ErrorData::internal_error(format!("cannot list resources: {e}"), None))?;
        Ok(ListResourcesResult::with_all_items(resources))
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, ErrorData> {
        Ok(ListResourceTemplatesResult::with_all_items(
            PipelineMcp::resource_templates(),
        ))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        let server = self.clone();
        let uri = request.uri;
        let contents = tokio::task::spawn_blocking(move || server.read(&uri))
            .await
            .map_err(|e| {
                ErrorData::internal_error(format!("cannot read the resource: {e}"), None)
            })??;
        Ok(ReadResourceResult::new(vec![contents]).into())
    }
}

/// `pipeline mcp [--repo DIR] [--db PATH]`: serves MCP on stdin/stdout until the client
/// closes stdin, then exits 0.
///
/// Errors: no git repository at `--repo` or around the current directory (exit 2, before
/// any protocol is spoken); the async runtime or the transport failing (exit 3).
pub fn mcp(repo: &RepoArgs) -> Result<i32, CommandError> {
    let root = repository_root(repo.repo.as_deref())?;
    let db = match &repo.db {
        Some(db) if db.is_relative() => Some(current_dir()?.join(db)),
        other => other.clone(),
    };
    // Relative workstream paths of clients start at the repository root, and the
    // commands this server reuses read relative paths from the current directory.
    std::env::set_current_dir(&root)
        .map_err(|e| CommandError::internal(format!("cannot change to {}: {e}", root.display())))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CommandError::internal(format!("cannot start the async runtime: {e}")))?;
    runtime.block_on(async move {
        tracing::info!("serving MCP on stdio for {}", root.display());
        let service = PipelineMcp::new(root, db)
            .serve(rmcp::transport::stdio())
            .await
            .map_err(|e| CommandError::internal(format!("MCP session failed to start: {e}")))?;
        service
            .waiting()
            .await
            .map_err(|e| CommandError::internal(format!("MCP session failed: {e}")))?;
        Ok(exit::OK)
    })
}

/// The top of the repository at `repo` (default: the one containing the current
/// directory), canonical. Errors: not in a git repository (invalid input, saying to pass
/// `--repo`), a repository that cannot be opened.
fn repository_root(repo: Option<&Path>) -> Result<PathBuf, CommandError> {
    let start = match repo {
        Some(dir) => dir.to_path_buf(),
        None => current_dir()?,
    };
    let repository = Repository::open(&start).map_err(|e| {
        CommandError::invalid(format!(
            "pipeline mcp serves a git repository: {e}; pass --repo DIR (e.g. `claude mcp add pipeline -- pipeline mcp --repo /path/to/repo`)"
        ))
    })?;
    repository
        .workdir()
        .canonicalize()
        .map_err(|e| EngineError::Input(format!("cannot resolve {}: {e}", start.display())).into())
}
