//! What a Temporal run decides from its steps' reports (issue #16, docs/TEMPORAL.md
//! "Semantics"): circuit breakers per tool shared by the whole cluster, the run's budget,
//! approval gates decided with `pipeline approve/reject --temporal`, and the step reports
//! and logs (`refs/pipeline-logs/<run>/<step>`) workers push. A real dev server, a bare
//! repository as the remote and two `pipeline worker` processes with their own clones, as
//! in `temporal.rs`, whose `Cluster` these tests extend. The workflow's `state` query is
//! read through `pipeline_temporal::control::query_state`, as JSON.

use std::path::Path;

use fake_model_server::{Api, FakeModelServer, Scripted};
use serde_json::{Value, json};

use crate::support::git_in;
use crate::temporal::{Cluster, WITHIN};
use crate::temporal_support::wait_until;

/// What these tests add to the shared cluster of `temporal.rs`.
impl Cluster {
    /// Commits `.pipeline/config.yaml` (workers read it from the base commit).
    fn config(&self, yaml: &str) {
        self.t.config(yaml);
        self.t.git(&["add", "-f", ".pipeline/config.yaml"]);
        self.t.git(&["commit", "-q", "-m", "tool profiles"]);
    }

    /// The workflow's `state` query as JSON, `None` while it cannot be read yet.
    fn state(&self, run: &str) -> Option<Value> {
        let target = pipeline_temporal::connection::ConnectionSettings::plain(
            &self.server.address,
            "default",
        );
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let state = runtime
            .block_on(pipeline_temporal::control::query_state(&target, run))
            .ok()?;
        Some(serde_json::to_value(state).expect("state as JSON"))
    }

    /// Polls the `state` query until `cond` holds; returns that state.
    fn wait_state(&self, run: &str, what: &str, cond: impl Fn(&Value) -> bool) -> Value {
        let mut found = None;
        wait_until(what, WITHIN, || {
            found = self.state(run).filter(|s| cond(s));
            found.is_some()
        });
        found.expect("state")
    }

    /// A file of the commit at `refs/pipeline-logs/<run>/<step>` on the remote.
    fn log_file(&self, run: &str, step: &str, file: &str) -> String {
        let reference = pipeline_temporal::run_plan::log_ref(run, step);
        git_in(&self.remote, &["show", &format!("{reference}:{file}")])
    }
}

/// Step `id` in a `state` document.
fn step<'a>(state: &'a Value, id: &str) -> &'a Value {
    state["steps"]
        .as_array()
        .and_then(|steps| steps.iter().find(|s| s["id"] == id))
        .unwrap_or_else(|| panic!("no step {id} in {state:#}"))
}

/// Ids of the steps with status `status`.
fn with_status(state: &Value, status: &str) -> Vec<String> {
    state["steps"]
        .as_array()
        .map(|steps| {
            steps
                .iter()
                .filter(|s| s["status"] == status)
                .filter_map(|s| s["id"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn a_tools_breaker_opens_for_the_whole_cluster_and_later_steps_wait_for_its_cooldown() {
    let Some(mut c) = Cluster::new() else { return };
    let runs = c.t.out.join("flaky.runs");
    let trials = c.t.out.join("flaky.trials");
    let heal = c.t.out.join("heal");
    let release = c.t.out.join("release");
    // Fails with a message the network plugin classifies `transient` until `heal`
    // exists; then it records a trial and waits for `release` (at most a minute).
    let script = format!(
        "pwd >> {runs}; if [ -f {heal} ]; then echo trial >> {trials}; n=0; \
         while [ ! -f {release} ] && [ $n -lt 600 ]; do sleep 0.1; n=$((n+1)); done; exit 0; fi; \
         echo 'error: connection reset by peer' >&2; exit 1",
        runs = runs.display(),
        heal = heal.display(),
        trials = trials.display(),
        release = release.display(),
    );
    c.config(&format!(
        "tools:\n  flaky:\n    command: sh\n    args: [\"-c\", {script}]\n    \
         circuit_breaker: {{failure_threshold: 2, cooldown: 8, half_open_trials: 1}}\n    \
         retry: {{max_attempts: 1}}\n",
        script = serde_json::to_string(&script).expect("JSON string"),
    ));
    let steps: Vec<String> = (1..=5)
        .map(|k| format!(r#"{{"id": "s{k}", "tool": "flaky", "tasks": ["call the service"]}}"#))
        .collect();
    let ws = c.workstream(
        "brk.json",
        &format!(r#"{{"id": "brk", "steps": [{}]}}"#, steps.join(", ")),
    );
    c.worker("clone-alpha", &["--jobs", "1"]);
    c.worker("clone-beta", &["--jobs", "1"]);
    let submitted = c.spawn_submit(&ws, "tb", &["--jobs", "2"]);

    // Two counting failures, whichever workers ran them, open the one breaker of the
    // run; the remaining steps of the tool wait and none of them starts.
    let open = c.wait_state("tb", "the breaker of flaky to open", |s| {
        s["breakers"][0]["state"] == "open" && with_status(s, "running").is_empty()
    });
    let breaker = &open["breakers"][0];
    assert_eq!(breaker["tool"], "flaky", "{open:#}");
    let failed = with_status(&open, "failed");
    assert!(failed.len() >= 2, "{open:#}");
    assert_eq!(breaker["failures"], json!(failed.len()), "{open:#}");
    assert!(
        failed.iter().any(|f| breaker["opened_by"] == f.as_str()),
        "{open:#}"
    );
    let waiting = with_status(&open, "waiting");
    assert_eq!(waiting.len(), 5 - failed.len(), "{open:#}");
    for id in &waiting {
        let s = step(&open, id);
        assert_eq!(s["tool"], "flaky", "{s:#}");
        assert!(
            s["reason"]
                .as_str()
                .is_some_and(|r| r.contains("circuit breaker of tool flaky is open")),
            "{s:#}"
        );
    }
    assert_eq!(
        lines(&runs).len(),
        failed.len(),
        "no step of the tool started while its breaker is open"
    );
    // The report of a failed step, and its log on the remote.
    let report = &step(&open, &failed[0])["report"];
    assert_eq!(report["tool"], "flaky", "{report:#}");
    assert_eq!(report["error_class"], "transient", "{report:#}");
    assert_eq!(report["attempts"], 1, "{report:#}");
    assert_eq!(report["ai"], false, "{report:#}");
    assert_eq!(report["log_pushed"], true, "{report:#}");
    assert_eq!(
        report["attempt_classes"],
        json!([{"attempt": 1, "tool": "flaky", "class": "transient"}]),
        "{report:#}"
    );
    let output = c.log_file("tb", &failed[0], "output.log");
    assert!(output.contains(&failed[0]), "{output}");
    let events: Vec<Value> = c
        .log_file("tb", &failed[0], "events.jsonl")
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line of events.jsonl is JSON"))
        .collect();
    assert!(
        events
            .iter()
            .any(|e| e["event"] == "step_failed" && e["step"] == failed[0].as_str()),
        "{events:#?}"
    );
    let status: Value =
        serde_json::from_str(&c.log_file("tb", &failed[0], "status.json")).expect("JSON");
    assert_eq!(status["run_id"], "tb", "{status:#}");
    assert_eq!(status["steps"][0]["status"], "failed", "{status:#}");

    // After the cooldown (a workflow timer) one trial step runs while the others wait.
    std::fs::write(&heal, "").expect("heal");
    wait_until("a trial step to start", WITHIN, || {
        !lines(&trials).is_empty()
    });
    let half = c.wait_state("tb", "the trial to show as running", |s| {
        with_status(s, "running").len() == 1
    });
    assert_eq!(half["breakers"][0]["state"], "half_open", "{half:#}");
    assert_eq!(half["breakers"][0]["trials_in_flight"], 1, "{half:#}");
    for id in with_status(&half, "waiting") {
        let reason = step(&half, &id)["reason"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(reason.contains("half-open"), "{reason}");
    }
    assert_eq!(lines(&trials).len(), 1, "one trial at a time");
    std::fs::write(&release, "").expect("release");

    let (code, out) = submitted.finish();
    assert_eq!(
        code,
        1,
        "failed steps fail the run\n{out}\n{}",
        c.worker_logs()
    );
    let end = c.state("tb").expect("final state");
    assert_eq!(end["breakers"][0]["state"], "closed", "{end:#}");
    assert_eq!(
        with_status(&end, "completed").len(),
        5 - failed.len(),
        "{end:#}"
    );
    assert_eq!(lines(&runs).len(), 5, "each step ran once");
    assert!(out.contains("waiting"), "{out}");
    c.replay_history("tb");
}

#[test]
fn an_approval_gate_on_temporal_waits_for_pipeline_approve_and_reject_fails_the_step() {
    let Some(mut c) = Cluster::new() else { return };
    let after_runs = c.t.out_path("after.runs");
    let ws = c.workstream(
        "ap.json",
        &format!(
            r#"{{"id": "ap", "steps": [
            {{"id": "gate", "command": "echo gated > gate.txt", "approval": "required"}},
            {{"id": "after", "command": "pwd >> {after_runs}; echo after > after.txt", "depends_on": ["gate"]}},
            {{"id": "second", "command": "echo second > second.txt", "approval": "required"}},
            {{"id": "blocked", "command": "echo blocked > blocked.txt", "depends_on": ["second"]}},
            {{"id": "free", "command": "echo free > free.txt"}}
        ]}}"#
        ),
    );
    c.worker("clone-alpha", &["--jobs", "2"]);
    c.worker("clone-beta", &["--jobs", "2"]);
    let submitted = c.spawn_submit(&ws, "tg", &["--jobs", "2"]);
    let awaiting = c.wait_state("tg", "both gates to await approval", |s| {
        with_status(s, "awaiting_approval").len() == 2
            && step(s, "ap/free")["status"] == "completed"
    });
    assert!(
        step(&awaiting, "ap/gate")["commit"]
            .as_str()
            .is_some_and(|c| c.len() == 40),
        "{awaiting:#}"
    );
    assert_eq!(
        step(&awaiting, "ap/gate")["report"]["approval_requested"],
        true
    );
    assert_eq!(
        step(&awaiting, "ap/after")["status"],
        "pending",
        "{awaiting:#}"
    );
    assert!(lines(Path::new(&after_runs)).is_empty(), "dependents wait");

    let address = c.server.address.clone();
    let decide = |verb: &str, run: &str, id: &str, extra: &[&str]| {
        let mut args = vec![verb, run, id, "--temporal", &address];
        args.extend_from_slice(extra);
        c.t.pipeline(&args)
    };
    // Bad decisions are input errors naming what is wrong, and change nothing.
    let r = decide("approve", "tg", "ap/free", &[]).assert_code(2);
    assert!(
        r.stderr()
            .contains("step ap/free of run tg is completed, not awaiting approval"),
        "{}",
        r.stderr()
    );
    let r = decide("approve", "nosuchrun", "ap/gate", &[]).assert_code(2);
    assert!(
        r.stderr().contains("no workflow pipeline-run/nosuchrun"),
        "{}",
        r.stderr()
    );
    let r = decide("approve", "tg", "ap/nope", &[]).assert_code(2);
    assert!(
        r.stderr().contains("has no step `ap/nope`"),
        "{}",
        r.stderr()
    );
    let r = decide("reject", "tg", "ap/second", &[]).assert_code(2);
    assert!(r.stderr().contains("--comment"), "{}", r.stderr());

    // The workflow checks too: a `decide` signal sent around the command (here with the
    // Temporal CLI) for a step that is not awaiting approval is ignored and noted.
    let signalled = std::process::Command::new(&c.server.bin)
        .args(["workflow", "signal", "--address", &address])
        .args([
            "--workflow-id",
            "pipeline-run/tg",
            "--name",
            "decide",
            "--input",
        ])
        .arg(r#"{"step": "ap/free", "approve": true, "by": "mallory"}"#)
        .output()
        .expect("temporal workflow signal runs");
    assert!(
        signalled.status.success(),
        "{}",
        String::from_utf8_lossy(&signalled.stderr)
    );
    let noted = c.wait_state("tg", "the ignored decision to be noted", |s| {
        s["notes"].as_array().is_some_and(|n| !n.is_empty())
    });
    assert_eq!(
        noted["notes"],
        json!([
            "ignored the approval of step ap/free by mallory: it is completed, not awaiting approval"
        ]),
        "{noted:#}"
    );
    assert_eq!(
        with_status(&noted, "awaiting_approval").len(),
        2,
        "{noted:#}"
    );

    // The submitting clone knows the run from its state database: no --temporal needed.
    let r =
        c.t.pipeline(&["approve", "tg", "ap/gate", "--by", "ann"])
            .assert_code(0);
    assert!(
        r.stdout().contains("approved step ap/gate"),
        "{}",
        r.stdout()
    );
    decide(
        "reject",
        "tg",
        "ap/second",
        &["--by", "bob", "--comment", "not like this"],
    )
    .assert_code(0);

    let (code, out) = submitted.finish();
    assert_eq!(
        code,
        1,
        "a rejected step fails the run\n{out}\n{}",
        c.worker_logs()
    );
    let end = c.state("tg").expect("final state");
    assert_eq!(step(&end, "ap/gate")["status"], "completed", "{end:#}");
    assert_eq!(step(&end, "ap/after")["status"], "completed", "{end:#}");
    assert_eq!(lines(Path::new(&after_runs)).len(), 1);
    assert_eq!(step(&end, "ap/second")["status"], "failed", "{end:#}");
    assert_eq!(
        step(&end, "ap/second")["error"],
        "rejected by bob: not like this",
        "{end:#}"
    );
    assert_eq!(step(&end, "ap/blocked")["status"], "skipped", "{end:#}");
    assert_eq!(
        step(&end, "ap/blocked")["dependency"],
        "ap/second",
        "{end:#}"
    );
    assert!(out.contains("step ap/gate: awaiting_approval"), "{out}");
    // The approved step's result is in the run's result; the rejected one's is not.
    assert_eq!(
        c.t.show("pipeline/tg", "after.txt").as_deref(),
        Some("after\n")
    );
    assert_eq!(c.t.show("pipeline/tg", "second.txt"), None);
    // An approval after the run ended is refused.
    decide("approve", "tg", "ap/second", &[]).assert_code(2);
    c.replay_history("tg");

    // --approve-all: the gates complete at once.
    let r = c.submit(&ws, "tg2", &["--approve-all"]);
    assert_eq!(r.code(), 0, "{}\n{}", r.stdout(), r.stderr());
    let end = c.state("tg2").expect("final state");
    assert_eq!(with_status(&end, "completed").len(), 5, "{end:#}");
}

/// One Codex turn adding `file`: two requests of 100 input tokens (20 cached) and 7
/// output tokens each: 214 tokens, $0.00124 at gpt-5.5 (tests/e2e/budgets.rs).
fn codex_turn(file: &str) -> Vec<Scripted> {
    let usage = json!({"input_tokens": 100, "cached_tokens": 20, "output_tokens": 7});
    vec![
        Scripted::Reply(json!({
            "apply_patch": format!("*** Begin Patch\n*** Add File: {file}\n+from codex\n*** End Patch\n"),
            "usage": usage,
        })),
        Scripted::Reply(json!({"text": format!("Created {file}."), "usage": usage})),
    ]
}

#[test]
fn a_run_budget_on_temporal_skips_later_ai_steps() {
    let server = FakeModelServer::start().expect("fake server starts");
    server.script(Api::OpenAiResponses, codex_turn("first.txt"));
    let Some(bin) = crate::ai_codex::codex_bin() else {
        return;
    };
    let profile = crate::ai_codex::codex_profile(&bin, &server)
        .key("PIPELINE_TEST_CODEX_KEY", crate::ai_codex::KEY);
    let Some(mut c) = Cluster::new() else { return };
    c.config(&profile.yaml());
    let ws = c.workstream(
        "b.json",
        r#"{"id": "b", "steps": [
            {"id": "first", "tool": "codex", "tasks": ["Create first.txt"], "files_scope": ["first.txt"]},
            {"id": "cmd", "command": "echo done > cmd.txt", "depends_on": ["first"]},
            {"id": "second", "tool": "codex", "tasks": ["Create second.txt"], "files_scope": ["second.txt"],
             "depends_on": ["cmd"]}
        ]}"#,
    );
    c.worker("clone-alpha", &[]);
    c.worker("clone-beta", &[]);
    let r = c.submit(&ws, "tu", &["--jobs", "1", "--budget-usd", "0.001"]);
    let stdout = r.stdout();
    assert_eq!(
        r.code(),
        1,
        "a skipped step fails the run\n{stdout}\n{}\n{}",
        r.stderr(),
        c.worker_logs()
    );
    let end = c.state("tu").expect("final state");
    assert_eq!(step(&end, "b/first")["status"], "completed", "{end:#}");
    assert_eq!(step(&end, "b/cmd")["status"], "completed", "{end:#}");
    let second = step(&end, "b/second");
    assert_eq!(second["status"], "skipped", "{end:#}");
    let reason = second["reason"].as_str().unwrap_or_default();
    assert!(
        reason.starts_with("run budget of $0.0010 spent: $0.0012, 214 tokens"),
        "{reason}"
    );
    assert!(second.get("dependency").is_none(), "{second:#}");
    assert!(
        stdout.contains("step b/second: skipped: run budget of $0.0010 spent"),
        "{stdout}"
    );
    assert_eq!(server.requests().len(), 2, "second never ran");
    // The report of the AI step and the run's spending.
    let report = &step(&end, "b/first")["report"];
    assert_eq!(report["tool"], "codex", "{report:#}");
    assert_eq!(report["ai"], true, "{report:#}");
    assert_eq!(report["usage"]["input_tokens"], 200, "{report:#}");
    assert_eq!(report["usage"]["output_tokens"], 14, "{report:#}");
    assert_eq!(report["usage"]["estimated"], true, "{report:#}");
    assert_eq!(end["spent"]["input_tokens"], 200, "{end:#}");
    assert_eq!(end["budget"]["usd"], 0.001, "{end:#}");
    let cost = end["spent"]["cost_usd"].as_f64().unwrap_or_default();
    assert!((cost - 0.00124).abs() < 1e-9, "{end:#}");
    assert_eq!(step(&end, "b/cmd")["report"]["ai"], false, "{end:#}");

    // The submitter's state database counts what the workers reported: `status --json`
    // and `pipeline usage` as for a local run; the skipped step says why.
    let status = c.t.status("tu");
    let db = rusqlite::Connection::open(c.t.repo.join(".pipeline/state.db")).expect("db");
    let started: String = db
        .query_row(
            "SELECT data FROM events WHERE run_id = 'tu' AND kind = 'run_started'",
            [],
            |row| row.get(0),
        )
        .expect("run_started");
    let started: Value = serde_json::from_str(&started).expect("JSON");
    assert_eq!(started["budget_usd"], 0.001, "{started:#}");
    assert_eq!(started["engine"]["workflow_id"], "pipeline-run/tu");
    let total = &status["usage"];
    assert_eq!(total["input_tokens"], 200, "{total}");
    assert_eq!(total["output_tokens"], 14, "{total}");
    assert_eq!(
        c.t.step_status("tu", "b/second")["status"],
        "skipped",
        "{status:#}"
    );
    let usage = c.t.pipeline(&["usage", "tu"]).assert_ok().stdout();
    assert!(usage.contains("b/first"), "{usage}");
}
