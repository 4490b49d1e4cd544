//! End-to-end tests of the `pipeline` binary on real temporary git repositories.
//! One test binary; one module per area.

mod conformance;
mod handshake;
mod support;

mod ai_aider;
mod ai_claude;
mod ai_cli;
mod ai_codex;
mod ai_registry;
mod api_fuzz;
mod approvals;
mod bad_input;
mod config_file;
mod containment;
mod crash_resume;
mod database;
mod durability;
mod execution;
mod exit_codes;
mod getting_started;
mod isolation;
mod journal;
mod mcp;
mod openspec_bridge;
mod original_format;
mod plan_output;
mod recovery;
mod reporting;
mod results;
mod run_commands;
mod sandbox;
mod secrets;
mod serve;
mod signals;
mod sse_load;
mod stall;
mod states;
mod tool_selection;
mod traps;
mod typos;
mod uncommitted;
mod webhooks;
