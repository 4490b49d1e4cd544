//! Tests of profile layering, validation and adapter lookup.

use std::fs;
use std::time::Duration;

use pipeline_process::OutputLimits;
use tokio_util::sync::CancellationToken;

use super::{BUILTIN_TOOLS_YAML, SHELL_TOOL, ToolRegistry};
use crate::adapter_error::AdapterError;
use crate::config_error::ConfigError;
use crate::invocation::Invocation;
use crate::tool_profile::ToolKind;

const BUILTIN: (&str, &str) = ("built-in", BUILTIN_TOOLS_YAML);

fn vars(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
        .collect()
}

fn registry(repo_yaml: &str, env: &[(&str, &str)]) -> Result<ToolRegistry, ConfigError> {
    ToolRegistry::from_yaml_layers(&[BUILTIN, (".pipeline/config.yaml", repo_yaml)], &vars(env))
}

#[test]
fn builtin_profiles_load() {
    let registry = ToolRegistry::load(None, &[]).unwrap();
    assert_eq!(registry.names(), vec!["aider", "claude", "codex", "shell"]);
    let aider = registry.profile("aider").unwrap();
    assert_eq!(aider.kind, ToolKind::Aider);
    assert_eq!(aider.command, "aider");
    assert_eq!(aider.capabilities, vec!["code_generation", "refactoring"]);
    assert_eq!(aider.success_exit_codes, vec![0]);
    assert!(aider.timeout_sec.is_some());
    assert_eq!(registry.profile("codex").unwrap().kind, ToolKind::Codex);
    assert_eq!(registry.profile("claude").unwrap().kind, ToolKind::Claude);
    assert!(registry.contains(SHELL_TOOL));
    assert!(!registry.contains("gpt"));
    assert_eq!(
        registry.with_capability("refactoring"),
        vec!["aider", "claude", "codex"]
    );
}

#[test]
fn ai_profiles_watch_for_stalls_by_default_and_commands_do_not() {
    let registry = registry(
        "tools:\n  mine:\n    kind: claude\n  quiet-aider:\n    kind: aider\n    stall_timeout_sec: 0\n  slow:\n    command: ./slow.sh\n  watched:\n    command: ./watched.sh\n    stall_timeout_sec: 45\n",
        &[],
    )
    .unwrap();
    let stall = |name: &str| registry.profile(name).unwrap().stall_timeout(None);
    for name in ["aider", "codex", "claude", "mine"] {
        assert_eq!(stall(name), Some(Duration::from_secs(300)), "{name}");
    }
    assert_eq!(stall("quiet-aider"), None);
    assert_eq!(stall(SHELL_TOOL), None);
    assert_eq!(stall("slow"), None);
    assert_eq!(stall("watched"), Some(Duration::from_secs(45)));
    let step = Some(Duration::from_secs(2));
    assert_eq!(registry.profile("aider").unwrap().stall_timeout(step), step);
}

#[test]
fn shell_is_present_without_any_layer() {
    let registry = ToolRegistry::from_yaml_layers(&[], &[]).unwrap();
    assert_eq!(registry.names(), vec!["shell"]);
    let shell = registry.profile("shell").unwrap();
    assert_eq!(shell.command, "sh");
    assert_eq!(shell.args, vec!["-c"]);
}

#[test]
fn repository_layer_overrides_field_by_field_and_adds_profiles() {
    let registry = registry(
        "tools:\n  aider:\n    timeout_sec: 60\n    env: {AIDER_DARK_MODE: 'true'}\n  lint:\n    command: cargo\n    args: [clippy]\n",
        &[],
    )
    .unwrap();
    let aider = registry.profile("aider").unwrap();
    assert_eq!(aider.timeout_sec, Some(60));
    assert_eq!(aider.kind, ToolKind::Aider);
    assert_eq!(aider.command, "aider");
    assert_eq!(aider.capabilities, vec!["code_generation", "refactoring"]);
    assert_eq!(aider.env["AIDER_DARK_MODE"], "true");
    let lint = registry.profile("lint").unwrap();
    assert_eq!(lint.kind, ToolKind::Custom);
    assert_eq!(lint.args, vec!["clippy"]);
    assert!(registry.adapter("lint").is_ok());
}

#[test]
fn environment_variables_override_last() {
    let registry = registry(
        "tools:\n  my-tool:\n    command: agent\n    timeout_sec: 5\n",
        &[
            ("PIPELINE_TOOL_AIDER_MODEL", "local-model"),
            ("PIPELINE_TOOL_AIDER_API_BASE", "http://127.0.0.1:9999"),
            ("PIPELINE_TOOL_MY_TOOL_TIMEOUT_SEC", "7"),
            ("PIPELINE_TOOL_MY_TOOL_COMMAND", "/opt/agent"),
            ("UNRELATED", "x"),
        ],
    )
    .unwrap();
    let aider = registry.profile("aider").unwrap();
    assert_eq!(aider.model.as_deref(), Some("local-model"));
    assert_eq!(aider.api_base.as_deref(), Some("http://127.0.0.1:9999"));
    let my_tool = registry.profile("my-tool").unwrap();
    assert_eq!(my_tool.timeout_sec, Some(7));
    assert_eq!(my_tool.command, "/opt/agent");
}

#[test]
fn bad_environment_overrides_name_the_variable() {
    let cases = [
        (
            "PIPELINE_TOOL_AIDER_TIMEOUT_SEC",
            "soon",
            "whole number of seconds",
        ),
        ("PIPELINE_TOOL_AIDER_TIMEOUT_SEC", "0", "greater than 0"),
        ("PIPELINE_TOOL_ADIER_MODEL", "m", "names no tool profile"),
        ("PIPELINE_TOOL_AIDER_ARGS", "x", "FIELD one of"),
        ("PIPELINE_TOOL_AIDER_COMMAND", " ", "empty"),
    ];
    for (variable, value, expected) in cases {
        let error = registry("", &[(variable, value)]).unwrap_err();
        let ConfigError::EnvOverride {
            variable: named, ..
        } = &error
        else {
            panic!("{variable}={value}: expected an env override error, got {error:?}");
        };
        assert_eq!(named, variable);
        let message = error.to_string();
        assert!(
            message.contains(variable) && message.contains(expected),
            "{message}"
        );
    }
}

#[test]
fn unknown_field_names_file_profile_field_and_line() {
    let error = registry("tools:\n  aider:\n    timeout: 60\n", &[]).unwrap_err();
    let ConfigError::UnknownKey(unknown) = &error else {
        panic!("expected an unknown key, got {error:?}");
    };
    let crate::UnknownKey {
        line, suggestion, ..
    } = unknown.as_ref();
    assert_eq!(*line, Some(3));
    assert_eq!(suggestion.as_deref(), Some("tools.aider.timeout_sec"));
    let message = error.to_string();
    assert!(
        message.starts_with(".pipeline/config.yaml: unknown key `tools.aider.timeout` at line 3 column 5; did you mean `tools.aider.timeout_sec`?"),
        "{message}"
    );
}

#[test]
fn malformed_yaml_names_source_and_line() {
    let error = registry("tools:\n  lint:\n    command: cargo\n  args: [\n", &[]).unwrap_err();
    let ConfigError::Parse {
        source_name, line, ..
    } = &error
    else {
        panic!("expected a parse error, got {error:?}");
    };
    assert_eq!(source_name, ".pipeline/config.yaml");
    assert!(line.is_some(), "{error}");
    assert!(error.to_string().contains("line "), "{error}");
}

#[test]
fn unknown_placeholder_names_source_profile_and_argument() {
    let error = registry(
        "tools:\n  lint:\n    command: cargo\n    args: [clippy, '{file}']\n",
        &[],
    )
    .unwrap_err();
    let message = error.to_string();
    assert!(
        matches!(&error, ConfigError::Placeholder { source_name, profile, argument, .. }
            if source_name == ".pipeline/config.yaml" && profile == "lint" && argument == "{file}"),
        "{error:?}"
    );
    assert!(
        message.contains("unknown placeholder `{file}`"),
        "{message}"
    );
}

#[test]
fn invalid_profiles_are_rejected_with_the_reason() {
    let cases = [
        ("tools:\n  lint: {args: [x]}\n", "needs `command`"),
        (
            "tools:\n  lint: {command: x, success_exit_codes: []}\n",
            "success_exit_codes",
        ),
        (
            "tools:\n  lint: {command: x, max_concurrent: 0}\n",
            "`max_concurrent` is 0",
        ),
        (
            "tools:\n  lint: {command: x, env: {'A=B': c}}\n",
            "not a valid variable name",
        ),
        (
            "tools:\n  shell: {kind: aider}\n",
            "must stay of kind `custom`",
        ),
        (
            "tools:\n  lint: {command: x, args: ['{api_base}']}\n",
            "sets no `api_base`",
        ),
    ];
    for (yaml, expected) in cases {
        let error = registry(yaml, &[]).unwrap_err();
        assert!(
            matches!(error, ConfigError::InvalidProfile { .. }),
            "{yaml}: {error:?}"
        );
        assert!(error.to_string().contains(expected), "{yaml}: {error}");
    }
    let error = registry("tools:\n  'bad name': {command: x}\n", &[]).unwrap_err();
    assert!(
        matches!(error, ConfigError::InvalidName { .. }),
        "{error:?}"
    );
}

#[test]
fn fallbacks_must_exist_and_not_loop() {
    let error = registry("tools:\n  codex: {fallback: [gemini]}\n", &[]).unwrap_err();
    assert!(
        matches!(&error, ConfigError::UnknownFallback { profile, fallback, .. } if profile == "codex" && fallback == "gemini"),
        "{error:?}"
    );
    // The built-in aider falls back to codex; closing the loop is an error.
    let error = registry(
        "tools:\n  codex: {fallback: [claude]}\n  claude: {fallback: [aider]}\n",
        &[],
    )
    .unwrap_err();
    let ConfigError::FallbackCycle { cycle } = &error else {
        panic!("expected a cycle, got {error:?}");
    };
    assert_eq!(cycle, &vec!["aider", "codex", "claude", "aider"]);
}

#[test]
fn every_built_in_kind_has_a_driver() {
    let registry = ToolRegistry::load(None, &[]).unwrap();
    for name in ["aider", "codex", "claude"] {
        let adapter = registry
            .adapter(name)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(adapter.tool_name(), name);
    }
    assert!(matches!(
        registry.adapter("shell"),
        Err(AdapterError::ShellCommandRequired { .. })
    ));
    let Err(error) = registry.adapter("gpt") else {
        panic!("gpt is not a profile");
    };
    assert!(
        error.to_string().contains("aider, claude, codex, shell"),
        "{error}"
    );
}

#[test]
fn load_reads_the_repository_config_and_skips_a_missing_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.yaml");
    let registry = ToolRegistry::load(Some(&path), &[]).unwrap();
    assert_eq!(registry.names().len(), 4);
    fs::write(&path, "tools:\n  echo:\n    command: echo\n").unwrap();
    let registry = ToolRegistry::load(Some(&path), &[]).unwrap();
    assert!(registry.contains("echo"));
    assert!(registry.contains("aider"));
    fs::write(&path, "tools:\n  echo:\n    comand: echo\n").unwrap();
    let error = ToolRegistry::load(Some(&path), &[]).unwrap_err();
    assert!(
        error.to_string().starts_with(&path.display().to_string()),
        "{error}"
    );
}

#[test]
fn serialization_redacts_secrets() {
    let registry = registry(
        "tools:\n  lint:\n    command: x\n    secret_env: [PASSPHRASE]\n    env: {PASSPHRASE: hunter2, GITHUB_TOKEN: t0k, MODE: fast}\n",
        &[],
    )
    .unwrap();
    let json = serde_json::to_value(&registry).unwrap();
    let env = &json["lint"]["env"];
    assert_eq!(env["PASSPHRASE"], "<redacted>");
    assert_eq!(env["GITHUB_TOKEN"], "<redacted>");
    assert_eq!(env["MODE"], "fast");
    assert_eq!(json["aider"]["kind"], "aider");
    assert_eq!(
        registry.profile("lint").unwrap().env["PASSPHRASE"],
        "hunter2"
    );
}

#[tokio::test]
async fn shell_adapter_uses_the_configured_shell_profile() {
    let registry = registry(
        "tools:\n  shell:\n    env: {GREETING: hi}\n    success_exit_codes: [0, 4]\n",
        &[],
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let inv = Invocation {
        step_id: "check".to_owned(),
        attempt: 1,
        worktree: dir.path().to_path_buf(),
        prompt: String::new(),
        prompt_file: dir.path().join("prompt.md"),
        has_prompt: true,
        files: Vec::new(),
        context_files: Vec::new(),
        env: Default::default(),
        timeout: None,
        stall_timeout: None,
        log_path: dir.path().join("1.log"),
        limits: OutputLimits::default(),
        containment: Default::default(),
        secrets: Vec::new(),
        usage_watch: None,
    };
    let adapter = registry.shell_adapter("echo \"$GREETING {step_id}\"; exit 4");
    assert_eq!(adapter.tool_name(), "shell");
    let outcome = adapter
        .invoke(&inv, None, CancellationToken::new())
        .await
        .unwrap();
    assert!(outcome.success, "{}", outcome.summary);
    assert_eq!(outcome.process.tail, "hi {step_id}\n");
}

#[test]
fn probe_finds_commands_and_reports_missing_ones() {
    let registry = registry(
        "tools:\n  fake-codex: {kind: codex, command: sh}\n  ghost: {command: pipeline-no-such-tool-xyz}\n",
        &[],
    )
    .unwrap();
    let shell = registry.probe("shell");
    assert!(shell.found.is_some(), "{shell:?}");
    assert_eq!(shell.error, None);
    let fake = registry.probe("fake-codex");
    assert!(fake.found.is_some(), "{fake:?}");
    assert_eq!(
        fake.error, None,
        "kinds with drivers probe like any command"
    );
    let ghost = registry.probe("ghost");
    assert_eq!(ghost.found, None);
    assert!(ghost.error.unwrap().contains("not found"));
    assert!(
        registry
            .probe("nope")
            .error
            .unwrap()
            .contains("no tool profile named `nope`")
    );
}
