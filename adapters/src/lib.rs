//! pipeline-adapters: how a step's tool is run.
//!
//! Every step of a workstream invokes a tool (Aider, the Codex CLI, Claude Code or any
//! command) in its git worktree. This crate holds the pieces between "the engine decided
//! to run step X with tool Y" and "here is what the tool did":
//!
//! - [`run_process`]: process supervision. The child runs in its own process group with
//!   bounded, concurrently drained output, a timeout and cancellation that terminate the
//!   whole group (SIGTERM, grace period, SIGKILL), and an attempt log on disk.
//! - [`ToolAdapter`]: the trait every adapter implements; it turns an [`Invocation`]
//!   (step id, worktree, prompt, files, env, timeout) into a [`ToolOutcome`].
//! - [`CustomAdapter`]: runs any command from a [`ToolProfile`], with `{placeholders}` in
//!   its arguments. The built-in `shell` tool (a step's `"command"`) is a custom adapter
//!   running `sh -c <command>`.
//! - [`ToolRegistry`]: tool profiles layered from the built-in `config/tools.yaml`, the
//!   repository's `.pipeline/config.yaml` and `PIPELINE_TOOL_<NAME>_<FIELD>` variables.
//!
//! The crate depends on neither `pipeline-core` nor the other library crates; the engine
//! passes plain data in and gets plain data back.

mod adapter_error;
mod aider_adapter;
mod arg_template;
mod availability;
mod claude_adapter;
mod codex_adapter;
mod config_error;
mod custom_adapter;
mod env_override;
mod invocation;
mod line_splitter;
mod output_capture;
mod process;
mod process_group;
mod process_outcome;
mod process_spec;
mod profile_layer;
mod prompt_argument;
mod redaction;
mod tail_buffer;
mod tool_adapter;
mod tool_profile;
mod tool_registry;

pub use adapter_error::AdapterError;
pub use availability::Availability;
pub use config_error::ConfigError;
pub use custom_adapter::CustomAdapter;
pub use invocation::{Invocation, ToolOutcome, Usage};
pub use process::{LineCallback, run_process};
pub use process_outcome::{ProcessOutcome, Termination};
pub use process_spec::{DEFAULT_KILL_GRACE, OutputLimits, ProcessSpec};
pub use tool_adapter::ToolAdapter;
pub use tool_profile::{ToolKind, ToolProfile};
pub use tool_registry::{BUILTIN_TOOLS_YAML, SHELL_TOOL, ToolRegistry};
