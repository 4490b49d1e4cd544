//! The error engine at work (issue #3): retries with growing backoff, permanent failures
//! with compensation, circuit breakers shared by parallel steps, crash during backoff, fix
//! loops, escalation, and invalid error-handling input.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::handshake::await_condition;
use crate::support::{Test, interrupt, step_state};

/// A shell snippet that fails with `message` the first `n` times it runs (counted in a
/// file outside the repository), then succeeds and writes `file`.
fn flaky(t: &Test, name: &str, n: u32, message: &str, file: &str) -> String {
    let count = t.out_path(&format!("{name}.count"));
    format!(
        "c=$(cat {count} 2>/dev/null || echo 0); c=$((c+1)); echo $c > {count}; if [ $c -le {n} ]; then echo '{message}' >&2; exit 1; fi; echo ok > {file}"
    )
}

#[test]
fn transient_failures_retry_with_growing_delays_then_succeed() {
    let t = Test::new();
    let cmd = flaky(
        &t,
        "net",
        2,
        "Error: HTTP 503 Service Unavailable",
        "net.txt",
    );
    let ws = t.workstream(
        "ws.json",
        &format!(r#"{{"id": "net", "command": "{}", "retry": {{"initial_delay": 0.3, "max_delay": 5, "jitter": false, "max_attempts": 5}}}}"#, cmd.replace('"', "\\\"")),
    );
    t.run(&ws, "retry", 1).assert_ok();
    let st = t.step_status("retry", "net");
    assert_eq!(st["status"], "completed");
    assert_eq!(st["attempts"], 3);
    let delays: Vec<u64> = t
        .events("retry", "net", "step_waiting")
        .iter()
        .filter(|e| e["wait"] == "backoff")
        .map(|e| e["delay_ms"].as_u64().unwrap())
        .collect();
    assert_eq!(delays.len(), 2, "{delays:?}");
    assert!(
        delays[0] >= 250 && delays[1] > delays[0],
        "growing delays: {delays:?}"
    );
    let errors: Value = serde_json::from_str(
        &t.pipeline(&["errors", "retry", "--json"])
            .assert_ok()
            .stdout(),
    )
    .unwrap();
    let e = &errors["errors"][0];
    assert_eq!(e["class"], "transient");
    assert_eq!(e["occurrences"], 2);
    assert_eq!(e["plugin"], "network-api");
    assert!(t.show("pipeline/retry", "net.txt").is_some());
}

#[test]
fn permanent_failure_runs_compensation_once_and_skips_dependents() {
    let t = Test::new();
    let comp = t.out_path("compensated");
    let ws = t.workstream(
        "ws.json",
        &format!(
            r#"[{{"id": "deploy", "command": "echo partial > partial.txt; echo 'HTTP/1.1 401 Unauthorized: invalid api key' >&2; exit 1",
                  "retry": {{"initial_delay": 0.1, "max_attempts": 4}},
                  "compensation": ["echo undone $PIPELINE_STEP_ID >> {comp}"]}},
                {{"id": "announce", "depends_on": ["deploy"], "command": "true"}}]"#
        ),
    );
    t.run(&ws, "perm", 2).assert_code(1);
    let st = t.step_status("perm", "deploy");
    assert_eq!(
        st["attempts"], 1,
        "permanent errors are not retried: {st:#}"
    );
    assert!(
        st["error"].as_str().unwrap().contains("class permanent"),
        "{st:#}"
    );
    assert_eq!(t.out_lines("compensated"), vec!["undone deploy"]);
    assert_eq!(
        t.events("perm", "deploy", "compensation_finished")[0]["succeeded"],
        true
    );
    assert_eq!(t.step_status("perm", "announce")["status"], "skipped");
    // Saga semantics: the failed step's worktree was reset (returned to the pool), not kept.
    assert!(
        !t.repo
            .join(".pipeline/worktrees/perm/deploy/partial.txt")
            .exists()
    );
}

#[test]
fn an_open_breaker_makes_the_second_step_wait_instead_of_failing() {
    let t = Test::new();
    t.config(
        r#"tools:
  remote:
    kind: custom
    command: sh
    args: ["-c", "if [ \"$MODE\" = fail ]; then echo 'curl: (7) Failed to connect to api port 443: Connection refused' >&2; exit 1; fi; echo done > $OUT_FILE"]
    circuit_breaker: {failure_threshold: 1, cooldown: 2}
"#,
    );
    // `gate` holds `second` back until `first` has opened the breaker.
    let breaker_open = format!(
        "{} breakers --json --repo {} | grep -q '\"status\": \"open\"'",
        assert_cmd::cargo::cargo_bin("pipeline").display(),
        t.repo.display()
    );
    let gate = serde_json::to_string(&await_condition(&breaker_open, "the open breaker"))
        .expect("a JSON string");
    let ws = t.workstream(
        "ws.json",
        &format!(
            r#"[{{"id": "first", "tool": "remote", "tasks": ["call the API"], "env": {{"MODE": "fail", "OUT_FILE": "first.txt"}}, "retry": {{"max_attempts": 1}}}},
            {{"id": "gate", "command": {gate}}},
            {{"id": "second", "depends_on": ["gate"], "tool": "remote", "tasks": ["call the API"], "env": {{"MODE": "ok", "OUT_FILE": "second.txt"}}}}]"#
        ),
    );
    let started = Instant::now();
    t.run(&ws, "brk", 2).assert_code(1);
    assert_eq!(t.step_status("brk", "first")["status"], "failed");
    let second = t.step_status("brk", "second");
    assert_eq!(second["status"], "completed", "{second:#}");
    assert_eq!(
        second["attempts"], 1,
        "the open breaker was never called through"
    );
    let waits: Vec<Value> = t
        .events("brk", "second", "step_waiting")
        .into_iter()
        .filter(|e| e["wait"] == "breaker")
        .collect();
    assert_eq!(waits.len(), 1, "{waits:?}");
    assert_eq!(waits[0]["tool"], "remote");
    assert!(
        started.elapsed() >= Duration::from_millis(1500),
        "waited for the cooldown"
    );
    // The trial call succeeded: the breaker is closed again, durably.
    let b: Value =
        serde_json::from_str(&t.pipeline(&["breakers", "--json"]).assert_ok().stdout()).unwrap();
    assert_eq!(b["breakers"][0]["tool"], "remote");
    assert_eq!(b["breakers"][0]["status"], "closed");
    assert_eq!(b["breakers"][0]["times_opened"], 1);
}

#[test]
fn breaker_state_survives_processes_and_can_be_reset() {
    let t = Test::new();
    t.config("tools:\n  down:\n    kind: custom\n    command: sh\n    args: [\"-c\", \"echo 'Connection refused' >&2; exit 1\"]\n    circuit_breaker: {failure_threshold: 1, cooldown: 3600}\n");
    let ws = t.workstream(
        "a.json",
        r#"{"id": "a", "tool": "down", "tasks": ["x"], "retry": {"max_attempts": 1}}"#,
    );
    t.run(&ws, "b1", 1).assert_code(1);
    let b: Value =
        serde_json::from_str(&t.pipeline(&["breakers", "--json"]).assert_ok().stdout()).unwrap();
    assert_eq!(b["breakers"][0]["status"], "open");
    // A later run (another process) sees the breaker open and waits rather than calling the
    // tool; interrupt it and check no attempt was made.
    let ws2 = t.workstream("b.json", r#"{"id": "b", "tool": "down", "tasks": ["x"]}"#);
    let mut child = t.spawn(&["run", ws2.to_str().unwrap(), "--run-id", "b2"]);
    t.wait_for_status("b2", "step b to wait for the breaker", |v| {
        step_state(v, "b") == "waiting"
    });
    assert_eq!(interrupt(&mut child), Some(130));
    assert_eq!(t.step_status("b2", "b")["attempts"], 0);
    t.pipeline(&["breakers", "--reset", "down"]).assert_ok();
    let b: Value =
        serde_json::from_str(&t.pipeline(&["breakers", "--json"]).assert_ok().stdout()).unwrap();
    assert_eq!(b["breakers"].as_array().unwrap().len(), 0);
}

#[test]
fn a_crash_during_backoff_resumes_after_the_backoff_with_the_next_attempt_number() {
    let t = Test::new();
    let cmd = flaky(
        &t,
        "slow",
        1,
        "Error: HTTP 503 Service Unavailable",
        "slow.txt",
    );
    let ws = t.workstream(
        "ws.json",
        &format!(r#"{{"id": "slow", "command": "{}", "retry": {{"initial_delay": 3, "jitter": false, "max_attempts": 3}}}}"#, cmd.replace('"', "\\\"")),
    );
    let mut child = t.spawn(&["run", ws.to_str().unwrap(), "--run-id", "bo"]);
    t.wait_for_status("bo", "the backoff", |v| step_state(v, "slow") == "retrying");
    child.kill().unwrap();
    child.wait().unwrap();
    let killed = Instant::now();
    t.pipeline(&["resume", "bo"]).assert_ok();
    // The backoff (3 s from the failed attempt) is finished on resume, not skipped.
    assert!(
        killed.elapsed() >= Duration::from_millis(2000),
        "resume retried before the backoff ended: {:?}",
        killed.elapsed()
    );
    let st = t.step_status("bo", "slow");
    assert_eq!(st["status"], "completed");
    assert_eq!(
        st["attempts"], 2,
        "attempt numbers continue after the crash: {st:#}"
    );
    assert!(t.repo.join(".pipeline/logs/bo/slow/2.log").exists());
}

#[test]
fn failing_acceptance_tests_are_fed_back_as_a_fix_prompt() {
    let t = Test::new();
    // A stand-in AI tool: writes a wrong answer, and the right one when its prompt says the
    // previous attempt failed.
    t.config(
        r#"tools:
  fixer:
    kind: custom
    command: sh
    args: ["-c", "if grep -q 'previous attempt failed' \"$PIPELINE_PROMPT_FILE\"; then echo 42 > answer.txt; else echo 41 > answer.txt; fi"]
"#,
    );
    let ws = t.workstream(
        "ws.json",
        r#"{"id": "answer", "tool": "fixer", "tasks": ["write the answer"], "fix_attempts": 2, "acceptance_tests": ["grep -qx 42 answer.txt"]}"#,
    );
    t.run(&ws, "fix", 1).assert_ok();
    let st = t.step_status("fix", "answer");
    assert_eq!(st["attempts"], 2);
    assert_eq!(t.events("fix", "answer", "fix_requested").len(), 1);
    let prompt =
        std::fs::read_to_string(t.repo.join(".pipeline/logs/fix/answer/2.prompt.md")).unwrap();
    assert!(
        prompt.contains("acceptance test `grep -qx 42 answer.txt` failed"),
        "{prompt}"
    );
    assert_eq!(
        t.show("pipeline/fix", "answer.txt").as_deref(),
        Some("42\n")
    );
}

#[test]
fn a_step_escalates_along_its_tool_chain() {
    let t = Test::new();
    t.config("tools:\n  weak:\n    kind: custom\n    command: sh\n    args: [\"-c\", \"echo 'cannot do this' >&2; exit 1\"]\n  strong:\n    kind: custom\n    command: sh\n    args: [\"-c\", \"echo done > done.txt\"]\n");
    let ws = t.workstream(
        "ws.json",
        r#"{"id": "task", "tool": "weak", "escalation": ["strong"], "tasks": ["do it"]}"#,
    );
    t.run(&ws, "esc", 1).assert_ok();
    assert_eq!(t.step_status("esc", "task")["attempts"], 2);
    let ev = t.events("esc", "task", "escalated");
    assert_eq!(ev[0]["to"], "strong");
    assert!(t.show("pipeline/esc", "done.txt").is_some());
}

#[test]
fn invalid_error_handling_input_is_refused_at_validate_time() {
    let t = Test::new();
    let ws = t.workstream(
        "neg.json",
        r#"{"id": "a", "command": "true", "retry": {"initial_delay": -1}}"#,
    );
    t.pipeline(&["validate", ws.to_str().unwrap()])
        .assert_code(2)
        .assert_stderr_contains("/retry/initial_delay");
    let ws = t.workstream(
        "order.json",
        r#"{"id": "a", "command": "true", "retry": {"initial_delay": 10, "max_delay": 1}}"#,
    );
    t.pipeline(&["validate", ws.to_str().unwrap()])
        .assert_code(2)
        .assert_stderr_contains("max_delay");
    let ws = t.workstream(
        "esc.json",
        r#"{"id": "a", "command": "true", "escalation": ["nope"]}"#,
    );
    t.pipeline(&["validate", ws.to_str().unwrap()])
        .assert_code(2)
        .assert_stderr_contains("unknown tool `nope` in escalation");

    let ok = t.workstream("ok.json", r#"{"id": "a", "command": "true"}"#);
    let plugin = t.repo.join(".pipeline/plugins/broken");
    std::fs::create_dir_all(&plugin).unwrap();
    std::fs::write(plugin.join("plugin.yaml"), "id: broken\nrules: [\n").unwrap();
    t.pipeline(&["validate", ok.to_str().unwrap()])
        .assert_code(2)
        .assert_stderr_contains("plugin.yaml");
    std::fs::write(plugin.join("plugin.yaml"), "id: broken\napplies_to:\n  tools: [npm]\nrules:\n  - pattern: \"([unclosed\"\n    class: transient\n").unwrap();
    t.pipeline(&["validate", ok.to_str().unwrap()])
        .assert_code(2)
        .assert_stderr_contains("([unclosed");
    t.pipeline(&["plugins"])
        .assert_code(2)
        .assert_stderr_contains("plugin.yaml");
    std::fs::remove_dir_all(&plugin).unwrap();
    t.config("tools:\n  x:\n    command: sh\n    circuit_breaker: {failure_threshold: 0}\n");
    t.pipeline(&["validate", ok.to_str().unwrap()])
        .assert_code(2)
        .assert_stderr_contains("tool profile `x`");
}

#[test]
fn diagnose_classifies_a_saved_log() {
    let t = Test::new();
    let log = t.out.join("tool.log");
    std::fs::write(
        &log,
        "openai.RateLimitError: Error code: 429 - rate limit exceeded\nRetry-After: 20\n",
    )
    .unwrap();
    let r = t
        .pipeline(&["diagnose", "--log", log.to_str().unwrap(), "--json"])
        .assert_ok();
    let v: Value = serde_json::from_str(&r.stdout()).unwrap();
    assert_eq!(v["class"]["kind"], "rate_limited", "{v:#}");
    t.pipeline(&[
        "diagnose",
        "--log",
        t.out.join("missing.log").to_str().unwrap(),
    ])
    .assert_code(2);
}

#[test]
fn an_open_breaker_sends_steps_to_the_profile_fallback() {
    let t = Test::new();
    t.config(
        "tools:\n  primary:\n    kind: custom\n    command: sh\n    args: [\"-c\", \"echo 'Connection refused' >&2; exit 1\"]\n    fallback: [backup]\n    circuit_breaker: {failure_threshold: 1, cooldown: 3600}\n  backup:\n    kind: custom\n    command: sh\n    args: [\"-c\", \"echo backup > $OUT_FILE\"]\n",
    );
    let ws = t.workstream(
        "ws.json",
        r#"[{"id": "first", "tool": "primary", "tasks": ["x"], "env": {"OUT_FILE": "first.txt"}, "retry": {"max_attempts": 2, "initial_delay": 0.1, "jitter": false}},
            {"id": "second", "depends_on": ["first"], "tool": "primary", "tasks": ["x"], "env": {"OUT_FILE": "second.txt"}}]"#,
    );
    t.run(&ws, "fb", 1).assert_ok();
    // first: attempt 1 on primary opens its breaker; attempt 2 goes to the fallback.
    let first = t.step_status("fb", "first");
    assert_eq!(first["attempts"], 2, "{first:#}");
    assert_eq!(
        t.events("fb", "first", "tool_selected")[0]["tool"],
        "backup"
    );
    // second never calls the failing tool: the breaker is open, so the fallback runs.
    assert_eq!(t.step_status("fb", "second")["attempts"], 1);
    assert_eq!(
        t.events("fb", "second", "tool_selected")[0]["tool"],
        "backup"
    );
    let tools: Value =
        serde_json::from_str(&t.pipeline(&["tools", "--json"]).assert_ok().stdout()).unwrap();
    let primary = tools
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "primary")
        .unwrap();
    assert_eq!(primary["breaker"], "open");
    assert!(t.show("pipeline/fb", "second.txt").is_some());
}

/// With `--jobs 1`, a step backing off before its retry lends its job slot: the other
/// ready step runs during the backoff instead of after it.
#[test]
fn a_step_backing_off_lends_its_job_slot_to_a_ready_step() {
    let t = Test::new();
    let cmd = flaky(
        &t,
        "slow",
        1,
        "Error: HTTP 503 Service Unavailable",
        "slow.txt",
    );
    let ws = t.workstream(
        "ws.json",
        &format!(
            r#"[{{"id": "slow", "command": "{}", "retry": {{"initial_delay": 2, "jitter": false, "max_attempts": 2}}}},
                {{"id": "other", "command": "echo o > other.txt"}}]"#,
            cmd.replace('"', "\\\"")
        ),
    );
    let run = t
        .pipeline(&[
            "run",
            ws.to_str().unwrap(),
            "--run-id",
            "lend",
            "--jobs",
            "1",
            "--json",
        ])
        .assert_ok();
    let events: Vec<Value> = run
        .stdout()
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect();
    let position = |pred: &dyn Fn(&Value) -> bool| {
        events
            .iter()
            .position(pred)
            .unwrap_or_else(|| panic!("missing event in {events:#?}"))
    };
    let retrying = position(&|e| {
        e["event"] == "step_waiting" && e["step"] == "slow" && e["wait"] == "backoff"
    });
    let other_done = position(&|e| e["event"] == "step_completed" && e["step"] == "other");
    let second =
        position(&|e| e["event"] == "attempt_started" && e["step"] == "slow" && e["attempt"] == 2);
    assert!(
        retrying < other_done && other_done < second,
        "`other` ran inside the backoff of `slow`: {events:#?}"
    );
    assert_eq!(t.step_status("lend", "slow")["status"], "completed");
    assert!(t.show("pipeline/lend", "other.txt").is_some());
    assert!(t.show("pipeline/lend", "slow.txt").is_some());
}
