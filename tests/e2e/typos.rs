//! Typos and traps in workstream files, through the real binary (issue #11): unknown keys
//! are errors with "did you mean", original-format keys are notes that `--strict` turns
//! into errors, a step with `tool` and `command`, the in-place trap, read-only
//! contradictions, uninstalled tools, and YAML workstream files.

use serde_json::Value;

use crate::support::Test;

/// `pipeline validate <file> [extra...]` with exit code `code`; stdout and stderr with the
/// workstream directory replaced by `[WS]`.
fn validate(t: &Test, file: &std::path::Path, extra: &[&str], code: i32) -> (String, String) {
    let mut args = vec!["validate", file.to_str().unwrap()];
    args.extend_from_slice(extra);
    let r = t.pipeline(&args).assert_code(code);
    let ws = t.ws_dir.to_string_lossy().into_owned();
    (
        r.stdout().replace(&ws, "[WS]"),
        r.stderr().replace(&ws, "[WS]"),
    )
}

#[test]
fn typos_on_workstreams_steps_and_phases_are_errors_with_suggestions() {
    let t = Test::new();
    let f = t.workstream(
        "typos.json",
        r#"{"id": "ws", "descripton": "d", "owner": "me", "phases": [
              {"id": "p", "dependson": [], "steps": [
                {"id": "a", "command": "true", "depend_on": ["b"], "acceptence_tests": ["true"], "zzzz": 1}]}],
            "steps": [{"id": "b", "command": "true"}]}"#,
    );
    let (out, err) = validate(&t, &f, &[], 2);
    assert_eq!(out, "");
    insta::assert_snapshot!("typos", err);
    // `run` refuses the same file before anything runs.
    t.run(&f, "never", 1)
        .assert_code(2)
        .assert_stderr_contains("did you mean `depends_on`?");
    assert!(!t.repo.join(".pipeline/state.db").exists());
}

#[test]
fn typos_in_json_diagnostics() {
    let t = Test::new();
    let f = t.workstream(
        "typo.json",
        r#"[{"id": "a", "command": "true"}, {"id": "b", "command": "true", "depend_on": ["a"]}]"#,
    );
    let (out, _) = validate(&t, &f, &["--json"], 2);
    let doc: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["valid"], false);
    let d = &doc["diagnostics"][0];
    assert_eq!(d["severity"], "error");
    assert_eq!(d["location"], "/1/depend_on");
    assert_eq!(d["step"], "b");
    assert_eq!(
        d["message"],
        "unknown field `depend_on` in step `b`; did you mean `depends_on`?"
    );
}

#[test]
fn comments_schema_and_original_fields_pass_and_strict_refuses_notes() {
    let t = Test::new();
    let f = t.workstream(
        "original.json",
        r#"{"$schema": "https://pipeline.dev/schema/workstream.schema.json", "_comment": "c",
            "id": "ws-x", "ccpm_issue": 3, "gate": 1, "metadata": {"owner": "me"}, "saga": {"enabled": true},
            "command": "true"}"#,
    );
    let (out, err) = validate(&t, &f, &[], 0);
    assert_eq!(err, "");
    insta::assert_snapshot!("original_field_note", out);
    let (out, err) = validate(&t, &f, &["--strict"], 2);
    assert_eq!(out, "");
    insta::assert_snapshot!("strict_note", err);
    let (out, _) = validate(&t, &f, &["--strict", "--json"], 2);
    let doc: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["valid"], false);
    assert_eq!(doc["diagnostics"][0]["severity"], "error");
    assert_eq!(doc["diagnostics"][0]["location"], "/saga");
    // Without notes, --strict passes.
    let clean = t.workstream(
        "clean.json",
        r#"{"$schema": "../schema/workstream.schema.json", "_c": 1, "id": "a", "command": "true"}"#,
    );
    let (out, _) = validate(&t, &clean, &["--strict"], 0);
    assert_eq!(out, "valid: 1 workstream, 1 step in 1 file\n");
}

#[test]
fn tool_and_command_on_one_step_is_an_error() {
    let t = Test::new();
    let f = t.workstream(
        "both.json",
        r#"{"id": "ws", "steps": [{"id": "a", "tool": "shell", "command": "make", "tasks": "t"}]}"#,
    );
    let (_, err) = validate(&t, &f, &[], 2);
    insta::assert_snapshot!("tool_and_command", err);
}

#[test]
fn in_place_steps_with_dependencies_must_be_read_only() {
    let t = Test::new();
    let f = t.workstream(
        "trap.json",
        r#"[{"id": "make", "command": "touch made.txt"},
            {"id": "check", "command": "test -f made.txt", "isolation": "none", "depends_on": ["make"]}]"#,
    );
    let (_, err) = validate(&t, &f, &[], 2);
    insta::assert_snapshot!("isolation_none_trap", err);
    let ok = t.workstream(
        "fixed.json",
        r#"[{"id": "make", "command": "touch made.txt"},
            {"id": "check", "command": "test -f made.txt", "isolation": "none", "read_only": true, "depends_on": ["make"]}]"#,
    );
    validate(&t, &ok, &[], 0);
}

#[test]
fn read_only_steps_declare_no_scope() {
    let t = Test::new();
    let f = t.workstream(
        "ro.json",
        r#"[{"id": "a", "command": "true", "read_only": true, "files_scope": ["src"]},
            {"id": "w", "read_only": true, "steps": [{"id": "b", "command": "true", "files_create": ["x"]}]}]"#,
    );
    let (_, err) = validate(&t, &f, &[], 2);
    insta::assert_snapshot!("read_only_scope", err);
}

#[test]
fn uninstalled_tools_are_warnings_and_strict_errors() {
    let t = Test::new();
    t.config(
        "tools:\n  ghost:\n    kind: custom\n    command: definitely-not-installed-tool\n    capabilities: [haunting]\n  present:\n    kind: custom\n    command: sh\n",
    );
    let f = t.workstream(
        "tools.json",
        r#"[{"id": "a", "tool": "ghost", "tasks": "t"},
            {"id": "b", "capability": "haunting", "tasks": "t"},
            {"id": "c", "tool": "present", "tasks": "t"}]"#,
    );
    let (out, err) = validate(&t, &f, &[], 0);
    assert_eq!(err, "");
    insta::assert_snapshot!("uninstalled_tool", out);
    let (out, err) = validate(&t, &f, &["--strict"], 2);
    assert_eq!(out, "");
    assert!(
        err.starts_with("error: [WS]/tools.json at /0 (step a): step `a` uses tool `ghost`"),
        "{err}"
    );
    assert!(err.contains("2 errors found (--strict"), "{err}");
    let (out, _) = validate(&t, &f, &["--json"], 0);
    let doc: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["valid"], true);
    let severities: Vec<&str> = doc["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["severity"].as_str().unwrap())
        .collect();
    assert_eq!(severities, vec!["warning", "warning"]);
}

#[test]
fn yaml_workstreams_validate_run_and_depend_on_json() {
    let t = Test::new();
    t.workstream(
        "base.json",
        &format!(
            r#"{{"id": "base", "command": "echo base >> {}"}}"#,
            t.out_path("order.txt")
        ),
    );
    let y = t.workstream(
        "next.yaml",
        &format!(
            "# comments are YAML's own\nid: next\n_note: a comment key\ndepends_on: [base]\nsteps:\n  - id: a\n    command: echo next >> {}\n",
            t.out_path("order.txt")
        ),
    );
    let (out, _) = validate(&t, &y, &[], 0);
    assert!(
        out.contains("valid: 2 workstreams, 2 steps in 2 files"),
        "{out}"
    );
    t.run(&y, "yaml", 2).assert_ok();
    assert_eq!(t.out_lines("order.txt"), vec!["base", "next"]);
}

#[test]
fn yaml_syntax_errors_have_line_and_column() {
    let t = Test::new();
    let f = t.workstream(
        "bad.yml",
        "id: a\ncommand: 'true'\nsteps:\n  - id: s\n    command: [unclosed\n",
    );
    let (_, err) = validate(&t, &f, &[], 2);
    insta::assert_snapshot!("yaml_syntax", err);
    let dup = t.workstream("dup.yaml", "id: a\ncommand: 'true'\ncommand: 'false'\n");
    let (_, err) = validate(&t, &dup, &[], 2);
    // YAML marks the object holding the repeated key.
    assert!(err.contains("dup.yaml at line 1, column 1"), "{err}");
    assert!(err.contains("duplicate key `command`"), "{err}");
}
