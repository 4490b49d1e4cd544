//! Tests of the custom adapter running real commands in a temporary "worktree".

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::time::Duration;

use pipeline_process::{OutputLimits, Termination};
use tokio_util::sync::CancellationToken;

use super::CustomAdapter;
use crate::config_error::ConfigError;
use crate::invocation::Invocation;
use crate::tool_adapter::ToolAdapter;
use crate::tool_profile::ToolProfile;

fn invocation(root: &Path) -> Invocation {
    let worktree = root.join("worktree");
    fs::create_dir_all(&worktree).unwrap();
    Invocation {
        step_id: "ws-1/build".to_owned(),
        attempt: 2,
        worktree,
        prompt: "Implement {the} feature".to_owned(),
        prompt_file: root.join("prompts/build.md"),
        has_prompt: true,
        files: vec!["src/a.rs".to_owned(), "src/b c.rs".to_owned()],
        context_files: Vec::new(),
        env: BTreeMap::new(),
        timeout: None,
        stall_timeout: None,
        log_path: root.join("logs/build/2.log"),
        limits: OutputLimits::default(),
        containment: Default::default(),
        secrets: Vec::new(),
        usage_watch: None,
    }
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|arg| (*arg).to_owned()).collect()
}

#[tokio::test]
async fn expands_placeholders_into_arguments() {
    let dir = tempfile::tempdir().unwrap();
    let inv = invocation(dir.path());
    let mut profile = ToolProfile::custom(
        "sh",
        args(&[
            "-c",
            "printf '%s\\n' \"$@\" > args.txt",
            "sh",
            "{step_id}",
            "{files}",
            "--files={files}",
            "{worktree}",
            "{prompt}",
            "{{literal}}",
            "-m={model}",
        ]),
    );
    profile.model = Some("test-model".to_owned());
    let adapter = CustomAdapter::new("agent", profile).unwrap();
    let outcome = adapter
        .invoke(&inv, None, CancellationToken::new())
        .await
        .unwrap();
    assert!(outcome.success, "{}", outcome.summary);
    assert_eq!(outcome.summary, "exit 0");
    let written = fs::read_to_string(inv.worktree.join("args.txt")).unwrap();
    let expected = format!(
        "ws-1/build\nsrc/a.rs\nsrc/b c.rs\n--files=src/a.rs src/b c.rs\n{}\nImplement {{the}} feature\n{{literal}}\n-m=test-model\n",
        inv.worktree.display()
    );
    assert_eq!(written, expected);
}

#[tokio::test]
async fn layers_environment_and_exports_step_context() {
    let dir = tempfile::tempdir().unwrap();
    let mut inv = invocation(dir.path());
    inv.env = BTreeMap::from([
        ("SHARED".to_owned(), "from-step".to_owned()),
        ("STEP_ONLY".to_owned(), "s".to_owned()),
    ]);
    let mut profile = ToolProfile::custom(
        "sh",
        args(&[
            "-c",
            "echo \"$SHARED $PROFILE_ONLY $STEP_ONLY $PIPELINE_STEP_ID $PIPELINE_ATTEMPT $PIPELINE_WORKTREE\"; cat \"$PIPELINE_PROMPT_FILE\"; test -n \"$PATH\"",
        ]),
    );
    profile.env = BTreeMap::from([
        ("SHARED".to_owned(), "from-profile".to_owned()),
        ("PROFILE_ONLY".to_owned(), "p".to_owned()),
    ]);
    let adapter = CustomAdapter::new("agent", profile).unwrap();
    let outcome = adapter
        .invoke(&inv, None, CancellationToken::new())
        .await
        .unwrap();
    assert!(outcome.success, "{}", outcome.summary);
    assert_eq!(
        outcome.process.tail,
        format!(
            "from-step p s ws-1/build 2 {}\nImplement {{the}} feature",
            inv.worktree.display()
        )
    );
    assert_eq!(
        fs::read_to_string(&inv.prompt_file).unwrap(),
        "Implement {the} feature"
    );
    assert!(inv.log_path.is_file());
}

#[tokio::test]
async fn success_exit_codes_decide_success() {
    let dir = tempfile::tempdir().unwrap();
    let inv = invocation(dir.path());
    let mut profile = ToolProfile::custom("sh", args(&["-c", "echo partial; exit \"$CODE\""]));
    profile.success_exit_codes = vec![0, 3];

    profile.env = BTreeMap::from([("CODE".to_owned(), "3".to_owned())]);
    let adapter = CustomAdapter::new("lint", profile.clone()).unwrap();
    let outcome = adapter
        .invoke(&inv, None, CancellationToken::new())
        .await
        .unwrap();
    assert!(outcome.success);
    assert_eq!(outcome.summary, "exit 3");

    profile.env = BTreeMap::from([("CODE".to_owned(), "1".to_owned())]);
    let adapter = CustomAdapter::new("lint", profile).unwrap();
    let outcome = adapter
        .invoke(&inv, None, CancellationToken::new())
        .await
        .unwrap();
    assert!(!outcome.success);
    assert_eq!(outcome.process.termination, Termination::Exited(1));
    assert_eq!(outcome.summary, "exit 1 (success: 0, 3): partial");
}

#[tokio::test]
async fn profile_timeout_applies_when_the_step_gives_none() {
    let dir = tempfile::tempdir().unwrap();
    let mut inv = invocation(dir.path());
    let mut profile = ToolProfile::custom("sleep", args(&["30"]));
    profile.timeout_sec = Some(1);
    let adapter = CustomAdapter::new("slow", profile).unwrap();
    assert_eq!(
        adapter.process_spec(&inv).timeout,
        Some(Duration::from_secs(1))
    );
    inv.timeout = Some(Duration::from_secs(7));
    assert_eq!(
        adapter.process_spec(&inv).timeout,
        Some(Duration::from_secs(7))
    );
    inv.timeout = None;
    let outcome = adapter
        .invoke(&inv, None, CancellationToken::new())
        .await
        .unwrap();
    assert!(!outcome.success);
    assert_eq!(outcome.process.termination, Termination::TimedOut);
    assert_eq!(outcome.summary, "timed out after 1 s");
}

#[tokio::test]
async fn the_step_s_stall_timeout_wins_over_the_profile_s_and_zero_turns_it_off() {
    let dir = tempfile::tempdir().unwrap();
    let mut inv = invocation(dir.path());
    let mut profile = ToolProfile::custom("sleep", args(&["30"]));
    let none = CustomAdapter::new("quiet", profile.clone()).unwrap();
    assert_eq!(none.process_spec(&inv).stall_timeout, None);
    profile.stall_timeout_sec = Some(1);
    let adapter = CustomAdapter::new("quiet", profile).unwrap();
    assert_eq!(
        adapter.process_spec(&inv).stall_timeout,
        Some(Duration::from_secs(1))
    );
    inv.stall_timeout = Some(Duration::ZERO);
    assert_eq!(adapter.process_spec(&inv).stall_timeout, None);
    inv.stall_timeout = Some(Duration::from_millis(2500));
    assert_eq!(
        adapter.process_spec(&inv).stall_timeout,
        Some(Duration::from_millis(2500))
    );
    inv.stall_timeout = None;
    inv.timeout = Some(Duration::from_secs(60));
    let outcome = adapter
        .invoke(&inv, None, CancellationToken::new())
        .await
        .unwrap();
    assert!(!outcome.success);
    assert_eq!(outcome.process.termination, Termination::Stalled);
    assert_eq!(outcome.summary, "stalled: no output and no CPU for 1 s");
}

#[tokio::test]
async fn relative_command_paths_resolve_in_the_worktree() {
    let dir = tempfile::tempdir().unwrap();
    let inv = invocation(dir.path());
    let script = inv.worktree.join("scripts/agent.sh");
    fs::create_dir_all(script.parent().unwrap()).unwrap();
    fs::write(&script, "#!/bin/sh\necho \"agent ran for $1\"\n").unwrap();
    fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let adapter = CustomAdapter::new(
        "agent",
        ToolProfile::custom("./scripts/agent.sh", args(&["{step_id}"])),
    )
    .unwrap();
    assert_eq!(adapter.process_spec(&inv).program, script.into_os_string());
    let outcome = adapter
        .invoke(&inv, None, CancellationToken::new())
        .await
        .unwrap();
    assert!(outcome.success, "{}", outcome.summary);
    assert_eq!(outcome.process.tail, "agent ran for ws-1/build\n");
}

#[tokio::test]
async fn shell_profile_runs_the_command_literally() {
    let dir = tempfile::tempdir().unwrap();
    let inv = invocation(dir.path());
    let adapter = CustomAdapter::new(
        "shell",
        ToolProfile::shell("echo '{prompt}' \"$PIPELINE_STEP_ID\""),
    )
    .unwrap();
    let outcome = adapter
        .invoke(&inv, None, CancellationToken::new())
        .await
        .unwrap();
    assert!(outcome.success, "{}", outcome.summary);
    assert_eq!(outcome.process.tail, "{prompt} ws-1/build\n");
}

#[test]
fn model_placeholder_needs_a_model() {
    let error = CustomAdapter::new(
        "agent",
        ToolProfile::custom("llm", args(&["-m", "{model}"])),
    )
    .unwrap_err();
    assert!(
        matches!(error, ConfigError::InvalidProfile { .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("sets no `model`"), "{error}");
}

#[test]
fn unknown_placeholder_is_rejected() {
    let error =
        CustomAdapter::new("agent", ToolProfile::custom("llm", args(&["{worktre}"]))).unwrap_err();
    let ConfigError::Placeholder {
        profile, argument, ..
    } = &error
    else {
        panic!("expected a placeholder error, got {error:?}");
    };
    assert_eq!(profile, "agent");
    assert_eq!(argument, "{worktre}");
}

#[tokio::test]
async fn secrets_of_the_profile_and_step_never_reach_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let mut profile = ToolProfile::custom(
        "sh",
        args(&[
            "-c",
            "echo \"token=$MY_TOKEN key=$SERVICE_API_KEY plain=$PLAIN\"",
        ]),
    );
    profile.secret_env = vec!["MY_TOKEN".into()];
    let adapter = CustomAdapter::new("leaky", profile).unwrap();
    let mut inv = invocation(dir.path());
    inv.env = BTreeMap::from([
        ("MY_TOKEN".to_string(), "tok-123456".to_string()),
        ("SERVICE_API_KEY".to_string(), "sk-abcdef".to_string()),
        ("PLAIN".to_string(), "visible-value".to_string()),
    ]);
    let outcome = adapter
        .invoke(&inv, None, CancellationToken::new())
        .await
        .unwrap();
    let log = fs::read_to_string(&inv.log_path).unwrap();
    for text in [&log, &outcome.process.tail] {
        assert!(
            !text.contains("tok-123456") && !text.contains("sk-abcdef"),
            "{text}"
        );
        assert!(
            text.contains("token=[REDACTED] key=[REDACTED] plain=visible-value"),
            "{text}"
        );
    }
}

#[tokio::test]
async fn a_command_without_a_prompt_gets_no_prompt_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut inv = invocation(dir.path());
    inv.has_prompt = false;
    let adapter = CustomAdapter::new(
        "shell",
        ToolProfile::custom(
            "sh",
            args(&["-c", "echo \"[${{PIPELINE_PROMPT_FILE-unset}}]\""]),
        ),
    )
    .unwrap();
    // The argument names the variable: the file is written and the variable set.
    let outcome = adapter
        .invoke(&inv, None, CancellationToken::new())
        .await
        .unwrap();
    assert!(inv.prompt_file.exists());
    assert_eq!(
        outcome.process.tail,
        format!("[{}]\n", inv.prompt_file.display())
    );
    fs::remove_file(&inv.prompt_file).unwrap();

    let plain = CustomAdapter::new(
        "shell",
        ToolProfile::custom("sh", args(&["-c", "env | grep -c PROMPT_FILE; true"])),
    )
    .unwrap();
    let outcome = plain
        .invoke(&inv, None, CancellationToken::new())
        .await
        .unwrap();
    assert!(outcome.success, "{}", outcome.summary);
    assert!(
        !inv.prompt_file.exists(),
        "no prompt file for a plain command"
    );
    assert_eq!(outcome.process.tail, "0\n", "and no PIPELINE_PROMPT_FILE");

    // The same command in a step that has a prompt gets both.
    inv.has_prompt = true;
    let outcome = plain
        .invoke(&inv, None, CancellationToken::new())
        .await
        .unwrap();
    assert!(inv.prompt_file.exists());
    assert_eq!(outcome.process.tail, "1\n");
}

#[tokio::test]
async fn a_prompt_file_placeholder_always_gets_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut inv = invocation(dir.path());
    inv.has_prompt = false;
    let adapter = CustomAdapter::new(
        "reader",
        ToolProfile::custom("sh", args(&["-c", "cat \"$1\"", "sh", "{prompt_file}"])),
    )
    .unwrap();
    let outcome = adapter
        .invoke(&inv, None, CancellationToken::new())
        .await
        .unwrap();
    assert!(outcome.success, "{}", outcome.summary);
    assert_eq!(outcome.process.tail, "Implement {the} feature");
}
