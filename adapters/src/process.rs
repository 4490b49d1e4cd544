//! Process supervision: run one tool process to completion, whatever it does.
//!
//! # Theory of operation
//!
//! [`run_process`] owns one child from spawn to reaping:
//!
//! 1. **Spawn.** The child starts as the leader of its own process group
//!    (`process_group(0)`), with stdin on `/dev/null` and stdout/stderr on pipes. A
//!    [`ProcessGroup`] handle is armed at once: if the supervising future is dropped
//!    (its task aborted), the handle's `Drop` sends SIGKILL to the group.
//! 2. **Drain.** Both pipes are read concurrently, in the same task, by one joined
//!    "drain" future, so a child blocked on a full stderr pipe while we wait on stdout
//!    cannot deadlock us. Every chunk goes to an [`OutputCapture`] (bounded log, tail
//!    ring buffer) and, per stream, to a [`LineSplitter`] feeding the optional
//!    [`LineCallback`]. Beyond the log limit, output is still read and discarded.
//! 3. **Wait.** One `select!` loop waits for whichever comes first: the child exits,
//!    the timeout expires, or the cancellation token fires, polling the drain future
//!    all along.
//! 4. **Stop.** On timeout or cancel: SIGTERM to the group, up to `kill_grace` for the
//!    child to exit and the pipes to close, then SIGKILL to the group. When the child
//!    exits on its own, helpers it left behind in its group (background grandchildren)
//!    get up to [`LEFTOVER_GRACE`] (200 ms) to finish writing and closing the pipes, and
//!    then SIGKILL too: nothing outlives its step, and a grandchild holding a pipe open
//!    cannot hang the supervisor.
//! 5. **Finish.** After the final SIGKILL the pipes close as soon as the group is gone;
//!    the drain gets [`DRAIN_AFTER_KILL`] (2 s) more, after which the pipes are dropped
//!    (only a process that left the group with `setsid` could still hold them). The log
//!    footer is written and the outcome returned.
//!
//! The pid of a reaped child can only be reused as a group id once every member of its
//! group is gone, so signalling the group after reaping the leader reaches either our
//! leftovers or nobody; the 200 ms window makes reuse by an unrelated new group leader
//! practically impossible.

use std::ffi::OsStr;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use nix::sys::signal::Signal;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::Command;
use tokio::time::{Instant, sleep, sleep_until};
use tokio_util::sync::CancellationToken;

use crate::adapter_error::AdapterError;
use crate::line_splitter::LineSplitter;
use crate::output_capture::OutputCapture;
use crate::process_group::ProcessGroup;
use crate::process_outcome::{ProcessOutcome, Termination};
use crate::process_spec::{OutputLimits, ProcessSpec};

/// Receives each complete output line (without its line end, at most 4096 bytes,
/// lossy UTF-8) as soon as it is read, for live progress. Called from the supervising
/// task: keep it cheap and non-blocking.
pub type LineCallback = Arc<dyn Fn(&str) + Send + Sync>;

/// How long helpers left in the group after the child exited may keep the pipes open
/// before they are killed.
const LEFTOVER_GRACE: Duration = Duration::from_millis(200);

/// How long to wait for the pipes to close after the final SIGKILL before giving up.
const DRAIN_AFTER_KILL: Duration = Duration::from_secs(2);

/// Size of one read from a pipe, in bytes.
const READ_CHUNK: usize = 64 * 1024;

/// Runs `spec` to completion under supervision (see the module documentation) and
/// reports how it ended.
///
/// Output is written to `log_path` (parent directories are created, an existing file is
/// replaced) within `limits`; `on_line` receives complete lines live. The process group
/// is terminated on `spec.timeout` ([`Termination::TimedOut`]) or when `cancel` fires
/// ([`Termination::Cancelled`]); a token already cancelled on entry returns `Cancelled`
/// without starting anything. A non-zero exit is an `Ok` outcome, not an error.
///
/// # Errors
/// - [`AdapterError::WorkingDirectory`] when `spec.cwd` is not a directory;
/// - [`AdapterError::Spawn`] when the program cannot be started (not found, not
///   executable); the log records the failure too;
/// - [`AdapterError::Log`] when the log cannot be created or written (the process is
///   still run to completion and its group stopped before this is returned);
/// - [`AdapterError::Wait`] when the operating system fails to report the child's
///   status (the group is killed).
pub async fn run_process(
    spec: &ProcessSpec,
    log_path: &Path,
    limits: &OutputLimits,
    on_line: Option<LineCallback>,
    cancel: CancellationToken,
) -> Result<ProcessOutcome, AdapterError> {
    if !spec.cwd.is_dir() {
        return Err(AdapterError::WorkingDirectory {
            path: spec.cwd.clone(),
        });
    }
    let mut capture = OutputCapture::create(log_path, limits)?;
    capture.write_header(spec);
    if cancel.is_cancelled() {
        let summary = capture.finish(Termination::Cancelled, spec.timeout, Duration::ZERO)?;
        return Ok(outcome(Termination::Cancelled, Duration::ZERO, summary));
    }

    let mut command = Command::new(&spec.program);
    command
        .args(&spec.args)
        .current_dir(&spec.cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    if spec.env_clear {
        command.env_clear();
    }
    command.envs(spec.env.iter().map(|(name, value)| (name, value)));

    let started = Instant::now();
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(source) => {
            capture.finish_spawn_failure(&source)?;
            return Err(AdapterError::Spawn {
                program: spec.program.clone(),
                source,
            });
        }
    };
    let Some(pid) = child.id() else {
        // tokio only forgets the pid once the child has been reaped, which cannot have
        // happened yet; report it rather than guess.
        return Err(wait_error(
            &spec.program,
            "child exited before its pid was known",
        ));
    };
    let mut group = ProcessGroup::led_by(pid);

    let capture = Mutex::new(capture);
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    // Boxed so that it can be dropped (ending its borrow of `capture`) before the
    // capture is finished.
    let mut drain = Box::pin(async {
        tokio::join!(
            pump(stdout, &capture, on_line.as_ref()),
            pump(stderr, &capture, on_line.as_ref())
        )
    });
    let mut drained = false;

    // Wait for exit, timeout or cancel, draining all along.
    let deadline = spec.timeout.map(|timeout| started + timeout);
    let mut status: Option<ExitStatus> = None;
    let stopped_by_us = loop {
        tokio::select! {
            biased;
            result = child.wait() => {
                status = Some(result.map_err(|source| AdapterError::Wait { program: spec.program.clone(), source })?);
                break None;
            }
            () = cancel.cancelled() => break Some(Termination::Cancelled),
            () = sleep_until_optional(deadline) => break Some(Termination::TimedOut),
            _ = &mut drain, if !drained => drained = true,
        }
    };

    if stopped_by_us.is_some() {
        // Polite stop first, then SIGKILL after the grace period.
        group.signal(Signal::SIGTERM);
        let grace_deadline = Instant::now() + spec.kill_grace;
        while status.is_none() || !drained {
            tokio::select! {
                result = child.wait(), if status.is_none() => {
                    status = Some(result.map_err(|source| AdapterError::Wait { program: spec.program.clone(), source })?);
                }
                _ = &mut drain, if !drained => drained = true,
                () = sleep_until(grace_deadline) => break,
            }
        }
    } else if !drained {
        // The child is gone; give leftovers in its group a moment to finish writing.
        tokio::select! {
            _ = &mut drain => drained = true,
            () = sleep(LEFTOVER_GRACE) => {}
        }
    }
    group.signal(Signal::SIGKILL);
    let status = match status {
        Some(status) => status,
        None => child.wait().await.map_err(|source| AdapterError::Wait {
            program: spec.program.clone(),
            source,
        })?,
    };
    let duration = started.elapsed();
    if !drained {
        tokio::select! {
            _ = &mut drain => {}
            () = sleep(DRAIN_AFTER_KILL) => {
                tracing::warn!(program = %spec.program.to_string_lossy(), "output pipes still open after the process group was killed; a process outside the group holds them, giving up on its output");
            }
        }
    }
    group.disarm();
    drop(drain);

    let termination = stopped_by_us.unwrap_or_else(|| termination_of(status));
    let capture = capture.into_inner().unwrap_or_else(PoisonError::into_inner);
    let summary = capture.finish(termination, spec.timeout, duration)?;
    Ok(outcome(termination, duration, summary))
}

fn outcome(
    termination: Termination,
    duration: Duration,
    summary: crate::output_capture::CaptureSummary,
) -> ProcessOutcome {
    ProcessOutcome {
        termination,
        duration,
        log_bytes: summary.log_bytes,
        output_bytes: summary.output_bytes,
        truncated: summary.truncated,
        tail: summary.tail,
    }
}

fn wait_error(program: &OsStr, message: &str) -> AdapterError {
    AdapterError::Wait {
        program: program.to_os_string(),
        source: std::io::Error::other(message.to_owned()),
    }
}

/// Maps an exit status the child reached on its own to a [`Termination`].
fn termination_of(status: ExitStatus) -> Termination {
    match (status.code(), status.signal()) {
        (Some(code), _) => Termination::Exited(code),
        (None, Some(signal)) => Termination::Signaled(signal),
        // wait(2) reports either an exit code or a terminating signal; keep the raw
        // status rather than invent one.
        (None, None) => Termination::Exited(status.into_raw()),
    }
}

/// Sleeps until `deadline`, or forever when there is none.
async fn sleep_until_optional(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// Reads one pipe to its end into the capture and the line callback.
async fn pump<R: AsyncRead + Unpin>(
    reader: Option<R>,
    capture: &Mutex<OutputCapture>,
    on_line: Option<&LineCallback>,
) {
    let Some(mut reader) = reader else { return };
    let mut buffer = vec![0_u8; READ_CHUNK];
    let mut lines = LineSplitter::default();
    let mut emit = |line: &str| {
        if let Some(callback) = on_line {
            callback(line);
        }
    };
    loop {
        let read = match reader.read(&mut buffer).await {
            Ok(0) => break,
            Ok(read) => read,
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(error) => {
                tracing::warn!(%error, "reading child output failed; treating it as end of output");
                break;
            }
        };
        let chunk = &buffer[..read];
        capture
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .record(chunk);
        if on_line.is_some() {
            lines.feed(chunk, &mut emit);
        }
    }
    if on_line.is_some() {
        lines.finish(&mut emit);
    }
}

#[cfg(test)]
mod tests;
