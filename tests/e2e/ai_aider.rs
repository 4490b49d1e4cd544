//! The aider adapter end to end: `pipeline run` drives the real Aider CLI (pinned by
//! `scripts/install-aider.sh`) against the fake model server's OpenAI chat-completions
//! API on 127.0.0.1. Covered: a whole-file edit (not streamed) and a SEARCH/REPLACE edit
//! (streamed) landing in the step's commit with usage recorded and no commit of Aider's
//! own; HTTP 429 classified `rate_limited` and retried; HTTP 401 failing permanently
//! after one attempt; a stalled response killed at the step's `timeout_sec`.
//!
//! The CLI is found at `$PIPELINE_TEST_AIDER_BIN`, else at `.tools/venv-aider/bin/aider`.
//! Without it the tests print a loud SKIP and pass, except under `CI=true`, where they
//! fail.

use std::path::{Path, PathBuf};

use fake_model_server::{Api, FakeModelServer, Scripted};
use serde_json::json;

use crate::ai_cli::{
    CliProfile, QUICK_RETRY, assert_failed_permanently, assert_retried_once, assert_timed_out,
    attempt_log, edit_step, header, log_exit_code, log_output, usage_events,
};
use crate::support::Test;

/// The API key the tests hand to Aider (through the profile's `env`), in the variable
/// the profile's `api_key_env` names.
pub(crate) const KEY: &str = "sk-pipeline-test-aider-0123456789";

pub(crate) const ORIGINAL: &str = "def greet():\n    return \"hello\"\n";
pub(crate) const EDITED: &str = "def greet():\n    return \"hello, world\"\n";

/// The pinned Aider CLI, or `None` (after printing why) when the test must be skipped.
pub(crate) fn aider_bin() -> Option<PathBuf> {
    crate::support::installed_cli("aider", ".tools/venv-aider/bin/aider")
}

/// A test repository with `hello.py` whose `aider` profile runs `bin` against `server`
/// with the extra Aider `args`.
fn setup(bin: &Path, server: &FakeModelServer, args: &[&str]) -> Test {
    let t = CliProfile::new(
        "aider",
        bin,
        "fake-model",
        format!("{}/v1", server.base_url()),
    )
    .key("PIPELINE_TEST_AIDER_KEY", KEY)
    .args(args)
    .test();
    t.commit_file("hello.py", ORIGINAL);
    t
}

/// A workstream of one aider step that may edit `hello.py`, with `extra` JSON fields.
fn aider_step(t: &Test, extra: &str) -> PathBuf {
    edit_step(
        t,
        "aider",
        "Greet the whole world",
        &["Make greet() return hello, world"],
        &["hello.py"],
        extra,
    )
}

/// The assistant's whole-file edit of `hello.py`.
pub(crate) fn whole_file_reply() -> Scripted {
    Scripted::Reply(json!({
        "content": format!("I changed the greeting.\n\nhello.py\n```python\n{EDITED}```\n"),
        "usage": {"prompt_tokens": 1234, "completion_tokens": 56},
    }))
}

/// Commits of the run's result branch that are not on `main`, as `author|subject`.
fn step_commits(t: &Test, run: &str) -> Vec<String> {
    t.git(&["log", "--format=%an|%s", &format!("main..pipeline/{run}")])
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn aider_whole_file_edit_lands_in_the_step_commit_with_usage() {
    let Some(bin) = aider_bin() else { return };
    let server = FakeModelServer::start().expect("fake server starts");
    server.script(Api::OpenAiChat, [whole_file_reply()]);
    let t = setup(&bin, &server, &["--edit-format", "whole"]);
    let ws = aider_step(&t, "");
    t.run(&ws, "wf", 1).assert_ok();

    let step = t.step_status("wf", "edit");
    assert_eq!(step["status"], "completed", "{step:#}");
    assert_eq!(step["attempts"], 1, "{step:#}");
    assert_eq!(t.show("pipeline/wf", "hello.py").as_deref(), Some(EDITED));

    // Only the pipeline's commit: Aider made none (--no-auto-commits), and left none of
    // its files (history, repo-map cache) in the commit.
    let commits = step_commits(&t, "wf");
    assert_eq!(commits.len(), 1, "{commits:?}");
    assert!(!commits[0].contains("(aider)"), "{commits:?}");
    let tree = t.git(&["ls-tree", "-r", "--name-only", "pipeline/wf"]);
    assert!(!tree.contains(".aider"), "{tree}");

    // Aider sent the step's prompt and the file to the fake server, not streamed, with
    // the key from api_key_env as the bearer token.
    let requests = server.requests();
    assert_eq!(requests.len(), 1, "{requests:#?}");
    assert_eq!(requests[0].path, "/v1/chat/completions");
    assert_eq!(requests[0].body["model"], "fake-model");
    assert_ne!(requests[0].body["stream"], json!(true));
    let messages = requests[0].body["messages"].to_string();
    assert!(
        messages.contains("Make greet() return hello, world"),
        "{messages}"
    );
    assert!(messages.contains("return \\\"hello\\\""), "{messages}");
    assert_eq!(
        header(&requests[0], "authorization"),
        Some(format!("Bearer {KEY}").as_str())
    );

    // Usage from Aider's "Tokens: 1.2k sent, 56 received." line.
    let usage = usage_events(&t, "wf");
    assert_eq!(usage.len(), 1, "{usage:?}");
    let usage = &usage[0]["usage"];
    assert_eq!(usage["model"], "openai/fake-model", "{usage}");
    assert_eq!(usage["input_tokens"], 1200, "{usage}");
    assert_eq!(usage["output_tokens"], 56, "{usage}");
    assert_eq!(usage["requests"], 1, "{usage}");

    let log = attempt_log(&t, "wf", 1);
    assert!(log.contains("Applied edit to hello.py"), "{log}");
    assert!(log.contains("Tokens: 1.2k sent, 56 received."), "{log}");
    assert!(
        !log.contains(KEY),
        "the API key leaked into the log:\n{log}"
    );
    // Aider ran with its own home next to the log, with the generated model metadata.
    let metadata = std::fs::read_to_string(
        t.repo
            .join(".pipeline/logs/wf/edit/1.aider-home/model-metadata.json"),
    )
    .expect("generated model metadata");
    assert!(metadata.contains("openai/fake-model"), "{metadata}");
    // Aider writes ~/.aider/caches/model_prices_and_context_window.json (even "{}" when
    // the download fails) whenever it tries to fetch LiteLLM's model list: it did not.
    let caches = t
        .repo
        .join(".pipeline/logs/wf/edit/1.aider-home/.aider/caches");
    assert!(
        !caches.exists(),
        "Aider tried to download model metadata: {}",
        caches.display()
    );
}

#[test]
fn aider_streamed_search_replace_edit_lands_in_the_step_commit() {
    let Some(bin) = aider_bin() else { return };
    let server = FakeModelServer::start().expect("fake server starts");
    let edit = "hello.py\n```python\n<<<<<<< SEARCH\n    return \"hello\"\n=======\n    return \"hello, world\"\n>>>>>>> REPLACE\n```\n";
    server.script(
        Api::OpenAiChat,
        [Scripted::Reply(json!({
            "content": format!("Here is the edit.\n\n{edit}"),
            "usage": {"prompt_tokens": 900, "completion_tokens": 40},
            "chunk_chars": 7,
        }))],
    );
    let t = setup(&bin, &server, &["--edit-format", "diff", "--stream"]);
    let ws = aider_step(&t, "");
    t.run(&ws, "sr", 1).assert_ok();

    assert_eq!(t.step_status("sr", "edit")["status"], "completed");
    assert_eq!(t.show("pipeline/sr", "hello.py").as_deref(), Some(EDITED));
    assert_eq!(step_commits(&t, "sr").len(), 1);
    let requests = server.requests();
    assert_eq!(requests.len(), 1, "{requests:#?}");
    assert_eq!(
        requests[0].body["stream"],
        json!(true),
        "the profile's --stream wins"
    );
    let log = attempt_log(&t, "sr", 1);
    assert!(log.contains("Applied edit to hello.py"), "{log}");
}

#[test]
fn aider_rate_limit_is_classified_and_retried() {
    let Some(bin) = aider_bin() else { return };
    let server = FakeModelServer::start().expect("fake server starts");
    let limited = Scripted::Status {
        status: 429,
        headers: vec![("Retry-After".to_owned(), "1".to_owned())],
        body: json!({"error": {
            "message": "Rate limit reached for fake-model in organization org-test on requests per min (RPM): Limit 3, Used 3, Requested 1. Please try again in 1s.",
            "type": "requests", "param": null, "code": "rate_limit_exceeded"}})
        .to_string(),
    };
    // The OpenAI client inside Aider (LiteLLM) retries a 429 twice by itself, honouring
    // Retry-After, before Aider sees the error: three 429s make attempt 1 fail.
    server.script(
        Api::OpenAiChat,
        [
            limited.clone(),
            limited.clone(),
            limited,
            whole_file_reply(),
        ],
    );
    let t = setup(&bin, &server, &["--edit-format", "whole"]);
    let ws = aider_step(&t, QUICK_RETRY);
    t.run(&ws, "rl", 1).assert_ok();

    assert_retried_once(&t, "rl", "rate_limited");
    assert_eq!(t.show("pipeline/rl", "hello.py").as_deref(), Some(EDITED));
    let first = attempt_log(&t, "rl", 1);
    assert!(first.contains("litellm.RateLimitError"), "{first}");
    // The adapter stopped Aider's own retry loop: the script was used up exactly.
    assert_eq!(server.requests().len(), 4);
}

#[test]
fn aider_unauthorized_fails_permanently_after_one_attempt() {
    let Some(bin) = aider_bin() else { return };
    let server = FakeModelServer::start().expect("fake server starts");
    server.script(
        Api::OpenAiChat,
        [Scripted::Status {
            status: 401,
            headers: Vec::new(),
            body: json!({"error": {
                "message": format!("Incorrect API key provided: {KEY}. You can find your API key at https://platform.openai.com/account/api-keys."),
                "type": "invalid_request_error", "param": null, "code": "invalid_api_key"}})
            .to_string(),
        }],
    );
    let t = setup(&bin, &server, &["--edit-format", "whole"]);
    let ws = aider_step(&t, QUICK_RETRY);
    t.run(&ws, "auth", 1).assert_code(1);

    let error = assert_failed_permanently(&t, "auth", KEY);
    assert!(error.contains("AuthenticationError"), "{error}");
    assert_eq!(server.requests().len(), 1);
    // The server echoed the key; the log shows it redacted.
    let log = attempt_log(&t, "auth", 1);
    assert!(
        log.contains("Incorrect API key provided: [REDACTED]"),
        "{log}"
    );
    assert!(!log.contains(KEY), "{log}");
}

#[test]
fn aider_stalled_response_is_killed_at_the_step_timeout() {
    let Some(bin) = aider_bin() else { return };
    let server = FakeModelServer::start().expect("fake server starts");
    server.script(Api::OpenAiChat, [Scripted::Stall]);
    let t = setup(&bin, &server, &[]);
    // Aider needs several seconds to start (Python imports, repository map), more on a
    // loaded machine; the timeout leaves it ample time to reach the server first.
    let ws = aider_step(&t, r#", "timeout_sec": 30, "retry": {"max_attempts": 1}"#);
    t.run(&ws, "stall", 1).assert_code(1);

    let log = assert_timed_out(&t, "stall");
    assert!(log.contains("timed out after 30 s"), "{log}");
    assert_eq!(
        server.requests().len(),
        1,
        "the request reached the server and stalled there"
    );
}

/// Regenerates `error/tests/fixtures/aider/` from real Aider runs through `pipeline run`
/// against the fake server (see the README there). Ignored by default; run with
/// `PIPELINE_CAPTURE_AIDER_FIXTURES=1 cargo test --test e2e ai_aider::capture -- --ignored`.
/// Without the variable it still runs every case and checks what Aider printed, but
/// writes nothing.
#[test]
#[ignore = "captures error fixtures; run on demand"]
fn capture_error_fixtures() {
    let Some(bin) = aider_bin() else { return };
    let write = std::env::var("PIPELINE_CAPTURE_AIDER_FIXTURES").as_deref() == Ok("1");
    let app = "def fetch():\n    return 1\n";
    let reply = |content: &str| {
        Scripted::Reply(
            json!({"content": content, "usage": {"prompt_tokens": 2345, "completion_tokens": 61}}),
        )
    };
    let api_error = |status: u16, message: &str, code: &str| {
        Scripted::Status {
        status,
        headers: Vec::new(),
        body: json!({"error": {"message": message, "type": "invalid_request_error", "param": null, "code": code}}).to_string(),
    }
    };
    let matching = "I added rate limiting with exponential backoff to the client.\n\nsrc/app.py\n```python\n<<<<<<< SEARCH\ndef fetch():\n=======\ndef fetch_with_rate_limit():\n>>>>>>> REPLACE\n```\n";
    let failing = "src/app.py\n```python\n<<<<<<< SEARCH\ndef fetch_missing():\n=======\ndef fetch():\n>>>>>>> REPLACE\n```\n";
    let limited = api_error(
        429,
        "Rate limit reached for fake-model in organization org-test on tokens per min (TPM): Limit 30000, Used 29817, Requested 1200. Please try again in 20s.",
        "rate_limit_exceeded",
    );
    let cases: Vec<(&str, Vec<Scripted>, i32, &str)> = vec![
        (
            "success",
            vec![reply(matching)],
            0,
            "Applied edit to src/app.py",
        ),
        (
            "rate-limit",
            vec![limited.clone(), limited.clone(), limited],
            1,
            "litellm.RateLimitError",
        ),
        (
            "auth",
            vec![api_error(
                401,
                &format!(
                    "Incorrect API key provided: {KEY}. You can find your API key at https://platform.openai.com/account/api-keys."
                ),
                "invalid_api_key",
            )],
            1,
            "litellm.AuthenticationError",
        ),
        (
            "unknown-model",
            vec![api_error(
                404,
                "The model `fake-model` does not exist or you do not have access to it.",
                "model_not_found",
            )],
            1,
            "litellm.NotFoundError",
        ),
        (
            "no-edits",
            vec![
                reply(failing),
                reply(failing),
                reply(failing),
                reply(failing),
            ],
            1,
            "SearchReplaceNoExactMatch",
        ),
    ];
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("error/tests/fixtures/aider");
    for (name, script, code, marker) in cases {
        let server = FakeModelServer::start().expect("fake server starts");
        server.script(Api::OpenAiChat, script);
        let t = setup(&bin, &server, &["--edit-format", "diff"]);
        t.commit_file("src/app.py", app);
        let ws = edit_step(
            &t,
            "aider",
            "Add rate limiting to fetch",
            &["Rename fetch to fetch_with_rate_limit"],
            &["src/app.py"],
            r#", "retry": {"max_attempts": 1}"#,
        );
        t.run(&ws, name, 1).assert_code(code);
        let log = attempt_log(&t, name, 1);
        let output = log_output(&log)
            .unwrap_or_else(|| panic!("no output section in the log of {name}:\n{log}"));
        assert!(
            output.contains(marker),
            "{name}: {marker:?} missing:\n{output}"
        );
        assert!(!output.contains(KEY), "{name}: the key leaked:\n{output}");
        // Exit status as the error engine sees it: Aider's own, or 143 (128 + SIGTERM)
        // when the adapter stopped Aider's retry loop.
        let exit = if log.contains("[pipeline] result: cancelled") {
            143
        } else {
            log_exit_code(&log).unwrap_or_else(|| panic!("{name}: no exit code in the log:\n{log}"))
        };
        if write {
            std::fs::write(dir.join(format!("{name}.txt")), output).expect("write fixture");
            std::fs::write(dir.join(format!("{name}.exit")), format!("{exit}\n"))
                .expect("write fixture");
        }
    }
}
