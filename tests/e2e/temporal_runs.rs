//! Temporal runs in the state database (issue #16, docs/TEMPORAL.md "Runs in the state
//! database"): `status`, `runs`, `--json`, `resume`, `cancel` and `logs` read a Temporal
//! run like a local one, from the submitting clone and from another clone that only
//! knows the server.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::support::{Test, git_in};
use crate::temporal::{Cluster, HeldStep, counted_step, runs_of};
use crate::temporal_support::wait_until;

/// `pipeline ARGS` run in `dir` (another clone than the test's repository).
fn pipeline_in(t: &Test, dir: &Path, args: &[&str]) -> Output {
    Command::new(assert_cmd::cargo::cargo_bin("pipeline"))
        .args(args)
        .current_dir(dir)
        .env_remove("RUST_LOG")
        .env_remove("PIPELINE_TEMPORAL_ADDRESS")
        .env("PIPELINE_WRITABLE_PATHS", &t.out)
        .output()
        .expect("pipeline runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `pipeline status RUN --json ARGS` in `dir`, parsed.
fn status_in(t: &Test, dir: &Path, run: &str, extra: &[&str]) -> Value {
    let mut args = vec!["status", run, "--json"];
    args.extend_from_slice(extra);
    let out = pipeline_in(t, dir, &args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "status: {}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("status --json is JSON")
}

fn step_of<'a>(status: &'a Value, id: &str) -> &'a str {
    status["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .find(|s| s["id"] == id)
        .and_then(|s| s["status"].as_str())
        .unwrap_or_else(|| panic!("no step {id} in {status:#}"))
}

#[test]
fn json_status_and_runs_read_a_temporal_run_like_a_local_one() {
    let Some(mut c) = Cluster::new() else { return };
    let json = format!(
        r#"{{"id": "j", "steps": [
            {ok},
            {{"id": "bad", "command": "echo broken >&2; exit 3"}},
            {child}
        ]}}"#,
        ok = counted_step(&c.t, "ok", &[], "ok.txt", ""),
        child = counted_step(&c.t, "child", &["bad"], "child.txt", ""),
    );
    let ws = c.workstream("json.json", &json);
    // Webhook and notify subscriptions get a Temporal run's events as a local run's.
    c.t.config(&format!(
        "notify:\n  - command: echo \"$PIPELINE_EVENT_KIND\" >> {}\n    events: [run_finished, step_failed]\n",
        c.t.out_path("notified")
    ));
    c.worker("clone-alpha", &["--jobs", "2"]);
    let r = c.submit(&ws, "tj", &["--json"]);
    assert_eq!(
        r.code(),
        1,
        "stdout:\n{}\nstderr:\n{}",
        r.stdout(),
        r.stderr()
    );

    // --json: the journal entries as NDJSON, as a local run prints them.
    let entries: Vec<Value> = r
        .stdout()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect();
    let kinds: Vec<&str> = entries.iter().filter_map(|e| e["event"].as_str()).collect();
    assert!(kinds.contains(&"attempt_started"), "{kinds:?}");
    assert!(kinds.contains(&"step_completed"), "{kinds:?}");
    assert!(kinds.contains(&"step_failed"), "{kinds:?}");
    assert!(kinds.contains(&"step_skipped"), "{kinds:?}");
    assert_eq!(kinds.last(), Some(&"run_finished"), "{kinds:?}");
    assert!(entries.iter().all(|e| e["run_id"] == "tj"));

    let notified = c.t.out_lines("notified");
    assert!(
        notified.contains(&"step_failed".to_string()),
        "{notified:?}"
    );
    assert!(
        notified.contains(&"run_finished".to_string()),
        "{notified:?}"
    );

    // The journal's run_started names the workflow.
    assert_eq!(kinds.first(), Some(&"run_started"), "{kinds:?}");
    let started = &entries[0];
    assert_eq!(started["engine"]["kind"], "temporal", "{started:#}");
    assert_eq!(started["engine"]["workflow_id"], "pipeline-run/tj");
    assert_eq!(started["engine"]["address"], c.server.address.as_str());

    let status = c.t.status("tj");
    assert_eq!(status["status"], "failed", "{status:#}");
    assert_eq!(step_of(&status, "j/ok"), "completed");
    assert_eq!(step_of(&status, "j/bad"), "failed");
    assert_eq!(step_of(&status, "j/child"), "skipped");
    let bad = status["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == "j/bad")
        .unwrap();
    assert!(
        bad["error"].as_str().unwrap_or("").contains("broken"),
        "the failure's output reaches status: {bad:#}"
    );

    // logs: the record the step's worker pushed to the remote.
    let log = c.t.pipeline(&["logs", "tj", "j/bad"]).assert_ok().stdout();
    assert!(
        log.contains("refs/pipeline-logs/tj/j/bad:output.log"),
        "{log}"
    );
    assert!(log.contains("broken"), "the step's output: {log}");
    let paths =
        c.t.pipeline(&["logs", "tj", "j/ok", "--paths"])
            .assert_ok()
            .stdout();
    assert!(
        paths.contains("refs/pipeline-logs/tj/j/ok:output.log"),
        "{paths}"
    );
    let unknown = c.t.pipeline(&["logs", "tj", "j/nope"]);
    assert_eq!(unknown.code(), 2, "{}", unknown.stderr());
    assert!(
        unknown.stderr().contains("j/ok, j/bad, j/child"),
        "{}",
        unknown.stderr()
    );
    let never_ran = c.t.pipeline(&["logs", "tj", "j/child"]);
    assert_eq!(never_ran.code(), 2, "{}", never_ran.stderr());
    assert!(
        never_ran.stderr().contains("skipped"),
        "{}",
        never_ran.stderr()
    );

    let text_status = c.t.pipeline(&["status", "tj"]).assert_ok().stdout();
    assert!(text_status.contains("Run tj  failed"), "{text_status}");
    let runs: Value = serde_json::from_str(&c.t.pipeline(&["runs", "--json"]).assert_ok().stdout())
        .expect("runs --json");
    let run = runs
        .as_array()
        .expect("runs")
        .iter()
        .find(|r| r["run_id"] == "tj")
        .unwrap_or_else(|| panic!("tj in {runs:#}"));
    assert_eq!(run["status"], "failed", "{run:#}");
}

#[test]
fn after_the_submitter_dies_another_clone_sees_the_run_and_resume_attaches_to_it() {
    let Some(mut c) = Cluster::new() else { return };
    let wait = HeldStep::new(&c.t, "wait", &[]);
    let json = format!(
        r#"{{"id": "s", "steps": [{wait}, {after}]}}"#,
        wait = wait.json,
        after = counted_step(&c.t, "after", &["wait"], "after.txt", ""),
    );
    let ws = c.workstream("attach.json", &json);
    c.worker("clone-alpha", &[]);
    let mut submitter = c.spawn_submit(&ws, "ta", &[]);
    wait.wait_started();
    submitter.kill();

    // The submitting clone: recorded running, nothing follows it; status reads the
    // workflow.
    let status = c.t.status("ta");
    assert_eq!(status["status"], "running", "{status:#}");
    assert_eq!(status["driver"], "gone", "{status:#}");
    assert_eq!(step_of(&status, "s/wait"), "running");
    assert_eq!(step_of(&status, "s/after"), "pending");

    // Another clone, with no state database: found on the server, recorded there.
    let observer = c.clone("observer");
    let unknown = pipeline_in(&c.t, &observer, &["status", "ta", "--json"]);
    assert_eq!(unknown.status.code(), Some(2), "{}", text(&unknown.stderr));
    assert!(
        text(&unknown.stderr).contains("no run"),
        "{}",
        text(&unknown.stderr)
    );
    let seen = status_in(&c.t, &observer, "ta", &["--temporal", &c.server.address]);
    assert_eq!(step_of(&seen, "s/wait"), "running", "{seen:#}");
    assert_eq!(seen["base_commit"], status["base_commit"]);

    // `resume` in the observer attaches (no --temporal needed any more: it is recorded).
    let resume = Command::new(assert_cmd::cargo::cargo_bin("pipeline"))
        .args(["resume", "ta"])
        .current_dir(&observer)
        .env_remove("PIPELINE_TEMPORAL_ADDRESS")
        .env("PIPELINE_WRITABLE_PATHS", &c.t.out)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("resume starts");
    wait_until("resume to follow the run", Duration::from_secs(60), || {
        status_in(&c.t, &observer, "ta", &[])["driver"] == "live"
    });
    wait.release();
    let out = resume.wait_with_output().expect("resume ends");
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout:\n{}\nstderr:\n{}\nworkers:\n{}",
        text(&out.stdout),
        text(&out.stderr),
        c.worker_logs()
    );
    assert!(
        text(&out.stdout).contains("step s/after: completed"),
        "{}",
        text(&out.stdout)
    );
    assert!(text(&out.stdout).contains("run ta completed"));
    assert_eq!(runs_of(&c.t, "after").len(), 1, "no step ran twice");
    // The result branch is fetched into the clone that attached.
    assert_eq!(
        git_in(&observer, &["rev-parse", "pipeline/ta^{tree}"]),
        c.remote_result_tree("ta")
    );
    let seen = status_in(&c.t, &observer, "ta", &[]);
    assert_eq!(seen["status"], "completed", "{seen:#}");
    let log = pipeline_in(&c.t, &observer, &["logs", "ta", "s/wait"]);
    assert_eq!(log.status.code(), Some(0), "{}", text(&log.stderr));
    assert!(
        text(&log.stdout).contains("output.log"),
        "{}",
        text(&log.stdout)
    );
    assert_eq!(seen["driver"], Value::Null);

    // The submitting clone catches up from the ended workflow.
    let status = c.t.status("ta");
    assert_eq!(status["status"], "completed", "{status:#}");
    assert_eq!(step_of(&status, "s/after"), "completed");
}

#[test]
fn pipeline_cancel_from_another_clone_cancels_the_workflow_and_its_running_step() {
    let Some(mut c) = Cluster::new() else { return };
    let hang = HeldStep::new(&c.t, "hang", &[]);
    let json = format!(
        r#"{{"id": "x", "steps": [{hang}, {after}]}}"#,
        hang = hang.json,
        after = counted_step(&c.t, "after", &["hang"], "after.txt", ""),
    );
    let ws = c.workstream("cancel.json", &json);
    c.worker("clone-alpha", &[]);
    let submitter = c.spawn_submit(&ws, "tc", &[]);
    hang.wait_started();
    let observer = c.clone("observer");
    let cancel = pipeline_in(
        &c.t,
        &observer,
        &["cancel", "tc", "--temporal", &c.server.address],
    );
    assert_eq!(
        cancel.status.code(),
        Some(0),
        "{}\n{}",
        text(&cancel.stdout),
        text(&cancel.stderr)
    );
    assert!(text(&cancel.stdout).contains("cancellation requested"));
    let (code, stdout) = submitter.finish();
    assert_eq!(code, 130, "{stdout}");
    assert!(stdout.contains("step x/hang: cancelled"), "{stdout}");
    assert!(runs_of(&c.t, "after").is_empty());
    let left = Command::new("pgrep")
        .args(["-f", &hang.release])
        .output()
        .expect("pgrep runs");
    assert!(
        text(&left.stdout).trim().is_empty(),
        "the step's process still runs"
    );

    let status = c.t.status("tc");
    assert_eq!(status["status"], "failed", "{status:#}");
    assert_eq!(step_of(&status, "x/hang"), "cancelled");
    assert_eq!(step_of(&status, "x/after"), "cancelled");

    // Cancelling it again: it has ended.
    let again = c.t.pipeline(&["cancel", "tc"]);
    assert_eq!(again.code(), 2, "{}", again.stderr());
}

#[test]
fn pipeline_cancel_stops_a_local_run_like_ctrl_c_and_resume_continues_it() {
    let t = Test::new();
    let slow = HeldStep::new(&t, "slow", &[]);
    let ws = t.workstream(
        "local.json",
        &format!(r#"{{"id": "l", "steps": [{}]}}"#, slow.json),
    );
    let ws = ws.to_str().expect("utf-8").to_string();
    let mut driver = t.spawn(&["run", &ws, "--run-id", "lc"]);
    slow.wait_started();
    let r = t.pipeline(&["cancel", "lc"]).assert_ok();
    assert!(r.stdout().contains("sent SIGINT"), "{}", r.stdout());
    let code = driver.wait().expect("driver ends").code();
    assert_eq!(code, Some(130));
    assert_eq!(t.status("lc")["status"], "interrupted");
    // Nothing drives it now: cancel says so.
    let again = t.pipeline(&["cancel", "lc"]);
    assert_eq!(again.code(), 2, "{}", again.stderr());
    assert!(
        again.stderr().contains("nothing to cancel"),
        "{}",
        again.stderr()
    );
    slow.release();
    t.pipeline(&["resume", "lc"]).assert_ok();
    assert_eq!(t.status("lc")["status"], "completed");
}

#[test]
fn status_of_a_run_the_server_does_not_know_is_an_input_error_naming_the_workflow() {
    let Some(c) = Cluster::new() else { return };
    let r =
        c.t.pipeline(&["status", "nosuch", "--temporal", &c.server.address]);
    assert_eq!(r.code(), 2, "{}", r.stderr());
    assert!(
        r.stderr().contains("no workflow pipeline-run/nosuch"),
        "{}",
        r.stderr()
    );
}

#[test]
fn the_apis_cancel_stops_a_temporal_run_that_no_process_follows() {
    let Some(mut c) = Cluster::new() else { return };
    let hang = HeldStep::new(&c.t, "hang", &[]);
    let json = format!(r#"{{"id": "x", "steps": [{}]}}"#, hang.json);
    let ws = c.workstream("api-cancel.json", &json);
    c.worker("clone-alpha", &[]);
    let mut submitter = c.spawn_submit(&ws, "tk", &[]);
    hang.wait_started();
    submitter.kill();

    let served = crate::api_fuzz::Served::start(&c.t, None);
    let response = reqwest::blocking::Client::new()
        .post(format!("{}/api/runs/tk/cancel", served.base))
        .json(&serde_json::json!({}))
        .send()
        .expect("POST cancel");
    assert_eq!(response.status().as_u16(), 202, "{:?}", response.text());
    // The workflow ends once the worker stopped the step; status reads it.
    let status = c.t.wait_for_status("tk", "the run to end cancelled", |s| {
        s["status"] == "failed"
    });
    assert_eq!(step_of(&status, "x/hang"), "cancelled", "{status:#}");
    let left = Command::new("pgrep")
        .args(["-f", &hang.release])
        .output()
        .expect("pgrep runs");
    assert!(
        text(&left.stdout).trim().is_empty(),
        "the step's process still runs"
    );
}

#[test]
fn a_step_using_a_tool_runs_only_on_the_workers_where_the_tool_is_installed() {
    let Some(mut c) = Cluster::new() else { return };
    // The tool `stamp` is the command `stamp-tool`, installed (on PATH) only where the
    // worker of clone-alpha runs.
    let bin = c.scratch.path().join("bin-alpha");
    std::fs::create_dir_all(&bin).expect("bin dir");
    let tool = bin.join("stamp-tool");
    std::fs::write(
        &tool,
        format!(
            "#!/bin/sh\n[ \"$1\" = --version ] && {{ echo stamp-tool 1.0; exit 0; }}\n\
             pwd >> {runs}\necho stamped > \"stamp-$$.txt\"\n",
            runs = c.t.out_path("stamp.runs")
        ),
    )
    .expect("write tool");
    std::process::Command::new("chmod")
        .args(["+x", tool.to_str().expect("utf-8")])
        .status()
        .expect("chmod");
    c.t.config("tools:\n  stamp:\n    command: stamp-tool\n    args: [\"{prompt}\"]\n");
    c.t.git(&["add", "-f", ".pipeline/config.yaml"]);
    c.t.git(&["commit", "-q", "-m", "the stamp tool profile"]);
    let steps: Vec<String> = (1..=4)
        .map(|k| format!(r#"{{"id": "s{k}", "tool": "stamp", "tasks": ["stamp {k}"]}}"#))
        .collect();
    let ws = c.workstream(
        "tools.json",
        &format!(r#"{{"id": "tl", "steps": [{}]}}"#, steps.join(", ")),
    );
    let path = std::env::var("PATH").unwrap_or_default();
    let with_tool = std::path::PathBuf::from(format!("{}:{path}", bin.display()));
    for (name, extra_path) in [("clone-alpha", Some(&with_tool)), ("clone-beta", None)] {
        let clone = c.clone(name);
        let log = c.scratch.path().join(format!("{name}.log"));
        let mut env = vec![("PIPELINE_WRITABLE_PATHS", c.t.out.as_path())];
        if let Some(p) = extra_path {
            env.push(("PATH", p.as_path()));
        }
        let w = crate::temporal_support::WorkerProcess::start(
            &c.server.address,
            &clone,
            log,
            &["--jobs", "2"],
            &env,
        );
        c.workers.push(w);
    }
    let alpha_polls = |c: &Cluster| c.workers[0].output().contains("pipeline@tool:stamp");
    wait_until(
        "the workers to start polling",
        Duration::from_secs(60),
        || alpha_polls(&c) && c.workers[1].output().contains("polling pipeline"),
    );
    assert!(
        !c.workers[1].output().contains("@tool:stamp"),
        "a worker without the tool does not poll its queue: {}",
        c.workers[1].output()
    );
    let r = c.submit(&ws, "tt", &["--jobs", "4"]);
    assert_eq!(
        r.code(),
        0,
        "stdout:\n{}\nstderr:\n{}\nworkers:\n{}",
        r.stdout(),
        r.stderr(),
        c.worker_logs()
    );
    let ran = c.t.out_lines("stamp.runs");
    assert_eq!(ran.len(), 4, "{ran:?}");
    assert!(
        ran.iter().all(|p| p.contains("clone-alpha")),
        "every step of the tool ran where it is installed: {ran:?}"
    );
}
