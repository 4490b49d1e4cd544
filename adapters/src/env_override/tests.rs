//! Unit tests of `env_override`: the messages for unknown fields and names.

use std::collections::{BTreeMap, BTreeSet};

use super::{FIELDS, apply_env_overrides};
use crate::config_keys::env_fields;
use crate::profile_layer::ProfileLayer;

fn profiles(names: &[&str]) -> BTreeMap<String, (ProfileLayer, Vec<String>)> {
    names
        .iter()
        .map(|name| ((*name).to_owned(), (ProfileLayer::default(), Vec::new())))
        .collect()
}

fn message(names: &[&str], variable: &str) -> String {
    let env = vec![(variable.to_owned(), "x".to_owned())];
    apply_env_overrides(&mut profiles(names), &env)
        .unwrap_err()
        .to_string()
}

#[test]
fn the_fields_are_the_env_fields_of_the_key_table() {
    let fields: BTreeSet<&str> = FIELDS.iter().map(|(field, _)| *field).collect();
    assert_eq!(fields, env_fields().collect::<BTreeSet<_>>());
}

#[test]
fn a_misspelt_field_of_a_known_profile_gets_a_suggestion() {
    insta::assert_snapshot!(message(&["aider", "my_tool"], "PIPELINE_TOOL_AIDER_COMAND"), @r#"
        environment variable PIPELINE_TOOL_AIDER_COMAND: unknown FIELD `COMAND` for tool profile `aider`; did you mean PIPELINE_TOOL_AIDER_COMMAND?
          hint: variables are PIPELINE_TOOL_<NAME>_<FIELD> with FIELD one of COMMAND, TIMEOUT_SEC, MODEL, API_BASE; other fields are set in .pipeline/config.yaml (docs/CONFIG.md)
    "#);
    insta::assert_snapshot!(message(&["my", "my_tool"], "PIPELINE_TOOL_MY_TOOL_TIMEOUT"), @r#"
        environment variable PIPELINE_TOOL_MY_TOOL_TIMEOUT: unknown FIELD `TIMEOUT` for tool profile `my_tool`; did you mean PIPELINE_TOOL_MY_TOOL_TIMEOUT_SEC?
          hint: variables are PIPELINE_TOOL_<NAME>_<FIELD> with FIELD one of COMMAND, TIMEOUT_SEC, MODEL, API_BASE; other fields are set in .pipeline/config.yaml (docs/CONFIG.md)
    "#);
}

#[test]
fn a_field_with_no_close_match_lists_the_fields() {
    insta::assert_snapshot!(message(&["aider"], "PIPELINE_TOOL_AIDER_ARGS"), @r#"
        environment variable PIPELINE_TOOL_AIDER_ARGS: unknown FIELD `ARGS` for tool profile `aider`
          hint: variables are PIPELINE_TOOL_<NAME>_<FIELD> with FIELD one of COMMAND, TIMEOUT_SEC, MODEL, API_BASE; other fields are set in .pipeline/config.yaml (docs/CONFIG.md)
    "#);
    insta::assert_snapshot!(message(&["aider"], "PIPELINE_TOOL_GPT"), @r#"
        environment variable PIPELINE_TOOL_GPT: expected PIPELINE_TOOL_<NAME>_<FIELD>
          hint: variables are PIPELINE_TOOL_<NAME>_<FIELD> with FIELD one of COMMAND, TIMEOUT_SEC, MODEL, API_BASE; other fields are set in .pipeline/config.yaml (docs/CONFIG.md)
    "#);
}

#[test]
fn a_known_field_of_an_unknown_profile_names_the_profiles() {
    let text = message(&["aider"], "PIPELINE_TOOL_GPT_MODEL");
    assert!(text.contains("`GPT` names no tool profile"), "{text}");
    assert!(text.contains("AIDER (aider)"), "{text}");
}
