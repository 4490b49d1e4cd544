//! What Claude Code reported in its `--output-format stream-json --verbose` output.
//!
//! Claude Code prints one JSON object per line on stdout (checked against the real CLI,
//! 2.1.329, see `error/tests/fixtures/claude/`):
//!
//! - `{"type":"system","subtype":"init", "model", "permissionMode", "tools", ...}` first;
//!   `{"type":"system","subtype":"api_retry", "attempt", "error_status", ...}` when it
//!   retries a model request itself;
//! - `{"type":"assistant","message":{"id","model","content":[text | tool_use ...]}}`, one
//!   line per content block (a model reply with a text and a tool use is two lines with
//!   the same `message.id`); API errors appear as a `<synthetic>` assistant message;
//! - `{"type":"user","message":{"content":[{"type":"tool_result", "is_error", ...}]}}` for
//!   the result of each tool use;
//! - `{"type":"result","subtype":"success"|"error_...","is_error", "result", "num_turns",
//!   "total_cost_usd", "usage":{...}, "permission_denials":[...], "api_error_status"}` last.
//!
//! [`StreamReport`] folds these lines into the few facts the adapter needs: the final
//! `result` event (success is judged by its `is_error`, not by the exit status), usage,
//! the number of model requests and tool uses. Lines that are not JSON objects (stderr
//! notices, the supervisor's log header and footer) are ignored. [`progress_line`] turns
//! a line into one short human-readable line for live progress.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::invocation::Usage;

/// Longest text, in characters, kept from a `result` or shown in a progress line.
const TEXT_CHARS: usize = 300;

/// The final `result` event of a Claude Code session.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct ResultEvent {
    /// `is_error`: true when the session failed (API error, turn or budget limit, ...).
    pub(crate) is_error: bool,
    /// `subtype`: `success`, or `error_max_turns`, `error_during_execution`, ...
    pub(crate) subtype: String,
    /// First line of the `result` text (the final message, or the API error), cut to
    /// [`TEXT_CHARS`] characters.
    pub(crate) text: Option<String>,
    /// `num_turns`.
    pub(crate) turns: Option<u64>,
    /// `api_error_status`: HTTP status of the failed model request, if any.
    pub(crate) api_error_status: Option<u64>,
    /// `api_error_type` (`rate_limit_error`, ...) or `api_error` (`connection_failed`).
    pub(crate) api_error: Option<String>,
    /// `terminal_reason` (`completed`, `api_error`, ...).
    pub(crate) terminal_reason: Option<String>,
    /// Names of the tools whose use the permission mode denied (`permission_denials`).
    pub(crate) denied_tools: Vec<String>,
    /// `total_cost_usd`, US dollars.
    pub(crate) cost_usd: Option<f64>,
    /// `usage.input_tokens` (not counting cache reads and writes).
    pub(crate) input_tokens: Option<u64>,
    /// `usage.cache_read_input_tokens`.
    pub(crate) cache_read_tokens: Option<u64>,
    /// `usage.cache_creation_input_tokens`.
    pub(crate) cache_creation_tokens: Option<u64>,
    /// `usage.output_tokens`.
    pub(crate) output_tokens: Option<u64>,
    /// The model with the most output tokens in `modelUsage`.
    pub(crate) main_model: Option<String>,
}

impl ResultEvent {
    fn parse(event: &Value) -> ResultEvent {
        let usage = event.get("usage");
        let tokens = |key: &str| usage.and_then(|u| u.get(key)).and_then(Value::as_u64);
        let denied_tools = event
            .get("permission_denials")
            .and_then(Value::as_array)
            .map(|denials| {
                denials
                    .iter()
                    .filter_map(|denial| denial.get("tool_name").and_then(Value::as_str))
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        let main_model = event
            .get("modelUsage")
            .and_then(Value::as_object)
            .and_then(|models| {
                models
                    .iter()
                    .max_by_key(|(_, usage)| usage.get("outputTokens").and_then(Value::as_u64))
                    .map(|(model, _)| model.clone())
            });
        let text = event
            .get("result")
            .and_then(Value::as_str)
            .or_else(|| {
                event
                    .get("errors")
                    .and_then(Value::as_array)
                    .and_then(|errors| errors.iter().find_map(Value::as_str))
            })
            .and_then(first_line);
        ResultEvent {
            // A result without `is_error` is malformed: count it as a failure.
            is_error: event
                .get("is_error")
                .and_then(Value::as_bool)
                .unwrap_or(true),
            subtype: event
                .get("subtype")
                .and_then(Value::as_str)
                .unwrap_or("unknown")
                .to_owned(),
            text,
            turns: event.get("num_turns").and_then(Value::as_u64),
            api_error_status: event.get("api_error_status").and_then(Value::as_u64),
            api_error: event
                .get("api_error_type")
                .or_else(|| event.get("api_error"))
                .and_then(Value::as_str)
                .map(str::to_owned),
            terminal_reason: event
                .get("terminal_reason")
                .and_then(Value::as_str)
                .map(str::to_owned),
            denied_tools,
            cost_usd: event.get("total_cost_usd").and_then(Value::as_f64),
            input_tokens: tokens("input_tokens"),
            cache_read_tokens: tokens("cache_read_input_tokens"),
            cache_creation_tokens: tokens("cache_creation_input_tokens"),
            output_tokens: tokens("output_tokens"),
            main_model,
        }
    }

    /// True when Claude Code reported success: `is_error` false and subtype `success`.
    pub(crate) fn succeeded(&self) -> bool {
        !self.is_error && self.subtype == "success"
    }
}

/// Facts gathered from the stream-json lines of one Claude Code session.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct StreamReport {
    /// `model` of the `system`/`init` event.
    pub(crate) model: Option<String>,
    /// `permissionMode` of the `system`/`init` event.
    pub(crate) permission_mode: Option<String>,
    /// Ids of the real (not `<synthetic>`) assistant messages: one per model request.
    message_ids: BTreeSet<String>,
    /// `tool_use` blocks in assistant messages.
    pub(crate) tool_uses: u32,
    /// `system`/`api_retry` events: model requests Claude Code retried itself.
    pub(crate) api_retries: u32,
    /// The last `result` event.
    pub(crate) result: Option<ResultEvent>,
    /// `is_error` of a `result` line too long to parse (cut by the line callback or the
    /// log limit), when no complete `result` event was seen.
    pub(crate) truncated_result_is_error: Option<bool>,
    /// `message.usage` of each real assistant message, by message id: what each model
    /// request reported while the session ran (the largest count seen per field, since
    /// the content blocks of one message repeat its usage).
    message_usage: BTreeMap<String, MessageUsage>,
}

/// Token counts of one model request, from an `assistant` event's `message.usage`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct MessageUsage {
    input: u64,
    cache_read: u64,
    cache_creation: u64,
    output: u64,
}

impl MessageUsage {
    fn parse(usage: &Value) -> MessageUsage {
        let count = |key: &str| usage.get(key).and_then(Value::as_u64).unwrap_or(0);
        MessageUsage {
            input: count("input_tokens"),
            cache_read: count("cache_read_input_tokens"),
            cache_creation: count("cache_creation_input_tokens"),
            output: count("output_tokens"),
        }
    }

    /// The larger count of each field.
    fn max(self, other: MessageUsage) -> MessageUsage {
        MessageUsage {
            input: self.input.max(other.input),
            cache_read: self.cache_read.max(other.cache_read),
            cache_creation: self.cache_creation.max(other.cache_creation),
            output: self.output.max(other.output),
        }
    }
}

impl StreamReport {
    /// Folds every line of `text` (e.g. a whole attempt log) into a report.
    pub(crate) fn from_text(text: &str) -> StreamReport {
        let mut report = StreamReport::default();
        for line in text.lines() {
            report.feed(line);
        }
        report
    }

    /// Folds one output line into the report; lines that are not stream-json events are
    /// ignored.
    pub(crate) fn feed(&mut self, line: &str) {
        let line = line.trim();
        if !line.starts_with('{') {
            return;
        }
        let event: Value = match serde_json::from_str(line) {
            Ok(event) => event,
            Err(_) => {
                // A cut `result` line still tells success from failure: Claude Code puts
                // `is_error` early and `"type":"result"` last, so it is recognised by
                // `num_turns`, a key only result events have (escaped inside strings).
                let other_event =
                    line.starts_with(r#"{"type":""#) && !line.starts_with(r#"{"type":"result""#);
                if !other_event && line.contains(r#""num_turns":"#) {
                    if line.contains(r#""is_error":false"#) {
                        self.truncated_result_is_error = Some(false);
                    } else if line.contains(r#""is_error":true"#) {
                        self.truncated_result_is_error = Some(true);
                    }
                }
                return;
            }
        };
        match event.get("type").and_then(Value::as_str) {
            Some("system") => match event.get("subtype").and_then(Value::as_str) {
                Some("init") => {
                    self.model = string(&event, "model");
                    self.permission_mode = string(&event, "permissionMode");
                }
                Some("api_retry") => self.api_retries += 1,
                _ => {}
            },
            Some("assistant") => {
                let Some(message) = event.get("message") else {
                    return;
                };
                let synthetic = message.get("model").and_then(Value::as_str) == Some("<synthetic>");
                if let Some(id) = message.get("id").and_then(Value::as_str)
                    && !synthetic
                {
                    self.message_ids.insert(id.to_owned());
                    if let Some(usage) = message.get("usage") {
                        let seen = MessageUsage::parse(usage);
                        let entry = self.message_usage.entry(id.to_owned()).or_default();
                        *entry = entry.max(seen);
                    }
                }
                self.tool_uses += content_blocks(message)
                    .filter(|block| block.get("type").and_then(Value::as_str) == Some("tool_use"))
                    .count() as u32;
            }
            Some("result") => self.result = Some(ResultEvent::parse(&event)),
            _ => {}
        }
    }

    /// Model requests that produced an answer (distinct assistant message ids).
    pub(crate) fn requests(&self) -> u32 {
        u32::try_from(self.message_ids.len()).unwrap_or(u32::MAX)
    }

    /// The usage the session's model requests reported so far in their `assistant`
    /// events, summed over requests, counted as [`StreamReport::usage`] counts (input
    /// includes cache reads and writes); no cost (Claude Code reports it only in the
    /// final `result`). `None` before the first request with a usage. A line cut by the
    /// live line callback (4096 bytes) is not parsed, so its request counts only in the
    /// final `result`.
    pub(crate) fn streamed_usage(&self) -> Option<Usage> {
        if self.message_usage.is_empty() {
            return None;
        }
        let sum = self
            .message_usage
            .values()
            .fold(MessageUsage::default(), |total, m| MessageUsage {
                input: total.input + m.input,
                cache_read: total.cache_read + m.cache_read,
                cache_creation: total.cache_creation + m.cache_creation,
                output: total.output + m.output,
            });
        Some(Usage {
            model: self.model.clone(),
            input_tokens: Some(sum.input + sum.cache_read + sum.cache_creation),
            cached_input_tokens: Some(sum.cache_read),
            output_tokens: Some(sum.output),
            cost_usd: None,
            requests: Some(self.requests()).filter(|n| *n > 0),
        })
    }

    /// Whether Claude Code reported success: `Some(true)` / `Some(false)` from the final
    /// `result` event (or a cut one), `None` when there was none (killed, crashed, or
    /// refused to start).
    pub(crate) fn reported_success(&self) -> Option<bool> {
        match &self.result {
            Some(result) => Some(result.succeeded()),
            None => self.truncated_result_is_error.map(|is_error| !is_error),
        }
    }

    /// Tokens and cost for the attempt record, or `None` when Claude Code reported
    /// nothing. `input_tokens` counts every prompt token, cache reads and writes included
    /// (as OpenAI counts them), `cached_input_tokens` the cache reads among them.
    ///
    /// Without a `result` event (the session was stopped or crashed), the tokens are the
    /// sum of what each model request reported in its `assistant` events
    /// ([`StreamReport::streamed_usage`]), and the cost is unknown.
    pub(crate) fn usage(&self) -> Option<Usage> {
        let model = self
            .model
            .clone()
            .or_else(|| self.result.as_ref().and_then(|r| r.main_model.clone()));
        let requests = Some(self.requests()).filter(|n| *n > 0);
        let Some(result) = &self.result else {
            if let Some(streamed) = self.streamed_usage() {
                return Some(streamed);
            }
            return (model.is_some() || requests.is_some()).then(|| Usage {
                model,
                requests,
                ..Usage::default()
            });
        };
        let input_tokens = match (
            result.input_tokens,
            result.cache_read_tokens,
            result.cache_creation_tokens,
        ) {
            (None, None, None) => None,
            (input, read, created) => {
                Some(input.unwrap_or(0) + read.unwrap_or(0) + created.unwrap_or(0))
            }
        };
        Some(Usage {
            model,
            input_tokens,
            cached_input_tokens: result.cache_read_tokens,
            output_tokens: result.output_tokens,
            cost_usd: result.cost_usd,
            requests,
        })
    }
}

/// One short line for live progress from a stream-json line: the assistant's text (first
/// line), `tool: Bash echo hi > hi.txt`, `retrying model request (HTTP 429)`,
/// `result: success ...`. `None` for lines that say nothing worth showing (tool results,
/// init); non-JSON lines are passed through unchanged.
pub(crate) fn progress_line(line: &str) -> Option<String> {
    let trimmed = line.trim();
    if !trimmed.starts_with('{') {
        return (!trimmed.is_empty()).then(|| trimmed.to_owned());
    }
    let event: Value = serde_json::from_str(trimmed).ok()?;
    match event.get("type").and_then(Value::as_str)? {
        "assistant" => {
            let message = event.get("message")?;
            content_blocks(message).find_map(|block| {
                match block.get("type").and_then(Value::as_str)? {
                    "text" => block
                        .get("text")
                        .and_then(Value::as_str)
                        .and_then(first_line),
                    "tool_use" => {
                        let name = block.get("name").and_then(Value::as_str).unwrap_or("tool");
                        let input = block.get("input");
                        let detail = ["command", "file_path", "path", "pattern", "description"]
                            .iter()
                            .find_map(|key| input.and_then(|i| i.get(*key)).and_then(Value::as_str))
                            .and_then(first_line)
                            .unwrap_or_default();
                        Some(format!("tool: {name} {detail}").trim_end().to_owned())
                    }
                    _ => None,
                }
            })
        }
        "system" if event.get("subtype").and_then(Value::as_str) == Some("api_retry") => {
            let status = event
                .get("error_status")
                .and_then(Value::as_u64)
                .map_or_else(String::new, |status| format!(" (HTTP {status})"));
            Some(format!("retrying model request{status}"))
        }
        "result" => {
            let result = ResultEvent::parse(&event);
            let verdict = if result.succeeded() {
                "success"
            } else {
                "error"
            };
            let text = result
                .text
                .map(|text| format!(": {text}"))
                .unwrap_or_default();
            Some(format!("result: {verdict}{text}"))
        }
        _ => None,
    }
}

fn content_blocks(message: &Value) -> impl Iterator<Item = &Value> {
    message
        .get("content")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

fn string(event: &Value, key: &str) -> Option<String> {
    event.get(key).and_then(Value::as_str).map(str::to_owned)
}

/// The first non-empty line of `text`, cut to [`TEXT_CHARS`] characters.
fn first_line(text: &str) -> Option<String> {
    let line = text.lines().map(str::trim).find(|line| !line.is_empty())?;
    let mut cut: String = line.chars().take(TEXT_CHARS).collect();
    if cut.len() < line.len() {
        cut.push_str("...");
    }
    Some(cut)
}
