//! The interface every tool driver implements.
//!
//! The engine does not know how Aider, Codex or a shell command want to be called; it
//! builds an [`Invocation`] and asks the step's adapter to run it. Every adapter runs
//! its tool through [`pipeline_process::run_process`], so timeouts, cancellation, process-group
//! cleanup and attempt logs behave the same for every tool.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use pipeline_process::LineCallback;
use tokio_util::sync::CancellationToken;

use crate::adapter_error::AdapterError;
use crate::invocation::{Invocation, ToolOutcome};
use crate::tool_profile::ToolProfile;

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

/// What each driver (Aider, Codex, Claude Code, custom) implements: its name and one
/// attempt as an `async fn`. The blanket implementation of [`ToolAdapter`] below boxes
/// the future once for all of them.
pub(crate) trait ToolDriver: Send + Sync {
    /// As [`ToolAdapter::tool_name`].
    fn tool_name(&self) -> &str;

    /// As [`ToolAdapter::invoke`].
    fn run(
        &self,
        inv: &Invocation,
        on_line: Option<LineCallback>,
        cancel: CancellationToken,
    ) -> impl Future<Output = Result<ToolOutcome, AdapterError>> + Send;
}

impl<D: ToolDriver> ToolAdapter for D {
    fn tool_name(&self) -> &str {
        ToolDriver::tool_name(self)
    }

    fn invoke<'a>(
        &'a self,
        inv: &'a Invocation,
        on_line: Option<LineCallback>,
        cancel: CancellationToken,
    ) -> Pin<Box<dyn Future<Output = Result<ToolOutcome, AdapterError>> + Send + 'a>> {
        Box::pin(self.run(inv, on_line, cancel))
    }
}

/// The adapter of profile `name` as the registry hands it out, from a driver's
/// constructor result.
///
/// # Errors
/// [`AdapterError::AdapterUnavailable`] when the driver rejected the profile (its `args`
/// do not compile); the registry compiles every profile's `args` when it loads, so this
/// only guards against a profile built some other way.
pub(crate) fn shared_adapter<D: ToolDriver + 'static, E>(
    name: &str,
    profile: &ToolProfile,
    built: Result<D, E>,
) -> Result<Arc<dyn ToolAdapter>, AdapterError> {
    match built {
        Ok(driver) => Ok(Arc::new(driver)),
        Err(_) => Err(AdapterError::AdapterUnavailable {
            tool: name.to_owned(),
            kind: profile.kind,
        }),
    }
}

/// How a stalled attempt of `spec` reads in a status line:
/// `stalled: no output and no CPU for 300 s`.
pub(crate) fn stalled_text(spec: &pipeline_process::ProcessSpec) -> String {
    match spec.stall_timeout {
        Some(stall) => format!(
            "stalled: no output and no CPU for {} s",
            stall.as_secs_f64()
        ),
        None => "stalled".to_owned(),
    }
}
