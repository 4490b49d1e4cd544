//! Built-in plugin `unittest`: failing and erroring tests of Python's `unittest` runner
//! (`python -m unittest`, `unittest.main()`).
//!
//! Format (captured with Python 3.11 `python -m unittest [-v]`,
//! `error/tests/fixtures/unittest/`): one section per problem,
//!
//! ```text
//! ======================================================================
//! FAIL: test_add (test_calc.CalcTest.test_add)
//! ----------------------------------------------------------------------
//! Traceback (most recent call last):
//!   File "/path/test_calc.py", line 8, in test_add
//!     self.assertEqual(add(2, 2), 4)
//! AssertionError: 0 != 4
//! ```
//!
//! (`ERROR:` for an exception other than a failed assertion; Python 3.10 and older print
//! `(test_calc.CalcTest)` without the method), then `Ran N tests in Xs` and `FAILED
//! (failures=1, errors=1)`. A test module that cannot be imported is an `ERROR:` section
//! for `unittest.loader._FailedTest`. Python 3.12 prints `NO TESTS RAN` (exit 5) when
//! nothing was collected. A diagnostic per section: the test id (`test_calc.CalcTest.test_add`),
//! the frame where the exception was raised, skipping frames of the standard library and
//! of installed packages (`/lib/python`, `site-packages`), the exception type as its code
//! and its first message line. Any of them makes the failure `permanent`.

use regex::Regex;
use std::sync::LazyLock;

use crate::builtin::permanent_finding::{located_message, permanent};
use crate::diagnostic::{Diagnostic, Severity};
use crate::plugin::{Finding, Plugin, PluginInput, PluginRunError, Specificity};

static HEADER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(FAIL|ERROR|UNEXPECTED SUCCESS): (\S+) \(([\w.]+)\)").expect("static regex")
});
static FRAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"^\s+File "([^"]+)", line (\d+), in (\S+)"#).expect("static regex")
});
static EXCEPTION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^([A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt|Warning|Failure|Fault)|[A-Z]\w*Error)(?:: (.*))?$")
        .expect("static regex")
});
static RAN: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?m)^Ran \d+ tests? in [\d.]+s$").expect("static regex"));

/// The `unittest` plugin (see the module doc).
#[derive(Debug, Default)]
pub struct UnittestPlugin;

/// One `FAIL:`/`ERROR:` section.
struct Section {
    kind: String,
    test: String,
    frames: Vec<(String, u32)>,
    exception: Option<(String, String)>,
}

fn is_library(path: &str) -> bool {
    path.contains("/lib/python") || path.contains("site-packages") || path.starts_with('<')
}

fn sections(text: &str) -> Vec<Section> {
    let mut out: Vec<Section> = Vec::new();
    let mut open = false;
    for line in text.lines() {
        let line = line.trim_end();
        if line.len() >= 20 && line.chars().all(|c| c == '=') {
            open = false;
            continue;
        }
        if let Some(caps) = HEADER.captures(line) {
            let class_path = &caps[3];
            let method = &caps[2];
            // 3.11: `(module.Class.test)`; 3.10 and older: `(module.Class)`.
            let test = if class_path.ends_with(&format!(".{method}")) {
                class_path.to_string()
            } else {
                format!("{class_path}.{method}")
            };
            out.push(Section {
                kind: caps[1].to_string(),
                test,
                frames: Vec::new(),
                exception: None,
            });
            open = true;
            continue;
        }
        if !open {
            continue;
        }
        let Some(section) = out.last_mut() else {
            continue;
        };
        if line.starts_with("Ran ") && RAN.is_match(line) {
            open = false;
        } else if let Some(caps) = FRAME.captures(line) {
            if let Ok(number) = caps[2].parse() {
                section.frames.push((caps[1].to_string(), number));
            }
        } else if let Some(caps) = EXCEPTION.captures(line) {
            // The last exception line of the section is the one raised (an import failure
            // prints `ImportError: Failed to import test module` before the real cause).
            section.exception = Some((
                caps[1].to_string(),
                caps.get(2).map_or("", |m| m.as_str()).trim().to_string(),
            ));
        }
    }
    out
}

impl Section {
    /// The frame of the project's code nearest to where the exception was raised.
    fn location(&self) -> Option<&(String, u32)> {
        self.frames
            .iter()
            .rev()
            .find(|(path, _)| !is_library(path))
            .or_else(|| self.frames.last())
    }

    fn diagnostic(&self) -> Diagnostic {
        let (code, message) = match &self.exception {
            Some((code, message)) if message.is_empty() => (code.clone(), code.clone()),
            Some((code, message)) => (code.clone(), format!("{code}: {message}")),
            None => (
                self.kind.to_ascii_lowercase(),
                self.kind.to_ascii_lowercase(),
            ),
        };
        let test = self
            .test
            .strip_prefix("unittest.loader._FailedTest.")
            .map_or_else(|| self.test.clone(), |module| format!("import {module}"));
        let mut diagnostic = Diagnostic::new(Severity::Error, format!("{test}: {message}"));
        if let Some((path, line)) = self.location() {
            diagnostic = diagnostic.at(path, Some(*line), None);
        }
        diagnostic.with_code(code)
    }
}

impl Plugin for UnittestPlugin {
    fn id(&self) -> &str {
        "unittest"
    }

    fn description(&self) -> &str {
        "python -m unittest failures and errors (Python 3.11 text runner)"
    }

    fn specificity(&self) -> Specificity {
        Specificity::Tool
    }

    fn applies_to(&self, input: &PluginInput<'_>) -> bool {
        input.failure.command_mentions("unittest") || RAN.is_match(input.text)
    }

    fn analyse(&self, input: &PluginInput<'_>) -> Result<Finding, PluginRunError> {
        let sections = sections(input.text);
        let diagnostics: Vec<Diagnostic> = sections.iter().map(Section::diagnostic).collect();
        if diagnostics.is_empty() {
            if input.text.lines().any(|line| line.trim() == "NO TESTS RAN") {
                return Ok(permanent(
                    "unittest ran no tests (NO TESTS RAN); check the test discovery pattern and start directory".into(),
                    "unittest no tests ran".into(),
                    diagnostics,
                ));
            }
            return Ok(Finding::none());
        }
        let key = sections
            .iter()
            .zip(&diagnostics)
            .map(|(section, diagnostic)| format!("{} {}", section.kind, diagnostic.message))
            .collect::<Vec<_>>()
            .join("\n");
        let summary = format!(
            "{} unittest failure(s); first: {}",
            diagnostics.len(),
            located_message(&diagnostics[0])
        );
        Ok(permanent(summary, key, diagnostics))
    }
}
