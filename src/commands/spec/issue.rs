//! One OpenSpec validation issue as a line of text, as the OpenSpec CLI prints it:
//! `✗ [ERROR] specs/notes/spec.md:12: message`. Shared by `validate` (its report) and
//! `archive` (the issues that refused an archive).

use pipeline_core::openspec::{Issue, Level};

/// The CLI's symbol for an issue level.
fn symbol(level: Level) -> &'static str {
    match level {
        Level::Error => "✗",
        Level::Warning => "⚠",
        Level::Info => "ℹ",
    }
}

/// `issue` as one line (no newline) after `indent`: symbol, level, path, line when known,
/// message.
pub fn issue_line(indent: &str, issue: &Issue) -> String {
    let line = issue.line.map(|l| format!(":{l}")).unwrap_or_default();
    format!(
        "{indent}{} [{}] {}{line}: {}",
        symbol(issue.level),
        issue.level.as_str(),
        issue.path,
        issue.message
    )
}
