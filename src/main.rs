//! `pipeline`: run AI-development workstreams as a DAG in parallel git worktrees, with
//! SQLite state and crash resume. This binary only parses arguments, calls
//! `pipeline_core`, and renders results. Exit codes come from one table,
//! `pipeline_core::exit_code` (0 success, 1 the run failed, 2 invalid input or usage,
//! 3 internal or state error, 129/130/143 stopped by SIGHUP/SIGINT/SIGTERM);
//! `commands::dispatch` is the one place mapping a command's error to its code and
//! printing it ([`command_error`]).

mod ci_report;
mod cli;
mod command_error;
mod commands;
mod json_output;
mod junit;
mod mcp;
mod progress;
mod serve;

use clap::Parser;
use pipeline_core::exit_code;

fn main() {
    restore_sigpipe();
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // `--help` and `--version` arrive here too: clap prints them on stdout and they
            // are no error.
            let code = if e.use_stderr() {
                exit_code::INVALID
            } else {
                exit_code::OK
            };
            // Nothing is left to report to if stderr itself is gone.
            let _ = e.print();
            std::process::exit(code);
        }
    };
    init_tracing(cli.verbose);
    let code = commands::dispatch(cli);
    std::process::exit(code);
}

fn init_tracing(verbose: u8) {
    use tracing_subscriber::EnvFilter;
    let default = match verbose {
        0 => "warn",
        1 => "info,pipeline_core=debug",
        _ => "debug",
    };
    let filter = EnvFilter::try_from_env("RUST_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}

/// Rust ignores SIGPIPE, so `pipeline status --json | head` would panic on a closed pipe.
/// Restore the default: the process ends quietly when its reader goes away, like other
/// Unix tools. `run` and `resume` ignore it again ([`ignore_sigpipe`]).
#[allow(unsafe_code, reason = "nix: signal() is unsafe")]
fn restore_sigpipe() {
    use nix::sys::signal::{SigHandler, Signal, signal};
    // SAFETY: called first thing in `main`, before any thread exists; SIG_DFL installs no
    // Rust handler.
    let _ = unsafe { signal(Signal::SIGPIPE, SigHandler::SigDfl) };
}

/// Ignores SIGPIPE again, for `run` and `resume`: a closed stdout (`pipeline run --json
/// ... | head -1`) must stop the output, not the run. Their writers treat a failed write
/// (EPIPE) as the end of output. Child tools are unaffected: the standard library resets
/// SIGPIPE to its default in every child it starts.
#[allow(unsafe_code, reason = "nix: signal() is unsafe")]
pub(crate) fn ignore_sigpipe() {
    use nix::sys::signal::{SigHandler, Signal, signal};
    // SAFETY: called before the run's async runtime starts its threads; SIG_IGN installs
    // no Rust handler.
    let _ = unsafe { signal(Signal::SIGPIPE, SigHandler::SigIgn) };
}
