//! Built-in plugin `eslint`: JavaScript/TypeScript lint findings from `eslint -f json`.
//!
//! Format (captured with ESLint 10.15, `error/tests/fixtures/eslint/json.txt`): a JSON
//! array with one object per file: `filePath`, `messages[]` with `ruleId` (`null` for
//! parse errors, which also carry `fatal: true`), `severity` (1 = warning, 2 = error),
//! `message`, `line`, `column`. Any error makes the failure `permanent`.

use serde_json::Value;

use crate::builtin::json_values;
use crate::builtin::permanent_finding::permanent_if_errors;
use crate::diagnostic::{Diagnostic, Severity};
use crate::plugin::{Finding, Plugin, PluginInput, PluginRunError, Specificity};

/// The `eslint` plugin (see the module doc).
#[derive(Debug, Default)]
pub struct EslintPlugin;

fn file_diagnostics(file: &Value) -> Vec<Diagnostic> {
    let Some(path) = file.get("filePath").and_then(Value::as_str) else {
        return Vec::new();
    };
    let Some(messages) = file.get("messages").and_then(Value::as_array) else {
        return Vec::new();
    };
    messages
        .iter()
        .filter_map(|message| {
            let text = message.get("message")?.as_str()?;
            let number = |key: &str| {
                message
                    .get(key)
                    .and_then(Value::as_u64)
                    .and_then(|n| u32::try_from(n).ok())
            };
            let fatal = message.get("fatal").and_then(Value::as_bool) == Some(true);
            let severity = if fatal || message.get("severity").and_then(Value::as_u64) == Some(2) {
                Severity::Error
            } else {
                Severity::Warning
            };
            let code = message
                .get("ruleId")
                .and_then(Value::as_str)
                .unwrap_or(if fatal { "parse-error" } else { "eslint" });
            Some(
                Diagnostic::new(severity, text)
                    .at(path, number("line"), number("column"))
                    .with_code(code),
            )
        })
        .collect()
}

impl Plugin for EslintPlugin {
    fn id(&self) -> &str {
        "eslint"
    }

    fn description(&self) -> &str {
        "eslint -f json (ESLint 10)"
    }

    fn specificity(&self) -> Specificity {
        Specificity::Tool
    }

    fn applies_to(&self, input: &PluginInput<'_>) -> bool {
        input.failure.command_mentions("eslint")
            || (input.text.contains("\"filePath\"") && input.text.contains("\"messages\""))
    }

    fn analyse(&self, input: &PluginInput<'_>) -> Result<Finding, PluginRunError> {
        let diagnostics: Vec<Diagnostic> = json_values(input.text)
            .iter()
            .filter_map(Value::as_array)
            .flatten()
            .flat_map(file_diagnostics)
            .collect();
        Ok(permanent_if_errors(diagnostics, |errors| {
            format!(
                "ESLint found {} error(s); first: {}",
                errors.len(),
                errors[0]
            )
        }))
    }
}
