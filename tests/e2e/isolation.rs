//! Worktree isolation, merging results forward, merge conflicts, file scopes.

use crate::handshake::await_file;
use crate::support::Test;

#[test]
fn independent_steps_do_not_see_each_other_and_dependents_see_both() {
    let t = Test::new();
    // a and b each write their file, announce it, and wait until the other has written
    // its own before looking for it: had they shared a directory, each would see it.
    let step = |me: &str, other: &str, content: &str| {
        format!(
            r#"{{"id": "{me}", "command": "echo {content} > {me}.txt; touch {mine}; {wait}; test ! -e {other}.txt"}}"#,
            mine = t.out_path(&format!("{me}.wrote")),
            wait = await_file(&t.out_path(&format!("{other}.wrote"))),
        )
    };
    let ws = t.workstream(
        "ws.json",
        &format!(
            r#"[{}, {},
            {{"id": "c", "depends_on": ["a", "b"], "command": "cat a.txt b.txt > c.txt", "acceptance_tests": ["test \"$(cat c.txt)\" = \"$(printf 'A\\nB')\""]}}]"#,
            step("a", "b", "A"),
            step("b", "a", "B"),
        ),
    );
    t.run(&ws, "iso", 2).assert_ok();
    assert_eq!(t.show("pipeline/iso", "c.txt").as_deref(), Some("A\nB\n"));
    // Each step has its own branch; a's branch does not contain b's change.
    assert!(t.show("pipeline-steps/iso/a", "a.txt").is_some());
    assert!(t.show("pipeline-steps/iso/a", "b.txt").is_none());
    // Worktrees of completed steps are removed; the user's checkout is untouched.
    assert!(!t.repo.join(".pipeline/worktrees/iso/a").exists());
    assert_eq!(
        t.git(&["status", "--porcelain"]),
        "",
        "the main working directory stays clean"
    );
    assert!(
        !t.git(&["worktree", "list"])
            .contains(".pipeline/worktrees/iso"),
        "{}",
        t.git(&["worktree", "list"])
    );
}

#[test]
fn conflicting_inputs_fail_the_dependent_naming_the_paths() {
    let t = Test::new();
    t.commit_file("shared.txt", "base\n");
    let ws = t.workstream(
        "ws.json",
        r#"[{"id": "left", "command": "echo left > shared.txt"},
            {"id": "right", "command": "echo right > shared.txt"},
            {"id": "join", "depends_on": ["left", "right"], "command": "true"}]"#,
    );
    t.run(&ws, "conflict", 2).assert_code(1);
    let join = t.step_status("conflict", "join");
    assert_eq!(join["status"], "failed");
    let err = join["error"].as_str().unwrap();
    assert!(
        err.contains("conflicts in 1 file:\n  shared.txt: changed by steps left and right"),
        "{err}"
    );
    assert_eq!(t.step_status("conflict", "left")["status"], "completed");
}

#[test]
fn changes_outside_the_file_scope_fail_the_step() {
    let t = Test::new();
    let ws = t.workstream(
        "ws.json",
        r#"[{"id": "scoped", "files_scope": ["src/"], "files_create": ["NEW.md"], "command": "mkdir -p src && touch src/ok.rs NEW.md stray.txt && rm README.md"},
            {"id": "fine", "files_scope": ["docs/"], "command": "mkdir -p docs && touch docs/x.md"}]"#,
    );
    t.run(&ws, "scope", 2).assert_code(1);
    let st = t.step_status("scope", "scoped");
    let err = st["error"].as_str().unwrap();
    assert!(
        err.contains("changed files outside files_scope: README.md (deleted), stray.txt (added)"),
        "{err}"
    );
    assert_eq!(t.step_status("scope", "fine")["status"], "completed");
}

#[test]
fn workstream_acceptance_tests_run_once_on_the_merge_of_its_steps() {
    let t = Test::new();
    let count = t.out_path("acceptance-runs");
    let ws = t.workstream(
        "ws.json",
        &format!(
            r#"{{"id": "w", "acceptance_tests": ["echo run >> {count}; test -f one.txt && test -f two.txt"],
                 "steps": [{{"id": "one", "command": "touch one.txt"}}, {{"id": "two", "command": "touch two.txt"}}]}}"#
        ),
    );
    t.run(&ws, "gate", 2).assert_ok();
    assert_eq!(t.out_lines("acceptance-runs").len(), 1);
    assert_eq!(
        t.step_status("gate", "w/_acceptance")["status"],
        "completed"
    );
}

#[test]
fn phases_order_their_steps_and_sibling_files_provide_dependencies() {
    let t = Test::new();
    t.workstream(
        "base.json",
        r#"{"id": "base", "command": "echo base > base.txt"}"#,
    );
    let order = t.out_path("order");
    let ws = t.workstream(
        "phased.json",
        &format!(
            r#"{{"id": "p", "depends_on": ["base"], "phases": [
                {{"id": "one", "steps": [{{"id": "x", "command": "test -f base.txt && echo x >> {order}"}}]}},
                {{"id": "two", "depends_on": ["one"], "steps": [{{"id": "y", "command": "echo y >> {order}"}}]}}]}}"#
        ),
    );
    t.run(&ws, "phases", 4).assert_ok();
    assert_eq!(t.out_lines("order"), vec!["x", "y"]);
    assert_eq!(t.step_status("phases", "base")["status"], "completed");
}

/// Steps that rename directories, change modes, turn a directory into a file, leave
/// ignored build output and symlinks, all through one reused worktree (`--jobs 1`).
/// Each step first checks with the real `git` that its worktree is exactly its start
/// commit (no leftovers, index right). Run once with the change feed (inotify: staging
/// and reset look at touched paths only) and once with `PIPELINE_CHANGE_FEED=0`
/// (walks): the result trees must be identical.
#[test]
fn change_feed_and_worktree_walks_give_the_same_results() {
    const CLEAN: &str =
        r#"test -z \"$(git status --porcelain --ignored --untracked-files=all)\" && "#;
    let steps = [
        (
            r#""id": "s1""#,
            "mkdir -p gen/a && echo 1 > gen/a/one.txt && echo log > gen/a/debug.log",
        ),
        (
            r#""id": "s2", "depends_on": ["s1"]"#,
            "mv gen/a gen/b && chmod +x gen/b/one.txt && mkdir -p build && echo x > build/out",
        ),
        (
            r#""id": "s3""#,
            "rm keep.txt && echo s3 > s3.txt && mkdir -p build/deep && echo y > build/deep/o",
        ),
        (
            r#""id": "s4", "depends_on": ["s2", "s3"]"#,
            "rm -rf tofile && echo now-a-file > tofile && ln -s gen/b/one.txt link",
        ),
        (
            r#""id": "s5", "depends_on": ["s4"]"#,
            "test ! -e build && test ! -e gen/b/debug.log && test -L link && test -x gen/b/one.txt && cat tofile link > s5.txt",
        ),
        (
            r#""id": "s6""#,
            "mkdir tofile2 && echo z > tofile2/z && git add tofile2 && echo staged-by-tool > tool.txt",
        ),
    ];
    let json = format!(
        "[{}]",
        steps
            .iter()
            .map(|(head, command)| format!(r#"{{{head}, "command": "{CLEAN}{command}"}}"#))
            .collect::<Vec<_>>()
            .join(",\n")
    );
    let mut trees = Vec::new();
    for feed in ["1", "0"] {
        let t = Test::new();
        t.commit_file(".gitignore", "*.log\nbuild/\n");
        t.commit_file("keep.txt", "keep\n");
        t.commit_file("tofile/x.txt", "x\n");
        let ws = t.workstream("ws.json", &json);
        let run = t
            .cmd()
            .env("PIPELINE_CHANGE_FEED", feed)
            .args([
                "run",
                ws.to_str().unwrap(),
                "--run-id",
                "feed",
                "--jobs",
                "1",
            ])
            .output()
            .expect("pipeline runs");
        assert!(
            run.status.success(),
            "feed={feed}: {}\n{}",
            String::from_utf8_lossy(&run.stdout),
            String::from_utf8_lossy(&run.stderr)
        );
        assert_eq!(
            t.show("pipeline/feed", "s5.txt").as_deref(),
            Some("now-a-file\n1\n")
        );
        assert_eq!(t.show("pipeline/feed", "keep.txt"), None);
        assert!(t.show("pipeline/feed", "build/out").is_none());
        trees.push(t.git(&["rev-parse", "pipeline/feed^{tree}"]));
        let listing = t.git(&["ls-tree", "-r", "pipeline/feed"]);
        assert!(
            listing.contains("100755 blob") && listing.contains("gen/b/one.txt"),
            "{listing}"
        );
        assert!(
            listing.contains("120000 blob") && listing.contains("\tlink"),
            "{listing}"
        );
        assert!(
            listing.contains("\ttofile2/z") && listing.contains("\ttool.txt"),
            "{listing}"
        );
    }
    assert_eq!(
        trees[0], trees[1],
        "the change feed changes nothing in the results"
    );
}
