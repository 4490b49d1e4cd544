//! Best of N (`candidates: N`, docs/CANDIDATES.md) end to end: real git repositories,
//! real processes. The AI tool is a custom profile (capability `code_generation`) whose
//! script behaves by `$PIPELINE_CANDIDATE`, so each candidate's result is known: the
//! tests prove which one was kept from the result tree, the journal, `status --json`,
//! the candidate branches and `pipeline usage --json`.

use std::path::Path;

use serde_json::Value;

use crate::support::Test;

/// `.pipeline/config.yaml` with the custom AI profile `agent` running `script` with
/// `sh -c` (the prompt file as `$1`).
fn agent_config(t: &Test, script: &str) {
    let script = serde_json::to_string(script).unwrap();
    t.config(&format!(
        "tools:\n  agent:\n    kind: custom\n    command: sh\n    args: [\"-c\", {script}, \"agent\", \"{{prompt_file}}\"]\n    capabilities: [code_generation]\n"
    ));
}

/// Candidate 1 writes a wrong answer (its test fails), candidate 2 a right answer with
/// three more lines (4 lines of diff), candidate 3 just the right answer (1 line).
const THREE_WAYS: &str = r#"case "$PIPELINE_CANDIDATE" in
  1) printf 'wrong\n' > answer.txt ;;
  2) printf 'right\nsome\nmore\nlines\n' > answer.txt ;;
  3) printf 'right\n' > answer.txt ;;
esac"#;

/// The single-step workstream `answer` with `extra` fields.
fn answer_workstream(t: &Test, extra: &str) -> std::path::PathBuf {
    t.workstream(
        "ws.json",
        &format!(
            r#"{{"id": "answer", "tool": "agent", "tasks": ["Write answer.txt"],
                "acceptance_tests": ["grep -qx right answer.txt"],
                "fix_attempts": 0, "retry": {{"max_attempts": 1}}{extra}}}"#
        ),
    )
}

/// The branches under `pipeline-candidates/<run>/`, short names, sorted.
fn candidate_branches(t: &Test, run: &str) -> Vec<String> {
    let listed = t.git(&[
        "for-each-ref",
        "--format=%(refname:short)",
        &format!("refs/heads/pipeline-candidates/{run}/"),
    ]);
    let mut names: Vec<String> = listed.lines().map(str::to_owned).collect();
    names.sort();
    names
}

/// `candidate_finished` events of `step` by candidate number.
fn finished_by_candidate(t: &Test, run: &str, step: &str) -> Vec<Value> {
    let mut finished = t.events(run, step, "candidate_finished");
    finished.sort_by_key(|e| e["candidate"].as_u64());
    finished
}

#[test]
fn the_smallest_passing_candidate_is_kept_and_the_others_are_discarded() {
    let t = Test::new();
    agent_config(&t, THREE_WAYS);
    let ws = answer_workstream(&t, r#", "candidates": 3"#);
    t.run(&ws, "bo1", 3).assert_ok();

    // The result tree holds candidate 3's answer: the smaller of the two passing ones.
    assert_eq!(
        t.show("pipeline/bo1", "answer.txt").as_deref(),
        Some("right\n")
    );
    assert_eq!(
        t.show("pipeline-steps/bo1/answer", "answer.txt").as_deref(),
        Some("right\n")
    );
    let finished = finished_by_candidate(&t, "bo1", "answer");
    assert_eq!(finished.len(), 3, "{finished:#?}");
    assert_eq!(finished[0]["outcome"], "failed");
    assert_eq!(finished[0]["failed_tests"], 1);
    assert_eq!(finished[1]["outcome"], "passed");
    assert_eq!(finished[1]["diff_lines"], 4);
    assert_eq!(finished[2]["outcome"], "passed");
    assert_eq!(finished[2]["diff_lines"], 1);
    let selected = t.events("bo1", "answer", "candidate_selected");
    assert_eq!(selected.len(), 1, "{selected:#?}");
    assert_eq!(selected[0]["candidate"], 3);
    assert_eq!(selected[0]["discarded"], serde_json::json!([1, 2]));
    assert_eq!(
        selected[0]["reason"],
        "smallest diff (1 lines) among 2 passing candidates"
    );

    // Each candidate is an attempt; the step completed with the kept one's.
    let step = t.step_status("bo1", "answer");
    assert_eq!(step["status"], "completed", "{step:#}");
    assert_eq!(step["attempts"], 3, "{step:#}");
    let candidates = step["candidates"]
        .as_array()
        .expect("candidates in status --json");
    assert_eq!(candidates.len(), 3, "{step:#}");
    let kept: Vec<u64> = candidates
        .iter()
        .filter(|c| c["selected"] == true)
        .map(|c| c["candidate"].as_u64().unwrap())
        .collect();
    assert_eq!(kept, vec![3], "never two kept: {step:#}");
    assert_eq!(
        step["commit"], selected[0]["commit"],
        "the step's result is the kept candidate's commit"
    );

    // The status table shows the round under the step.
    let table = t.pipeline(&["status", "bo1"]).assert_ok().stdout();
    assert!(
        table.contains(
            "candidates: #1 failed (1 failed test, 1 line), #2 passed (4 lines), #3 kept (1 line)"
        ),
        "{table}"
    );

    // Only the kept candidate's branch stays once the run is over.
    assert_eq!(
        candidate_branches(&t, "bo1"),
        vec!["pipeline-candidates/bo1/answer/3".to_owned()]
    );
}

#[test]
fn keep_candidates_keeps_every_candidate_branch_with_its_result() {
    let t = Test::new();
    agent_config(&t, THREE_WAYS);
    let ws = answer_workstream(&t, r#", "candidates": 3"#);
    t.pipeline(&[
        "run",
        ws.to_str().unwrap(),
        "--run-id",
        "keep",
        "--jobs",
        "2",
        "--keep-candidates",
    ])
    .assert_ok();
    assert_eq!(
        candidate_branches(&t, "keep"),
        vec![
            "pipeline-candidates/keep/answer/1".to_owned(),
            "pipeline-candidates/keep/answer/2".to_owned(),
            "pipeline-candidates/keep/answer/3".to_owned(),
        ]
    );
    // A discarded passing candidate's result is committed on its branch.
    assert_eq!(
        t.show("pipeline-candidates/keep/answer/2", "answer.txt")
            .as_deref(),
        Some("right\nsome\nmore\nlines\n")
    );
    // A failed candidate commits nothing: its branch is the start commit.
    assert_eq!(
        t.show("pipeline-candidates/keep/answer/1", "answer.txt"),
        None
    );
    // `pipeline clean` takes them all, as it takes the step branches.
    let dry = t
        .pipeline(&["clean", "keep", "--dry-run", "--json"])
        .assert_ok();
    assert!(
        dry.stdout().contains("pipeline-candidates/keep/answer/2"),
        "{}",
        dry.stdout()
    );
    t.pipeline(&["clean", "keep"]).assert_ok();
    assert!(candidate_branches(&t, "keep").is_empty());
    assert_eq!(
        t.show("pipeline/keep", "answer.txt").as_deref(),
        Some("right\n")
    );
}

#[test]
fn a_select_command_ranks_passing_candidates_by_its_score() {
    let t = Test::new();
    agent_config(&t, THREE_WAYS);
    // The score is the answer's line count: candidate 2 (4 lines) beats candidate 3.
    let ws = answer_workstream(
        &t,
        r#", "candidates": 3, "select": {"command": "echo scoring; wc -l < answer.txt"}"#,
    );
    t.run(&ws, "sel", 3).assert_ok();
    assert_eq!(
        t.show("pipeline/sel", "answer.txt").as_deref(),
        Some("right\nsome\nmore\nlines\n")
    );
    let finished = finished_by_candidate(&t, "sel", "answer");
    assert_eq!(
        finished[0]["score"],
        Value::Null,
        "a failed candidate is not scored"
    );
    assert_eq!(finished[1]["score"], 4.0);
    assert_eq!(finished[2]["score"], 1.0);
    let selected = t.events("sel", "answer", "candidate_selected");
    assert_eq!(selected[0]["candidate"], 2);
    assert_eq!(
        selected[0]["reason"],
        "highest select score (4) among 2 passing candidates"
    );
}

#[test]
fn equal_select_scores_fall_back_to_the_smallest_diff() {
    let t = Test::new();
    agent_config(&t, THREE_WAYS);
    let ws = answer_workstream(&t, r#", "candidates": 3, "select": {"command": "echo 7"}"#);
    t.run(&ws, "tie", 2).assert_ok();
    assert_eq!(
        t.show("pipeline/tie", "answer.txt").as_deref(),
        Some("right\n")
    );
    let selected = t.events("tie", "answer", "candidate_selected");
    assert_eq!(
        selected[0]["reason"],
        "smallest diff (1 lines) among 2 passing candidates (select scores tied)"
    );
}

#[test]
fn when_no_candidate_passes_the_round_fails_and_a_retry_runs_a_new_round() {
    let t = Test::new();
    // Every candidate's tool fails with a transient error: the round fails, the retry
    // policy runs a second round of three, which fails too.
    agent_config(
        &t,
        r#"printf 'try %s\n' "$PIPELINE_CANDIDATE" > answer.txt; echo "Error: HTTP 503 Service Unavailable" >&2; exit 1"#,
    );
    let ws = t.workstream(
        "ws.json",
        r#"{"id": "answer", "tool": "agent", "tasks": ["Write answer.txt"], "candidates": 3,
            "acceptance_tests": ["grep -qx right answer.txt"], "fix_attempts": 0,
            "retry": {"initial_delay": 0.05, "max_delay": 0.1, "jitter": false, "max_attempts": 2}}"#,
    );
    t.run(&ws, "none", 3).assert_code(1);
    let step = t.step_status("none", "answer");
    assert_eq!(step["status"], "failed", "{step:#}");
    assert_eq!(step["attempts"], 6, "two rounds of three: {step:#}");
    assert_eq!(step["last_error"]["class"], "transient", "{step:#}");
    let started = t.events("none", "answer", "candidate_started");
    let rounds: Vec<(u64, u64)> = started
        .iter()
        .map(|e| {
            (
                e["attempt"].as_u64().unwrap(),
                e["candidate"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(rounds.len(), 6, "{rounds:?}");
    let mut numbers: Vec<u64> = rounds.iter().map(|r| r.1).collect();
    numbers.sort();
    assert_eq!(numbers, vec![1, 1, 2, 2, 3, 3], "{rounds:?}");
    // One backoff between the rounds, none between candidates.
    let waits = t.events("none", "answer", "step_waiting");
    assert_eq!(
        waits.iter().filter(|w| w["wait"] == "backoff").count(),
        1,
        "{waits:#?}"
    );
    assert!(t.events("none", "answer", "candidate_selected").is_empty());
    let finished = t.events("none", "answer", "candidate_finished");
    assert!(
        finished
            .iter()
            .all(|f| f["outcome"] == "failed" && f["failed_tests"] == 1),
        "{finished:#?}"
    );
    // Nothing kept: every candidate branch goes but the one checked out in the failed
    // step's worktree, kept for inspection: the last round's best failed candidate (all
    // tie on failed tests and diff size, so number 1).
    assert_eq!(
        candidate_branches(&t, "none"),
        vec!["pipeline-candidates/none/answer/1".to_owned()]
    );
    let kept = t
        .repo
        .join(".pipeline/worktrees/none/answer@candidate-1/answer.txt");
    assert_eq!(std::fs::read_to_string(kept).unwrap(), "try 1\n");
}

#[test]
fn a_fix_after_a_failed_round_continues_in_the_best_failed_candidate() {
    let t = Test::new();
    // In the round every candidate's answer is wrong, candidate 2's the smallest (all
    // fail their one test); the fix (an attempt in that worktree, with no candidate
    // number) keeps a copy of what it found and writes the right answer.
    agent_config(
        &t,
        r#"case "$PIPELINE_CANDIDATE" in
  1) printf 'wrong\nwrong\n' > answer.txt ;;
  2) printf 'wrong\n' > answer.txt ;;
  3) printf 'wrong\nwrong\nwrong\n' > answer.txt ;;
  *) cp answer.txt previous.txt; echo right > answer.txt ;;
esac"#,
    );
    let ws = t.workstream(
        "ws.json",
        r#"{"id": "answer", "tool": "agent", "tasks": ["Write answer.txt"], "candidates": 3,
            "acceptance_tests": ["grep -qx right answer.txt"], "fix_attempts": 1,
            "retry": {"max_attempts": 1}}"#,
    );
    t.run(&ws, "fix", 3).assert_ok();
    let step = t.step_status("fix", "answer");
    assert_eq!(
        step["attempts"], 4,
        "a round of three, then one fix: {step:#}"
    );
    assert_eq!(
        t.show("pipeline/fix", "answer.txt").as_deref(),
        Some("right\n")
    );
    // The fix started from candidate 2's worktree.
    assert_eq!(
        t.show("pipeline/fix", "previous.txt").as_deref(),
        Some("wrong\n")
    );
    assert!(t.events("fix", "answer", "candidate_selected").is_empty());
}

/// The ids of the journal's `candidate_started` and `candidate_finished` events of
/// `step`, in journal order, as (kind, candidate).
fn candidate_timeline(t: &Test, run: &str, step: &str) -> Vec<(String, u64)> {
    let mut timeline: Vec<(i64, String, u64)> = Vec::new();
    for kind in ["candidate_started", "candidate_finished"] {
        let db = t.repo.join(".pipeline/state.db");
        let c = rusqlite::Connection::open(db).unwrap();
        let mut stmt = c
            .prepare("SELECT id, data FROM events WHERE run_id = ?1 AND step_id = ?2 AND kind = ?3")
            .unwrap();
        let rows = stmt
            .query_map([run, step, kind], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
            })
            .unwrap();
        for row in rows {
            let (id, data) = row.unwrap();
            let event: Value = serde_json::from_str(&data).unwrap();
            timeline.push((id, kind.to_owned(), event["candidate"].as_u64().unwrap()));
        }
    }
    timeline.sort();
    timeline.into_iter().map(|(_, kind, k)| (kind, k)).collect()
}

/// A script whose candidates wait (up to 30 s) until `n` candidates have started, each
/// marking its start in `dir`, then write their answer.
fn barrier_script(dir: &Path, n: u32) -> String {
    format!(
        r#"touch "{dir}/started-$PIPELINE_CANDIDATE"
i=0
while [ "$(ls "{dir}" | wc -l)" -lt {n} ]; do
  i=$((i+1)); [ "$i" -gt 600 ] && echo "only $(ls "{dir}" | wc -l) candidates started" >&2 && exit 1
  sleep 0.05
done
echo right > answer.txt"#,
        dir = dir.display()
    )
}

#[test]
fn with_jobs_3_candidates_overlap_and_with_jobs_1_they_run_one_at_a_time() {
    // --jobs 3: each candidate only finishes once all three have started, so the run
    // succeeds only if they overlap; the journal shows three starts before any end.
    let t = Test::new();
    let marks = tempfile::tempdir().unwrap();
    agent_config(&t, &barrier_script(marks.path(), 3));
    let ws = t.workstream(
        "ws.json",
        &format!(
            r#"{{"id": "answer", "tool": "agent", "tasks": ["Write answer.txt"], "candidates": 3,
                "acceptance_tests": ["grep -qx right answer.txt"], "retry": {{"max_attempts": 1}},
                "writable_paths": [{}]}}"#,
            serde_json::to_string(&marks.path().display().to_string()).unwrap()
        ),
    );
    t.run(&ws, "par", 3).assert_ok();
    let timeline = candidate_timeline(&t, "par", "answer");
    let kinds: Vec<&str> = timeline.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        kinds,
        vec![
            "candidate_started",
            "candidate_started",
            "candidate_started",
            "candidate_finished",
            "candidate_finished",
            "candidate_finished"
        ],
        "{timeline:?}"
    );

    // --jobs 1: one slot, so each candidate ends before the next starts.
    let t = Test::new();
    agent_config(&t, THREE_WAYS);
    let ws = answer_workstream(&t, r#", "candidates": 3"#);
    t.run(&ws, "seq", 1).assert_ok();
    let timeline = candidate_timeline(&t, "seq", "answer");
    assert_eq!(timeline.len(), 6, "{timeline:?}");
    for pair in timeline.chunks(2) {
        assert_eq!(pair[0].0, "candidate_started", "{timeline:?}");
        assert_eq!(pair[1].0, "candidate_finished", "{timeline:?}");
        assert_eq!(pair[0].1, pair[1].1, "{timeline:?}");
    }
}

#[test]
fn a_tools_max_concurrent_bounds_candidates_as_it_bounds_steps() {
    // --jobs 3 but the tool's max_concurrent is 1: one candidate's tool at a time (a
    // tool that finds another one running says so in `overlap`), the others journalled
    // waiting for the tool. The --jobs 3 test above shows they overlap without the limit.
    let t = Test::new();
    let marks = tempfile::tempdir().unwrap();
    let dir = marks.path().display().to_string();
    let body = format!(
        "if ! mkdir \"{dir}/running\" 2>/dev/null; then echo \"$PIPELINE_CANDIDATE\" >> \"{dir}/overlap\"; fi\nsleep 0.2\n{THREE_WAYS}\nrmdir \"{dir}/running\""
    );
    let script = serde_json::to_string(&body).unwrap();
    t.config(&format!(
        "tools:\n  agent:\n    kind: custom\n    command: sh\n    args: [\"-c\", {script}, \"agent\", \"{{prompt_file}}\"]\n    capabilities: [code_generation]\n    max_concurrent: 1\n"
    ));
    let ws = answer_workstream(
        &t,
        &format!(
            r#", "candidates": 3, "writable_paths": [{}]"#,
            serde_json::to_string(&dir).unwrap()
        ),
    );
    t.run(&ws, "one", 3).assert_ok();
    assert!(
        !marks.path().join("overlap").exists(),
        "two candidates' tools ran at once: {:?}",
        std::fs::read_to_string(marks.path().join("overlap"))
    );
    assert_eq!(t.events("one", "answer", "candidate_finished").len(), 3);
    let waits = t.events("one", "answer", "step_waiting");
    assert!(
        waits.iter().any(|w| w["wait"] == "tool_concurrency"),
        "{waits:#?}"
    );
    assert_eq!(
        t.show("pipeline/one", "answer.txt").as_deref(),
        Some("right\n")
    );
}

/// `.pipeline/config.yaml` with the profile `scripted`: a tool of kind `claude` whose
/// command prints Claude Code's stream-json `result` event, so the claude adapter's own
/// parser reads its usage: each candidate writes `answer-<candidate>.txt` and reports 100
/// input and 10 output tokens and $0.01.
fn scripted_claude(t: &Test) {
    let script = t.repo.parent().unwrap().join("scripted-claude.sh");
    std::fs::write(
        &script,
        r#"#!/bin/sh
if [ "$1" = "--version" ]; then echo "2.0.0 (Claude Code)"; exit 0; fi
printf 'candidate %s\n' "$PIPELINE_CANDIDATE" > "answer-$PIPELINE_CANDIDATE.txt"
echo '{"type":"result","subtype":"success","is_error":false,"result":"done","total_cost_usd":0.01,"usage":{"input_tokens":100,"output_tokens":10}}'
"#,
    )
    .unwrap();
    std::process::Command::new("chmod")
        .args(["+x", script.to_str().unwrap()])
        .status()
        .unwrap();
    t.config(&format!(
        "tools:\n  scripted:\n    kind: claude\n    command: {}\n",
        serde_json::to_string(&script.display().to_string()).unwrap()
    ));
}

#[test]
fn a_round_that_takes_the_step_over_its_budget_keeps_no_candidate() {
    let t = Test::new();
    scripted_claude(&t);
    // Three candidates at $0.01 each against a step budget of $0.025: whichever passed
    // first, the round spent $0.03.
    let ws = t.workstream(
        "ws.json",
        r#"{"id": "answer", "tool": "scripted", "tasks": ["Write an answer"], "candidates": 3,
            "budget": {"usd": 0.025}, "retry": {"max_attempts": 3}}"#,
    );
    t.run(&ws, "over", 3).assert_code(1);
    let step = t.step_status("over", "answer");
    assert_eq!(step["status"], "failed", "{step:#}");
    assert_eq!(step["attempts"], 3, "no second round: {step:#}");
    assert_eq!(step["last_error"]["class"], "budget_exceeded", "{step:#}");
    assert!(t.events("over", "answer", "candidate_selected").is_empty());
    assert_eq!(t.events("over", "answer", "budget_exceeded").len(), 1);
    assert_eq!(
        t.show("pipeline/over", "answer-1.txt"),
        None,
        "nothing merged"
    );
}

#[test]
fn discarded_candidates_usage_counts_in_pipeline_usage() {
    let t = Test::new();
    scripted_claude(&t);
    let ws = t.workstream(
        "ws.json",
        r#"{"id": "answer", "tool": "scripted", "tasks": ["Write an answer"], "candidates": 3,
            "retry": {"max_attempts": 1}}"#,
    );
    t.run(&ws, "use", 3).assert_ok();
    let usage: Value =
        serde_json::from_str(&t.pipeline(&["usage", "use", "--json"]).assert_ok().stdout())
            .unwrap();
    let totals = &usage["total"];
    assert_eq!(totals["attempts"], 3, "{usage:#}");
    assert_eq!(totals["input_tokens"], 300, "{usage:#}");
    assert_eq!(totals["output_tokens"], 30, "{usage:#}");
    let cost = totals["cost_usd"].as_f64().unwrap();
    assert!((cost - 0.03).abs() < 1e-9, "{usage:#}");
    // The discarded candidates' usage is in their candidate_finished events too.
    let finished = t.events("use", "answer", "candidate_finished");
    assert_eq!(finished.len(), 3);
    assert!(
        finished.iter().all(|f| f["usage"]["input_tokens"] == 100),
        "{finished:#?}"
    );
    // All three pass with one line each: the lowest number is kept.
    let selected = t.events("use", "answer", "candidate_selected");
    assert_eq!(selected[0]["candidate"], 1, "{selected:#?}");
    assert_eq!(
        t.show("pipeline/use", "answer-1.txt").as_deref(),
        Some("candidate 1\n")
    );
    assert_eq!(t.show("pipeline/use", "answer-2.txt"), None);
    let status = t.status("use");
    assert!(
        (status["usage"]["cost_usd"].as_f64().unwrap() - 0.03).abs() < 1e-9,
        "{status:#}"
    );
}

#[test]
fn bad_candidates_values_are_input_errors_naming_the_file_and_step() {
    let t = Test::new();
    agent_config(&t, THREE_WAYS);
    let cases = [
        (
            r#"{"id": "a", "tool": "agent", "candidates": 9}"#,
            "candidates",
        ),
        (
            r#"{"id": "a", "tool": "agent", "candidates": 0}"#,
            "candidates",
        ),
        (
            r#"{"id": "a", "command": "true", "candidates": 2}"#,
            "runs a command",
        ),
        (
            r#"{"id": "a", "tool": "agent", "select": {"command": "echo 1"}}"#,
            "nothing to choose between",
        ),
        (
            r#"{"id": "a", "tool": "agent", "candidates": 2, "isolation": "none", "read_only": true}"#,
            "in place",
        ),
        (
            r#"{"id": "a", "tool": "agent", "candidates": 2, "select": {"command": ""}}"#,
            "select",
        ),
    ];
    for (i, (json, needle)) in cases.iter().enumerate() {
        let name = format!("bad{i}.json");
        let ws = t.workstream(&name, json);
        for command in ["validate", "run"] {
            let run = t.pipeline(&[command, ws.to_str().unwrap()]).assert_code(2);
            let stderr = run.stderr();
            assert!(
                stderr.contains(&name),
                "{command} {json}: names the file: {stderr}"
            );
            assert!(
                stderr.contains(needle),
                "{command} {json}: says why ({needle}): {stderr}"
            );
            assert!(!stderr.contains("panicked"), "{stderr}");
        }
        std::fs::remove_file(&ws).unwrap();
    }
    // On a workstream, `candidates` is a default of its tool steps only: its command
    // step is valid.
    let ws = t.workstream(
        "ok.json",
        r#"{"id": "w", "tool": "agent", "candidates": 2, "steps": [
            {"id": "ai", "tasks": ["x"]}, {"id": "cmd", "command": "true"}]}"#,
    );
    t.pipeline(&["validate", ws.to_str().unwrap()]).assert_ok();
}

/// How many `kind` events of `step` in `run` are journalled; 0 while the database or its
/// tables do not exist yet (the run is starting).
fn journalled(t: &Test, run: &str, step: &str, kind: &str) -> usize {
    let db = t.repo.join(".pipeline/state.db");
    let Ok(c) =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
    else {
        return 0;
    };
    c.query_row(
        "SELECT count(*) FROM events WHERE run_id = ?1 AND step_id = ?2 AND kind = ?3",
        [run, step, kind],
        |r| r.get::<_, i64>(0),
    )
    .map_or(0, |n| n as usize)
}

#[test]
fn ctrl_c_mid_round_interrupts_every_candidate_and_resume_runs_a_new_round() {
    let t = Test::new();
    let release = t.out_path("release");
    // Every candidate waits for the release file: Ctrl-C finds all three running.
    agent_config(
        &t,
        &format!(
            "{}\necho right > answer.txt",
            crate::handshake::await_file(&release)
        ),
    );
    let ws = answer_workstream(&t, r#", "candidates": 3"#);
    let mut child = t.spawn(&[
        "run",
        ws.to_str().unwrap(),
        "--run-id",
        "int",
        "--jobs",
        "3",
    ]);
    crate::handshake::wait_until("three candidates running", || {
        (journalled(&t, "int", "answer", "candidate_started") == 3).then_some(())
    });
    assert_eq!(crate::support::interrupt(&mut child), Some(130));
    let step = t.step_status("int", "answer");
    assert_eq!(step["status"], "interrupted", "{step:#}");
    let finished = t.events("int", "answer", "candidate_finished");
    assert_eq!(finished.len(), 3, "{finished:#?}");
    assert!(
        finished.iter().all(|f| f["outcome"] == "interrupted"),
        "{finished:#?}"
    );
    assert!(t.events("int", "answer", "candidate_selected").is_empty());

    std::fs::write(&release, "go").unwrap();
    t.pipeline(&["resume", "int"]).assert_ok();
    let step = t.step_status("int", "answer");
    assert_eq!(step["status"], "completed", "{step:#}");
    assert_eq!(step["attempts"], 6, "a new round of three: {step:#}");
    assert_eq!(t.events("int", "answer", "candidate_selected").len(), 1);
    assert_eq!(
        t.show("pipeline/int", "answer.txt").as_deref(),
        Some("right\n")
    );
}

#[test]
fn a_run_killed_mid_round_resumes_without_losing_a_completed_step() {
    let t = Test::new();
    let ran = t.out_path("ran");
    let release = t.out_path("release");
    // Candidate 1 finishes at once; 2 and 3 wait for the release file.
    agent_config(
        &t,
        &format!(
            "if [ \"$PIPELINE_CANDIDATE\" != 1 ]; then {}; fi\necho right > answer.txt",
            crate::handshake::await_file(&release)
        ),
    );
    let ws = t.workstream(
        "ws.json",
        &format!(
            r#"{{"id": "w", "steps": [
                {{"id": "first", "command": "echo first >> {ran}; echo 1 > first.txt"}},
                {{"id": "best", "tool": "agent", "tasks": ["Write answer.txt"], "candidates": 3,
                  "depends_on": ["first"], "acceptance_tests": ["grep -qx right answer.txt"]}}]}}"#
        ),
    );
    let mut child = t.spawn(&[
        "run",
        ws.to_str().unwrap(),
        "--run-id",
        "kill",
        "--jobs",
        "3",
    ]);
    let count = |kind: &str| journalled(&t, "kill", "w/best", kind);
    crate::handshake::wait_until("candidate 1 finished, 2 and 3 running", || {
        (count("candidate_started") == 3 && count("candidate_finished") == 1).then_some(())
    });
    child.kill().expect("SIGKILL pipeline");
    child.wait().unwrap();
    assert!(t.events("kill", "w/best", "candidate_selected").is_empty());

    std::fs::write(&release, "go").unwrap();
    t.pipeline(&["resume", "kill"]).assert_ok();
    assert_eq!(
        t.out_lines("ran"),
        vec!["first".to_owned()],
        "first ran once"
    );
    let step = t.step_status("kill", "w/best");
    assert_eq!(step["status"], "completed", "{step:#}");
    assert_eq!(step["attempts"], 6, "the round ran again: {step:#}");
    let selected = t.events("kill", "w/best", "candidate_selected");
    assert_eq!(selected.len(), 1, "one kept candidate: {selected:#?}");
    assert!(
        selected[0]["attempt"].as_u64().unwrap() > 3,
        "kept from the resumed round: {selected:#?}"
    );
    let kept: Vec<&Value> = step["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["selected"] == true)
        .collect();
    assert_eq!(kept.len(), 1, "{step:#}");
    assert_eq!(
        t.show("pipeline/kill", "answer.txt").as_deref(),
        Some("right\n")
    );
    assert_eq!(t.show("pipeline/kill", "first.txt").as_deref(), Some("1\n"));
}

/// One Claude Code session against the fake model server: a `Bash` tool use running
/// `command`, then the closing text; each request reports 100 input and 7 output tokens.
fn claude_session(command: &str) -> Vec<fake_model_server::Scripted> {
    use fake_model_server::Scripted;
    let usage = serde_json::json!({"input_tokens": 100, "output_tokens": 7});
    vec![
        Scripted::Reply(serde_json::json!({
            "tool_use": {"name": "Bash", "input": {"command": command, "description": "Write the answer"}},
            "usage": usage,
        })),
        Scripted::Reply(serde_json::json!({"text": "Done.", "usage": usage})),
    ]
}

#[test]
fn with_the_real_claude_code_the_one_passing_candidate_of_three_is_kept() {
    let Some(bin) = crate::ai_claude::claude_bin() else {
        return;
    };
    let server = fake_model_server::FakeModelServer::start().expect("fake server starts");
    // --jobs 1: the three sessions run one after the other and take the scripted
    // replies in turn; only one of them writes the answer the test wants.
    let mut replies = claude_session("echo wrong > answer.txt");
    replies.extend(claude_session("echo right > answer.txt"));
    replies.extend(claude_session("printf 'wrong\\nwrong\\n' > answer.txt"));
    server.script(fake_model_server::Api::AnthropicMessages, replies);
    let t =
        crate::ai_cli::CliProfile::new("claude", &bin, crate::ai_claude::MODEL, server.base_url())
            .key("PIPELINE_TEST_CLAUDE_KEY", crate::ai_claude::KEY)
            .env("CLAUDE_CODE_MAX_RETRIES", "0")
            .test();
    let ws = t.workstream(
        "ws.json",
        r#"{"id": "answer", "tool": "claude", "tasks": ["Write answer.txt"],
            "files_scope": ["answer.txt"], "candidates": 3, "fix_attempts": 0,
            "acceptance_tests": ["grep -qx right answer.txt"], "retry": {"max_attempts": 1}}"#,
    );
    t.run(&ws, "real", 1).assert_ok();
    assert_eq!(
        t.show("pipeline/real", "answer.txt").as_deref(),
        Some("right\n")
    );
    let finished = t.events("real", "answer", "candidate_finished");
    let passed: Vec<&Value> = finished
        .iter()
        .filter(|f| f["outcome"] == "passed")
        .collect();
    assert_eq!(passed.len(), 1, "{finished:#?}");
    let selected = t.events("real", "answer", "candidate_selected");
    assert_eq!(selected.len(), 1, "{selected:#?}");
    assert_eq!(selected[0]["candidate"], passed[0]["candidate"]);
    assert_eq!(
        selected[0]["reason"],
        "the only passing candidate of the round (1 diff lines)"
    );
    // Every candidate's tokens count, the two discarded ones' included.
    let usage: Value = serde_json::from_str(
        &t.pipeline(&["usage", "real", "--json"])
            .assert_ok()
            .stdout(),
    )
    .unwrap();
    assert_eq!(usage["total"]["attempts"], 3, "{usage:#}");
    let reported: u64 = finished
        .iter()
        .map(|f| f["usage"]["input_tokens"].as_u64().unwrap_or(0))
        .sum();
    assert!(
        reported >= 600,
        "two requests of 100 tokens per candidate: {finished:#?}"
    );
    assert_eq!(usage["total"]["input_tokens"], reported, "{usage:#}");
}

#[test]
fn the_kept_candidate_is_approved_merged_forward_and_cached_like_any_result() {
    let t = Test::new();
    agent_config(&t, THREE_WAYS);
    let ws = t.workstream(
        "ws.json",
        r#"{"id": "w", "steps": [
            {"id": "best", "tool": "agent", "tasks": ["Write answer.txt"], "candidates": 3,
             "acceptance_tests": ["grep -qx right answer.txt"], "fix_attempts": 0,
             "approval": "required"},
            {"id": "after", "depends_on": ["best"], "command": "cp answer.txt copy.txt"}]}"#,
    );
    t.pipeline(&[
        "run",
        ws.to_str().unwrap(),
        "--run-id",
        "fwd",
        "--jobs",
        "3",
        "--approve-all",
    ])
    .assert_ok();
    // The choice is journalled with the approval and completion, in that order.
    let kinds: Vec<String> = t
        .journal("fwd")
        .into_iter()
        .filter(|e| e.step.as_deref() == Some("w/best"))
        .map(|e| e.kind)
        .filter(|k| ["candidate_selected", "step_approved", "step_completed"].contains(&k.as_str()))
        .collect();
    assert_eq!(
        kinds,
        vec!["candidate_selected", "step_approved", "step_completed"],
        "{kinds:?}"
    );
    // The dependent started from the kept candidate's result.
    assert_eq!(
        t.show("pipeline/fwd", "copy.txt").as_deref(),
        Some("right\n")
    );
    // A second run takes the kept result from the step cache: no new round.
    t.pipeline(&[
        "run",
        ws.to_str().unwrap(),
        "--run-id",
        "again",
        "--jobs",
        "3",
        "--approve-all",
    ])
    .assert_ok();
    assert_eq!(t.events("again", "w/best", "step_cached").len(), 1);
    assert!(t.events("again", "w/best", "candidate_started").is_empty());
    assert_eq!(
        t.show("pipeline/again", "answer.txt").as_deref(),
        Some("right\n")
    );
}

#[test]
fn each_candidate_gets_its_own_copy_into_worktree_and_setup() {
    let t = Test::new();
    std::fs::write(t.repo.join(".env"), "TOKEN=candidate-secret-value-123\n").unwrap();
    agent_config(
        &t,
        r#"grep -q TOKEN= .env && cat prepared.txt > answer.txt && echo right >> answer.txt"#,
    );
    let ws = answer_workstream(
        &t,
        r#", "candidates": 2, "copy_into_worktree": [".env"],
            "setup": [{"command": "echo \"set up for $PIPELINE_CANDIDATE\" > prepared.txt", "outputs": ["prepared.txt"]}]"#,
    );
    t.run(&ws, "prep", 2).assert_ok();
    let setups = t.events("prep", "answer", "setup_finished");
    let mut attempts: Vec<u64> = setups
        .iter()
        .filter(|s| s["succeeded"] == true)
        .map(|s| s["attempt"].as_u64().unwrap())
        .collect();
    attempts.sort();
    assert_eq!(
        attempts,
        vec![1, 2],
        "one set-up per candidate: {setups:#?}"
    );
    // The kept candidate's answer says which candidate's set-up it saw; neither the
    // copied .env nor the set-up output is committed.
    let answer = t.show("pipeline/prep", "answer.txt").unwrap();
    let selected = t.events("prep", "answer", "candidate_selected");
    let kept = selected[0]["candidate"].as_u64().unwrap();
    assert_eq!(answer, format!("set up for {kept}\nright\n"));
    assert_eq!(t.show("pipeline/prep", ".env"), None);
    assert_eq!(t.show("pipeline/prep", "prepared.txt"), None);
}
