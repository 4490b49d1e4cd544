//! Built-in plugin `codex`: the Codex CLI's JSONL events (`codex exec --json`).
//!
//! Rules come from the Codex CLI's source (openai/codex, `codex-rs/exec/src/exec_events.rs`
//! and `codex-rs/core/src/error.rs`); the fixtures under `error/tests/fixtures/codex/` are
//! real output of codex-cli 0.169.0 run against the fake model server, apart from the few
//! marked otherwise in the README there.
//! - Events are objects tagged by `type`. `turn.failed` carries `error.message` and decides;
//!   otherwise the last top-level `error` event (`message`) decides, except the
//!   "Reconnecting... n/m" notices Codex prints while it retries by itself. `item.completed`
//!   items of type `error` are non-fatal and become warnings.
//! - The message is classified with Codex's own wording first: "You've hit your usage
//!   limit" and "Quota exceeded" -> `rate_limited`; "exceeded retry limit, last status: 429"
//!   -> `rate_limited`, other last statuses -> `transient`; "stream disconnected before
//!   completion", "high demand" -> `transient`; "ran out of room in the model's context
//!   window", "upgrade to Plus", "Missing environment variable" -> `permanent`; then with
//!   the `network-api` rules (401, unknown model, 5xx, ...); anything else -> `permanent`.
//!
//! Events come from `AttemptFailure::events` or, when that is empty, from JSON lines in the
//! output. Runs on exits 0 as well.

use regex::Regex;
use serde_json::Value;
use std::sync::LazyLock;

use crate::builtin::network::{classify_api_text, rate_limit_reset};
use crate::diagnostic::{Diagnostic, Severity};
use crate::error_class::ErrorClass;
use crate::plugin::{Finding, Plugin, PluginInput, PluginRunError, Specificity, Verdict};

/// A rule on Codex's own error wording.
struct CodexRule {
    pattern: Regex,
    class: fn() -> ErrorClass,
}

static CODEX_RULES: LazyLock<Vec<CodexRule>> = LazyLock::new(|| {
    let rule = |pattern: &str, class: fn() -> ErrorClass| CodexRule {
        pattern: Regex::new(pattern).expect("static regex"),
        class,
    };
    vec![
        rule(
            r"(?i)you[’']ve hit your usage limit|quota exceeded",
            ErrorClass::rate_limited,
        ),
        rule(
            r"exceeded retry limit, last status: 429",
            ErrorClass::rate_limited,
        ),
        rule(r"exceeded retry limit, last status", || {
            ErrorClass::Transient
        }),
        rule(
            r"stream disconnected before completion|high demand|agent loop died",
            || ErrorClass::Transient,
        ),
        rule(
            r"ran out of room in the model's context window|upgrade to Plus|Missing environment variable|sandbox error",
            || ErrorClass::Permanent,
        ),
    ]
});

/// The `codex` plugin (see the module doc).
#[derive(Debug, Default)]
pub struct CodexPlugin;

fn events_from_text(text: &str) -> Vec<Value> {
    text.lines()
        .map(str::trim)
        .filter(|line| line.starts_with('{') && line.contains("\"type\""))
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .collect()
}

fn event_type(event: &Value) -> &str {
    event.get("type").and_then(Value::as_str).unwrap_or("")
}

impl Plugin for CodexPlugin {
    fn id(&self) -> &str {
        "codex"
    }

    fn description(&self) -> &str {
        "Codex CLI JSONL events: turn.failed and error events, classified by message"
    }

    fn specificity(&self) -> Specificity {
        Specificity::Tool
    }

    fn inspects_successful_exits(&self) -> bool {
        true
    }

    fn applies_to(&self, input: &PluginInput<'_>) -> bool {
        input.failure.is_tool("codex")
            || input
                .failure
                .events
                .iter()
                .any(|event| event_type(event) == "turn.failed")
    }

    fn analyse(&self, input: &PluginInput<'_>) -> Result<Finding, PluginRunError> {
        let parsed;
        let events: &[Value] = if input.failure.events.is_empty() {
            parsed = events_from_text(input.text);
            &parsed
        } else {
            &input.failure.events
        };
        let mut diagnostics = Vec::new();
        let mut fatal: Option<(&str, String)> = None;
        for event in events {
            match event_type(event) {
                "turn.failed" => {
                    let message = event
                        .get("error")
                        .and_then(|error| error.get("message"))
                        .and_then(Value::as_str)
                        .unwrap_or("turn failed");
                    fatal = Some(("turn.failed", message.to_string()));
                }
                "error" => {
                    let message = event
                        .get("message")
                        .and_then(Value::as_str)
                        .unwrap_or("error");
                    if !message.starts_with("Reconnecting...")
                        && fatal
                            .as_ref()
                            .is_none_or(|(kind, _)| *kind != "turn.failed")
                    {
                        fatal = Some(("error", message.to_string()));
                    }
                }
                "item.completed" => {
                    let item = event.get("item");
                    if item
                        .and_then(|item| item.get("type"))
                        .and_then(Value::as_str)
                        == Some("error")
                        && let Some(message) = item
                            .and_then(|item| item.get("message"))
                            .and_then(Value::as_str)
                    {
                        diagnostics.push(
                            Diagnostic::new(Severity::Warning, message)
                                .with_code("codex-error-item"),
                        );
                    }
                }
                _ => {}
            }
        }
        let Some((kind, message)) = fatal else {
            return Ok(Finding {
                verdict: None,
                diagnostics,
            });
        };
        let finished_at = input.failure.finished_at;
        let mut class = CODEX_RULES
            .iter()
            .find(|rule| rule.pattern.is_match(&message))
            .map(|rule| (rule.class)())
            .or_else(|| classify_api_text(&message, finished_at).map(|api| api.class))
            .unwrap_or(ErrorClass::Permanent);
        if let ErrorClass::RateLimited { reset_at: None, .. } = class
            && let Some((reset_at, retry_after)) = rate_limit_reset(&message, finished_at)
        {
            class = ErrorClass::RateLimited {
                reset_at: Some(reset_at),
                retry_after,
            };
        }
        diagnostics.push(Diagnostic::new(Severity::Error, message.clone()).with_code(kind));
        Ok(Finding {
            verdict: Some(Verdict {
                class,
                summary: format!("Codex {kind}: {message}"),
                key: format!("codex {kind} {message}"),
            }),
            diagnostics,
        })
    }
}
