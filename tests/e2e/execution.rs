//! Scheduling and execution: parallelism, dependency order, timeouts, failures.

use crate::handshake::await_file;
use crate::support::Test;

/// Asserts that in `run`'s journal no step of `steps` began an attempt while another of
/// them was between its `attempt_started` and its `step_completed`: their work never
/// overlapped. The scheduler records both before anything of the attempt can be seen and
/// after all of it is done (write-ahead), so the journal's order is the order of the work.
fn assert_one_at_a_time(t: &Test, run: &str, steps: &[&str]) {
    let journal = t.journal(run);
    let mut busy: Option<&str> = None;
    for event in &journal {
        let Some(step) = event.step.as_deref().filter(|s| steps.contains(s)) else {
            continue;
        };
        match event.kind.as_str() {
            "attempt_started" => {
                assert!(
                    busy.is_none() || busy == Some(step),
                    "{step} started while {busy:?} was at work: {journal:#?}"
                );
                busy = Some(step);
            }
            "step_completed" => busy = None,
            _ => {}
        }
    }
    for step in steps {
        assert!(
            journal
                .iter()
                .any(|e| e.kind == "step_completed" && e.step.as_deref() == Some(step)),
            "{step} completed: {journal:#?}"
        );
    }
}

#[test]
fn independent_steps_run_at_the_same_time() {
    let t = Test::new();
    // Each step announces that it started, then waits for the other one's announcement:
    // both can only finish if they are running at the same time.
    let step = |me: &str, other: &str| {
        format!(
            r#"{{"id": "{me}", "command": "touch {mine}; {wait}"}}"#,
            mine = t.out_path(&format!("{me}.started")),
            wait = await_file(&t.out_path(&format!("{other}.started"))),
        )
    };
    let ws = t.workstream(
        "ws.json",
        &format!("[{}, {}]", step("a", "b"), step("b", "a")),
    );
    t.run(&ws, "par", 2).assert_ok();
    assert_eq!(t.status("par")["status"], "completed");
}

#[test]
fn jobs_one_runs_steps_one_at_a_time() {
    let t = Test::new();
    let ws = t.workstream(
        "ws.json",
        r#"[{"id": "a", "command": "touch a.txt"}, {"id": "b", "command": "touch b.txt"}]"#,
    );
    t.run(&ws, "serial", 1).assert_ok();
    assert_one_at_a_time(&t, "serial", &["a", "b"]);
}

#[test]
fn conflict_group_and_overlapping_scopes_never_run_together() {
    let t = Test::new();
    let s = |name: &str, extra: &str| {
        format!(r#"{{"id": "{name}", "command": "touch {name}.txt", {extra}}}"#)
    };
    let ws = t.workstream(
        "ws.json",
        &format!(
            "[{}, {}, {}, {}]",
            s("g1", r#""conflict_group": "db""#),
            s("g2", r#""conflict_group": "db""#),
            s("s1", r#""files_scope": ["src/", "s1.txt"]"#),
            s("s2", r#""files_scope": ["src/api/x.rs", "s2.txt"]"#),
        ),
    );
    t.run(&ws, "excl", 4).assert_ok();
    assert_one_at_a_time(&t, "excl", &["g1", "g2"]);
    assert_one_at_a_time(&t, "excl", &["s1", "s2"]);
}

#[test]
fn dependencies_run_in_order_and_see_their_inputs() {
    let t = Test::new();
    let order = t.out_path("order");
    let ws = t.workstream(
        "ws.json",
        &format!(
            r#"{{"id": "chain", "steps": [
                {{"id": "c", "depends_on": ["b"], "command": "echo c >> {order}; test -f a.txt && test -f b.txt && touch c.txt"}},
                {{"id": "a", "command": "echo a >> {order}; touch a.txt"}},
                {{"id": "b", "depends_on": ["a"], "command": "echo b >> {order}; test -f a.txt && touch b.txt"}}
            ]}}"#
        ),
    );
    t.run(&ws, "order", 3).assert_ok();
    assert_eq!(t.out_lines("order"), vec!["a", "b", "c"]);
    for f in ["a.txt", "b.txt", "c.txt"] {
        assert!(
            t.show("pipeline/order", f).is_some(),
            "{f} on the result branch"
        );
    }
}

#[test]
fn a_failed_step_skips_its_dependents_and_independent_steps_carry_on() {
    let t = Test::new();
    let ws = t.workstream(
        "ws.json",
        r#"[{"id": "bad", "command": "echo 'something broke' >&2; exit 3"},
            {"id": "after-bad", "depends_on": ["bad"], "command": "touch never.txt"},
            {"id": "after-after", "depends_on": ["after-bad"], "command": "touch never2.txt"},
            {"id": "good", "command": "touch good.txt"}]"#,
    );
    let r = t.run(&ws, "fail", 2).assert_code(1);
    assert!(r.stdout().contains("Failed: bad"), "{}", r.stdout());
    let bad = t.step_status("fail", "bad");
    assert_eq!(bad["status"], "failed");
    assert_eq!(bad["attempts"], 1);
    let err = bad["error"].as_str().unwrap();
    assert!(
        err.contains("exit 3") && err.contains("something broke"),
        "{err}"
    );
    for s in ["after-bad", "after-after"] {
        let st = t.step_status("fail", s);
        assert_eq!(st["status"], "skipped", "{st:#}");
        assert_eq!(st["attempts"], 0);
    }
    assert_eq!(t.step_status("fail", "good")["status"], "completed");
    assert_eq!(t.status("fail")["status"], "failed");
    assert!(
        t.show("pipeline/fail", "good.txt").is_some(),
        "completed work is on the result branch"
    );
    assert!(
        t.repo.join(".pipeline/worktrees/fail/bad").is_dir(),
        "failed step's worktree kept"
    );
}

#[test]
fn a_timeout_kills_the_whole_process_group() {
    let t = Test::new();
    let pid = t.out_path("grandchild.pid");
    let ws = t.workstream("ws.json", &format!(r#"{{"id": "hang", "timeout_sec": 1, "command": "sh -c 'sleep 300' & echo $! > {pid}; wait"}}"#));
    t.run(&ws, "timeout", 1).assert_code(1);
    let st = t.step_status("timeout", "hang");
    assert!(
        st["error"].as_str().unwrap().contains("timed out"),
        "{st:#}"
    );
    let pid: i32 = t.out_lines("grandchild.pid")[0].parse().unwrap();
    // The group was SIGKILLed before pipeline returned; give the kernel a moment to reap.
    let mut alive = true;
    for _ in 0..50 {
        let out = std::process::Command::new("kill")
            .args(["-0", &pid.to_string()])
            .output()
            .unwrap();
        if !out.status.success() {
            alive = false;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(!alive, "grandchild {pid} survived the timeout");
}

#[test]
fn acceptance_tests_gate_completion() {
    let t = Test::new();
    let ws = t.workstream(
        "ws.json",
        r#"[{"id": "ok", "command": "echo 1 > n.txt", "acceptance_tests": ["grep -q 1 n.txt", {"name": "named", "command": "test -f n.txt"}]},
            {"id": "nope", "command": "echo 2 > m.txt", "acceptance_tests": ["grep -q 1 m.txt"]}]"#,
    );
    t.run(&ws, "tests", 2).assert_code(1);
    let ok = t.step_status("tests", "ok");
    assert_eq!(ok["status"], "completed");
    assert_eq!(ok["tests"].as_array().unwrap().len(), 2);
    assert_eq!(ok["tests"][1]["name"], "named");
    let nope = t.step_status("tests", "nope");
    assert_eq!(nope["status"], "failed");
    assert!(
        nope["error"]
            .as_str()
            .unwrap()
            .contains("acceptance test `grep -q 1 m.txt` failed"),
        "{nope:#}"
    );
    assert!(
        t.show("pipeline/tests", "m.txt").is_none(),
        "a failed step's change is not in the result"
    );
}

#[test]
fn isolation_none_runs_in_place_and_commits_nothing() {
    let t = Test::new();
    let marker = t.out_path("pwd");
    let ws = t.workstream(
        "ws.json",
        &format!(r#"{{"id": "check", "isolation": "none", "command": "pwd > {marker}"}}"#),
    );
    t.run(&ws, "inplace", 1).assert_ok();
    let pwd = std::fs::canonicalize(t.out_lines("pwd")[0].clone()).unwrap();
    assert_eq!(pwd, std::fs::canonicalize(&t.repo).unwrap());
}

#[test]
fn huge_output_is_bounded_in_the_log() {
    let t = Test::new();
    let ws = t.workstream(
        "ws.json",
        r#"{"id": "loud", "command": "head -c 100000000 /dev/zero | tr '\\0' 'x'; echo done"}"#,
    );
    t.run(&ws, "loud", 1).assert_ok();
    let log = t.repo.join(".pipeline/logs/loud/loud/1.log");
    let size = std::fs::metadata(&log).unwrap().len();
    assert!(size < 70 * 1024 * 1024, "log is bounded: {size} bytes");
    let out = t.pipeline(&["logs", "loud", "loud", "--paths"]).assert_ok();
    assert!(out.stdout().contains("1.log"));
}
