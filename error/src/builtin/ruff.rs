//! Built-in plugin `ruff`: Python lint findings from `ruff check --output-format=json`.
//!
//! Format (captured with ruff 0.17.5, `error/tests/fixtures/ruff/check-json.txt`): a JSON
//! array of objects with `code` (`F401`; `null` for syntax errors), `message`, `filename`,
//! `location.row` / `location.column` (1-based) and, in recent versions, `severity`.
//! Any finding makes the failure `permanent` (ruff exits 1 only when it reports violations).

use serde_json::Value;

use crate::builtin::json_values;
use crate::builtin::permanent_finding::{error_key, permanent};
use crate::diagnostic::{Diagnostic, Severity};
use crate::plugin::{Finding, Plugin, PluginInput, PluginRunError, Specificity};

/// The `ruff` plugin (see the module doc).
#[derive(Debug, Default)]
pub struct RuffPlugin;

fn diagnostic(item: &Value) -> Option<Diagnostic> {
    let message = item.get("message")?.as_str()?;
    let file = item.get("filename")?.as_str()?;
    let location = item.get("location")?;
    let number = |key: &str| {
        location
            .get(key)
            .and_then(Value::as_u64)
            .and_then(|n| u32::try_from(n).ok())
    };
    let severity = item
        .get("severity")
        .and_then(Value::as_str)
        .and_then(Severity::from_name)
        .unwrap_or(Severity::Error);
    let mut diagnostic =
        Diagnostic::new(severity, message).at(file, number("row"), number("column"));
    if let Some(code) = item.get("code").and_then(Value::as_str) {
        diagnostic = diagnostic.with_code(code);
    }
    Some(diagnostic)
}

impl Plugin for RuffPlugin {
    fn id(&self) -> &str {
        "ruff"
    }

    fn description(&self) -> &str {
        "ruff check --output-format=json (ruff 0.17)"
    }

    fn specificity(&self) -> Specificity {
        Specificity::Tool
    }

    fn applies_to(&self, input: &PluginInput<'_>) -> bool {
        input.failure.command_mentions("ruff")
            || (input.text.contains("\"noqa_row\"") && input.text.contains("\"filename\""))
    }

    fn analyse(&self, input: &PluginInput<'_>) -> Result<Finding, PluginRunError> {
        let diagnostics: Vec<Diagnostic> = json_values(input.text)
            .iter()
            .filter_map(Value::as_array)
            .flatten()
            .filter_map(diagnostic)
            .collect();
        if diagnostics.is_empty() {
            return Ok(Finding::none());
        }
        // Every ruff violation fails the check, whatever its severity; a syntax error
        // has no rule code.
        let summary = format!(
            "ruff found {} problem(s); first: {}",
            diagnostics.len(),
            diagnostics[0]
        );
        let key = error_key(&diagnostics, "syntax");
        Ok(permanent(summary, key, diagnostics))
    }
}
