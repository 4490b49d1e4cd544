//! Invalid input: every case exits 2 with a message naming the file, the location and the
//! step, and records nothing.

use crate::support::Test;

/// Validates `json` as `name` and returns stderr with the temporary directory replaced.
fn invalid(t: &Test, name: &str, json: &str) -> String {
    let f = t.workstream(name, json);
    let r = t
        .pipeline(&["validate", f.to_str().unwrap()])
        .assert_code(2);
    r.stderr()
        .replace(&t.ws_dir.to_string_lossy().into_owned(), "[WS]")
}

#[test]
fn truncated_json() {
    let t = Test::new();
    insta::assert_snapshot!(
        "truncated_json",
        invalid(
            &t,
            "cut.json",
            "[{\"id\": \"a\", \"command\": \"true\"},\n {\"id\": \"b\", \"comm"
        )
    );
}

#[test]
fn schema_violations() {
    let t = Test::new();
    insta::assert_snapshot!(
        "schema_violations",
        invalid(
            &t,
            "schema.json",
            r#"{"id": "ws one", "tool": "aider", "tasks": ["x"], "timeout_sec": 0, "steps": [{"id": "s", "isolation": "container", "command": "true"}]}"#
        )
    );
}

#[test]
fn duplicate_ids_and_unknown_dependencies() {
    let t = Test::new();
    insta::assert_snapshot!(
        "duplicates_and_unknown_dependencies",
        invalid(
            &t,
            "dups.json",
            r#"[{"id": "api", "command": "true"}, {"id": "api", "command": "true"},
                {"id": "web", "command": "true", "depends_on": ["apu"]},
                {"id": "w", "steps": [{"id": "s", "command": "true"}, {"id": "s", "command": "true"}, {"id": "t", "command": "true", "depends_on": ["nope"]}]}]"#
        )
    );
}

#[test]
fn dependency_cycles_print_the_cycle() {
    let t = Test::new();
    insta::assert_snapshot!(
        "cycle",
        invalid(
            &t,
            "cycle.json",
            r#"[{"id": "a", "command": "true", "depends_on": ["c"]}, {"id": "b", "command": "true", "depends_on": ["a"]}, {"id": "c", "command": "true", "depends_on": ["b"]}]"#
        )
    );
}

#[test]
fn unknown_tools_and_escaping_paths() {
    let t = Test::new();
    insta::assert_snapshot!(
        "tools_and_paths",
        invalid(
            &t,
            "paths.json",
            r#"[{"id": "a", "tool": "aidr", "tasks": ["x"]}, {"id": "b", "command": "true", "files_scope": ["/etc/passwd", "src/../../secrets"], "files_create": ["C:\\x"]}]"#
        )
    );
}

#[test]
fn empty_workstreams() {
    let t = Test::new();
    insta::assert_snapshot!("empty_array", invalid(&t, "empty.json", "[]"));
    insta::assert_snapshot!(
        "nothing_to_do",
        invalid(&t, "idle.json", r#"{"id": "idle", "tool": "aider"}"#)
    );
    let r = t
        .pipeline(&["validate", t.ws_dir.join("missing.json").to_str().unwrap()])
        .assert_code(2);
    assert!(
        r.stderr().contains("missing.json") && r.stderr().contains("cannot read"),
        "{}",
        r.stderr()
    );
}

#[test]
fn run_refuses_invalid_input_and_records_nothing() {
    let t = Test::new();
    let f = t.workstream(
        "bad.json",
        r#"[{"id": "a", "command": "true", "depends_on": ["a"]}]"#,
    );
    t.run(&f, "never", 1)
        .assert_code(2)
        .assert_stderr_contains("dependency cycle: a -> a");
    assert!(
        !t.repo.join(".pipeline/state.db").exists(),
        "no state recorded for invalid input"
    );
}

/// Optional: needs the external conformance corpus (`PIPELINE_CONFORMANCE_DIR`, see
/// `conformance.rs`); without it the test prints "skipped: ..." and passes. The project's
/// own original-format fixtures are tested in `original_format.rs` either way.
#[test]
fn conformance_corpus_is_accepted_with_notes() {
    let Some(dir) = crate::conformance::corpus() else {
        return;
    };
    let t = Test::new();
    let r = t.pipeline(&["validate", dir.to_str().unwrap()]).assert_ok();
    let out = r.stdout();
    assert!(out.contains("valid: 36 workstreams"), "{out}");
    assert!(out.contains("skipped: a JSON Schema document"), "{out}");
    let r = t
        .pipeline(&["validate", dir.join("examples").to_str().unwrap()])
        .assert_ok();
    let out = r.stdout();
    for field in [
        "error_handling",
        "saga",
        "execution",
        "state_transitions",
        "resume",
    ] {
        assert!(
            out.contains(&format!("field `{field}` is not interpreted")),
            "{field}: {out}"
        );
    }
    // The error engine reads `retry` and `circuit_breaker`; keys it does not use are named.
    assert!(
        out.contains("`circuit_breaker.error_patterns` is not interpreted"),
        "{out}"
    );
    assert!(
        !out.contains("field `retry`") && !out.contains("field `circuit_breaker`"),
        "{out}"
    );
    assert!(out.contains("compensation without `command`"), "{out}");
    assert_eq!(
        out.matches("`circuit_breaker.per_step` is not interpreted")
            .count(),
        2,
        "once per workstream: {out}"
    );
}

#[test]
fn a_newer_database_is_refused_untouched() {
    let t = Test::new();
    let db = t.repo.join(".pipeline/state.db");
    std::fs::create_dir_all(db.parent().unwrap()).unwrap();
    {
        let c = rusqlite::Connection::open(&db).unwrap();
        c.execute_batch("PRAGMA application_id = 1346981957; CREATE TABLE future(x); PRAGMA user_version = 999;").unwrap();
    }
    let before = std::fs::read(&db).unwrap();
    let f = t.workstream("ok.json", r#"{"id": "a", "command": "true"}"#);
    let r = t.run(&f, "r1", 1).assert_code(2);
    assert!(r.stderr().contains("999"), "{}", r.stderr());
    assert_eq!(
        std::fs::read(&db).unwrap(),
        before,
        "the database is not modified"
    );
}

#[test]
fn not_a_repository_and_bad_run_ids() {
    let t = Test::new();
    let f = t.workstream("ok.json", r#"{"id": "a", "command": "true"}"#);
    let r = t
        .cmd()
        .current_dir(&t.ws_dir)
        .args(["run", f.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(
        r.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&r.stderr)
    );
    assert!(
        String::from_utf8_lossy(&r.stderr).contains("git"),
        "{}",
        String::from_utf8_lossy(&r.stderr)
    );
    t.run(&f, "bad/id", 1)
        .assert_code(2)
        .assert_stderr_contains("invalid run id");
    t.pipeline(&["run", f.to_str().unwrap(), "--base", "no-such-branch"])
        .assert_code(2)
        .assert_stderr_contains("no-such-branch");
}

#[test]
fn context_files_must_stay_inside_the_repository_and_reach_the_prompt() {
    let t = Test::new();
    let ws = t.workstream(
        "ctx.json",
        r#"{"id": "a", "command": "true", "context_files": ["../secrets.txt"]}"#,
    );
    t.pipeline(&["validate", ws.to_str().unwrap()])
        .assert_code(2)
        .assert_stderr_contains("/context_files/0");
    t.config("tools:\n  echo-prompt:\n    kind: custom\n    command: sh\n    args: [\"-c\", \"cat \\\"$PIPELINE_PROMPT_FILE\\\"\"]\n");
    let ws = t.workstream("ok.json", r#"{"id": "b", "tool": "echo-prompt", "tasks": ["use the API"], "context_files": ["docs/api.md"]}"#);
    t.run(&ws, "ctx", 1).assert_ok();
    let log = t.pipeline(&["logs", "ctx", "b"]).assert_ok().stdout();
    assert!(
        log.contains("Read for context (do not change):\n- docs/api.md"),
        "{log}"
    );
}

#[test]
fn durations_out_of_range_name_their_field() {
    let t = Test::new();
    insta::assert_snapshot!(
        "durations_out_of_range",
        invalid(
            &t,
            "durations.json",
            r#"{"id": "w", "timeout_sec": 1e20, "steps": [
                {"id": "a", "command": "true", "acceptance_tests": [{"command": "true", "timeout_sec": 1e20}]},
                {"id": "b", "command": "true", "compensation": {"command": "true", "timeout_sec": -1}, "circuit_breaker": {"cooldown_seconds": 1e20}},
                {"id": "c", "command": "true", "timeout_sec": 31536001, "retry": {"max_delay": 1e300}}
            ]}"#
        )
    );
}

#[test]
fn ids_that_cannot_name_a_branch_are_refused() {
    let t = Test::new();
    insta::assert_snapshot!(
        "ids_and_git_ref_rules",
        invalid(
            &t,
            "ids.json",
            r#"[{"id": "x.lock", "command": "true"},
                {"id": "w", "steps": [{"id": "a.", "command": "true"}, {"id": "a..b", "command": "true"}]}]"#
        )
    );
}

#[test]
fn duplicate_keys_name_the_key_and_line() {
    let t = Test::new();
    insta::assert_snapshot!(
        "duplicate_keys",
        invalid(
            &t,
            "dupkeys.json",
            "{\"id\": \"w\",\n \"steps\": [{\"id\": \"a\",\n   \"command\": \"true\",\n   \"command\": \"rm -rf src\"}]}"
        )
    );
}

#[test]
fn a_nul_byte_in_a_command_is_refused() {
    let t = Test::new();
    insta::assert_snapshot!(
        "nul_in_commands",
        invalid(
            &t,
            "nul.json",
            r#"{"id": "w", "env": {"A": "x\u0000y"}, "steps": [
                {"id": "a", "command": "echo a\u0000b", "acceptance_tests": ["true\u0000"]},
                {"id": "b", "command": "true", "compensation": "rm\u0000"}
            ]}"#
        )
    );
}

/// `pipeline validate <path>` with a deadline: a path that blocks must not hang the test.
fn validate_with_deadline(t: &Test, path: &std::path::Path) -> crate::support::Run {
    let output = t
        .cmd()
        .args(["validate", path.to_str().unwrap()])
        .timeout(std::time::Duration::from_secs(20))
        .output()
        .expect("pipeline runs");
    crate::support::Run { output }
}

#[test]
fn devices_and_fifos_are_refused_at_once() {
    let t = Test::new();
    let start = std::time::Instant::now();
    let r = validate_with_deadline(&t, std::path::Path::new("/dev/zero")).assert_code(2);
    assert!(
        r.stderr()
            .contains("/dev/zero: not a regular file (a character device)"),
        "{}",
        r.stderr()
    );
    let fifo = t.ws_dir.join("pipe.json");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo runs");
    assert!(made.success(), "mkfifo failed");
    let r = validate_with_deadline(&t, &fifo).assert_code(2);
    assert!(
        r.stderr()
            .contains("pipe.json: not a regular file (a FIFO)"),
        "{}",
        r.stderr()
    );
    // A FIFO in a given directory is not a workstream file of it, and never opened.
    let r = validate_with_deadline(&t, &t.ws_dir).assert_code(2);
    assert!(
        r.stderr().contains("no top-level workstream file (*.json"),
        "{}",
        r.stderr()
    );
    assert!(
        start.elapsed() < std::time::Duration::from_secs(15),
        "refused at once, not after reading: {:?}",
        start.elapsed()
    );
}

#[test]
fn a_file_over_the_size_limit_is_refused() {
    let t = Test::new();
    let f = t.workstream("big.json", r#"{"id": "a", "command": "true"}"#);
    let r = t
        .cmd()
        .env("PIPELINE_MAX_WORKSTREAM_BYTES", "16")
        .args(["validate", f.to_str().unwrap()])
        .output()
        .unwrap();
    let r = crate::support::Run { output: r }.assert_code(2);
    assert!(
        r.stderr()
            .contains("file holds 30 bytes, more than the limit of 16 bytes"),
        "{}",
        r.stderr()
    );
    assert!(
        r.stderr().contains("PIPELINE_MAX_WORKSTREAM_BYTES"),
        "{}",
        r.stderr()
    );
    t.cmd()
        .env("PIPELINE_MAX_WORKSTREAM_BYTES", "30")
        .args(["validate", f.to_str().unwrap()])
        .assert()
        .success();
}

#[test]
fn a_tool_profile_cooldown_out_of_range_is_an_input_error() {
    let t = Test::new();
    t.config("tools:\n  slow:\n    kind: custom\n    command: sh\n    circuit_breaker:\n      cooldown: 1e20\n");
    let f = t.workstream("ok.json", r#"{"id": "a", "command": "true"}"#);
    t.pipeline(&["validate", f.to_str().unwrap()])
        .assert_code(2)
        .assert_stderr_contains("tool profile `slow`: invalid `circuit_breaker`")
        .assert_stderr_contains("cooldown");
}
