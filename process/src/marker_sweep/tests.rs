//! Tests of the marker sweep against real processes that leave their process group with
//! `setsid`, alone and under the supervisor (exit, timeout, cancel, dropped future).

use std::fs;
use std::path::Path;
use std::process::{Child, Command};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::*;
use crate::process_outcome::Termination;
use crate::process_spec::{OutputLimits, ProcessSpec};
use crate::run_process;

/// A marker no other test uses: the temporary directory is unique.
fn marker_for(dir: &Path) -> String {
    format!("test-run/{}/1/tool", dir.display())
}

/// `sh -c script` in `dir`, marked with `marker`.
fn marked_sh(dir: &Path, script: &str, marker: &str) -> ProcessSpec {
    let mut spec = ProcessSpec::new("sh", ["-c", script], dir);
    spec.kill_grace = Duration::from_millis(500);
    spec.containment.marker = Some(marker.to_owned());
    spec
}

/// Pids of live (non-zombie) processes whose marker matches `which`.
fn live_marked(which: MarkerMatch<'_>) -> Vec<u32> {
    let mut buffer = Vec::new();
    fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|entry| {
            let pid = entry.file_name().to_str()?.parse::<u32>().ok()?;
            marker_of(&entry.path(), which, &mut buffer)?;
            Some(pid)
        })
        .collect()
}

/// True when `pid` no longer runs: gone, or a zombie (the init process of a container
/// may not reap).
fn is_gone(pid: u32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
    }
}

/// Waits (bounded, 10 s) until `path` holds a pid, written by a child as its handshake.
async fn read_pid(path: &Path) -> u32 {
    for _ in 0..500 {
        if let Ok(text) = fs::read_to_string(path)
            && let Ok(pid) = text.trim().parse()
        {
            return pid;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("no pid written to {}", path.display());
}

/// A script that starts a writer in a new session (announcing its pid in `pid`), which
/// would write `f` after 30 s, then runs `then`.
fn setsid_writer(then: &str) -> String {
    format!(
        "setsid sh -c 'echo $$ > pid; sleep 30; echo late > f' & \
         until [ -s pid ]; do sleep 0.01; done; {then}"
    )
}

async fn run(spec: &ProcessSpec, dir: &Path, cancel: CancellationToken) -> Termination {
    run_process(
        spec,
        &dir.join("log"),
        &OutputLimits::default(),
        None,
        cancel,
    )
    .await
    .unwrap()
    .termination
}

/// After `run_process` returned, the escaped writer is gone, nothing carries the marker,
/// and `f` does not exist.
fn assert_swept(dir: &Path, marker: &str, writer: u32) {
    assert!(is_gone(writer), "the setsid writer {writer} survived");
    assert_eq!(live_marked(MarkerMatch::Exact(marker)), Vec::<u32>::new());
    assert!(!dir.join("f").exists(), "the late write landed");
}

#[tokio::test]
async fn a_setsid_writer_is_killed_when_the_child_exits() {
    let dir = tempfile::tempdir().unwrap();
    let marker = marker_for(dir.path());
    let spec = marked_sh(dir.path(), &setsid_writer("exit 0"), &marker);
    let started = std::time::Instant::now();
    assert_eq!(
        run(&spec, dir.path(), CancellationToken::new()).await,
        Termination::Exited(0)
    );
    let writer = read_pid(&dir.path().join("pid")).await;
    assert_swept(dir.path(), &marker, writer);
    // The writer held the output pipes: the sweep, not the drain's give-up, ended it.
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_setsid_writer_is_killed_when_the_child_fails() {
    let dir = tempfile::tempdir().unwrap();
    let marker = marker_for(dir.path());
    let spec = marked_sh(dir.path(), &setsid_writer("exit 3"), &marker);
    assert_eq!(
        run(&spec, dir.path(), CancellationToken::new()).await,
        Termination::Exited(3)
    );
    let writer = read_pid(&dir.path().join("pid")).await;
    assert_swept(dir.path(), &marker, writer);
}

#[tokio::test]
async fn a_setsid_writer_is_killed_at_the_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let marker = marker_for(dir.path());
    let mut spec = marked_sh(dir.path(), &setsid_writer("sleep 30"), &marker);
    spec.timeout = Some(Duration::from_millis(300));
    assert_eq!(
        run(&spec, dir.path(), CancellationToken::new()).await,
        Termination::TimedOut
    );
    let writer = read_pid(&dir.path().join("pid")).await;
    assert_swept(dir.path(), &marker, writer);
}

#[tokio::test]
async fn a_setsid_writer_is_killed_on_cancel() {
    let dir = tempfile::tempdir().unwrap();
    let marker = marker_for(dir.path());
    let spec = marked_sh(
        dir.path(),
        &setsid_writer("touch started; sleep 30"),
        &marker,
    );
    let cancel = CancellationToken::new();
    let trigger = cancel.clone();
    let started = dir.path().join("started");
    tokio::spawn(async move {
        while !started.exists() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        trigger.cancel();
    });
    assert_eq!(run(&spec, dir.path(), cancel).await, Termination::Cancelled);
    let writer = read_pid(&dir.path().join("pid")).await;
    assert_swept(dir.path(), &marker, writer);
}

#[tokio::test]
async fn dropping_the_supervisor_sweeps_the_marker() {
    let dir = tempfile::tempdir().unwrap();
    let marker = marker_for(dir.path());
    let spec = marked_sh(dir.path(), &setsid_writer("sleep 30"), &marker);
    let pid_file = dir.path().join("pid");
    // Leaving the select drops the supervising future half-way.
    let writer = tokio::select! {
        _ = run(&spec, dir.path(), CancellationToken::new()) => panic!("the child ended by itself"),
        writer = read_pid(&pid_file) => writer,
    };
    assert_swept(dir.path(), &marker, writer);
}

#[tokio::test]
async fn an_unmarked_child_leaves_its_setsid_process_alone() {
    // Without a marker there is nothing to find: the sweep must not kill by guesswork.
    let dir = tempfile::tempdir().unwrap();
    let mut spec = ProcessSpec::new(
        "sh",
        [
            "-c",
            "setsid sh -c 'echo $$ > pid; exec sleep 30' >/dev/null 2>&1 & until [ -s pid ]; do sleep 0.01; done",
        ],
        dir.path(),
    );
    spec.kill_grace = Duration::from_millis(500);
    assert_eq!(
        run(&spec, dir.path(), CancellationToken::new()).await,
        Termination::Exited(0)
    );
    let writer = read_pid(&dir.path().join("pid")).await;
    assert!(!is_gone(writer), "an unmarked process was killed");
    let raw = i32::try_from(writer).unwrap();
    kill(Pid::from_raw(raw), Signal::SIGKILL).unwrap();
}

#[tokio::test]
async fn a_process_that_cleared_its_environment_dies_with_its_marked_group() {
    let dir = tempfile::tempdir().unwrap();
    let marker = marker_for(dir.path());
    // The session leader is marked; its child cleared its environment but stays in the
    // leader's group.
    let script = "setsid sh -c 'env -i sh -c \"echo \\$\\$ > cleared; exec sleep 30\" & echo $$ > pid; sleep 30' & \
                  until [ -s pid ] && [ -s cleared ]; do sleep 0.01; done";
    let spec = marked_sh(dir.path(), script, &marker);
    assert_eq!(
        run(&spec, dir.path(), CancellationToken::new()).await,
        Termination::Exited(0)
    );
    let leader = read_pid(&dir.path().join("pid")).await;
    let cleared = read_pid(&dir.path().join("cleared")).await;
    assert!(is_gone(leader), "the marked session leader survived");
    for _ in 0..500 {
        if is_gone(cleared) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the unmarked member {cleared} of a marked group survived");
}

/// Starts `sleep 30` carrying `marker`, in its own process group.
fn marked_sleep(marker: &str) -> Child {
    use std::os::unix::process::CommandExt;
    Command::new("sleep")
        .arg("30")
        .env(MARKER_ENV, marker)
        .process_group(0)
        .spawn()
        .unwrap()
}

#[test]
fn a_prefix_sweep_ends_every_attempt_of_one_run_only() {
    let dir = tempfile::tempdir().unwrap();
    let run = format!("r{}", std::process::id());
    let other_run = format!("{run}0");
    let mut ours = [
        marked_sleep(&format!("{run}/ws/a/1/tool")),
        marked_sleep(&format!("{run}/b/2/test-1")),
    ];
    let mut theirs = marked_sleep(&format!("{other_run}/ws/a/1/tool"));
    let prefix = format!("{run}/");
    let report = sweep_marked_blocking(MarkerMatch::Prefix(&prefix), SWEEP_LIMIT);
    assert!(report.survivors.is_empty(), "{report:?}");
    let mut markers: Vec<&str> = report.killed.iter().map(|k| k.marker.as_str()).collect();
    markers.sort_unstable();
    assert_eq!(
        markers,
        [format!("{run}/b/2/test-1"), format!("{run}/ws/a/1/tool")]
    );
    for child in &mut ours {
        assert!(!child.wait().unwrap().success(), "killed");
    }
    assert_eq!(
        theirs.try_wait().unwrap(),
        None,
        "another run's process lives"
    );
    theirs.kill().unwrap();
    theirs.wait().unwrap();
    drop(dir);
}

#[test]
fn markers_match_whole_entries_only() {
    let environ = b"A=1\0PIPELINE_CONTAINMENT=r1/a/1/tool\0B=PIPELINE_CONTAINMENT=r1/x\0";
    assert_eq!(
        matching_marker(environ, MarkerMatch::Exact("r1/a/1/tool")),
        Some(&b"r1/a/1/tool"[..])
    );
    assert_eq!(
        matching_marker(environ, MarkerMatch::Exact("r1/a/1/too")),
        None
    );
    assert_eq!(matching_marker(environ, MarkerMatch::Exact("r1/x")), None);
    assert_eq!(
        matching_marker(environ, MarkerMatch::Prefix("r1/")),
        Some(&b"r1/a/1/tool"[..])
    );
    assert_eq!(matching_marker(environ, MarkerMatch::Prefix("r2/")), None);
    assert_eq!(matching_marker(b"", MarkerMatch::Prefix("")), None);
}

#[test]
fn a_sweep_with_nothing_to_find_returns_at_once() {
    let started = std::time::Instant::now();
    let report = sweep_marked_blocking(MarkerMatch::Exact("no-such-run/none/1/tool"), SWEEP_LIMIT);
    assert_eq!(report, SweepReport::default());
    assert!(started.elapsed() < Duration::from_secs(1));
}

#[test]
fn only_larger_pids_are_read_shortly_after_the_spawn_and_without_a_wrap() {
    let now = std::process::id();
    assert_eq!(
        Candidates::descendants_of(now, Duration::ZERO),
        Candidates::AtLeast(now)
    );
    // Spawned long ago: the pid counter may have gone round.
    assert_eq!(
        Candidates::descendants_of(now, FAST_WINDOW),
        Candidates::All
    );
    // A child pid above the last pid handed out: the counter wrapped.
    assert_eq!(
        Candidates::descendants_of(u32::MAX, Duration::ZERO),
        Candidates::All
    );
    assert!(Candidates::AtLeast(10).admits(10) && !Candidates::AtLeast(10).admits(9));
}
