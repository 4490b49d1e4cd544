//! The write sandbox (Linux Landlock): a step writes only to its worktree, its temporary
//! directory, the git parts a commit needs and declared `writable_paths`; a denied write
//! fails the step as `permanent`, naming the path; `sandbox: "none"` and `--sandbox none`
//! turn it off.

use std::path::PathBuf;

use serde_json::Value;

use crate::support::Test;

/// Whether the machine can sandbox, as `pipeline tools --json` reports it. Where it
/// cannot, the test is skipped with a message, except under CI (whose machines have
/// Landlock), where that is a failure.
fn sandbox_available(t: &Test) -> bool {
    let tools: Value =
        serde_json::from_str(&t.pipeline(&["tools", "--json"]).assert_ok().stdout()).unwrap();
    let sandbox = &tools[0]["sandbox"];
    if sandbox["available"] == true {
        assert!(sandbox["abi"].as_u64().unwrap() >= 1, "{sandbox:#}");
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI machines have Landlock, but: {sandbox:#}"
    );
    eprintln!("skipped: no write sandbox on this machine: {sandbox}");
    false
}

/// A directory outside the repository that steps are not allowed to write to.
fn elsewhere(t: &Test) -> PathBuf {
    let dir = t.repo.parent().unwrap().join("elsewhere");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn a_write_into_the_main_checkout_fails_the_step_as_permanent_naming_the_path() {
    let t = Test::new();
    if !sandbox_available(&t) {
        return;
    }
    // The worktree is .pipeline/worktrees/<run>/<step>: four levels up is the checkout.
    let ws = t.workstream(
        "ws.json",
        r#"[{"id": "escape", "command": "echo x > ../../../../keep.txt"}]"#,
    );
    t.run(&ws, "esc", 1).assert_code(1);
    let st = t.step_status("esc", "escape");
    assert_eq!(st["status"], "failed", "{st:#}");
    assert_eq!(st["attempts"], 1, "permanent: not retried: {st:#}");
    let err = st["error"].as_str().unwrap();
    assert!(err.contains("class permanent"), "{err}");
    assert!(err.contains("../../../../keep.txt"), "{err}");
    // The step's own error says the way out, not only `pipeline errors`.
    assert!(err.contains("writable_paths"), "{err}");
    // The error engine's report names the path and the way out.
    let errors: Value = serde_json::from_str(
        &t.pipeline(&["errors", "esc", "--json"])
            .assert_ok()
            .stdout(),
    )
    .unwrap();
    let e = &errors["errors"][0];
    assert_eq!(e["plugin"], "sandbox", "{errors:#}");
    assert_eq!(e["class"], "permanent", "{errors:#}");
    let summary = e["summary"].as_str().unwrap();
    assert!(
        summary.contains("../../../../keep.txt") && summary.contains("writable_paths"),
        "{summary}"
    );
    assert!(!t.repo.join("keep.txt").exists());
}

#[test]
fn git_hooks_and_config_are_not_writable_but_a_commit_in_the_worktree_is() {
    let t = Test::new();
    if !sandbox_available(&t) {
        return;
    }
    let ws = t.workstream(
        "ws.json",
        r#"[{"id": "hook", "command": "echo 'touch /tmp/pwned' > \"$(git rev-parse --git-common-dir)/hooks/post-checkout\""},
            {"id": "config", "command": "git config --file \"$(git rev-parse --git-common-dir)/config\" core.hooksPath /tmp"},
            {"id": "commit", "command": "t=$(mktemp) && echo ok > \"$t\" && cp \"$t\" made.txt && git add made.txt && git commit -q -m inside",
             "acceptance_tests": ["mktemp && test -f made.txt"]}]"#,
    );
    t.run(&ws, "git", 3).assert_code(1);
    let hook = t.step_status("git", "hook");
    assert_eq!(hook["status"], "failed", "{hook:#}");
    let err = hook["error"].as_str().unwrap();
    assert!(
        err.contains("hooks/post-checkout") && err.contains("class permanent"),
        "{err}"
    );
    assert!(!t.repo.join(".git/hooks/post-checkout").exists());
    assert_eq!(t.step_status("git", "config")["status"], "failed");
    assert!(
        !std::fs::read_to_string(t.repo.join(".git/config"))
            .unwrap()
            .contains("hooksPath")
    );
    // The step's own commit (objects, refs, logs, its worktree's admin directory) and
    // its temporary directory work.
    let commit = t.step_status("git", "commit");
    assert_eq!(commit["status"], "completed", "{commit:#}");
    assert_eq!(
        t.show("pipeline-steps/git/commit", "made.txt").as_deref(),
        Some("ok\n")
    );
}

#[test]
fn a_write_through_a_committed_symlink_to_outside_the_repository_is_denied() {
    let t = Test::new();
    if !sandbox_available(&t) {
        return;
    }
    let outside = elsewhere(&t).join("notes.txt");
    std::fs::write(&outside, "mine\n").unwrap();
    std::os::unix::fs::symlink(&outside, t.repo.join("outfile")).unwrap();
    t.git(&["add", "outfile"]);
    t.git(&["commit", "-q", "-m", "a link out"]);
    let ws = t.workstream(
        "ws.json",
        r#"[{"id": "through", "command": "echo overwritten > outfile"}]"#,
    );
    t.run(&ws, "link", 1).assert_code(1);
    let err = t.step_status("link", "through")["error"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        err.contains("outfile") && err.contains("class permanent"),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&outside).unwrap(), "mine\n");
}

#[test]
fn sandbox_none_on_the_step_or_the_run_lets_the_write_through() {
    let t = Test::new();
    if !sandbox_available(&t) {
        return;
    }
    let ws = t.workstream(
        "ws.json",
        r#"[{"id": "free", "sandbox": "none", "command": "echo step > ../../../../keep.txt"}]"#,
    );
    t.run(&ws, "off", 1).assert_ok();
    assert_eq!(
        std::fs::read_to_string(t.repo.join("keep.txt")).unwrap(),
        "step\n"
    );

    let ws = t.workstream(
        "ws2.json",
        r#"[{"id": "free", "command": "echo run > ../../../../keep2.txt"}]"#,
    );
    t.pipeline(&[
        "run",
        ws.to_str().unwrap(),
        "--run-id",
        "off-run",
        "--sandbox",
        "none",
    ])
    .assert_ok();
    assert_eq!(
        std::fs::read_to_string(t.repo.join("keep2.txt")).unwrap(),
        "run\n"
    );
}

#[test]
fn writable_paths_of_the_step_and_the_tool_profile_are_writable() {
    let t = Test::new();
    if !sandbox_available(&t) {
        return;
    }
    let dir = elsewhere(&t);
    let by_step = dir.join("step");
    let by_profile = dir.join("profile");
    for d in [&by_step, &by_profile] {
        std::fs::create_dir_all(d).unwrap();
    }
    t.config(&format!(
        "tools:\n  shell:\n    writable_paths: [{}]\n",
        by_profile.display()
    ));
    let ws = t.workstream(
        "ws.json",
        &format!(
            r#"[{{"id": "declared", "writable_paths": ["{step}"],
                  "command": "echo s > {step}/x && echo p > {profile}/x",
                  "acceptance_tests": ["echo t > {step}/y"]}},
                {{"id": "undeclared", "command": "echo no > {dir}/z"}}]"#,
            step = by_step.display(),
            profile = by_profile.display(),
            dir = dir.display(),
        ),
    );
    t.run(&ws, "wp", 2).assert_code(1);
    assert_eq!(t.step_status("wp", "declared")["status"], "completed");
    assert!(by_step.join("x").exists() && by_step.join("y").exists());
    assert!(by_profile.join("x").exists());
    assert_eq!(t.step_status("wp", "undeclared")["status"], "failed");
    assert!(!dir.join("z").exists());
}

#[test]
fn an_isolation_none_step_writes_the_checkout_but_not_git_hooks() {
    let t = Test::new();
    if !sandbox_available(&t) {
        return;
    }
    let ws = t.workstream(
        "ws.json",
        r#"[{"id": "inplace", "isolation": "none", "command": "echo changed >> README.md"},
            {"id": "hooks", "isolation": "none", "command": "echo x > .git/hooks/pre-commit"}]"#,
    );
    t.run(&ws, "none", 1).assert_code(1);
    assert_eq!(
        t.step_status("none", "inplace")["status"],
        "completed",
        "{:#}",
        t.step_status("none", "inplace")
    );
    assert_eq!(t.step_status("none", "hooks")["status"], "failed");
    assert!(!t.repo.join(".git/hooks/pre-commit").exists());
}
