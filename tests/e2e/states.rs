//! States are always true: a run that has ended keeps no live step (also when a state
//! write failed mid-step or the driving process died), a step removed from the workstream
//! before resume is recorded `cancelled` with the reason, and no worktree of a run is
//! left once it is over, crashed or not (only failed steps' worktrees are kept).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::mpsc;

use serde_json::Value;

use crate::handshake::{LIMIT, await_file, wait_for_file};
use crate::support::{Test, step_state};

/// Statuses a step of a run that has ended must never have.
const LIVE: [&str; 4] = ["running", "validating", "retrying", "waiting"];

fn live_steps(status: &Value) -> Vec<String> {
    status["steps"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|s| LIVE.contains(&s["status"].as_str().unwrap_or("")))
        .map(|s| format!("{} {}", s["id"], s["status"]))
        .collect()
}

/// Linked worktrees of the repository (`git worktree list`, the main one left out).
fn linked_worktrees(t: &Test) -> Vec<String> {
    let main = std::fs::canonicalize(&t.repo).expect("canonical repo");
    t.git(&["worktree", "list", "--porcelain"])
        .lines()
        .filter_map(|l| l.strip_prefix("worktree "))
        .filter(|p| std::fs::canonicalize(p).map_or(true, |p| p != main))
        .map(str::to_string)
        .collect()
}

fn run_root(t: &Test, run: &str) -> std::path::PathBuf {
    t.repo.join(".pipeline/worktrees").join(run)
}

fn spawn_run(t: &Test, file: &Path, run: &str) -> Child {
    t.spawn(&[
        "run",
        file.to_str().expect("utf-8 path"),
        "--run-id",
        run,
        "--jobs",
        "3",
    ])
}

/// A transient lock of the state database mid-step (held past the busy timeout, so the
/// step's next write fails): the run stops (exit 2, naming the lock), recorded `interrupted` with
/// every live step settled to `interrupted` (none left `running`), and it resumes to
/// completion with no worktree left behind.
#[test]
fn a_state_write_failing_mid_step_leaves_no_live_step() {
    let t = Test::new();
    let started = t.out_path("started");
    let release = t.out_path("release");
    let later = t.out_path("later");
    // `hold` ends while the database is locked; `other` is still at work when the run
    // stops (its tool is stopped, it is not the one whose write failed).
    let ws = t.workstream(
        "ws.json",
        &format!(
            r#"[{{"id": "hold", "command": "touch {started}; {}; echo held > held.txt"}},
                {{"id": "other", "command": "{}; echo other > other.txt"}}]"#,
            await_file(&release),
            await_file(&later),
        ),
    );
    let mut child = t
        .process(&[
            "run",
            ws.to_str().unwrap(),
            "--run-id",
            "locked",
            "--jobs",
            "2",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn pipeline");
    // Its stderr, line by line, for the handshake on the failed write.
    let (lines_tx, lines) = mpsc::channel::<String>();
    let stderr = child.stderr.take().expect("piped stderr");
    let reader = std::thread::spawn(move || {
        let mut all = Vec::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = lines_tx.send(line.clone());
            all.push(line);
        }
        all
    });
    wait_for_file(Path::new(&started));
    t.wait_for_status("locked", "both steps running", |v| {
        step_state(v, "hold") == "running" && step_state(v, "other") == "running"
    });

    // Another connection takes the write lock; the steps then finish and their next
    // writes wait for it past the busy timeout and fail.
    let db = rusqlite::Connection::open(t.repo.join(".pipeline/state.db")).expect("open db");
    db.execute_batch("BEGIN IMMEDIATE")
        .expect("take the write lock");
    std::fs::write(&release, "go").unwrap();
    let deadline = std::time::Instant::now() + LIMIT;
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) if line.contains("cannot record the state of run locked") => break,
            Ok(_) => {}
            Err(e) => panic!("pipeline never reported the failed state write: {e}"),
        }
    }
    // The lock was transient: the driver's final write gets through.
    db.execute_batch("ROLLBACK")
        .expect("release the write lock");
    let code = child.wait().expect("pipeline ends").code();
    let stderr = reader.join().expect("stderr reader").join("\n");
    // A database locked by another process is an error the user can act on: exit 2.
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("stayed locked by another process"),
        "{stderr}"
    );

    let status = t.status("locked");
    assert_eq!(status["status"], "interrupted", "{status:#}");
    assert!(live_steps(&status).is_empty(), "{status:#}");
    let hold = t.step_status("locked", "hold");
    assert_eq!(hold["status"], "interrupted", "{hold:#}");
    assert!(
        hold["error"]
            .as_str()
            .is_some_and(|e| e.contains("a state write failed")),
        "{hold:#}"
    );
    assert!(
        !t.events("locked", "hold", "step_interrupted").is_empty(),
        "settling is journalled"
    );

    assert_eq!(t.step_status("locked", "other")["status"], "interrupted");

    // The run resumes to completion, and nothing of it stays on disk.
    std::fs::write(&later, "go").unwrap();
    t.pipeline(&["resume", "locked"]).assert_ok();
    let status = t.status("locked");
    assert_eq!(status["status"], "completed", "{status:#}");
    assert!(live_steps(&status).is_empty(), "{status:#}");
    assert_eq!(
        t.show("pipeline/locked", "held.txt").as_deref(),
        Some("held\n")
    );
    assert_eq!(linked_worktrees(&t), Vec::<String>::new());
    assert!(!run_root(&t, "locked").exists());
}

/// `kill -9` mid-run, then the step is removed from the workstream file: the killed
/// run's live steps are recorded truthfully (`running`, resumable), resume records the
/// removed step `cancelled` with the reason (journalled as `step_cancelled`), completes
/// the rest, and leaves no worktree of the run: neither the removed step's, nor the
/// idle pool of the killed process.
#[test]
fn a_step_removed_before_resume_is_cancelled_and_no_worktree_stays() {
    let t = Test::new();
    let release = t.out_path("release");
    let hold = await_file(&release);
    let steps = |with_gone: bool| {
        let gone = if with_gone {
            format!(r#", {{"id": "gone", "command": "echo g > gone.txt; {hold}"}}"#)
        } else {
            String::new()
        };
        format!(
            r#"[{{"id": "a", "command": "echo a > a.txt"}},
                {{"id": "b", "command": "echo b > b.txt"}},
                {{"id": "slow", "depends_on": ["a"], "command": "echo s > slow.txt; {hold}"}}{gone}]"#
        )
    };
    let ws = t.workstream("ws.json", &steps(true));
    let mut child = spawn_run(&t, &ws, "removed");
    let before = t.wait_for_status("removed", "a and b completed, slow and gone running", |v| {
        step_state(v, "a") == "completed"
            && step_state(v, "b") == "completed"
            && step_state(v, "slow") == "running"
            && step_state(v, "gone") == "running"
    });
    child.kill().expect("SIGKILL pipeline");
    child.wait().unwrap();
    assert_eq!(before["status"], "running");
    let linked = linked_worktrees(&t);
    assert!(
        linked.len() >= 3,
        "the killed run left its worktrees (idle and in use): {linked:?}"
    );

    t.workstream("ws.json", &steps(false));
    std::fs::write(&release, "go").unwrap();
    t.pipeline(&["resume", "removed"]).assert_ok();

    let status = t.status("removed");
    assert_eq!(status["status"], "completed", "{status:#}");
    assert!(live_steps(&status).is_empty(), "{status:#}");
    let gone = t.step_status("removed", "gone");
    assert_eq!(gone["status"], "cancelled", "{gone:#}");
    assert_eq!(
        gone["error"], "removed from the workstream file",
        "{gone:#}"
    );
    let cancelled = t.events("removed", "gone", "step_cancelled");
    assert_eq!(cancelled.len(), 1);
    assert_eq!(cancelled[0]["reason"], "removed from the workstream file");
    assert_eq!(t.step_status("removed", "slow")["status"], "completed");
    assert_eq!(t.show("pipeline/removed", "gone.txt"), None);
    assert!(t.show("pipeline/removed", "slow.txt").is_some());

    assert_eq!(linked_worktrees(&t), Vec::<String>::new());
    assert!(!run_root(&t, "removed").exists());
}

/// A failed step's worktree is kept for inspection (and only it: the other steps'
/// worktrees and the idle pool go); once the step completes on resume, it goes too.
#[test]
fn only_failed_steps_keep_their_worktree_until_they_complete() {
    let t = Test::new();
    let fixed = t.out_path("fixed");
    let ws = t.workstream(
        "ws.json",
        &format!(
            r#"[{{"id": "ok1", "command": "echo 1 > ok1.txt"}},
                {{"id": "ok2", "command": "echo 2 > ok2.txt"}},
                {{"id": "flaky", "command": "echo f > flaky.txt; test -e {fixed}", "retry": {{"max_attempts": 1}}}}]"#
        ),
    );
    let r = t.run(&ws, "kept", 3);
    assert_eq!(r.code(), 1, "{}", r.stderr());
    let flaky = t.step_status("kept", "flaky");
    assert_eq!(flaky["status"], "failed");
    let kept = flaky["worktree"]
        .as_str()
        .expect("worktree recorded")
        .to_string();
    assert!(Path::new(&kept).join("flaky.txt").is_file(), "kept: {kept}");
    assert_eq!(
        linked_worktrees(&t)
            .iter()
            .map(|p| std::fs::canonicalize(p).unwrap())
            .collect::<Vec<_>>(),
        [std::fs::canonicalize(&kept).unwrap()],
        "only the failed step's worktree stays"
    );
    assert!(!run_root(&t, "kept").join(".pool").exists());

    std::fs::write(&fixed, "yes").unwrap();
    t.pipeline(&["resume", "kept"]).assert_ok();
    assert_eq!(t.status("kept")["status"], "completed");
    assert_eq!(linked_worktrees(&t), Vec::<String>::new());
    assert!(!run_root(&t, "kept").exists());
}
