//! Process supervision: run one child process to completion, whatever it does.
//!
//! # Theory of operation
//!
//! Two entry points share one supervision loop and differ only in where stdin comes
//! from and where output goes: [`run_process`] (stdin on `/dev/null`, output to a
//! bounded attempt log plus an in-memory tail, lines to a callback) for tools, tests and
//! compensations; [`run_captured`] (the given bytes on stdin, each output stream into a
//! bounded in-memory buffer) for children whose output is their answer, such as the
//! error engine's `command` plugins. Each owns one child from spawn to reaping:
//!
//! 1. **Spawn.** The program is resolved on `PATH` once per name (see
//!    `program_resolver`), and the child starts as the leader of its own process group
//!    (`process_group(0)`) with stdout/stderr on pipes. A [`ProcessGroup`] handle is
//!    armed at once: if the supervising future is dropped (its task aborted), the
//!    handle's `Drop` sends SIGKILL to the group.
//! 2. **Drain.** Both pipes are read (and stdin written) concurrently, in the same task,
//!    by one joined "drain" future, so a child blocked on a full stderr pipe while we
//!    wait on stdout cannot deadlock us. Every chunk goes to the entry point's sink
//!    (attempt log and tail with per-stream line splitting, or bounded buffers). Beyond
//!    a sink's limit, output is still read and discarded.
//! 3. **Wait.** One `select!` loop waits for whichever comes first: the child exits,
//!    the timeout expires, the child stalls, or the cancellation token fires, polling
//!    the drain future all along. With a stall timeout, the loop also samples the
//!    child every [`sample_interval`] (a tenth of the stall timeout, 100 ms to 1 s): the
//!    output chunks the drain has read so far and the CPU time of the whole process
//!    group (`/proc`, see `group_cpu`), fed to a [`StallWatch`]; a child that printed
//!    nothing and computed nothing for the stall timeout is stalled (see
//!    [`stall_watch`](crate::stall_watch) for what counts as computing).
//! 4. **Stop.** On timeout, stall or cancel: SIGTERM to the group, up to `kill_grace`
//!    for the child to exit and the pipes to close, then SIGKILL to the group. When the child
//!    exits on its own, helpers it left behind in its group (background grandchildren)
//!    get up to [`LEFTOVER_GRACE`] (200 ms) to finish writing and closing the pipes, and
//!    then SIGKILL too: nothing outlives its step, and a grandchild holding a pipe open
//!    cannot hang the supervisor.
//! 5. **Finish.** After the final SIGKILL the pipes close as soon as the group is gone;
//!    the drain gets [`DRAIN_AFTER_KILL`] (2 s) more, after which the pipes are dropped
//!    (only a process that left the group with `setsid` could still hold them). The
//!    outcome is returned (and, for [`run_process`], the log footer written).
//! 6. **Sweep.** When the spec carries an attempt marker
//!    ([`Containment::marker`](crate::Containment::marker)), every process still
//!    carrying it, also one that left the group with `setsid` or a double fork, is
//!    killed right after the group's SIGKILL and before the drain's last wait,
//!    repeatedly until none is left (see [`marker_sweep`](crate::marker_sweep)). On
//!    timeout or cancel, marked processes outside the group are killed already with the
//!    group's SIGTERM; if the supervising future is dropped, a guard sweeps. Whatever the
//!    outcome (exit, failure, timeout, cancel), nothing the child started runs once the
//!    supervisor returns.
//!
//! The pid of a reaped child can only be reused as a group id once every member of its
//! group is gone, so signalling the group after reaping the leader reaches either our
//! leftovers or nobody; the 200 ms window makes reuse by an unrelated new group leader
//! practically impossible.

use std::ffi::OsStr;
use std::future::Future;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::pin::{Pin, pin};
use std::process::{ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use nix::sys::signal::Signal;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::process::{Child, Command};
use tokio::time::{Instant, Interval, MissedTickBehavior, interval_at, sleep, sleep_until};
use tokio_util::sync::CancellationToken;

use crate::captured_output::{BoundedBuffer, CaptureLimits, CapturedOutput};
use crate::line_splitter::LineSplitter;
use crate::marker_sweep::AttemptSweep;
use crate::output_capture::{CaptureSummary, OutputCapture};
use crate::process_error::ProcessError;
use crate::process_group::ProcessGroup;
use crate::process_outcome::{ProcessOutcome, Termination};
use crate::process_spec::{OutputLimits, ProcessSpec};
use crate::program_resolver;
use crate::stall_watch::{Activity, StallWatch, sample_interval};

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

/// The drain future of one child: reads its pipes (and writes its stdin) to the end.
type Drain<'a> = Pin<&'a mut (dyn Future<Output = ()> + Send + 'a)>;

/// Runs `spec` to completion under supervision (see the module documentation), with
/// stdin on `/dev/null`, and reports how it ended.
///
/// Output is written to `log_path` (parent directories are created, an existing file is
/// replaced) within `limits`; `on_line` receives complete lines live. The process group
/// is terminated on `spec.timeout` ([`Termination::TimedOut`]), on a stall
/// (`spec.stall_timeout`, [`Termination::Stalled`]) or when `cancel` fires
/// ([`Termination::Cancelled`]); a token already cancelled on entry returns `Cancelled`
/// without starting anything. A non-zero exit is an `Ok` outcome, not an error.
///
/// # Errors
/// - [`ProcessError::WorkingDirectory`] when `spec.cwd` is not a directory;
/// - [`ProcessError::Spawn`] when the program cannot be started (not found, not
///   executable); the log records the failure too;
/// - [`ProcessError::Log`] when the log cannot be created or written (the process is
///   still run to completion and its group stopped before this is returned);
/// - [`ProcessError::Wait`] when the operating system fails to report the child's
///   status (the group is killed).
pub async fn run_process(
    spec: &ProcessSpec,
    log_path: &Path,
    limits: &OutputLimits,
    on_line: Option<LineCallback>,
    cancel: CancellationToken,
) -> Result<ProcessOutcome, ProcessError> {
    check_cwd(spec)?;
    let mut capture = OutputCapture::create(log_path, limits)?;
    capture.write_header(spec);
    if cancel.is_cancelled() {
        let summary = capture.finish(
            Termination::Cancelled,
            (spec.timeout, spec.stall_timeout),
            Duration::ZERO,
        )?;
        return Ok(outcome(Termination::Cancelled, Duration::ZERO, summary));
    }
    let started = Instant::now();
    let mut child = match spawn(spec, false) {
        Ok(child) => child,
        Err(source) => {
            capture.finish_spawn_failure(&source)?;
            return Err(ProcessError::Spawn {
                program: spec.program.clone(),
                source,
            });
        }
    };

    let capture = Mutex::new(capture);
    let chunks = AtomicU64::new(0);
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let (termination, duration) = {
        // Dropped at the end of this block, ending its borrow of `capture`.
        let drain = pin!(async {
            tokio::join!(
                pump(stdout, &capture, &chunks, on_line.as_ref()),
                pump(stderr, &capture, &chunks, on_line.as_ref())
            );
        });
        supervise(spec, &mut child, drain, &chunks, &cancel, started).await?
    };
    let capture = capture.into_inner().unwrap_or_else(PoisonError::into_inner);
    let summary = capture.finish(termination, (spec.timeout, spec.stall_timeout), duration)?;
    Ok(outcome(termination, duration, summary))
}

/// Runs `spec` to completion under supervision (see the module documentation), writing
/// `stdin` to its standard input (then closing it) and keeping stdout and stderr in
/// memory within `limits`.
///
/// A child that does not read its input is not an error (the write stops when it
/// closes the pipe). Timeout, stall, cancellation and the process group behave as in
/// [`run_process`]; a token already cancelled on entry returns `Cancelled` with no
/// output without starting anything. A non-zero exit is an `Ok` outcome.
///
/// # Errors
/// [`ProcessError::WorkingDirectory`], [`ProcessError::Spawn`] and
/// [`ProcessError::Wait`], as for [`run_process`].
pub async fn run_captured(
    spec: &ProcessSpec,
    stdin: &[u8],
    limits: &CaptureLimits,
    cancel: CancellationToken,
) -> Result<CapturedOutput, ProcessError> {
    check_cwd(spec)?;
    let mut stdout = BoundedBuffer::new(limits.max_stdout_bytes);
    let mut stderr = BoundedBuffer::new(limits.max_stderr_bytes);
    if cancel.is_cancelled() {
        return Ok(captured(
            Termination::Cancelled,
            Duration::ZERO,
            stdout,
            stderr,
        ));
    }
    let started = Instant::now();
    let mut child = spawn(spec, true).map_err(|source| ProcessError::Spawn {
        program: spec.program.clone(),
        source,
    })?;
    let input = child.stdin.take();
    let out = child.stdout.take();
    let err = child.stderr.take();
    let chunks = AtomicU64::new(0);
    let (termination, duration) = {
        // Dropped at the end of this block, ending its borrows of the buffers.
        let drain = pin!(async {
            tokio::join!(
                feed(input, stdin),
                collect(out, &mut stdout, &chunks),
                collect(err, &mut stderr, &chunks)
            );
        });
        supervise(spec, &mut child, drain, &chunks, &cancel, started).await?
    };
    Ok(captured(termination, duration, stdout, stderr))
}

/// [`run_captured`] for synchronous callers (the error engine's plugins are plain
/// functions): runs it on a helper thread with its own single-threaded runtime, so it
/// works whether or not the calling thread is inside an asynchronous runtime, and
/// blocks until the child and its group are gone.
///
/// # Errors
/// Those of [`run_captured`], and [`ProcessError::Runtime`] when the helper thread or
/// its runtime cannot be started.
pub fn run_captured_blocking(
    spec: &ProcessSpec,
    stdin: &[u8],
    limits: &CaptureLimits,
    cancel: CancellationToken,
) -> Result<CapturedOutput, ProcessError> {
    let runtime_error = |source| ProcessError::Runtime {
        program: spec.program.clone(),
        source,
    };
    std::thread::scope(|scope| {
        let worker = std::thread::Builder::new()
            .name("pipeline-process".to_owned())
            .spawn_scoped(scope, || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(runtime_error)?;
                runtime.block_on(run_captured(spec, stdin, limits, cancel))
            })
            .map_err(runtime_error)?;
        // A panic in the worker is a bug of this crate: pass it on unchanged.
        worker
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

fn check_cwd(spec: &ProcessSpec) -> Result<(), ProcessError> {
    if spec.cwd.is_dir() {
        Ok(())
    } else {
        Err(ProcessError::WorkingDirectory {
            path: spec.cwd.clone(),
        })
    }
}

/// Starts `spec`'s program in its own process group, with stdin piped when
/// `pipe_stdin`, else on `/dev/null`. A bare program name is spawned through its
/// resolved path (keeping the name as `argv[0]`); if that fails, the resolution is
/// forgotten and the bare name spawned as the standard library would.
fn spawn(spec: &ProcessSpec, pipe_stdin: bool) -> std::io::Result<Child> {
    let path = program_resolver::child_path(&spec.env, spec.env_clear);
    if let Some(resolved) = program_resolver::resolve(&spec.program, path.as_deref()) {
        match spawn_contained(spec, resolved.as_os_str(), pipe_stdin) {
            Ok(child) => return Ok(child),
            Err(_) => program_resolver::forget(&spec.program, path.as_deref()),
        }
    }
    spawn_contained(spec, &spec.program, pipe_stdin)
}

/// Spawns `program` as `spec` says; a sandboxed one from a short-lived thread that
/// restricts itself first.
///
/// Landlock domains and `no_new_privs` belong to a thread and are inherited by the
/// processes it starts, so a child spawned by a restricted thread is restricted from its
/// first instruction, while `pipeline`'s other threads stay unrestricted. Restricting in
/// the child instead (a `pre_exec` hook) would make the standard library `fork` the whole
/// multi-threaded process (its page tables copied: about 0.4 ms per spawn, measured)
/// instead of using `posix_spawn` (`CLONE_VFORK`). The thread enters the caller's tokio
/// runtime so that the child is registered with it as if spawned by the caller.
fn spawn_contained(
    spec: &ProcessSpec,
    program: &OsStr,
    pipe_stdin: bool,
) -> std::io::Result<Child> {
    let mut command = command(spec, program, pipe_stdin);
    let sandbox = match &spec.containment.sandbox {
        Some(policy) => crate::sandbox::prepare(policy)?,
        None => None,
    };
    let Some(mut sandbox) = sandbox else {
        return command.spawn();
    };
    let runtime = tokio::runtime::Handle::try_current().ok();
    std::thread::Builder::new()
        .name("sandboxed-spawn".into())
        .spawn(move || {
            let _entered = runtime.as_ref().map(tokio::runtime::Handle::enter);
            sandbox.enforce()?;
            command.spawn()
        })?
        .join()
        .unwrap_or_else(|_| Err(std::io::Error::other("the sandboxed spawn thread panicked")))
}

/// The command for `spec`, without its sandbox (see [`spawn_contained`]).
fn command(spec: &ProcessSpec, program: &OsStr, pipe_stdin: bool) -> Command {
    let mut command = Command::new(program);
    command
        .arg0(&spec.program)
        .args(&spec.args)
        .current_dir(&spec.cwd)
        .stdin(if pipe_stdin {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    if spec.env_clear {
        command.env_clear();
    }
    command.envs(spec.env.iter().map(|(name, value)| (name, value)));
    if let Some(marker) = &spec.containment.marker {
        command.env(crate::MARKER_ENV, marker);
    }
    command
}

/// Steps 3 to 5 of the theory of operation for a spawned `child` whose pipes `drain`
/// reads (counting the chunks it reads in `chunks`): waits for exit, timeout, stall or
/// cancel, stops the group, and returns how the child ended and how long it ran since
/// `started`.
async fn supervise(
    spec: &ProcessSpec,
    child: &mut Child,
    mut drain: Drain<'_>,
    chunks: &AtomicU64,
    cancel: &CancellationToken,
    started: Instant,
) -> Result<(Termination, Duration), ProcessError> {
    let Some(pid) = child.id() else {
        // tokio only forgets the pid once the child has been reaped, which cannot have
        // happened yet; report it rather than guess.
        return Err(wait_error(
            &spec.program,
            "child exited before its pid was known",
        ));
    };
    let mut group = ProcessGroup::led_by(pid);
    let sweep = AttemptSweep::new(spec.containment.marker.as_deref(), pid);
    let mut drained = false;

    // Wait for exit, timeout, stall or cancel, draining (and sampling) all along.
    let deadline = spec.timeout.map(|timeout| started + timeout);
    let stall_timeout = spec.stall_timeout.filter(|stall| !stall.is_zero());
    let mut watch = stall_timeout.map(|stall| StallWatch::new(stall, started));
    let mut samples = stall_timeout.map(|stall| {
        let every = sample_interval(stall);
        let mut samples = interval_at(started + every, every);
        samples.set_missed_tick_behavior(MissedTickBehavior::Delay);
        samples
    });
    let mut status: Option<ExitStatus> = None;
    let stopped_by_us = loop {
        tokio::select! {
            biased;
            result = child.wait() => {
                status = Some(result.map_err(|source| ProcessError::Wait { program: spec.program.clone(), source })?);
                break None;
            }
            () = cancel.cancelled() => break Some(Termination::Cancelled),
            () = sleep_until_optional(deadline) => break Some(Termination::TimedOut),
            () = &mut drain, if !drained => drained = true,
            () = next_sample(&mut samples) => {
                if let Some(watch) = &mut watch {
                    let sample = crate::group_cpu::group_sample(pid);
                    if let Activity::Stalled(quiet) = watch.observe(Instant::now(), chunks.load(Ordering::Relaxed), sample) {
                        tracing::info!(program = %spec.program.to_string_lossy(), quiet_s = quiet.as_secs_f64(), "no output and no CPU for the stall timeout; stopping the process group");
                        break Some(Termination::Stalled);
                    }
                }
            }
        }
    };

    if stopped_by_us.is_some() {
        // Polite stop first, then SIGKILL after the grace period.
        group.signal(Signal::SIGTERM);
        sweep.escaped().await;
        let grace_deadline = Instant::now() + spec.kill_grace;
        while status.is_none() || !drained {
            tokio::select! {
                result = child.wait(), if status.is_none() => {
                    status = Some(result.map_err(|source| ProcessError::Wait { program: spec.program.clone(), source })?);
                }
                () = &mut drain, if !drained => drained = true,
                () = sleep_until(grace_deadline) => break,
            }
        }
    } else if !drained {
        // The child is gone; give leftovers in its group a moment to finish writing.
        tokio::select! {
            () = &mut drain => drained = true,
            () = sleep(LEFTOVER_GRACE) => {}
        }
    }
    group.signal(Signal::SIGKILL);
    let status = match status {
        Some(status) => status,
        None => child.wait().await.map_err(|source| ProcessError::Wait {
            program: spec.program.clone(),
            source,
        })?,
    };
    let duration = started.elapsed();
    // Processes that left the group (`setsid`) may hold the pipes: end them first.
    sweep.run().await;
    if !drained {
        tokio::select! {
            () = &mut drain => {}
            () = sleep(DRAIN_AFTER_KILL) => {
                tracing::warn!(program = %spec.program.to_string_lossy(), "output pipes still open after the process group was killed; a process outside the group holds them, giving up on its output");
            }
        }
    }
    group.disarm();
    Ok((
        stopped_by_us.unwrap_or_else(|| termination_of(status)),
        duration,
    ))
}

fn outcome(
    termination: Termination,
    duration: Duration,
    summary: CaptureSummary,
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

fn captured(
    termination: Termination,
    duration: Duration,
    stdout: BoundedBuffer,
    stderr: BoundedBuffer,
) -> CapturedOutput {
    CapturedOutput {
        termination,
        duration,
        stdout: stdout.bytes,
        stdout_truncated: stdout.truncated,
        stderr: stderr.bytes,
        stderr_truncated: stderr.truncated,
    }
}

fn wait_error(program: &OsStr, message: &str) -> ProcessError {
    ProcessError::Wait {
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

/// The next tick of the stall samples, or never when the child is not watched.
async fn next_sample(samples: &mut Option<Interval>) {
    match samples {
        Some(samples) => {
            samples.tick().await;
        }
        None => std::future::pending().await,
    }
}

/// Sleeps until `deadline`, or forever when there is none.
async fn sleep_until_optional(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// Reads one pipe to its end into the capture and the line callback, counting the
/// chunks in `chunks` (the stall watch's sign of output).
async fn pump<R: AsyncRead + Unpin>(
    reader: Option<R>,
    capture: &Mutex<OutputCapture>,
    chunks: &AtomicU64,
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
        chunks.fetch_add(1, Ordering::Relaxed);
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

/// Writes `input` to the child's stdin and closes it. A child that exits or closes
/// its stdin without reading everything is not an error: the rest is dropped.
async fn feed<W: AsyncWrite + Unpin>(stdin: Option<W>, input: &[u8]) {
    let Some(mut stdin) = stdin else { return };
    if let Err(error) = stdin.write_all(input).await
        && error.kind() != std::io::ErrorKind::BrokenPipe
    {
        tracing::debug!(%error, "writing the child's stdin failed; closing it");
    }
}

/// Reads one pipe to its end into a bounded buffer, counting the chunks in `chunks`.
async fn collect<R: AsyncRead + Unpin>(
    reader: Option<R>,
    buffer: &mut BoundedBuffer,
    chunks: &AtomicU64,
) {
    let Some(mut reader) = reader else { return };
    let mut chunk = vec![0_u8; READ_CHUNK];
    loop {
        match reader.read(&mut chunk).await {
            Ok(0) => break,
            Ok(read) => {
                chunks.fetch_add(1, Ordering::Relaxed);
                buffer.push(&chunk[..read]);
            }
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
            Err(error) => {
                tracing::warn!(%error, "reading child output failed; treating it as end of output");
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests;
