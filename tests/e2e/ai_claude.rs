//! The claude adapter end to end: `pipeline run` drives the real Claude Code CLI (pinned by
//! `scripts/install-claude.sh`) against the fake model server's Anthropic Messages API on
//! 127.0.0.1. Covered: a `Bash` and a `Write` tool use creating files that land in the
//! step's commit, with usage recorded; HTTP 429 classified `rate_limited` and retried;
//! HTTP 529 (overloaded) classified `transient` and retried; HTTP 401 failing permanently
//! after one attempt; a stalled response killed at the step's `timeout_sec`; a missing
//! API key reported with the variable's name.
//!
//! The CLI is found at `$PIPELINE_TEST_CLAUDE_BIN`, else at
//! `.tools/npm-claude/node_modules/.bin/claude`. Without it the tests print a loud SKIP
//! and pass, except under `CI=true`, where they fail.
//!
//! With `PIPELINE_CAPTURE_CLAUDE_FIXTURES=<dir>` set, each test copies its attempt logs
//! there (`<test>-<attempt>.log`): that is how `error/tests/fixtures/claude/` was made.

use std::path::{Path, PathBuf};

use fake_model_server::{Api, FakeModelServer, Scripted, anthropic_messages};
use serde_json::json;

use crate::ai_cli::{
    CliProfile, QUICK_RETRY, assert_failed_permanently, assert_retried_once, assert_timed_out,
    attempt_log, edit_step, header, usage_events,
};
use crate::support::Test;

/// The API key the tests hand to Claude Code (through the profile's `env`), in the
/// variable the profile's `api_key_env` names; Claude Code gets it as ANTHROPIC_API_KEY.
pub(crate) const KEY: &str = "sk-ant-pipeline-test-claude-0123456789";

/// The model asked for in the profile (Claude Code passes unknown names through).
pub(crate) const MODEL: &str = "claude-fake-model";

/// The pinned Claude Code CLI, or `None` (after printing why) when the test must be
/// skipped.
pub(crate) fn claude_bin() -> Option<PathBuf> {
    crate::support::installed_cli("claude", ".tools/npm-claude/node_modules/.bin/claude")
}

/// A test repository whose `claude` profile runs `bin` against `server`. Claude Code's
/// own retries are off (`CLAUDE_CODE_MAX_RETRIES=0`) so that the pipeline's error engine
/// sees the 429 and decides; with its default of 10 retries Claude Code would wait out
/// the rate limit itself.
fn setup(bin: &Path, server: &FakeModelServer) -> Test {
    CliProfile::new("claude", bin, MODEL, server.base_url())
        .key("PIPELINE_TEST_CLAUDE_KEY", KEY)
        .env("CLAUDE_CODE_MAX_RETRIES", "0")
        .test()
}

/// A workstream of one claude step that may touch `hello.txt` and `greeting.md`, with
/// `extra` JSON fields (retry, timeout).
fn claude_step(t: &Test, extra: &str) -> PathBuf {
    edit_step(
        t,
        "claude",
        "Greet the world",
        &["Create hello.txt saying hello"],
        &["hello.txt", "greeting.md"],
        extra,
    )
}

/// How many of the requests `server` received were agent turns (offering tools); Claude
/// Code's side calls without tools are not counted.
fn agent_requests(server: &FakeModelServer) -> usize {
    server
        .requests()
        .iter()
        .filter(|r| r.body["tools"].as_array().is_some_and(|t| !t.is_empty()))
        .count()
}

/// Replies for a successful session: a `Bash` tool use writing `hello.txt`, a `Write`
/// tool use creating `greeting.md`, then the closing text. Each request reports 100 input
/// tokens (20 read from the cache) and 7 output tokens.
pub(crate) fn editing_session() -> Vec<Scripted> {
    let usage = json!({"input_tokens": 100, "cache_read_input_tokens": 20, "output_tokens": 7});
    vec![
        Scripted::Reply(json!({
            "text": "I will create the file.",
            "tool_use": {"name": "Bash", "input": {
                "command": "echo 'hello from claude' > hello.txt",
                "description": "Create hello.txt"}},
            "usage": usage,
        })),
        Scripted::Reply(json!({
            "tool_use": {"name": "Write", "input": {
                "file_path": "greeting.md",
                "content": "# Greeting\n\nWritten by claude.\n"}},
            "usage": usage,
        })),
        Scripted::Reply(json!({"text": "Created hello.txt and greeting.md.", "usage": usage})),
    ]
}

/// Copies the attempt logs of `run` to `$PIPELINE_CAPTURE_CLAUDE_FIXTURES` when set.
fn capture(t: &Test, run: &str, name: &str) {
    let Some(dir) = std::env::var_os("PIPELINE_CAPTURE_CLAUDE_FIXTURES") else {
        return;
    };
    let dir = PathBuf::from(dir);
    std::fs::create_dir_all(&dir).expect("capture directory");
    for attempt in 1..=3 {
        let log = attempt_log(t, run, attempt);
        if !log.is_empty() {
            std::fs::write(dir.join(format!("{name}-{attempt}.log")), log).expect("capture");
        }
    }
}

#[test]
fn claude_bash_and_write_tool_uses_land_in_the_step_commit_with_usage() {
    let Some(bin) = claude_bin() else { return };
    let server = FakeModelServer::start().expect("fake server starts");
    server.script(Api::AnthropicMessages, editing_session());
    let t = setup(&bin, &server);
    let ws = claude_step(&t, "");
    t.run(&ws, "cl", 1).assert_ok();
    capture(&t, "cl", "bash-tool-use");

    let step = t.step_status("cl", "edit");
    assert_eq!(step["status"], "completed", "{step:#}");
    assert_eq!(step["attempts"], 1, "{step:#}");
    assert_eq!(
        t.show("pipeline/cl", "hello.txt").as_deref(),
        Some("hello from claude\n")
    );
    assert_eq!(
        t.show("pipeline/cl", "greeting.md").as_deref(),
        Some("# Greeting\n\nWritten by claude.\n")
    );

    // Claude Code sent the step's prompt with the key from api_key_env, then the Bash
    // and Write results in two more requests (side calls without tools would be extra,
    // unscripted).
    let agent: Vec<_> = server
        .requests()
        .into_iter()
        .filter(|r| {
            r.path == "/v1/messages" && r.body["tools"].as_array().is_some_and(|t| !t.is_empty())
        })
        .collect();
    assert_eq!(agent.len(), 3, "{agent:#?}");
    assert_eq!(agent[0].body["model"], MODEL);
    let prompt = agent[0].body["messages"].to_string();
    assert!(prompt.contains("Create hello.txt saying hello"), "{prompt}");
    assert_eq!(header(&agent[0], "x-api-key"), Some(KEY));
    let second = agent[1].body["messages"].to_string();
    assert!(second.contains("tool_result"), "{second}");
    let third = agent[2].body["messages"].to_string();
    assert!(third.contains("greeting.md"), "{third}");

    // Usage: the sum of the two requests, as Claude Code reported it in its result event
    // (input tokens count the cache reads too).
    let usage = usage_events(&t, "cl");
    assert_eq!(usage.len(), 1, "{usage:?}");
    let usage = &usage[0]["usage"];
    assert_eq!(usage["model"], MODEL, "{usage}");
    assert_eq!(usage["input_tokens"], 360, "{usage}");
    assert_eq!(usage["cached_input_tokens"], 60, "{usage}");
    assert_eq!(usage["output_tokens"], 21, "{usage}");
    assert_eq!(usage["requests"], 3, "{usage}");

    // The attempt log keeps the stream-json events (what the error plugins read) without
    // the key, and Claude Code ran with its own config directory next to the log.
    let log = attempt_log(&t, "cl", 1);
    assert!(log.contains(r#""type":"result""#), "{log}");
    assert!(log.contains(r#""is_error":false"#), "{log}");
    assert!(log.contains(r#""name":"Bash""#), "{log}");
    assert!(
        !log.contains(KEY),
        "the API key leaked into the log:\n{log}"
    );
    let config_dir = t.repo.join(".pipeline/logs/cl/edit/1.claude-config");
    assert!(
        config_dir.join(".claude.json").is_file(),
        "Claude Code used {config_dir:?}"
    );
}

#[test]
fn claude_rate_limit_is_classified_and_retried() {
    let Some(bin) = claude_bin() else { return };
    let server = FakeModelServer::start().expect("fake server starts");
    let mut script = vec![anthropic_messages::rate_limited(1)];
    script.extend(editing_session());
    server.script(Api::AnthropicMessages, script);
    let t = setup(&bin, &server);
    let ws = claude_step(&t, QUICK_RETRY);
    t.run(&ws, "rl", 1).assert_ok();
    capture(&t, "rl", "rate-limited");

    assert_retried_once(&t, "rl", "rate_limited");
    assert_eq!(
        t.show("pipeline/rl", "hello.txt").as_deref(),
        Some("hello from claude\n")
    );
    let first = attempt_log(&t, "rl", 1);
    assert!(first.contains(r#""api_error_status":429"#), "{first}");
    assert!(first.contains(r#""is_error":true"#), "{first}");
    // Claude Code did not retry by itself: one rejected request, then three in attempt 2.
    assert_eq!(agent_requests(&server), 4);
}

#[test]
fn claude_unauthorized_fails_permanently_after_one_attempt() {
    let Some(bin) = claude_bin() else { return };
    let server = FakeModelServer::start().expect("fake server starts");
    server.script(Api::AnthropicMessages, [anthropic_messages::unauthorized()]);
    let t = setup(&bin, &server);
    let ws = claude_step(&t, QUICK_RETRY);
    t.run(&ws, "auth", 1).assert_code(1);
    capture(&t, "auth", "unauthorized");

    let error = assert_failed_permanently(&t, "auth", KEY);
    assert!(error.contains("401"), "{error}");
    assert!(error.contains("class permanent"), "{error}");
    assert_eq!(agent_requests(&server), 1);
    assert!(t.show("pipeline/auth", "hello.txt").is_none());
}

#[test]
fn claude_stalled_response_is_killed_at_the_step_timeout() {
    let Some(bin) = claude_bin() else { return };
    let server = FakeModelServer::start().expect("fake server starts");
    server.script(Api::AnthropicMessages, [Scripted::Stall]);
    let t = setup(&bin, &server);
    let ws = claude_step(&t, r#", "timeout_sec": 8, "retry": {"max_attempts": 1}"#);
    t.run(&ws, "stall", 1).assert_code(1);
    capture(&t, "stall", "stalled");

    let log = assert_timed_out(&t, "stall");
    assert!(!log.contains(r#""type":"result""#), "{log}");
    assert_eq!(
        agent_requests(&server),
        1,
        "the request reached the server and stalled there"
    );
}

#[test]
fn claude_overloaded_api_is_transient_and_retried() {
    let Some(bin) = claude_bin() else { return };
    let server = FakeModelServer::start().expect("fake server starts");
    let mut script = vec![Scripted::Status {
        status: 529,
        headers: Vec::new(),
        body:
            json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})
                .to_string(),
    }];
    script.extend(editing_session());
    server.script(Api::AnthropicMessages, script);
    let t = setup(&bin, &server);
    let ws = claude_step(&t, QUICK_RETRY);
    t.run(&ws, "busy", 1).assert_ok();
    capture(&t, "busy", "overloaded");

    assert_retried_once(&t, "busy", "transient");
    assert_eq!(
        t.show("pipeline/busy", "hello.txt").as_deref(),
        Some("hello from claude\n")
    );
}

#[test]
fn claude_without_its_api_key_names_the_missing_variable() {
    let Some(bin) = claude_bin() else { return };
    let server = FakeModelServer::start().expect("fake server starts");
    // The profile names a variable for the key that nobody sets.
    let t = CliProfile::new("claude", &bin, MODEL, server.base_url())
        .key_env("PIPELINE_TEST_CLAUDE_UNSET_KEY")
        .test();
    let ws = claude_step(&t, r#", "retry": {"max_attempts": 1}"#);
    let run = t
        .cmd()
        .args([
            "run",
            ws.to_str().expect("utf-8 path"),
            "--run-id",
            "nokey",
            "--jobs",
            "1",
        ])
        .env_remove("PIPELINE_TEST_CLAUDE_UNSET_KEY")
        .env_remove("ANTHROPIC_API_KEY")
        .output()
        .expect("pipeline runs");
    assert_eq!(
        run.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    capture(&t, "nokey", "not-logged-in");

    let step = t.step_status("nokey", "edit");
    assert_eq!(step["status"], "failed", "{step:#}");
    let error = step["error"].as_str().unwrap_or_default();
    assert!(error.contains("Not logged in"), "{error}");
    assert!(
        error.contains(
            "PIPELINE_TEST_CLAUDE_UNSET_KEY named by the profile's api_key_env is not set"
        ),
        "{error}"
    );
    assert!(server.requests().is_empty(), "no key, no model request");
}
