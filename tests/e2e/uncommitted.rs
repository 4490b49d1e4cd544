//! Uncommitted work: `pipeline run` warns about changes the run will not see, and
//! `--include-uncommitted` runs on them without touching the user's branch, index or
//! files; resume keeps the recorded base.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use crate::handshake::await_file;
use crate::support::{Test, step_state};

/// A checkout with each kind of change: a modified tracked file, a staged new file, an
/// untracked file in a new directory, a deleted tracked file, plus an ignored file and
/// the state directory, which do not count.
fn dirty_checkout(t: &Test) {
    t.commit_file(".gitignore", "*.log\n");
    t.commit_file("doomed.txt", "to be deleted\n");
    std::fs::write(t.repo.join("README.md"), "changed in the working tree\n").unwrap();
    std::fs::write(t.repo.join("staged.txt"), "staged\n").unwrap();
    t.git(&["add", "staged.txt"]);
    std::fs::create_dir_all(t.repo.join("new")).unwrap();
    std::fs::write(t.repo.join("new/untracked.txt"), "untracked\n").unwrap();
    std::fs::remove_file(t.repo.join("doomed.txt")).unwrap();
    std::fs::write(t.repo.join("debug.log"), "ignored\n").unwrap();
    std::fs::create_dir_all(t.repo.join(".pipeline")).unwrap();
    std::fs::write(t.repo.join(".pipeline/notes.txt"), "state dir\n").unwrap();
}

/// Every file of the working tree (`.git` and `.pipeline` left out) with its bytes.
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let rel = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            if rel == ".git" || rel == ".pipeline" {
                continue;
            }
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                out.insert(rel, std::fs::read(&path).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// What of the user's checkout must not change: HEAD, the branch, the index (its bytes
/// and `git diff --cached`), `git status`, and every file.
#[derive(Debug, PartialEq)]
struct Checkout {
    head: String,
    branch: String,
    index: Vec<u8>,
    cached: String,
    status: String,
    files: BTreeMap<String, Vec<u8>>,
}

fn checkout(t: &Test) -> Checkout {
    // `git status` may refresh and rewrite the index; this is a read that must not.
    let status = std::process::Command::new("git")
        .args(["status", "--porcelain", "--untracked-files=all"])
        .env("GIT_OPTIONAL_LOCKS", "0")
        .current_dir(&t.repo)
        .output()
        .expect("git status runs");
    assert!(status.status.success());
    Checkout {
        head: t.git(&["rev-parse", "HEAD"]),
        branch: t.git(&["symbolic-ref", "HEAD"]),
        cached: t.git(&["diff", "--cached"]),
        // `pipeline run` adds `.pipeline/` to `.git/info/exclude` (it always did).
        status: String::from_utf8_lossy(&status.stdout)
            .lines()
            .filter(|l| !l.contains(".pipeline/"))
            .collect::<Vec<_>>()
            .join("\n"),
        index: std::fs::read(t.repo.join(".git/index")).unwrap(),
        files: files(&t.repo),
    }
}

#[test]
fn run_warns_about_uncommitted_changes_it_will_not_see() {
    let t = Test::new();
    let ws = t.workstream("ws.json", r#"[{"id": "a", "command": "echo a > a.txt"}]"#);
    // A clean checkout: no warning.
    let r = t.run(&ws, "clean", 1).assert_ok();
    assert!(!r.stderr().contains("uncommitted"), "{}", r.stderr());

    dirty_checkout(&t);
    let r = t.run(&ws, "dirty", 1).assert_ok();
    let err = r.stderr();
    assert!(
        err.contains("warning: the repository has 4 uncommitted change(s) the run will not see"),
        "{err}"
    );
    assert!(err.contains("--include-uncommitted"), "{err}");
    for path in ["README.md", "staged.txt", "new/untracked.txt", "doomed.txt"] {
        assert!(err.contains(&format!("  {path}\n")), "{path} named: {err}");
    }
    for path in ["debug.log", ".pipeline", "notes.txt"] {
        assert!(!err.contains(path), "{path} not named: {err}");
    }
    // The run did not see them.
    assert_eq!(
        t.show("pipeline/dirty", "README.md").as_deref(),
        Some("test repository\n")
    );

    // More than 10: ten named, and the count.
    for i in 0..12 {
        std::fs::write(t.repo.join(format!("new/more-{i:02}.txt")), "x").unwrap();
    }
    let r = t.run(&ws, "many", 1).assert_ok();
    let err = r.stderr();
    assert!(err.contains("has 16 uncommitted change(s)"), "{err}");
    assert!(err.contains("  ... and 6 more"), "{err}");
    let named = err
        .lines()
        .skip_while(|l| !l.starts_with("warning:"))
        .skip(1)
        .take_while(|l| l.starts_with("  ") && !l.contains("..."))
        .count();
    assert_eq!(named, 10, "{err}");

    // --json: one NDJSON line before the journal, with the count and the first paths.
    let r = t
        .pipeline(&["run", ws.to_str().unwrap(), "--run-id", "json", "--json"])
        .assert_ok();
    let out = r.stdout();
    let first: Value = serde_json::from_str(out.lines().next().unwrap_or("")).unwrap();
    assert_eq!(first["event"], "warning", "{out}");
    assert_eq!(first["warning"], "uncommitted_changes");
    assert_eq!(first["count"], 16);
    assert_eq!(first["paths"].as_array().map(Vec::len), Some(10));
    assert_eq!(first["paths"][0], "README.md");
    let second: Value = serde_json::from_str(out.lines().nth(1).unwrap_or("")).unwrap();
    assert_eq!(second["event"], "run_started", "{out}");
}

#[test]
fn include_uncommitted_runs_on_the_working_tree_and_leaves_the_checkout_untouched() {
    let t = Test::new();
    dirty_checkout(&t);
    let seen = t.out_path("seen");
    let ws = t.workstream(
        "ws.json",
        &format!(
            r#"[{{"id": "look", "command": "cat README.md staged.txt new/untracked.txt > {seen}; ls > {seen}.ls; echo done > done.txt"}}]"#
        ),
    );
    let before = checkout(&t);
    let r = t
        .pipeline(&[
            "run",
            ws.to_str().unwrap(),
            "--run-id",
            "dirty",
            "--include-uncommitted",
        ])
        .assert_ok();
    assert!(!r.stderr().contains("warning"), "{}", r.stderr());
    assert_eq!(checkout(&t), before, "the user's checkout is untouched");

    // The step saw the uncommitted content, and not the ignored or deleted files.
    assert_eq!(
        std::fs::read_to_string(&seen).unwrap(),
        "changed in the working tree\nstaged\nuntracked\n"
    );
    let listed = std::fs::read_to_string(format!("{seen}.ls")).unwrap();
    assert!(!listed.contains("doomed.txt"), "{listed}");
    assert!(!listed.contains("debug.log"), "{listed}");

    // The recorded base is the snapshot: a child of HEAD holding the changes, and the
    // result branch is built on it.
    let status = t.status("dirty");
    let base = status["base_commit"]
        .as_str()
        .expect("base_commit")
        .to_string();
    assert_ne!(base, before.head);
    assert_eq!(t.git(&["rev-parse", &format!("{base}^")]), before.head);
    assert_eq!(
        t.git(&["show", &format!("{base}:README.md")]),
        "changed in the working tree"
    );
    assert_eq!(
        t.git(&["ls-tree", "-r", "--name-only", &base]),
        ".gitignore\nREADME.md\nnew/untracked.txt\nstaged.txt"
    );
    t.git(&["merge-base", "--is-ancestor", &base, "pipeline/dirty"]);
    assert_eq!(
        t.show("pipeline/dirty", "new/untracked.txt").as_deref(),
        Some("untracked\n")
    );
    assert_eq!(
        t.show("pipeline/dirty", "done.txt").as_deref(),
        Some("done\n")
    );
    let started = t.events_of_run("dirty", "run_started");
    assert_eq!(started[0]["base_commit"], base.as_str());
}

/// `kill -9` of a run on uncommitted changes, then more changes in the checkout: resume
/// runs on the recorded snapshot, not on a new one.
#[test]
fn resume_of_an_include_uncommitted_run_keeps_its_base() {
    let t = Test::new();
    std::fs::write(t.repo.join("data.txt"), "first\n").unwrap();
    let seen = t.out_path("seen");
    let release = t.out_path("release");
    let ws = t.workstream(
        "ws.json",
        &format!(
            r#"[{{"id": "hold", "command": "{}; cat data.txt >> {seen}; cp data.txt copy.txt"}}]"#,
            await_file(&release)
        ),
    );
    let mut child = t.spawn(&[
        "run",
        ws.to_str().unwrap(),
        "--run-id",
        "snap",
        "--include-uncommitted",
    ]);
    t.wait_for_status("snap", "hold running", |v| {
        step_state(v, "hold") == "running"
    });
    child.kill().expect("SIGKILL pipeline");
    child.wait().unwrap();
    let base = t.status("snap")["base_commit"]
        .as_str()
        .unwrap()
        .to_string();

    std::fs::write(t.repo.join("data.txt"), "second\n").unwrap();
    let mut resumed = t.spawn(&["resume", "snap"]);
    // Its second attempt runs once resume has stopped the first one's orphaned tool.
    t.wait_for_status("snap", "hold running again", |v| {
        v["steps"][0]["attempts"] == 2 && step_state(v, "hold") == "running"
    });
    std::fs::write(&release, "go").unwrap();
    assert_eq!(resumed.wait().unwrap().code(), Some(0));
    assert_eq!(t.status("snap")["base_commit"], base.as_str());
    assert_eq!(std::fs::read_to_string(&seen).unwrap(), "first\n");
    assert_eq!(
        t.show("pipeline/snap", "copy.txt").as_deref(),
        Some("first\n")
    );
    for started in t.events_of_run("snap", "run_started") {
        assert_eq!(started["base_commit"], base.as_str());
    }
    assert_eq!(
        std::fs::read_to_string(t.repo.join("data.txt")).unwrap(),
        "second\n"
    );
}

impl Test {
    /// Events of `kind` of `run` (any step or none), oldest first, from the database.
    fn events_of_run(&self, run: &str, kind: &str) -> Vec<Value> {
        let db = self.repo.join(".pipeline/state.db");
        let c = rusqlite::Connection::open(db).expect("open state db");
        let mut stmt = c
            .prepare("SELECT data FROM events WHERE run_id = ?1 AND kind = ?2 ORDER BY id")
            .unwrap();
        stmt.query_map([run, kind], |r| r.get::<_, String>(0))
            .unwrap()
            .map(|t| serde_json::from_str(&t.unwrap()).unwrap())
            .collect()
    }
}
