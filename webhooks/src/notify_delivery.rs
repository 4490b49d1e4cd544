//! One notify command: `sh -c <command>` in the repository with the event JSON on stdin,
//! `PIPELINE_EVENT_KIND`, `PIPELINE_RUN_ID` and `PIPELINE_WEBHOOK_ID` in its
//! environment; its output is appended to the notify log, never shown on the terminal.

use std::io::Write as _;
use std::path::Path;
use std::time::Duration;

use pipeline_core::state::{ClaimedDelivery, timestamp_now};
use pipeline_process::{CaptureLimits, ProcessSpec, Termination, run_captured};
use tokio_util::sync::CancellationToken;

use crate::retry_decision::AttemptResult;

/// Output kept per stream and appended to the log.
const OUTPUT_LIMIT: usize = 64 * 1024;

/// Runs `command` for `delivery` (body `body`) within `timeout`; exit 0 is accepted,
/// anything else (a non-zero exit, a signal, the timeout, a command that cannot start)
/// is transient. Its output goes to `log`.
pub(crate) async fn run(
    command: &str,
    delivery: &ClaimedDelivery,
    body: &str,
    workdir: &Path,
    log: &Path,
    timeout: Duration,
) -> AttemptResult {
    let mut spec = ProcessSpec::new("sh", ["-c", command], workdir);
    spec.timeout = Some(timeout);
    spec.kill_grace = Duration::from_secs(1);
    spec.env = vec![
        ("PIPELINE_EVENT_KIND".into(), delivery.kind.clone().into()),
        ("PIPELINE_RUN_ID".into(), delivery.run_id.clone().into()),
        (
            "PIPELINE_WEBHOOK_ID".into(),
            delivery.webhook_id.clone().into(),
        ),
    ];
    let limits = CaptureLimits {
        max_stdout_bytes: OUTPUT_LIMIT,
        max_stderr_bytes: OUTPUT_LIMIT,
    };
    let shown = &delivery.endpoint;
    let result = run_captured(&spec, body.as_bytes(), &limits, CancellationToken::new()).await;
    let (verdict, stdout, stderr) = match result {
        Ok(output) => {
            let verdict = match output.termination {
                Termination::Exited(0) => AttemptResult::Accepted,
                Termination::Exited(code) => {
                    transient(format!("notify command {shown} exited with {code}"))
                }
                Termination::Signaled(signal) => transient(format!(
                    "notify command {shown} was killed by signal {signal}"
                )),
                Termination::TimedOut => transient(format!(
                    "notify command {shown} timed out after {}s (webhook_delivery.timeout_sec)",
                    timeout.as_secs()
                )),
                Termination::Cancelled => {
                    transient(format!("notify command {shown} was cancelled"))
                }
                // The spec sets no stall timeout; kept for completeness.
                Termination::Stalled => transient(format!(
                    "notify command {shown} stalled (no output and no CPU)"
                )),
            };
            (verdict, output.stdout, output.stderr)
        }
        Err(e) => (
            transient(format!("notify command {shown} cannot run: {e}")),
            Vec::new(),
            Vec::new(),
        ),
    };
    append_log(log, delivery, &verdict, &stdout, &stderr);
    verdict
}

fn transient(error: String) -> AttemptResult {
    AttemptResult::Transient {
        error,
        retry_after: None,
    }
}

/// Appends one record to the notify log: a header line, then the command's stdout and
/// stderr. A log that cannot be written is reported once as a warning: the delivery's
/// outcome does not depend on it.
fn append_log(
    log: &Path,
    delivery: &ClaimedDelivery,
    verdict: &AttemptResult,
    stdout: &[u8],
    stderr: &[u8],
) {
    let outcome = match verdict {
        AttemptResult::Accepted => "ok".to_owned(),
        AttemptResult::Refused { error } | AttemptResult::Transient { error, .. } => error.clone(),
    };
    let mut text = format!(
        "== {} {} {} ({} of run {}): {outcome}\n",
        timestamp_now(),
        delivery.endpoint,
        delivery.webhook_id,
        delivery.kind,
        delivery.run_id
    )
    .into_bytes();
    for (name, bytes) in [("stdout", stdout), ("stderr", stderr)] {
        if !bytes.is_empty() {
            text.extend_from_slice(format!("-- {name}\n").as_bytes());
            text.extend_from_slice(bytes);
            if !bytes.ends_with(b"\n") {
                text.push(b'\n');
            }
        }
    }
    let written = log
        .parent()
        .map_or(Ok(()), std::fs::create_dir_all)
        .and_then(|()| {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(log)
        })
        .and_then(|mut file| file.write_all(&text));
    if let Err(e) = written {
        tracing::warn!("cannot write the notify log {}: {e}", log.display());
    }
}
