//! Tests of the state store on real temporary SQLite files: opening and migrations, the
//! one write path [`StateStore::record`] (events applied to the tables and journalled in
//! one transaction, refused as a whole on misuse), the journal readers, and replay of a
//! recorded run compared with the tables.

use std::collections::BTreeSet;
use std::path::Path;
use std::thread;

use pipeline_error::{Diagnostic, ErrorClass, ErrorReport, Severity};
use serde_json::json;

use super::*;
use crate::state::migrations::{APPLICATION_ID, SCHEMA_VERSION};
use crate::state::{
    AttemptRecord, AttemptResult, Checkpoint, CheckpointOutputs, ErrorSummary, Event, JournalEntry,
    RunRecord, RunReplay, RunStatus, StepRecord, StepStatus, TestResult as AcceptanceTest,
    UnknownValue, Usage, WaitKind,
};

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// The workstream path runs are started from unless a test says otherwise.
const WORKSTREAMS: &str = "/repo/workstreams/ws.json";
const BASE_COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";

fn open_store(dir: &Path) -> Result<StateStore, StateError> {
    StateStore::open(&dir.join("state.db"), Durability::Normal)
}

fn pragma(path: &Path, name: &str) -> Result<i64, rusqlite::Error> {
    Connection::open(path)?.pragma_query_value(None, name, |row| row.get(0))
}

/// Records `events` for `run_id` in one call.
fn record(
    store: &StateStore,
    run_id: &str,
    events: Vec<Event>,
) -> Result<Vec<JournalEntry>, StateError> {
    store.record(run_id, events.into_iter().map(Change::Event).collect())
}

fn run_started(run_id: &str, workstreams: &str, steps: usize, resumed: bool) -> Event {
    Event::RunStarted {
        workstreams: workstreams.to_owned(),
        repo: "/repo".to_owned(),
        base_commit: BASE_COMMIT.to_owned(),
        result_branch: format!("pipeline/{run_id}"),
        steps,
        jobs: 2,
        plan_hash: "plan-hash".to_owned(),
        resumed,
        pid: 4242,
        budget_usd: Some(2.5),
        budget_tokens: None,
        engine: None,
    }
}

fn step_added(step: &str, depends_on: &[&str]) -> Event {
    Event::StepAdded {
        step: step.to_owned(),
        workstream: step.split('/').next().unwrap_or(step).to_owned(),
        definition_hash: format!("hash-{step}"),
        depends_on: depends_on.iter().map(|s| (*s).to_owned()).collect(),
    }
}

/// Creates run `run_id` of `workstreams` with `steps` (no dependencies), as a new run's
/// driver does: `run_started` then one `step_added` per step, in one call.
fn start_run_of(
    store: &StateStore,
    run_id: &str,
    workstreams: &str,
    steps: &[&str],
) -> Result<Vec<JournalEntry>, StateError> {
    let mut events = vec![run_started(run_id, workstreams, steps.len(), false)];
    events.extend(steps.iter().map(|step| step_added(step, &[])));
    record(store, run_id, events)
}

fn start_run(
    store: &StateStore,
    run_id: &str,
    steps: &[&str],
) -> Result<Vec<JournalEntry>, StateError> {
    start_run_of(store, run_id, WORKSTREAMS, steps)
}

fn attempt_started(step: &str, attempt: u32) -> Event {
    Event::AttemptStarted {
        step: step.to_owned(),
        attempt,
        tool: Some("shell".to_owned()),
        worktree: Some(format!("/wt/{step}")),
        log: format!("/logs/{step}/{attempt}.log"),
    }
}

/// Begins attempt `attempt` of `step`.
fn begin(
    store: &StateStore,
    run_id: &str,
    step: &str,
    attempt: u32,
) -> Result<Vec<JournalEntry>, StateError> {
    record(store, run_id, vec![attempt_started(step, attempt)])
}

/// An `attempt_finished` with an exit code fitting `outcome` and, for a failure, an error.
fn attempt_finished(step: &str, attempt: u32, outcome: AttemptResult) -> Event {
    let exit_code = match outcome {
        AttemptResult::Succeeded => Some(0),
        AttemptResult::Failed => Some(1),
        _ => None,
    };
    Event::AttemptFinished {
        step: step.to_owned(),
        attempt,
        outcome,
        exit_code,
        error: (outcome != AttemptResult::Succeeded).then(|| "boom".to_owned()),
        classified: None,
        usage: None,
        duration_ms: 1500,
    }
}

fn test_started(step: &str, attempt: u32) -> Event {
    Event::TestStarted {
        step: step.to_owned(),
        attempt,
        name: "unit".to_owned(),
        command: "cargo test".to_owned(),
    }
}

fn checkpoint(commit: &str, definition_hash: &str) -> Checkpoint {
    Checkpoint {
        commit: commit.to_owned(),
        definition_hash: definition_hash.to_owned(),
        outputs: CheckpointOutputs {
            version: CheckpointOutputs::VERSION,
            inputs: vec![BASE_COMMIT.to_owned()],
            start_commit: BASE_COMMIT.to_owned(),
            changed: vec!["src/lib.rs".to_owned()],
            tests: Vec::new(),
            attempt: 1,
            tool: Some("shell".to_owned()),
            usage: None,
        },
    }
}

/// Completes `step` with `commit` (its `step_completed` and checkpoint in one call).
fn complete(
    store: &StateStore,
    run_id: &str,
    step: &str,
    attempt: u32,
    commit: &str,
) -> Result<Vec<JournalEntry>, StateError> {
    let checkpoint = checkpoint(commit, &format!("hash-{step}"));
    store.record(
        run_id,
        vec![
            Change::Event(Event::StepCompleted {
                step: step.to_owned(),
                attempt,
                commit: commit.to_owned(),
                duration_ms: 2000,
            }),
            Change::Checkpoint {
                step,
                checkpoint: &checkpoint,
            },
        ],
    )
}

/// Runs attempt `attempt` of `step` to completion: begin, test, finish, complete.
fn run_to_completion(
    store: &StateStore,
    run_id: &str,
    step: &str,
    attempt: u32,
    commit: &str,
) -> Result<(), StateError> {
    begin(store, run_id, step, attempt)?;
    record(
        store,
        run_id,
        vec![
            test_started(step, attempt),
            attempt_finished(step, attempt, AttemptResult::Succeeded),
        ],
    )?;
    complete(store, run_id, step, attempt, commit)?;
    Ok(())
}

fn run_finished(status: RunStatus) -> Event {
    Event::RunFinished {
        status,
        completed: 0,
        failed: 0,
        skipped: 0,
        interrupted: 0,
        not_run: 0,
        result_branch: None,
        result_commit: None,
        result_error: None,
        duration_ms: 10,
    }
}

fn step_interrupted(step: &str) -> Event {
    Event::StepInterrupted {
        step: step.to_owned(),
        reason: "the pipeline process driving the run stopped".to_owned(),
    }
}

/// The interruption of a run as a resuming driver records it: `run_interrupted` and one
/// `step_interrupted` per active step, in one call. Returns the steps interrupted.
fn interrupt_run(store: &StateStore, run_id: &str) -> Result<Vec<String>, StateError> {
    let active: Vec<String> = store
        .steps(run_id)?
        .into_iter()
        .filter(|s| s.status.is_active())
        .map(|s| s.step_id)
        .collect();
    // The store settles the active steps itself (one `step_interrupted` each).
    let events = vec![Event::RunInterrupted {
        reason: "the pipeline process driving the run stopped".to_owned(),
    }];
    record(store, run_id, events)?;
    Ok(active)
}

fn kinds(entries: &[JournalEntry]) -> Vec<(&'static str, Option<&str>)> {
    entries
        .iter()
        .map(|e| (e.event.kind(), e.event.step()))
        .collect()
}

fn error_report(signature: &str) -> ErrorReport {
    ErrorReport {
        class: ErrorClass::Permanent,
        plugin: "cargo".to_owned(),
        signature: signature.to_owned(),
        normalized: "error[E0308]: mismatched types at <path>:<n>".to_owned(),
        summary: "error[E0308]: mismatched types".to_owned(),
        diagnostics: vec![Diagnostic {
            file: Some("src/lib.rs".to_owned()),
            line: Some(3),
            column: Some(9),
            code: Some("E0308".to_owned()),
            severity: Severity::Error,
            message: "mismatched types".to_owned(),
        }],
        output_hash: "0011223344556677".to_owned(),
        diff_hash: None,
        plugin_failures: Vec::new(),
    }
}

fn summary_of(report: &ErrorReport) -> ErrorSummary {
    ErrorSummary {
        class: report.class.name().to_owned(),
        plugin: report.plugin.clone(),
        signature: report.signature.clone(),
        summary: report.summary.clone(),
    }
}

#[test]
fn open_creates_parent_dirs_and_migrations_are_idempotent() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("nested/.pipeline/state.db");
    let store = StateStore::open(&path, Durability::Normal)?;
    assert_eq!(store.path(), path);
    start_run(&store, "r1", &["ws"])?;
    drop(store);

    // Second and third open: no migration re-runs (it would fail on CREATE TABLE), data kept.
    for durability in [Durability::Full, Durability::Normal] {
        let store = StateStore::open(&path, durability)?;
        assert_eq!(store.runs()?.len(), 1);
        assert_eq!(store.steps("r1")?.len(), 1);
        assert_eq!(store.journal("r1", 0)?.len(), 2);
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
    start_run(&StateStore::open(&path, Durability::Normal)?, "r1", &[])?;
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
    start_run(&store, "r1", &["ws"])?;

    let other = Connection::open(&path)?;
    other.execute_batch("BEGIN IMMEDIATE")?;
    // WAL: readers are not blocked by the other process's write transaction.
    assert_eq!(store.runs()?.len(), 1);
    let err = record(&store, "r1", vec![run_finished(RunStatus::Failed)]).err();
    assert!(
        matches!(&err, Some(StateError::Busy { path: p }) if *p == path),
        "{err:?}"
    );
    other.execute_batch("ROLLBACK")?;

    // Nothing was written, and the store works again once the lock is gone.
    assert_eq!(store.run("r1")?.map(|r| r.status), Some(RunStatus::Running));
    assert_eq!(store.journal("r1", 0)?.len(), 2);
    record(&store, "r1", vec![run_finished(RunStatus::Failed)])?;
    assert_eq!(store.run("r1")?.map(|r| r.status), Some(RunStatus::Failed));
    Ok(())
}

#[test]
fn a_recorded_run_round_trips_through_the_tables_and_the_journal_in_order() -> TestResult {
    let dir = tempfile::tempdir()?;
    let store = open_store(dir.path())?;
    let mut recorded = record(
        &store,
        "r1",
        vec![
            run_started("r1", WORKSTREAMS, 2, false),
            step_added("ws/a", &[]),
            step_added("ws/b", &["ws/a"]),
        ],
    )?;

    let run = store.run("r1")?.ok_or("run r1 missing")?;
    assert_eq!(run.status, RunStatus::Running);
    assert_eq!(run.workstream_path, WORKSTREAMS);
    assert_eq!(run.repo_path, "/repo");
    assert_eq!(run.jobs, 2);
    assert_eq!(run.base_commit, BASE_COMMIT);
    assert_eq!(run.result_branch, "pipeline/r1");
    assert_eq!(run.plan_hash, "plan-hash");
    assert_eq!(run.finished_at, None);
    assert_eq!(run.started_at.len(), "2026-01-31T12:00:00.123Z".len());
    assert!(run.started_at.ends_with('Z'));
    assert_eq!(run.started_at, recorded[0].at);

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
    assert_eq!(steps[1].definition_hash, "hash-ws/b");

    recorded.extend(begin(&store, "r1", "ws/a", 1)?);
    let step = store.step("r1", "ws/a")?.ok_or("step missing")?;
    assert_eq!(step.status, StepStatus::Running);
    assert_eq!(step.attempts, 1);
    assert_eq!(step.worktree.as_deref(), Some("/wt/ws/a"));
    assert!(step.started_at.is_some());

    recorded.extend(record(
        &store,
        "r1",
        vec![
            test_started("ws/a", 1),
            attempt_finished("ws/a", 1, AttemptResult::Succeeded),
        ],
    )?);
    assert_eq!(
        store.step("r1", "ws/a")?.map(|s| s.status),
        Some(StepStatus::Validating),
        "attempt_finished leaves the status to the event after it"
    );
    recorded.extend(complete(&store, "r1", "ws/a", 1, "c0ffee")?);

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
    assert_eq!(attempts[0].log_path, "/logs/ws/a/1.log");
    assert!(attempts[0].finished_at.is_some());

    let skipped = record(
        &store,
        "r1",
        vec![Event::ToolSelected {
            step: "ws/b".to_owned(),
            tool: "codex".to_owned(),
            requested: "aider".to_owned(),
            skipped: vec!["aider: not installed".to_owned()],
            trial: false,
        }],
    )?;
    recorded.extend(skipped.clone());
    recorded.extend(record(
        &store,
        "r1",
        vec![run_finished(RunStatus::Completed)],
    )?);
    let finished = store.run("r1")?.ok_or("run missing")?;
    assert_eq!(finished.status, RunStatus::Completed);
    assert!(finished.finished_at.is_some());

    let journal = store.journal("r1", 0)?;
    assert_eq!(
        kinds(&journal),
        [
            ("run_started", None),
            ("step_added", Some("ws/a")),
            ("step_added", Some("ws/b")),
            ("attempt_started", Some("ws/a")),
            ("test_started", Some("ws/a")),
            ("attempt_finished", Some("ws/a")),
            ("step_completed", Some("ws/a")),
            ("tool_selected", Some("ws/b")),
            ("run_finished", None),
        ]
    );
    assert_eq!(journal, recorded, "the journal holds what record returned");
    assert!(journal.windows(2).all(|w| w[0].id < w[1].id));

    let later = store.journal("r1", skipped[0].id)?;
    assert_eq!(kinds(&later), [("run_finished", None)]);
    assert!(store.journal("unknown", 0)?.is_empty());
    Ok(())
}

#[test]
fn record_returns_increasing_ids_and_one_timestamp_per_call() -> TestResult {
    let dir = tempfile::tempdir()?;
    let store = open_store(dir.path())?;
    let first = start_run(&store, "r1", &["ws/a", "ws/b", "ws/c"])?;
    assert_eq!(first.len(), 4);
    assert!(first.windows(2).all(|w| w[0].id < w[1].id), "{first:?}");
    assert!(
        first
            .iter()
            .all(|e| e.at == first[0].at && e.run_id == "r1")
    );
    assert_eq!(first[0].at.len(), "2026-01-31T12:00:00.123Z".len());

    let second = record(
        &store,
        "r1",
        vec![attempt_started("ws/a", 1), attempt_started("ws/b", 1)],
    )?;
    assert_eq!(second.len(), 2);
    assert!(second[0].id > first[3].id && second[1].id > second[0].id);
    assert_eq!(second[0].at, second[1].at);
    assert!(second[0].at >= first[0].at);
    // The tables carry the call's one timestamp too.
    let attempt = &store.attempts("r1", "ws/b")?[0];
    assert_eq!(attempt.started_at, second[1].at);

    // A call with only attachments journals nothing; an empty call does nothing.
    let only_checkpoint = checkpoint("c0ffee", "hash-ws/c");
    let none = store.record(
        "r1",
        vec![Change::Checkpoint {
            step: "ws/c",
            checkpoint: &only_checkpoint,
        }],
    )?;
    assert!(none.is_empty());
    assert_eq!(store.checkpoint("r1", "ws/c")?, Some(only_checkpoint));
    assert!(store.record("r1", Vec::new())?.is_empty());
    assert_eq!(store.journal("r1", 0)?.len(), 6);
    Ok(())
}

/// One value of every [`Event`] variant, each with its optional fields set, in an order
/// the store accepts for run `r1` with step `ws/a`.
fn one_of_each_event() -> Vec<Event> {
    let step = || "ws/a".to_owned();
    vec![
        run_started("r1", WORKSTREAMS, 1, false),
        step_added("ws/a", &[]),
        Event::StepReused {
            step: step(),
            commit: "aaaa".to_owned(),
        },
        Event::StepReset {
            step: step(),
            previous_status: StepStatus::Interrupted,
            definition_hash: "hash-v2".to_owned(),
        },
        Event::ToolSelected {
            step: step(),
            tool: "claude".to_owned(),
            requested: "codex".to_owned(),
            skipped: vec!["codex: circuit breaker open".to_owned()],
            trial: true,
        },
        Event::StepWaiting {
            step: step(),
            attempt: 0,
            wait: WaitKind::RateLimit,
            tool: Some("claude".to_owned()),
            class: Some("rate_limited".to_owned()),
            reason: "rate limited until the reset".to_owned(),
            delay_ms: 30_000,
            until: Some("2026-01-31T12:00:30.000Z".to_owned()),
        },
        Event::AttemptStarted {
            step: step(),
            attempt: 1,
            tool: Some("claude".to_owned()),
            worktree: Some("/wt/a".to_owned()),
            log: "/logs/a/1.log".to_owned(),
        },
        test_started("ws/a", 1),
        Event::TestFinished {
            step: step(),
            attempt: 1,
            name: "unit".to_owned(),
            command: "cargo test".to_owned(),
            passed: false,
            duration_ms: 321,
            outcome: "exit 101".to_owned(),
            log: "/logs/a/1.unit.log".to_owned(),
        },
        Event::AttemptFinished {
            step: step(),
            attempt: 1,
            outcome: AttemptResult::Failed,
            exit_code: Some(101),
            error: Some("acceptance test unit failed".to_owned()),
            classified: Some(summary_of(&error_report("0123456789abcdef"))),
            usage: Some(Usage {
                model: Some("claude-sonnet".to_owned()),
                input_tokens: Some(1200),
                cached_input_tokens: Some(800),
                output_tokens: Some(300),
                cost_usd: Some(0.125),
                requests: Some(3),
                estimated: false,
                cost_unknown: None,
            }),
            duration_ms: 4500,
        },
        Event::FixRequested {
            step: step(),
            attempt: 1,
            class: "permanent".to_owned(),
            fixes_left: 1,
            reason: "unit failed; asking the tool to fix it".to_owned(),
        },
        Event::Escalated {
            step: step(),
            attempt: 1,
            to: "codex".to_owned(),
            reason: "claude gave up".to_owned(),
        },
        Event::CompensationFinished {
            step: step(),
            index: 1,
            command: "git clean -fd".to_owned(),
            succeeded: true,
            outcome: "exit 0".to_owned(),
            log: "/logs/a/compensation-1.log".to_owned(),
        },
        Event::StepCompleted {
            step: step(),
            attempt: 1,
            commit: "bbbb".to_owned(),
            duration_ms: 9000,
        },
        Event::StepFailed {
            step: step(),
            attempt: 1,
            error: "permanent: mismatched types".to_owned(),
            duration_ms: 9100,
        },
        Event::StepSkipped {
            step: step(),
            dependency: Some("ws/z".to_owned()),
            reason: "dependency ws/z failed".to_owned(),
        },
        step_interrupted("ws/a"),
        Event::OrphansKilled {
            step: step(),
            process_groups: 2,
            worktree: "/wt/a".to_owned(),
        },
        Event::RunInterrupted {
            reason: "the pipeline process driving the run stopped".to_owned(),
        },
        Event::RunFinished {
            status: RunStatus::Failed,
            completed: 1,
            failed: 2,
            skipped: 3,
            interrupted: 4,
            not_run: 5,
            result_branch: Some("pipeline/r1".to_owned()),
            result_commit: Some("cccc".to_owned()),
            result_error: Some("merge of ws/b conflicts".to_owned()),
            duration_ms: 12_345,
        },
        Event::StepCancelled {
            step: step(),
            reason: "removed from the workstream file".to_owned(),
        },
        Event::ApprovalRequested {
            step: step(),
            attempt: 3,
            commit: "dddd".to_owned(),
            tool: Some("codex".to_owned()),
        },
        Event::StepApproved {
            step: step(),
            attempt: 3,
            by: "alice".to_owned(),
            comment: Some("looks right".to_owned()),
            auto: false,
        },
        Event::StepRejected {
            step: step(),
            attempt: 3,
            by: "bob".to_owned(),
            comment: None,
        },
        Event::BreakerOpened {
            tool: "codex".to_owned(),
            step: step(),
            failures: 3,
            cooldown_ms: 30_000,
            until: Some("2026-01-31T12:00:30.000Z".to_owned()),
        },
        Event::StepCached {
            step: step(),
            key: "c".repeat(64),
            from_run: "r0".to_owned(),
            from_step: step(),
            commit: "b".repeat(40),
            remote: Some("origin".to_owned()),
        },
        Event::AttemptStalled {
            step: step(),
            attempt: 2,
            tool: Some("claude".to_owned()),
            stall_timeout_ms: 300_000,
            duration_ms: 301_250,
        },
        Event::BudgetExceeded {
            step: step(),
            attempt: 1,
            spent_usd: Some(0.25),
            spent_tokens: 41_000,
            budget_usd: Some(0.2),
            budget_tokens: None,
        },
        Event::SetupFinished {
            step: step(),
            attempt: 1,
            command: "npm ci".to_owned(),
            succeeded: true,
            cached: true,
            duration_ms: 0,
            outcome: "cached".to_owned(),
        },
        Event::CandidateStarted {
            step: step(),
            attempt: 2,
            candidate: 2,
            of: 3,
            branch: "pipeline-candidates/r1/ws/a/2".to_owned(),
        },
        Event::CandidateFinished {
            step: step(),
            attempt: 2,
            candidate: 2,
            outcome: crate::state::CandidateOutcome::Passed,
            failed_tests: 0,
            diff_lines: 12,
            commit: Some("d".repeat(40)),
            score: Some(0.75),
            error: None,
            usage: Some(Usage {
                input_tokens: Some(100),
                output_tokens: Some(7),
                ..Usage::default()
            }),
            duration_ms: 950,
        },
        Event::CandidateSelected {
            step: step(),
            attempt: 2,
            candidate: 2,
            commit: "d".repeat(40),
            reason: "smallest diff (12 lines) among 2 passing candidates".to_owned(),
            discarded: vec![1, 3],
        },
    ]
}

/// Position of `event`'s variant in [`one_of_each_event`]. Exhaustive on purpose: a new
/// variant does not compile until it is listed here, and then the round-trip test fails
/// until it is in [`one_of_each_event`] too.
fn variant_index(event: &Event) -> usize {
    match event {
        Event::RunStarted { .. } => 0,
        Event::StepAdded { .. } => 1,
        Event::StepReused { .. } => 2,
        Event::StepReset { .. } => 3,
        Event::ToolSelected { .. } => 4,
        Event::StepWaiting { .. } => 5,
        Event::AttemptStarted { .. } => 6,
        Event::TestStarted { .. } => 7,
        Event::TestFinished { .. } => 8,
        Event::AttemptFinished { .. } => 9,
        Event::FixRequested { .. } => 10,
        Event::Escalated { .. } => 11,
        Event::CompensationFinished { .. } => 12,
        Event::StepCompleted { .. } => 13,
        Event::StepFailed { .. } => 14,
        Event::StepSkipped { .. } => 15,
        Event::StepInterrupted { .. } => 16,
        Event::OrphansKilled { .. } => 17,
        Event::RunInterrupted { .. } => 18,
        Event::RunFinished { .. } => 19,
        Event::StepCancelled { .. } => 20,
        Event::ApprovalRequested { .. } => 21,
        Event::StepApproved { .. } => 22,
        Event::StepRejected { .. } => 23,
        Event::BreakerOpened { .. } => 24,
        Event::StepCached { .. } => 25,
        Event::AttemptStalled { .. } => 26,
        Event::BudgetExceeded { .. } => 27,
        Event::SetupFinished { .. } => 28,
        Event::CandidateStarted { .. } => 29,
        Event::CandidateFinished { .. } => 30,
        Event::CandidateSelected { .. } => 31,
    }
}

#[test]
fn every_event_variant_reads_back_from_the_journal_unchanged() -> TestResult {
    let events = one_of_each_event();
    let covered: Vec<usize> = events.iter().map(variant_index).collect();
    assert_eq!(
        covered,
        (0..=31).collect::<Vec<_>>(),
        "one event per variant"
    );

    let dir = tempfile::tempdir()?;
    let path = dir.path().join("state.db");
    let store = StateStore::open(&path, Durability::Normal)?;
    let recorded = record(&store, "r1", events.clone())?;
    let read: Vec<Event> = recorded.iter().map(|e| e.event.clone()).collect();
    assert_eq!(read, events);
    assert_eq!(store.journal("r1", 0)?, recorded);
    assert_eq!(store.journal_of_all_runs(0, 100)?, recorded);

    // The `kind` column and the `event` tag agree, and so does `Event::kind`.
    let raw = Connection::open(&path)?;
    let mut statement = raw.prepare("SELECT kind, step_id, data FROM events ORDER BY id")?;
    let rows = statement.query_map([], |row| {
        Ok((
            row.get::<_, String>(0)?,
            row.get::<_, Option<String>>(1)?,
            row.get::<_, String>(2)?,
        ))
    })?;
    let mut n = 0;
    for (row, event) in rows.zip(&events) {
        let (kind, step_id, data) = row?;
        let data: serde_json::Value = serde_json::from_str(&data)?;
        assert_eq!(kind, event.kind());
        assert_eq!(data["event"], json!(event.kind()));
        assert_eq!(step_id.as_deref(), event.step());
        n += 1;
    }
    assert_eq!(n, events.len());

    // A journal entry is flat JSON (what `--json` prints) and parses back unchanged.
    for entry in &recorded {
        let line = serde_json::to_string(entry)?;
        let value: serde_json::Value = serde_json::from_str(&line)?;
        assert_eq!(value["id"], json!(entry.id));
        assert_eq!(value["event"], json!(entry.event.kind()));
        assert_eq!(serde_json::from_str::<JournalEntry>(&line)?, *entry);
    }
    Ok(())
}

#[test]
fn rows_of_the_older_journal_format_are_skipped_by_readers() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("state.db");
    let store = StateStore::open(&path, Durability::Normal)?;
    let before = start_run(&store, "r1", &["ws"])?;
    let raw = Connection::open(&path)?;
    // As written before the typed journal: kind `step_status`, data without an `event`.
    for (kind, data) in [
        ("step_status", r#"{"status":"validating","error":null}"#),
        ("attempt_started", r#"{"attempt":1,"worktree":null}"#),
    ] {
        raw.execute(
            "INSERT INTO events (run_id, step_id, at, kind, data) \
             VALUES ('r1', 'ws', '2025-01-31T12:00:00.000Z', ?1, ?2)",
            [kind, data],
        )?;
    }
    let after = begin(&store, "r1", "ws", 1)?;

    let journal = store.journal("r1", 0)?;
    let expected: Vec<JournalEntry> = before.into_iter().chain(after.clone()).collect();
    assert_eq!(journal, expected);
    assert_eq!(store.journal_of_all_runs(0, 100)?, expected);
    let legacy: i64 = raw.query_row("SELECT count(*) FROM events", [], |r| r.get(0))?;
    assert_eq!(legacy, 5, "the legacy rows are kept, only skipped");
    assert_eq!(store.last_step_event("r1", "ws", "step_status")?, None);
    assert_eq!(
        store.last_step_event("r1", "ws", "attempt_started")?,
        after.first().cloned()
    );
    Ok(())
}

#[test]
fn attempt_numbers_continue_after_reopening_and_reset_and_never_go_back() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("state.db");
    {
        let store = StateStore::open(&path, Durability::Full)?;
        start_run(&store, "r1", &["ws"])?;
        begin(&store, "r1", "ws", 1)?;
        record(
            &store,
            "r1",
            vec![attempt_finished("ws", 1, AttemptResult::Failed)],
        )?;
        begin(&store, "r1", "ws", 2)?;
        // The process dies here: attempt 2 never finishes.
    }
    let store = StateStore::open(&path, Durability::Normal)?;
    assert_eq!(interrupt_run(&store, "r1")?, ["ws"]);
    begin(&store, "r1", "ws", 3)?;
    record(
        &store,
        "r1",
        vec![Event::StepReset {
            step: "ws".to_owned(),
            previous_status: StepStatus::Running,
            definition_hash: "new-hash".to_owned(),
        }],
    )?;
    begin(&store, "r1", "ws", 4)?;

    let journal_before = store.journal("r1", 0)?;
    for attempt in [4, 2, 0] {
        let err = begin(&store, "r1", "ws", attempt).err();
        assert!(
            matches!(
                &err,
                Some(StateError::AttemptOutOfOrder { run_id, step_id, attempt: a, last: 4 })
                    if run_id == "r1" && step_id == "ws" && *a == attempt
            ),
            "attempt {attempt}: {err:?}"
        );
    }
    assert_eq!(
        store.journal("r1", 0)?,
        journal_before,
        "refused: nothing recorded"
    );

    let attempts = store.attempts("r1", "ws")?;
    let numbers: Vec<u32> = attempts.iter().map(|a| a.attempt).collect();
    assert_eq!(numbers, [1, 2, 3, 4]);
    assert_eq!(attempts[0].outcome, Some(AttemptResult::Failed));
    assert_eq!(attempts[1].outcome, Some(AttemptResult::Interrupted));
    assert_eq!(attempts[1].duration_ms, None);
    assert_eq!(attempts[3].log_path, "/logs/ws/4.log");
    let step = store.step("r1", "ws")?.ok_or("step missing")?;
    assert_eq!(step.attempts, 4);
    assert_eq!(step.status, StepStatus::Running);

    // A new step's first attempt is 1: 0 is refused.
    start_run(&store, "r2", &["ws"])?;
    assert!(matches!(
        begin(&store, "r2", "ws", 0),
        Err(StateError::AttemptOutOfOrder {
            attempt: 0,
            last: 0,
            ..
        })
    ));
    Ok(())
}

#[test]
fn events_are_append_only_but_deleted_with_their_run() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("state.db");
    let store = StateStore::open(&path, Durability::Normal)?;
    start_run(&store, "r1", &["ws"])?;
    start_run(&store, "r2", &["ws"])?;
    run_to_completion(&store, "r1", "ws", 1, "abc")?;

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
    assert_eq!(store.journal("r2", 0)?.len(), 2);
    assert!(store.journal("r1", 0)?.is_empty());
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
    let store = open_store(dir.path())?;
    let step_ids: Vec<String> = (0..THREADS * STEPS_PER_THREAD)
        .map(|i| format!("ws/s{i}"))
        .collect();
    let step_refs: Vec<&str> = step_ids.iter().map(String::as_str).collect();
    let created = start_run(&store, "shared", &step_refs)?;

    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let store = store.clone();
            thread::spawn(move || -> Result<Vec<i64>, StateError> {
                let mut ids = Vec::new();
                let own = start_run(&store, &format!("own-{t}"), &["ws"])?;
                ids.extend(own.iter().map(|e| e.id));
                for i in (t * STEPS_PER_THREAD)..((t + 1) * STEPS_PER_THREAD) {
                    let step = format!("ws/s{i}");
                    ids.extend(begin(&store, "shared", &step, 1)?.iter().map(|e| e.id));
                    let events = vec![
                        test_started(&step, 1),
                        attempt_finished(&step, 1, AttemptResult::Succeeded),
                    ];
                    ids.extend(record(&store, "shared", events)?.iter().map(|e| e.id));
                    ids.extend(
                        complete(&store, "shared", &step, 1, &step)?
                            .iter()
                            .map(|e| e.id),
                    );
                }
                Ok(ids)
            })
        })
        .collect();
    let mut ids: BTreeSet<i64> = created.iter().map(|e| e.id).collect();
    let mut returned = created.len();
    for handle in handles {
        let thread_ids = handle.join().map_err(|_| "worker thread panicked")??;
        assert!(
            thread_ids.windows(2).all(|w| w[0] < w[1]),
            "ids go up within a thread"
        );
        returned += thread_ids.len();
        ids.extend(thread_ids);
    }
    assert_eq!(ids.len(), returned, "no id was returned twice");

    let steps = store.steps("shared")?;
    assert_eq!(steps.len(), THREADS * STEPS_PER_THREAD);
    for step in &steps {
        assert_eq!(step.status, StepStatus::Completed, "{}", step.step_id);
        assert_eq!(step.attempts, 1, "{}", step.step_id);
        assert_eq!(step.commit.as_deref(), Some(step.step_id.as_str()));
        assert!(store.checkpoint("shared", &step.step_id)?.is_some());
    }
    // run_started + one step_added per step + 4 events per step.
    let journal = store.journal("shared", 0)?;
    assert_eq!(journal.len(), 1 + 5 * THREADS * STEPS_PER_THREAD);
    let all = store.journal_of_all_runs(0, 10_000)?;
    assert_eq!(all.len(), journal.len() + 2 * THREADS);
    let journal_ids: BTreeSet<i64> = all.iter().map(|e| e.id).collect();
    assert_eq!(
        journal_ids, ids,
        "every returned id is in the journal and no other"
    );
    assert_eq!(store.runs()?.len(), 1 + THREADS);
    Ok(())
}

#[test]
fn reset_step_deletes_the_checkpoint_and_keeps_attempts() -> TestResult {
    let dir = tempfile::tempdir()?;
    let store = open_store(dir.path())?;
    start_run(&store, "r1", &["ws"])?;
    run_to_completion(&store, "r1", "ws", 1, "abc")?;
    assert!(store.checkpoint("r1", "ws")?.is_some());

    let reset = Event::StepReset {
        step: "ws".to_owned(),
        previous_status: StepStatus::Completed,
        definition_hash: "hash-v2".to_owned(),
    };
    record(&store, "r1", vec![reset.clone()])?;
    assert_eq!(store.checkpoint("r1", "ws")?, None);
    let step = store.step("r1", "ws")?.ok_or("step missing")?;
    assert_eq!(step.status, StepStatus::Pending);
    assert_eq!(step.commit, None);
    assert_eq!(step.finished_at, None);
    assert_eq!(step.error, None);
    assert_eq!(step.definition_hash, "hash-v2");
    assert_eq!(step.attempts, 1);
    assert_eq!(store.attempts("r1", "ws")?.len(), 1);

    let last = store.journal("r1", 0)?.pop().ok_or("no events")?;
    assert_eq!(last.event, reset);
    Ok(())
}

#[test]
fn an_interrupted_run_marks_active_steps_and_open_attempts() -> TestResult {
    let dir = tempfile::tempdir()?;
    let store = open_store(dir.path())?;
    start_run(&store, "r1", &["ws/a", "ws/b", "ws/c", "ws/d", "ws/e"])?;
    begin(&store, "r1", "ws/a", 1)?;
    begin(&store, "r1", "ws/b", 1)?;
    record(&store, "r1", vec![test_started("ws/b", 1)])?;
    run_to_completion(&store, "r1", "ws/c", 1, "ccc")?;
    // ws/e failed its first attempt and waits for its backoff: active, attempt closed.
    begin(&store, "r1", "ws/e", 1)?;
    record(
        &store,
        "r1",
        vec![
            attempt_finished("ws/e", 1, AttemptResult::Failed),
            Event::StepWaiting {
                step: "ws/e".to_owned(),
                attempt: 1,
                wait: WaitKind::Backoff,
                tool: None,
                class: Some("transient".to_owned()),
                reason: "retrying in 2 s".to_owned(),
                delay_ms: 2000,
                until: None,
            },
        ],
    )?;

    assert_eq!(interrupt_run(&store, "r1")?, ["ws/a", "ws/b", "ws/e"]);
    let steps = store.steps("r1")?;
    let statuses: Vec<StepStatus> = steps.iter().map(|s| s.status).collect();
    assert_eq!(
        statuses,
        [
            StepStatus::Interrupted,
            StepStatus::Interrupted,
            StepStatus::Completed,
            StepStatus::Pending,
            StepStatus::Interrupted,
        ]
    );
    assert_eq!(
        steps[0].error.as_deref(),
        Some("the pipeline process driving the run stopped")
    );
    assert_eq!(steps[0].finished_at, None, "interrupted is not terminal");
    for step_id in ["ws/a", "ws/b"] {
        let attempts = store.attempts("r1", step_id)?;
        assert_eq!(attempts[0].outcome, Some(AttemptResult::Interrupted));
        assert!(attempts[0].finished_at.is_some());
        assert_eq!(attempts[0].duration_ms, None);
    }
    let closed = &store.attempts("r1", "ws/e")?[0];
    assert_eq!(
        closed.outcome,
        Some(AttemptResult::Failed),
        "a finished attempt stays"
    );
    assert_eq!(closed.duration_ms, Some(1500));
    assert_eq!(
        store.attempts("r1", "ws/c")?[0].outcome,
        Some(AttemptResult::Succeeded)
    );
    let run = store.run("r1")?.ok_or("run missing")?;
    assert_eq!(run.status, RunStatus::Interrupted);
    assert_eq!(run.finished_at, None);
    assert!(matches!(
        interrupt_run(&store, "nope"),
        Err(StateError::RunNotFound { run_id }) if run_id == "nope"
    ));
    Ok(())
}

#[test]
fn runs_are_newest_first_and_latest_unfinished_run_is_found() -> TestResult {
    let dir = tempfile::tempdir()?;
    let store = open_store(dir.path())?;
    for id in ["run-a", "run-b", "run-c"] {
        start_run(&store, id, &[])?;
    }
    start_run_of(&store, "run-d", "/repo/workstreams/other.json", &[])?;

    let ids: Vec<String> = store.runs()?.into_iter().map(|r| r.run_id).collect();
    assert_eq!(ids, ["run-d", "run-c", "run-b", "run-a"]);

    let latest = |store: &StateStore| -> Result<Option<String>, StateError> {
        Ok(store.latest_unfinished_run(WORKSTREAMS)?.map(|r| r.run_id))
    };
    assert_eq!(latest(&store)?.as_deref(), Some("run-c"));
    record(&store, "run-c", vec![run_finished(RunStatus::Completed)])?;
    interrupt_run(&store, "run-b")?;
    assert_eq!(latest(&store)?.as_deref(), Some("run-b"));
    record(&store, "run-b", vec![run_finished(RunStatus::Failed)])?;
    record(&store, "run-a", vec![run_finished(RunStatus::Failed)])?;
    assert_eq!(latest(&store)?, None);
    assert_eq!(store.latest_unfinished_run("/nowhere")?, None);
    // A resumed run is unfinished again.
    record(
        &store,
        "run-a",
        vec![run_started("run-a", WORKSTREAMS, 0, true)],
    )?;
    assert_eq!(latest(&store)?.as_deref(), Some("run-a"));
    Ok(())
}

/// What a refused call must leave unchanged: the run, its steps, their attempts and
/// checkpoints, and the journal.
type Snapshot = (
    Option<RunRecord>,
    Vec<StepRecord>,
    Vec<Vec<AttemptRecord>>,
    Vec<Option<Checkpoint>>,
    Vec<JournalEntry>,
);

fn snapshot(store: &StateStore, run_id: &str) -> Result<Snapshot, StateError> {
    let steps = store.steps(run_id)?;
    let mut attempts = Vec::new();
    let mut checkpoints = Vec::new();
    for step in &steps {
        attempts.push(store.attempts(run_id, &step.step_id)?);
        checkpoints.push(store.checkpoint(run_id, &step.step_id)?);
    }
    Ok((
        store.run(run_id)?,
        steps,
        attempts,
        checkpoints,
        store.journal(run_id, 0)?,
    ))
}

#[test]
fn misuse_is_reported_with_the_ids_involved_and_changes_nothing() -> TestResult {
    let dir = tempfile::tempdir()?;
    let store = open_store(dir.path())?;
    start_run(&store, "r1", &["ws"])?;
    let before = snapshot(&store, "r1")?;
    let unchanged = |what: &str| -> TestResult {
        assert_eq!(snapshot(&store, "r1")?, before, "{what} changed run r1");
        Ok(())
    };

    // A run started twice.
    assert!(matches!(
        start_run(&store, "r1", &[]),
        Err(StateError::RunExists { run_id }) if run_id == "r1"
    ));
    unchanged("a second run_started")?;

    // A new run with a step added twice: the run is not created either.
    assert!(matches!(
        start_run(&store, "r2", &["ws", "ws"]),
        Err(StateError::StepExists { run_id, step_id }) if run_id == "r2" && step_id == "ws"
    ));
    assert_eq!(store.run("r2")?, None, "a refused call records nothing");
    assert!(store.journal("r2", 0)?.is_empty());

    // A call whose last change fails leaves nothing of its earlier changes.
    let refused_checkpoint = checkpoint("abc", "hash-ws");
    let err = store
        .record(
            "r1",
            vec![
                Change::Event(step_added("ws2", &["ws"])),
                Change::Event(attempt_started("ws", 1)),
                Change::Event(test_started("ws", 1)),
                Change::Event(attempt_finished("ws", 1, AttemptResult::Failed)),
                Change::AttemptError {
                    step: "ws",
                    attempt: 1,
                    report: &error_report("0123456789abcdef"),
                },
                Change::Checkpoint {
                    step: "ws",
                    checkpoint: &refused_checkpoint,
                },
                Change::Event(Event::StepCompleted {
                    step: "missing".to_owned(),
                    attempt: 1,
                    commit: "abc".to_owned(),
                    duration_ms: 1,
                }),
            ],
        )
        .err();
    assert!(
        matches!(&err, Some(StateError::StepNotFound { run_id, step_id })
            if run_id == "r1" && step_id == "missing"),
        "{err:?}"
    );
    unchanged("a call failing at its last change")?;
    assert!(store.errors("r1")?.is_empty());
    assert!(store.attempt_error_history("r1", "ws")?.is_empty());

    // Steps added twice within a call or across calls.
    assert!(matches!(
        record(&store, "r1", vec![step_added("ws2", &[]), step_added("ws", &[])]),
        Err(StateError::StepExists { run_id, step_id }) if run_id == "r1" && step_id == "ws"
    ));
    unchanged("a step added twice")?;

    // Events of an unknown run.
    for event in [
        step_added("x", &[]),
        run_finished(RunStatus::Failed),
        run_started("nope", WORKSTREAMS, 0, true),
        Event::RunInterrupted {
            reason: "stopped".to_owned(),
        },
    ] {
        let kind = event.kind();
        let err = record(&store, "nope", vec![event]).err();
        assert!(
            matches!(&err, Some(StateError::RunNotFound { run_id }) if run_id == "nope"),
            "{kind}: {err:?}"
        );
    }
    assert_eq!(store.run("nope")?, None);

    // Events of an unknown step, each refused with the run and step named.
    for event in [
        attempt_started("missing", 1),
        test_started("missing", 1),
        Event::StepFailed {
            step: "missing".to_owned(),
            attempt: 0,
            error: "x".to_owned(),
            duration_ms: 0,
        },
        Event::StepCompleted {
            step: "missing".to_owned(),
            attempt: 1,
            commit: "a".to_owned(),
            duration_ms: 0,
        },
        Event::StepReset {
            step: "missing".to_owned(),
            previous_status: StepStatus::Completed,
            definition_hash: "h".to_owned(),
        },
        Event::StepReused {
            step: "missing".to_owned(),
            commit: "a".to_owned(),
        },
        step_interrupted("missing"),
    ] {
        let kind = event.kind();
        let err = record(&store, "r1", vec![event]).err();
        assert!(
            matches!(&err, Some(StateError::StepNotFound { run_id, step_id })
                if run_id == "r1" && step_id == "missing"),
            "{kind}: {err:?}"
        );
    }
    unchanged("events of an unknown step")?;

    // An attempt finished that never began.
    assert!(matches!(
        record(&store, "r1", vec![attempt_finished("ws", 1, AttemptResult::Failed)]),
        Err(StateError::AttemptNotFound { run_id, step_id, attempt: 1 })
            if run_id == "r1" && step_id == "ws"
    ));
    // Attachments of an unknown step or attempt are refused by the database.
    let orphan = checkpoint("a", "b");
    assert!(
        store
            .record(
                "r1",
                vec![Change::Checkpoint {
                    step: "missing",
                    checkpoint: &orphan
                }]
            )
            .is_err()
    );
    assert!(
        store
            .record(
                "r1",
                vec![Change::AttemptError {
                    step: "ws",
                    attempt: 7,
                    report: &error_report("0123456789abcdef"),
                }]
            )
            .is_err()
    );
    unchanged("attachments of unknown steps or attempts")?;

    // The same changes are accepted once they fit.
    record(&store, "r1", vec![step_added("ws2", &["ws"])])?;
    let ids: Vec<String> = store.steps("r1")?.into_iter().map(|s| s.step_id).collect();
    assert_eq!(ids, ["ws", "ws2"]);
    Ok(())
}

#[test]
fn statuses_set_and_clear_finished_at_and_error() -> TestResult {
    let dir = tempfile::tempdir()?;
    let store = open_store(dir.path())?;
    start_run(&store, "r1", &["ws", "dep"])?;
    record(
        &store,
        "r1",
        vec![Event::StepFailed {
            step: "ws".to_owned(),
            attempt: 0,
            error: "exit 1".to_owned(),
            duration_ms: 5,
        }],
    )?;
    let step = store.step("r1", "ws")?.ok_or("step missing")?;
    assert_eq!(step.status, StepStatus::Failed);
    assert_eq!(step.error.as_deref(), Some("exit 1"));
    assert!(step.finished_at.is_some());

    record(
        &store,
        "r1",
        vec![Event::StepWaiting {
            step: "ws".to_owned(),
            attempt: 0,
            wait: WaitKind::Breaker,
            tool: Some("codex".to_owned()),
            class: None,
            reason: "circuit breaker of codex is open".to_owned(),
            delay_ms: 0,
            until: None,
        }],
    )?;
    let step = store.step("r1", "ws")?.ok_or("step missing")?;
    assert_eq!(step.status, StepStatus::Waiting);
    assert_eq!(
        step.error.as_deref(),
        Some("circuit breaker of codex is open")
    );
    assert_eq!(step.finished_at, None);

    begin(&store, "r1", "ws", 1)?;
    let step = store.step("r1", "ws")?.ok_or("step missing")?;
    assert_eq!((step.status, step.error), (StepStatus::Running, None));

    record(
        &store,
        "r1",
        vec![Event::StepSkipped {
            step: "dep".to_owned(),
            dependency: Some("ws".to_owned()),
            reason: "dependency ws failed".to_owned(),
        }],
    )?;
    let skipped = store.step("r1", "dep")?.ok_or("step missing")?;
    assert_eq!(skipped.status, StepStatus::Skipped);
    assert_eq!(skipped.error.as_deref(), Some("dependency ws failed"));
    assert!(skipped.finished_at.is_some());

    // A run: finished sets finished_at, a resume clears it.
    record(&store, "r1", vec![run_finished(RunStatus::Failed)])?;
    let run = store.run("r1")?.ok_or("run missing")?;
    assert_eq!(run.status, RunStatus::Failed);
    assert!(run.finished_at.is_some());
    record(&store, "r1", vec![run_started("r1", WORKSTREAMS, 2, true)])?;
    let run = store.run("r1")?.ok_or("run missing")?;
    assert_eq!((run.status, run.finished_at), (RunStatus::Running, None));
    record(&store, "r1", vec![run_finished(RunStatus::Interrupted)])?;
    let run = store.run("r1")?.ok_or("run missing")?;
    assert_eq!(
        (run.status, run.finished_at),
        (RunStatus::Interrupted, None)
    );
    Ok(())
}

#[test]
fn records_serialize_with_lowercase_statuses() -> TestResult {
    let dir = tempfile::tempdir()?;
    let store = open_store(dir.path())?;
    start_run(&store, "r1", &["ws"])?;
    begin(&store, "r1", "ws", 1)?;
    record(
        &store,
        "r1",
        vec![attempt_finished("ws", 1, AttemptResult::TimedOut)],
    )?;

    let run = serde_json::to_value(store.run("r1")?)?;
    assert_eq!(run["status"], "running");
    let step = serde_json::to_value(store.steps("r1")?)?;
    assert_eq!(step[0]["status"], "running");
    assert_eq!(step[0]["depends_on"], json!([]));
    let attempts = serde_json::to_value(store.attempts("r1", "ws")?)?;
    assert_eq!(attempts[0]["outcome"], "timed_out");
    assert_eq!(attempts[0]["exit_code"], json!(null));
    let journal = serde_json::to_value(store.journal("r1", 0)?)?;
    assert_eq!(journal[3]["event"], "attempt_finished");
    assert_eq!(journal[3]["outcome"], "timed_out");
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
         completed, failed, skipped, cancelled, interrupted, retrying, waiting, \
         awaiting_approval)"
    );

    // A status column holding text the binary does not know fails loudly on read.
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("state.db");
    let store = StateStore::open(&path, Durability::Normal)?;
    start_run(&store, "r1", &[])?;
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
                start_run(&store, &format!("r{i}"), &["ws"]).map(drop)
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

fn waiting(step: &str, attempt: u32) -> Event {
    Event::StepWaiting {
        step: step.to_owned(),
        attempt,
        wait: WaitKind::Backoff,
        tool: None,
        class: Some("transient".to_owned()),
        reason: format!("retrying after attempt {attempt}"),
        delay_ms: 1000,
        until: None,
    }
}

#[test]
fn last_step_event_finds_the_newest_of_the_kind_asked_for() -> TestResult {
    let dir = tempfile::tempdir()?;
    let store = open_store(dir.path())?;
    start_run(&store, "r1", &["a", "b"])?;
    start_run(&store, "r2", &["a"])?;
    assert_eq!(store.last_step_event("r1", "a", "step_waiting")?, None);
    let first = record(&store, "r1", vec![waiting("a", 1)])?;
    let second = record(&store, "r1", vec![waiting("a", 2)])?;
    let selected = record(
        &store,
        "r1",
        vec![Event::ToolSelected {
            step: "a".to_owned(),
            tool: "codex".to_owned(),
            requested: "codex".to_owned(),
            skipped: Vec::new(),
            trial: true,
        }],
    )?;
    record(&store, "r1", vec![waiting("b", 9)])?;
    record(&store, "r2", vec![waiting("a", 8)])?;

    assert_eq!(
        store.last_step_event("r1", "a", "step_waiting")?,
        second.first().cloned()
    );
    assert_ne!(first, second);
    assert_eq!(
        store.last_step_event("r1", "a", "tool_selected")?,
        selected.first().cloned()
    );
    let b = store
        .last_step_event("r1", "b", "step_waiting")?
        .ok_or("no event of b")?;
    assert_eq!(b.event, waiting("b", 9));
    let other_run = store
        .last_step_event("r2", "a", "step_waiting")?
        .ok_or("no event of r2")?;
    assert_eq!(other_run.event, waiting("a", 8));
    assert_eq!(store.last_step_event("r1", "a", "escalated")?, None);
    assert_eq!(store.last_step_event("r1", "zz", "step_waiting")?, None);
    Ok(())
}

/// Records a run whose steps end every way a step can: completed with a test, failed
/// twice with a classified error (then compensated), skipped, reset and run again, and
/// interrupted; then a resume that is itself interrupted.
fn record_a_varied_run(store: &StateStore) -> Result<(), StateError> {
    let run = "r1";
    record(
        store,
        run,
        vec![
            run_started(run, WORKSTREAMS, 5, false),
            step_added("ws/ok", &[]),
            step_added("ws/bad", &[]),
            step_added("ws/skip", &["ws/bad"]),
            step_added("ws/again", &[]),
            step_added("ws/cut", &[]),
        ],
    )?;

    // ws/ok: one attempt with a passing test.
    begin(store, run, "ws/ok", 1)?;
    let test = Event::TestFinished {
        step: "ws/ok".to_owned(),
        attempt: 1,
        name: "unit".to_owned(),
        command: "cargo test".to_owned(),
        passed: true,
        duration_ms: 250,
        outcome: "exit 0".to_owned(),
        log: "/logs/ws/ok/1.unit.log".to_owned(),
    };
    record(store, run, vec![test_started("ws/ok", 1), test])?;
    record(
        store,
        run,
        vec![attempt_finished("ws/ok", 1, AttemptResult::Succeeded)],
    )?;
    complete(store, run, "ws/ok", 1, "0k0k")?;

    // ws/bad: two failed attempts with the same classified error, a fix in between.
    let report = error_report("feedfacefeedface");
    for attempt in [1, 2] {
        begin(store, run, "ws/bad", attempt)?;
        let mut finished = attempt_finished("ws/bad", attempt, AttemptResult::Failed);
        if let Event::AttemptFinished { classified, .. } = &mut finished {
            *classified = Some(summary_of(&report));
        }
        let next = if attempt == 1 {
            Event::FixRequested {
                step: "ws/bad".to_owned(),
                attempt,
                class: "permanent".to_owned(),
                fixes_left: 0,
                reason: "feeding the failure back".to_owned(),
            }
        } else {
            Event::StepFailed {
                step: "ws/bad".to_owned(),
                attempt,
                error: "permanent: mismatched types".to_owned(),
                duration_ms: 3000,
            }
        };
        store.record(
            run,
            vec![
                Change::Event(finished),
                Change::AttemptError {
                    step: "ws/bad",
                    attempt,
                    report: &report,
                },
                Change::Event(next),
            ],
        )?;
    }
    record(
        store,
        run,
        vec![Event::CompensationFinished {
            step: "ws/bad".to_owned(),
            index: 1,
            command: "make undo".to_owned(),
            succeeded: true,
            outcome: "exit 0".to_owned(),
            log: "/logs/ws/bad/compensation-1.log".to_owned(),
        }],
    )?;

    // ws/skip: its dependency failed.
    record(
        store,
        run,
        vec![Event::StepSkipped {
            step: "ws/skip".to_owned(),
            dependency: Some("ws/bad".to_owned()),
            reason: "dependency ws/bad failed".to_owned(),
        }],
    )?;

    // ws/again: completed, then reset by a resume (definition changed) and run again.
    run_to_completion(store, run, "ws/again", 1, "aaaa")?;

    // ws/cut: running when the process dies.
    begin(store, run, "ws/cut", 1)?;
    interrupt_run(store, run)?;

    // The resume: keeps ws/ok, re-runs ws/again, then is stopped itself.
    record(
        store,
        run,
        vec![
            run_started(run, WORKSTREAMS, 5, true),
            Event::StepReused {
                step: "ws/ok".to_owned(),
                commit: "0k0k".to_owned(),
            },
            Event::OrphansKilled {
                step: "ws/cut".to_owned(),
                process_groups: 1,
                worktree: "/wt/ws/cut".to_owned(),
            },
            Event::StepReset {
                step: "ws/again".to_owned(),
                previous_status: StepStatus::Completed,
                definition_hash: "hash-ws/again-v2".to_owned(),
            },
        ],
    )?;
    run_to_completion(store, run, "ws/again", 2, "bbbb")?;
    record(store, run, vec![run_finished(RunStatus::Interrupted)])?;
    Ok(())
}

#[test]
fn replay_of_a_recorded_run_equals_the_tables() -> TestResult {
    let dir = tempfile::tempdir()?;
    let store = open_store(dir.path())?;
    record_a_varied_run(&store)?;
    let journal = store.journal("r1", 0)?;
    let replay = RunReplay::from_journal(&journal).ok_or("the journal begins the run")?;

    assert_eq!(Some(&replay.run), store.run("r1")?.as_ref());
    assert_eq!(replay.run.status, RunStatus::Interrupted);
    let steps = store.steps("r1")?;
    assert_eq!(replay.steps.len(), steps.len());
    for (replayed, step) in replay.steps.iter().zip(&steps) {
        assert_eq!(replayed.record, *step);
        let attempts: Vec<AttemptRecord> =
            replayed.attempts.iter().map(|a| a.record.clone()).collect();
        assert_eq!(
            attempts,
            store.attempts("r1", &step.step_id)?,
            "{}",
            step.step_id
        );
    }

    // The tables say what the run did, so the comparison above is not between empties.
    let statuses: Vec<(&str, StepStatus, u32)> = steps
        .iter()
        .map(|s| (s.step_id.as_str(), s.status, s.attempts))
        .collect();
    assert_eq!(
        statuses,
        [
            ("ws/ok", StepStatus::Completed, 1),
            ("ws/bad", StepStatus::Failed, 2),
            ("ws/skip", StepStatus::Skipped, 0),
            ("ws/again", StepStatus::Completed, 2),
            ("ws/cut", StepStatus::Interrupted, 1),
        ]
    );
    assert_eq!(steps[3].commit.as_deref(), Some("bbbb"));
    assert_eq!(steps[3].definition_hash, "hash-ws/again-v2");
    assert_eq!(
        store.attempts("r1", "ws/cut")?[0].outcome,
        Some(AttemptResult::Interrupted)
    );

    // Tests of the latest attempt that ran them, and the classified error as `errors`
    // counts it.
    let ok = &replay.steps[0];
    assert_eq!(ok.tests.len(), 1);
    assert_eq!((ok.tests[0].attempt, ok.tests[0].passed), (1, true));
    assert_eq!(
        ok.tests[0],
        AcceptanceTest {
            attempt: 1,
            name: "unit".to_owned(),
            command: "cargo test".to_owned(),
            passed: true,
            duration_ms: 250,
            outcome: "exit 0".to_owned(),
            log: "/logs/ws/ok/1.unit.log".to_owned(),
        }
    );
    let (summary, occurrences, last_attempt) = replay.steps[1]
        .last_error()
        .ok_or("ws/bad has a classified error")?;
    let errors = store.errors("r1")?;
    assert_eq!(errors.len(), 1);
    assert_eq!(
        (
            summary.signature.as_str(),
            summary.class.as_str(),
            summary.plugin.as_str(),
            summary.summary.as_str(),
            occurrences,
            last_attempt
        ),
        (
            errors[0].signature.as_str(),
            errors[0].class.as_str(),
            errors[0].plugin.as_str(),
            errors[0].summary.as_str(),
            errors[0].occurrences,
            errors[0].last_attempt
        )
    );
    assert_eq!((occurrences, last_attempt), (2, 2));
    assert!(replay.steps[0].last_error().is_none());

    // Without its run_started a journal does not describe a run.
    assert_eq!(RunReplay::from_journal(&journal[1..]), None);
    Ok(())
}

#[test]
fn a_change_flushed_with_the_next_write_is_recorded_and_full_sync_comes_back() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("state.db");
    let store = StateStore::open(&path, Durability::Full)?;
    start_run(&store, "r1", &["ws/a", "ws/b"])?;
    begin(&store, "r1", "ws/a", 1)?;
    let synchronous = |store: &StateStore| -> Result<i64, rusqlite::Error> {
        store
            .connection()
            .pragma_query_value(None, "synchronous", |row| row.get(0))
    };
    assert_eq!(synchronous(&store)?, 2, "FULL");
    store.record_flushed(
        "r1",
        vec![Change::Event(attempt_finished(
            "ws/a",
            1,
            AttemptResult::Succeeded,
        ))],
        Flush::WithNextWrite,
    )?;
    assert_eq!(
        synchronous(&store)?,
        2,
        "FULL again after the relaxed commit"
    );
    // A relaxed call that fails leaves FULL too, and records nothing.
    let refused = store.record_flushed(
        "r1",
        vec![Change::Event(attempt_started("ws/missing", 1))],
        Flush::WithNextWrite,
    );
    assert!(refused.is_err());
    assert_eq!(synchronous(&store)?, 2);
    // The relaxed commit is in the database for any reader.
    let other = StateStore::open(&path, Durability::Normal)?;
    let attempts = other.attempts("r1", "ws/a")?;
    assert_eq!(attempts[0].outcome, Some(AttemptResult::Succeeded));
    Ok(())
}

#[test]
fn test_results_of_the_older_journal_format_are_still_read() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("state.db");
    let store = StateStore::open(&path, Durability::Normal)?;
    start_run(&store, "r1", &["ws"])?;
    let raw = Connection::open(&path)?;
    // As written before the typed journal: the test result alone, kind and step in columns.
    raw.execute(
        "INSERT INTO events (run_id, step_id, at, kind, data) \
         VALUES ('r1', 'ws', '2025-01-31T12:00:00.000Z', 'test_finished', ?1)",
        [r#"{"attempt":1,"name":"unit","command":"make test","passed":true,"duration_ms":12,"outcome":"exit 0","log":"/l/1.test-1.log"}"#],
    )?;
    let tests = store.journal_of_kind("r1", "test_finished")?;
    assert_eq!(tests.len(), 1);
    assert_eq!(tests[0].event.step(), Some("ws"));
    let result = tests[0].event.test_result().ok_or("a test result")?;
    assert_eq!(
        (result.name.as_str(), result.passed, result.duration_ms),
        ("unit", true, 12)
    );
    Ok(())
}

/// A run that ends keeps no live step: `run_finished` (whatever its status) and
/// `run_interrupted` settle every `running`, `validating`, `retrying` or `waiting` step to
/// `interrupted` in their own transaction, journalled before the run event, so replay
/// agrees with the tables; finished and pending steps are left as they are.
#[test]
fn a_run_that_ends_settles_every_live_step() -> TestResult {
    let dir = tempfile::tempdir()?;
    let store = open_store(dir.path())?;
    start_run(
        &store,
        "r1",
        &["ws/run", "ws/test", "ws/wait", "ws/done", "ws/todo"],
    )?;
    record(
        &store,
        "r1",
        vec![
            attempt_started("ws/run", 1),
            attempt_started("ws/test", 1),
            test_started("ws/test", 1),
            Event::StepWaiting {
                step: "ws/wait".to_owned(),
                attempt: 0,
                wait: WaitKind::Breaker,
                tool: Some("aider".to_owned()),
                class: None,
                reason: "circuit breaker open".to_owned(),
                delay_ms: 0,
                until: None,
            },
            attempt_started("ws/done", 1),
            Event::StepCompleted {
                step: "ws/done".to_owned(),
                attempt: 1,
                commit: "dddd".to_owned(),
                duration_ms: 5,
            },
        ],
    )?;
    // The driver's final write, as a failed state write or a lost task leaves it.
    let entries = record(&store, "r1", vec![run_finished(RunStatus::Failed)])?;
    assert_eq!(
        kinds(&entries),
        [
            ("step_interrupted", Some("ws/run")),
            ("step_interrupted", Some("ws/test")),
            ("step_interrupted", Some("ws/wait")),
            ("run_finished", None),
        ]
    );
    let reason = "the run ended (failed)";
    for entry in &entries[..3] {
        assert!(
            matches!(&entry.event, Event::StepInterrupted { reason: r, .. } if r == reason),
            "{entry:?}"
        );
    }
    let statuses: Vec<(String, StepStatus, Option<String>)> = store
        .steps("r1")?
        .into_iter()
        .map(|s| (s.step_id, s.status, s.error))
        .collect();
    let interrupted = |step: &str| {
        (
            step.to_owned(),
            StepStatus::Interrupted,
            Some(reason.to_owned()),
        )
    };
    assert_eq!(
        statuses,
        [
            interrupted("ws/run"),
            interrupted("ws/test"),
            interrupted("ws/wait"),
            ("ws/done".to_owned(), StepStatus::Completed, None),
            ("ws/todo".to_owned(), StepStatus::Pending, None),
        ]
    );
    // Unfinished attempts end with their step.
    let attempt = &store.attempts("r1", "ws/run")?[0];
    assert_eq!(attempt.outcome, Some(AttemptResult::Interrupted));
    assert_eq!(attempt.error.as_deref(), Some(reason));
    assert!(attempt.finished_at.is_some());

    // The journal alone tells the same.
    let replay =
        RunReplay::from_journal(&store.journal("r1", 0)?).ok_or("the journal begins the run")?;
    for (replayed, step) in replay.steps.iter().zip(store.steps("r1")?) {
        assert_eq!(replayed.record, step);
    }
    Ok(())
}

/// `run_interrupted` settles live steps with its own reason; a step cancelled (removed
/// from the workstream) is final and not settled again.
#[test]
fn an_interrupted_run_settles_live_steps_with_its_reason_and_cancelled_steps_stay() -> TestResult {
    let dir = tempfile::tempdir()?;
    let store = open_store(dir.path())?;
    start_run(&store, "r1", &["ws/a", "ws/gone"])?;
    record(
        &store,
        "r1",
        vec![attempt_started("ws/a", 1), attempt_started("ws/gone", 1)],
    )?;
    let entries = record(
        &store,
        "r1",
        vec![
            Event::StepCancelled {
                step: "ws/gone".to_owned(),
                reason: "removed from the workstream file".to_owned(),
            },
            Event::RunInterrupted {
                reason: "a state write failed".to_owned(),
            },
        ],
    )?;
    assert_eq!(
        kinds(&entries),
        [
            ("step_cancelled", Some("ws/gone")),
            ("step_interrupted", Some("ws/a")),
            ("run_interrupted", None),
        ]
    );
    let a = store.step("r1", "ws/a")?.ok_or("ws/a")?;
    assert_eq!(a.status, StepStatus::Interrupted);
    assert_eq!(a.error.as_deref(), Some("a state write failed"));
    let gone = store.step("r1", "ws/gone")?.ok_or("ws/gone")?;
    assert_eq!(gone.status, StepStatus::Cancelled);
    assert_eq!(
        gone.error.as_deref(),
        Some("removed from the workstream file")
    );
    assert!(gone.finished_at.is_some());
    assert_eq!(
        store.attempts("r1", "ws/gone")?[0].outcome,
        Some(AttemptResult::Interrupted)
    );
    Ok(())
}
