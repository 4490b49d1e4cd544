//! What a finished run tells a CI system (docs/CI.md): on GitHub Actions, the error
//! engine's diagnostics as workflow commands (`::error file=…,line=…,title=…::message`,
//! shown as annotations on the changed lines) and a collapsible group with each failed
//! step's log tail; everywhere, a Markdown job summary (appended to
//! `$GITHUB_STEP_SUMMARY` on GitHub Actions, or written to `--summary FILE`).
//!
//! Rules from GitHub's "Workflow commands for GitHub Actions": a command is one line on
//! stdout; in the message `%`, CR and LF are written `%25`, `%0D`, `%0A`; in property
//! values `:` and `,` are also escaped (`%3A`, `%2C`). The summary is limited to 1 MiB per
//! step, so the steps table lists failed steps first and at most [`MAX_TABLE_ROWS`] rows.

use std::fmt::Write as _;
use std::io::Write;
use std::path::Path;

use pipeline_core::engine::{RunStatusReport, StepDetail};
use pipeline_core::state::{ErrorRecord, StepStatus};

/// Rows of the summary's steps table at most (failed steps first).
pub const MAX_TABLE_ROWS: usize = 300;

/// Annotations per failed step at most (GitHub shows at most 10 error annotations per
/// step of a job; more are dropped by the runner).
pub const MAX_ANNOTATIONS_PER_STEP: usize = 10;

/// Lines of a failed step's log in its group.
pub const LOG_TAIL_LINES: usize = 100;

/// Whether CI mode is on: `--ci`, or `CI` set to anything but empty, `0` or `false` (as
/// GitHub Actions, GitLab CI and most others set it).
pub fn ci_mode(flag: bool) -> bool {
    flag || std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "0" && v != "false")
}

/// Whether this process runs in a GitHub Actions job (`GITHUB_ACTIONS=true`).
pub fn on_github_actions() -> bool {
    std::env::var_os("GITHUB_ACTIONS").is_some_and(|v| v == "true")
}

/// A finished run as CI reports it: its status, and the detail of each step that did not
/// complete (attempts, errors with diagnostics, log paths).
pub struct CiRun<'a> {
    /// `status --json` of the run.
    pub status: &'a RunStatusReport,
    /// Detail of the steps that did not complete (their errors and logs).
    pub details: &'a [StepDetail],
}

impl CiRun<'_> {
    fn detail(&self, step: &str) -> Option<&StepDetail> {
        self.details.iter().find(|d| d.step.id == step)
    }
}

/// Writes the workflow commands for the run's failed steps to `out`: one `::error` per
/// diagnostic with a file (at most [`MAX_ANNOTATIONS_PER_STEP`] per step), one `::error`
/// naming the step when it has none with a file, then `::group::` with the last
/// [`LOG_TAIL_LINES`] lines of its last attempt's log and `::endgroup::`. Errors: writing.
pub fn write_workflow_commands(run: &CiRun<'_>, out: &mut impl Write) -> std::io::Result<()> {
    for step in run.status.steps.iter().filter(|s| failed(s.status)) {
        let detail = run.detail(&step.id);
        let errors: &[ErrorRecord] = detail.map(|d| d.errors.as_slice()).unwrap_or_default();
        let latest = errors.iter().max_by_key(|e| e.last_attempt);
        let class = latest.map(|e| e.class.as_str()).unwrap_or("failed");
        let title = format!("{} ({class})", step.id);
        let mut annotated = 0;
        for diagnostic in latest.map(diagnostics).unwrap_or_default() {
            if annotated == MAX_ANNOTATIONS_PER_STEP {
                break;
            }
            let Some(file) = diagnostic.get("file").and_then(|f| f.as_str()) else {
                continue;
            };
            let mut properties = format!("file={}", property(file));
            for (key, name) in [("line", "line"), ("column", "col")] {
                if let Some(n) = diagnostic.get(key).and_then(serde_json::Value::as_u64) {
                    let _ = write!(properties, ",{name}={n}");
                }
            }
            let _ = write!(properties, ",title={}", property(&title));
            let level = match diagnostic.get("severity").and_then(|s| s.as_str()) {
                Some("warning") => "warning",
                Some("info" | "note") => "notice",
                _ => "error",
            };
            let message = diagnostic
                .get("message")
                .and_then(|m| m.as_str())
                .unwrap_or("");
            writeln!(out, "::{level} {properties}::{}", data(message))?;
            annotated += 1;
        }
        if annotated == 0 {
            let message = latest
                .map(|e| e.summary.clone())
                .or_else(|| step.error.clone())
                .unwrap_or_else(|| format!("step {}", step.status.as_str()));
            writeln!(
                out,
                "::error title={}::{}",
                property(&title),
                data(&message)
            )?;
        }
        if let Some(log) = detail.and_then(|d| d.attempts.last()).map(|a| &a.log) {
            writeln!(
                out,
                "::group::{} log (last {LOG_TAIL_LINES} lines)",
                data(&step.id)
            )?;
            match std::fs::read(log) {
                Ok(bytes) => {
                    let text = String::from_utf8_lossy(&bytes);
                    let lines: Vec<&str> = text.lines().collect();
                    for line in &lines[lines.len().saturating_sub(LOG_TAIL_LINES)..] {
                        // A log line that looks like a workflow command must not run as one.
                        let line = if line.starts_with("::") {
                            format!(" {line}")
                        } else {
                            (*line).to_owned()
                        };
                        writeln!(out, "{line}")?;
                    }
                }
                Err(e) => writeln!(out, "(cannot read {log}: {e})")?,
            }
            writeln!(out, "::endgroup::")?;
        }
    }
    Ok(())
}

/// The Markdown job summary: a heading with the run's status, the result branch, counts,
/// a table of steps (status, cache hits, attempts, duration, tokens, cost; failed steps first, at most
/// [`MAX_TABLE_ROWS`] rows) and, per failed step, its class, summary and first
/// diagnostics.
pub fn summary_markdown(run: &CiRun<'_>) -> String {
    let status = run.status;
    let mut md = String::new();
    let icon = match status.status {
        pipeline_core::state::RunStatus::Completed => "✅",
        pipeline_core::state::RunStatus::Failed => "❌",
        _ => "⏸️",
    };
    let _ = writeln!(
        md,
        "## {icon} pipeline run `{}`: {}\n",
        status.run_id,
        status.status.as_str()
    );
    let count =
        |f: &dyn Fn(StepStatus) -> bool| status.steps.iter().filter(|s| f(s.status)).count();
    let _ = writeln!(
        md,
        "{} steps: {} completed, {} failed, {} other. Result branch: `{}` (base `{}`).\n",
        status.steps.len(),
        count(&|s| s == StepStatus::Completed),
        count(&|s| failed(s)),
        count(&|s| s != StepStatus::Completed && !failed(s)),
        status.result_branch,
        short(&status.base_commit),
    );
    if let Some(cost) = status.usage.cost_usd {
        let _ = writeln!(
            md,
            "Tokens: {} in ({} cached), {} out; cost {}.\n",
            status.usage.input_tokens,
            status.usage.cached_input_tokens,
            status.usage.output_tokens,
            dollars(cost, status.usage.estimated)
        );
    }
    let cached = status
        .steps
        .iter()
        .filter(|s| s.cached_from.is_some())
        .count();
    if cached > 0 {
        let _ = writeln!(
            md,
            "{cached} steps taken from the step cache (docs/CACHE.md).\n"
        );
    }
    md.push_str("| Step | Status | Attempts | Duration | Tokens | Cost |\n| --- | --- | --- | --- | --- | --- |\n");
    let mut rows: Vec<_> = status.steps.iter().collect();
    rows.sort_by_key(|s| !failed(s.status));
    for step in rows.iter().take(MAX_TABLE_ROWS) {
        let duration =
            crate::junit::duration_between(step.started_at.as_deref(), step.finished_at.as_deref())
                .map(|d| format!("{:.1} s", d.as_secs_f64()))
                .unwrap_or_default();
        let cost = step
            .usage
            .cost_usd
            .map(|c| dollars(c, step.usage.estimated))
            .unwrap_or_default();
        let tokens = match step.usage.input_tokens + step.usage.output_tokens {
            0 => String::new(),
            n => n.to_string(),
        };
        let state = match &step.cached_from {
            Some(from) => format!("{} cached from `{}`", step.status.as_str(), cell(&from.run)),
            None => step.status.as_str().to_owned(),
        };
        let _ = writeln!(
            md,
            "| `{}` | {} {state} | {} | {duration} | {tokens} | {cost} |",
            cell(&step.id),
            status_icon(step.status),
            step.attempts,
        );
    }
    if rows.len() > MAX_TABLE_ROWS {
        let _ = writeln!(
            md,
            "\n{} more steps not listed (`pipeline status {}` lists every step).",
            rows.len() - MAX_TABLE_ROWS,
            status.run_id
        );
    }
    let failures: Vec<_> = status.steps.iter().filter(|s| failed(s.status)).collect();
    if !failures.is_empty() {
        md.push_str("\n### Failures\n");
        for step in failures {
            let latest = run
                .detail(&step.id)
                .and_then(|d| d.errors.iter().max_by_key(|e| e.last_attempt));
            let _ = write!(md, "\n**`{}`**", step.id);
            match latest {
                Some(e) => {
                    let _ = writeln!(md, " ({}): {}\n", e.class, one_line(&e.summary));
                    for diagnostic in diagnostics(e).iter().take(MAX_ANNOTATIONS_PER_STEP) {
                        let place = match (
                            diagnostic.get("file").and_then(|f| f.as_str()),
                            diagnostic.get("line").and_then(serde_json::Value::as_u64),
                        ) {
                            (Some(f), Some(l)) => format!("`{f}:{l}` "),
                            (Some(f), None) => format!("`{f}` "),
                            _ => String::new(),
                        };
                        let message = diagnostic
                            .get("message")
                            .and_then(|m| m.as_str())
                            .unwrap_or("");
                        let _ = writeln!(md, "- {place}{}", one_line(message));
                    }
                }
                None => {
                    let _ = writeln!(
                        md,
                        ": {}",
                        one_line(step.error.as_deref().unwrap_or(step.status.as_str()))
                    );
                }
            }
        }
    }
    let _ = writeln!(
        md,
        "\n`pipeline errors {0}` classifies the failures; `pipeline logs {0} STEP` shows a step's log.",
        status.run_id
    );
    md
}

/// Appends `markdown` to `path` (creating it), as `$GITHUB_STEP_SUMMARY` expects several
/// writers to do. Errors: the file cannot be opened or written.
pub fn append_summary(path: &Path, markdown: &str) -> std::io::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    file.write_all(markdown.as_bytes())?;
    file.write_all(b"\n")
}

fn failed(status: StepStatus) -> bool {
    matches!(
        status,
        StepStatus::Failed | StepStatus::Interrupted | StepStatus::Cancelled
    )
}

fn status_icon(status: StepStatus) -> &'static str {
    match status {
        StepStatus::Completed => "✅",
        StepStatus::Failed => "❌",
        StepStatus::Skipped => "⏭️",
        StepStatus::AwaitingApproval => "✋",
        StepStatus::Interrupted | StepStatus::Cancelled => "⏹️",
        _ => "⏳",
    }
}

/// The diagnostics of a recorded error's report (`report.diagnostics`), as JSON objects.
fn diagnostics(record: &ErrorRecord) -> Vec<serde_json::Map<String, serde_json::Value>> {
    record
        .report
        .get("diagnostics")
        .and_then(|d| d.as_array())
        .map(|list| list.iter().filter_map(|d| d.as_object().cloned()).collect())
        .unwrap_or_default()
}

/// US dollars with four decimals, `~` in front when estimated from the price table.
fn dollars(cost: f64, estimated: bool) -> String {
    format!("{}${cost:.4}", if estimated { "~" } else { "" })
}

fn short(commit: &str) -> &str {
    commit.get(..12).unwrap_or(commit)
}

fn one_line(text: &str) -> String {
    let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    cell(first.trim())
}

/// Text safe inside a Markdown table cell or list item.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('`', "'")
}

/// A workflow command's message (`%`, CR, LF escaped).
fn data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// A workflow command's property value (also `:` and `,`).
fn property(text: &str) -> String {
    data(text).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_and_properties_are_escaped_as_github_documents() {
        assert_eq!(data("50% done\r\nnext"), "50%25 done%0D%0Anext");
        assert_eq!(property("a: b, c"), "a%3A b%2C c");
    }
}
