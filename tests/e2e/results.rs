//! Results stay inside the repository (issue 10, point 3): a step whose result holds a
//! symlink resolving outside the repository, or a nested git repository it created,
//! fails with a scope violation naming it (class `permanent`, not retried), unless the
//! step lists the link in `allow_symlinks`; links inside the repository are committed.

use serde_json::Value;

use crate::support::Test;

/// Asserts that `step` of `run` failed on its first attempt with a `permanent` scope
/// violation whose text contains every one of `needles`; returns the error.
fn assert_violation(t: &Test, run: &str, step: &str, needles: &[&str]) -> String {
    let st = t.step_status(run, step);
    assert_eq!(st["status"], "failed", "{st:#}");
    assert_eq!(
        st["attempts"], 1,
        "a permanent failure is not retried: {st:#}"
    );
    let error = st["error"].as_str().unwrap_or_default().to_owned();
    for needle in needles {
        assert!(error.contains(needle), "{needle:?} not in: {error}");
    }
    let finished = t.events(run, step, "attempt_finished");
    let class: &Value = &finished[0]["classified"]["class"];
    assert_eq!(class, "permanent", "{finished:#?}");
    error
}

#[test]
fn a_symlink_to_a_file_outside_the_repository_fails_the_step_naming_it() {
    let t = Test::new();
    let outside = t.out_path("notes.txt");
    std::fs::write(&outside, "private notes\n").unwrap();
    let ws = t.workstream(
        "ws.json",
        &format!(
            r#"[{{"id": "linker", "command": "mkdir -p s && ln -s {outside} s/outfile && echo ok > ok.txt"}},
                {{"id": "plain", "command": "echo plain > plain.txt"}}]"#
        ),
    );
    t.run(&ws, "out", 2).assert_code(1);
    assert_violation(
        &t,
        "out",
        "linker",
        &[
            "symlinks resolving outside the repository",
            &format!("s/outfile -> {outside} (absolute target)"),
            "allow_symlinks",
        ],
    );
    assert_eq!(t.step_status("out", "plain")["status"], "completed");
    // Nothing of the step reached a branch; the file outside is untouched.
    assert_eq!(t.show("pipeline-steps/out/linker", "ok.txt"), None);
    assert_eq!(
        std::fs::read_to_string(&outside).unwrap(),
        "private notes\n"
    );
}

#[test]
fn allow_symlinks_keeps_a_listed_link_in_the_result() {
    let t = Test::new();
    let outside = t.out_path("notes.txt");
    let ws = t.workstream(
        "ws.json",
        &format!(
            r#"[{{"id": "linker", "allow_symlinks": ["s/outfile"],
                  "command": "mkdir -p s && ln -s {outside} s/outfile && ln -s {outside} s/other"}}]"#
        ),
    );
    // Only the listed link is allowed: `s/other` still fails the step.
    t.run(&ws, "one", 1).assert_code(1);
    let error = assert_violation(&t, "one", "linker", &["s/other -> "]);
    assert!(!error.contains("s/outfile"), "{error}");

    let ws = t.workstream(
        "allowed.json",
        &format!(
            r#"[{{"id": "linker", "allow_symlinks": ["s/"],
                  "command": "mkdir -p s && ln -s {outside} s/outfile && ln -s {outside} s/other"}}]"#
        ),
    );
    t.run(&ws, "all", 1).assert_ok();
    assert_eq!(t.step_status("all", "linker")["status"], "completed");
    let tree = t.git(&["ls-tree", "-r", "pipeline/all", "s/"]);
    assert!(
        tree.contains("120000") && tree.contains("s/outfile"),
        "{tree}"
    );
    assert_eq!(
        t.show("pipeline/all", "s/outfile").as_deref(),
        Some(outside.as_str())
    );
}

#[test]
fn links_to_etc_passwd_and_to_the_git_config_fail_the_step() {
    let t = Test::new();
    let ws = t.workstream(
        "ws.json",
        r#"[{"id": "passwd", "command": "ln -s /etc/passwd passwd"},
            {"id": "config", "command": "ln -s ../.git/config gitconfig"},
            {"id": "hooks", "command": "mkdir -p d && ln -s ../.git/hooks d/hooks"}]"#,
    );
    t.run(&ws, "sys", 3).assert_code(1);
    assert_violation(
        &t,
        "sys",
        "passwd",
        &["passwd -> /etc/passwd (absolute target)"],
    );
    assert_violation(
        &t,
        "sys",
        "config",
        &["gitconfig -> ../.git/config (leaves the repository)"],
    );
    assert_violation(
        &t,
        "sys",
        "hooks",
        &["d/hooks -> ../.git/hooks (points into the git directory)"],
    );
}

#[test]
fn a_link_inside_the_repository_is_committed() {
    let t = Test::new();
    let ws = t.workstream(
        "ws.json",
        r#"[{"id": "inside", "command": "mkdir -p b && echo c > b/c && ln -s b/c a && mkdir -p s && ln -s ../README.md s/readme && ln -s not/there dangling"}]"#,
    );
    t.run(&ws, "in", 1).assert_ok();
    assert_eq!(t.show("pipeline/in", "a").as_deref(), Some("b/c"));
    assert_eq!(
        t.show("pipeline/in", "s/readme").as_deref(),
        Some("../README.md")
    );
    assert_eq!(
        t.show("pipeline/in", "dangling").as_deref(),
        Some("not/there")
    );
}

#[test]
fn a_nested_repository_created_by_a_step_fails_it_naming_the_directory() {
    let t = Test::new();
    let ws = t.workstream(
        "ws.json",
        r#"[{"id": "nest", "command": "git init -q nested && echo inner > nested/inner.txt && echo outer > outer.txt"}]"#,
    );
    t.run(&ws, "nest", 1).assert_code(1);
    let error = assert_violation(&t, "nest", "nest", &["nested git repositories: nested ("]);
    assert!(!error.contains("nested/"), "{error}");
    assert_eq!(t.show("pipeline-steps/nest/nest", "outer.txt"), None);
}

#[test]
fn an_invalid_allow_symlinks_entry_is_a_validation_error() {
    let t = Test::new();
    let ws = t.workstream(
        "ws.json",
        r#"[{"id": "s", "command": "true", "allow_symlinks": ["ok", "../../up"]}]"#,
    );
    t.pipeline(&["validate", ws.to_str().unwrap()])
        .assert_code(2)
        .assert_stderr_contains("allow_symlinks: path `../../up` escapes the repository");
}
