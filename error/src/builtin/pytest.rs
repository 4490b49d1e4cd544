//! Built-in plugin `pytest`: failing and erroring Python tests.
//!
//! Format (captured with pytest 9.2 on Python 3.11, `error/tests/fixtures/pytest/`): the
//! default report's sections `____ test_name ____` (or `____ ERROR collecting path ____`),
//! the location lines inside them (`test_calc.py:5: AssertionError`, the last one is where
//! the exception was raised), `E   ` lines with the exception message, and the "short test
//! summary info" lines `FAILED path::test - message` / `ERROR path - message`. Exit status
//! 5 (no tests collected) is reported as such. Any failure is `permanent`: the code or the
//! test must change.

use regex::Regex;
use std::sync::LazyLock;

use crate::builtin::permanent_finding::permanent;
use crate::diagnostic::{Diagnostic, Severity};
use crate::plugin::{Finding, Plugin, PluginInput, PluginRunError, Specificity};
use pipeline_process::Termination;

static SECTION: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^_{3,} (.+?) _{3,}$").expect("static regex"));
static LOCATION: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(\S+?\.py):(\d+): ?(\w*)").expect("static regex"));
static EXCEPTION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^E\s+(?:(\w+(?:\.\w+)*(?:Error|Exception|Exit|Interrupt|Warning)): )?(.*)$")
        .expect("static regex")
});
static SUMMARY: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(FAILED|ERROR) (\S+)(?: - (.*))?$").expect("static regex"));

/// The `pytest` plugin (see the module doc).
#[derive(Debug, Default)]
pub struct PytestPlugin;

#[derive(Default)]
struct Section {
    title: String,
    location: Option<(String, u32, String)>,
    exception: Option<(Option<String>, String)>,
}

fn sections(text: &str) -> Vec<Section> {
    let mut out: Vec<Section> = Vec::new();
    let mut in_report = false;
    for line in text.lines() {
        let line = line.trim_end();
        if line.starts_with('=') {
            in_report = line.contains(" FAILURES ") || line.contains(" ERRORS ");
            continue;
        }
        if !in_report {
            continue;
        }
        if let Some(caps) = SECTION.captures(line)
            && !caps[1].chars().all(|c| c == '_' || c == ' ')
        {
            out.push(Section {
                title: caps[1].to_string(),
                ..Section::default()
            });
            continue;
        }
        let Some(section) = out.last_mut() else {
            continue;
        };
        if let Some(caps) = LOCATION.captures(line) {
            if let Ok(number) = caps[2].parse() {
                section.location = Some((caps[1].to_string(), number, caps[3].to_string()));
            }
        } else if let Some(caps) = EXCEPTION.captures(line) {
            let message = caps[2].trim().to_string();
            // Keep the first `E` line: it names the exception; later ones are detail.
            if section.exception.is_none() {
                section.exception = Some((caps.get(1).map(|m| m.as_str().to_string()), message));
            }
        }
    }
    out
}

impl Plugin for PytestPlugin {
    fn id(&self) -> &str {
        "pytest"
    }

    fn description(&self) -> &str {
        "pytest failures, errors and collection errors (pytest 9.2 default report)"
    }

    fn specificity(&self) -> Specificity {
        Specificity::Tool
    }

    fn applies_to(&self, input: &PluginInput<'_>) -> bool {
        input.failure.command_mentions("pytest")
            || input.failure.command_mentions("py.test")
            || input.text.contains("short test summary info")
            || input.text.contains("= test session starts =")
    }

    fn analyse(&self, input: &PluginInput<'_>) -> Result<Finding, PluginRunError> {
        let sections = sections(input.text);
        let mut diagnostics = Vec::new();
        let mut keys = Vec::new();
        for line in input.text.lines() {
            let Some(caps) = SUMMARY.captures(line.trim_end()) else {
                continue;
            };
            let (kind, node) = (&caps[1], &caps[2]);
            let file = node.split("::").next().unwrap_or(node);
            let test = node.rsplit("::").next().unwrap_or(node);
            let section = sections.iter().find(|section| {
                section.title == test
                    || section.title.ends_with(&format!(".{test}"))
                    || section.title == format!("ERROR collecting {file}")
            });
            let message = caps
                .get(3)
                .map(|m| m.as_str().to_string())
                .or_else(|| {
                    section
                        .and_then(|s| s.exception.as_ref())
                        .map(|(_, m)| m.clone())
                })
                .unwrap_or_else(|| format!("{} {node}", kind.to_ascii_lowercase()));
            let mut diagnostic = Diagnostic::new(Severity::Error, format!("{node}: {message}"));
            match section.and_then(|s| s.location.as_ref()) {
                Some((path, line, _)) => diagnostic = diagnostic.at(path, Some(*line), None),
                None => diagnostic = diagnostic.at(file, None, None),
            }
            let code = section
                .and_then(|s| s.exception.as_ref().and_then(|(code, _)| code.clone()))
                .or_else(|| {
                    section
                        .and_then(|s| s.location.as_ref())
                        .map(|(_, _, c)| c.clone())
                })
                .filter(|code| !code.is_empty())
                .unwrap_or_else(|| {
                    if kind == "ERROR" {
                        "error".into()
                    } else {
                        "failed".into()
                    }
                });
            diagnostics.push(diagnostic.with_code(code));
            keys.push(format!("{kind} {node} - {message}"));
        }
        // Without a summary (e.g. `-rN`), fall back on the sections.
        if diagnostics.is_empty() {
            for section in &sections {
                let message = section
                    .exception
                    .as_ref()
                    .map_or_else(|| "failed".to_string(), |(_, m)| m.clone());
                let mut diagnostic =
                    Diagnostic::new(Severity::Error, format!("{}: {message}", section.title));
                if let Some((path, line, code)) = &section.location {
                    diagnostic = diagnostic.at(path, Some(*line), None);
                    if !code.is_empty() {
                        diagnostic = diagnostic.with_code(code);
                    }
                }
                diagnostics.push(diagnostic);
                keys.push(format!("{} - {message}", section.title));
            }
        }
        if diagnostics.is_empty() {
            if input.failure.termination == Termination::Exited(5) {
                return Ok(permanent(
                    "pytest collected no tests (exit 5); check the test paths".into(),
                    "pytest no tests collected".into(),
                    diagnostics,
                ));
            }
            return Ok(Finding::none());
        }
        let summary = format!(
            "{} pytest failure(s); first: {}",
            diagnostics.len(),
            diagnostics[0].message
        );
        Ok(permanent(summary, keys.join("\n"), diagnostics))
    }
}
