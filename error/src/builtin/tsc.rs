//! Built-in plugin `tsc`: TypeScript compiler errors.
//!
//! Formats (captured with TypeScript `tsc` 7.0.2, `error/tests/fixtures/tsc/`):
//! - `--pretty false` (the default when not on a terminal):
//!   `src/index.ts(1,7): error TS2322: Type 'string' is not assignable to type 'number'.`
//! - `--pretty true` (ANSI colours, removed before matching):
//!   `src/index.ts:1:7 - error TS2322: Type ...` followed by a code excerpt;
//! - global errors without a file: `error TS5058: The specified path does not exist: ...`.
//!
//! Any error makes the failure `permanent`.

use regex::Regex;
use std::sync::LazyLock;

use crate::builtin::permanent_finding::permanent_if_errors;
use crate::diagnostic::{Diagnostic, Severity};
use crate::plugin::{Finding, Plugin, PluginInput, PluginRunError, Specificity};

static PLAIN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(.+?)\((\d+),(\d+)\): (error|warning|message) (TS\d+): (.*)$")
        .expect("static regex")
});
static PRETTY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(.+?):(\d+):(\d+) - (error|warning|message) (TS\d+): (.*)$")
        .expect("static regex")
});
static GLOBAL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(error|warning) (TS\d+): (.*)$").expect("static regex"));

/// The `tsc` plugin (see the module doc).
#[derive(Debug, Default)]
pub struct TscPlugin;

fn severity(name: &str) -> Severity {
    match name {
        "error" => Severity::Error,
        "warning" => Severity::Warning,
        _ => Severity::Info,
    }
}

impl Plugin for TscPlugin {
    fn id(&self) -> &str {
        "tsc"
    }

    fn description(&self) -> &str {
        "TypeScript tsc errors, plain and --pretty (tsc 7.0)"
    }

    fn specificity(&self) -> Specificity {
        Specificity::Tool
    }

    fn applies_to(&self, input: &PluginInput<'_>) -> bool {
        input.failure.command_mentions("tsc")
            || input.failure.command_mentions("vue-tsc")
            || input.text.contains(" TS")
    }

    fn analyse(&self, input: &PluginInput<'_>) -> Result<Finding, PluginRunError> {
        let mut diagnostics = Vec::new();
        for line in input.text.lines() {
            let line = line.trim_end();
            if let Some(caps) = PLAIN.captures(line).or_else(|| PRETTY.captures(line)) {
                diagnostics.push(
                    Diagnostic::new(severity(&caps[4]), &caps[6])
                        .at(&caps[1], caps[2].parse().ok(), caps[3].parse().ok())
                        .with_code(&caps[5]),
                );
            } else if let Some(caps) = GLOBAL.captures(line) {
                diagnostics.push(Diagnostic::new(severity(&caps[1]), &caps[3]).with_code(&caps[2]));
            }
        }
        Ok(permanent_if_errors(diagnostics, |errors| {
            format!("tsc found {} error(s); first: {}", errors.len(), errors[0])
        }))
    }
}
