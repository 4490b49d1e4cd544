//! Tests of the state store on real temporary SQLite files.

use std::path::Path;
use std::thread;

use serde_json::json;

use super::*;
use crate::state::migrations::{APPLICATION_ID, SCHEMA_VERSION};
use crate::state::{AttemptResult, UnknownValue};

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn new_step(step_id: &str, depends_on: &[&str]) -> NewStep {
    NewStep {
        step_id: step_id.to_owned(),
        workstream_id: step_id.split('/').next().unwrap_or(step_id).to_owned(),
        definition_hash: format!("hash-{step_id}"),
        depends_on: depends_on.iter().map(|s| (*s).to_owned()).collect(),
    }
}

fn new_run(run_id: &str, steps: Vec<NewStep>) -> NewRun {
    NewRun {
        run_id: run_id.to_owned(),
        workstream_path: "/repo/workstreams/ws.json".to_owned(),
        repo_path: "/repo".to_owned(),
        base_commit: "0123456789abcdef0123456789abcdef01234567".to_owned(),
        result_branch: format!("pipeline/{run_id}"),
        jobs: 2,
        plan_hash: "plan-hash".to_owned(),
        steps,
    }
}

fn outcome(result: AttemptResult, exit_code: Option<i32>) -> AttemptOutcome {
    AttemptOutcome {
        outcome: result,
        exit_code,
        error: (result != AttemptResult::Succeeded).then(|| "boom".to_owned()),
        duration_ms: 1500,
    }
}

fn checkpoint(commit: &str, definition_hash: &str) -> Checkpoint {
    Checkpoint {
        commit: commit.to_owned(),
        definition_hash: definition_hash.to_owned(),
        outputs: json!({ "files": ["src/lib.rs"] }),
    }
}

fn pragma(path: &Path, name: &str) -> Result<i64, rusqlite::Error> {
    Connection::open(path)?.pragma_query_value(None, name, |row| row.get(0))
}

fn kinds(events: &[EventRecord]) -> Vec<(&str, Option<&str>)> {
    events
        .iter()
        .map(|e| (e.kind.as_str(), e.step_id.as_deref()))
        .collect()
}

#[test]
fn open_creates_parent_dirs_and_migrations_are_idempotent() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("nested/.pipeline/state.db");
    let store = StateStore::open(&path, Durability::Normal)?;
    assert_eq!(store.path(), path);
    store.create_run(&new_run("r1", vec![new_step("ws", &[])]))?;
    drop(store);

    // Second and third open: no migration re-runs (it would fail on CREATE TABLE), data kept.
    for durability in [Durability::Full, Durability::Normal] {
        let store = StateStore::open(&path, durability)?;
        assert_eq!(store.runs()?.len(), 1);
        assert_eq!(store.steps("r1")?.len(), 1);
    }
    assert_eq!(pragma(&path, "user_version")?, SCHEMA_VERSION);
    assert_eq!(pragma(&path, "application_id")?, i64::from(APPLICATION_ID));
    let journal_mode: String =
        Connection::open(&path)?.pragma_query_value(None, "journal_mode", |row| row.get(0))?;
    assert_eq!(journal_mode, "wal");
    Ok(())
}

#[test]
fn newer_schema_is_refused_and_the_file_is_not_modified() -> TestResult {
    let dir = tempfile::tempdir()?;

    // A database written by a future pipeline, still in rollback-journal mode: opening it
    // must not even switch it to WAL.
    let path = dir.path().join("future.db");
    {
        let conn = Connection::open(&path)?;
        conn.execute_batch("CREATE TABLE runs (run_id TEXT PRIMARY KEY);")?;
        conn.pragma_update(None, "application_id", APPLICATION_ID)?;
        conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1)?;
    }
    let before = fs::read(&path)?;
    match StateStore::open(&path, Durability::Normal) {
        Err(StateError::NewerSchema {
            path: p,
            found,
            supported,
        }) => {
            assert_eq!(p, path);
            assert_eq!(found, SCHEMA_VERSION + 1);
            assert_eq!(supported, SCHEMA_VERSION);
        }
        other => panic!("expected NewerSchema, got {other:?}"),
    }
    assert_eq!(fs::read(&path)?, before, "refused database was modified");
    assert!(!dir.path().join("future.db-wal").exists());

    // A real store database bumped by a newer binary.
    let path = dir.path().join("state.db");
    StateStore::open(&path, Durability::Normal)?.create_run(&new_run("r1", vec![]))?;
    Connection::open(&path)?.pragma_update(None, "user_version", 42)?;
    let before = fs::read(&path)?;
    let err = StateStore::open(&path, Durability::Normal).err();
    let message = err.as_ref().map(ToString::to_string).unwrap_or_default();
    assert!(
        matches!(err, Some(StateError::NewerSchema { found: 42, .. })),
        "{err:?}"
    );
    assert!(message.contains("upgrade pipeline"), "{message}");
    assert_eq!(fs::read(&path)?, before, "refused database was modified");
    Ok(())
}

#[test]
fn non_sqlite_file_is_refused_and_kept() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("state.db");
    let text = "this is a workstream, not a database\n".repeat(50);
    fs::write(&path, &text)?;
    match StateStore::open(&path, Durability::Normal) {
        Err(StateError::NotADatabase { path: p }) => assert_eq!(p, path),
        other => panic!("expected NotADatabase, got {other:?}"),
    }
    assert_eq!(fs::read_to_string(&path)?, text);

    // Shorter than a SQLite header.
    fs::write(&path, "hello")?;
    assert!(matches!(
        StateStore::open(&path, Durability::Normal),
        Err(StateError::NotADatabase { .. })
    ));
    assert_eq!(fs::read_to_string(&path)?, "hello");
    Ok(())
}

#[test]
fn another_applications_database_is_refused_and_kept() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("other.db");
    Connection::open(&path)?.execute_batch("CREATE TABLE notes (body TEXT);")?;
    let before = fs::read(&path)?;
    assert!(matches!(
        StateStore::open(&path, Durability::Normal),
        Err(StateError::ForeignDatabase { .. })
    ));

    let with_id = dir.path().join("tagged.db");
    Connection::open(&with_id)?.pragma_update(None, "application_id", 7)?;
    assert!(matches!(
        StateStore::open(&with_id, Durability::Normal),
        Err(StateError::ForeignDatabase { .. })
    ));
    assert_eq!(fs::read(&path)?, before);
    Ok(())
}

#[test]
fn a_write_lock_held_past_the_busy_timeout_is_reported_as_busy() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("state.db");
    let store = StateStore::open(&path, Durability::Normal)?;
    store.create_run(&new_run("r1", vec![new_step("ws", &[])]))?;

    let other = Connection::open(&path)?;
    other.execute_batch("BEGIN IMMEDIATE")?;
    // WAL: readers are not blocked by the other process's write transaction.
    assert_eq!(store.runs()?.len(), 1);
    let err = store.set_run_status("r1", RunStatus::Failed).err();
    assert!(
        matches!(&err, Some(StateError::Busy { path: p }) if *p == path),
        "{err:?}"
    );
    other.execute_batch("ROLLBACK")?;

    // Nothing was written, and the store works again once the lock is gone.
    assert_eq!(store.run("r1")?.map(|r| r.status), Some(RunStatus::Running));
    store.set_run_status("r1", RunStatus::Failed)?;
    assert_eq!(store.run("r1")?.map(|r| r.status), Some(RunStatus::Failed));
    Ok(())
}

#[test]
fn create_begin_complete_round_trip_records_events_in_order() -> TestResult {
    let dir = tempfile::tempdir()?;
    let store = StateStore::open(&dir.path().join("state.db"), Durability::Normal)?;
    let run = new_run(
        "r1",
        vec![new_step("ws/a", &[]), new_step("ws/b", &["ws/a"])],
    );
    store.create_run(&run)?;

    let record = store.run("r1")?.ok_or("run r1 missing")?;
    assert_eq!(record.status, RunStatus::Running);
    assert_eq!(record.jobs, 2);
    assert_eq!(record.base_commit, run.base_commit);
    assert_eq!(record.result_branch, "pipeline/r1");
    assert_eq!(record.finished_at, None);
    assert_eq!(record.started_at.len(), "2026-01-31T12:00:00.123Z".len());
    assert!(record.started_at.ends_with('Z'));

    let steps = store.steps("r1")?;
    let ids: Vec<&str> = steps.iter().map(|s| s.step_id.as_str()).collect();
    assert_eq!(ids, ["ws/a", "ws/b"]);
    assert!(
        steps
            .iter()
            .all(|s| s.status == StepStatus::Pending && s.attempts == 0)
    );
    assert_eq!(steps[1].depends_on, ["ws/a"]);
    assert_eq!(steps[1].workstream_id, "ws");

    let attempt = store.begin_attempt("r1", "ws/a", Some("/wt/a"), "/logs/a/1.log")?;
    assert_eq!(attempt, 1);
    let step = store.step("r1", "ws/a")?.ok_or("step missing")?;
    assert_eq!(step.status, StepStatus::Running);
    assert_eq!(step.attempts, 1);
    assert_eq!(step.worktree.as_deref(), Some("/wt/a"));
    assert!(step.started_at.is_some());

    store.set_step_status("r1", "ws/a", StepStatus::Validating, None)?;
    store.finish_attempt("r1", "ws/a", 1, &outcome(AttemptResult::Succeeded, Some(0)))?;
    store.complete_step("r1", "ws/a", &checkpoint("c0ffee", "hash-ws/a"))?;

    let step = store.step("r1", "ws/a")?.ok_or("step missing")?;
    assert_eq!(step.status, StepStatus::Completed);
    assert_eq!(step.commit.as_deref(), Some("c0ffee"));
    assert!(step.finished_at.is_some());
    assert_eq!(step.error, None);
    assert_eq!(
        store.checkpoint("r1", "ws/a")?,
        Some(checkpoint("c0ffee", "hash-ws/a"))
    );
    assert_eq!(store.checkpoint("r1", "ws/b")?, None);

    let attempts = store.attempts("r1", "ws/a")?;
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0].attempt, 1);
    assert_eq!(attempts[0].outcome, Some(AttemptResult::Succeeded));
    assert_eq!(attempts[0].exit_code, Some(0));
    assert_eq!(attempts[0].duration_ms, Some(1500));
    assert_eq!(attempts[0].log_path, "/logs/a/1.log");
    assert!(attempts[0].finished_at.is_some());

    let id = store.append_event("r1", Some("ws/b"), "note", &json!({ "text": "hi" }))?;
    store.set_run_status("r1", RunStatus::Completed)?;
    let finished = store.run("r1")?.ok_or("run missing")?;
    assert_eq!(finished.status, RunStatus::Completed);
    assert!(finished.finished_at.is_some());

    let events = store.events("r1", 0)?;
    assert_eq!(
        kinds(&events),
        [
            (event_kind::RUN_CREATED, None),
            (event_kind::ATTEMPT_STARTED, Some("ws/a")),
            (event_kind::STEP_STATUS, Some("ws/a")),
            (event_kind::ATTEMPT_FINISHED, Some("ws/a")),
            (event_kind::STEP_COMPLETED, Some("ws/a")),
            ("note", Some("ws/b")),
            (event_kind::RUN_STATUS, None),
        ]
    );
    assert!(events.windows(2).all(|w| w[0].id < w[1].id));
    assert_eq!(events[0].data["steps"], 2);
    assert_eq!(events[1].data["attempt"], 1);
    assert_eq!(events[2].data["status"], "validating");
    assert_eq!(events[3].data["outcome"], "succeeded");
    assert_eq!(events[4].data["commit"], "c0ffee");
    assert_eq!(events[5].data, json!({ "text": "hi" }));
    assert_eq!(events[5].id, id);
    assert_eq!(events[6].data["status"], "completed");

    let later = store.events("r1", id)?;
    assert_eq!(kinds(&later), [(event_kind::RUN_STATUS, None)]);
    assert!(store.events("unknown", 0)?.is_empty());
    Ok(())
}

#[test]
fn attempt_numbers_continue_after_reopening_and_reset() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("state.db");
    {
        let store = StateStore::open(&path, Durability::Full)?;
        store.create_run(&new_run("r1", vec![new_step("ws", &[])]))?;
        assert_eq!(store.begin_attempt("r1", "ws", None, "1.log")?, 1);
        store.finish_attempt("r1", "ws", 1, &outcome(AttemptResult::Failed, Some(1)))?;
        assert_eq!(store.begin_attempt("r1", "ws", None, "2.log")?, 2);
        // The process dies here: attempt 2 never finishes.
    }
    let store = StateStore::open(&path, Durability::Normal)?;
    assert_eq!(store.interrupt_run("r1")?, ["ws"]);
    assert_eq!(store.begin_attempt("r1", "ws", None, "3.log")?, 3);
    store.reset_step("r1", "ws", "new-hash")?;
    assert_eq!(store.begin_attempt("r1", "ws", None, "4.log")?, 4);

    let attempts = store.attempts("r1", "ws")?;
    let numbers: Vec<u32> = attempts.iter().map(|a| a.attempt).collect();
    assert_eq!(numbers, [1, 2, 3, 4]);
    assert_eq!(attempts[1].outcome, Some(AttemptResult::Interrupted));
    assert_eq!(attempts[1].duration_ms, None);
    assert_eq!(store.step("r1", "ws")?.map(|s| s.attempts), Some(4));
    Ok(())
}

#[test]
fn events_are_append_only_but_deleted_with_their_run() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("state.db");
    let store = StateStore::open(&path, Durability::Normal)?;
    store.create_run(&new_run("r1", vec![new_step("ws", &[])]))?;
    store.create_run(&new_run("r2", vec![new_step("ws", &[])]))?;
    let attempt = store.begin_attempt("r1", "ws", Some("/wt"), "1.log")?;
    store.finish_attempt(
        "r1",
        "ws",
        attempt,
        &outcome(AttemptResult::Succeeded, Some(0)),
    )?;
    store.complete_step("r1", "ws", &checkpoint("abc", "hash-ws"))?;

    let raw = Connection::open(&path)?;
    let err = raw
        .execute("UPDATE events SET kind = 'forged' WHERE run_id = 'r1'", [])
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        err.contains("append-only"),
        "UPDATE was not rejected: {err:?}"
    );
    let forged: i64 = raw.query_row(
        "SELECT count(*) FROM events WHERE kind = 'forged'",
        [],
        |r| r.get(0),
    )?;
    assert_eq!(forged, 0);

    store.delete_run("r1")?;
    assert_eq!(store.run("r1")?, None);
    for table in ["steps", "attempts", "events", "checkpoints"] {
        let left: i64 = raw.query_row(
            &format!("SELECT count(*) FROM {table} WHERE run_id = 'r1'"),
            [],
            |r| r.get(0),
        )?;
        assert_eq!(left, 0, "{table} rows of the deleted run remain");
    }
    assert_eq!(store.steps("r2")?.len(), 1, "other run must be untouched");
    assert_eq!(store.events("r2", 0)?.len(), 1);
    assert!(matches!(
        store.delete_run("r1"),
        Err(StateError::RunNotFound { .. })
    ));
    Ok(())
}

#[test]
fn clones_used_from_four_threads_lose_no_write() -> TestResult {
    const THREADS: usize = 4;
    const STEPS_PER_THREAD: usize = 25;
    let dir = tempfile::tempdir()?;
    let store = StateStore::open(&dir.path().join("state.db"), Durability::Normal)?;
    let steps = (0..THREADS * STEPS_PER_THREAD)
        .map(|i| new_step(&format!("ws/s{i}"), &[]))
        .collect();
    store.create_run(&new_run("shared", steps))?;

    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let store = store.clone();
            thread::spawn(move || -> Result<(), StateError> {
                store.create_run(&new_run(&format!("own-{t}"), vec![new_step("ws", &[])]))?;
                for i in (t * STEPS_PER_THREAD)..((t + 1) * STEPS_PER_THREAD) {
                    let step_id = format!("ws/s{i}");
                    let attempt = store.begin_attempt("shared", &step_id, None, "x.log")?;
                    store.set_step_status("shared", &step_id, StepStatus::Validating, None)?;
                    store.finish_attempt(
                        "shared",
                        &step_id,
                        attempt,
                        &outcome(AttemptResult::Succeeded, Some(0)),
                    )?;
                    store.complete_step("shared", &step_id, &checkpoint(&step_id, "h"))?;
                    store.append_event("shared", Some(&step_id), "note", &json!(i))?;
                }
                Ok(())
            })
        })
        .collect();
    for handle in handles {
        handle.join().map_err(|_| "worker thread panicked")??;
    }

    let steps = store.steps("shared")?;
    assert_eq!(steps.len(), THREADS * STEPS_PER_THREAD);
    for step in &steps {
        assert_eq!(step.status, StepStatus::Completed, "{}", step.step_id);
        assert_eq!(step.attempts, 1, "{}", step.step_id);
        assert_eq!(step.commit.as_deref(), Some(step.step_id.as_str()));
    }
    // run_created + 5 events per step.
    let events = store.events("shared", 0)?;
    assert_eq!(events.len(), 1 + 5 * THREADS * STEPS_PER_THREAD);
    assert_eq!(store.runs()?.len(), 1 + THREADS);
    Ok(())
}

#[test]
fn reset_step_deletes_the_checkpoint_and_keeps_attempts() -> TestResult {
    let dir = tempfile::tempdir()?;
    let store = StateStore::open(&dir.path().join("state.db"), Durability::Normal)?;
    store.create_run(&new_run("r1", vec![new_step("ws", &[])]))?;
    let attempt = store.begin_attempt("r1", "ws", Some("/wt"), "1.log")?;
    store.finish_attempt(
        "r1",
        "ws",
        attempt,
        &outcome(AttemptResult::Succeeded, Some(0)),
    )?;
    store.complete_step("r1", "ws", &checkpoint("abc", "hash-ws"))?;

    store.reset_step("r1", "ws", "hash-v2")?;
    assert_eq!(store.checkpoint("r1", "ws")?, None);
    let step = store.step("r1", "ws")?.ok_or("step missing")?;
    assert_eq!(step.status, StepStatus::Pending);
    assert_eq!(step.commit, None);
    assert_eq!(step.finished_at, None);
    assert_eq!(step.error, None);
    assert_eq!(step.definition_hash, "hash-v2");
    assert_eq!(step.attempts, 1);
    assert_eq!(store.attempts("r1", "ws")?.len(), 1);

    let last = store.events("r1", 0)?.pop().ok_or("no events")?;
    assert_eq!(last.kind, event_kind::STEP_RESET);
    assert_eq!(
        last.data,
        json!({ "previous_status": "completed", "definition_hash": "hash-v2" })
    );
    Ok(())
}

#[test]
fn interrupt_run_marks_active_steps_and_open_attempts() -> TestResult {
    let dir = tempfile::tempdir()?;
    let store = StateStore::open(&dir.path().join("state.db"), Durability::Normal)?;
    let steps = ["ws/a", "ws/b", "ws/c", "ws/d"]
        .iter()
        .map(|id| new_step(id, &[]))
        .collect();
    store.create_run(&new_run("r1", steps))?;
    store.begin_attempt("r1", "ws/a", None, "a.log")?;
    store.begin_attempt("r1", "ws/b", None, "b.log")?;
    store.set_step_status("r1", "ws/b", StepStatus::Validating, None)?;
    let c = store.begin_attempt("r1", "ws/c", None, "c.log")?;
    store.finish_attempt("r1", "ws/c", c, &outcome(AttemptResult::Succeeded, Some(0)))?;
    store.complete_step("r1", "ws/c", &checkpoint("ccc", "hash-ws/c"))?;

    assert_eq!(store.interrupt_run("r1")?, ["ws/a", "ws/b"]);
    let statuses: Vec<StepStatus> = store.steps("r1")?.iter().map(|s| s.status).collect();
    assert_eq!(
        statuses,
        [
            StepStatus::Interrupted,
            StepStatus::Interrupted,
            StepStatus::Completed,
            StepStatus::Pending
        ]
    );
    for step_id in ["ws/a", "ws/b"] {
        let attempts = store.attempts("r1", step_id)?;
        assert_eq!(attempts[0].outcome, Some(AttemptResult::Interrupted));
        assert!(attempts[0].finished_at.is_some());
    }
    assert_eq!(
        store.attempts("r1", "ws/c")?[0].outcome,
        Some(AttemptResult::Succeeded)
    );
    let run = store.run("r1")?.ok_or("run missing")?;
    assert_eq!(run.status, RunStatus::Interrupted);
    assert_eq!(run.finished_at, None);
    assert!(matches!(
        store.interrupt_run("nope"),
        Err(StateError::RunNotFound { .. })
    ));
    Ok(())
}

#[test]
fn runs_are_newest_first_and_latest_unfinished_run_is_found() -> TestResult {
    let dir = tempfile::tempdir()?;
    let store = StateStore::open(&dir.path().join("state.db"), Durability::Normal)?;
    for id in ["run-a", "run-b", "run-c"] {
        store.create_run(&new_run(id, vec![]))?;
    }
    let mut elsewhere = new_run("run-d", vec![]);
    elsewhere.workstream_path = "/repo/workstreams/other.json".to_owned();
    store.create_run(&elsewhere)?;

    let ids: Vec<String> = store.runs()?.into_iter().map(|r| r.run_id).collect();
    assert_eq!(ids, ["run-d", "run-c", "run-b", "run-a"]);

    let path = "/repo/workstreams/ws.json";
    let latest = |store: &StateStore| -> Result<Option<String>, StateError> {
        Ok(store.latest_unfinished_run(path)?.map(|r| r.run_id))
    };
    assert_eq!(latest(&store)?.as_deref(), Some("run-c"));
    store.set_run_status("run-c", RunStatus::Completed)?;
    store.set_run_status("run-b", RunStatus::Interrupted)?;
    assert_eq!(latest(&store)?.as_deref(), Some("run-b"));
    store.set_run_status("run-b", RunStatus::Failed)?;
    store.set_run_status("run-a", RunStatus::Failed)?;
    assert_eq!(latest(&store)?, None);
    assert_eq!(store.latest_unfinished_run("/nowhere")?, None);
    Ok(())
}

#[test]
fn misuse_is_reported_with_the_ids_involved_and_changes_nothing() -> TestResult {
    let dir = tempfile::tempdir()?;
    let store = StateStore::open(&dir.path().join("state.db"), Durability::Normal)?;
    store.create_run(&new_run("r1", vec![new_step("ws", &[])]))?;

    assert!(matches!(
        store.create_run(&new_run("r1", vec![])),
        Err(StateError::RunExists { run_id }) if run_id == "r1"
    ));
    let duplicate = new_run("r2", vec![new_step("ws", &[]), new_step("ws", &[])]);
    assert!(matches!(
        store.create_run(&duplicate),
        Err(StateError::StepExists { run_id, step_id }) if run_id == "r2" && step_id == "ws"
    ));
    assert_eq!(
        store.run("r2")?,
        None,
        "a failed create_run must record nothing"
    );

    assert!(matches!(
        store.add_steps("r1", &[new_step("ws2", &[]), new_step("ws", &[])]),
        Err(StateError::StepExists { .. })
    ));
    assert_eq!(
        store.steps("r1")?.len(),
        1,
        "a failed add_steps must add nothing"
    );
    store.add_steps("r1", &[new_step("ws2", &["ws"])])?;
    let ids: Vec<String> = store.steps("r1")?.into_iter().map(|s| s.step_id).collect();
    assert_eq!(ids, ["ws", "ws2"]);
    assert!(matches!(
        store.add_steps("nope", &[new_step("x", &[])]),
        Err(StateError::RunNotFound { .. })
    ));

    assert!(matches!(
        store.set_run_status("nope", RunStatus::Failed),
        Err(StateError::RunNotFound { run_id }) if run_id == "nope"
    ));
    assert!(matches!(
        store.begin_attempt("r1", "missing", None, "x.log"),
        Err(StateError::StepNotFound { run_id, step_id }) if run_id == "r1" && step_id == "missing"
    ));
    assert!(matches!(
        store.set_step_status("r1", "missing", StepStatus::Failed, Some("x")),
        Err(StateError::StepNotFound { .. })
    ));
    assert!(matches!(
        store.complete_step("r1", "missing", &checkpoint("a", "b")),
        Err(StateError::StepNotFound { .. })
    ));
    assert!(matches!(
        store.reset_step("r1", "missing", "h"),
        Err(StateError::StepNotFound { .. })
    ));
    assert!(matches!(
        store.finish_attempt("r1", "ws", 1, &outcome(AttemptResult::Failed, None)),
        Err(StateError::AttemptNotFound { attempt: 1, .. })
    ));
    assert!(matches!(
        store.append_event("r1", Some("missing"), "note", &json!(null)),
        Err(StateError::StepNotFound { .. })
    ));
    assert!(matches!(
        store.append_event("nope", None, "note", &json!(null)),
        Err(StateError::RunNotFound { .. })
    ));
    // Only run_created and the two step_added events were recorded for r1.
    assert_eq!(store.events("r1", 0)?.len(), 2);
    Ok(())
}

#[test]
fn step_status_sets_and_clears_finished_at_and_error() -> TestResult {
    let dir = tempfile::tempdir()?;
    let store = StateStore::open(&dir.path().join("state.db"), Durability::Normal)?;
    store.create_run(&new_run("r1", vec![new_step("ws", &[])]))?;
    store.set_step_status("r1", "ws", StepStatus::Failed, Some("exit 1"))?;
    let step = store.step("r1", "ws")?.ok_or("step missing")?;
    assert_eq!(step.error.as_deref(), Some("exit 1"));
    assert!(step.finished_at.is_some());

    store.set_step_status("r1", "ws", StepStatus::Retrying, Some("exit 1"))?;
    let step = store.step("r1", "ws")?.ok_or("step missing")?;
    assert_eq!(step.status, StepStatus::Retrying);
    assert_eq!(step.finished_at, None);

    store.begin_attempt("r1", "ws", None, "1.log")?;
    assert_eq!(store.step("r1", "ws")?.and_then(|s| s.error), None);
    Ok(())
}

#[test]
fn records_serialize_with_lowercase_statuses() -> TestResult {
    let dir = tempfile::tempdir()?;
    let store = StateStore::open(&dir.path().join("state.db"), Durability::Normal)?;
    store.create_run(&new_run("r1", vec![new_step("ws", &[])]))?;
    let attempt = store.begin_attempt("r1", "ws", None, "1.log")?;
    store.finish_attempt("r1", "ws", attempt, &outcome(AttemptResult::TimedOut, None))?;

    let run = serde_json::to_value(store.run("r1")?)?;
    assert_eq!(run["status"], "running");
    let step = serde_json::to_value(store.steps("r1")?)?;
    assert_eq!(step[0]["status"], "running");
    assert_eq!(step[0]["depends_on"], json!([]));
    let attempts = serde_json::to_value(store.attempts("r1", "ws")?)?;
    assert_eq!(attempts[0]["outcome"], "timed_out");
    assert_eq!(attempts[0]["exit_code"], json!(null));
    Ok(())
}

#[test]
fn status_names_round_trip_through_text_serde_and_sql() -> TestResult {
    for status in StepStatus::ALL {
        assert_eq!(status.as_str().parse::<StepStatus>(), Ok(*status));
        assert_eq!(serde_json::to_value(status)?, json!(status.as_str()));
        assert_eq!(status.to_string(), status.as_str());
    }
    for status in RunStatus::ALL {
        assert_eq!(status.as_str().parse::<RunStatus>(), Ok(*status));
        assert_eq!(serde_json::to_value(status)?, json!(status.as_str()));
    }
    for result in AttemptResult::ALL {
        assert_eq!(result.as_str().parse::<AttemptResult>(), Ok(*result));
        assert_eq!(serde_json::to_value(result)?, json!(result.as_str()));
    }
    let terminal: Vec<&str> = StepStatus::ALL
        .iter()
        .filter(|s| s.is_terminal())
        .map(|s| s.as_str())
        .collect();
    assert_eq!(terminal, ["completed", "failed", "skipped", "cancelled"]);
    let terminal: Vec<&str> = RunStatus::ALL
        .iter()
        .filter(|s| s.is_terminal())
        .map(|s| s.as_str())
        .collect();
    assert_eq!(terminal, ["completed", "failed"]);
    assert_eq!(AttemptResult::TimedOut.as_str(), "timed_out");

    let err: UnknownValue = "Running"
        .parse::<StepStatus>()
        .err()
        .ok_or("'Running' must not parse")?;
    assert_eq!(
        err.to_string(),
        "unknown step status \"Running\" (expected one of: pending, running, validating, \
         completed, failed, skipped, cancelled, interrupted, retrying, waiting)"
    );

    // A status column holding text the binary does not know fails loudly on read.
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("state.db");
    let store = StateStore::open(&path, Durability::Normal)?;
    store.create_run(&new_run("r1", vec![]))?;
    let raw = Connection::open(&path)?;
    raw.pragma_update(None, "ignore_check_constraints", true)?;
    raw.execute("UPDATE runs SET status = 'paused'", [])?;
    let err = store
        .run("r1")
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("unknown run status \"paused\""), "{err}");
    Ok(())
}

#[test]
fn store_is_clone_send_sync_and_lock_is_send() {
    fn shareable<T: Clone + Send + Sync + 'static>() {}
    fn sendable<T: Send + 'static>() {}
    fn error<T: std::error::Error + Send + Sync + 'static>() {}
    shareable::<StateStore>();
    sendable::<crate::state::RunLock>();
    error::<StateError>();
}

#[test]
fn separate_connections_opening_a_new_database_at_once_all_succeed() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("state.db");
    let handles: Vec<_> = (0..4)
        .map(|i| {
            let path = path.clone();
            thread::spawn(move || -> Result<(), StateError> {
                let store = StateStore::open(&path, Durability::Normal)?;
                store.create_run(&new_run(&format!("r{i}"), vec![new_step("ws", &[])]))
            })
        })
        .collect();
    for handle in handles {
        handle.join().map_err(|_| "opener thread panicked")??;
    }
    assert_eq!(
        StateStore::open(&path, Durability::Normal)?.runs()?.len(),
        4
    );
    assert_eq!(pragma(&path, "user_version")?, SCHEMA_VERSION);
    Ok(())
}

#[test]
fn last_step_event_finds_the_newest_of_the_kinds_asked_for() -> TestResult {
    let dir = tempfile::tempdir()?;
    let store = StateStore::open(&dir.path().join("state.db"), Durability::Normal)?;
    store.create_run(&new_run("r1", vec![new_step("a", &[]), new_step("b", &[])]))?;
    store.create_run(&new_run("r2", vec![new_step("a", &[])]))?;
    assert!(
        store
            .last_step_event("r1", "a", &["retry_scheduled"])?
            .is_none()
    );
    store.append_event("r1", Some("a"), "retry_scheduled", &json!({"attempt": 1}))?;
    store.append_event("r1", Some("a"), "rate_limit_wait", &json!({"attempt": 2}))?;
    store.append_event("r1", Some("a"), "usage", &json!({"attempt": 3}))?;
    store.append_event("r1", Some("b"), "retry_scheduled", &json!({"attempt": 9}))?;
    store.append_event("r2", Some("a"), "retry_scheduled", &json!({"attempt": 8}))?;
    let kinds = ["retry_scheduled", "rate_limit_wait"];
    let last = store
        .last_step_event("r1", "a", &kinds)?
        .ok_or("no event")?;
    assert_eq!(
        (last.kind.as_str(), &last.data),
        ("rate_limit_wait", &json!({"attempt": 2}))
    );
    let only = store
        .last_step_event("r1", "a", &["retry_scheduled"])?
        .ok_or("no event")?;
    assert_eq!(only.data, json!({"attempt": 1}));
    assert!(store.last_step_event("r1", "a", &[])?.is_none());
    Ok(())
}
