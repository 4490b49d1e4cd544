//! `.pipeline/config.yaml` strictness: an unknown key anywhere in the file stops
//! `tools`, `validate`, `plan` and `run` with exit 2 and a message naming the file, the
//! key path, its line and column and the closest known key (issue #11, point 1).

use crate::support::Test;

/// The stderr of `pipeline <args>` (which must exit 2), the repository path replaced.
fn rejected(t: &Test, args: &[&str]) -> String {
    t.pipeline(args)
        .assert_code(2)
        .stderr()
        .replace(&t.repo.to_string_lossy().into_owned(), "[REPO]")
}

#[test]
fn a_misspelt_key_stops_every_command_with_a_suggestion() {
    let t = Test::new();
    t.config("tools:\n  aider:\n    comand: aider\n");
    let ws = t.workstream("ws.json", r#"{"id": "a", "command": "true"}"#);
    let ws = ws.to_str().unwrap();
    let tools = rejected(&t, &["tools"]);
    insta::assert_snapshot!("misspelt_profile_field", tools);
    for args in [vec!["validate", ws], vec!["plan", ws], vec!["run", ws]] {
        assert_eq!(rejected(&t, &args), tools, "pipeline {args:?}");
    }
}

#[test]
fn an_unknown_top_level_key_is_an_error_not_ignored() {
    let t = Test::new();
    t.config("jobs: 4\ntools: {}\n");
    let ws = t.workstream("ws.json", r#"{"id": "a", "command": "true"}"#);
    let validate = rejected(&t, &["validate", ws.to_str().unwrap()]);
    insta::assert_snapshot!("unknown_top_level_key", validate);
    let tools = rejected(&t, &["tools"]);
    assert_eq!(tools, validate);
}

#[test]
fn a_misspelt_secrets_key_is_caught_by_validate() {
    let t = Test::new();
    t.config("secrets:\n  extra_envs: [DATABASE_URL]\n");
    let ws = t.workstream("ws.json", r#"{"id": "a", "command": "true"}"#);
    let stderr = rejected(&t, &["validate", ws.to_str().unwrap()]);
    assert!(
        stderr.contains(
            "[REPO]/.pipeline/config.yaml: unknown key `secrets.extra_envs` at line 2 column 3; did you mean `secrets.extra_env`?"
        ),
        "{stderr}"
    );
}

#[test]
fn a_pipeline_tool_variable_with_a_misspelt_field_suggests_the_field() {
    let t = Test::new();
    let out = t
        .cmd()
        .args(["tools"])
        .env("PIPELINE_TOOL_AIDER_COMAND", "aider")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("did you mean PIPELINE_TOOL_AIDER_COMMAND?"),
        "{stderr}"
    );
}

#[test]
fn the_documented_keys_are_accepted() {
    let t = Test::new();
    t.config(
        "tools:\n  lint:\n    command: sh\n    args: [\"-c\", \"true\"]\n    retry: {max_attempts: 1}\n    circuit_breaker: {cooldown: 5}\nsecrets:\n  extra_env: [DATABASE_URL]\nscope_overlap: serialize\n",
    );
    let ws = t.workstream("ws.json", r#"{"id": "a", "command": "true"}"#);
    t.pipeline(&["validate", ws.to_str().unwrap()]).assert_ok();
    let tools = t.pipeline(&["tools"]).assert_ok().stdout();
    assert!(tools.contains("lint"), "{tools}");
}
