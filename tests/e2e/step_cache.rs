//! The cross-run step cache (issue #15, docs/CACHE.md): a later run satisfies a step from
//! an earlier run's result when its content key is unchanged, re-runs exactly the steps
//! whose key changed, and `pipeline why` says why. Steps count their executions in
//! marker files under the test's `out` directory (outside the repository).

use std::path::Path;

use serde_json::Value;

use crate::support::Test;

/// A step that counts its runs in `out/<name>.runs` and then runs `then` in its worktree.
fn step(t: &Test, name: &str, then: &str) -> String {
    format!(
        "echo run >> {} && {then}",
        t.out_path(&format!("{name}.runs"))
    )
}

fn runs(t: &Test, name: &str) -> usize {
    t.out_lines(&format!("{name}.runs")).len()
}

fn tree(t: &Test, run: &str) -> String {
    t.git(&["rev-parse", &format!("pipeline/{run}^{{tree}}")])
}

fn cached(t: &Test, run: &str, step: &str) -> bool {
    !t.events(run, step, "step_cached").is_empty()
}

fn why(t: &Test, run: &str, step: &str) -> Value {
    let r = t.pipeline(&["why", run, step, "--json"]).assert_ok();
    serde_json::from_str(&r.stdout()).expect("why --json is JSON")
}

fn why_text(t: &Test, run: &str, step: &str) -> String {
    t.pipeline(&["why", run, step]).assert_ok().stdout()
}

fn run_with(t: &Test, ws: &Path, run: &str, extra: &[&str]) {
    let mut args = vec!["run", ws.to_str().unwrap(), "--run-id", run, "--jobs", "2"];
    args.extend_from_slice(extra);
    t.pipeline(&args).assert_ok();
}

/// a -> b, and c on its own: three shell steps writing files.
fn chain(t: &Test, a_text: &str) -> String {
    format!(
        r#"{{"id": "w", "steps": [
            {{"id": "a", "command": "{}"}},
            {{"id": "b", "command": "{}", "depends_on": ["a"]}},
            {{"id": "c", "command": "{}"}}
        ]}}"#,
        step(t, "a", &format!("echo {a_text} > a.txt")),
        step(t, "b", "cat a.txt > b.txt && echo B >> b.txt"),
        step(t, "c", "echo C > c.txt"),
    )
}

#[test]
fn an_unchanged_workstream_runs_no_step_again_and_gives_the_same_result() {
    let t = Test::new();
    let ws = t.workstream("ws.json", &chain(&t, "A"));
    run_with(&t, &ws, "r1", &[]);
    run_with(&t, &ws, "r2", &[]);
    for s in ["a", "b", "c"] {
        assert_eq!(runs(&t, s), 1, "step {s} ran again");
        let id = format!("w/{s}");
        assert!(cached(&t, "r2", &id), "{id} not served from the cache");
        assert_eq!(t.step_status("r2", &id)["status"], "completed");
        assert_eq!(why(&t, "r2", &id)["verdict"], "cached");
        assert_eq!(why(&t, "r2", &id)["from"]["run"], "r1");
        assert_eq!(why(&t, "r1", &id)["verdict"], "no_earlier_entry");
    }
    assert_eq!(tree(&t, "r1"), tree(&t, "r2"));
    assert_eq!(t.show("pipeline/r2", "b.txt").as_deref(), Some("A\nB\n"));
    let b = t.step_status("r2", "w/b");
    assert_eq!(
        b["cached_from"],
        serde_json::json!({"run": "r1", "step": "w/b"})
    );
    assert!(t.step_status("r1", "w/b").get("cached_from").is_none());
    // Progress says `cached`; JUnit passes the step with a property naming its source.
    let junit = t.out.join("r4.xml");
    let r4 = t
        .pipeline(&[
            "run",
            ws.to_str().unwrap(),
            "--run-id",
            "r4",
            "--junit",
            junit.to_str().unwrap(),
        ])
        .assert_ok();
    assert!(r4.stdout().contains("cached    w/a") || r4.stderr().contains("cached    w/a"));
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(
        xml.contains(r#"<property name="cached_from" value="r2 w/a"/>"#),
        "{xml}"
    );
    assert!(why_text(&t, "r2", "w/b").contains("taken from run r1"));
    // The cache lists and counts what happened.
    let stats: Value = serde_json::from_str(
        &t.pipeline(&["cache", "stats", "--json"])
            .assert_ok()
            .stdout(),
    )
    .unwrap();
    assert_eq!(
        (stats["entries"].as_u64(), stats["hits"].as_u64()),
        (Some(9), Some(6))
    );
    let list: Value = serde_json::from_str(
        &t.pipeline(&["cache", "list", "--json"])
            .assert_ok()
            .stdout(),
    )
    .unwrap();
    assert_eq!(list["entries"].as_array().map(Vec::len), Some(9));
    t.pipeline(&["cache", "clear"]).assert_ok();
    run_with(&t, &ws, "r5", &[]);
    assert_eq!(runs(&t, "a"), 2, "a cleared cache still served a result");
}

#[test]
fn changing_one_steps_command_reruns_that_step_and_its_dependents_only() {
    let t = Test::new();
    let ws = t.workstream("ws.json", &chain(&t, "A"));
    run_with(&t, &ws, "r1", &[]);
    std::fs::write(&ws, chain(&t, "A2")).unwrap();
    run_with(&t, &ws, "r2", &[]);
    assert_eq!((runs(&t, "a"), runs(&t, "b"), runs(&t, "c")), (2, 2, 1));
    assert!(cached(&t, "r2", "w/c") && !cached(&t, "r2", "w/a"));
    assert_eq!(t.show("pipeline/r2", "b.txt").as_deref(), Some("A2\nB\n"));
    let a = why(&t, "r2", "w/a");
    assert_eq!(a["verdict"], "key_differs");
    assert_eq!(
        a["differences"],
        serde_json::json!(["definition field `tool`"])
    );
    let b = why(&t, "r2", "w/b");
    assert_eq!(
        b["differences"],
        serde_json::json!(["input path a.txt changed"])
    );
    assert!(why_text(&t, "r2", "w/b").contains("input path a.txt changed"));
}

#[test]
fn changing_a_file_only_one_steps_inputs_cover_reruns_that_step_and_its_dependents() {
    let t = Test::new();
    t.commit_file("src/a/x.txt", "a\n");
    t.commit_file("src/c/x.txt", "c1\n");
    let ws = t.workstream(
        "ws.json",
        &format!(
            r#"{{"id": "w", "steps": [
                {{"id": "a", "command": "{}", "inputs": ["src/a"]}},
                {{"id": "b", "command": "{}", "depends_on": ["a"], "inputs": ["a.txt"]}},
                {{"id": "c", "command": "{}", "inputs": ["src/c/*.txt"]}},
                {{"id": "d", "command": "{}", "depends_on": ["c"], "inputs": ["c.txt"]}}
            ]}}"#,
            step(&t, "a", "cat src/a/x.txt > a.txt"),
            step(&t, "b", "cat a.txt > b.txt"),
            step(&t, "c", "cat src/c/x.txt > c.txt"),
            step(&t, "d", "cat c.txt > d.txt"),
        ),
    );
    run_with(&t, &ws, "r1", &[]);
    t.commit_file("src/c/x.txt", "c2\n");
    run_with(&t, &ws, "r2", &[]);
    let counts: Vec<usize> = ["a", "b", "c", "d"].iter().map(|s| runs(&t, s)).collect();
    assert_eq!(counts, [1, 1, 2, 2]);
    assert!(cached(&t, "r2", "w/a") && cached(&t, "r2", "w/b"));
    assert_eq!(t.show("pipeline/r2", "d.txt").as_deref(), Some("c2\n"));
    assert_eq!(t.show("pipeline/r2", "b.txt").as_deref(), Some("a\n"));
    assert_eq!(
        why(&t, "r2", "w/c")["differences"],
        serde_json::json!(["input path src/c/x.txt changed"])
    );
}

#[test]
fn no_cache_and_cache_false_run_the_step_again() {
    let t = Test::new();
    let ws = t.workstream("ws.json", &chain(&t, "A"));
    run_with(&t, &ws, "r1", &[]);
    run_with(&t, &ws, "r2", &["--no-cache"]);
    assert_eq!((runs(&t, "a"), runs(&t, "b"), runs(&t, "c")), (2, 2, 2));
    let a = why(&t, "r2", "w/a");
    assert_eq!(a["verdict"], "same_key");
    assert_eq!(a["reason"], "--no-cache");
    // `cache: false` on a: it runs; b, whose input tree is the same, is still cached.
    let json = chain(&t, "A").replacen(r#""id": "a","#, r#""id": "a", "cache": false,"#, 1);
    std::fs::write(&ws, json).unwrap();
    run_with(&t, &ws, "r3", &[]);
    assert_eq!((runs(&t, "a"), runs(&t, "b"), runs(&t, "c")), (3, 2, 2));
    assert!(cached(&t, "r3", "w/b"));
    assert_eq!(why(&t, "r3", "w/a")["reason"], "cache: false on the step");
    assert_eq!(tree(&t, "r1"), tree(&t, "r3"));
}

#[test]
fn a_tool_version_change_misses() {
    let t = Test::new();
    let tool = t.out.join("vtool");
    std::fs::write(
        &tool,
        format!(
            "#!/bin/sh\nif [ \"$1\" = --version ]; then cat {v}; exit 0; fi\necho run >> {runs}\necho V > v.txt\n",
            v = t.out_path("version"),
            runs = t.out_path("v.runs"),
        ),
    )
    .unwrap();
    let status = std::process::Command::new("chmod")
        .args(["755", tool.to_str().unwrap()])
        .status()
        .unwrap();
    assert!(status.success());
    std::fs::write(t.out.join("version"), "vtool 1.0\n").unwrap();
    t.config(&format!(
        "tools:\n  vtool:\n    kind: custom\n    command: {}\n    args: [\"{{prompt_file}}\"]\n",
        tool.display()
    ));
    let ws = t.workstream(
        "ws.json",
        r#"{"id": "v", "tool": "vtool", "tasks": ["make v.txt"]}"#,
    );
    run_with(&t, &ws, "r1", &[]);
    run_with(&t, &ws, "r2", &[]);
    assert_eq!(runs(&t, "v"), 1, "unchanged version: cached");
    std::fs::write(t.out.join("version"), "vtool 2.0\n").unwrap();
    run_with(&t, &ws, "r3", &[]);
    assert_eq!(runs(&t, "v"), 2, "a new tool version runs the step again");
    assert_eq!(
        why(&t, "r3", "v")["differences"],
        serde_json::json!(["tool version: vtool 1.0 -> vtool 2.0"])
    );
}

/// Step a copies `out/want` (outside the repository, so outside its key) into a.txt; its
/// acceptance test counts its runs in `out/a.tests` and compares a.txt with `out/want`.
fn verified(t: &Test) -> String {
    format!(
        r#"{{"id": "w", "steps": [
            {{"id": "a", "command": "{}", "acceptance_tests": ["echo t >> {} && cmp a.txt {}"]}}
        ]}}"#,
        step(t, "a", &format!("cat {} > a.txt", t.out_path("want"))),
        t.out_path("a.tests"),
        t.out_path("want"),
    )
}

#[test]
fn verify_cached_runs_the_tests_on_a_hit_and_a_failing_test_runs_the_step() {
    let t = Test::new();
    std::fs::write(t.out.join("want"), "v1\n").unwrap();
    let ws = t.workstream("ws.json", &verified(&t));
    run_with(&t, &ws, "r1", &[]);
    assert_eq!((runs(&t, "a"), t.out_lines("a.tests").len()), (1, 1));
    // A hit with --verify-cached runs the test (on the re-applied result) but not the step.
    run_with(&t, &ws, "r2", &["--verify-cached"]);
    assert_eq!((runs(&t, "a"), t.out_lines("a.tests").len()), (1, 2));
    assert!(cached(&t, "r2", "w/a"));
    let tests = t.events("r2", "w/a", "test_finished");
    assert_eq!(tests.len(), 1);
    assert_eq!(
        (&tests[0]["passed"], &tests[0]["attempt"]),
        (&true.into(), &0.into())
    );
    // What the step depends on changes outside its key: a plain hit does not notice.
    std::fs::write(t.out.join("want"), "v2\n").unwrap();
    run_with(&t, &ws, "r3", &[]);
    assert_eq!((runs(&t, "a"), t.out_lines("a.tests").len()), (1, 2));
    assert_eq!(t.show("pipeline/r3", "a.txt").as_deref(), Some("v1\n"));
    // --verify-cached: the test fails on the cached result, so the step runs (and passes).
    run_with(&t, &ws, "r4", &["--verify-cached"]);
    assert_eq!((runs(&t, "a"), t.out_lines("a.tests").len()), (2, 4));
    assert!(!cached(&t, "r4", "w/a"));
    assert_eq!(t.step_status("r4", "w/a")["status"], "completed");
    assert_eq!(t.show("pipeline/r4", "a.txt").as_deref(), Some("v2\n"));
    let passed: Vec<bool> = t
        .events("r4", "w/a", "test_finished")
        .iter()
        .map(|e| e["passed"].as_bool().unwrap())
        .collect();
    assert_eq!(
        passed,
        [false, true],
        "the failed verification is journalled"
    );
    let w = why(&t, "r4", "w/a");
    assert_eq!(w["verdict"], "same_key");
    let reason = w["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("--verify-cached: acceptance test") && reason.contains("failed"),
        "{reason}"
    );
}

#[test]
fn resume_verify_cached_runs_a_step_whose_cached_result_fails_its_test() {
    let t = Test::new();
    std::fs::write(t.out.join("want"), "v1\n").unwrap();
    std::fs::write(t.out.join("ok"), "").unwrap();
    // s (never cached) fails unless out/ok exists; a after it is `verified`'s a.
    let ws = t.workstream(
        "ws.json",
        &format!(
            r#"{{"id": "w", "steps": [
                {{"id": "s", "cache": false, "command": "test -e {} && echo S > s.txt"}},
                {{"id": "a", "depends_on": ["s"], "command": "{}", "acceptance_tests": ["echo t >> {} && cmp a.txt {}"]}}
            ]}}"#,
            t.out_path("ok"),
            step(&t, "a", &format!("cat {} > a.txt", t.out_path("want"))),
            t.out_path("a.tests"),
            t.out_path("want"),
        ),
    );
    run_with(&t, &ws, "r0", &[]);
    std::fs::remove_file(t.out.join("ok")).unwrap();
    t.pipeline(&["run", ws.to_str().unwrap(), "--run-id", "r1"])
        .assert_code(1);
    assert_eq!(t.step_status("r1", "w/a")["status"], "skipped");
    std::fs::write(t.out.join("ok"), "").unwrap();
    std::fs::write(t.out.join("want"), "v2\n").unwrap();
    t.pipeline(&["resume", "r1", "--verify-cached"]).assert_ok();
    // a's key matched r0's entry, its test failed on that result, so it ran.
    assert_eq!((runs(&t, "a"), t.out_lines("a.tests").len()), (2, 3));
    assert!(!cached(&t, "r1", "w/a"));
    assert_eq!(t.show("pipeline/r1", "a.txt").as_deref(), Some("v2\n"));
    assert!(
        why(&t, "r1", "w/a")["reason"]
            .as_str()
            .is_some_and(|r| r.starts_with("--verify-cached: ")),
        "{}",
        why(&t, "r1", "w/a")
    );
}
