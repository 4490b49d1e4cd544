//! Tests of the codex adapter: the command line it builds, and its verdict on what a
//! (scripted) `codex` process prints. The real CLI is driven by the end-to-end tests
//! (`tests/e2e/ai_codex.rs`).

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::{Arc, Mutex};

use pipeline_process::{LineCallback, OutputLimits, Termination, redact};
use tokio_util::sync::CancellationToken;

use super::CodexAdapter;
use super::codex_home::codex_home_for;
use crate::invocation::Invocation;
use crate::prompt_argument::MAX_PROMPT_ARG_BYTES;
use crate::tool_adapter::ToolAdapter;
use crate::tool_profile::{ToolKind, ToolProfile};

fn invocation(root: &Path) -> Invocation {
    let worktree = root.join("worktree");
    fs::create_dir_all(&worktree).unwrap();
    Invocation {
        step_id: "ws-1/edit".to_owned(),
        attempt: 2,
        worktree,
        prompt: "-Add a greeting".to_owned(),
        prompt_file: root.join("logs/edit/2.prompt.md"),
        has_prompt: true,
        files: vec!["hello.txt".to_owned()],
        context_files: Vec::new(),
        env: BTreeMap::new(),
        timeout: None,
        stall_timeout: None,
        log_path: root.join("logs/edit/2.log"),
        limits: OutputLimits::default(),
        containment: Default::default(),
        secrets: Vec::new(),
        usage_watch: None,
    }
}

fn profile(command: &str, args: &[&str]) -> ToolProfile {
    let mut profile = ToolProfile::custom(command, args.iter().map(|a| (*a).to_owned()).collect());
    profile.kind = ToolKind::Codex;
    profile
}

fn strings(args: &[OsString]) -> Vec<String> {
    args.iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect()
}

#[test]
fn command_line_puts_options_then_profile_args_then_prompt_after_double_dash() {
    let dir = tempfile::tempdir().unwrap();
    let inv = invocation(dir.path());
    let mut profile = profile(
        "codex",
        &[
            "-c",
            "model_reasoning_effort=\"low\"",
            "--add-dir={worktree}",
        ],
    );
    profile.model = Some("gpt-5.5".to_owned());
    profile.timeout_sec = Some(90);
    let adapter = CodexAdapter::new("codex", profile).unwrap();
    let home = dir.path().join("home");
    let spec = adapter.process_spec(&inv, &home);
    assert_eq!(spec.program, "codex");
    assert_eq!(
        strings(&spec.args),
        [
            "exec".to_owned(),
            "--json".to_owned(),
            "--skip-git-repo-check".to_owned(),
            "-s".to_owned(),
            "workspace-write".to_owned(),
            "-m".to_owned(),
            "gpt-5.5".to_owned(),
            "-c".to_owned(),
            "model_reasoning_effort=\"low\"".to_owned(),
            format!("--add-dir={}", inv.worktree.display()),
            "--".to_owned(),
            "-Add a greeting".to_owned(),
        ]
    );
    assert_eq!(spec.cwd, inv.worktree);
    assert_eq!(spec.timeout, Some(std::time::Duration::from_secs(90)));
    assert!(
        spec.env
            .contains(&("CODEX_HOME".into(), home.into_os_string())),
        "{:?}",
        spec.env
    );
}

#[test]
fn profile_args_choosing_a_sandbox_replace_the_default() {
    let dir = tempfile::tempdir().unwrap();
    let inv = invocation(dir.path());
    for args in [
        &["-s", "danger-full-access"][..],
        &["--sandbox=read-only"][..],
        &["--dangerously-bypass-approvals-and-sandbox"][..],
        &["-c", "sandbox_mode=\"read-only\""][..],
    ] {
        let adapter = CodexAdapter::new("codex", profile("codex", args)).unwrap();
        let spec = adapter.process_spec(&inv, Path::new("/h"));
        let spec_args = strings(&spec.args);
        assert!(
            !spec_args.contains(&"workspace-write".to_owned()),
            "{args:?} -> {spec_args:?}"
        );
        assert!(spec_args.ends_with(&["--".to_owned(), "-Add a greeting".to_owned()]));
    }
}

#[test]
fn long_prompts_go_through_the_prompt_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut inv = invocation(dir.path());
    inv.prompt = "x".repeat(MAX_PROMPT_ARG_BYTES + 1);
    let adapter = CodexAdapter::new("codex", profile("codex", &[])).unwrap();
    let spec = adapter.process_spec(&inv, Path::new("/h"));
    let prompt = spec.args.last().unwrap().to_string_lossy().into_owned();
    assert!(prompt.len() < 1024, "{}", prompt.len());
    assert!(
        prompt.contains(&inv.prompt_file.display().to_string()),
        "{prompt}"
    );
}

#[test]
fn redaction_replaces_every_occurrence() {
    assert_eq!(
        redact(
            "key sk-abc123 and sk-abc123 again",
            &["sk-abc123".to_owned()]
        ),
        "key [REDACTED] and [REDACTED] again"
    );
}

/// A stand-in `codex` that records its arguments and environment and then prints
/// `output` and exits with `code`, as the real CLI's JSONL would look.
fn scripted_codex(dir: &Path, output: &str, code: i32) -> String {
    let script = dir.join("fake-codex");
    let out_file = dir.join("output.jsonl");
    fs::write(&out_file, output).unwrap();
    fs::write(
        &script,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$@\" > \"{dir}/args.txt\"\ncp \"$CODEX_HOME/config.toml\" \"{dir}/config.toml\"\necho \"key=$FAKE_CODEX_KEY\" > \"{dir}/env.txt\"\necho 'Reading additional input from stdin...' >&2\ncat \"{out}\"\nexit {code}\n",
            dir = dir.display(),
            out = out_file.display(),
        ),
    )
    .unwrap();
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
    script.to_string_lossy().into_owned()
}

const COMPLETED: &str = r#"{"type":"thread.started","thread_id":"t-1"}
{"type":"turn.started"}
{"type":"item.started","item":{"id":"item_0","type":"command_execution","command":"/bin/bash -lc 'echo hi > hi.txt'","aggregated_output":"","exit_code":null,"status":"in_progress"}}
{"type":"item.completed","item":{"id":"item_0","type":"command_execution","command":"/bin/bash -lc 'echo hi > hi.txt'","aggregated_output":"","exit_code":0,"status":"completed"}}
{"type":"item.completed","item":{"id":"item_1","type":"file_change","changes":[{"path":"/w/hello.txt","kind":"add"}],"status":"completed"}}
{"type":"item.completed","item":{"id":"item_2","type":"agent_message","text":"Done."}}
{"type":"turn.completed","usage":{"input_tokens":300,"cached_input_tokens":60,"cache_write_input_tokens":0,"output_tokens":21,"reasoning_output_tokens":0}}
"#;

#[tokio::test]
async fn completed_turn_is_success_with_usage_and_isolated_home() {
    let dir = tempfile::tempdir().unwrap();
    let inv = invocation(dir.path());
    let mut profile = profile(&scripted_codex(dir.path(), COMPLETED, 0), &[]);
    profile.model = Some("gpt-5.5".to_owned());
    profile.api_base = Some("http://127.0.0.1:9/v1".to_owned());
    profile.api_key_env = Some("FAKE_CODEX_KEY".to_owned());
    profile.env = BTreeMap::from([("FAKE_CODEX_KEY".to_owned(), "sk-unit-test-key".to_owned())]);
    let adapter = CodexAdapter::new("codex", profile).unwrap();
    let lines = Arc::new(Mutex::new(Vec::new()));
    let on_line: LineCallback = {
        let lines = lines.clone();
        Arc::new(move |line: &str| lines.lock().unwrap().push(line.to_owned()))
    };
    let outcome = adapter
        .invoke(&inv, Some(on_line), CancellationToken::new())
        .await
        .unwrap();
    assert!(outcome.success, "{}", outcome.summary);
    assert_eq!(
        outcome.summary,
        "exit 0: codex ran 1 command(s), changed 1 file(s), 300 tokens in (60 cached), 21 out"
    );
    let usage = outcome.usage.unwrap();
    assert_eq!(usage.model.as_deref(), Some("gpt-5.5"));
    assert_eq!(
        (
            usage.input_tokens,
            usage.cached_input_tokens,
            usage.output_tokens
        ),
        (Some(300), Some(60), Some(21))
    );
    // The generated config points Codex at the profile's API, not at ~/.codex.
    let config = fs::read_to_string(dir.path().join("config.toml")).unwrap();
    assert!(
        config.contains("base_url = \"http://127.0.0.1:9/v1\""),
        "{config}"
    );
    assert!(config.contains("env_key = \"FAKE_CODEX_KEY\""), "{config}");
    assert!(!config.contains("sk-unit-test-key"), "{config}");
    assert!(codex_home_for(&inv.log_path).join("config.toml").is_file());
    // The key reaches Codex in the variable the profile names.
    let env = fs::read_to_string(dir.path().join("env.txt")).unwrap();
    assert_eq!(env.trim(), "key=sk-unit-test-key");
    // The prompt file exists and the JSONL stays in the attempt log.
    assert_eq!(
        fs::read_to_string(&inv.prompt_file).unwrap(),
        "-Add a greeting"
    );
    let log = fs::read_to_string(&inv.log_path).unwrap();
    assert!(log.contains(r#"{"type":"turn.completed""#), "{log}");
    // Progress lines are words, not JSON.
    let lines = lines.lock().unwrap().clone();
    assert!(
        lines.contains(&"codex: $ /bin/bash -lc 'echo hi > hi.txt'".to_owned()),
        "{lines:?}"
    );
    assert!(
        lines.contains(&"codex: edited /w/hello.txt".to_owned()),
        "{lines:?}"
    );
    assert!(lines.iter().all(|l| !l.starts_with('{')), "{lines:?}");
}

#[tokio::test]
async fn turn_failed_is_failure_even_with_exit_0_and_secrets_are_redacted() {
    let dir = tempfile::tempdir().unwrap();
    let inv = invocation(dir.path());
    let output = r#"{"type":"thread.started","thread_id":"t-2"}
{"type":"turn.started"}
{"type":"error","message":"unexpected status 401 Unauthorized: Incorrect API key provided: sk-unit-test-key"}
{"type":"turn.failed","error":{"message":"unexpected status 401 Unauthorized: Incorrect API key provided: sk-unit-test-key"}}
"#;
    let mut profile = profile(&scripted_codex(dir.path(), output, 0), &[]);
    profile.api_key_env = Some("FAKE_CODEX_KEY".to_owned());
    profile.env = BTreeMap::from([("FAKE_CODEX_KEY".to_owned(), "sk-unit-test-key".to_owned())]);
    let adapter = CodexAdapter::new("codex", profile).unwrap();
    let outcome = adapter
        .invoke(&inv, None, CancellationToken::new())
        .await
        .unwrap();
    assert!(!outcome.success);
    assert_eq!(
        outcome.summary,
        "exit 0: codex turn.failed: unexpected status 401 Unauthorized: Incorrect API key provided: [REDACTED]"
    );
    assert_eq!(outcome.usage, None);
}

#[tokio::test]
async fn exit_0_without_turn_completed_is_failure() {
    let dir = tempfile::tempdir().unwrap();
    let inv = invocation(dir.path());
    let output =
        "{\"type\":\"thread.started\",\"thread_id\":\"t-3\"}\n{\"type\":\"turn.started\"}\n";
    let adapter = CodexAdapter::new(
        "codex",
        profile(&scripted_codex(dir.path(), output, 0), &[]),
    )
    .unwrap();
    let outcome = adapter
        .invoke(&inv, None, CancellationToken::new())
        .await
        .unwrap();
    assert!(!outcome.success);
    assert_eq!(outcome.summary, "exit 0: codex no turn.completed event");
}

#[tokio::test]
async fn non_zero_exit_is_failure_even_after_a_completed_turn() {
    let dir = tempfile::tempdir().unwrap();
    let inv = invocation(dir.path());
    let adapter = CodexAdapter::new(
        "codex",
        profile(&scripted_codex(dir.path(), COMPLETED, 3), &[]),
    )
    .unwrap();
    let outcome = adapter
        .invoke(&inv, None, CancellationToken::new())
        .await
        .unwrap();
    assert!(!outcome.success);
    assert_eq!(outcome.process.termination, Termination::Exited(3));
    assert!(
        outcome.summary.starts_with("exit 3 (success: 0): "),
        "{}",
        outcome.summary
    );
    // What Codex reported is still recorded.
    assert_eq!(outcome.usage.and_then(|u| u.input_tokens), Some(300));
}

#[tokio::test]
async fn a_stale_home_of_the_same_attempt_is_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let inv = invocation(dir.path());
    let home = codex_home_for(&inv.log_path);
    fs::create_dir_all(home.join("sessions")).unwrap();
    fs::write(home.join("auth.json"), "{}").unwrap();
    let adapter = CodexAdapter::new(
        "codex",
        profile(&scripted_codex(dir.path(), COMPLETED, 0), &[]),
    )
    .unwrap();
    let outcome = adapter
        .invoke(&inv, None, CancellationToken::new())
        .await
        .unwrap();
    assert!(outcome.success, "{}", outcome.summary);
    assert!(!home.join("auth.json").exists());
    assert!(home.join("config.toml").is_file());
}

#[tokio::test]
async fn each_completed_turn_tells_the_usage_watch_the_running_total() {
    let dir = tempfile::tempdir().unwrap();
    let mut inv = invocation(dir.path());
    let two_turns = format!(
        "{COMPLETED}{}",
        COMPLETED.replace(r#""input_tokens":300"#, r#""input_tokens":50"#)
    );
    let mut profile = profile(&scripted_codex(dir.path(), &two_turns, 0), &[]);
    profile.model = Some("gpt-5.5".to_owned());
    let adapter = CodexAdapter::new("codex", profile).unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    inv.usage_watch = Some(crate::UsageWatch::new({
        let seen = seen.clone();
        move |usage: &crate::Usage| {
            seen.lock().unwrap().push((
                usage.input_tokens,
                usage.output_tokens,
                usage.model.clone(),
            ));
        }
    }));
    let outcome = adapter
        .invoke(&inv, None, CancellationToken::new())
        .await
        .unwrap();
    let model = Some("gpt-5.5".to_owned());
    assert_eq!(
        *seen.lock().unwrap(),
        vec![
            (Some(300), Some(21), model.clone()),
            (Some(350), Some(42), model)
        ]
    );
    assert_eq!(outcome.usage.unwrap().input_tokens, Some(350));
}
