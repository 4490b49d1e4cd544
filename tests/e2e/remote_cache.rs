//! The shared step cache through a git remote (`cache: {remote: NAME}`, docs/CACHE.md):
//! a fresh clone with its own empty state database takes the results another clone pushed
//! to a local bare repository, and a broken remote only warns. Steps count their runs in
//! marker files under the test's `out` directory, shared by both clones.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::support::{Test, git_in};

/// a -> b, and c on its own: shell steps counting their runs in `out/<id>.runs`.
fn chain(t: &Test, c_text: &str) -> String {
    let counted = |name: &str, then: &str| {
        format!(
            "echo run >> {} && {then}",
            t.out_path(&format!("{name}.runs"))
        )
    };
    format!(
        r#"{{"id": "w", "steps": [
            {{"id": "a", "command": "{}"}},
            {{"id": "b", "command": "{}", "depends_on": ["a"]}},
            {{"id": "c", "command": "{}"}}
        ]}}"#,
        counted("a", "echo A > a.txt"),
        counted("b", "cat a.txt > b.txt && echo B >> b.txt"),
        counted("c", &format!("echo {c_text} > c.txt")),
    )
}

fn runs(t: &Test, name: &str) -> usize {
    t.out_lines(&format!("{name}.runs")).len()
}

/// `pipeline ARGS` in `dir` (another clone), set up like the test's own repository.
fn pipeline_in(t: &Test, dir: &Path, args: &[&str]) -> crate::support::Run {
    let output = t
        .cmd()
        .current_dir(dir)
        .args(args)
        .output()
        .expect("pipeline runs");
    crate::support::Run { output }
}

fn json(run: crate::support::Run) -> Value {
    serde_json::from_str(&run.assert_ok().stdout()).expect("JSON output")
}

fn events_in(dir: &Path, run: &str, step: &str, kind: &str) -> i64 {
    let c = rusqlite::Connection::open(dir.join(".pipeline/state.db")).expect("open state db");
    c.query_row(
        "SELECT count(*) FROM events WHERE run_id = ?1 AND step_id = ?2 AND kind = ?3",
        [run, step, kind],
        |r| r.get(0),
    )
    .expect("count events")
}

fn write_config(dir: &Path, yaml: &str) {
    std::fs::create_dir_all(dir.join(".pipeline")).unwrap();
    std::fs::write(dir.join(".pipeline/config.yaml"), yaml).unwrap();
}

/// A bare repository next to the test's directories holding the test repository's `main`,
/// added to it as remote `shared`.
fn shared_remote(t: &Test) -> PathBuf {
    let root = t.out.parent().expect("the test's directory").to_path_buf();
    let bare = root.join("cache.git");
    git_in(&root, &["init", "-q", "--bare", bare.to_str().unwrap()]);
    t.git(&["remote", "add", "shared", bare.to_str().unwrap()]);
    t.git(&["push", "-q", "shared", "main"]);
    bare
}

#[test]
fn a_shared_cache_in_a_bare_remote_serves_a_fresh_clone() {
    let t = Test::new();
    let bare = shared_remote(&t);
    t.config("cache: {remote: shared}\n");
    let ws = t.workstream("ws.json", &chain(&t, "C"));
    t.run(&ws, "r1", 2).assert_ok();
    assert_eq!((runs(&t, "a"), runs(&t, "b"), runs(&t, "c")), (1, 1, 1));
    // One ref per completed step, its commit carrying the key's metadata as trailers and
    // the step's start commit as its parent.
    let refs = git_in(
        &bare,
        &[
            "for-each-ref",
            "--format=%(refname)",
            "refs/pipeline-cache/",
        ],
    );
    assert_eq!(refs.lines().count(), 3, "{refs}");
    let first = refs.lines().next().unwrap();
    let message = git_in(&bare, &["log", "-1", "--format=%B", first]);
    for trailer in [
        "Pipeline-Cache-Key: ",
        "Pipeline-Cache-Run: r1",
        "Pipeline-Cache-Step: w/",
        "Pipeline-Cache-Start: ",
        "Pipeline-Cache-Parts: {\"version\":1",
    ] {
        assert!(message.contains(trailer), "no {trailer} in {message}");
    }
    let key = first.trim_start_matches("refs/pipeline-cache/");
    assert!(message.contains(&format!("Pipeline-Cache-Key: {key}")));

    // A fresh clone of the remote, with its own (empty) state database.
    let clone = t.out.parent().unwrap().join("clone");
    git_in(
        t.out.parent().unwrap(),
        &[
            "clone",
            "-q",
            "-b",
            "main",
            "-o",
            "shared",
            bare.to_str().unwrap(),
            clone.to_str().unwrap(),
        ],
    );
    git_in(&clone, &["config", "user.name", "pipeline tests"]);
    git_in(&clone, &["config", "user.email", "tests@localhost"]);
    write_config(&clone, "cache: {remote: shared}\n");
    assert!(!clone.join(".pipeline/state.db").exists());
    pipeline_in(
        &t,
        &clone,
        &["run", ws.to_str().unwrap(), "--run-id", "r2", "--jobs", "2"],
    )
    .assert_ok();
    assert_eq!(
        (runs(&t, "a"), runs(&t, "b"), runs(&t, "c")),
        (1, 1, 1),
        "a step ran in the fresh clone"
    );
    for s in ["w/a", "w/b", "w/c"] {
        assert_eq!(
            events_in(&clone, "r2", s, "step_cached"),
            1,
            "{s} not cached"
        );
    }
    // The journal names the shared cache's remote of each hit.
    let c = rusqlite::Connection::open(clone.join(".pipeline/state.db")).expect("open state db");
    let remotes: Vec<String> = c
        .prepare("SELECT json_extract(data, '$.remote') FROM events WHERE run_id = 'r2' AND kind = 'step_cached'")
        .expect("query")
        .query_map([], |r| r.get(0))
        .expect("rows")
        .map(|r| r.expect("row"))
        .collect();
    assert_eq!(remotes, vec!["shared"; 3]);
    let tree =
        |dir: &Path, run: &str| git_in(dir, &["rev-parse", &format!("pipeline/{run}^{{tree}}")]);
    assert_eq!(tree(&clone, "r2"), tree(&t.repo, "r1"));
    let why = json(pipeline_in(&t, &clone, &["why", "r2", "w/b", "--json"]));
    assert_eq!(why["verdict"], "cached");
    assert_eq!(why["remote"], "shared");
    assert_eq!(why["from"], serde_json::json!({"run": "r1", "step": "w/b"}));
    let text = pipeline_in(&t, &clone, &["why", "r2", "w/b"])
        .assert_ok()
        .stdout();
    assert!(
        text.contains("taken from the shared cache (remote shared)"),
        "{text}"
    );
    // The remote's entries are listed and counted.
    let stats = json(pipeline_in(&t, &clone, &["cache", "stats", "--json"]));
    assert_eq!(stats["hits"], 3);
    assert_eq!(stats["remote"]["remote"], "shared");
    assert_eq!(stats["remote"]["entries"], 3);
    let list = json(pipeline_in(&t, &clone, &["cache", "list", "--json"]));
    assert_eq!(list["remote"]["keys"].as_array().map(Vec::len), Some(3));
    assert!(
        list["remote"]["keys"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k == key)
    );
    // The original clone, whose own entries hit first, shows the remote too.
    let text = t.pipeline(&["cache", "stats"]).assert_ok().stdout();
    assert!(
        text.contains("shared cache (remote shared): 3 entries"),
        "{text}"
    );
}

#[test]
fn a_broken_remote_only_warns() {
    let t = Test::new();
    t.git(&["remote", "add", "broken", "/nonexistent/pipeline-cache.git"]);
    t.config("cache: {remote: broken}\n");
    let ws = t.workstream("ws.json", &chain(&t, "C"));
    let r1 = t.run(&ws, "r1", 2).assert_ok();
    assert!(
        r1.stderr()
            .contains("not pushed to the shared cache (remote broken)"),
        "{}",
        r1.stderr()
    );
    assert_eq!(t.step_status("r1", "w/c")["status"], "completed");
    // c misses locally, so the remote is asked and fails: a warning, c runs.
    std::fs::write(&ws, chain(&t, "C2")).unwrap();
    let r2 = t.run(&ws, "r2", 2).assert_ok();
    assert!(
        r2.stderr()
            .contains("the shared cache (remote broken) could not be read"),
        "{}",
        r2.stderr()
    );
    assert_eq!((runs(&t, "a"), runs(&t, "c")), (1, 2));
    assert_eq!(t.show("pipeline/r2", "c.txt").as_deref(), Some("C2\n"));
    let stats = json(t.pipeline(&["cache", "stats", "--json"]));
    assert_eq!(stats["remote"]["entries"], 0);
    assert!(stats["remote"]["error"].as_str().is_some(), "{stats}");
    // A value that is no remote name is bad input: the run does not start.
    t.config("cache: {remote: \"-x\"}\n");
    t.run(&ws, "r3", 2)
        .assert_code(2)
        .assert_stderr_contains("not a git remote name");
}
