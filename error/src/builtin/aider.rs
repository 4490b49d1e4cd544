//! Built-in plugin `aider`: Aider's failures, which it reports on stdout while exiting 0.
//!
//! Rules come from Aider's source (Aider-AI/aider 0.86, `aider/exceptions.py` and
//! `aider/coders/base_coder.py`, `editblock_coder.py`); the fixtures under
//! `error/tests/fixtures/aider/` are real output of Aider 0.86.2 run against the fake model
//! server (see the README there).
//! - API errors: Aider prints the LiteLLM exception (`litellm.RateLimitError: ...`) and,
//!   for some, a friendly line ("The API provider has rate limited you. Try again later or
//!   check your quotas."). By exception name: `RateLimitError`, `RouterRateLimitError` ->
//!   `rate_limited`; `AuthenticationError`, `NotFoundError` (unknown model),
//!   `BadRequestError`, `ContextWindowExceededError`, `ContentPolicyViolationError`,
//!   `BudgetExceededError` -> `permanent`; `Timeout` -> `timeout`; `APIConnectionError`,
//!   `APIError`, `InternalServerError`, `ServiceUnavailableError` and the rest -> `transient`.
//!   Aider retries retryable errors itself ("Retrying in 0.5 seconds..."), so the last
//!   error printed decides.
//! - No edits applied: "The LLM did not conform to the edit format.", "# N SEARCH/REPLACE
//!   block(s) failed to match!", "Only 3 reflections allowed, stopping.", "Empty response
//!   received from LLM" -> `transient` (another attempt may produce applicable edits;
//!   `max_error_repeats` stops a loop of the same failure).
//!
//! Runs on exits 0 as well (`inspects_successful_exits`).

use regex::Regex;
use std::sync::LazyLock;

use crate::builtin::network::{classify_api_text, rate_limit_reset};
use crate::diagnostic::{Diagnostic, Severity};
use crate::error_class::ErrorClass;
use crate::plugin::{Finding, Plugin, PluginInput, PluginRunError, Specificity, Verdict};

static LITELLM: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\blitellm\.(?:exceptions\.)?(\w*(?:Error|Timeout))\b").expect("static regex")
});
static FRIENDLY: LazyLock<Vec<(Regex, &'static str)>> = LazyLock::new(|| {
    [
        (r"The API provider has rate limited you", "RateLimitError"),
        (
            r"The API provider is not able to authenticate you",
            "AuthenticationError",
        ),
        (
            r"The API provider's servers are down or overloaded",
            "ServiceUnavailableError",
        ),
        (
            r"The API provider timed out without returning a response",
            "Timeout",
        ),
        (
            r"The API provider has refused the request due to a safety policy",
            "ContentPolicyViolationError",
        ),
    ]
    .into_iter()
    .map(|(pattern, name)| (Regex::new(pattern).expect("static regex"), name))
    .collect()
});
static NO_EDITS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"The LLM did not conform to the edit format|SEARCH/REPLACE blocks? failed to match|Only \d+ reflections allowed, stopping|Empty response received from LLM")
        .expect("static regex")
});
static NO_MATCH_FILE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^## SearchReplaceNoExactMatch: This SEARCH block failed to exactly match lines in (.+)$",
    )
    .expect("static regex")
});

fn class_of_exception(name: &str) -> ErrorClass {
    match name {
        "RateLimitError" | "RouterRateLimitError" => ErrorClass::rate_limited(),
        "AuthenticationError"
        | "NotFoundError"
        | "BadRequestError"
        | "ContextWindowExceededError"
        | "ContentPolicyViolationError"
        | "BudgetExceededError"
        | "UnsupportedParamsError" => ErrorClass::Permanent,
        "Timeout" => ErrorClass::Timeout,
        _ => ErrorClass::Transient,
    }
}

/// The `aider` plugin (see the module doc).
#[derive(Debug, Default)]
pub struct AiderPlugin;

impl Plugin for AiderPlugin {
    fn id(&self) -> &str {
        "aider"
    }

    fn description(&self) -> &str {
        "Aider stdout: LiteLLM API errors (rate limit, authentication, unknown model) and 'no edits applied' messages, even on exit 0"
    }

    fn specificity(&self) -> Specificity {
        Specificity::Tool
    }

    fn inspects_successful_exits(&self) -> bool {
        true
    }

    fn applies_to(&self, input: &PluginInput<'_>) -> bool {
        input.failure.is_tool("aider")
    }

    fn analyse(&self, input: &PluginInput<'_>) -> Result<Finding, PluginRunError> {
        let mut diagnostics = Vec::new();
        // (line index, exception name, line)
        let mut last_api: Option<(usize, &str, &str)> = None;
        let mut last_no_edits: Option<(usize, &str)> = None;
        for (index, line) in input.text.lines().enumerate() {
            let line = line.trim();
            if let Some(caps) = LITELLM.captures(line) {
                let name = caps.get(1).map_or("", |m| m.as_str());
                last_api = Some((index, name, line));
            } else if let Some((_, name)) =
                FRIENDLY.iter().find(|(pattern, _)| pattern.is_match(line))
            {
                // The friendly line follows the exception; keep the exception's line as key.
                if last_api.is_none_or(|(at, _, _)| index > at + 2) {
                    last_api = Some((index, name, line));
                }
            } else if NO_EDITS.is_match(line) {
                last_no_edits = Some((index, line));
            }
            if let Some(caps) = NO_MATCH_FILE.captures(line) {
                diagnostics.push(
                    Diagnostic::new(
                        Severity::Error,
                        "SEARCH block failed to exactly match lines",
                    )
                    .at(caps[1].trim(), None, None)
                    .with_code("aider-search-replace"),
                );
            }
        }
        let api_is_last = match (last_api, last_no_edits) {
            (Some((api, ..)), Some((edits, _))) => api > edits,
            (Some(_), None) => true,
            _ => false,
        };
        if api_is_last && let Some((_, name, line)) = last_api {
            let mut class = class_of_exception(name);
            if let ErrorClass::RateLimited { .. } = class
                && let Some((reset_at, retry_after)) =
                    rate_limit_reset(input.text, input.failure.finished_at)
            {
                class = ErrorClass::RateLimited {
                    reset_at: Some(reset_at),
                    retry_after,
                };
            }
            // A generic LiteLLM error whose text says more (e.g. APIError with a 401).
            if class == ErrorClass::Transient
                && let Some(api) = classify_api_text(line, input.failure.finished_at)
            {
                class = api.class;
            }
            diagnostics.push(Diagnostic::new(Severity::Error, line).with_code(name));
            return Ok(Finding {
                verdict: Some(Verdict {
                    summary: format!("Aider's model API call failed ({name}): {line}"),
                    key: format!("aider {name} {line}"),
                    class,
                }),
                diagnostics,
            });
        }
        if let Some((_, line)) = last_no_edits {
            diagnostics.push(Diagnostic::new(Severity::Error, line).with_code("aider-no-edits"));
            return Ok(Finding {
                verdict: Some(Verdict {
                    class: ErrorClass::Transient,
                    summary: format!("Aider applied no edits: {line}"),
                    key: format!("aider no edits {line}"),
                }),
                diagnostics,
            });
        }
        Ok(Finding {
            verdict: None,
            diagnostics,
        })
    }
}
