//! Built-in plugin `sandbox`: a write the step's sandbox denied -> `permanent`.
//!
//! Applies only to attempts that ran under the write sandbox
//! ([`AttemptFailure::sandboxed`](crate::AttemptFailure::sandboxed)). Landlock denies a
//! write with `EACCES`, which programs print as the C library's `strerror` text
//! "Permission denied" (or Node's `EACCES: permission denied, open '<path>'`). The path is
//! taken from the line, in the shapes of the usual messages:
//! - Python: `PermissionError: [Errno 13] Permission denied: '<path>'`;
//! - Node: `EACCES: permission denied, open '<path>'`;
//! - coreutils: `touch: cannot touch '<path>': Permission denied` (quoted);
//! - dash, bash, git: `sh: 1: cannot create <path>: Permission denied`,
//!   `bash: line 1: <path>: Permission denied`,
//!   `error: could not lock config file <path>: Permission denied` (the last word before
//!   `: Permission denied`).
//!
//! The class is `permanent`: retrying cannot help; the diagnostic names the path and the
//! way out (`writable_paths`, or `sandbox: "none"`).

use regex::Regex;
use std::sync::LazyLock;

use crate::diagnostic::{Diagnostic, Severity};
use crate::error_class::ErrorClass;
use crate::plugin::{Finding, Plugin, PluginInput, PluginRunError, Specificity, Verdict};

static DENIED: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)permission denied|\bEACCES\b").expect("static regex"));

/// Path extractors, most specific first; capture group 1 is the path.
static PATH_SHAPES: LazyLock<Vec<Regex>> = LazyLock::new(|| {
    [
        r#"Permission denied: ['"]([^'"]+)['"]"#,
        r"(?i)EACCES: permission denied, \w+ '([^']+)'",
        r"['‘`]([^'’`]+)['’`]: Permission denied",
        r"(\S+): Permission denied",
    ]
    .iter()
    .map(|pattern| Regex::new(pattern).expect("static regex"))
    .collect()
});

/// The `sandbox` plugin (see the module doc).
#[derive(Debug, Default)]
pub struct SandboxPlugin;

impl Plugin for SandboxPlugin {
    fn id(&self) -> &str {
        "sandbox"
    }

    fn description(&self) -> &str {
        "a write denied by the step's sandbox (Permission denied under Landlock)"
    }

    fn specificity(&self) -> Specificity {
        Specificity::Tool
    }

    fn applies_to(&self, input: &PluginInput<'_>) -> bool {
        input.failure.sandboxed && DENIED.is_match(input.text)
    }

    fn analyse(&self, input: &PluginInput<'_>) -> Result<Finding, PluginRunError> {
        let mut paths: Vec<String> = Vec::new();
        for line in input.text.lines().filter(|line| DENIED.is_match(line)) {
            let path = PATH_SHAPES
                .iter()
                .find_map(|shape| shape.captures(line))
                .map(|caps| caps[1].trim_end_matches(':').to_string());
            if let Some(path) = path
                && !paths.contains(&path)
            {
                paths.push(path);
            }
        }
        let diagnostics: Vec<Diagnostic> = paths
            .iter()
            .map(|path| {
                Diagnostic::new(
                    Severity::Error,
                    format!(
                        "write to {path} denied by the sandbox: it is outside the step's \
                         writable paths; list it in `writable_paths` (step or tool profile) \
                         or set `sandbox: \"none\"` on the step"
                    ),
                )
                .at(path.as_str(), None, None)
                .with_code("sandbox-denied")
            })
            .collect();
        let summary = if paths.is_empty() {
            "a write was denied by the sandbox (Permission denied); list the path in \
             `writable_paths` or set `sandbox: \"none\"` on the step"
                .to_string()
        } else {
            format!(
                "write to {} denied by the sandbox; list it in `writable_paths` or set \
                 `sandbox: \"none\"` on the step",
                paths.join(", ")
            )
        };
        Ok(Finding {
            verdict: Some(Verdict {
                class: ErrorClass::Permanent,
                summary,
                key: format!("sandbox denied {}", paths.join("\n")),
            }),
            diagnostics,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::AttemptFailure;
    use pipeline_process::Termination;

    fn analyse(output: &str, sandboxed: bool) -> Option<(Verdict, Vec<Diagnostic>)> {
        let failure = AttemptFailure::new("shell", "sh", Termination::Exited(2), output)
            .with_sandbox(sandboxed);
        let input = PluginInput {
            failure: &failure,
            text: output,
        };
        if !SandboxPlugin.applies_to(&input) {
            return None;
        }
        let finding = SandboxPlugin.analyse(&input).unwrap();
        Some((finding.verdict.unwrap(), finding.diagnostics))
    }

    #[test]
    fn the_usual_messages_name_the_path() {
        for (line, path) in [
            (
                "sh: 1: cannot create ../../keep.txt: Permission denied",
                "../../keep.txt",
            ),
            ("bash: line 1: /tmp/x/y: Permission denied", "/tmp/x/y"),
            (
                "touch: cannot touch '/home/u/notes.txt': Permission denied",
                "/home/u/notes.txt",
            ),
            (
                "PermissionError: [Errno 13] Permission denied: '/etc/hosts'",
                "/etc/hosts",
            ),
            (
                "Error: EACCES: permission denied, open '/root/.npmrc'",
                "/root/.npmrc",
            ),
            (
                "error: could not lock config file .git/config: Permission denied",
                ".git/config",
            ),
        ] {
            let (verdict, diagnostics) = analyse(&format!("x\n{line}\n"), true).unwrap();
            assert_eq!(verdict.class, ErrorClass::Permanent, "{line}");
            assert!(
                verdict.summary.contains(path),
                "{line}: {}",
                verdict.summary
            );
            assert!(verdict.summary.contains("writable_paths"));
            assert_eq!(diagnostics[0].file.as_deref(), Some(path), "{line}");
        }
    }

    #[test]
    fn it_stays_out_of_attempts_without_a_sandbox() {
        assert!(analyse("sh: 1: cannot create x: Permission denied", false).is_none());
        assert!(analyse("all fine", true).is_none());
    }
}
