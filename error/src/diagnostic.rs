//! A structured diagnostic: one compiler error, lint finding or failing test, with where it
//! is and what it says.
//!
//! Plugins turn tool output into diagnostics; the executor stores them with the error report
//! and the fix loop feeds them back to the AI tool as the prompt.

use serde::{Deserialize, Serialize};
use std::fmt;

/// How serious a diagnostic is. Serialised lowercase (`"error"`, `"warning"`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Makes the step fail (a compile error, a failing test).
    Error,
    /// Reported but does not fail the step by itself.
    Warning,
    /// Extra context attached to another diagnostic.
    Note,
    /// A suggestion.
    Help,
    /// Informational output a plugin chose to keep.
    Info,
}

impl Severity {
    /// Parses the names used by manifests and tools: `error`, `warning`/`warn`, `note`,
    /// `help`, `info`/`information`, case-insensitive. `None` for anything else.
    pub fn from_name(name: &str) -> Option<Severity> {
        Some(match name.to_ascii_lowercase().as_str() {
            "error" | "err" | "fatal" => Severity::Error,
            "warning" | "warn" => Severity::Warning,
            "note" => Severity::Note,
            "help" => Severity::Help,
            "info" | "information" => Severity::Info,
            _ => return None,
        })
    }

    /// The lowercase name.
    pub fn name(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Note => "note",
            Severity::Help => "help",
            Severity::Info => "info",
        }
    }
}

/// One finding from a tool's output.
///
/// `line` and `column` are 1-based as the tools print them; `file` is the path as the tool
/// printed it (relative to the tool's working directory, usually the step's worktree).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Diagnostic {
    /// File the diagnostic points at, when the tool said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// 1-based line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    /// 1-based column.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<u32>,
    /// The tool's code for the rule or error (`E0308`, `F401`, `TS2322`, `arg-type`,
    /// a failing test's exception type).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// How serious it is.
    pub severity: Severity,
    /// The message, one or more lines.
    pub message: String,
}

impl Diagnostic {
    /// A diagnostic with only a severity and a message.
    pub fn new(severity: Severity, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            file: None,
            line: None,
            column: None,
            code: None,
            severity,
            message: message.into(),
        }
    }

    /// Sets the location (file, 1-based line and column).
    pub fn at(mut self, file: impl Into<String>, line: Option<u32>, column: Option<u32>) -> Self {
        self.file = Some(file.into());
        self.line = line;
        self.column = column;
        self
    }

    /// Sets the code.
    pub fn with_code(mut self, code: impl Into<String>) -> Self {
        self.code = Some(code.into());
        self
    }
}

/// `file:line:column: severity[code]: message`, the shape compilers print.
impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(file) = &self.file {
            f.write_str(file)?;
            if let Some(line) = self.line {
                write!(f, ":{line}")?;
                if let Some(column) = self.column {
                    write!(f, ":{column}")?;
                }
            }
            f.write_str(": ")?;
        }
        f.write_str(self.severity.name())?;
        if let Some(code) = &self.code {
            write!(f, "[{code}]")?;
        }
        write!(f, ": {}", self.message)
    }
}
