//! Built-in plugin `claude`: Claude Code's `-p --output-format stream-json --verbose` output.
//!
//! Written against the real Claude Code CLI 2.1.329 (captures under
//! `error/tests/fixtures/claude/`, see the README there) and the Claude API's error types
//! (`invalid_request_error` 400, `authentication_error` 401, `billing_error` 402,
//! `permission_error` 403, `not_found_error` 404, `request_too_large` 413,
//! `rate_limit_error` 429, `api_error` 500, `timeout_error` 504, `overloaded_error` 529).
//! Claude Code prints one JSON event per line; the last `{"type":"result"}` event tells how
//! the session ended. A failed model request still has `subtype:"success"`: only
//! `is_error:true` (and `terminal_reason:"api_error"`) show it, with `api_error_status`,
//! `api_error_type` or `api_error` (`connection_failed`) on the result event and `error`
//! (`rate_limit`, `authentication_failed`, `server_error`, ...) on the `<synthetic>`
//! assistant message that precedes it.
//!
//! Rules, first match wins:
//! - `is_error:false` -> no finding (the session did not fail as far as Claude goes).
//! - HTTP 429, `rate_limit_error`, `rate_limit` -> `rate_limited`; the output carries no
//!   reset time, but the `retry_delay_ms` of the last `system`/`api_retry` event (Claude
//!   Code's own backoff) becomes the wait when present.
//! - HTTP 401/402/403, `authentication_error`, `permission_error`, `billing_error`,
//!   `authentication_failed`, or a result text "Not logged in" / "Invalid API key" ->
//!   `permanent`.
//! - HTTP 5xx (529 overloaded included), `overloaded_error`, `api_error`, `timeout_error`,
//!   `server_error`, `connection_failed` -> `transient`.
//! - HTTP 400/404/413, `invalid_request_error`, `not_found_error`, `request_too_large`,
//!   `invalid_request` (unknown model, bad request) -> `permanent`.
//! - Subtypes `error_max_turns`, `error_max_budget_usd` -> `permanent`;
//!   `error_during_execution` -> `transient`.
//! - Otherwise the result text goes through the `network-api` rules, and anything still
//!   unrecognised is `permanent`.
//!
//! Without a `result` event (Claude Code refused to start, crashed or was killed) and with
//! a non-zero exit, the plain text decides when it is one of Claude Code's start-up
//! refusals ("--dangerously-skip-permissions cannot be used with root/sudo privileges",
//! "Not logged in", "Invalid API key" -> `permanent`); otherwise the later plugins
//! (`network-api`, `exit-status`) decide.
//!
//! Only the output part of an attempt log is read (between the supervisor's
//! `----- output (stdout and stderr) -----` and `----- end of output -----` lines), so the
//! prompt echoed in the log header cannot be taken for an event. Events come from
//! `AttemptFailure::events` when the adapter passed them, else from the JSON lines of the
//! output. The plugin is tool-specific, so it runs before `network-api` (which would also
//! match the "429" or "Overloaded" in the result text), and it runs on exits 0 as well.

use regex::Regex;
use serde_json::Value;
use std::sync::LazyLock;
use std::time::Duration;

use crate::builtin::network::classify_api_text;
use crate::diagnostic::{Diagnostic, Severity};
use crate::error_class::ErrorClass;
use crate::plugin::{Finding, Plugin, PluginInput, PluginRunError, Specificity, Verdict};

/// The supervisor's line before the tool's output in an attempt log.
const OUTPUT_START: &str = "----- output (stdout and stderr) -----";
/// The supervisor's line after the tool's output in an attempt log.
const OUTPUT_END: &str = "----- end of output -----";
/// Longest text, in characters, kept for a summary.
const SUMMARY_CHARS: usize = 200;

/// Result texts (and plain-text lines) that mean missing or bad credentials.
static AUTH_TEXT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)not logged in|invalid api key").expect("static regex"));

/// Claude Code's refusals to start that no retry can cure (plain text, no events).
static STARTUP_REFUSAL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)--dangerously-skip-permissions cannot be used with root/sudo privileges|not logged in|invalid api key",
    )
    .expect("static regex")
});

/// The `claude` plugin (see the module doc).
#[derive(Debug, Default)]
pub struct ClaudePlugin;

/// The part of `text` the tool printed: between the log's output markers when present.
fn output_part(text: &str) -> &str {
    let start = text
        .find(OUTPUT_START)
        .map_or(0, |at| at + OUTPUT_START.len());
    let rest = &text[start..];
    match rest.rfind(OUTPUT_END) {
        Some(end) => &rest[..end],
        None => rest,
    }
}

/// The JSON objects with a string `type` that make up whole lines of `text`.
fn events_from_text(text: &str) -> Vec<Value> {
    text.lines()
        .map(str::trim)
        .filter(|line| line.starts_with('{') && line.contains("\"type\""))
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|event| event.get("type").is_some_and(Value::is_string))
        .collect()
}

fn string<'a>(event: &'a Value, key: &str) -> Option<&'a str> {
    event.get(key).and_then(Value::as_str)
}

fn is_event(event: &Value, kind: &str, subtype: Option<&str>) -> bool {
    string(event, "type") == Some(kind)
        && subtype.is_none_or(|subtype| string(event, "subtype") == Some(subtype))
}

/// True for the `system`/`init` event only Claude Code prints.
fn is_claude_init(event: &Value) -> bool {
    is_event(event, "system", Some("init")) && event.get("claude_code_version").is_some()
}

/// The facts of a failed session that the rules look at.
struct Failure<'a> {
    /// HTTP status of the failed model request.
    status: Option<u64>,
    /// Claude API error type (`rate_limit_error`, ...).
    error_type: Option<&'a str>,
    /// Claude Code's own error code: `api_error` on the result (`connection_failed`) or
    /// `error` on the synthetic assistant message (`rate_limit`, `authentication_failed`).
    error_code: Option<&'a str>,
    /// `subtype` of the result event.
    subtype: &'a str,
    /// The result text (or the first of `errors`), whole.
    text: Option<&'a str>,
}

impl<'a> Failure<'a> {
    fn new(result: &'a Value, api_message: Option<&'a Value>) -> Failure<'a> {
        let from_message = |key: &str| api_message.and_then(|message| message.get(key));
        Failure {
            status: result
                .get("api_error_status")
                .and_then(Value::as_u64)
                .or_else(|| from_message("api_error_status").and_then(Value::as_u64)),
            error_type: string(result, "api_error_type")
                .or_else(|| from_message("api_error_type").and_then(Value::as_str)),
            error_code: string(result, "api_error")
                .or_else(|| from_message("error").and_then(Value::as_str)),
            subtype: string(result, "subtype").unwrap_or("unknown"),
            text: string(result, "result")
                .filter(|text| !text.trim().is_empty())
                .or_else(|| {
                    result
                        .get("errors")
                        .and_then(Value::as_array)
                        .and_then(|errors| errors.iter().find_map(Value::as_str))
                }),
        }
    }

    fn status_in(&self, statuses: &[u64]) -> bool {
        self.status.is_some_and(|status| statuses.contains(&status))
    }

    fn type_in(&self, types: &[&str]) -> bool {
        self.error_type.is_some_and(|kind| types.contains(&kind))
    }

    fn code_in(&self, codes: &[&str]) -> bool {
        self.error_code.is_some_and(|code| codes.contains(&code))
    }

    /// The class by the rules of the module doc (rate limits without their wait yet).
    fn class(&self, input: &PluginInput<'_>) -> ErrorClass {
        let text = self.text.unwrap_or("");
        if self.status_in(&[429])
            || self.type_in(&["rate_limit_error"])
            || self.code_in(&["rate_limit"])
        {
            ErrorClass::rate_limited()
        } else if self.status_in(&[401, 402, 403])
            || self.type_in(&["authentication_error", "permission_error", "billing_error"])
            || self.code_in(&["authentication_failed", "billing_error"])
            || AUTH_TEXT.is_match(text)
        {
            ErrorClass::Permanent
        } else if self
            .status
            .is_some_and(|status| (500..600).contains(&status))
            || self.type_in(&["overloaded_error", "api_error", "timeout_error"])
            || self.code_in(&["server_error", "connection_failed"])
        {
            ErrorClass::Transient
        } else if self.status_in(&[400, 404, 413])
            || self.type_in(&[
                "invalid_request_error",
                "not_found_error",
                "request_too_large",
            ])
            || self.code_in(&["invalid_request"])
        {
            ErrorClass::Permanent
        } else {
            match self.subtype {
                "error_max_turns" | "error_max_budget_usd" => ErrorClass::Permanent,
                "error_during_execution" => ErrorClass::Transient,
                _ => classify_api_text(text, input.failure.finished_at)
                    .map_or(ErrorClass::Permanent, |api| api.class),
            }
        }
    }

    /// The most specific name of the error: API error type, Claude Code's code, HTTP
    /// status, else the result subtype.
    fn code(&self) -> String {
        self.error_type
            .or(self.error_code)
            .map(str::to_string)
            .or_else(|| self.status.map(|status| format!("http-{status}")))
            .unwrap_or_else(|| self.subtype.to_string())
    }
}

/// First non-empty line of `text`, trimmed and cut to `SUMMARY_CHARS` characters.
fn one_line(text: &str) -> String {
    let line = text
        .lines()
        .map(str::trim)
        .find(|line| !line.is_empty())
        .unwrap_or("");
    match line.char_indices().nth(SUMMARY_CHARS) {
        Some((cut, _)) => format!("{}...", &line[..cut]),
        None => line.to_string(),
    }
}

/// `retry_delay_ms` of the last `system`/`api_retry` event, as a duration.
fn last_retry_delay(events: &[Value]) -> Option<Duration> {
    events
        .iter()
        .rev()
        .find(|event| is_event(event, "system", Some("api_retry")))
        .and_then(|event| event.get("retry_delay_ms"))
        .and_then(Value::as_f64)
        .and_then(|ms| Duration::try_from_secs_f64(ms / 1000.0).ok())
}

/// The verdict for output without a `result` event, from Claude Code's plain-text refusals.
fn plain_text_finding(output: &str) -> Finding {
    let Some(line) = output
        .lines()
        .rev()
        .map(str::trim)
        .find(|line| !line.starts_with('{') && STARTUP_REFUSAL.is_match(line))
    else {
        return Finding::none();
    };
    let message = one_line(line);
    Finding {
        verdict: Some(Verdict {
            class: ErrorClass::Permanent,
            summary: format!("Claude Code: {message}"),
            key: format!("claude startup {message}"),
        }),
        diagnostics: vec![Diagnostic::new(Severity::Error, message).with_code("claude-startup")],
    }
}

impl Plugin for ClaudePlugin {
    fn id(&self) -> &str {
        "claude"
    }

    fn description(&self) -> &str {
        "Claude Code stream-json: the last result event (is_error, api_error_status/type, subtype), start-up refusals"
    }

    fn specificity(&self) -> Specificity {
        Specificity::Tool
    }

    fn inspects_successful_exits(&self) -> bool {
        true
    }

    fn applies_to(&self, input: &PluginInput<'_>) -> bool {
        input.failure.is_tool("claude")
            || input.failure.events.iter().any(is_claude_init)
            || output_part(input.text)
                .lines()
                .map(str::trim)
                .filter(|line| line.starts_with('{') && line.contains("\"claude_code_version\""))
                .filter_map(|line| serde_json::from_str::<Value>(line).ok())
                .any(|event| is_claude_init(&event))
    }

    fn analyse(&self, input: &PluginInput<'_>) -> Result<Finding, PluginRunError> {
        let output = output_part(input.text);
        let parsed;
        let events: &[Value] = if input.failure.events.is_empty() {
            parsed = events_from_text(output);
            &parsed
        } else {
            &input.failure.events
        };
        let Some(result) = events
            .iter()
            .rev()
            .find(|event| is_event(event, "result", None))
        else {
            if input.failure.termination.is_success() {
                return Ok(Finding::none());
            }
            return Ok(plain_text_finding(output));
        };
        let is_error = match result.get("is_error").and_then(Value::as_bool) {
            Some(is_error) => is_error,
            // Older or cut events without `is_error`: trust the subtype.
            None => string(result, "subtype").is_some_and(|subtype| subtype.starts_with("error")),
        };
        if !is_error {
            return Ok(Finding::none());
        }
        let api_message = events.iter().rev().find(|event| {
            is_event(event, "assistant", None)
                && event.get("is_api_error_message").and_then(Value::as_bool) == Some(true)
        });
        let failure = Failure::new(result, api_message);
        let mut class = failure.class(input);
        if let ErrorClass::RateLimited { reset_at: None, .. } = class
            && let Some(after) = last_retry_delay(events)
        {
            class = ErrorClass::RateLimited {
                reset_at: Some(input.failure.finished_at + after),
                retry_after: Some(after),
            };
        }
        let code = failure.code();
        let message = failure
            .text
            .map(one_line)
            .filter(|text| !text.is_empty())
            .unwrap_or_else(|| format!("session ended with {}", failure.subtype));
        Ok(Finding {
            verdict: Some(Verdict {
                class,
                summary: format!("Claude Code: {message}"),
                key: format!("claude {code} {message}"),
            }),
            diagnostics: vec![Diagnostic::new(Severity::Error, message).with_code(code)],
        })
    }
}
