//! Run progress: live bars on a terminal (indicatif), one plain line per state change
//! otherwise (CI logs), NDJSON events with `--json`.

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use pipeline_core::engine::{Reporter, RunEvent};
use pipeline_core::state::StepStatus;

/// Picks the reporter: NDJSON with `--json`, bars when stderr is a terminal and `CI` is
/// not set, plain lines otherwise.
pub fn reporter(json: bool) -> std::sync::Arc<dyn Reporter> {
    if json {
        return std::sync::Arc::new(JsonReporter);
    }
    let ci = std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "0" && v != "false");
    if std::io::stderr().is_terminal() && !ci {
        std::sync::Arc::new(TerminalReporter::new())
    } else {
        std::sync::Arc::new(PlainReporter {
            started: Instant::now(),
        })
    }
}

/// One JSON object per line on stdout.
struct JsonReporter;

impl Reporter for JsonReporter {
    fn report(&self, event: &RunEvent) {
        if let Ok(line) = serde_json::to_string(event) {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{line}");
            let _ = out.flush();
        }
    }
}

/// One line per state change on stderr, with the time since the run started.
struct PlainReporter {
    started: Instant,
}

impl Reporter for PlainReporter {
    fn report(&self, event: &RunEvent) {
        if let Some(line) = describe(event) {
            eprintln!("[{:>7.1}s] {line}", self.started.elapsed().as_secs_f64());
        }
    }
}

fn short(commit: &str) -> &str {
    &commit[..commit.len().min(10)]
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or("")
}

/// The plain-text line for an event (`None` for output lines).
fn describe(event: &RunEvent) -> Option<String> {
    Some(match event {
        RunEvent::RunStarted {
            run_id,
            base_commit,
            steps,
            jobs,
            resumed,
        } => {
            format!(
                "{} run {run_id}: {steps} steps, {jobs} at once, base {}",
                if *resumed { "resuming" } else { "starting" },
                short(base_commit)
            )
        }
        RunEvent::StepReused { step, commit } => {
            format!("kept      {step} (completed earlier, {})", short(commit))
        }
        RunEvent::StepStarted { step, attempt, .. } => {
            format!("started   {step} (attempt {attempt})")
        }
        RunEvent::StepOutput { .. } => return None,
        RunEvent::StepStatus {
            step,
            status,
            error,
            commit,
        } => match status {
            StepStatus::Completed => format!(
                "completed {step} {}",
                commit.as_deref().map(short).unwrap_or("")
            ),
            StepStatus::Validating => format!("testing   {step}"),
            other => format!(
                "{:<9} {step}{}",
                other.as_str(),
                error
                    .as_deref()
                    .map(|e| format!(": {}", first_line(e)))
                    .unwrap_or_default()
            ),
        },
        RunEvent::TestFinished {
            step,
            name,
            passed,
            duration_ms,
        } => {
            format!(
                "{}  {step}: {name} ({} ms)",
                if *passed { "test ok" } else { "test FAILED" },
                duration_ms
            )
        }
        RunEvent::RunFinished {
            run_id,
            status,
            completed,
            failed,
            skipped,
            ..
        } => {
            format!(
                "run {run_id} {}: {completed} completed, {failed} failed, {skipped} skipped",
                status.as_str()
            )
        }
    })
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

    fn report(&self, event: &RunEvent) {
        match event {
            RunEvent::RunStarted { steps, .. } => {
                self.overall.set_length(*steps as u64);
                if let Some(l) = describe(event) {
                    let _ = self.multi.println(l);
                }
            }
            RunEvent::StepReused { .. } => self.overall.inc(1),
            RunEvent::StepStarted { step, .. } => {
                let bar = self.step_bar(step);
                self.running
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(step.clone(), bar);
            }
            RunEvent::StepOutput { step, line } => {
                if let Some(bar) = self
                    .running
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .get(step)
                {
                    bar.set_message(line.chars().take(200).collect::<String>());
                }
            }
            RunEvent::StepStatus { step, status, .. } => {
                if status.is_terminal() || *status == StepStatus::Interrupted {
                    self.finish_step(step);
                    self.overall.inc(1);
                    if let Some(l) = describe(event) {
                        let _ = self.multi.println(l);
                    }
                } else if let Some(bar) = self
                    .running
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .get(step)
                {
                    bar.set_message(status.as_str().to_string());
                }
            }
            RunEvent::TestFinished { passed: false, .. } => {
                if let Some(l) = describe(event) {
                    let _ = self.multi.println(l);
                }
            }
            RunEvent::TestFinished { .. } => {}
            RunEvent::RunFinished { .. } => {
                self.overall.finish_and_clear();
                let _ = self.multi.clear();
            }
        }
    }
}
