//! Signals (issue #10, point 5): SIGTERM and SIGHUP stop a run as Ctrl-C does (exit 143
//! and 129, the tool's process group gone, the step `interrupted`, the run resumable),
//! and a closed stdout (`pipeline run --json ... | head -1`) stops the output, not the
//! run.

use std::io::{BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, Stdio};

use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;

use crate::handshake::{await_file, wait_for_file, wait_until};
use crate::support::{Test, step_state};

/// Runs a step that records its process group and holds until released, stops
/// `pipeline` with `signal`, and checks the exit code, that the tool's process group is
/// gone, what `status` says, and that the run resumes to completion.
fn stop_and_resume(signal: Signal, code: i32) {
    let t = Test::new();
    let release = t.out_path("release");
    let pgid_file = t.out.join("pgid");
    let hold = await_file(&release);
    let ws = t.workstream(
        "ws.json",
        &format!(
            r#"[{{"id": "quick", "command": "echo q > q.txt"}},
                {{"id": "wait", "command": "echo $$ > {pgid}.tmp; mv {pgid}.tmp {pgid}; {hold}; echo w > w.txt"}}]"#,
            pgid = pgid_file.display()
        ),
    );
    let mut child: Child = t.spawn(&[
        "run",
        ws.to_str().unwrap(),
        "--run-id",
        "sig",
        "--jobs",
        "2",
    ]);
    t.wait_for_status("sig", "wait step running", |v| {
        step_state(v, "wait") == "running" && step_state(v, "quick") == "completed"
    });
    wait_for_file(&pgid_file);
    let pgid: i32 = std::fs::read_to_string(&pgid_file)
        .unwrap()
        .trim()
        .parse()
        .expect("a process group id");
    assert!(killpg(Pid::from_raw(pgid), None).is_ok(), "the tool runs");

    kill(Pid::from_raw(child.id() as i32), signal).expect("signal pipeline");
    let status = child.wait().expect("wait for pipeline");
    assert_eq!(
        status.code(),
        Some(code),
        "{signal} exits {code}: {status:?}"
    );
    // The tool's whole process group was terminated: nothing waits for the release.
    wait_until(&format!("process group {pgid} to be gone"), || {
        killpg(Pid::from_raw(pgid), None).is_err().then_some(())
    });
    let v = t.status("sig");
    assert_eq!(v["status"], "interrupted", "{v:#}");
    assert_eq!(step_state(&v, "wait"), "interrupted", "{v:#}");
    assert_eq!(step_state(&v, "quick"), "completed", "{v:#}");

    std::fs::write(&release, "go").unwrap();
    t.pipeline(&["resume", "sig"]).assert_ok();
    assert_eq!(t.status("sig")["status"], "completed");
    assert!(t.show("pipeline/sig", "w.txt").is_some());
    assert!(t.show("pipeline/sig", "q.txt").is_some());
}

#[test]
fn sigterm_interrupts_with_143_stops_the_tools_and_the_run_resumes() {
    stop_and_resume(Signal::SIGTERM, 143);
}

#[test]
fn sighup_interrupts_with_129_stops_the_tools_and_the_run_resumes() {
    stop_and_resume(Signal::SIGHUP, 129);
}

#[test]
fn a_closed_stdout_stops_the_output_but_not_the_run() {
    let t = Test::new();
    let release = t.out_path("release");
    let sigign = t.out_path("sigign");
    let hold = await_file(&release);
    let ws = t.workstream(
        "ws.json",
        &format!(
            r#"[{{"id": "hold", "command": "{hold}; echo h > h.txt"}},
                {{"id": "after", "depends_on": ["hold"], "command": "grep SigIgn /proc/self/status > {sigign}; echo a > a.txt"}}]"#
        ),
    );
    // `pipeline run --json ... | head -1`: read one line, then close the pipe.
    let mut child = t
        .process(&["run", ws.to_str().unwrap(), "--run-id", "pipe", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn pipeline");
    let mut first = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut first)
        .expect("read a line");
    assert!(first.contains("\"run_started\""), "{first}");
    // The reader is gone (dropped above); the run writes more events after this.
    t.wait_for_status("pipe", "hold running", |v| {
        step_state(v, "hold") == "running"
    });
    std::fs::write(&release, "go").unwrap();
    let status = child.wait().expect("wait for pipeline");
    assert_eq!(status.code(), Some(0), "{status:?}");
    let v = t.status("pipe");
    assert_eq!(v["status"], "completed", "{v:#}");
    assert_eq!(step_state(&v, "after"), "completed", "{v:#}");
    assert!(t.show("pipeline/pipe", "a.txt").is_some());
    assert!(t.show("pipeline/pipe", "h.txt").is_some());
    // Tools do not inherit the ignored SIGPIPE (bit 13 - 1 of the SigIgn mask).
    let line = std::fs::read_to_string(&sigign).unwrap();
    let mask = u64::from_str_radix(line.trim().trim_start_matches("SigIgn:").trim(), 16)
        .unwrap_or_else(|_| panic!("a signal mask in {line:?}"));
    assert_eq!(mask & (1 << 12), 0, "SIGPIPE ignored in a tool: {line}");

    // Other commands end quietly when their reader goes away (`pipeline status | head`):
    // killed by SIGPIPE like `git log | head`, or done, never a panic.
    let mut status = t
        .process(&["status", "pipe", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn pipeline status");
    drop(status.stdout.take());
    let out = status.wait_with_output().expect("wait for pipeline status");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.signal() == Some(Signal::SIGPIPE as i32) || out.status.code() == Some(0),
        "{:?}: {stderr}",
        out.status
    );
    assert!(stderr.is_empty(), "{stderr}");
}
