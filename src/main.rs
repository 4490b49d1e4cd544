//! `pipeline`: run AI-development workstreams as a DAG in parallel git worktrees, with
//! SQLite state and crash resume. This binary only parses arguments, calls
//! `pipeline_core`, and renders results; `exit_code` is the one place mapping outcomes to
//! process exit codes (0 success, 1 the run failed, 2 invalid input or usage, 3 internal
//! or state error, 130 interrupted).

mod cli;
mod commands;
mod junit;
mod progress;

use clap::Parser;

fn main() {
    restore_sigpipe();
    let cli = cli::Cli::parse();
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
/// Unix tools. (A run killed this way stays resumable: its state is written ahead.)
#[allow(unsafe_code, reason = "nix: signal() is unsafe; the only unsafe code")]
fn restore_sigpipe() {
    use nix::sys::signal::{SigHandler, Signal, signal};
    // SAFETY: called first thing in `main`, before any thread exists; SIG_DFL installs no
    // Rust handler.
    let _ = unsafe { signal(Signal::SIGPIPE, SigHandler::SigDfl) };
}
