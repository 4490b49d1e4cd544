//! Tests of [`RunJournal`] on a real temporary state database: a write that fails for
//! real (a SQLite trigger refuses it) stops the run and keeps its error; successful
//! writes reach the reporter in journal order, also when several threads record at once.

use std::error::Error;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;

use rusqlite::Connection;
use tokio_util::sync::CancellationToken;

use super::RunJournal;
use crate::engine::Reporter;
use crate::engine::step_error::StepError;
use crate::state::{
    AttemptResult, Change, Checkpoint, CheckpointOutputs, Durability, Event, JournalEntry,
    StateError, StateStore, StepStatus,
};

type TestResult = Result<(), Box<dyn Error>>;

const RUN: &str = "r1";

/// A reporter that keeps every entry it is given, in the order given.
#[derive(Default)]
struct RecordingReporter {
    entries: Mutex<Vec<JournalEntry>>,
    /// Live output lines, as `step: line`.
    lines: Mutex<Vec<String>>,
}

impl Reporter for RecordingReporter {
    fn report(&self, entry: &JournalEntry) {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(entry.clone());
    }

    fn output(&self, step: &str, line: &str) {
        self.lines
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(format!("{step}: {line}"));
    }

    fn wants_output(&self) -> bool {
        true
    }
}

impl RecordingReporter {
    fn entries(&self) -> Vec<JournalEntry> {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// A journal of run `r1` (already started, with `steps`) on a fresh database.
struct Fixture {
    _dir: tempfile::TempDir,
    path: PathBuf,
    store: StateStore,
    reporter: Arc<RecordingReporter>,
    cancel: CancellationToken,
    journal: RunJournal,
}

fn fixture(steps: &[&str]) -> Result<Fixture, Box<dyn Error>> {
    fixture_with_secrets(steps, &[])
}

/// [`fixture`] with a journal that redacts `secrets`.
fn fixture_with_secrets(steps: &[&str], secrets: &[&str]) -> Result<Fixture, Box<dyn Error>> {
    let secrets: Vec<String> = secrets.iter().map(|s| (*s).to_owned()).collect();
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("state.db");
    let store = StateStore::open(&path, Durability::Normal)?;
    let reporter = Arc::new(RecordingReporter::default());
    let cancel = CancellationToken::new();
    let journal = RunJournal::new(
        store.clone(),
        RUN,
        reporter.clone(),
        cancel.clone(),
        &secrets,
    );
    let mut changes = vec![Change::Event(Event::RunStarted {
        workstreams: "/repo/workstreams/ws.json".to_owned(),
        repo: "/repo".to_owned(),
        base_commit: "0123456789abcdef0123456789abcdef01234567".to_owned(),
        result_branch: format!("pipeline/{RUN}"),
        steps: steps.len(),
        jobs: 4,
        plan_hash: "plan".to_owned(),
        resumed: false,
        pid: 1,
        budget_usd: None,
        budget_tokens: None,
        engine: None,
    })];
    changes.extend(steps.iter().map(|step| {
        Change::Event(Event::StepAdded {
            step: (*step).to_owned(),
            workstream: "ws".to_owned(),
            definition_hash: format!("hash-{step}"),
            depends_on: Vec::new(),
        })
    }));
    journal.record_changes(changes)?;
    Ok(Fixture {
        _dir: dir,
        path,
        store,
        reporter,
        cancel,
        journal,
    })
}

fn attempt_started(step: &str, attempt: u32) -> Event {
    Event::AttemptStarted {
        step: step.to_owned(),
        attempt,
        tool: Some("shell".to_owned()),
        worktree: None,
        log: format!("/logs/{step}/{attempt}.log"),
    }
}

fn attempt_finished(step: &str, attempt: u32) -> Event {
    Event::AttemptFinished {
        step: step.to_owned(),
        attempt,
        outcome: AttemptResult::Succeeded,
        exit_code: Some(0),
        error: None,
        classified: None,
        usage: None,
        duration_ms: 10,
    }
}

#[test]
fn a_failed_write_stops_the_run_keeps_its_first_error_and_reports_nothing_of_it() -> TestResult {
    let f = fixture(&["ws/a"])?;
    f.journal.record(attempt_started("ws/a", 1))?;
    // The database refuses every `step_completed` from now on, as a full disk would.
    Connection::open(&f.path)?.execute_batch(
        "CREATE TRIGGER refuse_step_completed BEFORE INSERT ON events \
         WHEN NEW.kind = 'step_completed' BEGIN SELECT RAISE(ABORT, 'disk full'); END;",
    )?;
    let reported_before = f.reporter.entries();
    let journal_before = f.store.journal(RUN, 0)?;
    assert_eq!(reported_before, journal_before);
    assert!(!f.cancel.is_cancelled());

    let checkpoint = Checkpoint {
        commit: "c0ffee".to_owned(),
        definition_hash: "hash-ws/a".to_owned(),
        outputs: CheckpointOutputs::default(),
    };
    let result = f.journal.record_changes(vec![
        Change::Event(Event::TestStarted {
            step: "ws/a".to_owned(),
            attempt: 1,
            name: "unit".to_owned(),
            command: "true".to_owned(),
        }),
        Change::Event(attempt_finished("ws/a", 1)),
        Change::Event(Event::StepCompleted {
            step: "ws/a".to_owned(),
            attempt: 1,
            commit: "c0ffee".to_owned(),
            duration_ms: 20,
        }),
        Change::Checkpoint {
            step: "ws/a",
            checkpoint: &checkpoint,
        },
    ]);
    assert!(
        matches!(&result, Err(StepError::Journal(message)) if message.contains("disk full")),
        "{result:?}"
    );
    assert!(f.cancel.is_cancelled(), "a failed write cancels the run");
    assert_eq!(
        f.reporter.entries(),
        reported_before,
        "the reporter saw nothing of the failed call"
    );
    assert_eq!(
        f.store.journal(RUN, 0)?,
        journal_before,
        "nothing was recorded"
    );
    let step = f.store.step(RUN, "ws/a")?.ok_or("step missing")?;
    assert_eq!(step.status, StepStatus::Running);
    assert_eq!(f.store.checkpoint(RUN, "ws/a")?, None);

    // A second, different failure does not replace the first.
    let second = f.journal.record(attempt_started("missing", 1));
    assert!(
        matches!(&second, Err(StepError::Journal(message)) if message.contains("missing")),
        "{second:?}"
    );
    let kept = f.journal.take_failure();
    assert!(
        matches!(&kept, Some(StateError::Database { .. })
            if kept.as_ref().is_some_and(|e| e.to_string().contains("disk full"))),
        "{kept:?}"
    );
    assert!(
        f.journal.take_failure().is_none(),
        "the failure is taken once"
    );
    assert_eq!(f.reporter.entries(), reported_before);
    Ok(())
}

#[test]
fn successful_writes_reach_the_reporter_in_id_order_from_four_threads() -> TestResult {
    const THREADS: usize = 4;
    const ATTEMPTS: u32 = 25;
    let steps: Vec<String> = (0..THREADS).map(|t| format!("ws/s{t}")).collect();
    let step_refs: Vec<&str> = steps.iter().map(String::as_str).collect();
    let f = fixture(&step_refs)?;
    let journal = Arc::new(f.journal);

    let handles: Vec<_> = steps
        .into_iter()
        .map(|step| {
            let journal = Arc::clone(&journal);
            // The error as text: `StepError` is too large for clippy's taste in a `Result`.
            thread::spawn(move || -> Result<(), String> {
                for attempt in 1..=ATTEMPTS {
                    journal
                        .record(attempt_started(&step, attempt))
                        .map_err(|err| err.to_string())?;
                    journal
                        .record_changes(vec![Change::Event(attempt_finished(&step, attempt))])
                        .map_err(|err| err.to_string())?;
                }
                Ok(())
            })
        })
        .collect();
    for handle in handles {
        handle.join().map_err(|_| "recording thread panicked")??;
    }

    let reported = f.reporter.entries();
    let expected = 1 + THREADS + THREADS * 2 * ATTEMPTS as usize;
    assert_eq!(reported.len(), expected);
    assert!(
        reported.windows(2).all(|w| w[0].id < w[1].id),
        "entries reached the reporter out of id order"
    );
    assert_eq!(
        reported,
        f.store.journal(RUN, 0)?,
        "the reporter saw the journal"
    );
    for step in f.store.steps(RUN)? {
        assert_eq!(step.attempts, ATTEMPTS, "{}", step.step_id);
    }
    assert!(journal.take_failure().is_none());
    assert!(!f.cancel.is_cancelled());
    Ok(())
}

const SECRET: &str = "sk-test-0123456789abcdef";

/// Every text column of every table of the database at `path`, as one string.
fn dump(path: &std::path::Path) -> Result<String, Box<dyn Error>> {
    let db = Connection::open(path)?;
    let tables: Vec<String> = db
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let mut text = String::new();
    for table in tables {
        let mut statement = db.prepare(&format!("SELECT * FROM \"{table}\""))?;
        let columns = statement.column_count();
        let mut rows = statement.query([])?;
        while let Some(row) = rows.next()? {
            for i in 0..columns {
                if let rusqlite::types::ValueRef::Text(t) = row.get_ref(i)? {
                    text.push_str(&String::from_utf8_lossy(t));
                    text.push('\n');
                }
            }
        }
    }
    Ok(text)
}

#[test]
fn secrets_are_redacted_from_every_recorded_text_and_every_reported_line() -> TestResult {
    // A 7-byte value is below MIN_SECRET_BYTES: left alone.
    let f = fixture_with_secrets(&["ws/a"], &[SECRET, "pass123"])?;
    f.journal.record(attempt_started("ws/a", 1))?;
    let leaked = format!("401 Unauthorized: key {SECRET} rejected; pass123");
    let report = pipeline_error::ErrorReport {
        class: pipeline_error::ErrorClass::Permanent,
        plugin: "exit-status".to_owned(),
        signature: "0123456789abcdef".to_owned(),
        normalized: leaked.clone(),
        summary: leaked.clone(),
        diagnostics: vec![pipeline_error::Diagnostic {
            file: None,
            line: None,
            column: None,
            code: None,
            severity: pipeline_error::Severity::Error,
            message: leaked.clone(),
        }],
        output_hash: "0123456789abcdef".to_owned(),
        diff_hash: None,
        plugin_failures: Vec::new(),
    };
    f.journal.record_changes(vec![
        Change::Event(Event::TestFinished {
            step: "ws/a".to_owned(),
            attempt: 1,
            name: "unit".to_owned(),
            command: format!("test \"$KEY\" = {SECRET}"),
            passed: false,
            duration_ms: 1,
            outcome: "exit 1".to_owned(),
            log: "/logs/t.log".to_owned(),
        }),
        Change::Event(Event::AttemptFinished {
            step: "ws/a".to_owned(),
            attempt: 1,
            outcome: AttemptResult::Failed,
            exit_code: Some(1),
            error: Some(leaked.clone()),
            classified: Some(crate::state::ErrorSummary {
                class: "permanent".to_owned(),
                plugin: "exit-status".to_owned(),
                signature: "0123456789abcdef".to_owned(),
                summary: leaked.clone(),
            }),
            usage: None,
            duration_ms: 5,
        }),
        Change::AttemptError {
            step: "ws/a",
            attempt: 1,
            report: &report,
        },
        Change::Event(Event::StepFailed {
            step: "ws/a".to_owned(),
            attempt: 1,
            error: leaked.clone(),
            duration_ms: 6,
        }),
    ])?;
    f.journal
        .reporter()
        .output("ws/a", &format!("using {SECRET} now"));

    let database = dump(&f.path)?;
    assert!(!database.contains(SECRET), "{database}");
    assert!(
        database.contains("key [REDACTED] rejected; pass123"),
        "{database}"
    );
    let reported = serde_json::to_string(&f.reporter.entries())?;
    assert!(!reported.contains(SECRET), "{reported}");
    assert!(reported.contains("[REDACTED]"));
    let lines = f
        .reporter
        .lines
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    assert_eq!(lines, ["ws/a: using [REDACTED] now"]);
    let step = f.store.step(RUN, "ws/a")?.ok_or("step missing")?;
    assert_eq!(
        step.error.as_deref(),
        Some("401 Unauthorized: key [REDACTED] rejected; pass123")
    );
    Ok(())
}

#[test]
fn redacting_an_event_costs_less_than_recording_it() -> TestResult {
    const EVENTS: u32 = 300;
    let secrets: Vec<String> = (0..10)
        .map(|i| format!("secret-value-{i:04}-abcdef"))
        .collect();
    let filter = super::SecretFilter::new(&secrets);
    let failed = |attempt: u32| Event::StepFailed {
        step: "ws/a".to_owned(),
        attempt,
        error: "error: tests failed\n".repeat(20),
        duration_ms: 1,
    };
    let f = fixture(&["ws/a"])?;
    let started = std::time::Instant::now();
    for attempt in 1..=EVENTS {
        f.journal.record(failed(attempt))?;
    }
    let recording = started.elapsed();
    let mut events: Vec<Event> = (1..=EVENTS).map(failed).collect();
    let started = std::time::Instant::now();
    for event in &mut events {
        filter.scrub_event(event);
    }
    let redacting = started.elapsed();
    eprintln!("{EVENTS} events: recording {recording:?}, redacting {redacting:?}");
    // Measured in a debug build: about 30 µs to redact and 150-280 µs to record each.
    assert!(
        redacting < recording,
        "redacting {EVENTS} events took {redacting:?}, recording them {recording:?}"
    );
    Ok(())
}
