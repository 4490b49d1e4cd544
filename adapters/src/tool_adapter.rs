//! The interface every tool driver implements.
//!
//! The engine does not know how Aider, Codex or a shell command want to be called; it
//! builds an [`Invocation`] and asks the step's adapter to run it. Every adapter runs
//! its tool through [`pipeline_process::run_process`], so timeouts, cancellation, process-group
//! cleanup and attempt logs behave the same for every tool.

use std::future::Future;
use std::pin::Pin;

use pipeline_process::LineCallback;
use tokio_util::sync::CancellationToken;

use crate::adapter_error::AdapterError;
use crate::invocation::{Invocation, ToolOutcome};

/// A driver for one tool profile.
///
/// The trait returns a boxed future (rather than being an `async fn` trait) so that it
/// stays object-safe: the registry hands out `Arc<dyn ToolAdapter>`.
pub trait ToolAdapter: Send + Sync {
    /// The profile name this adapter runs (`aider`, `shell`, ...), for logs and circuit
    /// breakers.
    fn tool_name(&self) -> &str;

    /// Runs one attempt in `inv.worktree`, streaming output lines to `on_line` and
    /// stopping the tool's process group when `cancel` fires.
    ///
    /// A tool that runs and fails is `Ok` with `success == false`; `Err` means the tool
    /// could not be run or supervised (see [`AdapterError`]).
    fn invoke<'a>(
        &'a self,
        inv: &'a Invocation,
        on_line: Option<LineCallback>,
        cancel: CancellationToken,
    ) -> Pin<Box<dyn Future<Output = Result<ToolOutcome, AdapterError>> + Send + 'a>>;
}
