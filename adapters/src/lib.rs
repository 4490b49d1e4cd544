//! pipeline-adapters: how a step's tool is run.
//!
//! Every step of a workstream invokes a tool (Aider, the Codex CLI, Claude Code or any
//! command) in its git worktree. This crate holds the pieces between "the engine decided
//! to run step X with tool Y" and "here is what the tool did":
//!
//! - [`run_process`] (re-exported from `pipeline-process`): process supervision. The
//!   child runs in its own process group with bounded, concurrently drained output, a
//!   timeout, stall detection (`stall_timeout_sec`) and cancellation that terminate the
//!   whole group (SIGTERM, grace period, SIGKILL), and an attempt log on disk.
//! - [`ToolAdapter`]: the trait every adapter implements; it turns an [`Invocation`]
//!   (step id, worktree, prompt, files, env, timeout) into a [`ToolOutcome`].
//! - [`CustomAdapter`]: runs any command from a [`ToolProfile`], with `{placeholders}` in
//!   its arguments. The built-in `shell` tool (a step's `"command"`) is a custom adapter
//!   running `sh -c <command>`.
//! - [`ToolRegistry`]: tool profiles layered from the built-in `config/tools.yaml`, the
//!   repository's `.pipeline/config.yaml` and `PIPELINE_TOOL_<NAME>_<FIELD>` variables.
//! - [`CONFIG_KEYS`]: every key of `.pipeline/config.yaml` with its type, default and
//!   description; every reader of the file rejects keys not in it (docs/CONFIG.md is
//!   checked against it).
//! - [`PriceTable`]: model prices (`config/prices.yaml` overlaid by `prices:`), for the
//!   estimated cost of an attempt whose tool reports tokens but no cost.
//!
//! The crate depends on neither `pipeline-core` nor `pipeline-error`, only on the leaf
//! crate `pipeline-process`; the engine passes plain data in and gets plain data back.

mod adapter_error;
mod aider_adapter;
mod arg_template;
mod availability;
mod cache_settings;
mod claude_adapter;
mod codex_adapter;
mod config_check;
mod config_error;
mod config_keys;
mod custom_adapter;
mod engine_settings;
mod env_override;
mod invocation;
mod price_table;
mod profile_layer;
mod project_settings;
mod prompt_argument;
mod secret_settings;
mod tool_adapter;
mod tool_profile;
mod tool_registry;
mod webhook_settings;

pub use adapter_error::AdapterError;
pub use availability::Availability;
pub use cache_settings::CacheSettings;
pub use config_error::{ConfigError, UnknownKey};
pub use config_keys::{CONFIG_KEYS, ConfigKey, NAME_SEGMENT, config_key};
pub use custom_adapter::CustomAdapter;
pub use engine_settings::{
    EngineKind, EngineSettings, MAX_HEARTBEAT_TIMEOUT_SEC, TemporalSettings, TlsFiles,
    is_variable_name,
};
pub use invocation::{Invocation, ToolOutcome, Usage, UsageWatch};
// Process supervision lives in the leaf crate `pipeline-process`; these names stay
// available here for the engine, which runs acceptance tests and compensations with them.
pub use pipeline_process::{
    Containment, DEFAULT_KILL_GRACE, LineCallback, OutputLimits, ProcessError, ProcessOutcome,
    ProcessSpec, SandboxPolicy, SandboxSupport, Termination, run_process, sandbox_support,
};
// The marker sweep, for resume to end the processes of a crashed run.
pub use pipeline_process::{
    KilledProcess, MARKER_ENV, MarkerMatch, SWEEP_LIMIT, sweep_marked_blocking,
};
pub use pipeline_process::{MIN_SECRET_BYTES, REDACTED, redact};
pub use price_table::{BUILTIN_PRICES_YAML, ModelPrice, PriceTable};
pub use project_settings::{ProjectSettings, ScopeOverlap};
pub use secret_settings::{DEFAULT_ENV_PATTERNS, SecretSettings};
pub use tool_adapter::ToolAdapter;
pub(crate) use tool_adapter::stalled_text;
pub use tool_profile::{ToolKind, ToolProfile};
pub use tool_registry::{BUILTIN_TOOLS_YAML, SHELL_TOOL, ToolRegistry};
pub use webhook_settings::{
    ALL_EVENTS, DeliverySettings, NotifyCommand, WebhookEndpoint, WebhookSettings, redacted_url,
};
