//! Tests of the claude adapter: the command line and environment it builds, the parsing
//! of real Claude Code stream-json output (the captures in `error/tests/fixtures/claude/`),
//! and whole attempts run through a stand-in `claude` script that replays those captures.
//! The real CLI is driven by the end-to-end tests (`tests/e2e/ai_claude.rs`).

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use pipeline_process::{OutputLimits, ProcessSpec};
use tokio_util::sync::CancellationToken;

use super::stream_report::{StreamReport, progress_line};
use super::{ClaudeAdapter, DEFAULT_PERMISSION_MODE, QUIET_ENV};
use crate::invocation::Invocation;
use crate::prompt_argument::MAX_PROMPT_ARG_BYTES;
use crate::tool_adapter::ToolAdapter;
use crate::tool_profile::{ToolKind, ToolProfile};

const SUCCESS: &str = include_str!("../../../error/tests/fixtures/claude/success.txt");
const RATE_LIMIT: &str = include_str!("../../../error/tests/fixtures/claude/rate-limit.txt");
const NOT_LOGGED_IN: &str = include_str!("../../../error/tests/fixtures/claude/not-logged-in.txt");

const KEY: &str = "sk-ant-unit-test-key-0123456789";

fn profile() -> ToolProfile {
    let mut profile = ToolProfile::custom("claude", Vec::new());
    profile.kind = ToolKind::Claude;
    profile.model = Some("claude-test".to_owned());
    profile.api_base = Some("http://127.0.0.1:9/v1/".to_owned());
    profile.api_key_env = Some("TEST_CLAUDE_KEY".to_owned());
    profile
}

fn invocation(root: &Path) -> Invocation {
    let worktree = root.join("worktree");
    fs::create_dir_all(&worktree).unwrap();
    Invocation {
        step_id: "ws/edit".to_owned(),
        attempt: 1,
        worktree,
        prompt: "-- Create hello.txt".to_owned(),
        prompt_file: root.join("logs/1.prompt.md"),
        has_prompt: true,
        files: vec!["hello.txt".to_owned()],
        context_files: Vec::new(),
        env: BTreeMap::new(),
        timeout: None,
        stall_timeout: None,
        log_path: root.join("logs/1.log"),
        limits: OutputLimits::default(),
        containment: Default::default(),
        secrets: Vec::new(),
        usage_watch: None,
    }
}

fn strings(args: &[OsString]) -> Vec<String> {
    args.iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect()
}

/// The value the process gets for `name` (the last pair wins).
fn env_value(spec: &ProcessSpec, name: &str) -> Option<String> {
    spec.env
        .iter()
        .rev()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.to_string_lossy().into_owned())
}

fn key_lookup(name: &str) -> Option<String> {
    (name == "TEST_CLAUDE_KEY").then(|| KEY.to_owned())
}

#[test]
fn command_line_is_print_mode_stream_json_with_permission_mode_model_and_prompt_last() {
    let dir = tempfile::tempdir().unwrap();
    let inv = invocation(dir.path());
    let mut profile = profile();
    profile.args = vec![
        "--max-budget-usd".to_owned(),
        "2".to_owned(),
        "--add-dir={worktree}".to_owned(),
    ];
    let adapter = ClaudeAdapter::new("claude", profile).unwrap();
    let spec = adapter.process_spec(&inv, Path::new("/cfg"), &key_lookup);
    assert_eq!(spec.program, OsString::from("claude"));
    assert_eq!(spec.cwd, inv.worktree);
    let worktree = format!("--add-dir={}", inv.worktree.display());
    assert_eq!(
        strings(&spec.args),
        vec![
            "-p",
            "--output-format",
            "stream-json",
            "--verbose",
            "--permission-mode",
            DEFAULT_PERMISSION_MODE,
            "--model",
            "claude-test",
            "--max-budget-usd",
            "2",
            worktree.as_str(),
            "--",
            "-- Create hello.txt",
        ]
    );
}

#[test]
fn profile_args_choosing_permissions_replace_the_default_mode() {
    let dir = tempfile::tempdir().unwrap();
    let inv = invocation(dir.path());
    for args in [
        vec!["--permission-mode", "bypassPermissions"],
        vec!["--permission-mode=plan"],
        vec!["--dangerously-skip-permissions"],
    ] {
        let mut profile = profile();
        profile.args = args.iter().map(|a| (*a).to_owned()).collect();
        let adapter = ClaudeAdapter::new("claude", profile).unwrap();
        let spec = adapter.process_spec(&inv, Path::new("/cfg"), &key_lookup);
        let line = strings(&spec.args);
        assert!(
            !line.iter().any(|a| a == DEFAULT_PERMISSION_MODE),
            "{line:?}"
        );
        assert!(line.iter().any(|a| a == args[0]), "{line:?}");
    }
}

#[test]
fn environment_isolates_the_config_and_passes_base_url_and_key_under_claude_names() {
    let dir = tempfile::tempdir().unwrap();
    let mut inv = invocation(dir.path());
    inv.env.insert("STEP_ONLY".to_owned(), "step".to_owned());
    inv.env.insert("SHARED".to_owned(), "from-step".to_owned());
    let mut profile = profile();
    profile
        .env
        .insert("SHARED".to_owned(), "from-profile".to_owned());
    profile
        .env
        .insert("DISABLE_TELEMETRY".to_owned(), "0".to_owned());
    let adapter = ClaudeAdapter::new("claude", profile).unwrap();
    let spec = adapter.process_spec(&inv, Path::new("/attempt/1.claude-config"), &key_lookup);

    for (name, value) in QUIET_ENV {
        if name != "DISABLE_TELEMETRY" {
            assert_eq!(env_value(&spec, name).as_deref(), Some(value), "{name}");
        }
    }
    // The profile's and step's env may override the defaults; the step wins.
    assert_eq!(env_value(&spec, "DISABLE_TELEMETRY").as_deref(), Some("0"));
    assert_eq!(env_value(&spec, "SHARED").as_deref(), Some("from-step"));
    assert_eq!(env_value(&spec, "STEP_ONLY").as_deref(), Some("step"));
    assert_eq!(
        env_value(&spec, "CLAUDE_CONFIG_DIR").as_deref(),
        Some("/attempt/1.claude-config")
    );
    // Claude Code appends /v1/messages itself.
    assert_eq!(
        env_value(&spec, "ANTHROPIC_BASE_URL").as_deref(),
        Some("http://127.0.0.1:9")
    );
    assert_eq!(env_value(&spec, "ANTHROPIC_API_KEY").as_deref(), Some(KEY));
    assert_eq!(
        env_value(&spec, "PIPELINE_STEP_ID").as_deref(),
        Some("ws/edit")
    );
    assert_eq!(spec.secrets, vec![KEY.to_owned()]);
    assert!(!spec.env_clear);
}

#[test]
fn the_key_comes_from_the_step_env_before_the_pipeline_env_and_is_absent_when_unset() {
    let dir = tempfile::tempdir().unwrap();
    let mut inv = invocation(dir.path());
    let adapter = ClaudeAdapter::new("claude", profile()).unwrap();
    let spec = adapter.process_spec(&inv, Path::new("/cfg"), &|_| None);
    assert_eq!(env_value(&spec, "ANTHROPIC_API_KEY"), None);
    assert!(spec.secrets.is_empty());

    inv.env
        .insert("TEST_CLAUDE_KEY".to_owned(), "sk-from-step-env".to_owned());
    let spec = adapter.process_spec(&inv, Path::new("/cfg"), &key_lookup);
    assert_eq!(
        env_value(&spec, "ANTHROPIC_API_KEY").as_deref(),
        Some("sk-from-step-env")
    );
}

#[test]
fn long_prompts_are_read_from_the_prompt_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut inv = invocation(dir.path());
    inv.prompt = "x".repeat(MAX_PROMPT_ARG_BYTES + 1);
    let adapter = ClaudeAdapter::new("claude", profile()).unwrap();
    let spec = adapter.process_spec(&inv, Path::new("/cfg"), &key_lookup);
    let args = strings(&spec.args);
    let last = args.last().unwrap();
    assert!(
        last.len() < 1000,
        "the prompt itself is not on the command line"
    );
    assert!(
        last.contains(&inv.prompt_file.display().to_string()),
        "{last}"
    );
    let add_dir = args
        .iter()
        .position(|a| a == "--add-dir")
        .expect("--add-dir");
    assert_eq!(
        args[add_dir + 1],
        dir.path().join("logs").display().to_string()
    );
}

#[test]
fn a_successful_session_reports_success_usage_and_requests() {
    let report = StreamReport::from_text(SUCCESS);
    assert_eq!(report.reported_success(), Some(true));
    assert_eq!(report.model.as_deref(), Some("claude-fake-model"));
    assert_eq!(report.permission_mode.as_deref(), Some("acceptEdits"));
    assert_eq!(report.tool_uses, 2);
    assert_eq!(report.requests(), 3);
    let result = report.result.as_ref().unwrap();
    assert_eq!(result.turns, Some(3));
    assert_eq!(
        result.text.as_deref(),
        Some("Created hello.txt and greeting.md.")
    );
    let usage = report.usage().unwrap();
    assert_eq!(usage.model.as_deref(), Some("claude-fake-model"));
    // 300 uncached input tokens + 60 read from the cache.
    assert_eq!(usage.input_tokens, Some(360));
    assert_eq!(usage.cached_input_tokens, Some(60));
    assert_eq!(usage.output_tokens, Some(21));
    assert_eq!(usage.requests, Some(3));
    assert!(usage.cost_usd.is_some_and(|cost| cost > 0.0));
}

#[test]
fn an_api_error_is_a_failure_with_its_status_and_message() {
    let report = StreamReport::from_text(RATE_LIMIT);
    assert_eq!(report.reported_success(), Some(false));
    let result = report.result.as_ref().unwrap();
    assert_eq!(result.api_error_status, Some(429));
    assert_eq!(result.api_error.as_deref(), Some("rate_limit_error"));
    assert_eq!(result.terminal_reason.as_deref(), Some("api_error"));
    assert!(
        result
            .text
            .as_deref()
            .is_some_and(|t| t.starts_with("API Error: Request rejected (429)")),
        "{result:?}"
    );
    // The synthetic error message is not a model request.
    assert_eq!(report.requests(), 0);
    let report = StreamReport::from_text(NOT_LOGGED_IN);
    assert_eq!(report.reported_success(), Some(false));
    assert_eq!(
        report.result.as_ref().and_then(|r| r.text.as_deref()),
        Some("Not logged in · Please run /login")
    );
}

#[test]
fn without_a_result_event_success_is_unknown_and_usage_is_what_the_requests_streamed() {
    let cut: String = SUCCESS
        .lines()
        .filter(|line| !line.contains(r#""type":"result""#))
        .map(|line| format!("{line}\n"))
        .collect();
    let report = StreamReport::from_text(&cut);
    assert_eq!(report.reported_success(), None);
    let usage = report.usage().unwrap();
    assert_eq!(usage.requests, Some(3));
    // Three requests of 100 uncached and 20 cached input tokens; `msg_fake_2` appears
    // twice (two content blocks) and counts once. Output counts are what each request
    // had reported when its first block was printed; no cost before the `result`.
    assert_eq!(usage.input_tokens, Some(360));
    assert_eq!(usage.cached_input_tokens, Some(60));
    assert_eq!(usage.output_tokens, Some(3));
    assert_eq!(usage.cost_usd, None);
    assert_eq!(usage, report.streamed_usage().unwrap());
    assert_eq!(StreamReport::from_text("").usage(), None);
    assert_eq!(StreamReport::from_text(RATE_LIMIT).streamed_usage(), None);
}

#[test]
fn streamed_usage_takes_the_largest_count_a_request_reported() {
    let mut report = StreamReport::default();
    report.feed(r#"{"type":"assistant","message":{"id":"m1","model":"x","usage":{"input_tokens":10,"output_tokens":1},"content":[]}}"#);
    report.feed(r#"{"type":"assistant","message":{"id":"m1","model":"x","usage":{"input_tokens":10,"output_tokens":40},"content":[]}}"#);
    report.feed(r#"{"type":"assistant","message":{"id":"s","model":"<synthetic>","usage":{"input_tokens":999},"content":[]}}"#);
    let usage = report.streamed_usage().unwrap();
    assert_eq!(usage.input_tokens, Some(10));
    assert_eq!(usage.output_tokens, Some(40));
    assert_eq!(usage.requests, Some(1));
}

#[test]
fn a_result_line_cut_short_still_tells_success_from_failure() {
    let result_line = SUCCESS
        .lines()
        .find(|line| line.contains(r#""type":"result""#))
        .unwrap();
    let long = result_line.replace(
        r#""result":"Created hello.txt and greeting.md.""#,
        &format!(r#""result":"{}""#, "y".repeat(8000)),
    );
    let cut = &long[..4096];
    assert!(
        !cut.contains(r#""type":"result""#),
        "Claude Code writes the type last"
    );
    let mut report = StreamReport::default();
    report.feed(cut);
    assert!(report.result.is_none());
    assert_eq!(report.reported_success(), Some(true));
    let mut report = StreamReport::default();
    report.feed(&cut.replace(r#""is_error":false"#, r#""is_error":true"#));
    assert_eq!(report.reported_success(), Some(false));
}

#[test]
fn progress_lines_say_what_claude_does() {
    let progress: Vec<String> = SUCCESS.lines().filter_map(progress_line).collect();
    assert!(
        progress.contains(&"tool: Bash echo 'hello from claude' > hello.txt".to_owned()),
        "{progress:#?}"
    );
    assert!(
        progress.contains(&"I will create the file.".to_owned()),
        "{progress:#?}"
    );
    assert!(
        progress.contains(&"result: success: Created hello.txt and greeting.md.".to_owned()),
        "{progress:#?}"
    );
    // Tool results and the init event are not shown; plain lines pass through.
    assert!(!progress.iter().any(|line| line.contains("tool_result")));
    assert!(
        !progress
            .iter()
            .any(|line| line.contains(r#""subtype":"init""#))
    );
    assert_eq!(
        progress_line(r#"{"type":"system","subtype":"api_retry","attempt":1,"error_status":429}"#)
            .as_deref(),
        Some("retrying model request (HTTP 429)")
    );
    assert_eq!(
        progress_line("plain notice").as_deref(),
        Some("plain notice")
    );
}

/// A stand-in `claude` that records its key, config dir and arguments in the config dir,
/// prints the file `$FAKE_STREAM`, sleeps `$FAKE_SLEEP` seconds and exits with
/// `$FAKE_EXIT`.
fn stand_in(dir: &Path) -> PathBuf {
    let script = dir.join("fake-claude");
    fs::write(
        &script,
        "#!/bin/sh\nprintf '%s\\n' \"$ANTHROPIC_API_KEY\" > \"$CLAUDE_CONFIG_DIR/key-seen\"\nprintf '%s\\n' \"$@\" > \"$CLAUDE_CONFIG_DIR/args-seen\"\ncat \"$FAKE_STREAM\"\nsleep \"${FAKE_SLEEP:-0}\"\nexit \"${FAKE_EXIT:-0}\"\n",
    )
    .unwrap();
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
    script
}

/// Runs one attempt of the stand-in replaying `stream` and exiting with `exit`.
async fn run_stand_in(
    stream: &str,
    exit: i32,
) -> (tempfile::TempDir, Invocation, crate::ToolOutcome) {
    let dir = tempfile::tempdir().unwrap();
    let mut inv = invocation(dir.path());
    let stream_file = dir.path().join("stream.jsonl");
    fs::write(&stream_file, stream).unwrap();
    inv.env
        .insert("FAKE_STREAM".to_owned(), stream_file.display().to_string());
    inv.env.insert("FAKE_EXIT".to_owned(), exit.to_string());
    inv.env.insert("TEST_CLAUDE_KEY".to_owned(), KEY.to_owned());
    let mut profile = profile();
    profile.command = stand_in(dir.path()).display().to_string();
    let adapter = ClaudeAdapter::new("claude", profile).unwrap();
    let outcome = adapter
        .invoke(&inv, None, CancellationToken::new())
        .await
        .unwrap();
    (dir, inv, outcome)
}

#[tokio::test]
async fn an_attempt_succeeds_on_a_successful_result_with_usage_and_an_isolated_config() {
    let (dir, inv, outcome) = run_stand_in(SUCCESS, 0).await;
    assert!(outcome.success, "{}", outcome.summary);
    assert!(
        outcome.summary.starts_with(
            "exit 0: claude finished in 3 turn(s), 2 tool use(s), 360 tokens in (60 cached), 21 out"
        ),
        "{}",
        outcome.summary
    );
    assert_eq!(
        outcome.usage.as_ref().and_then(|u| u.output_tokens),
        Some(21)
    );
    let config = dir.path().join("logs/1.claude-config");
    assert_eq!(
        fs::read_to_string(config.join("key-seen")).unwrap(),
        format!("{KEY}\n")
    );
    let args = fs::read_to_string(config.join("args-seen")).unwrap();
    assert!(
        args.starts_with("-p\n--output-format\nstream-json\n--verbose\n"),
        "{args}"
    );
    assert_eq!(fs::read_to_string(&inv.prompt_file).unwrap(), inv.prompt);
}

#[tokio::test]
async fn an_error_result_fails_the_attempt_even_with_exit_status_zero() {
    let (_dir, _inv, outcome) = run_stand_in(RATE_LIMIT, 0).await;
    assert!(!outcome.success);
    assert!(
        outcome.summary.starts_with("exit 0: claude reported an error (api_error, HTTP 429, rate_limit_error): API Error: Request rejected (429)"),
        "{}",
        outcome.summary
    );
}

#[tokio::test]
async fn a_missing_result_event_fails_the_attempt() {
    let (_dir, _inv, outcome) = run_stand_in("notice: something went wrong\n", 0).await;
    assert!(!outcome.success);
    assert_eq!(
        outcome.summary,
        "exit 0: no final result event from claude; last output: notice: something went wrong"
    );
    assert_eq!(outcome.usage, None);
}

#[tokio::test]
async fn a_successful_result_longer_than_a_progress_line_is_read_from_the_log() {
    let long: String = SUCCESS
        .lines()
        .map(|line| {
            line.replace(
                r#""result":"Created hello.txt and greeting.md.""#,
                &format!(r#""result":"{}""#, "z".repeat(20_000)),
            )
        })
        .map(|line| format!("{line}\n"))
        .collect();
    let (_dir, _inv, outcome) = run_stand_in(&long, 0).await;
    assert!(outcome.success, "{}", outcome.summary);
    assert_eq!(
        outcome.usage.as_ref().and_then(|u| u.input_tokens),
        Some(360)
    );
}

#[tokio::test]
async fn a_successful_result_with_a_failing_exit_status_is_a_failure() {
    let (_dir, _inv, outcome) = run_stand_in(SUCCESS, 3).await;
    assert!(!outcome.success);
    assert!(
        outcome
            .summary
            .starts_with("exit 3 (success: 0): claude finished"),
        "{}",
        outcome.summary
    );
    assert!(
        outcome.summary.ends_with("; the exit code says it failed"),
        "{}",
        outcome.summary
    );
}

#[tokio::test]
async fn the_key_is_redacted_from_the_summary() {
    let leaky = RATE_LIMIT.replace("Number of request tokens", &format!("key {KEY} rejected"));
    let (_dir, _inv, outcome) = run_stand_in(&leaky, 1).await;
    assert!(!outcome.success);
    assert!(!outcome.summary.contains(KEY), "{}", outcome.summary);
    // The supervisor already redacts the output (`[REDACTED]`); the summary redacts again
    // what reaches it by other ways (`<redacted>`).
    assert!(
        outcome.summary.contains("key [REDACTED] rejected")
            || outcome.summary.contains("key <redacted> rejected"),
        "{}",
        outcome.summary
    );
}

#[tokio::test]
async fn a_usage_watch_sees_each_request_and_can_stop_the_attempt_midway() {
    let dir = tempfile::tempdir().unwrap();
    let mut inv = invocation(dir.path());
    let stream: String = SUCCESS
        .lines()
        .filter(|line| !line.contains(r#""type":"result""#))
        .map(|line| format!("{line}\n"))
        .collect();
    let stream_file = dir.path().join("stream.jsonl");
    fs::write(&stream_file, stream).unwrap();
    inv.env
        .insert("FAKE_STREAM".to_owned(), stream_file.display().to_string());
    // Without the watch stopping it, the attempt would sleep for a minute and exit 0.
    inv.env.insert("FAKE_SLEEP".to_owned(), "60".to_owned());
    inv.env.insert("TEST_CLAUDE_KEY".to_owned(), KEY.to_owned());
    let cancel = CancellationToken::new();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    inv.usage_watch = Some(crate::UsageWatch::new({
        let seen = seen.clone();
        let cancel = cancel.clone();
        move |usage: &crate::Usage| {
            let input = usage.input_tokens.unwrap_or(0);
            seen.lock().unwrap().push(input);
            if input > 200 {
                cancel.cancel();
            }
        }
    }));
    let mut profile = profile();
    profile.command = stand_in(dir.path()).display().to_string();
    let adapter = ClaudeAdapter::new("claude", profile).unwrap();
    let outcome = adapter.invoke(&inv, None, cancel).await.unwrap();
    assert_eq!(
        outcome.process.termination,
        pipeline_process::Termination::Cancelled
    );
    assert!(!outcome.success);
    // One running total per new request: 120, 240, 360 input tokens.
    assert_eq!(*seen.lock().unwrap(), vec![120, 240, 360]);
    // No `result` event: the attempt's usage is what the requests streamed.
    let usage = outcome.usage.unwrap();
    assert_eq!(usage.input_tokens, Some(360));
    assert_eq!(usage.requests, Some(3));
}
