//! What scripts and CI read: status and runs JSON, NDJSON events, JUnit, logs, tools, clean.

use serde_json::Value;

use crate::support::Test;

fn two_step(t: &Test) -> std::path::PathBuf {
    t.workstream(
        "ws.json",
        r#"[{"id": "hello", "command": "echo hello from the tool; echo hi > hi.txt", "acceptance_tests": ["test -f hi.txt", {"name": "says hi", "command": "grep -q hi hi.txt"}]},
            {"id": "broken", "command": "echo broken on purpose >&2; exit 2"}]"#,
    )
}

#[test]
fn status_and_runs_json_follow_the_interface_contract() {
    let t = Test::new();
    let f = two_step(&t);
    t.run(&f, "r1", 2).assert_code(1);
    let v = t.status("r1");
    assert_eq!(v["run_id"], "r1");
    assert_eq!(v["status"], "failed");
    for s in v["steps"].as_array().unwrap() {
        for key in [
            "id",
            "status",
            "attempts",
            "commit",
            "started_at",
            "finished_at",
            "error",
        ] {
            assert!(s.get(key).is_some(), "step lacks {key}: {s:#}");
        }
    }
    let hello = t.step_status("r1", "hello");
    assert_eq!(hello["status"], "completed");
    assert_eq!(hello["commit"].as_str().unwrap().len(), 40);
    assert_eq!(
        t.git(&["rev-parse", "pipeline-steps/r1/hello"]),
        hello["commit"].as_str().unwrap()
    );

    let f2 = t.workstream("other.json", r#"{"id": "x", "command": "true"}"#);
    t.run(&f2, "r2", 1).assert_ok();
    let runs: Value =
        serde_json::from_str(&t.pipeline(&["runs", "--json"]).assert_ok().stdout()).unwrap();
    let runs = runs.as_array().unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0]["run_id"], "r2", "newest first");
    for key in ["run_id", "status", "workstream", "started_at"] {
        assert!(runs[0].get(key).is_some(), "run lacks {key}");
    }
    assert!(
        runs[0]["workstream"]
            .as_str()
            .unwrap()
            .ends_with("other.json")
    );
}

#[test]
fn json_events_are_ndjson() {
    let t = Test::new();
    let f = two_step(&t);
    let r = t
        .pipeline(&["run", f.to_str().unwrap(), "--run-id", "ev", "--json"])
        .assert_code(1);
    let events: Vec<Value> = r
        .stdout()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect();
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(kinds.first(), Some(&"run_started"));
    assert!(kinds.contains(&"attempt_started") && kinds.contains(&"test_finished"));
    assert_eq!(&kinds[kinds.len() - 2..], &["run_finished", "summary"]);
    let failed = events.iter().find(|e| e["event"] == "step_failed").unwrap();
    assert_eq!(failed["step"], "broken");
}

#[test]
fn junit_report_has_a_case_per_step_and_per_acceptance_test() {
    let t = Test::new();
    let f = two_step(&t);
    let junit = t.out.join("report.xml");
    t.pipeline(&[
        "run",
        f.to_str().unwrap(),
        "--run-id",
        "ju",
        "--junit",
        junit.to_str().unwrap(),
    ])
    .assert_code(1);
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains(r#"<testcase name="step hello""#), "{xml}");
    assert!(
        xml.contains(r#"<testcase name="hello :: test -f hi.txt""#),
        "{xml}"
    );
    assert!(
        xml.contains(r#"<testcase name="hello :: says hi""#),
        "{xml}"
    );
    assert!(
        xml.contains(r#"<testcase name="step broken""#) && xml.contains("<failure"),
        "{xml}"
    );
    assert!(
        xml.contains(r#"tests="4""#) && xml.contains(r#"failures="1""#),
        "{xml}"
    );
}

#[test]
fn logs_show_the_tool_output_of_an_attempt() {
    let t = Test::new();
    let f = two_step(&t);
    t.run(&f, "lg", 2).assert_code(1);
    let out = t.pipeline(&["logs", "lg", "hello"]).assert_ok().stdout();
    assert!(out.contains("hello from the tool"), "{out}");
    assert!(
        out.contains("1.test-1.log"),
        "acceptance test logs follow: {out}"
    );
    let out = t
        .pipeline(&["logs", "lg", "broken", "--attempt", "1"])
        .assert_ok()
        .stdout();
    assert!(out.contains("broken on purpose"), "{out}");
    t.pipeline(&["logs", "lg", "nope"])
        .assert_code(2)
        .assert_stderr_contains("has no step `nope`");
    t.pipeline(&["logs", "lg", "hello", "--attempt", "7"])
        .assert_code(2);
    t.pipeline(&["status", "unknown-run"])
        .assert_code(2)
        .assert_stderr_contains("pipeline runs");
}

#[test]
fn clean_removes_worktrees_step_branches_and_logs_but_keeps_results() {
    let t = Test::new();
    let f = two_step(&t);
    t.run(&f, "cl", 2).assert_code(1);
    assert!(t.repo.join(".pipeline/worktrees/cl/broken").is_dir());
    let r = t.pipeline(&["clean", "cl", "--json"]).assert_ok();
    let v: Value = serde_json::from_str(&r.stdout()).unwrap();
    assert_eq!(v["runs"], serde_json::json!(["cl"]));
    assert!(!t.repo.join(".pipeline/worktrees/cl").exists());
    assert!(!t.repo.join(".pipeline/logs/cl").exists());
    assert_eq!(t.git(&["branch", "--list", "pipeline-steps/cl/*"]), "");
    assert!(!t.git(&["worktree", "list"]).contains("worktrees/cl"));
    assert!(
        t.show("pipeline/cl", "hi.txt").is_some(),
        "the result branch stays"
    );
    assert_eq!(t.status("cl")["status"], "failed", "history stays");
}

#[test]
fn tools_lists_profiles_and_availability() {
    let t = Test::new();
    std::fs::create_dir_all(t.repo.join(".pipeline")).unwrap();
    std::fs::write(t.repo.join(".pipeline/config.yaml"), "tools:\n  lint:\n    kind: custom\n    command: sh\n    args: [\"-c\", \"echo lint\"]\n    capabilities: [linting]\n").unwrap();
    let v: Value =
        serde_json::from_str(&t.pipeline(&["tools", "--json"]).assert_ok().stdout()).unwrap();
    let lint = v
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "lint")
        .unwrap();
    assert!(lint["found"].as_str().unwrap().ends_with("/sh"));
    assert!(v.as_array().unwrap().iter().any(|p| p["name"] == "aider"));
    // A workstream can use the repository's profile by name or by capability.
    let f = t.workstream("ws.json", r#"[{"id": "a", "tool": "lint", "tasks": ["lint it"]}, {"id": "b", "capability": "linting", "tasks": ["lint"]}]"#);
    t.run(&f, "tl", 2).assert_ok();
    let out = t.pipeline(&["logs", "tl", "a"]).assert_ok().stdout();
    assert!(out.contains("lint"), "{out}");
}
