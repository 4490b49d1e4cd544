//! `sse-load URL [--clients N] [--gate FILE] [--ids-out FILE] ...`: N concurrent clients of
//! one server-sent-events stream of `pipeline serve`, for scripts/bench.sh.
//!
//! Prints one JSON line: `{"clients": N, "events": E, "first_id": .., "last_id": ..}` and
//! exits 0 when every client received the same events, each once, in increasing id order,
//! up to the final event; otherwise prints what differed on stderr and exits 1. Exit 2:
//! bad arguments or a gate file that cannot be created.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

/// Command-line arguments.
#[derive(Debug, Parser)]
#[command(about = "Many concurrent SSE clients of one pipeline serve event stream")]
struct Args {
    /// The stream, e.g. http://127.0.0.1:7878/api/runs/RUN/events.
    url: String,
    /// Clients connected at once.
    #[arg(long, default_value_t = 200)]
    clients: usize,
    /// Extra request header `NAME: VALUE` (repeatable).
    #[arg(long = "header", value_name = "NAME: VALUE")]
    headers: Vec<String>,
    /// The kind of the last event to wait for.
    #[arg(long, default_value = "run_finished")]
    until: String,
    /// A file created once every client has received its first event (a run's step can
    /// wait for it, so that the whole run is streamed live to all clients).
    #[arg(long, value_name = "FILE")]
    gate: Option<PathBuf>,
    /// Writes the ids all clients received, one per line (to compare with the journal).
    #[arg(long, value_name = "FILE")]
    ids_out: Option<PathBuf>,
    /// Limit for the whole run, in seconds.
    #[arg(long, default_value_t = 600)]
    timeout: u64,
}

fn main() {
    let args = Args::parse();
    let mut headers = Vec::new();
    for h in &args.headers {
        let Some((k, v)) = h.split_once(':') else {
            eprintln!("sse-load: --header needs NAME: VALUE, got {h:?}");
            std::process::exit(2);
        };
        headers.push((k.trim().to_string(), v.trim().to_string()));
    }
    if args.clients == 0 {
        eprintln!("sse-load: --clients must be at least 1");
        std::process::exit(2);
    }
    let opts = sse_load::Options {
        url: args.url.clone(),
        clients: args.clients,
        headers,
        until_event: args.until.clone(),
        timeout: Duration::from_secs(args.timeout),
    };
    let gate = args.gate.clone();
    let report = sse_load::run(&opts, move || {
        if let Some(gate) = gate
            && let Err(e) = std::fs::write(&gate, b"go\n")
        {
            eprintln!(
                "sse-load: cannot create the gate file {}: {e}",
                gate.display()
            );
            std::process::exit(2);
        }
    });
    let report = match report {
        Ok(report) => report,
        Err(e) => {
            eprintln!("sse-load: cannot start the async runtime: {e}");
            std::process::exit(3);
        }
    };
    match report.check(None) {
        Ok(summary) => {
            if let Some(path) = &args.ids_out {
                let mut text = String::new();
                for id in &summary.ids {
                    text.push_str(&id.to_string());
                    text.push('\n');
                }
                if let Err(e) = std::fs::write(path, text) {
                    eprintln!("sse-load: cannot write {}: {e}", path.display());
                    std::process::exit(2);
                }
            }
            let line = serde_json::json!({
                "clients": summary.clients,
                "events": summary.ids.len(),
                "first_id": summary.ids.first(),
                "last_id": summary.ids.last(),
            });
            let _ = writeln!(std::io::stdout(), "{line}");
        }
        Err(e) => {
            eprintln!("sse-load: {e}");
            std::process::exit(1);
        }
    }
}
