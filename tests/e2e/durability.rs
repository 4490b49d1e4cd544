//! `--durability full` makes git's writes durable too (issue 10, point 6): measured with
//! strace by `scripts/fsync-count.sh`, a run at `full` fsyncs under `.git` at least once
//! per completed step (its objects and refs), a run at `normal` never does.

use std::collections::HashMap;
use std::path::Path;

/// The `fsyncs level=... steps=... wal=... git=... other=...` lines of the script's
/// output, by level, each as its counts by name.
fn counts(stdout: &str) -> HashMap<String, HashMap<String, u64>> {
    stdout
        .lines()
        .filter_map(|line| line.strip_prefix("fsyncs "))
        .map(|fields| {
            let pairs: HashMap<&str, &str> = fields
                .split_whitespace()
                .filter_map(|pair| pair.split_once('='))
                .collect();
            let level = pairs["level"].to_owned();
            let numbers = pairs
                .iter()
                .filter(|(key, _)| **key != "level")
                .map(|(key, value)| ((*key).to_owned(), value.parse().expect("a count")))
                .collect();
            (level, numbers)
        })
        .collect()
}

#[test]
fn full_durability_fsyncs_git_for_every_step_and_normal_never_does() {
    if which_strace().is_none() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "strace is not installed (scripts/test.sh installs it); required under CI=true"
        );
        eprintln!("SKIP: strace is not installed (apt-get install strace)");
        return;
    }
    let steps = 3;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/fsync-count.sh");
    let out = std::process::Command::new("bash")
        .arg(&script)
        .args(["--steps", &steps.to_string()])
        .env("PIPELINE_BIN", assert_cmd::cargo::cargo_bin("pipeline"))
        .output()
        .expect("run scripts/fsync-count.sh");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "fsync-count.sh failed\n--- stdout ---\n{stdout}\n--- stderr ---\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let counts = counts(&stdout);
    let (normal, full) = (&counts["normal"], &counts["full"]);
    assert_eq!(normal["steps"], steps);
    assert_eq!(normal["git"], 0, "normal never fsyncs git: {stdout}");
    assert!(
        full["git"] >= steps,
        "full fsyncs git at least once per step: {stdout}"
    );
    assert!(
        full["wal"] >= 1 && full["wal"] > normal["wal"],
        "full fsyncs the WAL: {stdout}"
    );
}

/// `strace` on the `PATH`, if any.
fn which_strace() -> Option<std::path::PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join("strace"))
        .find(|path| path.is_file())
}
