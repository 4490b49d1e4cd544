//! Built-in plugin `mypy`: Python type errors.
//!
//! Format (captured with mypy 2.4.1, `error/tests/fixtures/mypy/`): one line per message,
//! `path:line: severity: message  [code]`, or `path:line:column: ...` with
//! `--show-column-numbers`; severities `error`, `warning`, `note`; the closing line
//! `Found N errors in M file (checked K source files)` is not a diagnostic. Any error makes
//! the failure `permanent`.

use regex::Regex;
use std::sync::LazyLock;

use crate::builtin::permanent_finding::permanent_if_errors;
use crate::diagnostic::{Diagnostic, Severity};
use crate::plugin::{Finding, Plugin, PluginInput, PluginRunError, Specificity};

static LINE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(.+?\.pyi?):(\d+)(?::(\d+))?: (error|warning|note): (.*?)(?:  \[([\w-]+)\])?$")
        .expect("static regex")
});

/// The `mypy` plugin (see the module doc).
#[derive(Debug, Default)]
pub struct MypyPlugin;

impl Plugin for MypyPlugin {
    fn id(&self) -> &str {
        "mypy"
    }

    fn description(&self) -> &str {
        "mypy type errors, with or without column numbers (mypy 2.4)"
    }

    fn specificity(&self) -> Specificity {
        Specificity::Tool
    }

    fn applies_to(&self, input: &PluginInput<'_>) -> bool {
        input.failure.command_mentions("mypy")
            || input.failure.command_mentions("dmypy")
            || input.text.contains(" source file)")
    }

    fn analyse(&self, input: &PluginInput<'_>) -> Result<Finding, PluginRunError> {
        let mut diagnostics = Vec::new();
        for line in input.text.lines() {
            let Some(caps) = LINE.captures(line.trim_end()) else {
                continue;
            };
            let severity = Severity::from_name(&caps[4]).unwrap_or(Severity::Error);
            let mut diagnostic = Diagnostic::new(severity, &caps[5]).at(
                &caps[1],
                caps[2].parse().ok(),
                caps.get(3).and_then(|m| m.as_str().parse().ok()),
            );
            if let Some(code) = caps.get(6) {
                diagnostic = diagnostic.with_code(code.as_str());
            }
            diagnostics.push(diagnostic);
        }
        Ok(permanent_if_errors(diagnostics, |errors| {
            format!(
                "mypy found {} type error(s); first: {}",
                errors.len(),
                errors[0]
            )
        }))
    }
}
