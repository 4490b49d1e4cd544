//! Run progress: live bars on a terminal (indicatif), one plain line per state change
//! otherwise (CI logs), NDJSON journal entries with `--json` (docs/EVENTS.md).
//!
//! Output never stops a run: the writers use fallible writes and stop writing after the
//! first failure (a closed pipe, EPIPE, or a hung-up terminal), and the run goes on
//! (`pipeline run --json ... | head -1`; SIGPIPE is ignored while a run is driven).

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use pipeline_core::engine::Reporter;
use pipeline_core::state::{Event, JournalEntry, WaitKind};

/// Picks the reporter: NDJSON with `--json`, bars when stderr is a terminal and `CI` is
/// not set, plain lines otherwise.
pub fn reporter(json: bool) -> std::sync::Arc<dyn Reporter> {
    if json {
        return std::sync::Arc::new(JsonReporter {
            out: Output::default(),
        });
    }
    let ci = std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "0" && v != "false");
    if std::io::stderr().is_terminal() && !ci {
        std::sync::Arc::new(TerminalReporter::new())
    } else {
        std::sync::Arc::new(PlainReporter {
            started: Instant::now(),
            out: Output::default(),
        })
    }
}

/// Where a reporter's lines go: written whole and flushed, until the first write fails.
#[derive(Default)]
struct Output {
    /// Set by the first failed write: the reader is gone, nothing more is written.
    closed: AtomicBool,
}

impl Output {
    /// Writes `line` and a newline to `writer` and flushes, unless an earlier write
    /// failed; a failure (EPIPE, EIO) closes this output for good.
    fn line(&self, mut writer: impl Write, line: &str) {
        if self.closed.load(Ordering::Relaxed) {
            return;
        }
        let written = writer
            .write_all(line.as_bytes())
            .and_then(|()| writer.write_all(b"\n"))
            .and_then(|()| writer.flush());
        if written.is_err() {
            self.closed.store(true, Ordering::Relaxed);
        }
    }
}

/// One JSON object per line on stdout.
struct JsonReporter {
    out: Output,
}

impl Reporter for JsonReporter {
    fn report(&self, entry: &JournalEntry) {
        if let Ok(line) = serde_json::to_string(entry) {
            self.out.line(std::io::stdout().lock(), &line);
        }
    }
}

/// One line per state change on stderr, with the time since the run started.
struct PlainReporter {
    started: Instant,
    out: Output,
}

impl Reporter for PlainReporter {
    fn report(&self, entry: &JournalEntry) {
        if let Some(line) = describe(entry) {
            let line = format!("[{:>7.1}s] {line}", self.started.elapsed().as_secs_f64());
            self.out.line(std::io::stderr().lock(), &line);
        }
    }
}

fn short(commit: &str) -> &str {
    &commit[..commit.len().min(10)]
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or("")
}

/// The plain-text line for an event (`None` for events not worth a line).
fn describe(entry: &JournalEntry) -> Option<String> {
    let run_id = &entry.run_id;
    Some(match &entry.event {
        Event::RunStarted {
            base_commit,
            steps,
            jobs,
            resumed,
            ..
        } => format!(
            "{} run {run_id}: {steps} steps, {jobs} at once, base {}",
            if *resumed { "resuming" } else { "starting" },
            short(base_commit)
        ),
        Event::StepReused { step, commit } => {
            format!("kept      {step} (completed earlier, {})", short(commit))
        }
        Event::AttemptStarted {
            step,
            attempt,
            tool,
            ..
        } => match tool {
            Some(tool) if tool != "shell" => {
                format!("started   {step} (attempt {attempt}, {tool})")
            }
            _ => format!("started   {step} (attempt {attempt})"),
        },
        Event::TestStarted { step, name, .. } => format!("testing   {step}: {name}"),
        Event::TestFinished {
            step,
            name,
            passed,
            duration_ms,
            ..
        } => format!(
            "{}  {step}: {name} ({duration_ms} ms)",
            if *passed { "test ok" } else { "test FAILED" },
        ),
        Event::StepWaiting {
            step, wait, reason, ..
        } => format!(
            "{:<9} {step}: {}",
            if *wait == WaitKind::Backoff {
                "retrying"
            } else {
                "waiting"
            },
            last_line(reason)
        ),
        Event::FixRequested {
            step,
            attempt,
            fixes_left,
            ..
        } => format!(
            "fixing    {step}: tests of attempt {attempt} failed; asking the tool to fix them ({fixes_left} fix attempt(s) left after this)"
        ),
        Event::Escalated {
            step, attempt, to, ..
        } => format!("escalated {step}: after attempt {attempt}, tool `{to}` takes over"),
        Event::ToolSelected {
            step,
            tool,
            requested,
            ..
        } if tool != requested => format!("tool      {step}: `{tool}` instead of `{requested}`"),
        Event::StepCompleted {
            step,
            commit,
            duration_ms,
            ..
        } => format!(
            "completed {step} {} ({:.1} s)",
            short(commit),
            *duration_ms as f64 / 1000.0
        ),
        Event::StepFailed { step, error, .. } => format!("failed    {step}: {}", first_line(error)),
        Event::StepSkipped { step, reason, .. } => format!("skipped   {step}: {reason}"),
        Event::StepInterrupted { step, reason } => format!("interrupted {step}: {reason}"),
        Event::StepCancelled { step, reason } => format!("cancelled {step}: {reason}"),
        Event::RunFinished {
            status,
            completed,
            failed,
            skipped,
            ..
        } => format!(
            "run {run_id} {}: {completed} completed, {failed} failed, {skipped} skipped",
            status.as_str()
        ),
        _ => return None,
    })
}

/// The last line of a multi-line note (where the wait's reason is).
fn last_line(s: &str) -> &str {
    s.lines().last().unwrap_or("")
}

/// Live bars: overall progress and one line per running step with its elapsed time and
/// the last line its tool printed.
struct TerminalReporter {
    multi: MultiProgress,
    overall: ProgressBar,
    running: Mutex<HashMap<String, ProgressBar>>,
}

impl TerminalReporter {
    fn new() -> Self {
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
        let overall = multi.add(ProgressBar::new(0));
        overall.set_style(
            ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} steps {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        overall.enable_steady_tick(Duration::from_millis(200));
        TerminalReporter {
            multi,
            overall,
            running: Mutex::new(HashMap::new()),
        }
    }

    fn step_bar(&self, step: &str) -> ProgressBar {
        let bar = self.multi.add(ProgressBar::new_spinner());
        bar.set_style(
            ProgressStyle::with_template("  {spinner} {prefix:.bold} {elapsed:>4} {wide_msg:.dim}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.set_prefix(format!("{step:<24}"));
        bar.enable_steady_tick(Duration::from_millis(120));
        bar
    }

    fn finish_step(&self, step: &str) {
        if let Some(bar) = self
            .running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(step)
        {
            bar.finish_and_clear();
            self.multi.remove(&bar);
        }
    }
}

impl Reporter for TerminalReporter {
    fn wants_output(&self) -> bool {
        true
    }

    fn output(&self, step: &str, line: &str) {
        if let Some(bar) = self
            .running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(step)
        {
            bar.set_message(line.chars().take(200).collect::<String>());
        }
    }

    fn report(&self, entry: &JournalEntry) {
        let event = &entry.event;
        match event {
            Event::RunStarted { steps, .. } => {
                self.overall.set_length(*steps as u64);
            }
            Event::StepReused { .. } => self.overall.inc(1),
            Event::AttemptStarted { step, .. } => {
                let mut running = self.running.lock().unwrap_or_else(|e| e.into_inner());
                if !running.contains_key(step) {
                    let bar = self.step_bar(step);
                    running.insert(step.clone(), bar);
                }
            }
            Event::StepCompleted { step, .. }
            | Event::StepFailed { step, .. }
            | Event::StepSkipped { step, .. }
            | Event::StepInterrupted { step, .. } => {
                self.finish_step(step);
                self.overall.inc(1);
            }
            Event::TestStarted { step, name, .. } => self.note(step, &format!("testing: {name}")),
            Event::StepWaiting { step, reason, .. } => self.note(step, last_line(reason)),
            Event::RunFinished { .. } => {
                self.overall.finish_and_clear();
                let _ = self.multi.clear();
                return;
            }
            _ => {}
        }
        if matches!(
            event,
            Event::RunStarted { .. }
                | Event::StepCompleted { .. }
                | Event::StepFailed { .. }
                | Event::StepSkipped { .. }
                | Event::StepInterrupted { .. }
                | Event::StepCancelled { .. }
                | Event::TestFinished { passed: false, .. }
                | Event::FixRequested { .. }
                | Event::Escalated { .. }
        ) && let Some(line) = describe(entry)
        {
            let _ = self.multi.println(line);
        }
    }
}

impl TerminalReporter {
    /// Shows `note` on a running step's line.
    fn note(&self, step: &str, note: &str) {
        if let Some(bar) = self
            .running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(step)
        {
            bar.set_message(note.to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Output;

    /// A writer whose reader is gone: every write fails with EPIPE.
    struct ClosedPipe {
        writes: std::rc::Rc<std::cell::Cell<usize>>,
    }

    impl std::io::Write for ClosedPipe {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            self.writes.set(self.writes.get() + 1);
            Err(std::io::ErrorKind::BrokenPipe.into())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn output_stops_writing_after_the_first_failed_write() {
        let out = Output::default();
        let mut written = Vec::new();
        out.line(&mut written, "first");
        assert_eq!(written, b"first\n");
        let writes = std::rc::Rc::new(std::cell::Cell::new(0));
        for _ in 0..3 {
            out.line(
                ClosedPipe {
                    writes: writes.clone(),
                },
                "lost",
            );
        }
        assert_eq!(writes.get(), 1, "one failed write, then none");
        out.line(&mut written, "after");
        assert_eq!(written, b"first\n", "closed for good");
    }
}
