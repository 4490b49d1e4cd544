//! Unit tests of `stall_watch`: the rules on synthetic samples (no processes).

use std::time::Duration;

use tokio::time::Instant;

use super::{Activity, QUIET_CPU_FLOOR, StallWatch, sample_interval};
use crate::group_cpu::GroupSample;

/// A sample of `used` CPU time with nothing blocked on the disk.
fn cpu(used: Duration) -> Option<GroupSample> {
    Some(GroupSample {
        cpu: used,
        disk_wait: false,
    })
}

const TIMEOUT: Duration = Duration::from_secs(10);

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Observes `watch` every second from `start` + `from` s to `start` + `to` s with the
/// same output count and CPU times from `cpu_at(second)`; the last verdict.
fn run(
    watch: &mut StallWatch,
    start: Instant,
    seconds: std::ops::RangeInclusive<u64>,
    chunks: u64,
    cpu_at: impl Fn(u64) -> Duration,
) -> Activity {
    let mut last = Activity::Active;
    for s in seconds {
        last = watch.observe(start + Duration::from_secs(s), chunks, cpu(cpu_at(s)));
    }
    last
}

#[test]
fn a_silent_idle_child_is_stalled_after_its_timeout() {
    let start = Instant::now();
    let mut watch = StallWatch::new(TIMEOUT, start);
    assert_eq!(
        run(&mut watch, start, 1..=9, 0, |_| ms(30)),
        Activity::Quiet(Duration::from_secs(9))
    );
    assert_eq!(
        watch.observe(start + TIMEOUT, 0, cpu(ms(30))),
        Activity::Stalled(TIMEOUT)
    );
}

#[test]
fn output_restarts_the_quiet_time() {
    let start = Instant::now();
    let mut watch = StallWatch::new(TIMEOUT, start);
    run(&mut watch, start, 1..=8, 0, |_| ms(0));
    assert_eq!(
        watch.observe(start + Duration::from_secs(9), 1, cpu(ms(0))),
        Activity::Active
    );
    assert_eq!(
        run(&mut watch, start, 10..=18, 1, |_| ms(0)),
        Activity::Quiet(Duration::from_secs(9))
    );
    assert_eq!(
        watch.observe(start + Duration::from_secs(19), 1, cpu(ms(0))),
        Activity::Stalled(TIMEOUT)
    );
}

#[test]
fn a_silent_busy_child_is_never_stalled() {
    let start = Instant::now();
    let mut watch = StallWatch::new(TIMEOUT, start);
    watch.observe(start, 0, cpu(ms(0)));
    // A third of a core: a busy loop on a crowded machine.
    for s in 1..=60 {
        assert_eq!(
            watch.observe(start + Duration::from_secs(s), 0, cpu(ms(s * 333))),
            Activity::Active,
            "second {s}"
        );
    }
}

#[test]
fn an_idle_runtime_s_housekeeping_is_not_work() {
    // Claude Code waiting on a socket, as sampled here: ticks of 0-80 ms per second.
    let bursts = [0, 0, 40, 0, 0, 10, 10, 0, 80, 0, 0, 10, 0, 0];
    let start = Instant::now();
    let mut watch = StallWatch::new(TIMEOUT, start);
    let mut used = Duration::ZERO;
    let mut verdicts = Vec::new();
    for (s, burst) in (1..).zip(bursts) {
        used += ms(burst);
        verdicts.push(watch.observe(start + Duration::from_secs(s), 0, cpu(used)));
    }
    assert_eq!(verdicts[8], Activity::Quiet(Duration::from_secs(9)));
    assert_eq!(verdicts[9], Activity::Stalled(TIMEOUT));
}

#[test]
fn work_after_a_quiet_spell_makes_it_active_then_quiet_again() {
    let start = Instant::now();
    let mut watch = StallWatch::new(TIMEOUT, start);
    run(&mut watch, start, 1..=5, 0, |_| ms(0));
    // Half a second of CPU in one second: more than the floor.
    assert_eq!(
        watch.observe(start + Duration::from_secs(6), 0, cpu(ms(500))),
        Activity::Active
    );
    assert_eq!(
        run(&mut watch, start, 7..=15, 0, |_| ms(500)),
        Activity::Quiet(Duration::from_secs(9))
    );
    assert_eq!(
        watch.observe(start + Duration::from_secs(16), 0, cpu(ms(500))),
        Activity::Stalled(TIMEOUT)
    );
}

#[test]
fn cpu_below_the_floor_right_after_activity_is_not_work() {
    let start = Instant::now();
    let mut watch = StallWatch::new(TIMEOUT, start);
    watch.observe(start, 0, cpu(ms(0)));
    assert_eq!(
        watch.observe(start + ms(500), 0, cpu(QUIET_CPU_FLOOR)),
        Activity::Quiet(ms(500))
    );
    assert_eq!(
        watch.observe(start + ms(600), 0, cpu(QUIET_CPU_FLOOR + ms(10))),
        Activity::Active
    );
}

#[test]
fn a_member_leaving_with_its_cpu_time_is_not_negative_work() {
    let start = Instant::now();
    let mut watch = StallWatch::new(TIMEOUT, start);
    assert_eq!(
        watch.observe(start + Duration::from_secs(1), 0, cpu(ms(5000))),
        Activity::Active
    );
    // A helper that used 4.9 s exited and nobody waited for it: the sum drops.
    assert_eq!(
        watch.observe(start + Duration::from_secs(2), 0, cpu(ms(100))),
        Activity::Quiet(Duration::from_secs(1))
    );
    assert_eq!(
        run(&mut watch, start, 3..=11, 0, |_| ms(100)),
        Activity::Stalled(TIMEOUT)
    );
}

#[test]
fn without_cpu_samples_only_output_counts() {
    let start = Instant::now();
    let mut watch = StallWatch::new(TIMEOUT, start);
    assert_eq!(
        watch.observe(start + Duration::from_secs(5), 0, None),
        Activity::Quiet(Duration::from_secs(5))
    );
    assert_eq!(
        watch.observe(start + Duration::from_secs(10), 0, None),
        Activity::Stalled(TIMEOUT)
    );
}

#[test]
fn start_up_work_counts_as_activity() {
    let start = Instant::now();
    let mut watch = StallWatch::new(TIMEOUT, start);
    assert_eq!(
        watch.observe(start + ms(500), 0, cpu(ms(400))),
        Activity::Active
    );
}

#[test]
fn a_short_timeout_lowers_the_floor_so_a_slow_busy_child_is_seen() {
    let start = Instant::now();
    let timeout = ms(500);
    let mut watch = StallWatch::new(timeout, start);
    // A fifth of a core, sampled every 100 ms: 20 ms a sample, above the floor of 50 ms
    // by the third sample.
    let verdicts: Vec<Activity> = (1..=10)
        .map(|i| watch.observe(start + ms(i * 100), 0, cpu(ms(i * 20))))
        .collect();
    assert!(
        verdicts.iter().all(|v| !matches!(v, Activity::Stalled(_))),
        "{verdicts:?}"
    );
    assert!(verdicts.contains(&Activity::Active), "{verdicts:?}");
}

#[test]
fn a_process_blocked_on_the_disk_is_not_stalled() {
    let start = Instant::now();
    let mut watch = StallWatch::new(TIMEOUT, start);
    run(&mut watch, start, 1..=9, 0, |_| ms(0));
    let reading = Some(GroupSample {
        cpu: ms(0),
        disk_wait: true,
    });
    assert_eq!(
        watch.observe(start + Duration::from_secs(10), 0, reading),
        Activity::Active
    );
    assert_eq!(
        watch.observe(start + Duration::from_secs(11), 0, cpu(ms(0))),
        Activity::Quiet(Duration::from_secs(1))
    );
}

#[test]
fn samples_are_a_tenth_of_the_timeout_within_bounds() {
    assert_eq!(
        sample_interval(Duration::from_secs(300)),
        Duration::from_secs(1)
    );
    assert_eq!(sample_interval(Duration::from_secs(2)), ms(200));
    assert_eq!(sample_interval(ms(300)), ms(100));
}
