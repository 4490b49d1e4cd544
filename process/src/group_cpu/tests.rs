//! Unit tests of `group_cpu`: the `/proc/<pid>/stat` parser on real lines, and samples of
//! real process groups (Linux).

use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{ProcStat, group_sample, parse_run_delay, parse_stat, ticks_to_duration};

/// The CPU time of group `pgid` (used and waited for), read from `/proc`.
fn group_cpu_time(pgid: u32) -> Option<Duration> {
    group_sample(pgid).map(|sample| sample.cpu)
}

#[test]
fn parses_the_group_and_sums_the_four_time_fields() {
    // Captured from `cat /proc/self/stat` (Linux 6.x), times edited to distinct values.
    let line = "25710 (claude) S 1 25710 25710 0 -1 4194560 40000 0 12 0 731 95 6 4 20 0 11 0 93471 1100000000 60000 18446744073709551615 1 1 0 0 0 0 0 16781312 17642 0 0 0 17 1 0 0 0 0 0\n";
    assert_eq!(
        parse_stat(line),
        Some(ProcStat {
            state: 'S',
            pgrp: 25710,
            cpu_ticks: 731 + 95 + 6 + 4
        })
    );
}

#[test]
fn a_command_name_with_spaces_and_parentheses_does_not_shift_the_fields() {
    let line = "7 (a) b (c)) R 6 42 7 0 -1 0 0 0 0 0 10 20 30 40 20 0 1 0 5 0 0";
    assert_eq!(
        parse_stat(line),
        Some(ProcStat {
            state: 'R',
            pgrp: 42,
            cpu_ticks: 100
        })
    );
}

#[test]
fn a_cut_or_garbled_line_is_not_a_sample() {
    assert_eq!(parse_stat(""), None);
    assert_eq!(parse_stat("12 (sh) S 1 12 12 0 -1 0 0 0 0 0 5"), None);
    assert_eq!(parse_stat("12 (sh) D 1 x 12 0 -1 0 0 0 0 0 5 6 7 8"), None);
}

#[test]
fn the_run_queue_wait_is_the_second_schedstat_field() {
    // `cat /proc/self/schedstat` here.
    assert_eq!(parse_run_delay("0 932576 1\n"), Some(932_576));
    assert_eq!(parse_run_delay("4711"), None);
    assert_eq!(parse_run_delay(""), None);
}

#[test]
fn ticks_become_durations() {
    assert_eq!(ticks_to_duration(0, 100), Duration::ZERO);
    assert_eq!(ticks_to_duration(250, 100), Duration::from_millis(2500));
    assert_eq!(
        ticks_to_duration(3, 1024),
        Duration::from_nanos(3 * 976_562)
    );
    assert_eq!(ticks_to_duration(7, 0), Duration::from_secs(7));
}

/// `sh -c script` as the leader of a new process group.
fn group(script: &str) -> Child {
    Command::new("sh")
        .args(["-c", script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .expect("sh starts")
}

fn stop(mut child: Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// Samples `pgid` until `done` says so or `limit` passes; the last sample.
fn sample_until(pgid: u32, limit: Duration, done: impl Fn(Duration) -> bool) -> Duration {
    let end = Instant::now() + limit;
    loop {
        let cpu = group_cpu_time(pgid).expect("/proc is readable on Linux");
        if done(cpu) || Instant::now() >= end {
            return cpu;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[cfg(target_os = "linux")]
#[test]
fn a_busy_group_accumulates_cpu_time_and_a_sleeping_one_does_not() {
    let busy = group("while :; do :; done");
    let sleeping = group("sleep 30");
    let busy_cpu = sample_until(busy.id(), Duration::from_secs(20), |cpu| {
        cpu >= Duration::from_millis(300)
    });
    let sleeping_cpu = group_cpu_time(sleeping.id()).expect("/proc is readable");
    stop(busy);
    stop(sleeping);
    assert!(
        busy_cpu >= Duration::from_millis(300),
        "a busy loop must show CPU time, sampled {busy_cpu:?}"
    );
    assert!(
        sleeping_cpu < Duration::from_millis(100),
        "`sleep` uses next to no CPU, sampled {sleeping_cpu:?}"
    );
}

#[cfg(target_os = "linux")]
#[test]
fn the_time_of_a_finished_helper_stays_counted_in_its_waiting_parent() {
    // The helper burns CPU and exits; the shell waits for it (its time moves to the
    // shell's cutime) and then sleeps, writing a mark once the helper is gone.
    let dir = tempfile::tempdir().expect("temporary directory");
    let mark = dir.path().join("helper-done");
    let script = format!(
        "sh -c 'i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done'; touch '{}'; sleep 30",
        mark.display()
    );
    let parent = group(&script);
    let end = Instant::now() + Duration::from_secs(60);
    while !mark.exists() && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(20));
    }
    let cpu = group_cpu_time(parent.id()).expect("/proc is readable");
    let finished = mark.exists();
    stop(parent);
    assert!(finished, "the helper did not finish within a minute");
    assert!(
        cpu >= Duration::from_millis(50),
        "the helper's time must still count once it exited, sampled {cpu:?}"
    );
}

#[cfg(target_os = "linux")]
#[test]
fn a_group_with_no_process_left_has_used_nothing() {
    let mut child = group("exit 0");
    let pgid = child.id();
    child.wait().expect("sh exits");
    assert_eq!(group_cpu_time(pgid), Some(Duration::ZERO));
}
