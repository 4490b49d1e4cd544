use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use pipeline_process::OutputLimits;

use super::{AiderAdapter, editable_files};
use crate::invocation::Invocation;
use crate::tool_profile::{ToolKind, ToolProfile};

fn profile() -> ToolProfile {
    let mut profile = ToolProfile::custom("aider", Vec::new());
    profile.kind = ToolKind::Aider;
    profile.model = Some("fake-model".to_owned());
    profile.api_base = Some("http://127.0.0.1:9/v1".to_owned());
    profile.api_key_env = Some("MY_KEY".to_owned());
    profile.secret_env = vec!["OTHER_SECRET".to_owned()];
    profile
}

fn invocation(worktree: &Path) -> Invocation {
    Invocation {
        step_id: "ws/step".to_owned(),
        attempt: 2,
        worktree: worktree.to_path_buf(),
        prompt: "do it".to_owned(),
        prompt_file: PathBuf::from("/logs/run/step/2.prompt.md"),
        has_prompt: true,
        files: vec!["src/a.py".to_owned()],
        context_files: Vec::new(),
        env: BTreeMap::new(),
        timeout: None,
        stall_timeout: None,
        log_path: PathBuf::from("/logs/run/step/2.log"),
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

fn lookup(name: &str) -> Option<String> {
    match name {
        "MY_KEY" => Some("sk-from-env-1234".to_owned()),
        "OTHER_SECRET" => Some("other-secret-value".to_owned()),
        "PATH" => Some("/usr/bin".to_owned()),
        "AIDER_MODEL" => Some("must-not-pass".to_owned()),
        _ => None,
    }
}

#[test]
fn arguments_make_aider_non_interactive_and_local() {
    let adapter = AiderAdapter::new("aider", profile());
    let inv = invocation(Path::new("/wt"));
    let home = AiderAdapter::home_dir(&inv);
    assert_eq!(home, PathBuf::from("/logs/run/step/2.aider-home"));
    let args = strings(&adapter.arguments(&inv, &home, &["src/a.py".to_owned()]));
    let pair = |flag: &str| {
        let at = args
            .iter()
            .position(|a| a == flag)
            .unwrap_or_else(|| panic!("{flag} in {args:?}"));
        args[at + 1].clone()
    };
    assert_eq!(pair("--model"), "openai/fake-model");
    assert_eq!(pair("--openai-api-base"), "http://127.0.0.1:9/v1");
    assert_eq!(pair("--message-file"), "/logs/run/step/2.prompt.md");
    assert_eq!(
        pair("--model-metadata-file"),
        "/logs/run/step/2.aider-home/model-metadata.json"
    );
    assert_eq!(
        pair("--chat-history-file"),
        "/logs/run/step/2.aider-home/chat-history.md"
    );
    for flag in [
        "--yes-always",
        "--no-auto-commits",
        "--no-dirty-commits",
        "--no-gitignore",
        "--no-check-update",
        "--no-show-release-notes",
        "--analytics-disable",
        "--no-pretty",
        "--no-stream",
    ] {
        assert!(
            args.contains(&flag.to_owned()),
            "{flag} missing from {args:?}"
        );
    }
    assert_eq!(args.last().map(String::as_str), Some("src/a.py"));
}

#[test]
fn profile_args_come_last_and_replace_the_generated_metadata_file() {
    let mut profile = profile();
    profile.args = vec![
        "--stream".to_owned(),
        "--model-metadata-file=/my/meta.json".to_owned(),
    ];
    let adapter = AiderAdapter::new("aider", profile);
    let inv = invocation(Path::new("/wt"));
    let args = strings(&adapter.arguments(&inv, Path::new("/home"), &[]));
    assert_eq!(
        &args[args.len() - 2..],
        ["--stream", "--model-metadata-file=/my/meta.json"]
    );
    assert_eq!(
        args.iter()
            .filter(|a| a.starts_with("--model-metadata-file"))
            .count(),
        1
    );
}

#[test]
fn model_keeps_a_provider_prefix_and_is_left_alone_without_api_base() {
    let mut p = profile();
    p.model = Some("anthropic/claude-x".to_owned());
    assert_eq!(
        AiderAdapter::new("a", p.clone()).model().as_deref(),
        Some("anthropic/claude-x")
    );
    p.model = Some("gpt-4o".to_owned());
    p.api_base = None;
    assert_eq!(AiderAdapter::new("a", p).model().as_deref(), Some("gpt-4o"));
}

#[test]
fn environment_is_isolated_and_carries_the_key() {
    let adapter = AiderAdapter::new("aider", profile());
    let mut inv = invocation(Path::new("/wt"));
    inv.env.insert("STEP_VAR".to_owned(), "1".to_owned());
    let spec = adapter.process_spec(&inv, Path::new("/home/x"), &[], &lookup);
    assert!(spec.env_clear);
    let env: BTreeMap<String, String> = spec
        .env
        .iter()
        .map(|(k, v)| {
            (
                k.to_string_lossy().into_owned(),
                v.to_string_lossy().into_owned(),
            )
        })
        .collect();
    assert_eq!(env["HOME"], "/home/x");
    assert_eq!(env["OPENAI_API_KEY"], "sk-from-env-1234");
    assert_eq!(env["MY_KEY"], "sk-from-env-1234");
    assert_eq!(env["OTHER_SECRET"], "other-secret-value");
    assert_eq!(env["LITELLM_LOCAL_MODEL_COST_MAP"], "True");
    assert_eq!(env["PATH"], "/usr/bin");
    assert_eq!(env["STEP_VAR"], "1");
    assert_eq!(env["PIPELINE_ATTEMPT"], "2");
    assert!(!env.contains_key("AIDER_MODEL"));
    assert_eq!(
        spec.secrets,
        vec![
            "other-secret-value".to_owned(),
            "sk-from-env-1234".to_owned()
        ]
    );
    // The key never appears on the command line.
    assert!(
        !strings(&spec.args)
            .iter()
            .any(|a| a.contains("sk-from-env"))
    );
}

#[tokio::test]
async fn directories_and_globs_in_the_scope_expand_to_tracked_files() {
    let dir = tempfile::tempdir().unwrap();
    let wt = dir.path();
    let git = |args: &[&str]| {
        let status = std::process::Command::new("git")
            .args(args)
            .current_dir(wt)
            .output()
            .unwrap();
        assert!(status.status.success(), "{status:?}");
    };
    git(&["init", "-q"]);
    std::fs::create_dir_all(wt.join("src/sub")).unwrap();
    std::fs::write(wt.join("src/a.py"), "a").unwrap();
    std::fs::write(wt.join("src/sub/b.py"), "b").unwrap();
    std::fs::write(wt.join("src/untracked.py"), "u").unwrap();
    std::fs::write(wt.join("top.rs"), "t").unwrap();
    git(&["add", "src/a.py", "src/sub/b.py", "top.rs"]);
    let files = editable_files(
        wt,
        &[
            "src".to_owned(),
            "*.rs".to_owned(),
            "new/file.py".to_owned(),
        ],
    )
    .await;
    assert_eq!(
        files,
        vec!["new/file.py", "src/a.py", "src/sub/b.py", "top.rs"]
    );
}

fn judged(
    termination: crate::Termination,
    output: &str,
    stopped: bool,
    changed: bool,
) -> (bool, String) {
    let adapter = AiderAdapter::new("aider", profile());
    let inv = invocation(Path::new("/wt"));
    let spec = adapter.process_spec(&inv, Path::new("/home"), &[], &lookup);
    let mut report = super::AiderReport::default();
    for line in output.lines() {
        report.observe(line);
    }
    let process = crate::ProcessOutcome {
        termination,
        duration: std::time::Duration::ZERO,
        log_bytes: 0,
        output_bytes: 0,
        truncated: false,
        tail: output.to_owned(),
    };
    adapter.judge(&spec, &process, &report, stopped, changed)
}

#[test]
fn success_needs_exit_zero_and_no_failure_line() {
    use crate::Termination::Exited;
    let (ok, summary) = judged(
        Exited(0),
        "Tokens: 1 sent, 1 received.\nApplied edit to a.py\n",
        false,
        true,
    );
    assert!(ok, "{summary}");
    assert_eq!(summary, "exit 0; edited a.py");
    // Aider exits 0 after an API error.
    let (ok, summary) = judged(
        Exited(0),
        "litellm.AuthenticationError: AuthenticationError: bad key\nThe API provider is not able to authenticate you. Check your API key.\n",
        false,
        false,
    );
    assert!(!ok);
    assert!(summary.contains("litellm.AuthenticationError"), "{summary}");
    // Nothing applied and nothing changed: a success here; the engine decides whether
    // changing nothing is acceptable (`no_change` unless `allow_empty`).
    let (ok, summary) = judged(Exited(0), "I think it is fine as it is.\n", false, false);
    assert!(ok, "{summary}");
    assert_eq!(summary, "exit 0; no edits");
    // Changes on disk without an "Applied edit" line still count.
    assert!(judged(Exited(0), "done\n", false, true).0);
    // A non-zero exit fails whatever was printed.
    assert!(!judged(Exited(2), "Applied edit to a.py\n", false, true).0);
}

#[test]
fn stopping_aider_retry_loop_is_a_failure_naming_the_error() {
    let (ok, summary) = judged(
        crate::Termination::Signaled(15),
        "litellm.RateLimitError: RateLimitError: Please try again in 20s.\nRetrying in 0.2 seconds...\n",
        true,
        false,
    );
    assert!(!ok);
    assert!(
        summary.starts_with("stopped by the aider adapter"),
        "{summary}"
    );
    assert!(summary.contains("litellm.RateLimitError"), "{summary}");
}

#[test]
fn context_files_are_read_only() {
    let adapter = AiderAdapter::new("aider", profile());
    let mut inv = invocation(Path::new("/wt"));
    inv.context_files = vec!["docs/api.md".to_owned(), "src/types.py".to_owned()];
    let args = strings(&adapter.arguments(&inv, Path::new("/home"), &["src/a.py".to_owned()]));
    let reads: Vec<&str> = args
        .windows(2)
        .filter(|w| w[0] == "--read")
        .map(|w| w[1].as_str())
        .collect();
    assert_eq!(reads, ["docs/api.md", "src/types.py"]);
    assert_eq!(
        args.last().map(String::as_str),
        Some("src/a.py"),
        "editable files stay editable"
    );
}
