//! Built-in plugin `cargo`: rustc diagnostics and failing Rust tests.
//!
//! Formats (captured with cargo/rustc 1.95, `error/tests/fixtures/cargo/`):
//! - `--message-format=json`: one JSON object per line; objects with
//!   `"reason":"compiler-message"` carry `message.level` (`error`, `warning`, `note`,
//!   `help`, `failure-note`), `message.code.code` (`E0308`), `message.message` and
//!   `message.spans[]` (`file_name`, `line_start`, `column_start`, `is_primary`).
//!   Summary messages ("aborting due to ...") and failure notes are skipped.
//! - human format: `error[E0425]: cannot find value ...` followed by ` --> src/main.rs:8:20`;
//!   cargo's own summaries (`could not compile`, `test failed, to rerun`, `N warnings
//!   emitted`) are skipped.
//! - `cargo test`: `---- tests::name stdout ----` sections with
//!   `thread 'tests::name' (id) panicked at src/lib.rs:11:9:` and the panic message on the
//!   next lines (rustc >= 1.73; the older `panicked at 'msg', file:line:col` form is read too).
//!
//! Any error-level diagnostic or failing test makes the failure `permanent`: the code must
//! change before the same command can pass. Except cargo's own fetch errors (`error: failed
//! to get `x` as a dependency`, `failed to download ...`: no rustc code, no location) when
//! the output shows a network error (`Could not resolve host`, `Couldn't connect to
//! server`, the `network-api` rules; `corpus/cargo-registry-*.txt`): the registry was
//! unreachable, so the plugin leaves the class to `network-api`.

use regex::Regex;
use serde_json::Value;
use std::sync::LazyLock;

use crate::builtin::network::classify_api_text;
use crate::builtin::permanent_finding::permanent_if_errors;
use crate::diagnostic::{Diagnostic, Severity};
use crate::plugin::{Finding, Plugin, PluginInput, PluginRunError, Specificity};

static HUMAN_HEADER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(error|warning)(?:\[(E\d{4}|[\w:-]+)\])?: (.+)$").expect("static regex")
});
static HUMAN_LOCATION: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\s*--> (.+?):(\d+):(\d+)\s*$").expect("static regex"));
static CARGO_SUMMARY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?:could not compile|aborting due to|test failed, to rerun|build failed|\d+ warnings? emitted|`[^`]+` \(.*\) generated \d+ warnings?|Some errors have detailed|For more information about)")
        .expect("static regex")
});
static TEST_SECTION: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^---- (\S+) stdout ----$").expect("static regex"));
static PANIC_NEW: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^thread '([^']*)'(?: \(\d+\))? panicked at (.+?):(\d+):(\d+):$")
        .expect("static regex")
});
static PANIC_OLD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^thread '([^']*)' panicked at '(.*)', (.+?):(\d+):(\d+)$").expect("static regex")
});
static TEST_RESULT_FAILED: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^test (\S+) \.\.\. FAILED$").expect("static regex"));

/// The `cargo` plugin (see the module doc).
#[derive(Debug, Default)]
pub struct CargoPlugin;

fn json_diagnostic(message: &Value) -> Option<Diagnostic> {
    let level = message.get("level")?.as_str()?;
    let severity = match level {
        "error" | "error: internal compiler error" => Severity::Error,
        "warning" => Severity::Warning,
        "note" => Severity::Note,
        "help" => Severity::Help,
        _ => return None,
    };
    let text = message.get("message")?.as_str()?;
    let spans = message.get("spans").and_then(Value::as_array);
    let primary = spans.and_then(|spans| {
        spans
            .iter()
            .find(|span| span.get("is_primary").and_then(Value::as_bool) == Some(true))
    });
    if primary.is_none() && CARGO_SUMMARY.is_match(text) {
        return None;
    }
    let mut diagnostic = Diagnostic::new(severity, text);
    if let Some(code) = message
        .get("code")
        .and_then(|code| code.get("code"))
        .and_then(Value::as_str)
    {
        diagnostic = diagnostic.with_code(code);
    }
    if let Some(span) = primary
        && let Some(file) = span.get("file_name").and_then(Value::as_str)
    {
        let number = |key: &str| {
            span.get(key)
                .and_then(Value::as_u64)
                .and_then(|n| u32::try_from(n).ok())
        };
        diagnostic = diagnostic.at(file, number("line_start"), number("column_start"));
    }
    Some(diagnostic)
}

fn json_diagnostics(text: &str) -> Vec<Diagnostic> {
    text.lines()
        .filter(|line| line.starts_with('{') && line.contains("\"reason\""))
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|value| value.get("reason").and_then(Value::as_str) == Some("compiler-message"))
        .filter_map(|value| value.get("message").and_then(json_diagnostic))
        .collect()
}

fn human_diagnostics(text: &str) -> Vec<Diagnostic> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    for (index, line) in lines.iter().enumerate() {
        let Some(caps) = HUMAN_HEADER.captures(line.trim_end()) else {
            continue;
        };
        let message = &caps[3];
        if CARGO_SUMMARY.is_match(message) {
            continue;
        }
        let severity = if &caps[1] == "error" {
            Severity::Error
        } else {
            Severity::Warning
        };
        let mut diagnostic = Diagnostic::new(severity, message);
        if let Some(code) = caps.get(2) {
            diagnostic = diagnostic.with_code(code.as_str());
        }
        if let Some(location) = lines
            .get(index + 1)
            .and_then(|next| HUMAN_LOCATION.captures(next))
        {
            diagnostic = diagnostic.at(
                &location[1],
                location[2].parse().ok(),
                location[3].parse().ok(),
            );
        }
        out.push(diagnostic);
    }
    out
}

fn test_failures(text: &str) -> Vec<Diagnostic> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out: Vec<Diagnostic> = Vec::new();
    let mut index = 0;
    while index < lines.len() {
        let line = lines[index].trim_end();
        if let Some(caps) = PANIC_NEW.captures(line) {
            let mut message = Vec::new();
            let mut next = index + 1;
            while next < lines.len() {
                let candidate = lines[next].trim_end();
                if candidate.is_empty()
                    || candidate.starts_with("stack backtrace:")
                    || candidate.starts_with("note: ")
                    || TEST_SECTION.is_match(candidate)
                {
                    break;
                }
                message.push(candidate.trim());
                next += 1;
            }
            out.push(
                Diagnostic::new(
                    Severity::Error,
                    format!("test {} failed: {}", &caps[1], message.join("; ")),
                )
                .at(&caps[2], caps[3].parse().ok(), caps[4].parse().ok())
                .with_code("test-failure"),
            );
            index = next;
            continue;
        }
        if let Some(caps) = PANIC_OLD.captures(line) {
            out.push(
                Diagnostic::new(
                    Severity::Error,
                    format!("test {} failed: {}", &caps[1], &caps[2]),
                )
                .at(&caps[3], caps[4].parse().ok(), caps[5].parse().ok())
                .with_code("test-failure"),
            );
        }
        index += 1;
    }
    // Tests that failed without a panic message we could read still count.
    for line in &lines {
        if let Some(caps) = TEST_RESULT_FAILED.captures(line.trim_end()) {
            let name = &caps[1];
            let needle = format!("test {name} failed");
            if !out.iter().any(|d| d.message.starts_with(&needle)) {
                out.push(
                    Diagnostic::new(Severity::Error, format!("test {name} failed"))
                        .with_code("test-failure"),
                );
            }
        }
    }
    out
}

impl Plugin for CargoPlugin {
    fn id(&self) -> &str {
        "cargo"
    }

    fn description(&self) -> &str {
        "cargo/rustc diagnostics (JSON message format and human format) and failing cargo tests (rustc 1.95)"
    }

    fn specificity(&self) -> Specificity {
        Specificity::Tool
    }

    fn applies_to(&self, input: &PluginInput<'_>) -> bool {
        input.failure.command_mentions("cargo")
            || input.failure.command_mentions("rustc")
            || input.text.contains("\"reason\":\"compiler-message\"")
            || input.text.contains("error[E")
            || input.text.contains("test result: FAILED")
    }

    fn analyse(&self, input: &PluginInput<'_>) -> Result<Finding, PluginRunError> {
        let mut diagnostics = json_diagnostics(input.text);
        if diagnostics.is_empty() {
            diagnostics = human_diagnostics(input.text);
        }
        diagnostics.extend(test_failures(input.text));
        if is_registry_fetch_failure(&diagnostics, input) {
            // The registry could not be reached: `network-api` decides (transient).
            return Ok(Finding {
                verdict: None,
                diagnostics,
            });
        }
        Ok(permanent_if_errors(diagnostics, |errors| {
            let tests = errors
                .iter()
                .filter(|d| d.code.as_deref() == Some("test-failure"))
                .count();
            match (errors.len() - tests, tests) {
                (0, tests) => format!("{tests} Rust test(s) failed; first: {}", errors[0].message),
                (compile, _) => format!(
                    "{compile} Rust compile error(s); first: {}",
                    errors
                        .iter()
                        .find(|d| d.code.as_deref() != Some("test-failure"))
                        .map_or(String::new(), |d| d.to_string())
                ),
            }
        }))
    }
}

/// True when every error is one of cargo's own "failed to ..." fetch errors (no rustc code,
/// no location) and the output shows a network error.
fn is_registry_fetch_failure(diagnostics: &[Diagnostic], input: &PluginInput<'_>) -> bool {
    let mut errors = diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .peekable();
    errors.peek().is_some()
        && errors
            .all(|d| d.code.is_none() && d.file.is_none() && d.message.starts_with("failed to "))
        && classify_api_text(input.text, input.failure.finished_at).is_some()
}
