//! What a `codex exec --json` run reported, read from its JSONL event stream.
//!
//! Codex prints one JSON object per stdout line, tagged by `type` (schema:
//! openai/codex `codex-rs/exec/src/exec_events.rs`, `ThreadEvent`, as of 0.169):
//! `thread.started {thread_id}`, `turn.started`, `item.started` / `item.updated` /
//! `item.completed {item}`, `turn.completed {usage}`, `turn.failed {error: {message}}` and
//! `error {message}`. Items carry a `type`: `agent_message {text}`, `reasoning {text}`,
//! `command_execution {command, aggregated_output, exit_code, status}`,
//! `file_change {changes: [{path, kind}], status}`, `error {message}` (non-fatal, e.g.
//! "Model metadata for `x` not found"), and a few more this log only counts.
//!
//! [`CodexEventLog`] is fed line by line while the tool runs (stderr lines and anything
//! that is not a JSON event are ignored) and then answers the adapter's questions: did a
//! turn complete, did one fail and why, how many tokens were used. A line cut short by
//! the supervisor's 4096-byte line limit is not valid JSON; it can only be a long item
//! (a command's output or a long message), never the short `turn.*` or `error` events
//! that decide success, so losing it costs only detail.

use serde_json::Value;

use crate::invocation::Usage;

/// Prefix of the notices Codex prints as `error` events while it retries a dropped
/// stream by itself ("Reconnecting... 2/5"); they are progress, not failures (the
/// `codex` error plugin of `pipeline-error` makes the same exception).
const RECONNECTING_PREFIX: &str = "Reconnecting...";

/// Longest text, in characters, kept of an agent message or shown in a progress line.
const EXCERPT_CHARS: usize = 200;

/// The facts gathered from one run's event stream.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct CodexEventLog {
    /// `thread.started`'s id (to find the session under the attempt's `CODEX_HOME`).
    pub(crate) thread_id: Option<String>,
    /// Number of `turn.completed` events.
    pub(crate) turns_completed: u32,
    /// Message of the last `turn.failed` event.
    pub(crate) turn_failed: Option<String>,
    /// Message of the last fatal top-level `error` event.
    pub(crate) fatal_error: Option<String>,
    /// Token counts summed over every `turn.completed` (`None` before the first).
    pub(crate) usage: Option<TurnUsage>,
    /// Commands Codex ran (`command_execution` items completed or failed).
    pub(crate) commands_run: u32,
    /// Commands that ended with a non-zero exit code or `failed` / `declined` status.
    pub(crate) commands_failed: u32,
    /// Paths of completed `file_change` items, in order, without repeats.
    pub(crate) files_changed: Vec<String>,
    /// `file_change` items whose patch failed to apply.
    pub(crate) patches_failed: u32,
    /// The last agent message (at most [`EXCERPT_CHARS`] characters).
    pub(crate) last_message: Option<String>,
    /// Messages of non-fatal `error` items, in order.
    pub(crate) warnings: Vec<String>,
}

/// Token counts of `turn.completed` (Codex's `Usage`: `input_tokens`,
/// `cached_input_tokens`, `output_tokens`; newer versions add
/// `reasoning_output_tokens`, kept apart because `output_tokens` already includes them).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct TurnUsage {
    pub(crate) input_tokens: u64,
    pub(crate) cached_input_tokens: u64,
    pub(crate) output_tokens: u64,
}

/// What a line of output was, for the live progress line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LineMeaning {
    /// Not a Codex event (stderr, a banner): show it as it is.
    Raw,
    /// An event worth showing, in words.
    Progress(String),
    /// An event with nothing to show (`turn.started`, item updates).
    Quiet,
}

impl CodexEventLog {
    /// Takes one line of the tool's output into account and says how to show it.
    pub(crate) fn observe(&mut self, line: &str) -> LineMeaning {
        let trimmed = line.trim();
        if !trimmed.starts_with('{') {
            return LineMeaning::Raw;
        }
        let Ok(event) = serde_json::from_str::<Value>(trimmed) else {
            return LineMeaning::Raw;
        };
        let Some(kind) = event.get("type").and_then(Value::as_str) else {
            return LineMeaning::Raw;
        };
        match kind {
            "thread.started" => {
                self.thread_id = text(&event, "thread_id").map(str::to_owned);
                LineMeaning::Quiet
            }
            "turn.completed" => {
                self.turns_completed += 1;
                let usage = event.get("usage");
                let count = |key: &str| {
                    usage
                        .and_then(|u| u.get(key))
                        .and_then(Value::as_u64)
                        .unwrap_or(0)
                };
                let total = self.usage.get_or_insert_with(TurnUsage::default);
                total.input_tokens += count("input_tokens");
                total.cached_input_tokens += count("cached_input_tokens");
                total.output_tokens += count("output_tokens");
                LineMeaning::Progress(format!(
                    "codex: turn completed ({} tokens in, {} out)",
                    count("input_tokens"),
                    count("output_tokens")
                ))
            }
            "turn.failed" => {
                let message = event
                    .get("error")
                    .and_then(|error| text(error, "message"))
                    .unwrap_or("turn failed without a message")
                    .to_owned();
                let shown = format!("codex: turn failed: {}", excerpt(&message));
                self.turn_failed = Some(message);
                LineMeaning::Progress(shown)
            }
            "error" => {
                let message = text(&event, "message").unwrap_or("error without a message");
                let shown = format!("codex: {}", excerpt(message));
                if !message.starts_with(RECONNECTING_PREFIX) {
                    self.fatal_error = Some(message.to_owned());
                }
                LineMeaning::Progress(shown)
            }
            "item.started" => match event.get("item") {
                Some(item) if text(item, "type") == Some("command_execution") => {
                    LineMeaning::Progress(format!(
                        "codex: $ {}",
                        excerpt(text(item, "command").unwrap_or(""))
                    ))
                }
                _ => LineMeaning::Quiet,
            },
            "item.completed" => match event.get("item") {
                Some(item) => self.item_completed(item),
                None => LineMeaning::Quiet,
            },
            _ => LineMeaning::Quiet,
        }
    }

    fn item_completed(&mut self, item: &Value) -> LineMeaning {
        match text(item, "type") {
            Some("agent_message") => {
                let message = excerpt(text(item, "text").unwrap_or(""));
                let shown = format!("codex: {message}");
                self.last_message = Some(message);
                LineMeaning::Progress(shown)
            }
            Some("command_execution") => {
                self.commands_run += 1;
                let exit_code = item.get("exit_code").and_then(Value::as_i64);
                let status = text(item, "status").unwrap_or("");
                let failed =
                    matches!(status, "failed" | "declined") || exit_code.is_some_and(|c| c != 0);
                if failed {
                    self.commands_failed += 1;
                }
                LineMeaning::Progress(match exit_code {
                    Some(code) => format!("codex: command exited with {code}"),
                    None => format!("codex: command {status}"),
                })
            }
            Some("file_change") => {
                let paths: Vec<&str> = item
                    .get("changes")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|change| text(change, "path"))
                    .collect();
                if text(item, "status") == Some("failed") {
                    self.patches_failed += 1;
                    return LineMeaning::Progress(format!(
                        "codex: patch failed: {}",
                        paths.join(", ")
                    ));
                }
                for path in &paths {
                    if !self.files_changed.iter().any(|known| known == path) {
                        self.files_changed.push((*path).to_owned());
                    }
                }
                LineMeaning::Progress(format!("codex: edited {}", paths.join(", ")))
            }
            Some("error") => {
                let message = text(item, "message").unwrap_or("").to_owned();
                let shown = format!("codex warning: {}", excerpt(&message));
                self.warnings.push(message);
                LineMeaning::Progress(shown)
            }
            _ => LineMeaning::Quiet,
        }
    }

    /// Why the run failed, judged from the events alone: a `turn.failed`, else a fatal
    /// `error`, else no `turn.completed` at all. `None` when a turn completed cleanly.
    pub(crate) fn failure(&self) -> Option<String> {
        if let Some(message) = &self.turn_failed {
            return Some(format!("turn.failed: {message}"));
        }
        if let Some(message) = &self.fatal_error {
            return Some(format!("error: {message}"));
        }
        if self.turns_completed == 0 {
            return Some("no turn.completed event".to_owned());
        }
        None
    }

    /// The usage to record, with `model` as the model asked for (Codex's events do not
    /// name it); `None` when no turn completed.
    pub(crate) fn usage(&self, model: Option<&str>) -> Option<Usage> {
        self.usage.map(|usage| Usage {
            model: model.map(str::to_owned),
            input_tokens: Some(usage.input_tokens),
            cached_input_tokens: Some(usage.cached_input_tokens),
            output_tokens: Some(usage.output_tokens),
            cost_usd: None,
            requests: None,
        })
    }
}

fn text<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    value.get(key).and_then(Value::as_str)
}

/// The first line of `text`, at most [`EXCERPT_CHARS`] characters.
fn excerpt(text: &str) -> String {
    let first_line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    let mut short: String = first_line.chars().take(EXCERPT_CHARS).collect();
    if first_line.chars().count() > EXCERPT_CHARS || text.trim().lines().count() > 1 {
        short.push_str(" …");
    }
    short
}

#[cfg(test)]
mod tests;
