//! Crash safety: SIGKILL at any moment, Ctrl-C, resume, changed definitions, one driver
//! per run.

use std::collections::HashMap;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::Test;

fn spawn_run(t: &Test, file: &std::path::Path, run_id: &str, extra: &[&str]) -> Child {
    let bin = assert_cmd::cargo::cargo_bin("pipeline");
    std::process::Command::new(bin)
        .args([
            "run",
            file.to_str().unwrap(),
            "--run-id",
            run_id,
            "--jobs",
            "2",
        ])
        .args(extra)
        .current_dir(&t.repo)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn pipeline")
}

/// Polls `pipeline status --json` until `cond` holds (panics after 60 s).
fn wait_for(t: &Test, run_id: &str, what: &str, cond: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let out = t.cmd().args(["status", run_id, "--json"]).output().unwrap();
        if out.status.success()
            && let Ok(v) = serde_json::from_slice::<Value>(&out.stdout)
            && cond(&v)
        {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn step_state<'a>(v: &'a Value, id: &str) -> &'a str {
    v["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == id)
        .and_then(|s| s["status"].as_str())
        .unwrap_or("")
}

fn counts(lines: &[String]) -> HashMap<String, usize> {
    let mut m = HashMap::new();
    for l in lines {
        *m.entry(l.clone()).or_insert(0) += 1;
    }
    m
}

#[test]
fn sigkill_mid_run_then_resume_runs_no_completed_step_twice() {
    let t = Test::new();
    let ran = t.out_path("ran");
    let release = t.out_path("release");
    let ws = t.workstream(
        "ws.json",
        &format!(
            r#"[{{"id": "fast1", "command": "echo fast1 >> {ran}; echo 1 > fast1.txt"}},
                {{"id": "fast2", "command": "echo fast2 >> {ran}; echo 2 > fast2.txt"}},
                {{"id": "slow", "depends_on": ["fast1"], "command": "echo slow-start >> {ran}; echo s > slow.txt; while [ ! -f {release} ]; do sleep 0.05; done"}},
                {{"id": "after", "depends_on": ["slow", "fast2"], "command": "echo after >> {ran}; test -f fast1.txt && test -f slow.txt && echo a > after.txt"}}]"#
        ),
    );
    let mut child = spawn_run(&t, &ws, "crash", &[]);
    let before = wait_for(&t, "crash", "fast steps completed and slow running", |v| {
        step_state(v, "fast1") == "completed"
            && step_state(v, "fast2") == "completed"
            && step_state(v, "slow") == "running"
    });
    child.kill().expect("SIGKILL pipeline");
    child.wait().unwrap();
    assert_eq!(
        before["status"], "running",
        "a killed run stays recorded as running"
    );

    // Let the orphaned tool of `slow` finish; resume must run `slow` again anyway.
    std::fs::write(&release, "go").unwrap();
    let r = t.pipeline(&["resume", "crash"]).assert_ok();
    assert!(r.stderr().contains("kept      fast1"), "{}", r.stderr());

    let c = counts(&t.out_lines("ran"));
    assert_eq!(c.get("fast1"), Some(&1), "fast1 ran once: {c:?}");
    assert_eq!(c.get("fast2"), Some(&1), "fast2 ran once: {c:?}");
    assert_eq!(c.get("after"), Some(&1), "after ran once: {c:?}");
    assert_eq!(c.get("slow-start"), Some(&2), "slow restarted: {c:?}");
    let status = t.status("crash");
    assert_eq!(status["status"], "completed");
    assert_eq!(t.step_status("crash", "slow")["attempts"], 2);
    for f in ["fast1.txt", "fast2.txt", "slow.txt", "after.txt"] {
        assert!(
            t.show("pipeline/crash", f).is_some(),
            "{f} on the result branch"
        );
    }
}

#[test]
fn repeated_sigkill_at_different_moments_never_repeats_completed_work() {
    let t = Test::new();
    let ran = t.out_path("ran");
    // 24 short steps: a fan-out, a chain, and a join.
    let mut steps = Vec::new();
    for i in 0..12 {
        steps.push(format!(r#"{{"id": "fan{i}", "command": "echo fan{i} >> {ran}; echo {i} > fan{i}.txt; sleep 0.1"}}"#));
    }
    for i in 0..11 {
        let dep = if i == 0 {
            "fan0".to_string()
        } else {
            format!("chain{}", i - 1)
        };
        steps.push(format!(r#"{{"id": "chain{i}", "depends_on": ["{dep}"], "command": "echo chain{i} >> {ran}; echo {i} > chain{i}.txt; sleep 0.1"}}"#));
    }
    let fans: Vec<String> = (0..12).map(|i| format!("\"fan{i}\"")).collect();
    steps.push(format!(r#"{{"id": "join", "depends_on": [{}, "chain10"], "command": "echo join >> {ran}; ls fan*.txt chain*.txt | wc -l > join.txt"}}"#, fans.join(", ")));
    let ws = t.workstream("ws.json", &format!("[{}]", steps.join(",\n")));

    // Kill the driving process at several moments; after each kill, note which steps the
    // database recorded completed and how often each step's tool had run.
    let bin = assert_cmd::cargo::cargo_bin("pipeline");
    let mut child = spawn_run(&t, &ws, "kills", &[]);
    let mut snapshots: Vec<(Vec<String>, HashMap<String, usize>)> = Vec::new();
    let delays = [350u64, 600, 450, 800];
    for (round, delay_ms) in delays.iter().enumerate() {
        std::thread::sleep(Duration::from_millis(*delay_ms));
        let _ = child.kill();
        child.wait().unwrap();
        let status = t.status("kills");
        let done: Vec<String> = status["steps"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["status"] == "completed")
            .map(|s| s["id"].as_str().unwrap().to_string())
            .collect();
        snapshots.push((done, counts(&t.out_lines("ran"))));
        if status["status"] == "completed" || round + 1 == delays.len() {
            break;
        }
        child = std::process::Command::new(&bin)
            .args(["resume", "kills"])
            .current_dir(&t.repo)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
    }
    if t.status("kills")["status"] != "completed" {
        t.pipeline(&["resume", "kills"]).assert_ok();
    }
    let status = t.status("kills");
    assert_eq!(status["status"], "completed", "{status:#}");
    let last = counts(&t.out_lines("ran"));
    for (done, at_kill) in &snapshots {
        for id in done {
            assert_eq!(
                last.get(id),
                at_kill.get(id),
                "step {id} was recorded completed at a kill and ran again"
            );
        }
    }
    assert!(
        snapshots
            .iter()
            .any(|(done, _)| !done.is_empty() && done.len() < 24),
        "some kill landed mid-run"
    );
    assert_eq!(
        t.show("pipeline/kills", "join.txt")
            .map(|s| s.trim().to_string()),
        Some("23".to_string())
    );
}

#[test]
fn ctrl_c_interrupts_with_130_and_the_run_resumes() {
    let t = Test::new();
    let release = t.out_path("release");
    let ws = t.workstream(
        "ws.json",
        &format!(r#"[{{"id": "quick", "command": "echo q > q.txt"}}, {{"id": "wait", "command": "while [ ! -f {release} ]; do sleep 0.05; done; echo w > w.txt"}}]"#),
    );
    let mut child = spawn_run(&t, &ws, "intr", &[]);
    wait_for(&t, "intr", "wait step running", |v| {
        step_state(v, "wait") == "running" && step_state(v, "quick") == "completed"
    });
    let pid = child.id().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    let v = t.status("intr");
    assert_eq!(v["status"], "interrupted");
    assert_eq!(step_state(&v, "wait"), "interrupted");
    // Its tool was stopped: nothing keeps waiting for the release file.
    std::fs::write(&release, "go").unwrap();
    t.pipeline(&["resume"]).assert_ok();
    assert_eq!(t.status("intr")["status"], "completed");
    assert!(t.show("pipeline/intr", "w.txt").is_some());
}

#[test]
fn a_second_driver_is_refused_while_a_run_is_driven() {
    let t = Test::new();
    let release = t.out_path("release");
    let ws = t.workstream(
        "ws.json",
        &format!(r#"{{"id": "hold", "command": "while [ ! -f {release} ]; do sleep 0.05; done"}}"#),
    );
    let mut child = spawn_run(&t, &ws, "locked", &[]);
    wait_for(&t, "locked", "step running", |v| {
        step_state(v, "hold") == "running"
    });
    t.pipeline(&["resume", "locked"])
        .assert_code(2)
        .assert_stderr_contains(&format!("{}", child.id()));
    t.pipeline(&["run", ws.to_str().unwrap()])
        .assert_code(2)
        .assert_stderr_contains("--resume");
    std::fs::write(&release, "go").unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(0));
    // Once it is finished, the same file starts a new run without asking.
    t.pipeline(&["run", ws.to_str().unwrap(), "--run-id", "second"])
        .assert_ok();
}

#[test]
fn resume_reruns_changed_steps_and_their_dependents_only() {
    let t = Test::new();
    let ran = t.out_path("ran");
    let write = |b_cmd: &str, c_cmd: &str| {
        t.workstream(
            "ws.json",
            &format!(
                r#"[{{"id": "a", "command": "echo a >> {ran}; echo a > a.txt"}},
                    {{"id": "b", "depends_on": ["a"], "command": "echo b >> {ran}; {b_cmd}"}},
                    {{"id": "c", "depends_on": ["b"], "command": "echo c >> {ran}; {c_cmd}"}},
                    {{"id": "d", "command": "echo d >> {ran}; echo d > d.txt"}}]"#
            ),
        )
    };
    let ws = write("echo one > b.txt", "exit 1");
    t.run(&ws, "edit", 2).assert_code(1);
    write("echo two > b.txt", "cp b.txt c.txt");
    t.pipeline(&["resume", "edit"]).assert_ok();
    let c = counts(&t.out_lines("ran"));
    assert_eq!((c["a"], c["b"], c["c"], c["d"]), (1, 2, 2, 1), "{c:?}");
    assert_eq!(t.show("pipeline/edit", "c.txt").as_deref(), Some("two\n"));
    assert_eq!(t.status("edit")["status"], "completed");
}

#[test]
fn resume_kills_tools_left_running_by_the_crashed_process() {
    let t = Test::new();
    let pidfile = t.out_path("tool.pid");
    let release = t.out_path("release");
    let ws = t.workstream(
        "ws.json",
        &format!(r#"{{"id": "hold", "command": "echo $$ > {pidfile}; while [ ! -f {release} ]; do sleep 0.05; done; echo done > held.txt"}}"#),
    );
    let mut child = spawn_run(&t, &ws, "orphan", &[]);
    wait_for(&t, "orphan", "step running", |v| {
        step_state(v, "hold") == "running"
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    while t.out_lines("tool.pid").is_empty() {
        assert!(Instant::now() < deadline, "the tool never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    let old_pid = t.out_lines("tool.pid")[0].clone();
    child.kill().unwrap();
    child.wait().unwrap();
    let alive = |pid: &str| {
        std::process::Command::new("kill")
            .args(["-0", pid])
            .output()
            .unwrap()
            .status
            .success()
    };
    assert!(
        alive(&old_pid),
        "the crashed run's tool keeps running on its own"
    );

    let bin = assert_cmd::cargo::cargo_bin("pipeline");
    let mut resume = std::process::Command::new(bin)
        .args(["resume", "orphan"])
        .current_dir(&t.repo)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while alive(&old_pid) {
        assert!(
            Instant::now() < deadline,
            "resume did not stop the orphaned tool {old_pid}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    std::fs::write(&release, "go").unwrap();
    assert_eq!(resume.wait().unwrap().code(), Some(0));
    assert_eq!(t.events("orphan", "hold", "orphans_killed").len(), 1);
    assert_eq!(t.step_status("orphan", "hold")["attempts"], 2);
}
