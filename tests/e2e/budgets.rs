//! Budgets end to end (docs/COSTS.md "Budgets"): the real Codex, Claude Code and Aider
//! CLIs against the fake model server, whose replies report usage. Codex reports tokens
//! only, so its cost is estimated from the built-in price of `gpt-5.5` (deterministic:
//! one turn of two requests of 100 input tokens, 20 cached, and 7 output tokens costs
//! $0.00124).
//!
//! - A run budget (`--budget-usd`) spent by a first AI step skips the later AI steps
//!   (`skipped`, with the reason) while a command step still runs.
//! - A step budget (`budget: {tokens}`) exceeded by a failed attempt fails the step with
//!   class `budget_exceeded` and a `budget_exceeded` event: no fix prompt, no retry.
//! - A successful Aider attempt (usage known only at its end) over the budget is not taken.
//! - A resumed run counts what its earlier attempts spent, and keeps the run's budget
//!   without the flags given again.
//! - A tool that streams usage (Claude Code) is stopped mid-attempt as soon as its
//!   reported usage takes the step over its budget.
//! - Bad budget values are input errors (exit 2) naming the field.
//!
//! The CLIs are found as in `ai_codex`, `ai_claude` and `ai_aider`: without one the tests
//! print a loud SKIP and pass, except under `CI=true`, where they fail.

use std::time::Duration;

use fake_model_server::{Api, FakeModelServer, Scripted};
use serde_json::{Value, json};

use crate::support::Test;

/// One Codex turn: an `apply_patch` adding `file`, then a message; two requests of 100
/// input tokens (20 cached) and 7 output tokens each: 214 tokens, $0.00124 at gpt-5.5.
fn codex_turn(file: &str) -> Vec<Scripted> {
    let usage = json!({"input_tokens": 100, "cached_tokens": 20, "output_tokens": 7});
    vec![
        Scripted::Reply(json!({
            "apply_patch": format!("*** Begin Patch\n*** Add File: {file}\n+from codex\n*** End Patch\n"),
            "usage": usage,
        })),
        Scripted::Reply(json!({"text": format!("Created {file}."), "usage": usage})),
    ]
}

/// A test with the `codex` profile pointed at `server`, or `None` without the CLI.
fn codex_test(server: &FakeModelServer) -> Option<Test> {
    let bin = crate::ai_codex::codex_bin()?;
    Some(
        crate::ai_codex::codex_profile(&bin, server)
            .key("PIPELINE_TEST_CODEX_KEY", crate::ai_codex::KEY)
            .test(),
    )
}

fn step<'a>(status: &'a Value, id: &str) -> &'a Value {
    status["steps"]
        .as_array()
        .and_then(|steps| steps.iter().find(|s| s["id"] == id))
        .unwrap_or_else(|| panic!("no step {id} in {status:#}"))
}

/// The workstream `b`: AI step `first`, then the command step `check` (which fails
/// unless `$PIPELINE_TEST_MARKER` names an existing file, when given), then AI step
/// `second`, and the independent command step `cmd` after `first`.
const THREE_STEPS: &str = r#"{"id": "b", "steps": [
    {"id": "first", "tool": "codex", "tasks": ["Create first.txt"], "files_scope": ["first.txt"]},
    {"id": "check", "command": "test -z \"$MARKER\" || test -f \"$MARKER\"", "depends_on": ["first"],
     "env": {"MARKER": "MARKER_PATH"}},
    {"id": "second", "tool": "codex", "tasks": ["Create second.txt"], "files_scope": ["second.txt"],
     "depends_on": ["check"]},
    {"id": "cmd", "command": "echo done > cmd.txt", "depends_on": ["first"]}
]}"#;

#[test]
fn a_spent_run_budget_skips_later_ai_steps_while_commands_run() {
    let server = FakeModelServer::start().expect("fake server starts");
    server.script(Api::OpenAiResponses, codex_turn("first.txt"));
    let Some(t) = codex_test(&server) else {
        return;
    };
    let ws = t.workstream("b.json", &THREE_STEPS.replace("MARKER_PATH", ""));
    t.pipeline(&[
        "run",
        ws.to_str().expect("utf-8 path"),
        "--run-id",
        "r1",
        "--jobs",
        "1",
        "--budget-usd",
        "0.001",
    ]);
    let status = t.status("r1");
    assert_eq!(
        step(&status, "b/first")["status"],
        "completed",
        "{status:#}"
    );
    assert_eq!(
        step(&status, "b/check")["status"],
        "completed",
        "{status:#}"
    );
    assert_eq!(step(&status, "b/cmd")["status"], "completed", "{status:#}");
    assert_eq!(step(&status, "b/second")["status"], "skipped", "{status:#}");
    let skipped = t.events("r1", "b/second", "step_skipped");
    assert_eq!(skipped.len(), 1, "{skipped:?}");
    let reason = skipped[0]["reason"].as_str().unwrap_or_default();
    assert!(
        reason.starts_with("run budget of $0.0010 spent: $0.0012, 214 tokens"),
        "{reason}"
    );
    assert!(skipped[0].get("dependency").is_none(), "{skipped:?}");
    assert!(t.events("r1", "b/second", "attempt_started").is_empty());
}

/// The workstream of [`THREE_STEPS`] run as `run` (`--jobs 1`, with `budget` flags), in
/// which `check` fails (its marker is missing), then resumed with `resume` flags after the
/// marker is written: `check` completes. `None` without the Codex CLI.
fn fail_then_resume(run: &str, budget: &[&str], resume: &[&str]) -> Option<Test> {
    let server = FakeModelServer::start().expect("fake server starts");
    server.script(Api::OpenAiResponses, codex_turn("first.txt"));
    let t = codex_test(&server)?;
    let marker = t.out.join("marker");
    let ws = t.workstream(
        "b.json",
        &THREE_STEPS.replace("MARKER_PATH", marker.to_str().expect("utf-8 path")),
    );
    let mut args = vec![
        "run",
        ws.to_str().expect("utf-8 path"),
        "--run-id",
        run,
        "--jobs",
        "1",
    ];
    args.extend_from_slice(budget);
    t.pipeline(&args);
    let status = t.status(run);
    assert_eq!(step(&status, "b/check")["status"], "failed", "{status:#}");
    std::fs::write(&marker, "ok").expect("marker written");
    let mut args = vec!["resume", run, "--jobs", "1"];
    args.extend_from_slice(resume);
    t.pipeline(&args);
    let status = t.status(run);
    assert_eq!(
        step(&status, "b/check")["status"],
        "completed",
        "{status:#}"
    );
    Some(t)
}

/// The reasons of `step_skipped` events of `b/second` in `run`.
fn second_skip_reasons(t: &Test, run: &str) -> Vec<String> {
    t.events(run, "b/second", "step_skipped")
        .iter()
        .filter_map(|e| e["reason"].as_str().map(str::to_owned))
        .collect()
}

#[test]
fn a_resumed_run_counts_what_its_earlier_attempts_spent() {
    // First run, no budget: `check` fails, `second` is skipped after it. Resumed with a
    // budget that `first` spent before the resume: `second` is skipped for the budget.
    let Some(t) = fail_then_resume("r2", &[], &["--budget-tokens", "200"]) else {
        return;
    };
    assert_eq!(step(&t.status("r2"), "b/second")["status"], "skipped");
    let reasons = second_skip_reasons(&t, "r2");
    assert!(
        reasons
            .iter()
            .any(|r| r.starts_with("run budget of 200 tokens spent: $0.0012, 214 tokens")),
        "{reasons:?}"
    );
    assert!(t.events("r2", "b/second", "attempt_started").is_empty());
}

#[test]
fn an_exceeded_step_budget_fails_the_step_without_a_fix_or_retry() {
    let server = FakeModelServer::start().expect("fake server starts");
    server.script(Api::OpenAiResponses, codex_turn("step.txt"));
    let Some(t) = codex_test(&server) else {
        return;
    };
    let ws = t.workstream(
        "s.json",
        r#"{"id": "s", "budget": {"tokens": 5000}, "steps": [
            {"id": "a", "tool": "codex", "tasks": ["Create step.txt"], "files_scope": ["step.txt"],
             "acceptance_tests": ["test -f never.txt"], "fix_attempts": 2,
             "retry": {"max_attempts": 3}, "budget": {"tokens": 100}}
        ]}"#,
    );
    t.pipeline(&["run", ws.to_str().expect("utf-8 path"), "--run-id", "s1"]);
    let status = t.status("s1");
    assert_eq!(step(&status, "s/a")["status"], "failed", "{status:#}");
    assert_eq!(t.events("s1", "s/a", "attempt_started").len(), 1);
    assert!(t.events("s1", "s/a", "fix_requested").is_empty());
    let exceeded = t.events("s1", "s/a", "budget_exceeded");
    assert_eq!(exceeded.len(), 1, "{exceeded:?}");
    assert_eq!(exceeded[0]["spent_tokens"], 214, "{exceeded:?}");
    assert_eq!(exceeded[0]["budget_tokens"], 100, "{exceeded:?}");
    assert_eq!(exceeded[0]["attempt"], 1, "{exceeded:?}");
    let finished = t.events("s1", "s/a", "attempt_finished");
    assert_eq!(
        finished[0]["classified"]["class"], "budget_exceeded",
        "{finished:?}"
    );
    let failed = t.events("s1", "s/a", "step_failed");
    let error = failed[0]["error"].as_str().unwrap_or_default();
    assert!(error.contains("over its budget of 100 tokens"), "{error}");
}

#[test]
fn a_successful_attempt_over_the_workstreams_budget_is_not_taken() {
    // Aider prints its usage only when it ends, so its budget is checked after the
    // attempt (Codex and Claude Code may be stopped as soon as they report it).
    let Some(bin) = crate::ai_aider::aider_bin() else {
        return;
    };
    let server = FakeModelServer::start().expect("fake server starts");
    server.script(Api::OpenAiChat, [crate::ai_aider::whole_file_reply()]);
    let t = crate::ai_cli::CliProfile::new(
        "aider",
        &bin,
        "fake-model",
        format!("{}/v1", server.base_url()),
    )
    .key("PIPELINE_TEST_AIDER_KEY", crate::ai_aider::KEY)
    .args(&["--edit-format", "whole"])
    .test();
    t.commit_file("hello.py", crate::ai_aider::ORIGINAL);
    let ws = t.workstream(
        "w.json",
        r#"{"id": "w", "budget": {"tokens": 100}, "steps": [
            {"id": "a", "tool": "aider", "tasks": ["Make greet() return hello, world"],
             "files_scope": ["hello.py"]},
            {"id": "after", "command": "true", "depends_on": ["a"]}
        ]}"#,
    );
    t.pipeline(&["run", ws.to_str().expect("utf-8 path"), "--run-id", "w1"]);
    let status = t.status("w1");
    assert_eq!(step(&status, "w/a")["status"], "failed", "{status:#}");
    assert_eq!(step(&status, "w/after")["status"], "skipped", "{status:#}");
    assert!(step(&status, "w/a")["commit"].is_null(), "{status:#}");
    let finished = t.events("w1", "w/a", "attempt_finished");
    assert_eq!(finished.len(), 1, "{finished:?}");
    assert_eq!(finished[0]["outcome"], "failed", "{finished:?}");
    assert_eq!(finished[0]["exit_code"], 0, "{finished:?}");
    assert_eq!(finished[0]["classified"]["class"], "budget_exceeded");
    assert_eq!(finished[0]["usage"]["output_tokens"], 56, "{finished:?}");
    let error = finished[0]["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("the attempt succeeded") && error.contains("not taken"),
        "{error}"
    );
    let exceeded = t.events("w1", "w/a", "budget_exceeded");
    assert_eq!(exceeded.len(), 1, "{exceeded:?}");
    assert_eq!(exceeded[0]["budget_tokens"], 100, "{exceeded:?}");
    assert!(t.events("w1", "w/a", "step_completed").is_empty());
}

#[test]
fn bad_budgets_are_input_errors_naming_the_field() {
    let t = Test::new();
    for (name, budget, needle) in [
        ("neg.json", r#"{"usd": -1}"#, "budget/usd"),
        ("key.json", r#"{"usd": 1, "dollars": 2}"#, "dollars"),
        ("tok.json", r#"{"tokens": 1.5}"#, "budget/tokens"),
    ] {
        let ws = t.workstream(
            name,
            &format!(
                r#"{{"id": "w", "steps": [{{"id": "a", "command": "true", "budget": {budget}}}]}}"#
            ),
        );
        let run = t
            .pipeline(&["validate", ws.to_str().expect("utf-8 path")])
            .assert_code(2);
        let out = format!("{}{}", run.stdout(), run.stderr());
        assert!(out.contains(needle), "{name}: {out}");
    }
    let ws = t.workstream(
        "ok.json",
        r#"{"id": "ok", "steps": [{"id": "a", "command": "true"}]}"#,
    );
    let run = t
        .pipeline(&[
            "run",
            ws.to_str().expect("utf-8 path"),
            "--budget-usd",
            "-2",
        ])
        .assert_code(2);
    assert!(run.stderr().contains("--budget-usd"), "{}", run.stderr());
    let run = t
        .pipeline(&[
            "run",
            ws.to_str().expect("utf-8 path"),
            "--budget-tokens",
            "lots",
        ])
        .assert_code(2);
    assert!(run.stderr().contains("--budget-tokens"), "{}", run.stderr());
}

#[test]
fn a_resumed_run_keeps_its_budget_without_the_flags() {
    // Started with a budget that `first` spends; `check` fails, so `second` is skipped
    // for its dependency. Resumed without the flag: the recorded budget still applies.
    let Some(t) = fail_then_resume("r3", &["--budget-tokens", "200"], &[]) else {
        return;
    };
    assert_eq!(step(&t.status("r3"), "b/second")["status"], "skipped");
    let reasons = second_skip_reasons(&t, "r3");
    assert!(
        reasons
            .iter()
            .any(|r| r.starts_with("run budget of 200 tokens spent")),
        "{reasons:?}"
    );
    let db = rusqlite::Connection::open(t.repo.join(".pipeline/state.db")).expect("state db");
    let mut query = db
        .prepare("SELECT data FROM events WHERE run_id = 'r3' AND kind = 'run_started' ORDER BY id")
        .expect("query");
    let started: Vec<Value> = query
        .query_map([], |row| row.get::<_, String>(0))
        .expect("rows")
        .map(|data| serde_json::from_str(&data.expect("row")).expect("JSON"))
        .collect();
    assert_eq!(started.len(), 2, "{started:?}");
    assert!(
        started.iter().all(|e| e["budget_tokens"] == 200),
        "each run_started records the budget: {started:?}"
    );
}

#[test]
fn a_streaming_tool_is_stopped_as_soon_as_its_usage_crosses_the_step_budget() {
    let server = FakeModelServer::start().expect("fake server starts");
    // The first request alone reports 5000 input tokens, over the budget of 1000. The
    // second reply comes only after a minute and the third would follow it: a tool left
    // running would make three agent requests and create two.txt.
    let big = json!({"input_tokens": 5000, "output_tokens": 7});
    let small = json!({"input_tokens": 10, "output_tokens": 1});
    server.script(
        Api::AnthropicMessages,
        vec![
            Scripted::Reply(json!({
                "tool_use": {"name": "Bash", "input": {
                    "command": "echo one > one.txt", "description": "Create one.txt"}},
                "usage": big,
            })),
            Scripted::Delayed(
                Duration::from_secs(60),
                Box::new(Scripted::Reply(json!({
                    "tool_use": {"name": "Bash", "input": {
                        "command": "echo two > two.txt", "description": "Create two.txt"}},
                    "usage": small,
                }))),
            ),
            Scripted::Reply(json!({"text": "Done.", "usage": small})),
        ],
    );
    let Some(bin) = crate::ai_claude::claude_bin() else {
        return;
    };
    let t =
        crate::ai_cli::CliProfile::new("claude", &bin, crate::ai_claude::MODEL, server.base_url())
            .key("PIPELINE_TEST_CLAUDE_KEY", crate::ai_claude::KEY)
            .env("CLAUDE_CODE_MAX_RETRIES", "0")
            .test();
    let ws = t.workstream(
        "c.json",
        r#"{"id": "c", "steps": [
            {"id": "a", "tool": "claude", "tasks": ["Create one.txt and two.txt"],
             "files_scope": ["one.txt", "two.txt"], "fix_attempts": 2,
             "retry": {"max_attempts": 3}, "budget": {"tokens": 1000}}
        ]}"#,
    );
    t.pipeline(&["run", ws.to_str().expect("utf-8 path"), "--run-id", "c1"]);
    let status = t.status("c1");
    assert_eq!(step(&status, "c/a")["status"], "failed", "{status:#}");
    assert_eq!(t.events("c1", "c/a", "attempt_started").len(), 1);
    let agent_requests = server
        .requests()
        .iter()
        .filter(|r| r.body["tools"].as_array().is_some_and(|t| !t.is_empty()))
        .count();
    assert!(
        (1..=2).contains(&agent_requests),
        "the tool went on after crossing its budget: {agent_requests} agent requests"
    );
    let exceeded = t.events("c1", "c/a", "budget_exceeded");
    assert_eq!(exceeded.len(), 1, "{exceeded:?}");
    assert!(
        exceeded[0]["spent_tokens"]
            .as_u64()
            .is_some_and(|n| n >= 5000),
        "{exceeded:?}"
    );
    let finished = t.events("c1", "c/a", "attempt_finished");
    assert_eq!(
        finished[0]["classified"]["class"], "budget_exceeded",
        "{finished:?}"
    );
    assert!(
        finished[0]["usage"]["input_tokens"]
            .as_u64()
            .is_some_and(|n| n >= 5000),
        "the stopped attempt keeps the usage it streamed: {finished:?}"
    );
    let failed = t.events("c1", "c/a", "step_failed");
    let error = failed[0]["error"].as_str().unwrap_or_default();
    assert!(error.contains("over its budget of 1000 tokens"), "{error}");
    assert!(error.contains("tool stopped after"), "{error}");
}
