//! Handshakes between a test and the steps it runs, instead of sleeps.
//!
//! A step's command announces a moment by creating a marker file and, where the test must
//! act first, waits for a release file the test writes; the test waits for markers (or for
//! a state it reads with `pipeline status`). Every wait on either side is bounded by
//! [`LIMIT`], so a broken promise fails the test with a message naming what never
//! happened instead of hanging it. The shell side polls every 50 ms: that is how often it
//! looks, not how long anything is given to happen.

use std::time::{Duration, Instant};

/// How long either side waits for the other before giving up.
pub const LIMIT: Duration = Duration::from_secs(60);

/// Exit code of a step whose wait for a file ran out (see [`await_file`]).
pub const GAVE_UP: i32 = 97;

/// A shell snippet (for a step's `command`) that waits until the shell `condition`
/// succeeds, polling every 50 ms; after [`LIMIT`] it prints that it gave up waiting for
/// `what` (no single quotes in it) and exits with [`GAVE_UP`], failing the step.
pub fn await_condition(condition: &str, what: &str) -> String {
    let polls = LIMIT.as_millis() / 50;
    format!(
        "n=0; until {condition}; do n=$((n+1)); if [ $n -gt {polls} ]; then echo 'handshake: gave up waiting for {what}' >&2; exit {GAVE_UP}; fi; sleep 0.05; done"
    )
}

/// A shell snippet (for a step's `command`, no double quotes inside) that waits until
/// `path` exists; see [`await_condition`].
pub fn await_file(path: &str) -> String {
    await_condition(&format!("[ -e {path} ]"), path)
}

/// Polls `cond` every 20 ms until it returns `Some`, and returns that value; panics
/// naming `what` after [`LIMIT`].
pub fn wait_until<T>(what: &str, mut cond: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + LIMIT;
    loop {
        if let Some(value) = cond() {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits until the file at `path` exists (see [`wait_until`]).
pub fn wait_for_file(path: &std::path::Path) {
    wait_until(&format!("{} to exist", path.display()), || {
        path.exists().then_some(())
    });
}
