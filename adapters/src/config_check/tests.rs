//! Unit tests of `config_check`: every kind of unknown key, with the message users see.

use super::check_keys;
use crate::config_error::ConfigError;
use crate::{ProjectSettings, SecretSettings, ToolRegistry};

const FILE: &str = ".pipeline/config.yaml";

fn message(yaml: &str) -> String {
    check_keys(FILE, yaml).unwrap_err().to_string()
}

#[test]
fn known_keys_at_every_depth_pass() {
    let yaml = "\
tools:
  my-agent:
    kind: custom
    command: ./agent.sh
    args: [\"{prompt_file}\"]
    env: {ANY_NAME: 1, other: x}
    retry: {max_attempts: 2, initial_delay: 1}
    circuit_breaker: {failure_threshold: 1, cooldown: 5}
    sandbox: none
  aider: {model: gpt-4.1}
secrets:
  env_patterns: [\"*_KEY\"]
  extra_env: [DATABASE_URL]
scope_overlap: error
";
    check_keys(FILE, yaml).unwrap();
    for empty in [
        "",
        "# only a comment\n",
        "tools:\n",
        "tools: {}\nsecrets:\n",
    ] {
        check_keys(FILE, empty).unwrap();
    }
}

#[test]
fn a_top_level_key_no_reader_knows_is_an_error() {
    insta::assert_snapshot!(message("tools: {}\njobs: 1\n"), @r#"
        .pipeline/config.yaml: unknown key `jobs` at line 2 column 1
          hint: the number of steps run at once is set with `pipeline run --jobs N`, not in this file; remove it; the top-level keys are tools, secrets, scope_overlap, cache, prices, webhooks, notify, webhook_delivery, engine, temporal (docs/CONFIG.md lists every key)
    "#);
}

#[test]
fn tool_instead_of_tools_suggests_tools() {
    insta::assert_snapshot!(message("tool:\n  aider:\n    model: gpt-4.1\n"), @r#"
        .pipeline/config.yaml: unknown key `tool` at line 1 column 1; did you mean `tools`?
          hint: rename it; the top-level keys are tools, secrets, scope_overlap, cache, prices, webhooks, notify, webhook_delivery, engine, temporal (docs/CONFIG.md lists every key)
    "#);
}

#[test]
fn a_misspelt_secrets_key_suggests_the_key() {
    insta::assert_snapshot!(message("secrets:\n  extra_envs: [DATABASE_URL]\n"), @r#"
        .pipeline/config.yaml: unknown key `secrets.extra_envs` at line 2 column 3; did you mean `secrets.extra_env`?
          hint: rename it; the keys of `secrets` are env_patterns, extra_env (docs/CONFIG.md lists every key)
    "#);
}

#[test]
fn a_misspelt_profile_field_suggests_the_field() {
    insta::assert_snapshot!(message("tools:\n  x:\n    comand: ./agent.sh\n"), @r#"
        .pipeline/config.yaml: unknown key `tools.x.comand` at line 3 column 5; did you mean `tools.x.command`?
          hint: rename it; the keys of `tools.<name>` are kind, command, args, env, model, api_base, api_key_env, timeout_sec, stall_timeout_sec, success_exit_codes, capabilities, priority, max_concurrent, requests_per_minute, fallback, secret_env, retry, circuit_breaker, sandbox, writable_paths, approval (docs/CONFIG.md lists every key)
    "#);
}

#[test]
fn a_misspelt_retry_key_suggests_the_key() {
    insta::assert_snapshot!(message("tools:\n  x:\n    command: sh\n    retry: {max_atempts: 2}\n"), @r#"
        .pipeline/config.yaml: unknown key `tools.x.retry.max_atempts` at line 4 column 13; did you mean `tools.x.retry.max_attempts`?
          hint: rename it; the keys of `tools.<name>.retry` are enabled, max_attempts, initial_delay, max_delay, multiplier, jitter, max_error_repeats, oscillation_threshold, oscillation_window (docs/CONFIG.md lists every key)
    "#);
}

#[test]
fn a_key_with_no_close_match_lists_the_keys_of_its_section() {
    insta::assert_snapshot!(message("scope_overlap: error\ncolour: blue\n"), @r#"
        .pipeline/config.yaml: unknown key `colour` at line 2 column 1
          hint: remove it; the top-level keys are tools, secrets, scope_overlap, cache, prices, webhooks, notify, webhook_delivery, engine, temporal (docs/CONFIG.md lists every key)
    "#);
}

#[test]
fn the_location_is_the_line_and_column_of_the_key() {
    let error = check_keys(FILE, "tools:\n  aider:\n    model: x\n    comand: y\n").unwrap_err();
    let ConfigError::UnknownKey(unknown) = &error else {
        panic!("expected an unknown key, got {error:?}");
    };
    let crate::UnknownKey {
        line, column, key, ..
    } = unknown.as_ref();
    assert_eq!(
        (*line, *column, key.as_str()),
        (Some(4), Some(5), "tools.aider.comand")
    );
}

#[test]
fn invalid_yaml_is_a_parse_error_with_its_line() {
    let error = check_keys(FILE, "tools:\n  a: [unclosed\n").unwrap_err();
    let ConfigError::Parse { line, .. } = &error else {
        panic!("expected a parse error, got {error:?}");
    };
    assert!(line.is_some(), "{error}");
}

#[test]
fn values_of_the_wrong_shape_are_left_to_the_typed_readers() {
    for yaml in [
        "tools: 5\n",
        "secrets: [a]\n",
        "tools:\n  x: null\n",
        "- a\n- b\n",
    ] {
        check_keys(FILE, yaml).unwrap();
    }
}

#[test]
fn every_reader_rejects_an_unknown_key_anywhere_in_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.yaml");
    std::fs::write(&path, "scope_overlap: error\nsecrets:\n  extra_envs: [X]\n").unwrap();
    let project = ProjectSettings::load(&path).unwrap_err();
    let secrets = SecretSettings::load(&path).unwrap_err();
    let tools = ToolRegistry::load(Some(&path), &[]).unwrap_err();
    for error in [project, secrets, tools] {
        assert!(
            matches!(&error, ConfigError::UnknownKey(unknown) if unknown.key == "secrets.extra_envs"),
            "{error:?}"
        );
    }
}
