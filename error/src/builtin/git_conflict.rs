//! Built-in plugin `git-conflict`: merge conflicts -> `conflict`.
//!
//! Rules from git 2.47's merge output (captured: `git/merge-conflict.txt`): each
//! `CONFLICT (<kind>): Merge conflict in <path>` line becomes an error diagnostic on that
//! path (code = the conflict kind), other `CONFLICT (<kind>): ...` lines become diagnostics
//! without a path; "Automatic merge failed" and "would be overwritten by merge" also make
//! the failure a conflict.

use regex::Regex;
use std::sync::LazyLock;

use crate::diagnostic::{Diagnostic, Severity};
use crate::error_class::ErrorClass;
use crate::plugin::{Finding, Plugin, PluginInput, PluginRunError, Specificity, Verdict};

static CONFLICT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^CONFLICT \(([^)]+)\): (?:Merge conflict in (.+)|(.+))$").expect("static regex")
});
static MERGE_FAILED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"Automatic merge failed|would be overwritten by merge|Merge conflict in")
        .expect("static regex")
});

/// The `git-conflict` plugin (see the module doc).
#[derive(Debug, Default)]
pub struct GitConflictPlugin;

impl Plugin for GitConflictPlugin {
    fn id(&self) -> &str {
        "git-conflict"
    }

    fn description(&self) -> &str {
        "git merge conflicts (CONFLICT lines, 'Automatic merge failed')"
    }

    fn specificity(&self) -> Specificity {
        Specificity::Tool
    }

    fn applies_to(&self, input: &PluginInput<'_>) -> bool {
        input.text.contains("CONFLICT (") || MERGE_FAILED.is_match(input.text)
    }

    fn analyse(&self, input: &PluginInput<'_>) -> Result<Finding, PluginRunError> {
        let mut diagnostics = Vec::new();
        for line in input.text.lines() {
            if let Some(caps) = CONFLICT.captures(line.trim_end()) {
                let kind = caps[1].to_string();
                let diagnostic = match caps.get(2) {
                    Some(path) => Diagnostic::new(
                        Severity::Error,
                        format!("merge conflict in {}", path.as_str()),
                    )
                    .at(path.as_str(), None, None),
                    None => Diagnostic::new(
                        Severity::Error,
                        caps.get(3).map_or("", |m| m.as_str()).to_string(),
                    ),
                };
                diagnostics.push(diagnostic.with_code(kind));
            }
        }
        if diagnostics.is_empty() && !MERGE_FAILED.is_match(input.text) {
            return Ok(Finding::none());
        }
        let files: Vec<&str> = diagnostics
            .iter()
            .filter_map(|d| d.file.as_deref())
            .collect();
        let summary = if files.is_empty() {
            "merge conflict".to_string()
        } else {
            format!("merge conflict in {}", files.join(", "))
        };
        let key = diagnostics
            .iter()
            .map(|d| d.message.clone())
            .collect::<Vec<_>>()
            .join("\n");
        Ok(Finding {
            verdict: Some(Verdict {
                class: ErrorClass::Conflict,
                summary,
                key: if key.is_empty() {
                    "merge conflict".to_string()
                } else {
                    key
                },
            }),
            diagnostics,
        })
    }
}
