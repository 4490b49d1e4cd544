//! Stall detection end to end (`stall_timeout_sec`, docs/ERRORS.md "Stalls"): the real
//! binary stops a tool that prints nothing and uses no CPU for the stall timeout,
//! journals `attempt_stalled`, classifies the attempt `stalled` and retries it per the
//! step's policy. Covered: a command step sleeping silently; a command silent but busy on
//! CPU (never stalled); a profile's `stall_timeout_sec` and a step's 0 turning it off;
//! and the real Aider, Codex CLI and Claude Code against the fake model server's stall
//! mode (the request is accepted, then nothing; for Codex also a reply that stops in the
//! middle of its stream), each retried into a successful attempt.
//!
//! The AI CLIs are found as in `ai_aider`, `ai_codex` and `ai_claude`; without them those
//! tests print a loud SKIP and pass, except under `CI=true`, where they fail.

use std::path::{Path, PathBuf};

use fake_model_server::{Api, FakeModelServer, Scripted};
use serde_json::{Value, json};

use crate::ai_cli::{CliProfile, STEP, attempt_log, edit_step, errors};
use crate::support::Test;

/// Two attempts, the second right after the first (no jitter, a short backoff).
const TWO_ATTEMPTS: &str = r#""retry": {"max_attempts": 2, "initial_delay": 0.1, "jitter": false}"#;

/// A workstream of one command step `STEP` running `command`, with `extra` JSON fields
/// (each starting with a comma).
fn command_step(t: &Test, command: &str, extra: &str) -> PathBuf {
    t.workstream(
        "ws.json",
        &format!(
            r#"{{"id": "{STEP}", "command": {command}, {TWO_ATTEMPTS}{extra}}}"#,
            command = serde_json::to_string(command).expect("a JSON string"),
        ),
    )
}

/// The `attempt_stalled` events of [`STEP`] in `run`.
fn stalls(t: &Test, run: &str) -> Vec<Value> {
    t.events(run, STEP, "attempt_stalled")
}

/// The `classified.class` of each `attempt_finished` of [`STEP`] in `run`, in order.
fn classes(t: &Test, run: &str) -> Vec<String> {
    t.events(run, STEP, "attempt_finished")
        .iter()
        .map(|e| e["classified"]["class"].as_str().unwrap_or("").to_owned())
        .collect()
}

/// The kinds of [`STEP`]'s journal entries of `run`, in order.
fn step_kinds(t: &Test, run: &str) -> Vec<String> {
    t.journal(run)
        .into_iter()
        .filter(|e| e.step.as_deref() == Some(STEP))
        .map(|e| e.kind)
        .collect()
}

#[test]
fn a_command_sleeping_silently_is_stopped_as_stalled_and_retried() {
    let t = Test::new();
    // Counts its attempts outside the repository; a stray `sleep` would keep running.
    let counter = t.out_path("attempts");
    let ws = command_step(
        &t,
        &format!("echo attempt >> '{counter}'; sleep 600"),
        r#", "stall_timeout_sec": 2, "timeout_sec": 120"#,
    );
    let started = std::time::Instant::now();
    t.run(&ws, "sleepy", 1).assert_code(1);
    let took = started.elapsed();
    assert!(
        took < std::time::Duration::from_secs(60),
        "two stalls of 2 s took {took:?}: the timeout of 120 s must not be what ended them"
    );

    let step = t.step_status("sleepy", STEP);
    assert_eq!(step["status"], "failed", "{step:#}");
    assert_eq!(
        step["attempts"], 2,
        "retried once per max_attempts: {step:#}"
    );
    let error = step["error"].as_str().unwrap_or_default();
    assert!(error.contains("stalled"), "{error}");
    assert_eq!(t.out_lines("attempts").len(), 2);

    // Journal: attempt_stalled right before each attempt_finished, then a backoff, then
    // the second attempt, then the failure.
    let stalled = stalls(&t, "sleepy");
    assert_eq!(stalled.len(), 2, "{stalled:#?}");
    for (n, event) in stalled.iter().enumerate() {
        assert_eq!(event["attempt"], n + 1, "{event}");
        assert_eq!(event["stall_timeout_ms"], 2000, "{event}");
        assert_eq!(event["tool"], "shell", "{event}");
        assert!(
            event["duration_ms"].as_u64().unwrap_or(0) >= 2000,
            "{event}"
        );
    }
    assert_eq!(classes(&t, "sleepy"), ["stalled", "stalled"]);
    let kinds = step_kinds(&t, "sleepy");
    let tail: Vec<&str> = kinds.iter().map(String::as_str).skip(1).collect();
    assert_eq!(
        tail,
        [
            "attempt_started",
            "attempt_stalled",
            "attempt_finished",
            "step_waiting",
            "attempt_started",
            "attempt_stalled",
            "attempt_finished",
            "step_failed"
        ],
        "{kinds:?}"
    );
    let waiting = t.events("sleepy", STEP, "step_waiting");
    assert_eq!(waiting[0]["class"], "stalled", "{waiting:#?}");

    // `pipeline errors` shows the class; the log footer says what happened.
    let errors = errors(&t, "sleepy");
    assert_eq!(errors["errors"][0]["class"], "stalled", "{errors:#}");
    let log = attempt_log(&t, "sleepy", 1);
    assert!(log.contains("[pipeline] stall timeout: 2 s"), "{log}");
    assert!(
        log.contains("stalled: no output and no CPU for 2 s; process group terminated"),
        "{log}"
    );
}

#[test]
fn a_command_silent_but_busy_on_cpu_is_not_stalled() {
    let t = Test::new();
    // Busy for 4 s without a word (twice the stall timeout), then done: the loop is the
    // shell's own (no forks), the end a file that a sleeping helper writes.
    let done = t.out_path("done");
    let ws = command_step(
        &t,
        &format!("(sleep 4; touch '{done}') & while [ ! -e '{done}' ]; do :; done"),
        r#", "stall_timeout_sec": 2, "timeout_sec": 120"#,
    );
    t.run(&ws, "busy", 1).assert_ok();
    let step = t.step_status("busy", STEP);
    assert_eq!(step["status"], "completed", "{step:#}");
    assert_eq!(step["attempts"], 1, "{step:#}");
    assert!(stalls(&t, "busy").is_empty());
}

#[test]
fn a_profile_s_stall_timeout_applies_and_a_step_s_zero_turns_it_off() {
    let t = Test::new();
    t.config(&format!(
        "tools:\n  quiet:\n    command: sh\n    args: [\"-c\", \"echo started >> '{}'; sleep 600\"]\n    stall_timeout_sec: 1\n    timeout_sec: 4\n",
        t.out_path("started")
    ));
    let ws = t.workstream(
        "ws.json",
        r#"[{"id": "watched", "tool": "quiet", "tasks": "wait", "retry": {"max_attempts": 1}},
            {"id": "unwatched", "tool": "quiet", "tasks": "wait", "stall_timeout_sec": 0, "retry": {"max_attempts": 1}}]"#,
    );
    t.run(&ws, "profile", 2).assert_code(1);
    let watched = t.events("profile", "watched", "attempt_finished");
    assert_eq!(watched[0]["classified"]["class"], "stalled", "{watched:#?}");
    assert_eq!(
        t.events("profile", "watched", "attempt_stalled")[0]["stall_timeout_ms"],
        1000
    );
    let unwatched = t.events("profile", "unwatched", "attempt_finished");
    assert_eq!(unwatched[0]["outcome"], "timed_out", "{unwatched:#?}");
    assert_eq!(
        unwatched[0]["classified"]["class"], "timeout",
        "{unwatched:#?}"
    );
    assert!(
        t.events("profile", "unwatched", "attempt_stalled")
            .is_empty()
    );
}

#[test]
fn a_negative_stall_timeout_is_invalid_input() {
    let t = Test::new();
    let ws = command_step(&t, "true", r#", "stall_timeout_sec": -1"#);
    t.run(&ws, "bad", 1)
        .assert_code(2)
        .assert_stderr_contains("stall_timeout_sec");
}

/// Asserts that [`STEP`] of `run` completed on its second attempt after its first one
/// stalled (journalled, classified `stalled`, one backoff) and that the first attempt's
/// request reached `server` and stalled there.
fn assert_stalled_then_completed(t: &Test, run: &str, server: &FakeModelServer, tool: &str) {
    let step = t.step_status(run, STEP);
    assert_eq!(step["status"], "completed", "{step:#}");
    assert_eq!(step["attempts"], 2, "{step:#}");
    let stalled = stalls(t, run);
    assert_eq!(stalled.len(), 1, "{stalled:#?}");
    assert_eq!(stalled[0]["attempt"], 1, "{stalled:#?}");
    assert_eq!(stalled[0]["tool"], tool, "{stalled:#?}");
    assert_eq!(classes(t, run)[0], "stalled");
    let errors = errors(t, run);
    assert_eq!(errors["errors"][0]["class"], "stalled", "{errors:#}");
    let log = attempt_log(t, run, 1);
    assert!(
        log.contains("stalled: no output and no CPU for 3 s; process group terminated"),
        "{log}"
    );
    assert!(
        !server.requests().is_empty(),
        "the first request reached the server and stalled there"
    );
}

/// Extra fields of the AI steps: a stall timeout of 3 s well within a timeout that
/// would take much longer, and two attempts.
const AI_STALL: &str = r#", "stall_timeout_sec": 3, "timeout_sec": 240, "retry": {"max_attempts": 2, "initial_delay": 0.1, "jitter": false}"#;

/// A one-step workstream for `tool` that may edit `files`.
fn ai_step(t: &Test, tool: &str, files: &[&str]) -> PathBuf {
    edit_step(
        t,
        tool,
        "Greet the world",
        &["Create hello.txt saying hello"],
        files,
        AI_STALL,
    )
}

fn cli(tool: &str, installed: &str) -> Option<PathBuf> {
    crate::support::installed_cli(tool, installed)
}

fn profile(tool: &str, bin: &Path, model: &str, api_base: String) -> CliProfile {
    CliProfile::new(tool, bin, model, api_base).key(
        &format!("PIPELINE_TEST_{}_KEY", tool.to_uppercase()),
        "sk-pipeline-test-stall-0123456789",
    )
}

#[test]
fn aider_stalled_on_the_model_request_is_detected_and_retried() {
    let Some(bin) = cli("aider", ".tools/venv-aider/bin/aider") else {
        return;
    };
    let server = FakeModelServer::start().expect("fake server starts");
    let reply = Scripted::Reply(json!({
        "content": "hello.txt\n```\nhello from aider\n```\n",
        "usage": {"prompt_tokens": 10, "completion_tokens": 5},
    }));
    server.script(Api::OpenAiChat, [Scripted::Stall, reply]);
    let t = profile(
        "aider",
        &bin,
        "fake-model",
        format!("{}/v1", server.base_url()),
    )
    .args(&["--edit-format", "whole"])
    .test();
    t.commit_file("hello.txt", "hello\n");
    let ws = ai_step(&t, "aider", &["hello.txt"]);
    t.run(&ws, "aider-stall", 1).assert_ok();
    assert_stalled_then_completed(&t, "aider-stall", &server, "aider");
    assert_eq!(
        t.show("pipeline/aider-stall", "hello.txt").as_deref(),
        Some("hello from aider\n")
    );
}

#[test]
fn codex_stalled_on_the_model_request_is_detected_and_retried() {
    let Some(bin) = cli("codex", ".tools/npm-codex/node_modules/.bin/codex") else {
        return;
    };
    let server = FakeModelServer::start().expect("fake server starts");
    let patch = "*** Begin Patch\n*** Add File: hello.txt\n+hello from codex\n*** End Patch\n";
    server.script(
        Api::OpenAiResponses,
        [
            Scripted::Stall,
            Scripted::Reply(json!({"apply_patch": patch})),
            Scripted::Reply(json!({"text": "Created hello.txt."})),
        ],
    );
    // A model Codex knows: for an unknown one it offers no `apply_patch` tool.
    let t = profile(
        "codex",
        &bin,
        crate::ai_codex::MODEL,
        format!("{}/v1", server.base_url()),
    )
    .test();
    let ws = ai_step(&t, "codex", &["hello.txt"]);
    t.run(&ws, "codex-stall", 1).assert_ok();
    assert_stalled_then_completed(&t, "codex-stall", &server, "codex");
    assert_eq!(
        t.show("pipeline/codex-stall", "hello.txt").as_deref(),
        Some("hello from codex\n"),
        "{}",
        attempt_log(&t, "codex-stall", 2)
    );
}

#[test]
fn claude_stalled_on_the_model_request_is_detected_and_retried() {
    let Some(bin) = cli("claude", ".tools/npm-claude/node_modules/.bin/claude") else {
        return;
    };
    let server = FakeModelServer::start().expect("fake server starts");
    // Claude Code makes side requests without tools (titles, summaries) besides the
    // agent's turns; the first request of all stalls, whichever it is.
    server.script(
        Api::AnthropicMessages,
        [
            Scripted::Stall,
            Scripted::Reply(json!({
                "tool_use": {"name": "Write", "input": {
                    "file_path": "hello.txt", "content": "hello from claude\n"}},
            })),
            Scripted::Reply(json!({"text": "Created hello.txt."})),
        ],
    );
    let t = profile("claude", &bin, "claude-fake-model", server.base_url())
        .env("CLAUDE_CODE_MAX_RETRIES", "0")
        .test();
    let ws = ai_step(&t, "claude", &["hello.txt"]);
    t.run(&ws, "claude-stall", 1).assert_ok();
    assert_stalled_then_completed(&t, "claude-stall", &server, "claude");
    assert_eq!(
        t.show("pipeline/claude-stall", "hello.txt").as_deref(),
        Some("hello from claude\n")
    );
}

#[test]
fn codex_stalled_in_the_middle_of_a_streamed_reply_is_detected_and_retried() {
    let Some(bin) = cli("codex", ".tools/npm-codex/node_modules/.bin/codex") else {
        return;
    };
    let server = FakeModelServer::start().expect("fake server starts");
    let patch = "*** Begin Patch\n*** Add File: hello.txt\n+hello from codex\n*** End Patch\n";
    let edit = || Scripted::Reply(json!({"apply_patch": patch}));
    // The first reply's stream starts (status, headers, its first event) and stops.
    server.script(
        Api::OpenAiResponses,
        [
            Scripted::StallMidStream(Box::new(edit())),
            edit(),
            Scripted::Reply(json!({"text": "Created hello.txt."})),
        ],
    );
    let t = profile(
        "codex",
        &bin,
        crate::ai_codex::MODEL,
        format!("{}/v1", server.base_url()),
    )
    .test();
    let ws = ai_step(&t, "codex", &["hello.txt"]);
    t.run(&ws, "codex-mid", 1).assert_ok();
    assert_stalled_then_completed(&t, "codex-mid", &server, "codex");
    assert_eq!(
        t.show("pipeline/codex-mid", "hello.txt").as_deref(),
        Some("hello from codex\n")
    );
}
