//! Built-in plugin `go-test`: failing Go tests and Go build errors.
//!
//! Format (captured with go 1.19.8 `go test ./...`, `error/tests/fixtures/go/`):
//! - `--- FAIL: TestAdd (0.00s)` then indented `    calc_test.go:7: message` lines from
//!   `t.Errorf` / `t.Fatalf`;
//! - a panic: `panic: assignment to entry in nil map [recovered]` (attached to the last
//!   failing test);
//! - build errors: `./broken.go:4:17: message` and `FAIL <package> [build failed]`
//!   (or `[setup failed]`).
//!
//! Any of these makes the failure `permanent`. `go build`, `go vet`, `go run` and `go
//! install` are left to `go-build`.

use regex::Regex;
use std::sync::LazyLock;

use crate::builtin::permanent_finding::permanent;
use crate::diagnostic::{Diagnostic, Severity};
use crate::plugin::{Finding, Plugin, PluginInput, PluginRunError, Specificity};

static FAIL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\s*--- FAIL: (\S+) \([\d.]+s\)$").expect("static regex"));
static TEST_LOG: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\s+(\S+\.go):(\d+): (.*)$").expect("static regex"));
static BUILD_ERROR: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(\S+\.go):(\d+):(\d+): (.*)$").expect("static regex"));
static PANIC: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^panic: (.*?)(?: \[recovered\])?$").expect("static regex"));
static PACKAGE_FAILED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^FAIL\s+(\S+)\s+(?:\[(build|setup) failed\]|[\d.]+s)$").expect("static regex")
});

/// The `go-test` plugin (see the module doc).
#[derive(Debug, Default)]
pub struct GoTestPlugin;

impl Plugin for GoTestPlugin {
    fn id(&self) -> &str {
        "go-test"
    }

    fn description(&self) -> &str {
        "go test failures, panics and build errors (go 1.19)"
    }

    fn specificity(&self) -> Specificity {
        Specificity::Tool
    }

    fn applies_to(&self, input: &PluginInput<'_>) -> bool {
        (input.failure.command_mentions("go")
            && !crate::builtin::go_build::is_go_build_command(&input.failure.command))
            || input.text.contains("--- FAIL: ")
            || input.text.contains("[build failed]")
    }

    fn analyse(&self, input: &PluginInput<'_>) -> Result<Finding, PluginRunError> {
        let mut diagnostics: Vec<Diagnostic> = Vec::new();
        let mut keys = Vec::new();
        let mut current_test: Option<String> = None;
        let mut test_has_message = false;
        let mut failed_packages = Vec::new();
        for line in input.text.lines() {
            let line = line.trim_end();
            if let Some(caps) = FAIL.captures(line) {
                if let (Some(test), false) = (&current_test, test_has_message) {
                    diagnostics.push(
                        Diagnostic::new(Severity::Error, format!("{test} failed"))
                            .with_code(test.clone()),
                    );
                }
                current_test = Some(caps[1].to_string());
                test_has_message = false;
                keys.push(format!("FAIL {}", &caps[1]));
            } else if let (Some(test), Some(caps)) = (&current_test, TEST_LOG.captures(line)) {
                diagnostics.push(
                    Diagnostic::new(Severity::Error, format!("{test}: {}", &caps[3]))
                        .at(&caps[1], caps[2].parse().ok(), None)
                        .with_code(test.clone()),
                );
                test_has_message = true;
            } else if let Some(caps) = PANIC.captures(line) {
                let test = current_test.clone().unwrap_or_else(|| "panic".to_string());
                if !diagnostics
                    .iter()
                    .any(|d| d.message.ends_with(&format!("panic: {}", &caps[1])))
                {
                    diagnostics.push(
                        Diagnostic::new(Severity::Error, format!("{test}: panic: {}", &caps[1]))
                            .with_code(test.clone()),
                    );
                    keys.push(format!("panic: {}", &caps[1]));
                }
                test_has_message = true;
            } else if let Some(caps) = BUILD_ERROR.captures(line) {
                let file = caps[1].trim_start_matches("./");
                diagnostics.push(
                    Diagnostic::new(Severity::Error, &caps[4])
                        .at(file, caps[2].parse().ok(), caps[3].parse().ok())
                        .with_code("build"),
                );
                keys.push(caps[4].to_string());
            } else if let Some(caps) = PACKAGE_FAILED.captures(line) {
                failed_packages.push(caps[1].to_string());
                current_test = None;
            }
        }
        if let (Some(test), false) = (&current_test, test_has_message) {
            diagnostics.push(
                Diagnostic::new(Severity::Error, format!("{test} failed")).with_code(test.clone()),
            );
        }
        if diagnostics.is_empty() && failed_packages.is_empty() {
            return Ok(Finding::none());
        }
        let summary = match diagnostics.first() {
            Some(first) => format!("go test: {} problem(s); first: {first}", diagnostics.len()),
            None => format!("go test failed in {}", failed_packages.join(", ")),
        };
        if keys.is_empty() {
            keys = failed_packages
                .iter()
                .map(|p| format!("FAIL {p}"))
                .collect();
        }
        Ok(permanent(summary, keys.join("\n"), diagnostics))
    }
}
