//! Both renderings of recorded event streams (`pipeline run --json` on small workstreams
//! in a scratch repository; paths replaced by `/repo`, fixed run ids): the plain log, and
//! a transcript of the terminal view (the lines it prints, and its frame after each entry
//! and once a second while nothing is recorded, at instants taken from the stream).

use std::time::{Duration, SystemTime};

use pipeline_core::state::JournalEntry;

use super::live::frame;
use super::run_view::{LineKind, RunView};
use super::timing::parse_at;

/// A parallel run: `lint` fails, its dependants are skipped, `build` runs a test.
const PARALLEL: &str = include_str!("../../tests/fixtures/events/parallel.ndjson");
/// A step fails twice with "Connection reset by peer" and retries after backoffs.
const RETRY: &str = include_str!("../../tests/fixtures/events/retry.ndjson");
/// A step gets HTTP 429 with `Retry-After: 2` and waits for the reset.
const RATE_LIMIT: &str = include_str!("../../tests/fixtures/events/ratelimit.ndjson");
/// A custom AI tool's answer fails its acceptance test and is fixed on request.
const FIX: &str = include_str!("../../tests/fixtures/events/fix.ndjson");
/// A step's second acceptance test takes three seconds.
const SLOW_TEST: &str = include_str!("../../tests/fixtures/events/slowtest.ndjson");
/// `pipeline resume` of a failed run: one step kept, the failed one and its dependant
/// run again.
const RESUME: &str = include_str!("../../tests/fixtures/events/resume.ndjson");

/// The journal entries of a recorded `--json` stream. Lines that are no journal entry
/// (the final `summary`, a `warning`) are left out, as a reader must (docs/EVENTS.md).
fn entries(stream: &str) -> Vec<JournalEntry> {
    stream
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect()
}

/// The plain view's output for a stream.
fn plain(stream: &str) -> String {
    let mut view = RunView::default();
    let mut out = String::new();
    for entry in entries(stream) {
        for line in view.apply(&entry) {
            out.push_str(&line.text);
            out.push('\n');
        }
    }
    out
}

/// The terminal view's transcript: after each entry, the lines it prints and its frame
/// at the entry's instant (`| `), then a frame each second until the next entry (at most
/// five); a frame equal to the one before is not repeated.
fn terminal(stream: &str) -> String {
    let entries = entries(stream);
    let mut view = RunView::default();
    let mut out = String::new();
    let mut last_frame = Vec::new();
    for (i, entry) in entries.iter().enumerate() {
        for line in view.apply(entry) {
            if line.kind == LineKind::Milestone {
                out.push_str(&line.text);
                out.push('\n');
            }
        }
        if view.ended() {
            continue;
        }
        let Some(at) = parse_at(&entry.at) else {
            continue;
        };
        let next = entries
            .get(i + 1)
            .and_then(|e| parse_at(&e.at))
            .unwrap_or(at);
        let mut instants = vec![at];
        instants.extend(
            (1..=5)
                .map(|s| at + Duration::from_secs(s))
                .take_while(|t| *t < next),
        );
        for now in instants {
            let lines = frame(&view, now);
            if lines != last_frame {
                out.push_str(&format!("  @ +{}\n", since_start(&view, now)));
                for line in &lines {
                    out.push_str(&format!("  | {}\n", line.trim_end()));
                }
                last_frame = lines;
            }
        }
    }
    out
}

/// Milliseconds since the run started, for the transcript's frame headers.
fn since_start(view: &RunView, now: SystemTime) -> String {
    let origin = view.origin().unwrap_or(now);
    format!(
        "{}ms",
        now.duration_since(origin).unwrap_or_default().as_millis()
    )
}

#[test]
fn a_parallel_run_counts_failed_and_skipped_steps_apart_from_completed_ones() {
    let log = plain(PARALLEL);
    assert!(
        log.contains("progress  5/5: 2 completed, 1 failed, 2 skipped | 0 running"),
        "{log}"
    );
    insta::assert_snapshot!("parallel_plain", log);
    let view = terminal(PARALLEL);
    assert!(view.contains("[=========xxxxx----------]"), "{view}");
    insta::assert_snapshot!("parallel_terminal", view);
}

#[test]
fn a_retry_shows_attempt_class_reason_and_wait() {
    let log = plain(RETRY);
    assert!(
        log.contains("retry     api/fetch: attempt 2 in 1.5s: transient (the connection failed"),
        "{log}"
    );
    assert!(log.contains("api/fetch: attempt 3 in 3.0s"), "{log}");
    insta::assert_snapshot!("retry_plain", log);
    let view = terminal(RETRY);
    // One second into the 1.5 s backoff, half a second is left.
    assert!(
        view.contains("retry attempt 2 in 0.5s: transient"),
        "{view}"
    );
    insta::assert_snapshot!("retry_terminal", view);
}

#[test]
fn a_rate_limit_wait_shows_the_time_to_the_reset() {
    let log = plain(RATE_LIMIT);
    assert!(
        log.contains("waiting   sync/upload: attempt 2 in 1.9s (rate limit): rate_limited (rate limited (HTTP 429)"),
        "{log}"
    );
    insta::assert_snapshot!("rate_limit_plain", log);
    let view = terminal(RATE_LIMIT);
    assert!(
        view.contains("waiting attempt 2 in 1.9s (rate limit)"),
        "{view}"
    );
    insta::assert_snapshot!("rate_limit_terminal", view);
}

#[test]
fn a_fix_loop_shows_the_failed_test_and_the_fix_request() {
    let log = plain(FIX);
    assert!(log.contains("test FAIL answer: answer is 42 in 50ms (exited with code 1)"));
    assert!(
        log.contains(
            "fix       answer: attempt 2 asks the tool to fix attempt 1 (1 fix left after it)"
        ),
        "{log}"
    );
    insta::assert_snapshot!("fix_plain", log);
    insta::assert_snapshot!("fix_terminal", terminal(FIX));
}

#[test]
fn a_slow_acceptance_test_shows_its_name_and_elapsed_time() {
    let log = plain(SLOW_TEST);
    assert!(
        log.contains("testing   lib/feature: full test suite (attempt 1, test 2)"),
        "{log}"
    );
    assert!(
        log.contains("test ok   lib/feature: full test suite in 3.0s"),
        "{log}"
    );
    insta::assert_snapshot!("slow_test_plain", log);
    let view = terminal(SLOW_TEST);
    for elapsed in ["1.0s", "2.0s", "3.0s"] {
        assert!(
            view.contains(&format!(
                "lib/feature              testing {elapsed}: full test suite"
            )),
            "the test's elapsed time ticks ({elapsed}): {view}"
        );
    }
    insta::assert_snapshot!("slow_test_terminal", view);
}

#[test]
fn a_resumed_run_counts_kept_steps_as_completed() {
    let log = plain(RESUME);
    assert!(log.contains("kept      site/assets"), "{log}");
    assert!(
        log.contains(
            "progress  1/3: 1 completed, 0 failed, 0 skipped | 0 running, 0 waiting, 2 queued"
        ),
        "{log}"
    );
    insta::assert_snapshot!("resume_plain", log);
    insta::assert_snapshot!("resume_terminal", terminal(RESUME));
}

#[test]
fn a_replay_renders_the_same_whenever_it_runs() {
    // The views read their instants from the entries: two replays, and a replay against
    // the recorded stream's own timing, give the same text.
    assert_eq!(plain(RETRY), plain(RETRY));
    assert_eq!(terminal(SLOW_TEST), terminal(SLOW_TEST));
    let first = plain(PARALLEL);
    assert!(first.starts_with("[   0.0s] starting run parallel: 5 steps, 2 at once"));
    assert!(
        first.contains("[   1.1s] completed app/build in 1.1s (09c7cb775e)"),
        "{first}"
    );
}

#[test]
fn a_tools_output_shows_on_its_running_step_only() {
    let mut view = RunView::default();
    let entries = entries(SLOW_TEST);
    for entry in entries.iter().take_while(|e| e.id <= 5) {
        view.apply(entry);
    }
    let Some(at) = entries
        .iter()
        .find(|e| e.id == 5)
        .and_then(|e| parse_at(&e.at))
    else {
        panic!("the fixture has entry 5");
    };
    view.note_output("lib/notes", "writing notes.txt\n", at);
    view.note_output("lib/unknown", "ignored", at);
    let lines = frame(&view, at + Duration::from_millis(300));
    assert_eq!(lines.len(), 4, "{lines:#?}");
    assert!(
        lines[3].ends_with("running 0.3s (attempt 1, shell): writing notes.txt"),
        "{lines:#?}"
    );
}

/// A running tool silent for more than 30 s shows "quiet for N s" on its line, counted
/// from its last output line (or its start); a stall is a milestone of both views.
#[test]
fn a_silent_running_step_shows_how_long_it_has_been_quiet() {
    let stream = [
        r#"{"id":1,"at":"2026-01-31T12:00:00.000Z","run_id":"r","event":"run_started","workstreams":"/ws.json","repo":"/repo","base_commit":"0123456789abcdef","result_branch":"pipeline/r","steps":1,"jobs":1,"plan_hash":"h","resumed":false,"pid":1}"#,
        r#"{"id":2,"at":"2026-01-31T12:00:00.000Z","run_id":"r","event":"attempt_started","step":"w/a","attempt":1,"tool":"claude","log":"/l"}"#,
    ];
    let mut view = RunView::default();
    for line in stream {
        view.apply(&serde_json::from_str::<JournalEntry>(line).expect("entry"));
    }
    let start = parse_at("2026-01-31T12:00:00.000Z").expect("instant");
    let at = |s: u64| start + Duration::from_secs(s);
    let line = |view: &RunView, s: u64| frame(view, at(s)).pop().unwrap_or_default();
    assert!(
        line(&view, 30).ends_with("running 30.0s (attempt 1, claude)"),
        "{}",
        line(&view, 30)
    );
    assert!(
        line(&view, 31).ends_with("running 31.0s (attempt 1, claude) · quiet for 31 s"),
        "{}",
        line(&view, 31)
    );
    view.note_output("w/a", "Reading src/lib.rs", at(40));
    assert!(
        line(&view, 65).ends_with("running 1m05s (attempt 1, claude): Reading src/lib.rs"),
        "{}",
        line(&view, 65)
    );
    assert!(
        line(&view, 75)
            .ends_with("running 1m15s (attempt 1, claude) · quiet for 35 s: Reading src/lib.rs"),
        "{}",
        line(&view, 75)
    );

    let stalled: JournalEntry = serde_json::from_str(
        r#"{"id":3,"at":"2026-01-31T12:06:15.000Z","run_id":"r","event":"attempt_stalled","step":"w/a","attempt":1,"tool":"claude","stall_timeout_ms":300000,"duration_ms":375000}"#,
    )
    .expect("entry");
    let lines: Vec<String> = view.apply(&stalled).into_iter().map(|l| l.text).collect();
    assert_eq!(
        lines,
        ["[  6m15s] stalled   w/a (attempt 1): no output and no CPU for 5m00s; stopped"],
        "{lines:#?}"
    );
}

/// A step awaiting approval: the plain log names the commands that decide it, once; the
/// terminal frame shows it waiting, with the time waited; a decision moves it on.
#[test]
fn a_step_awaiting_approval_shows_the_commands_and_its_wait() {
    let stream = [
        r#"{"id":1,"at":"2026-01-31T12:00:00.000Z","run_id":"r","event":"run_started","workstreams":"/ws.json","repo":"/repo","base_commit":"0123456789abcdef","result_branch":"pipeline/r","steps":2,"jobs":1,"plan_hash":"h","resumed":false,"pid":1}"#,
        r#"{"id":2,"at":"2026-01-31T12:00:00.100Z","run_id":"r","event":"attempt_started","step":"w/a","attempt":1,"tool":"shell","log":"/l"}"#,
        r#"{"id":3,"at":"2026-01-31T12:00:00.200Z","run_id":"r","event":"approval_requested","step":"w/a","attempt":1,"commit":"abcdef0123456789","tool":"shell"}"#,
        r#"{"id":4,"at":"2026-01-31T12:00:07.200Z","run_id":"r","event":"step_approved","step":"w/a","attempt":1,"by":"alice","auto":false}"#,
        r#"{"id":5,"at":"2026-01-31T12:00:07.200Z","run_id":"r","event":"step_completed","step":"w/a","attempt":1,"commit":"abcdef0123456789","duration_ms":7100}"#,
    ];
    let mut view = RunView::default();
    let mut log = Vec::new();
    let mut frames = Vec::new();
    for line in stream {
        let entry: JournalEntry = serde_json::from_str(line).expect("entry");
        log.extend(view.apply(&entry).into_iter().map(|l| l.text));
        let at = parse_at(&entry.at).expect("instant");
        frames.push(frame(&view, at + Duration::from_secs(3)).join("\n"));
    }
    let log = log.join("\n");
    assert_eq!(log.matches("pipeline approve r w/a").count(), 1, "{log}");
    assert!(
        log.contains("pipeline reject r w/a --comment TEXT"),
        "{log}"
    );
    assert!(log.contains("approved  w/a by alice"), "{log}");
    assert!(
        frames[2].contains("awaiting approval 3.0s (attempt 1): pipeline approve r w/a"),
        "{}",
        frames[2]
    );
    assert!(frames[2].contains("1 waiting"), "{}", frames[2]);
    assert!(!frames[4].contains("awaiting approval"), "{}", frames[4]);
}
