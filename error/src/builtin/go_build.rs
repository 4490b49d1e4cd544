//! Built-in plugin `go-build`: compile errors of `go build` / `go run` / `go install` and
//! findings of `go vet`.
//!
//! Format (captured with go 1.19.8, `error/tests/fixtures/go/`): a `# <package>` line, then
//! one `./main.go:6:18: message` line per error (`go vet` prints its findings the same way,
//! sometimes prefixed with `vet: `); a missing dependency is `main.go:6:2: no required module
//! provides package github.com/x/y; to add it:` followed by an indented `go get` hint. Any
//! error is `permanent`. `go test` output (`--- FAIL:`, `[build failed]`) is left to
//! `go-test`.

use regex::Regex;
use std::sync::LazyLock;

use crate::builtin::permanent_finding::{located_message, permanent_if_errors};
use crate::diagnostic::{Diagnostic, Severity};
use crate::plugin::{Finding, Plugin, PluginInput, PluginRunError, Specificity};

static ERROR_LINE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?:vet: )?(\S+\.go):(\d+)(?::(\d+))?: (.+)$").expect("static regex")
});
static PACKAGE_HEADER: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^# \S+").expect("static regex"));

/// The go sub-commands whose output this plugin reads.
const COMMANDS: [&str; 4] = ["build", "vet", "run", "install"];

/// True when the command line runs `go build`, `go vet`, `go run` or `go install`.
pub(crate) fn is_go_build_command(command: &str) -> bool {
    let words: Vec<&str> = command.split_whitespace().collect();
    words
        .windows(2)
        .any(|pair| (pair[0] == "go" || pair[0].ends_with("/go")) && COMMANDS.contains(&pair[1]))
}

/// The `go-build` plugin (see the module doc).
#[derive(Debug, Default)]
pub struct GoBuildPlugin;

impl Plugin for GoBuildPlugin {
    fn id(&self) -> &str {
        "go-build"
    }

    fn description(&self) -> &str {
        "go build / go vet / go run errors with file, line and column (go 1.19)"
    }

    fn specificity(&self) -> Specificity {
        Specificity::Tool
    }

    fn applies_to(&self, input: &PluginInput<'_>) -> bool {
        is_go_build_command(&input.failure.command)
            || input.text.lines().any(|line| PACKAGE_HEADER.is_match(line))
                && !input.text.contains("[build failed]")
                && input.text.lines().any(|line| ERROR_LINE.is_match(line))
    }

    fn analyse(&self, input: &PluginInput<'_>) -> Result<Finding, PluginRunError> {
        let vet = input.failure.command_mentions("vet");
        let mut diagnostics = Vec::new();
        for line in input.text.lines() {
            let Some(caps) = ERROR_LINE.captures(line.trim_end()) else {
                continue;
            };
            let message = caps[4].trim_end_matches("; to add it:").to_string();
            let code = if message.starts_with("no required module provides package")
                || message.starts_with("cannot find package")
                || message.contains("is not in GOROOT")
            {
                "missing-package"
            } else if vet || line.starts_with("vet: ") {
                "vet"
            } else {
                "compile"
            };
            let file = caps[1].trim_start_matches("./");
            let diagnostic = Diagnostic::new(Severity::Error, message)
                .at(
                    file,
                    caps[2].parse().ok(),
                    caps.get(3).and_then(|c| c.as_str().parse().ok()),
                )
                .with_code(code);
            if !diagnostics.contains(&diagnostic) {
                diagnostics.push(diagnostic);
            }
        }
        let tool = if vet { "go vet" } else { "go build" };
        Ok(permanent_if_errors(diagnostics, |errors| {
            format!(
                "{tool}: {} error(s); first: {}",
                errors.len(),
                located_message(errors[0])
            )
        }))
    }
}
