//! Built-in plugin `jest`: failing tests and suites of Jest and Vitest.
//!
//! Formats (captured with Jest 30.5 `jest --ci --colors=false` and Vitest 3.2 `vitest run`
//! with `NO_COLOR=1`, `error/tests/fixtures/jest/` and `vitest/`):
//!
//! - Jest: `FAIL ./sum.test.js`, then per failure a `  ● describe › test name` header, the
//!   message (`expect(received).toBe(expected) ...`, `Expected: 3` / `Received: -1`, or
//!   `Cannot find module './x' from 'y.test.js'` under `● Test suite failed to run`), and
//!   the stack's `at Object.toBe (sum.test.js:4:21)`.
//! - Vitest: ` FAIL  sum.test.js > describe > test name` (a suite that failed to load:
//!   ` FAIL  missing.test.js [ missing.test.js ]`), the error line
//!   (`AssertionError: expected -1 to be 3 ...`), and ` ❯ sum.test.js:5:21`.
//!
//! A diagnostic per failure: the test file and the line and column of the first stack frame
//! outside `node_modules`, the test's full name and the first line of the message (Jest's
//! expected / received values appended). Any failure is `permanent`.

use regex::Regex;
use std::sync::LazyLock;

use crate::builtin::permanent_finding::{located_message, permanent};
use crate::diagnostic::{Diagnostic, Severity};
use crate::plugin::{Finding, Plugin, PluginInput, PluginRunError, Specificity};

static JEST_FILE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(?:FAIL|PASS) (\S+)").expect("static regex"));
static JEST_FAILURE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^  ● (.+)$").expect("static regex"));
static JEST_FRAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\s+at (?:.*\()?([^()\s]+?):(\d+):(\d+)\)?$").expect("static regex")
});
static JEST_VALUE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\s+(Expected|Received): (.+)$").expect("static regex"));
static VITEST_FAILURE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^ FAIL  (\S+?)(?: > (.+?)| \[ .* \])?$").expect("static regex"));
static VITEST_FRAME: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^ ❯ (\S+?):(\d+):(\d+)$").expect("static regex"));

/// The `jest` plugin (see the module doc).
#[derive(Debug, Default)]
pub struct JestPlugin;

/// One failure being read.
struct Failure {
    file: String,
    test: String,
    message: Option<String>,
    values: Vec<String>,
    location: Option<(String, u32, u32)>,
    suite: bool,
}

impl Failure {
    fn new(file: &str, test: &str, suite: bool) -> Failure {
        Failure {
            file: file.to_string(),
            test: test.to_string(),
            message: None,
            values: Vec::new(),
            location: None,
            suite,
        }
    }

    fn diagnostic(self) -> Diagnostic {
        let mut message = self.message.unwrap_or_else(|| "failed".to_string());
        if !self.values.is_empty() {
            message = format!("{message} ({})", self.values.join(", "));
        }
        let code = if self.suite {
            "suite-failed"
        } else {
            "test-failed"
        };
        let diagnostic = Diagnostic::new(Severity::Error, format!("{}: {message}", self.test));
        match self.location {
            Some((file, line, column)) => diagnostic.at(file, Some(line), Some(column)),
            None => diagnostic.at(self.file, None, None),
        }
        .with_code(code)
    }
}

fn is_dependency(path: &str) -> bool {
    path.contains("node_modules") || path.starts_with("node:")
}

fn jest_failures(text: &str) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let mut file = String::new();
    let mut current: Option<Failure> = None;
    for line in text.lines() {
        let line = line.trim_end();
        if let Some(caps) = JEST_FILE.captures(line) {
            out.extend(current.take().map(Failure::diagnostic));
            file = caps[1].trim_start_matches("./").to_string();
        } else if let Some(caps) = JEST_FAILURE.captures(line) {
            out.extend(current.take().map(Failure::diagnostic));
            let title = &caps[1];
            let suite = title == "Test suite failed to run";
            let test = if suite { file.as_str() } else { title };
            current = Some(Failure::new(&file, test, suite));
        } else if line.starts_with("Test Suites:") {
            out.extend(current.take().map(Failure::diagnostic));
        } else if let Some(failure) = current.as_mut() {
            if let Some(caps) = JEST_FRAME.captures(line) {
                if failure.location.is_none() && !is_dependency(&caps[1]) {
                    failure.location = Some((
                        caps[1].to_string(),
                        caps[2].parse().unwrap_or(0),
                        caps[3].parse().unwrap_or(0),
                    ));
                }
            } else if let Some(caps) = JEST_VALUE.captures(line) {
                if failure.values.len() < 2 {
                    failure
                        .values
                        .push(format!("{} {}", caps[1].to_ascii_lowercase(), &caps[2]));
                }
            } else if failure.message.is_none() && !line.trim().is_empty() {
                failure.message = Some(line.trim().to_string());
            }
        }
    }
    out.extend(current.map(Failure::diagnostic));
    out
}

fn vitest_failures(text: &str) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let mut current: Option<Failure> = None;
    for line in text.lines() {
        let line = line.trim_end();
        if let Some(caps) = VITEST_FAILURE.captures(line) {
            out.extend(current.take().map(Failure::diagnostic));
            let file = &caps[1];
            current = Some(match caps.get(2) {
                Some(test) => Failure::new(file, test.as_str(), false),
                None => Failure::new(file, file, true),
            });
        } else if line.starts_with('⎯') || line.trim_start().starts_with("Test Files") {
            out.extend(current.take().map(Failure::diagnostic));
        } else if let Some(failure) = current.as_mut() {
            if let Some(caps) = VITEST_FRAME.captures(line) {
                if failure.location.is_none() && !is_dependency(&caps[1]) {
                    failure.location = Some((
                        caps[1].to_string(),
                        caps[2].parse().unwrap_or(0),
                        caps[3].parse().unwrap_or(0),
                    ));
                }
            } else if failure.message.is_none() && !line.trim().is_empty() {
                failure.message = Some(line.trim().to_string());
            }
        }
    }
    out.extend(current.map(Failure::diagnostic));
    out
}

impl Plugin for JestPlugin {
    fn id(&self) -> &str {
        "jest"
    }

    fn description(&self) -> &str {
        "Jest and Vitest failing tests and suites (Jest 30, Vitest 3)"
    }

    fn specificity(&self) -> Specificity {
        Specificity::Tool
    }

    fn applies_to(&self, input: &PluginInput<'_>) -> bool {
        let failure = input.failure;
        failure.command_mentions("jest")
            || failure.command_mentions("vitest")
            || input.text.contains("\nTest Suites: ")
            || input.text.contains(" Test Files  ")
    }

    fn analyse(&self, input: &PluginInput<'_>) -> Result<Finding, PluginRunError> {
        let (tool, diagnostics) =
            if input.text.contains(" Test Files  ") || input.failure.command_mentions("vitest") {
                ("vitest", vitest_failures(input.text))
            } else {
                ("jest", jest_failures(input.text))
            };
        if diagnostics.is_empty() {
            return Ok(Finding::none());
        }
        let key = diagnostics
            .iter()
            .map(|d| format!("{} {}", d.code.as_deref().unwrap_or(""), d.message))
            .collect::<Vec<_>>()
            .join("\n");
        let summary = format!(
            "{tool}: {} failure(s); first: {}",
            diagnostics.len(),
            located_message(&diagnostics[0])
        );
        Ok(permanent(summary, key, diagnostics))
    }
}
