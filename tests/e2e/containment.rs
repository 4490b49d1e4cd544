//! Nothing outlives its step: a process that leaves its step's process group with
//! `setsid` (as dev servers, watchers and daemons do) is ended when the attempt ends
//! (exit or timeout) and, after `kill -9` of `pipeline`, by resume before the step runs
//! again, so its late writes never reach a worktree, a result commit or `pipeline/<run>`.

use crate::handshake::{await_condition, await_file, wait_for_file};
use crate::support::Test;

/// Pids of live processes carrying a marker of run `run`
/// (`PIPELINE_CONTAINMENT=<state key>/<run>/…` in `/proc/<pid>/environ`; zombies have an
/// empty environment). Run ids of these tests are unique, so any state key matches.
fn marked_processes(run: &str) -> Vec<u32> {
    let is_marker_of_run = |entry: &[u8]| {
        entry
            .strip_prefix(b"PIPELINE_CONTAINMENT=")
            .and_then(|marker| {
                marker
                    .iter()
                    .position(|&b| b == b'/')
                    .map(|i| &marker[i + 1..])
            })
            .is_some_and(|rest| rest.starts_with(format!("{run}/").as_bytes()))
    };
    std::fs::read_dir("/proc")
        .expect("/proc is readable")
        .flatten()
        .filter_map(|entry| {
            let pid = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let environ = std::fs::read(entry.path().join("environ")).ok()?;
            environ
                .split(|&b| b == 0)
                .any(is_marker_of_run)
                .then_some(pid)
        })
        .collect()
}

/// Whether `pid` still runs (exists and is not a zombie waiting for a parent that does
/// not reap).
fn is_alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit_once(')')
            .is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z'))
    })
}

/// The pid a writer stored in the side-effect file `name`.
fn pid_in(t: &Test, name: &str) -> u32 {
    let lines = t.out_lines(name);
    lines
        .first()
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or_else(|| panic!("no pid in {name}: {lines:?}"))
}

/// A shell condition true once process `$(cat pid_file)` has stopped running.
fn writer_gone(pid_file: &str) -> String {
    format!("p=$(cat {pid_file}); [ ! -e /proc/$p ] || grep -q ' Z ' /proc/$p/stat")
}

/// A command snippet starting, in a new session and in the worktree, a writer that stores
/// its pid in `pid_file` and writes `late.txt` two seconds later; it returns once the pid
/// is stored.
fn start_setsid_writer(pid_file: &str) -> String {
    format!(
        "setsid sh -c 'echo $$ > {pid_file}; sleep 2; echo late > late.txt' & {}",
        await_condition(&format!("[ -s {pid_file} ]"), "the writer pid")
    )
}

#[test]
fn a_setsid_writer_ends_with_its_step_and_never_reaches_the_next_step() {
    let t = Test::new();
    let pid = t.out_path("writer.pid");
    let inodes = t.out_path("inodes");
    // `b` reuses `a`'s pooled worktree (one job), waits until the writer has stopped
    // running (killed, or gone after writing), then requires that it wrote nothing.
    let ws = t.workstream(
        "ws.json",
        &format!(
            r#"[{{"id": "a", "command": "stat -c %i . >> {inodes}; {start}; echo a > a.txt"}},
                {{"id": "b", "depends_on": ["a"], "command": "stat -c %i . >> {inodes}; {gone}; test ! -e late.txt && echo b > b.txt"}}]"#,
            start = start_setsid_writer(&pid),
            gone = await_condition(&writer_gone(&pid), "the writer to stop"),
        ),
    );
    t.run(&ws, "escape-end", 1).assert_ok();
    let writer = pid_in(&t, "writer.pid");
    assert!(
        !is_alive(writer),
        "the setsid writer {writer} outlived its step"
    );
    assert_eq!(marked_processes("escape-end"), Vec::<u32>::new());
    let inodes = t.out_lines("inodes");
    assert_eq!(inodes.len(), 2, "{inodes:?}");
    assert_eq!(inodes[0], inodes[1], "b reused a's worktree");
    assert!(t.show("pipeline/escape-end", "a.txt").is_some());
    assert!(t.show("pipeline/escape-end", "b.txt").is_some());
    assert_eq!(t.show("pipeline/escape-end", "late.txt"), None);
}

#[test]
fn a_setsid_writer_ends_at_its_steps_timeout() {
    let t = Test::new();
    let pid = t.out_path("writer.pid");
    let ws = t.workstream(
        "ws.json",
        &format!(
            r#"{{"id": "hang", "timeout_sec": 1, "retry": {{"max_attempts": 1}}, "command": "{start}; sleep 30"}}"#,
            start = start_setsid_writer(&pid),
        ),
    );
    t.run(&ws, "escape-timeout", 1).assert_code(1);
    let error = t.step_status("escape-timeout", "hang")["error"].to_string();
    assert!(error.contains("timed out"), "{error}");
    // Two seconds after it started, the writer would write: it must already be gone.
    let writer = pid_in(&t, "writer.pid");
    assert!(
        !is_alive(writer),
        "the setsid writer {writer} outlived the timeout"
    );
    assert_eq!(marked_processes("escape-timeout"), Vec::<u32>::new());
    let kept = t.repo.join(".pipeline/worktrees/escape-timeout/hang");
    assert!(kept.is_dir(), "the failed step's worktree is kept");
    assert!(!kept.join("late.txt").exists());
    assert_eq!(t.show("pipeline/escape-timeout", "late.txt"), None);
}

#[test]
fn resume_after_sigkill_ends_the_setsid_writer_before_the_step_runs_again() {
    let t = Test::new();
    let pid = t.out_path("writer.pid");
    let release = t.out_path("release");
    let first = t.out_path("first");
    let started = t.out.join("started");
    let seen = t.out_path("seen");
    // The writer leaves the worktree (as a daemon does), so only its marker finds it; once
    // released it writes into the worktree it came from.
    let child = t.out.join("writer.sh");
    std::fs::write(
        &child,
        format!(
            "cd {out}\necho $$ > {pid}\n{wait}\necho late > \"$1/late.txt\"\n",
            out = t.out.display(),
            wait = await_file(&release),
        ),
    )
    .unwrap();
    // First attempt: start the writer, announce it, and hold (until killed with
    // `pipeline`). Second attempt (after resume): record whether the writer still runs,
    // then release it, so a surviving writer would write `late.txt`.
    let ws = t.workstream(
        "ws.json",
        &format!(
            r#"{{"id": "a", "command": "if [ -e {first} ]; then if {gone}; then echo gone > {seen}; else echo alive > {seen}; fi; touch {release}; echo a > a.txt; else touch {first}; setsid sh {child} $PWD & {wait_pid}; touch {started}; {hold}; fi"}}"#,
            gone = writer_gone(&pid),
            child = child.display(),
            wait_pid = await_condition(&format!("[ -s {pid} ]"), "the writer pid"),
            started = started.display(),
            hold = await_file(&t.out_path("never")),
        ),
    );
    let mut pipeline = t.spawn(&["run", ws.to_str().unwrap(), "--run-id", "escape-crash"]);
    wait_for_file(&started);
    pipeline.kill().expect("SIGKILL pipeline");
    pipeline.wait().unwrap();
    let writer = pid_in(&t, "writer.pid");
    assert!(is_alive(writer), "the writer survives the killed pipeline");

    t.pipeline(&["resume", "escape-crash"]).assert_ok();
    assert_eq!(
        t.out_lines("seen"),
        ["gone"],
        "the writer ran into the re-run"
    );
    assert!(!is_alive(writer));
    assert_eq!(marked_processes("escape-crash"), Vec::<u32>::new());
    assert!(
        !t.events("escape-crash", "a", "orphans_killed").is_empty(),
        "resume records what it killed"
    );
    assert!(t.show("pipeline/escape-crash", "a.txt").is_some());
    assert_eq!(t.show("pipeline/escape-crash", "late.txt"), None);
    let worktree = t.repo.join(".pipeline/worktrees/escape-crash/a");
    assert!(!worktree.join("late.txt").exists());
}
