//! Unit tests of `profile_layer`.

use super::{ProfileLayer, parse_layer};
use crate::config_error::ConfigError;
use crate::tool_profile::ToolKind;

#[test]
fn reads_tools_and_leaves_other_sections_to_their_readers() {
    let yaml = "secrets:\n  extra_env: [X]\nscope_overlap: error\ntools:\n  lint:\n    command: cargo\n    args: [clippy]\n    env: {DEBUG: 1, QUIET: true, NAME: x}\n";
    let profiles = parse_layer("config.yaml", yaml).unwrap();
    let lint = &profiles["lint"];
    assert_eq!(lint.command.as_deref(), Some("cargo"));
    assert_eq!(lint.kind, None);
    let env = lint.env.as_ref().unwrap();
    assert_eq!(env["DEBUG"], "1");
    assert_eq!(env["QUIET"], "true");
    assert_eq!(env["NAME"], "x");
}

#[test]
fn empty_documents_have_no_profiles() {
    assert!(parse_layer("a", "").unwrap().is_empty());
    assert!(parse_layer("a", "# nothing here\n").unwrap().is_empty());
    assert!(parse_layer("a", "tools:\n").unwrap().is_empty());
    assert!(
        parse_layer("a", "scope_overlap: error\n")
            .unwrap()
            .is_empty()
    );
}

#[test]
fn unknown_field_names_source_profile_field_and_line() {
    let yaml = "tools:\n  aider:\n    kind: aider\n    colour: blue\n";
    let error = parse_layer(".pipeline/config.yaml", yaml).unwrap_err();
    let ConfigError::UnknownKey(unknown) = &error else {
        panic!("expected an unknown key, got {error:?}");
    };
    let crate::UnknownKey { line, column, .. } = unknown.as_ref();
    assert_eq!((*line, *column), (Some(4), Some(5)));
    let message = error.to_string();
    assert!(
        message.starts_with(".pipeline/config.yaml: unknown key `tools.aider.colour` at line 4"),
        "{message}"
    );
}

#[test]
fn other_unknown_top_level_sections_are_errors() {
    let error = parse_layer("config.yaml", "run:\n  jobs: 4\ntools: {}\n").unwrap_err();
    assert!(
        matches!(&error, ConfigError::UnknownKey(unknown) if unknown.key == "run"),
        "{error:?}"
    );
}

#[test]
fn malformed_yaml_names_source_and_line() {
    let yaml = "tools:\n  aider:\n    kind: aider\n   command: [unclosed\n";
    let error = parse_layer("repo config", yaml).unwrap_err();
    let ConfigError::Parse { line, .. } = &error else {
        panic!("expected a parse error, got {error:?}");
    };
    assert!(line.is_some(), "{error}");
    let message = error.to_string();
    assert!(message.starts_with("repo config: "), "{message}");
    assert!(message.contains("line "), "{message}");
}

#[test]
fn bad_kind_is_rejected() {
    let error = parse_layer("x", "tools:\n  t:\n    kind: gpt\n").unwrap_err();
    assert!(
        error.to_string().contains("unknown variant `gpt`"),
        "{error}"
    );
}

#[test]
fn merge_replaces_given_fields_and_merges_env() {
    let mut base = parse_layer(
            "base",
            "tools:\n  t:\n    kind: aider\n    command: aider\n    args: [a]\n    timeout_sec: 60\n    env: {A: '1', B: '2'}\n",
        )
        .unwrap()
        .remove("t")
        .unwrap();
    let over: ProfileLayer = parse_layer(
        "over",
        "tools:\n  t:\n    timeout_sec: 5\n    args: []\n    env: {B: '3', C: '4'}\n",
    )
    .unwrap()
    .remove("t")
    .unwrap();
    base.merge(over);
    assert_eq!(base.kind, Some(ToolKind::Aider));
    assert_eq!(base.command.as_deref(), Some("aider"));
    assert_eq!(base.timeout_sec, Some(5));
    assert_eq!(base.args, Some(vec![]));
    let env = base.env.unwrap();
    assert_eq!(
        env.into_iter().collect::<Vec<_>>(),
        vec![
            ("A".to_owned(), "1".to_owned()),
            ("B".to_owned(), "3".to_owned()),
            ("C".to_owned(), "4".to_owned())
        ]
    );
}
