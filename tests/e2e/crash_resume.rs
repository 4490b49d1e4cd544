//! Crash safety: SIGKILL at any moment, Ctrl-C, resume, changed definitions, one driver
//! per run.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::process::Child;

use crate::handshake::{await_file, wait_until};
use crate::support::{Test, interrupt, step_state};

fn spawn_run(t: &Test, file: &Path, run_id: &str) -> Child {
    t.spawn(&[
        "run",
        file.to_str().expect("utf-8 path"),
        "--run-id",
        run_id,
        "--jobs",
        "2",
    ])
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
    let hold = await_file(&release);
    let ws = t.workstream(
        "ws.json",
        &format!(
            r#"[{{"id": "fast1", "command": "echo fast1 >> {ran}; echo 1 > fast1.txt"}},
                {{"id": "fast2", "command": "echo fast2 >> {ran}; echo 2 > fast2.txt"}},
                {{"id": "slow", "depends_on": ["fast1"], "command": "echo slow-start >> {ran}; echo s > slow.txt; {hold}"}},
                {{"id": "after", "depends_on": ["slow", "fast2"], "command": "echo after >> {ran}; test -f fast1.txt && test -f slow.txt && echo a > after.txt"}}]"#
        ),
    );
    let mut child = spawn_run(&t, &ws, "crash");
    let before = t.wait_for_status("crash", "fast steps completed and slow running", |v| {
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
    let started = t.out.join("started");
    let released = t.out.join("released");
    for dir in [&started, &released] {
        std::fs::create_dir_all(dir).unwrap();
    }
    // 24 steps: a fan-out, a chain, and a join. Each records that it ran, announces that
    // its tool started (as `started/<step>.<pid of the pipeline process driving it>`), and
    // holds until the test releases it: the test decides which steps complete before each
    // kill, and kills while a tool is at work.
    let mut ids = Vec::new();
    let mut steps = Vec::new();
    let mut step = |id: String, deps: String, work: String| {
        steps.push(format!(
            r#"{{"id": "{id}", "depends_on": [{deps}], "command": "echo {id} >> {ran}; {work}; touch {started}/{id}.$PPID; {wait}"}}"#,
            started = started.display(),
            wait = await_file(&released.join(&id).to_string_lossy()),
        ));
        ids.push(id);
    };
    for i in 0..12 {
        step(
            format!("fan{i}"),
            String::new(),
            format!("echo {i} > fan{i}.txt"),
        );
    }
    for i in 0..11 {
        let dep = if i == 0 {
            "fan0".to_string()
        } else {
            format!("chain{}", i - 1)
        };
        step(
            format!("chain{i}"),
            format!("\"{dep}\""),
            format!("echo {i} > chain{i}.txt"),
        );
    }
    let fans: Vec<String> = (0..12).map(|i| format!("\"fan{i}\"")).collect();
    step(
        "join".to_string(),
        format!("{}, \"chain10\"", fans.join(", ")),
        "ls fan*.txt chain*.txt | wc -l > join.txt".to_string(),
    );
    let ws = t.workstream("ws.json", &format!("[{}]", steps.join(",\n")));

    // A step whose tool, started by the driver `pid`, announced itself and is not released.
    let held = |pid: u32, released_ids: &HashSet<String>| {
        std::fs::read_dir(&started)
            .ok()?
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter_map(|name| Some(name.strip_suffix(&format!(".{pid}"))?.to_string()))
            .find(|id| !released_ids.contains(id))
    };
    let mut released_ids: HashSet<String> = HashSet::new();
    let mut child = spawn_run(&t, &ws, "kills");
    // How many steps the test lets complete before each kill.
    let rounds = [2usize, 5, 1, 4];
    // After each kill: the steps the database recorded completed, and how often each
    // step's tool had run.
    let mut snapshots: Vec<(Vec<String>, HashMap<String, usize>)> = Vec::new();
    for (round, completions) in rounds.iter().enumerate() {
        let pid = child.id();
        for _ in 0..*completions {
            let id = wait_until(&format!("round {round}: a held step"), || {
                held(pid, &released_ids)
            });
            std::fs::write(released.join(&id), "go").unwrap();
            released_ids.insert(id.clone());
            t.wait_for_status("kills", &format!("{id} completed"), |v| {
                step_state(v, &id) == "completed"
            });
        }
        let busy = wait_until(&format!("round {round}: a step at work"), || {
            held(pid, &released_ids)
        });
        child.kill().expect("SIGKILL pipeline");
        child.wait().unwrap();
        let status = t.status("kills");
        assert_eq!(
            step_state(&status, &busy),
            "running",
            "killed while {busy} was at work: {status:#}"
        );
        let done: Vec<String> = status["steps"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["status"] == "completed")
            .map(|s| s["id"].as_str().unwrap().to_string())
            .collect();
        assert!(!done.is_empty() && done.len() < 24, "{status:#}");
        snapshots.push((done, counts(&t.out_lines("ran"))));
        if round + 1 < rounds.len() {
            child = t.spawn(&["resume", "kills"]);
        }
    }
    // Release every step (orphaned tools too) and finish the run.
    for id in &ids {
        std::fs::write(released.join(id), "go").unwrap();
    }
    t.pipeline(&["resume", "kills"]).assert_ok();
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
    let hold = await_file(&release);
    let ws = t.workstream(
        "ws.json",
        &format!(r#"[{{"id": "quick", "command": "echo q > q.txt"}}, {{"id": "wait", "command": "{hold}; echo w > w.txt"}}]"#),
    );
    let mut child = spawn_run(&t, &ws, "intr");
    t.wait_for_status("intr", "wait step running", |v| {
        step_state(v, "wait") == "running" && step_state(v, "quick") == "completed"
    });
    assert_eq!(interrupt(&mut child), Some(130));
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
    let hold = await_file(&release);
    let ws = t.workstream(
        "ws.json",
        &format!(r#"{{"id": "hold", "command": "{hold}"}}"#),
    );
    let mut child = spawn_run(&t, &ws, "locked");
    t.wait_for_status("locked", "step running", |v| {
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
    let hold = await_file(&release);
    let ws = t.workstream(
        "ws.json",
        &format!(
            r#"{{"id": "hold", "command": "echo $$ > {pidfile}; {hold}; echo done > held.txt"}}"#
        ),
    );
    let mut child = spawn_run(&t, &ws, "orphan");
    t.wait_for_status("orphan", "step running", |v| {
        step_state(v, "hold") == "running"
    });
    let old_pid = wait_until("the tool to write its pid", || {
        t.out_lines("tool.pid").first().cloned()
    });
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

    let mut resume = t.spawn(&["resume", "orphan"]);
    wait_until(
        &format!("resume to stop the orphaned tool {old_pid}"),
        || (!alive(&old_pid)).then_some(()),
    );
    std::fs::write(&release, "go").unwrap();
    assert_eq!(resume.wait().unwrap().code(), Some(0));
    assert_eq!(t.events("orphan", "hold", "orphans_killed").len(), 1);
    assert_eq!(t.step_status("orphan", "hold")["attempts"], 2);
}
