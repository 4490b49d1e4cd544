//! The traps of issue #11 named and fixed: overlapping `files_scope` of unordered steps
//! (an implicit edge, or a validation error with `scope_overlap: error`), read_only steps
//! (a temporary checkout of their dependencies' result; a change is their failure), merge
//! conflicts that name the steps and the fix, and a run summary that suggests no logs for
//! steps that never ran.

use crate::support::Test;

/// Replaces the test's temporary directory in `text` by `[TMP]` and the run's duration by
/// `[N] s`, so messages can be snapshotted.
fn stable(t: &Test, text: &str) -> String {
    let root = t
        .repo
        .parent()
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default();
    let text = text.replace(&root, "[TMP]");
    let mut out = String::new();
    for line in text.lines() {
        match line.rfind(" in ") {
            Some(at) if line.starts_with("Run ") && line.ends_with(" s") => {
                out.push_str(&line[..at]);
                out.push_str(" in [N] s");
            }
            _ => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

#[test]
fn overlapping_scopes_order_the_steps_and_the_later_one_sees_the_earlier_ones_change() {
    let t = Test::new();
    let ws = t.workstream(
        "ws.json",
        r#"[{"id": "first", "command": "echo first >> shared.txt", "files_scope": ["shared.txt"]},
            {"id": "second", "command": "grep -q first shared.txt && echo second >> shared.txt", "files_scope": ["shared.txt"]}]"#,
    );
    t.run(&ws, "overlap", 2).assert_ok();
    assert_eq!(
        t.show("pipeline/overlap", "shared.txt").as_deref(),
        Some("first\nsecond\n")
    );
    // The implicit dependency is recorded like a declared one.
    assert_eq!(
        t.step_status("overlap", "second")["depends_on"],
        serde_json::json!(["first"])
    );
}

#[test]
fn validate_names_the_implicit_edge_before_anything_runs() {
    let t = Test::new();
    let ws = t.workstream(
        "ws.json",
        r#"[{"id": "first", "command": "true", "files_scope": ["src/"]},
            {"id": "second", "command": "true", "files_scope": ["src/x.py"]}]"#,
    );
    let out = t
        .pipeline(&["validate", ws.to_str().unwrap()])
        .assert_ok()
        .stdout();
    assert!(
        out.contains("step second starts from the result of step first: their files_scope overlap (src/ and src/x.py)"),
        "{out}"
    );
    // --strict counts it like every other note.
    t.pipeline(&["validate", "--strict", ws.to_str().unwrap()])
        .assert_code(2);
}

#[test]
fn scope_overlap_error_fails_validation_naming_both_steps_and_the_fix() {
    let t = Test::new();
    t.config("scope_overlap: error\n");
    let ws = t.workstream(
        "ws.json",
        r#"[{"id": "first", "command": "true", "files_scope": ["src/"]},
            {"id": "second", "command": "true", "files_scope": ["src/x.py"]}]"#,
    );
    let r = t
        .pipeline(&["validate", ws.to_str().unwrap()])
        .assert_code(2);
    insta::assert_snapshot!("scope_overlap_error", stable(&t, &r.stderr()));
    // `run` refuses the same way, before any step starts.
    t.run(&ws, "refused", 2).assert_code(2);
    assert!(t.show("pipeline/refused", "README.md").is_none());
}

#[test]
fn an_isolation_none_read_only_step_runs_in_a_checkout_of_its_dependencies_result() {
    let t = Test::new();
    let pwd = t.out_path("pwd");
    let ws = t.workstream(
        "ws.json",
        &format!(
            r#"[{{"id": "make", "command": "echo made > made.txt"}},
                {{"id": "check", "depends_on": ["make"], "isolation": "none", "read_only": true,
                  "command": "test -f made.txt && pwd > {pwd}"}}]"#
        ),
    );
    t.run(&ws, "ro", 2).assert_ok();
    // The main checkout is untouched; the step ran elsewhere, and that checkout is gone.
    assert!(!t.repo.join("made.txt").exists());
    let ran_in = std::fs::read_to_string(&pwd).unwrap();
    let ran_in = std::path::Path::new(ran_in.trim());
    assert_ne!(ran_in, t.repo.canonicalize().unwrap());
    assert!(!ran_in.exists(), "{} was removed", ran_in.display());
    // No result commit of its own: its result is its dependency's.
    let make = t.step_status("ro", "make");
    let check = t.step_status("ro", "check");
    assert_eq!(check["status"], "completed");
    assert_eq!(check["commit"], make["commit"]);
    assert_eq!(t.show("pipeline/ro", "made.txt").as_deref(), Some("made\n"));
}

#[test]
fn resume_keeps_a_completed_read_only_step() {
    let t = Test::new();
    let go = t.out_path("go");
    let ws = t.workstream(
        "ws.json",
        &format!(
            r#"[{{"id": "make", "command": "echo made > made.txt"}},
                {{"id": "check", "depends_on": ["make"], "isolation": "none", "read_only": true,
                  "command": "test -f made.txt"}},
                {{"id": "after", "depends_on": ["check"], "command": "test -f {go} && touch after.txt"}}]"#
        ),
    );
    t.run(&ws, "again", 1).assert_code(1);
    std::fs::write(&go, "").unwrap();
    t.pipeline(&["resume", "again"]).assert_ok();
    // Kept from its checkpoint, not run again; its dependent built on its result.
    assert_eq!(t.step_status("again", "check")["attempts"], 1);
    assert_eq!(t.step_status("again", "after")["status"], "completed");
    assert!(t.show("pipeline/again", "made.txt").is_some());
    assert!(t.show("pipeline/again", "after.txt").is_some());
}

#[test]
fn a_read_only_step_that_writes_a_file_fails_naming_it() {
    // `main` runs in the main checkout, where the sandbox would refuse the write itself:
    // without it, the read_only check is what catches it.
    let t = Test::new();
    let ws = t.workstream(
        "ws.json",
        r#"[{"id": "writer", "read_only": true, "command": "echo x > scratch.txt"},
            {"id": "main", "isolation": "none", "read_only": true, "sandbox": "none",
             "command": "echo y > stray.txt"}]"#,
    );
    t.run(&ws, "rw", 1).assert_code(1);
    let writer = t.step_status("rw", "writer");
    assert_eq!(writer["status"], "failed");
    let error = writer["error"].as_str().unwrap();
    assert!(
        error.contains("read_only step `writer` changed 1 file: scratch.txt (added)"),
        "{error}"
    );
    assert!(error.contains("class permanent"), "{error}");
    assert_eq!(writer["attempts"], 1, "a permanent failure is not retried");
    let main = t.step_status("rw", "main");
    assert_eq!(main["status"], "failed");
    let error = main["error"].as_str().unwrap();
    assert!(
        error.contains("read_only step `main` changed 1 file: stray.txt (added)"),
        "{error}"
    );
}

#[test]
fn a_merge_conflict_names_the_files_the_steps_and_the_fix() {
    let t = Test::new();
    let ws = t.workstream(
        "ws.json",
        r#"[{"id": "left", "command": "echo left > shared.txt"},
            {"id": "right", "command": "echo right > shared.txt"},
            {"id": "join", "depends_on": ["left", "right"], "command": "true"}]"#,
    );
    let r = t.run(&ws, "clash", 2).assert_code(1);
    let join = t.step_status("clash", "join");
    assert_eq!(join["attempts"], 0);
    insta::assert_snapshot!("merge_conflict_summary", stable(&t, &r.stdout()));
}

#[test]
fn a_result_branch_conflict_names_the_steps() {
    let t = Test::new();
    let ws = t.workstream(
        "ws.json",
        r#"[{"id": "left", "command": "echo left > shared.txt"},
            {"id": "right", "command": "echo right > shared.txt"}]"#,
    );
    let r = t.run(&ws, "final", 2).assert_code(1);
    let out = r.stdout();
    assert!(
        out.contains(
            "Result branch not built: the results of the completed steps conflict when merged in 1 file:\n  shared.txt: changed by steps left and right"
        ),
        "{out}"
    );
    assert!(out.contains("depends_on"), "{out}");
}

#[test]
fn the_summary_suggests_no_logs_for_skipped_steps() {
    let t = Test::new();
    let ws = t.workstream(
        "ws.json",
        r#"[{"id": "bad", "command": "echo broken >&2; exit 3"},
            {"id": "after", "depends_on": ["bad"], "command": "true"},
            {"id": "later", "depends_on": ["after"], "command": "true"}]"#,
    );
    let r = t.run(&ws, "skips", 1).assert_code(1);
    let out = r.stdout();
    assert!(out.contains("logs: pipeline logs skips bad"), "{out}");
    assert!(!out.contains("pipeline logs skips after"), "{out}");
    assert!(!out.contains("pipeline logs skips later"), "{out}");
    assert!(
        out.contains("Skipped (never ran, no logs): 2 steps (after, later)"),
        "{out}"
    );
}

#[test]
fn the_summary_says_why_a_step_without_a_usable_tool_never_ran() {
    let t = Test::new();
    t.config("tools:\n  ghost:\n    kind: custom\n    command: pipeline-test-no-such-binary\n");
    let ws = t.workstream(
        "ws.json",
        r#"[{"id": "haunted", "tool": "ghost", "tasks": ["Do it"]}]"#,
    );
    let r = t.run(&ws, "ghostly", 1).assert_code(1);
    let out = r.stdout();
    assert_eq!(t.step_status("ghostly", "haunted")["attempts"], 0);
    assert!(out.contains("Failed before it ran: haunted"), "{out}");
    assert!(out.contains("install the tool"), "{out}");
    assert!(!out.contains("pipeline logs"), "{out}");
}
