//! `pipeline worker`: a Temporal worker running steps in this clone (docs/TEMPORAL.md).
//!
//! The cluster, namespace, task queue, remote, TLS and API key come from the flags, else
//! from the clone's `.pipeline/config.yaml` (`temporal:`; see `temporal_target`).
//!
//! SIGINT or SIGTERM starts a graceful shutdown (no new tasks; running steps finish).
//! Exit codes: 0 after a shutdown, 2 for bad options or an unreachable server, 3 when
//! the worker fails.

use pipeline_temporal::{WorkerConfig, run_worker};
use tokio::signal::unix::{SignalKind, signal};

use super::exit;
use super::temporal_target::resolve;
use crate::cli::WorkerArgs;
use crate::command_error::CommandError;

pub fn worker(args: WorkerArgs) -> Result<i32, CommandError> {
    let Some(target) = resolve(&args.connect, args.remote.as_deref(), args.repo.as_deref())? else {
        return Err(CommandError::invalid(
            "pipeline worker needs the server's address: pass --temporal HOST:PORT, set \
             PIPELINE_TEMPORAL_ADDRESS, or set temporal.address in the clone's \
             .pipeline/config.yaml",
        ));
    };
    let repo = match args.repo {
        Some(r) => r,
        None => pipeline_core::engine::current_dir()?,
    };
    let pipeline_bin = std::env::current_exe()
        .map_err(|e| CommandError::internal(format!("cannot find the pipeline executable: {e}")))?;
    let tools = installed_tools(&repo)?;
    let config = WorkerConfig {
        connection: target.connection,
        task_queue: target.task_queue,
        repo,
        remote: target.remote,
        jobs: args.jobs as usize,
        capabilities: args.capabilities,
        tools,
        hidden_env: target.api_key_env.into_iter().collect(),
        pipeline_bin,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CommandError::internal(format!("cannot start the async runtime: {e}")))?;
    runtime.block_on(async move {
        let mut term = signal(SignalKind::terminate())
            .map_err(|e| CommandError::internal(format!("cannot watch SIGTERM: {e}")))?;
        let shutdown = async move {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        };
        run_worker(config, shutdown)
            .await
            .map(|()| exit::OK)
            .map_err(|e| CommandError::with_code(e.exit_code(), e))
    })
}

/// The tool profiles of the clone at `repo` (built-in and `.pipeline/config.yaml`) whose
/// command is installed on this machine, as `pipeline tools` reports them: the worker
/// polls their task queues. Errors: a bad configuration file (exit 2).
fn installed_tools(repo: &std::path::Path) -> Result<Vec<String>, CommandError> {
    let (_, _, registry) = pipeline_core::engine::open_repository(Some(repo), None)?;
    Ok(registry
        .names()
        .into_iter()
        // A step's own command (`shell`) runs on every worker, from the main queue.
        .filter(|name| *name != pipeline_adapters::SHELL_TOOL)
        .filter(|name| {
            let probe = registry.probe(name);
            probe.found.is_some() && probe.error.is_none()
        })
        .map(str::to_string)
        .collect())
}
