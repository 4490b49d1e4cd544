//! Tests of the supervisor against real child processes (`sh`, `sleep`, `head`, `tr`).

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::signal::kill;
use nix::unistd::Pid;
use tokio_util::sync::CancellationToken;

use super::{run_captured, run_captured_blocking, run_process};
use crate::captured_output::CaptureLimits;
use crate::process_error::ProcessError;
use crate::process_outcome::Termination;
use crate::process_spec::{OutputLimits, ProcessSpec};

fn sh(dir: &Path, script: &str) -> ProcessSpec {
    let mut spec = ProcessSpec::new("sh", ["-c", script], dir);
    spec.kill_grace = Duration::from_secs(1);
    spec
}

fn log_path(dir: &Path) -> PathBuf {
    dir.join("logs/run-1/step-1/1.log")
}

/// True when `pid` no longer runs: gone, or a zombie waiting for its new parent (the
/// init process of a container may not reap).
fn process_is_gone(pid: i32) -> bool {
    match kill(Pid::from_raw(pid), None) {
        Err(Errno::ESRCH) => true,
        _ => fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|stat| {
                stat.rsplit_once(')')
                    .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'))
            })
            .unwrap_or(true),
    }
}

/// Polls for up to 10 s until `pid` is gone; returns whether it went.
async fn wait_until_gone(pid: i32) -> bool {
    for _ in 0..200 {
        if process_is_gone(pid) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

/// Polls for up to 10 s until `path` holds a pid.
async fn read_pid_file(path: &Path) -> i32 {
    for _ in 0..200 {
        if let Ok(text) = fs::read_to_string(path)
            && let Ok(pid) = text.trim().parse()
        {
            return pid;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no pid written to {}", path.display());
}

#[tokio::test]
async fn reports_exit_code_and_logs_both_streams() {
    let dir = tempfile::tempdir().unwrap();
    let spec = sh(dir.path(), "echo hello; echo oops >&2; exit 3");
    let log = log_path(dir.path());
    let outcome = run_process(
        &spec,
        &log,
        &OutputLimits::default(),
        None,
        CancellationToken::new(),
    )
    .await
    .unwrap();
    assert_eq!(outcome.termination, Termination::Exited(3));
    assert_eq!(outcome.output_bytes, 11);
    assert_eq!(outcome.log_bytes, 11);
    assert!(!outcome.truncated);
    assert!(outcome.tail.contains("hello\n"), "{:?}", outcome.tail);
    assert!(outcome.tail.contains("oops\n"), "{:?}", outcome.tail);
    let text = fs::read_to_string(&log).unwrap();
    assert!(
        text.contains("[pipeline] command: sh -c 'echo hello; echo oops >&2; exit 3'"),
        "{text}"
    );
    assert!(
        text.contains(&format!("[pipeline] cwd: {}", dir.path().display())),
        "{text}"
    );
    assert!(
        text.contains("hello\n") && text.contains("oops\n"),
        "{text}"
    );
    assert!(
        text.contains("[pipeline] result: exited with code 3"),
        "{text}"
    );
}

#[tokio::test]
async fn reports_a_signal_the_child_died_of() {
    let dir = tempfile::tempdir().unwrap();
    let spec = sh(dir.path(), "kill -KILL $$");
    let outcome = run_process(
        &spec,
        &log_path(dir.path()),
        &OutputLimits::default(),
        None,
        CancellationToken::new(),
    )
    .await
    .unwrap();
    assert_eq!(outcome.termination, Termination::Signaled(9));
    let text = fs::read_to_string(log_path(dir.path())).unwrap();
    assert!(text.contains("killed by signal 9 (SIGKILL)"), "{text}");
}

#[tokio::test]
async fn timeout_kills_the_whole_group() {
    let dir = tempfile::tempdir().unwrap();
    let mut spec = sh(dir.path(), "sleep 300 & echo $! > pid; wait");
    spec.timeout = Some(Duration::from_secs(1));
    let outcome = run_process(
        &spec,
        &log_path(dir.path()),
        &OutputLimits::default(),
        None,
        CancellationToken::new(),
    )
    .await
    .unwrap();
    assert_eq!(outcome.termination, Termination::TimedOut);
    let pid = read_pid_file(&dir.path().join("pid")).await;
    assert!(
        wait_until_gone(pid).await,
        "grandchild {pid} survived the timeout"
    );
    let text = fs::read_to_string(log_path(dir.path())).unwrap();
    assert!(
        text.contains("timed out after 1 s; process group terminated"),
        "{text}"
    );
}

#[tokio::test]
async fn sigkill_follows_when_sigterm_is_ignored() {
    let dir = tempfile::tempdir().unwrap();
    // Ignored signals stay ignored across exec, so `sleep` ignores SIGTERM too.
    let mut spec = sh(
        dir.path(),
        "trap '' TERM; sleep 300 & echo $! > pid; wait; wait",
    );
    spec.timeout = Some(Duration::from_secs(1));
    spec.kill_grace = Duration::from_millis(500);
    let outcome = run_process(
        &spec,
        &log_path(dir.path()),
        &OutputLimits::default(),
        None,
        CancellationToken::new(),
    )
    .await
    .unwrap();
    assert_eq!(outcome.termination, Termination::TimedOut);
    let pid = read_pid_file(&dir.path().join("pid")).await;
    assert!(
        wait_until_gone(pid).await,
        "grandchild {pid} survived SIGKILL"
    );
}

#[tokio::test]
async fn cancellation_kills_the_group_and_reports_cancelled() {
    let dir = tempfile::tempdir().unwrap();
    let spec = sh(dir.path(), "sleep 300 & echo $! > pid; wait");
    let cancel = CancellationToken::new();
    let pid_file = dir.path().join("pid");
    let canceller = {
        let cancel = cancel.clone();
        let pid_file = pid_file.clone();
        async move {
            let pid = read_pid_file(&pid_file).await;
            cancel.cancel();
            pid
        }
    };
    let log = log_path(dir.path());
    let limits = OutputLimits::default();
    let (outcome, pid) = tokio::join!(
        run_process(&spec, &log, &limits, None, cancel.clone()),
        canceller
    );
    assert_eq!(outcome.unwrap().termination, Termination::Cancelled);
    assert!(
        wait_until_gone(pid).await,
        "grandchild {pid} survived cancellation"
    );
}

#[tokio::test]
async fn an_already_cancelled_token_starts_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let spec = sh(dir.path(), "touch started");
    let cancel = CancellationToken::new();
    cancel.cancel();
    let outcome = run_process(
        &spec,
        &log_path(dir.path()),
        &OutputLimits::default(),
        None,
        cancel,
    )
    .await
    .unwrap();
    assert_eq!(outcome.termination, Termination::Cancelled);
    assert!(!dir.path().join("started").exists());
}

#[tokio::test]
async fn dropping_the_future_kills_the_group() {
    let dir = tempfile::tempdir().unwrap();
    let spec = sh(dir.path(), "sleep 300 & echo $! > pid; wait");
    let log = log_path(dir.path());
    let pid_file = dir.path().join("pid");
    let limits = OutputLimits::default();
    let pid = tokio::select! {
        _ = run_process(&spec, &log, &limits, None, CancellationToken::new()) => {
            panic!("the child cannot finish on its own");
        }
        pid = read_pid_file(&pid_file) => pid,
    };
    assert!(
        wait_until_gone(pid).await,
        "grandchild {pid} survived the dropped supervisor"
    );
}

#[tokio::test]
async fn background_grandchild_holding_stdout_does_not_hang_and_is_killed() {
    let dir = tempfile::tempdir().unwrap();
    let spec = sh(dir.path(), "sleep 300 & echo $! > pid; echo started");
    let outcome = run_process(
        &spec,
        &log_path(dir.path()),
        &OutputLimits::default(),
        None,
        CancellationToken::new(),
    )
    .await
    .unwrap();
    assert_eq!(outcome.termination, Termination::Exited(0));
    assert_eq!(outcome.tail, "started\n");
    let pid = read_pid_file(&dir.path().join("pid")).await;
    assert!(
        wait_until_gone(pid).await,
        "background grandchild {pid} leaked"
    );
}

#[tokio::test]
async fn huge_output_is_truncated_in_the_log_and_fully_drained() {
    let dir = tempfile::tempdir().unwrap();
    let spec = sh(
        dir.path(),
        "head -c 200000000 /dev/zero & head -c 200000000 /dev/zero >&2; wait",
    );
    let limits = OutputLimits {
        max_log_bytes: 1024 * 1024,
        tail_bytes: 16 * 1024,
    };
    let log = log_path(dir.path());
    let outcome = run_process(&spec, &log, &limits, None, CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(outcome.termination, Termination::Exited(0));
    assert_eq!(outcome.output_bytes, 400_000_000);
    assert_eq!(outcome.log_bytes, 1024 * 1024);
    assert!(outcome.truncated);
    assert_eq!(outcome.tail.len(), 16 * 1024);
    let size = fs::metadata(&log).unwrap().len();
    assert!(size <= 1024 * 1024 + 2048, "log is {size} bytes");
    let text = String::from_utf8_lossy(&fs::read(&log).unwrap()).into_owned();
    assert!(
        text.contains(
            "\n[pipeline: output truncated at 1048576 bytes; further output discarded]\n"
        ),
        "marker missing"
    );
    assert!(text.contains("(truncated)"), "footer missing");
}

#[tokio::test]
async fn line_callback_gets_complete_lines_of_each_stream() {
    let dir = tempfile::tempdir().unwrap();
    let spec = sh(
        dir.path(),
        "printf 'one\\ntwo\\n'; printf 'err\\n' >&2; printf 'last'",
    );
    let lines = Arc::new(Mutex::new(Vec::<String>::new()));
    let sink = lines.clone();
    let callback: super::LineCallback = Arc::new(move |line: &str| {
        sink.lock().unwrap().push(line.to_owned());
    });
    run_process(
        &spec,
        &log_path(dir.path()),
        &OutputLimits::default(),
        Some(callback),
        CancellationToken::new(),
    )
    .await
    .unwrap();
    let mut lines = lines.lock().unwrap().clone();
    lines.sort();
    assert_eq!(lines, vec!["err", "last", "one", "two"]);
}

#[tokio::test]
async fn environment_is_layered_or_cleared() {
    let dir = tempfile::tempdir().unwrap();
    let mut spec = ProcessSpec::new(
        "/bin/sh",
        ["-c", "echo \"A=$A B=$B HOME=${HOME:-unset}\""],
        dir.path(),
    );
    spec.env = vec![
        ("A".into(), "first".into()),
        ("B".into(), "1".into()),
        ("A".into(), "second".into()),
    ];
    spec.env_clear = true;
    let outcome = run_process(
        &spec,
        &log_path(dir.path()),
        &OutputLimits::default(),
        None,
        CancellationToken::new(),
    )
    .await
    .unwrap();
    assert_eq!(outcome.tail, "A=second B=1 HOME=unset\n");
}

#[tokio::test]
async fn missing_program_is_a_spawn_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let spec = ProcessSpec::new("pipeline-no-such-tool-xyz", ["--help"], dir.path());
    let log = log_path(dir.path());
    let error = run_process(
        &spec,
        &log,
        &OutputLimits::default(),
        None,
        CancellationToken::new(),
    )
    .await
    .unwrap_err();
    assert!(matches!(error, ProcessError::Spawn { .. }), "{error:?}");
    let message = error.to_string();
    assert!(message.contains("`pipeline-no-such-tool-xyz`"), "{message}");
    assert!(message.contains("PATH"), "{message}");
    let text = fs::read_to_string(&log).unwrap();
    assert!(text.contains("could not start"), "{text}");
}

#[tokio::test]
async fn missing_working_directory_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let spec = sh(&dir.path().join("gone"), "true");
    let error = run_process(
        &spec,
        &log_path(dir.path()),
        &OutputLimits::default(),
        None,
        CancellationToken::new(),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(error, ProcessError::WorkingDirectory { ref path } if path.ends_with("gone")),
        "{error:?}"
    );
}

#[test]
fn supervision_future_is_send() {
    fn assert_send<T: Send>(_: &T) {}
    let spec = ProcessSpec::new("true", Vec::<String>::new(), "/");
    let limits = OutputLimits::default();
    let future = run_process(
        &spec,
        Path::new("/dev/null"),
        &limits,
        None,
        CancellationToken::new(),
    );
    assert_send(&future);
}

#[tokio::test]
async fn captured_run_feeds_stdin_and_keeps_the_streams_apart() {
    let dir = tempfile::tempdir().unwrap();
    let spec = sh(dir.path(), "tr a-z A-Z; echo problem >&2; exit 4");
    let output = run_captured(
        &spec,
        b"hello\nworld\n",
        &CaptureLimits::default(),
        CancellationToken::new(),
    )
    .await
    .unwrap();
    assert_eq!(output.termination, Termination::Exited(4));
    assert_eq!(output.stdout, b"HELLO\nWORLD\n");
    assert_eq!(output.stderr, b"problem\n");
    assert!(!output.stdout_truncated && !output.stderr_truncated);
}

#[tokio::test]
async fn captured_run_bounds_output_and_survives_a_child_that_ignores_stdin() {
    let dir = tempfile::tempdir().unwrap();
    // The child never reads its 8 MiB of input and prints far more than the limits.
    let spec = sh(
        dir.path(),
        "head -c 3000000 /dev/zero; head -c 300000 /dev/zero >&2",
    );
    let input = vec![b'x'; 8 * 1024 * 1024];
    let limits = CaptureLimits {
        max_stdout_bytes: 1000,
        max_stderr_bytes: 10,
    };
    let output = run_captured(&spec, &input, &limits, CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(output.termination, Termination::Exited(0));
    assert_eq!(output.stdout.len(), 1000);
    assert!(output.stdout_truncated);
    assert_eq!(output.stderr.len(), 10);
    assert!(output.stderr_truncated);
}

#[test]
fn blocking_captured_run_times_out_and_kills_the_group_even_inside_a_runtime() {
    let dir = tempfile::tempdir().unwrap();
    let mut spec = sh(dir.path(), "sleep 300 & echo $! > pid; wait");
    spec.timeout = Some(Duration::from_millis(300));
    spec.kill_grace = Duration::from_millis(200);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // Called from inside a runtime, as the error engine's plugins may be.
    let output = runtime.block_on(async {
        run_captured_blocking(
            &spec,
            b"",
            &CaptureLimits::default(),
            CancellationToken::new(),
        )
    });
    assert_eq!(output.unwrap().termination, Termination::TimedOut);
    let pid = runtime.block_on(read_pid_file(&dir.path().join("pid")));
    assert!(
        runtime.block_on(wait_until_gone(pid)),
        "grandchild {pid} survived the timeout"
    );
}

#[tokio::test]
async fn a_bare_program_name_keeps_its_name_as_argv0() {
    let dir = tempfile::tempdir().unwrap();
    // `sh -c` without further arguments sets $0 from argv[0].
    let spec = ProcessSpec::new("sh", ["-c", "echo \"$0\""], dir.path());
    let first = run_captured(
        &spec,
        b"",
        &CaptureLimits::default(),
        CancellationToken::new(),
    )
    .await
    .unwrap();
    let second = run_captured(
        &spec,
        b"",
        &CaptureLimits::default(),
        CancellationToken::new(),
    )
    .await
    .unwrap();
    assert_eq!(first.stdout, b"sh\n");
    assert_eq!(
        second.stdout, b"sh\n",
        "the cached resolution behaves the same"
    );
}

#[tokio::test]
async fn a_program_on_the_spec_path_is_found_and_replaced_when_it_moves() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let first = dir.path().join("first");
    let second = dir.path().join("second");
    fs::create_dir_all(&first).unwrap();
    fs::create_dir_all(&second).unwrap();
    let write_tool = |dir: &Path, answer: &str| {
        let tool = dir.join("pipeline-test-tool");
        fs::write(&tool, format!("#!/bin/sh\necho {answer}\n")).unwrap();
        fs::set_permissions(&tool, fs::Permissions::from_mode(0o755)).unwrap();
        tool
    };
    let tool = write_tool(&first, "first");
    let mut spec = ProcessSpec::new("pipeline-test-tool", Vec::<String>::new(), dir.path());
    let path =
        std::env::join_paths([&first, &second, Path::new("/usr/bin"), Path::new("/bin")]).unwrap();
    spec.env = vec![("PATH".into(), path)];
    let limits = CaptureLimits::default();
    let run = || run_captured(&spec, b"", &limits, CancellationToken::new());
    assert_eq!(run().await.unwrap().stdout, b"first\n");
    // Moved: the cached path fails to spawn, is forgotten, and the new place is used.
    fs::remove_file(&tool).unwrap();
    write_tool(&second, "second");
    assert_eq!(run().await.unwrap().stdout, b"second\n");
}

/// `sh -c script` with stall timeout `stall` and a (longer) timeout `timeout`.
fn watched(dir: &Path, script: &str, stall: Duration, timeout: Duration) -> ProcessSpec {
    let mut spec = sh(dir, script);
    spec.stall_timeout = Some(stall);
    spec.timeout = Some(timeout);
    spec
}

async fn run_logged(spec: &ProcessSpec, dir: &Path) -> crate::ProcessOutcome {
    run_process(
        spec,
        &log_path(dir),
        &OutputLimits::default(),
        None,
        CancellationToken::new(),
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn a_silent_idle_child_is_stopped_as_stalled_with_its_whole_group() {
    let dir = tempfile::tempdir().unwrap();
    let spec = watched(
        dir.path(),
        "echo started; sleep 300 & echo $! > pid; wait",
        Duration::from_secs(1),
        Duration::from_secs(60),
    );
    let outcome = run_logged(&spec, dir.path()).await;
    assert_eq!(outcome.termination, Termination::Stalled);
    assert!(outcome.termination.was_stopped());
    assert!(
        outcome.duration >= Duration::from_secs(1) && outcome.duration < Duration::from_secs(20),
        "stalled after {:?}",
        outcome.duration
    );
    let pid = read_pid_file(&dir.path().join("pid")).await;
    assert!(
        wait_until_gone(pid).await,
        "grandchild {pid} survived the stall"
    );
    let text = fs::read_to_string(log_path(dir.path())).unwrap();
    assert!(text.contains("[pipeline] stall timeout: 1 s\n"), "{text}");
    assert!(
        text.contains("stalled: no output and no CPU for 1 s; process group terminated"),
        "{text}"
    );
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn a_silent_child_busy_on_cpu_is_not_stalled() {
    let dir = tempfile::tempdir().unwrap();
    // The busy loop is a grandchild: the whole group's CPU counts.
    let spec = watched(
        dir.path(),
        "sh -c 'while :; do :; done' & wait",
        Duration::from_millis(500),
        Duration::from_secs(3),
    );
    let outcome = run_logged(&spec, dir.path()).await;
    assert_eq!(outcome.termination, Termination::TimedOut);
}

#[tokio::test]
async fn a_child_that_keeps_printing_is_not_stalled() {
    let dir = tempfile::tempdir().unwrap();
    let spec = watched(
        dir.path(),
        "while :; do echo tick; sleep 0.1; done",
        Duration::from_millis(800),
        Duration::from_secs(3),
    );
    let outcome = run_logged(&spec, dir.path()).await;
    assert_eq!(outcome.termination, Termination::TimedOut);
    let text = fs::read_to_string(log_path(dir.path())).unwrap();
    assert!(text.contains("timed out after 3 s"), "{text}");
}

#[tokio::test]
async fn a_zero_stall_timeout_watches_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let spec = watched(
        dir.path(),
        "sleep 300",
        Duration::ZERO,
        Duration::from_secs(1),
    );
    let outcome = run_logged(&spec, dir.path()).await;
    assert_eq!(outcome.termination, Termination::TimedOut);
    let text = fs::read_to_string(log_path(dir.path())).unwrap();
    assert!(!text.contains("stall timeout"), "{text}");
}

#[test]
fn a_captured_child_that_stalls_is_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let spec = watched(
        dir.path(),
        "echo partial; sleep 300",
        Duration::from_millis(500),
        Duration::from_secs(60),
    );
    let out = run_captured_blocking(
        &spec,
        b"",
        &CaptureLimits::default(),
        CancellationToken::new(),
    )
    .unwrap();
    assert_eq!(out.termination, Termination::Stalled);
    assert_eq!(out.stdout, b"partial\n");
}
