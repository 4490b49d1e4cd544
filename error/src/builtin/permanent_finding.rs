//! The common end of the compiler, linter, type-checker and test-runner plugins.
//!
//! Those tools print diagnostics; when some of them are errors, running the same code
//! again fails the same way, so the failure is permanent. The verdict's key lists the
//! errors as `code message` lines: the same errors give the same signature, whatever the
//! summary says about them.

use crate::diagnostic::{Diagnostic, Severity};
use crate::error_class::ErrorClass;
use crate::plugin::{Finding, Verdict};

/// The `code message` line of each of `errors`, joined by newlines; `missing_code`
/// stands in for a diagnostic without a code.
pub(crate) fn error_key<'a>(
    errors: impl IntoIterator<Item = &'a Diagnostic>,
    missing_code: &str,
) -> String {
    errors
        .into_iter()
        .map(|d| {
            format!(
                "{} {}",
                d.code.as_deref().unwrap_or(missing_code),
                d.message
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// A finding with a permanent verdict.
pub(crate) fn permanent(summary: String, key: String, diagnostics: Vec<Diagnostic>) -> Finding {
    Finding {
        verdict: Some(Verdict {
            class: ErrorClass::Permanent,
            summary,
            key,
        }),
        diagnostics,
    }
}

/// The finding of a tool whose error diagnostics decide: without an error, no verdict
/// (the other diagnostics are still reported); with errors, a permanent verdict whose
/// summary `summarize` writes from the errors (never given an empty list) and whose key
/// is their [`error_key`].
pub(crate) fn permanent_if_errors(
    diagnostics: Vec<Diagnostic>,
    summarize: impl FnOnce(&[&Diagnostic]) -> String,
) -> Finding {
    let errors: Vec<&Diagnostic> = diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .collect();
    if errors.is_empty() {
        return Finding {
            verdict: None,
            diagnostics,
        };
    }
    let summary = summarize(&errors);
    let key = error_key(errors, "");
    permanent(summary, key, diagnostics)
}

/// `file:line[:column]: message` (or the message alone without a file): how a summary
/// names its first diagnostic, so that `pipeline errors` and the progress view show where
/// the failure is in one line.
pub(crate) fn located_message(diagnostic: &Diagnostic) -> String {
    match (&diagnostic.file, diagnostic.line, diagnostic.column) {
        (Some(file), Some(line), Some(column)) => {
            format!("{file}:{line}:{column}: {}", diagnostic.message)
        }
        (Some(file), Some(line), None) => format!("{file}:{line}: {}", diagnostic.message),
        (Some(file), None, _) => format!("{file}: {}", diagnostic.message),
        (None, _, _) => diagnostic.message.clone(),
    }
}
