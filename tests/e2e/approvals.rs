//! Approval gates (issue #12, docs/APPROVALS.md): a step with `approval: required` waits in
//! `awaiting_approval` once its result is committed, holding no `--jobs` slot, while
//! independent steps go on; `pipeline approve` / `reject` from another process decide it;
//! the wait survives `kill -9` and resume; `--approve-all` approves and says so; a
//! rejected AI step gets the reviewer's comment as its fix prompt (the real Claude Code
//! CLI against the fake model server). Also `breaker_opened`, journalled when a tool's
//! circuit breaker opens.
//!
//! The tests wait through the state the run records (`pipeline status --json`), never by
//! sleeping.

use std::path::PathBuf;
use std::process::{Child, Stdio};

use fake_model_server::{Api, FakeModelServer, Scripted};
use serde_json::{Value, json};

use crate::support::{Test, step_state};

/// `ws/a` (approval required) -> `ws/b`; `ws/c` independent. Each step writes its file
/// and appends its name to `runs.txt` outside the repository (how often it ran).
fn gated_dag(t: &Test) -> PathBuf {
    let runs = t.out_path("runs.txt");
    t.workstream(
        "ws.json",
        &format!(
            r#"{{"id": "ws", "steps": [
                {{"id": "a", "command": "echo a > a.txt; echo a >> {runs}", "files_scope": ["a.txt"], "approval": "required"}},
                {{"id": "b", "command": "test -f a.txt && echo b > b.txt; echo b >> {runs}", "files_scope": ["b.txt"], "depends_on": ["a"]}},
                {{"id": "c", "command": "echo c > c.txt; echo c >> {runs}", "files_scope": ["c.txt"]}}
            ]}}"#
        ),
    )
}

/// Starts `pipeline run` of `ws` as run `run` with one job (so an awaiting step that held
/// its slot would stop `ws/c`), its output kept for the end.
fn start(t: &Test, ws: &std::path::Path, run: &str, extra: &[&str]) -> Child {
    let mut args = vec!["run", ws.to_str().unwrap(), "--run-id", run, "--jobs", "1"];
    args.extend_from_slice(extra);
    t.process(&args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn pipeline run")
}

/// Waits until `ws/a` awaits approval and `ws/c` completed (with one job: the slot was
/// lent), and returns that status.
fn wait_awaiting(t: &Test, run: &str) -> Value {
    t.wait_for_status(run, "ws/a awaiting approval and ws/c completed", |s| {
        step_state(s, "ws/a") == "awaiting_approval" && step_state(s, "ws/c") == "completed"
    })
}

/// The `data` of every event of `run`, oldest first, with its kind.
fn journal(t: &Test, run: &str) -> Vec<Value> {
    let db = t.repo.join(".pipeline/state.db");
    let c = rusqlite::Connection::open(db).expect("open state db");
    let mut stmt = c
        .prepare("SELECT data FROM events WHERE run_id = ?1 ORDER BY id")
        .expect("query");
    stmt.query_map([run], |r| r.get::<_, String>(0))
        .expect("rows")
        .map(|d| serde_json::from_str(&d.expect("row")).expect("event JSON"))
        .collect()
}

/// Position of the first event of `kind` for `step` in `events`.
fn position(events: &[Value], kind: &str, step: &str) -> usize {
    events
        .iter()
        .position(|e| e["event"] == kind && e["step"] == step)
        .unwrap_or_else(|| panic!("no {kind} of {step} in {events:#?}"))
}

#[test]
fn an_approved_step_completes_and_its_dependents_start_while_other_branches_went_on() {
    let t = Test::new();
    let ws = gated_dag(&t);
    let child = start(&t, &ws, "ap", &[]);
    let status = wait_awaiting(&t, "ap");
    assert_eq!(step_state(&status, "ws/b"), "pending", "{status:#}");
    assert_eq!(
        t.out_lines("runs.txt"),
        ["a", "c"],
        "b waits for the decision"
    );
    // Not merged forward: no result branch yet.
    assert_eq!(t.show("pipeline/ap", "a.txt"), None);

    // `status` names the commands that decide it.
    let table = t.pipeline(&["status", "ap"]).assert_ok().stdout();
    assert!(table.contains("awaiting_approval"), "{table}");
    assert!(table.contains("pipeline approve ap ws/a"), "{table}");
    let runs = t.pipeline(&["runs"]).assert_ok().stdout();
    assert!(runs.contains("running, 1 awaiting approval"), "{runs}");
    let listed: Value =
        serde_json::from_str(&t.pipeline(&["runs", "--json"]).assert_ok().stdout()).unwrap();
    assert_eq!(listed[0]["steps"]["awaiting_approval"], 1, "{listed:#}");

    let approved = t
        .pipeline(&[
            "approve",
            "ap",
            "ws/a",
            "--comment",
            "ship it",
            "--by",
            "alice",
        ])
        .assert_ok()
        .stdout();
    assert!(
        approved.contains("approved step ws/a (attempt 1) of run ap as alice")
            && approved.contains("driving the run applies it now"),
        "{approved}"
    );
    let out = child.wait_with_output().expect("run ends");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    // The plain view printed the commands once, while the step waited.
    assert_eq!(
        stderr.matches("pipeline approve ap ws/a").count(),
        1,
        "{stderr}"
    );
    assert!(
        stderr.contains("pipeline reject ap ws/a --comment"),
        "{stderr}"
    );

    let status = t.status("ap");
    for step in ["ws/a", "ws/b", "ws/c"] {
        assert_eq!(step_state(&status, step), "completed", "{status:#}");
    }
    assert_eq!(t.show("pipeline/ap", "b.txt").as_deref(), Some("b\n"));
    assert_eq!(t.out_lines("runs.txt"), ["a", "c", "b"], "a ran once");

    let events = journal(&t, "ap");
    let requested = position(&events, "approval_requested", "ws/a");
    let approval = position(&events, "step_approved", "ws/a");
    let completed = position(&events, "step_completed", "ws/a");
    let b_started = position(&events, "attempt_started", "ws/b");
    assert!(requested < approval && approval < completed && completed < b_started);
    assert!(position(&events, "step_completed", "ws/c") < approval);
    let req = &events[requested];
    assert_eq!(req["attempt"], 1);
    assert_eq!(req["commit"], events[completed]["commit"], "{req}");
    assert_eq!(req["tool"], "shell");
    let ok = &events[approval];
    assert_eq!(
        (&ok["by"], &ok["comment"], &ok["auto"], &ok["attempt"]),
        (&json!("alice"), &json!("ship it"), &json!(false), &json!(1))
    );
}

#[test]
fn a_rejected_command_step_fails_with_class_rejected_and_its_dependents_are_skipped() {
    let t = Test::new();
    let ws = gated_dag(&t);
    let child = start(&t, &ws, "rj", &[]);
    wait_awaiting(&t, "rj");
    // A rejection says why.
    t.pipeline(&["reject", "rj", "ws/a"])
        .assert_code(2)
        .assert_stderr_contains("reject needs --comment");
    t.pipeline(&[
        "reject",
        "rj",
        "ws/a",
        "--comment",
        "wrong file name",
        "--by",
        "bob",
    ])
    .assert_ok();
    let out = child.wait_with_output().expect("run ends");
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let a = t.step_status("rj", "ws/a");
    assert_eq!(a["status"], "failed", "{a:#}");
    let error = a["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("rejected by bob: wrong file name") && error.contains("class rejected"),
        "{error}"
    );
    assert_eq!(a["attempts"], 1, "a command is not asked to fix it");
    assert_eq!(step_state(&t.status("rj"), "ws/b"), "skipped");
    assert_eq!(step_state(&t.status("rj"), "ws/c"), "completed");
    let events = journal(&t, "rj");
    let rejected = position(&events, "step_rejected", "ws/a");
    assert_eq!(events[rejected]["by"], "bob");
    assert_eq!(events[rejected]["comment"], "wrong file name");
    assert_eq!(events[rejected + 1]["event"], "step_failed", "{events:#?}");
    assert!(events.iter().all(|e| e["event"] != "fix_requested"));
}

#[test]
fn approve_all_is_recorded_and_a_decision_on_a_step_not_awaiting_names_its_status() {
    let t = Test::new();
    let ws = gated_dag(&t);
    t.pipeline(&[
        "run",
        ws.to_str().unwrap(),
        "--run-id",
        "all",
        "--approve-all",
    ])
    .assert_ok();
    let approvals = t.events("all", "ws/a", "step_approved");
    assert_eq!(approvals.len(), 1, "{approvals:#?}");
    assert_eq!(approvals[0]["auto"], true);
    assert_eq!(approvals[0]["by"], "--approve-all");
    assert!(t.events("all", "ws/a", "approval_requested").is_empty());
    // Only the gated step is approved.
    assert!(t.events("all", "ws/c", "step_approved").is_empty());

    let refused = t.pipeline(&["approve", "all", "ws/a"]).assert_code(2);
    let message = refused.stderr();
    assert!(
        message.contains("step ws/a of run all is not awaiting approval (status completed)"),
        "{message}"
    );
    let unknown = t
        .pipeline(&["approve", "all", "ws/z"])
        .assert_code(2)
        .stderr();
    assert!(unknown.contains("run all has no step `ws/z`"), "{unknown}");
    t.pipeline(&["approve", "nope", "ws/a"])
        .assert_code(2)
        .assert_stderr_contains("no run `nope`");
}

#[test]
fn an_approval_wait_survives_kill_9_and_resume_applies_a_decision_made_meanwhile() {
    let t = Test::new();
    let ws = gated_dag(&t);
    let mut child = start(&t, &ws, "k9", &[]);
    wait_awaiting(&t, "k9");
    child.kill().expect("SIGKILL pipeline");
    child.wait().expect("reaped");
    // Still awaiting: the step is not live work that dies with its driver.
    assert_eq!(step_state(&t.status("k9"), "ws/a"), "awaiting_approval");
    let said = t
        .pipeline(&["approve", "k9", "ws/a", "--by", "carol"])
        .assert_ok()
        .stdout();
    assert!(said.contains("`pipeline resume k9` applies it"), "{said}");

    t.pipeline(&["resume", "k9"]).assert_ok();
    let a = t.step_status("k9", "ws/a");
    assert_eq!(a["status"], "completed", "{a:#}");
    assert_eq!(a["attempts"], 1, "not run again: {a:#}");
    assert_eq!(t.out_lines("runs.txt"), ["a", "c", "b"], "a and c ran once");
    assert_eq!(t.show("pipeline/k9", "b.txt").as_deref(), Some("b\n"));
    let approved = t.events("k9", "ws/a", "step_approved");
    assert_eq!(approved[0]["by"], "carol");
    assert!(t.events("k9", "ws/a", "step_reset").is_empty());
    assert!(t.events("k9", "ws/a", "step_interrupted").is_empty());
}

#[test]
fn a_resumed_run_waits_again_and_its_driver_applies_a_live_decision() {
    let t = Test::new();
    let ws = gated_dag(&t);
    let mut child = start(&t, &ws, "rs", &[]);
    wait_awaiting(&t, "rs");
    child.kill().expect("SIGKILL pipeline");
    child.wait().expect("reaped");
    let resumed = t
        .process(&["resume", "rs", "--jobs", "1"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn resume");
    // The resumed driver took over (live) and the step still awaits.
    t.wait_for_status("rs", "the resumed driver", |s| {
        s["driver"] == "live" && step_state(s, "ws/a") == "awaiting_approval"
    });
    let said = t.pipeline(&["approve", "rs", "ws/a"]).assert_ok().stdout();
    assert!(said.contains("applies it now"), "{said}");
    let out = resumed.wait_with_output().expect("resume ends");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(t.step_status("rs", "ws/a")["attempts"], 1);
    assert_eq!(step_state(&t.status("rs"), "ws/b"), "completed");
    // --by defaults to the OS user.
    let by = t.events("rs", "ws/a", "step_approved")[0]["by"].clone();
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_default();
    if !user.is_empty() {
        assert_eq!(by, user);
    }
}

/// The model asked for in the claude profile.
const MODEL: &str = "claude-fake-model";

/// A Claude Code session writing `hello.txt` with `content`, then closing.
fn writes_hello(content: &str) -> Vec<Scripted> {
    vec![
        Scripted::Reply(json!({
            "tool_use": {"name": "Write", "input": {"file_path": "hello.txt", "content": content}},
        })),
        Scripted::Reply(json!({"text": "Wrote hello.txt."})),
    ]
}

#[test]
fn a_rejected_ai_step_gets_the_comment_as_its_fix_prompt_and_asks_again() {
    let Some(bin) =
        crate::support::installed_cli("claude", ".tools/npm-claude/node_modules/.bin/claude")
    else {
        return;
    };
    let server = FakeModelServer::start().expect("fake server starts");
    let mut replies = writes_hello("hello\n");
    replies.extend(writes_hello("bonjour\n"));
    server.script(Api::AnthropicMessages, replies);
    let t = crate::ai_cli::CliProfile::new("claude", &bin, MODEL, server.base_url())
        .key(
            "PIPELINE_TEST_CLAUDE_KEY",
            "sk-ant-pipeline-test-claude-0123456789",
        )
        .env("CLAUDE_CODE_MAX_RETRIES", "0")
        .test();
    let ws = crate::ai_cli::edit_step(
        &t,
        "claude",
        "Greet",
        &["Create hello.txt with a greeting"],
        &["hello.txt"],
        r#", "approval": "required", "fix_attempts": 1"#,
    );
    let child = t
        .process(&["run", ws.to_str().unwrap(), "--run-id", "ai", "--jobs", "1"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn run");
    t.wait_for_status("ai", "attempt 1 awaiting approval", |s| {
        step_state(s, "edit") == "awaiting_approval"
    });
    let before = server.requests().len();
    const COMMENT: &str = "Greet in French: write bonjour instead";
    t.pipeline(&["reject", "ai", "edit", "--comment", COMMENT, "--by", "dana"])
        .assert_ok();
    let status = t.wait_for_status("ai", "attempt 2 awaiting approval", |s| {
        step_state(s, "edit") == "awaiting_approval"
            && s["steps"][0]["attempts"].as_u64() == Some(2)
    });
    assert_eq!(status["steps"][0]["attempts"], 2, "{status:#}");
    // The comment reached the model in the second attempt's prompt.
    let second: Vec<String> = server.requests()[before..]
        .iter()
        .filter(|r| r.body["tools"].as_array().is_some_and(|t| !t.is_empty()))
        .map(|r| r.body["messages"].to_string())
        .collect();
    assert!(!second.is_empty(), "attempt 2 asked the model");
    assert!(second[0].contains(COMMENT), "{}", second[0]);
    assert!(second[0].contains("Rejected by dana"), "{}", second[0]);
    let fix = t.events("ai", "edit", "fix_requested");
    assert_eq!(fix.len(), 1, "{fix:#?}");
    assert_eq!(fix[0]["class"], "rejected");
    assert_eq!(fix[0]["fixes_left"], 0);
    assert_eq!(t.events("ai", "edit", "approval_requested").len(), 2);

    t.pipeline(&["approve", "ai", "edit"]).assert_ok();
    let out = child.wait_with_output().expect("run ends");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        t.show("pipeline/ai", "hello.txt").as_deref(),
        Some("bonjour\n")
    );
    let approved = t.events("ai", "edit", "step_approved");
    assert_eq!(approved[0]["attempt"], 2);
}

/// `.pipeline/config.yaml` with tool `scribe` (a custom profile, so a rejection is fed
/// back to it) requiring approval: it copies its prompt to `out/prompt-N.md` (N = prompts
/// seen so far) and, asked for notes, appends a line to `notes.txt` (so a fix builds on
/// the rejected result), else writes `more/x.txt`.
fn scribe(t: &Test) {
    let out = t.out.to_string_lossy().into_owned();
    t.config(&format!(
        "tools:\n  scribe:\n    kind: custom\n    command: sh\n    args: [\"-c\", \"n=$(ls {out} | grep -c prompt); cp \\\"$PIPELINE_PROMPT_FILE\\\" {out}/prompt-$n.md; if grep -q notes \\\"$PIPELINE_PROMPT_FILE\\\"; then echo line >> notes.txt; else mkdir -p more; echo x > more/x.txt; fi\"]\n    approval: required\n"
    ));
}

#[test]
fn a_tool_profile_gates_its_steps_and_a_rejection_recorded_while_no_driver_runs_is_fed_back_on_resume()
 {
    let t = Test::new();
    scribe(&t);
    // `gated` takes the profile's approval; `free` says `none` on its workstream.
    let ws = t.workstream(
        "ws.json",
        r#"[{"id": "gated", "tool": "scribe", "tasks": ["Write notes"], "files_scope": ["notes.txt"], "fix_attempts": 1},
            {"id": "free", "approval": "none", "steps": [{"id": "s", "tool": "scribe", "tasks": ["Write more"], "files_scope": ["more/"]}]}]"#,
    );
    t.pipeline(&["validate", ws.to_str().unwrap()]).assert_ok();
    let mut child = start(&t, &ws, "tp", &[]);
    t.wait_for_status("tp", "gated awaiting approval, free/s completed", |s| {
        step_state(s, "gated") == "awaiting_approval" && step_state(s, "free/s") == "completed"
    });
    assert!(t.events("tp", "free/s", "approval_requested").is_empty());
    child.kill().expect("SIGKILL pipeline");
    child.wait().expect("reaped");

    const COMMENT: &str = "Say why the notes matter";
    let said = t
        .pipeline(&[
            "reject",
            "tp",
            "gated",
            "--comment",
            COMMENT,
            "--by",
            "erin",
        ])
        .assert_ok()
        .stdout();
    assert!(said.contains("rejected step gated (attempt 1)"), "{said}");
    let resumed = t
        .process(&["resume", "tp", "--jobs", "1"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn resume");
    let status = t.wait_for_status("tp", "attempt 2 awaiting approval", |s| {
        step_state(s, "gated") == "awaiting_approval"
            && s["steps"][0]["attempts"].as_u64() == Some(2)
    });
    assert_eq!(status["driver"], "live", "{status:#}");
    let prompts = [
        std::fs::read_to_string(t.out.join("prompt-0.md")).unwrap_or_default(),
        std::fs::read_to_string(t.out.join("prompt-2.md")).unwrap_or_default(),
    ];
    assert!(!prompts[0].contains(COMMENT), "{}", prompts[0]);
    assert!(
        prompts[1].contains(COMMENT) && prompts[1].contains("Rejected by erin"),
        "the fix prompt: {}",
        prompts[1]
    );
    t.pipeline(&["approve", "tp", "gated"]).assert_ok();
    let out = resumed.wait_with_output().expect("resume ends");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The fix ran in a worktree holding the rejected result: both lines are there.
    assert_eq!(
        t.show("pipeline/tp", "notes.txt").as_deref(),
        Some("line\nline\n")
    );
    let rejected = t.events("tp", "gated", "step_rejected");
    assert_eq!(rejected.len(), 1);
    assert_eq!(rejected[0]["attempt"], 1);
    let fix = t.events("tp", "gated", "fix_requested");
    assert_eq!(fix[0]["class"], "rejected");
    assert_eq!(t.events("tp", "gated", "approval_requested").len(), 2);
}

#[test]
fn validate_accepts_approval_and_names_a_bad_value_or_a_misspelt_key() {
    let t = Test::new();
    let ok = t.workstream(
        "ok.json",
        r#"{"id": "w", "approval": "required", "steps": [{"id": "a", "command": "true", "approval": "none"}]}"#,
    );
    t.pipeline(&["validate", ok.to_str().unwrap()]).assert_ok();
    let bad = t.workstream(
        "bad.json",
        r#"{"id": "w", "steps": [{"id": "a", "command": "true", "approval": "maybe"}]}"#,
    );
    let out = t
        .pipeline(&["validate", bad.to_str().unwrap()])
        .assert_code(2);
    let text = format!("{}{}", out.stdout(), out.stderr());
    assert!(
        text.contains("approval") && text.contains("maybe"),
        "{text}"
    );
    let typo = t.workstream(
        "typo.json",
        r#"{"id": "w", "steps": [{"id": "a", "command": "true", "aproval": "required"}]}"#,
    );
    let out = t
        .pipeline(&["validate", typo.to_str().unwrap()])
        .assert_code(2);
    let text = format!("{}{}", out.stdout(), out.stderr());
    assert!(text.contains("did you mean `approval`"), "{text}");
}

/// `breaker_opened` (issue #12: webhooks notify it) is journalled with the failure that
/// opened the breaker, after that attempt's `attempt_finished`.
#[test]
fn a_circuit_breaker_that_opens_is_journalled() {
    let t = Test::new();
    t.config("tools:\n  down:\n    kind: custom\n    command: sh\n    args: [\"-c\", \"echo 'Connection refused' >&2; exit 1\"]\n    circuit_breaker: {failure_threshold: 1, cooldown: 3600}\n");
    let ws = t.workstream(
        "a.json",
        r#"{"id": "a", "tool": "down", "tasks": ["x"], "retry": {"max_attempts": 1}}"#,
    );
    t.run(&ws, "br", 1).assert_code(1);
    let opened = t.events("br", "a", "breaker_opened");
    assert_eq!(opened.len(), 1, "{opened:#?}");
    assert_eq!(opened[0]["tool"], "down");
    assert_eq!(opened[0]["failures"], 1);
    assert_eq!(opened[0]["cooldown_ms"], 3_600_000);
    assert!(opened[0]["until"].is_string(), "{}", opened[0]);
    let events = journal(&t, "br");
    assert!(position(&events, "attempt_finished", "a") < position(&events, "breaker_opened", "a"));
}
