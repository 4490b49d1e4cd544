//! The run journal is the one source of truth: what `--json` prints matches the published
//! event schema, and replaying it gives what `pipeline status --json` reads from the
//! state tables.

use pipeline_core::state::{JournalEntry, RunReplay};
use serde_json::Value;

use crate::support::Test;

/// A run with every kind of step outcome: a step completing after a transient failure
/// and a backoff, one with a passing acceptance test, one failing for good with a
/// classified error, its dependent skipped.
fn eventful_run(t: &Test) -> Vec<String> {
    let counter = t.out.join("flaky.count");
    let flaky = format!(
        "n=$(cat {c} 2>/dev/null || echo 0); n=$((n+1)); echo $n > {c}; \
         if [ $n -lt 2 ]; then echo 'Connection reset by peer' >&2; exit 1; fi; echo ok > flaky.txt",
        c = counter.display()
    );
    let ws = t.workstream(
        "journal.json",
        &format!(
            r#"{{"id": "j", "steps": [
                {{"id": "flaky", "command": {flaky}, "files_scope": ["flaky.txt"],
                  "retry": {{"initial_delay": 0.05, "jitter": false, "max_attempts": 3}}}},
                {{"id": "tested", "command": "echo hi > hi.txt", "files_scope": ["hi.txt"],
                  "acceptance_tests": ["test -f hi.txt"]}},
                {{"id": "broken", "command": "echo 'error: this cannot work' >&2; exit 3",
                  "retry": {{"enabled": false}}}},
                {{"id": "after", "command": "true", "depends_on": ["broken"]}}
            ]}}"#,
            flaky = serde_json::to_string(&flaky).unwrap()
        ),
    );
    let r = t
        .pipeline(&[
            "run",
            ws.to_str().unwrap(),
            "--run-id",
            "jr",
            "--json",
            "--jobs",
            "2",
        ])
        .assert_code(1);
    r.stdout().lines().map(str::to_owned).collect()
}

#[test]
fn json_output_is_the_journal_and_matches_the_published_schema() {
    let t = Test::new();
    let lines = eventful_run(&t);
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/schema/events.schema.json"
        ))
        .expect("schema/events.schema.json"),
    )
    .expect("the schema is JSON");
    let validator = jsonschema::validator_for(&schema).expect("a valid JSON Schema");
    let (summary, entries) = lines.split_last().expect("output");
    assert!(summary.contains(r#""event":"summary""#), "{summary}");
    let mut last_id = 0;
    let mut kinds = Vec::new();
    for line in entries {
        let value: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{line}: {e}"));
        let errors: Vec<String> = validator
            .iter_errors(&value)
            .map(|e| e.to_string())
            .collect();
        assert!(
            errors.is_empty(),
            "{line} does not match the schema: {errors:?}"
        );
        let id = value["id"].as_i64().expect("id");
        assert!(id > last_id, "ids increase: {id} after {last_id}");
        last_id = id;
        assert_eq!(value["run_id"], "jr");
        assert!(
            value["at"]
                .as_str()
                .is_some_and(|at| at.ends_with('Z') && at.len() == 24)
        );
        kinds.push(value["event"].as_str().unwrap_or_default().to_owned());
    }
    for kind in [
        "run_started",
        "step_added",
        "attempt_started",
        "attempt_finished",
        "step_waiting",
        "test_started",
        "test_finished",
        "step_completed",
        "step_failed",
        "step_skipped",
        "run_finished",
    ] {
        assert!(kinds.iter().any(|k| k == kind), "no {kind} in {kinds:?}");
    }
    // The same entries, with the same ids, are in the state database.
    let db = rusqlite::Connection::open(t.repo.join(".pipeline/state.db")).expect("db");
    let stored: Vec<(i64, String)> = db
        .prepare("SELECT id, kind FROM events WHERE run_id = 'jr' ORDER BY id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(stored.len(), entries.len());
    assert_eq!(stored.last().map(|s| s.0), Some(last_id));
}

#[test]
fn replaying_the_journal_gives_what_status_reads_from_the_tables() {
    let t = Test::new();
    let lines = eventful_run(&t);
    let entries: Vec<JournalEntry> = lines[..lines.len() - 1]
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect();
    let replay = RunReplay::from_journal(&entries).expect("the journal begins the run");
    let status: Value =
        serde_json::from_str(&t.pipeline(&["status", "jr", "--json"]).assert_ok().stdout())
            .expect("status JSON");

    assert_eq!(status["status"], replay.run.status.as_str());
    assert_eq!(status["started_at"], replay.run.started_at.as_str());
    assert_eq!(
        status["finished_at"].as_str(),
        replay.run.finished_at.as_deref()
    );
    assert_eq!(status["base_commit"], replay.run.base_commit.as_str());
    let steps = status["steps"].as_array().expect("steps");
    assert_eq!(steps.len(), replay.steps.len());
    for (shown, replayed) in steps.iter().zip(&replay.steps) {
        let r = &replayed.record;
        let id = r.step_id.as_str();
        assert_eq!(shown["id"], id);
        assert_eq!(shown["status"], r.status.as_str(), "{id}");
        assert_eq!(shown["attempts"], r.attempts, "{id}");
        assert_eq!(shown["commit"].as_str(), r.commit.as_deref(), "{id}");
        assert_eq!(
            shown["started_at"].as_str(),
            r.started_at.as_deref(),
            "{id}"
        );
        assert_eq!(
            shown["finished_at"].as_str(),
            r.finished_at.as_deref(),
            "{id}"
        );
        assert_eq!(shown["error"].as_str(), r.error.as_deref(), "{id}");
        assert_eq!(shown["worktree"].as_str(), r.worktree.as_deref(), "{id}");
        assert_eq!(shown["depends_on"], serde_json::json!(r.depends_on), "{id}");
        assert_eq!(
            shown["tests"],
            serde_json::to_value(&replayed.tests).unwrap(),
            "{id}"
        );
        match (&shown["last_error"], replayed.last_error()) {
            (Value::Null, None) => {}
            (shown_error, Some((summary, occurrences, last_attempt))) => {
                assert_eq!(shown_error["class"], summary.class.as_str(), "{id}");
                assert_eq!(shown_error["signature"], summary.signature.as_str(), "{id}");
                assert_eq!(shown_error["occurrences"], occurrences, "{id}");
                assert_eq!(shown_error["last_attempt"], last_attempt, "{id}");
            }
            (shown_error, None) => panic!("{id}: status shows {shown_error} but replay has none"),
        }
    }
    // What the test is about happened: a retry, a pass, a failure, a skip.
    let by_id = |id: &str| {
        replay
            .steps
            .iter()
            .find(|s| s.record.step_id == id)
            .expect(id)
    };
    assert_eq!(by_id("j/flaky").record.attempts, 2);
    assert_eq!(
        by_id("j/flaky").attempts[0]
            .classified
            .as_ref()
            .map(|c| c.class.as_str()),
        Some("transient")
    );
    assert!(
        by_id("j/tested").tests.iter().all(|t| t.passed) && !by_id("j/tested").tests.is_empty()
    );
    assert_eq!(by_id("j/broken").record.status.as_str(), "failed");
    assert_eq!(by_id("j/after").record.status.as_str(), "skipped");
}

#[test]
fn a_failed_state_write_stops_the_run_with_exit_3_and_the_run_resumes() {
    let t = Test::new();
    // A first run creates the state database.
    let init = t.workstream(
        "init.json",
        r#"{"id": "init", "command": "true", "isolation": "none"}"#,
    );
    t.run(&init, "init", 1).assert_ok();
    let ws = t.workstream(
        "w.json",
        r#"{"id": "w", "steps": [
            {"id": "a", "command": "echo a > a.txt", "files_scope": ["a.txt"]},
            {"id": "b", "command": "echo b > b.txt", "files_scope": ["b.txt"], "depends_on": ["a"]}
        ]}"#,
    );
    // The database refuses to record b's completion, as a full disk would.
    let db = rusqlite::Connection::open(t.repo.join(".pipeline/state.db")).expect("db");
    db.execute_batch(
        "CREATE TRIGGER full_disk BEFORE INSERT ON events \
         WHEN NEW.kind = 'step_completed' AND NEW.step_id = 'w/b' \
         BEGIN SELECT RAISE(ABORT, 'database or disk is full (simulated)'); END;",
    )
    .expect("trigger");
    let failed = t.run(&ws, "wr", 1).assert_code(3);
    assert!(
        failed
            .stderr()
            .contains("database or disk is full (simulated)"),
        "{}",
        failed.stderr()
    );
    // Nothing recorded was lost or made up: a completed, b never recorded completed,
    // the run not finished but stopped: interrupted, with b settled (not left running).
    let status = t.status("wr");
    assert_eq!(status["status"], "interrupted", "{status:#}");
    assert_eq!(t.step_status("wr", "w/a")["status"], "completed");
    assert_eq!(t.step_status("wr", "w/b")["status"], "interrupted");

    db.execute_batch("DROP TRIGGER full_disk;")
        .expect("drop trigger");
    t.pipeline(&["resume", "wr"]).assert_ok();
    assert_eq!(t.step_status("wr", "w/a")["attempts"], 1, "a was kept");
    assert_eq!(t.step_status("wr", "w/b")["status"], "completed");
    assert_eq!(t.step_status("wr", "w/b")["attempts"], 2);
    assert_eq!(t.show("pipeline/wr", "a.txt").as_deref(), Some("a\n"));
    assert_eq!(t.show("pipeline/wr", "b.txt").as_deref(), Some("b\n"));
    assert_eq!(
        t.events("wr", "w/b", "step_interrupted").len(),
        1,
        "b was recorded interrupted once"
    );
}

#[test]
fn a_run_whose_step_list_was_recorded_in_part_gets_the_rest_on_resume() {
    let t = Test::new();
    let init = t.workstream(
        "init.json",
        r#"{"id": "init", "command": "true", "isolation": "none"}"#,
    );
    t.run(&init, "init", 1).assert_ok();
    // 1,200 steps: recorded in two transactions when the run starts.
    let steps: Vec<String> = (0..1200)
        .map(|i| format!(r#"{{"id": "s{i:04}", "command": "true", "isolation": "none"}}"#))
        .collect();
    let ws = t.workstream(
        "many.json",
        &format!(r#"{{"id": "m", "steps": [{}]}}"#, steps.join(",")),
    );
    let db = rusqlite::Connection::open(t.repo.join(".pipeline/state.db")).expect("db");
    db.execute_batch(
        "CREATE TRIGGER full_disk BEFORE INSERT ON events \
         WHEN NEW.kind = 'step_added' AND NEW.step_id = 'm/s1100' \
         BEGIN SELECT RAISE(ABORT, 'database or disk is full (simulated)'); END;",
    )
    .expect("trigger");
    t.run(&ws, "many", 2).assert_code(3);
    let recorded: i64 = db
        .query_row(
            "SELECT count(*) FROM steps WHERE run_id = 'many'",
            [],
            |r| r.get(0),
        )
        .expect("count");
    assert_eq!(recorded, 1000, "the first transaction's steps only");
    db.execute_batch("DROP TRIGGER full_disk;")
        .expect("drop trigger");
    t.pipeline(&["resume", "many"]).assert_ok();
    let status = t.status("many");
    let steps = status["steps"].as_array().expect("steps");
    assert_eq!(steps.len(), 1200);
    assert!(steps.iter().all(|s| s["status"] == "completed"));
}
