//! Validation findings and reports, shaped like the OpenSpec CLI's.
//!
//! An issue has a level (ERROR / WARNING / INFO), a path (`file`, `overview`,
//! `requirements[0]`, `auth/spec.md`, `.openspec.yaml`, ...), an optional 1-based line
//! and a message. A report is valid when it has no ERROR, and in strict mode no
//! WARNING either (`Validator.createReport`).

use serde::Serialize;

/// Severity of a finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Level {
    /// Makes the item invalid.
    #[serde(rename = "ERROR")]
    Error,
    /// Makes the item invalid only with `--strict`.
    #[serde(rename = "WARNING")]
    Warning,
    /// Never affects validity.
    #[serde(rename = "INFO")]
    Info,
}

impl Level {
    /// `ERROR`, `WARNING` or `INFO`.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Error => "ERROR",
            Level::Warning => "WARNING",
            Level::Info => "INFO",
        }
    }
}

/// One finding. Serialises as `{level, path, line?, message}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Issue {
    /// Severity.
    pub level: Level,
    /// Where: a file path relative to the item, or a field path.
    pub path: String,
    /// 1-based line, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    /// What is wrong and what to do.
    pub message: String,
}

impl Issue {
    /// An issue without a line.
    pub fn new(level: Level, path: impl Into<String>, message: impl Into<String>) -> Self {
        Issue {
            level,
            path: path.into(),
            line: None,
            message: message.into(),
        }
    }

    /// An issue with a line.
    pub fn at(
        level: Level,
        path: impl Into<String>,
        line: Option<usize>,
        message: impl Into<String>,
    ) -> Self {
        Issue {
            level,
            path: path.into(),
            line,
            message: message.into(),
        }
    }
}

/// Counts per level.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct IssueCounts {
    /// ERROR count.
    pub errors: usize,
    /// WARNING count.
    pub warnings: usize,
    /// INFO count.
    pub info: usize,
}

/// The result of validating one spec or change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// No ERROR (and, in strict mode, no WARNING).
    pub valid: bool,
    /// Findings in the order the CLI reports them.
    pub issues: Vec<Issue>,
    /// Counts per level.
    pub summary: IssueCounts,
}

impl Report {
    /// Builds a report, applying the validity rule for `strict`.
    pub fn new(issues: Vec<Issue>, strict: bool) -> Self {
        let count = |level| issues.iter().filter(|i| i.level == level).count();
        let summary = IssueCounts {
            errors: count(Level::Error),
            warnings: count(Level::Warning),
            info: count(Level::Info),
        };
        let valid = summary.errors == 0 && (!strict || summary.warnings == 0);
        Report {
            valid,
            issues,
            summary,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_mode_turns_warnings_into_failures() {
        let issues = vec![Issue::new(Level::Warning, "overview", "brief")];
        assert!(Report::new(issues.clone(), false).valid);
        assert!(!Report::new(issues, true).valid);
    }

    #[test]
    fn serialises_line_only_when_known() {
        let json =
            serde_json::to_string(&Issue::at(Level::Info, "a", Some(3), "m")).unwrap_or_default();
        assert_eq!(
            json,
            r#"{"level":"INFO","path":"a","line":3,"message":"m"}"#
        );
        let json = serde_json::to_string(&Issue::new(Level::Error, "a", "m")).unwrap_or_default();
        assert_eq!(json, r#"{"level":"ERROR","path":"a","message":"m"}"#);
    }
}
