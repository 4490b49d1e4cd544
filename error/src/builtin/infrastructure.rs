//! Built-in plugin `infrastructure`: the machine failed, not the step.
//!
//! Rules: "No space left on device" (ENOSPC; captured from `dd` writing to `/dev/full`,
//! `generic/no-space.txt`), "Disk quota exceeded", "Cannot allocate memory" / "out of
//! memory", "Too many open files", "Read-only file system", "Resource temporarily
//! unavailable", git's "index.lock': File exists" (another git process or a crashed one),
//! SQLite's "database is locked" and Python's `MemoryError` (an allocation the machine
//! refused, `corpus/py-memory-error.txt`) -> `infrastructure`. The messages are the C library's
//! `strerror` texts (glibc) and git 2.47's lock-file message.

use regex::Regex;
use std::sync::LazyLock;

use crate::error_class::ErrorClass;
use crate::plugin::{Finding, Plugin, PluginInput, PluginRunError, Specificity, Verdict};

static PATTERN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)no space left on device|enospc|disk quota exceeded|cannot allocate memory|out of memory|enomem|too many open files|emfile|read-only file system|erofs|resource temporarily unavailable|index\.lock'?: file exists|database is locked|^MemoryError\b",
    )
    .expect("static regex")
});

/// The `infrastructure` plugin (see the module doc).
#[derive(Debug, Default)]
pub struct InfrastructurePlugin;

impl Plugin for InfrastructurePlugin {
    fn id(&self) -> &str {
        "infrastructure"
    }

    fn description(&self) -> &str {
        "disk full, out of memory, too many open files, read-only file system, git index.lock, database locked"
    }

    fn specificity(&self) -> Specificity {
        Specificity::Protocol
    }

    fn applies_to(&self, _input: &PluginInput<'_>) -> bool {
        true
    }

    fn analyse(&self, input: &PluginInput<'_>) -> Result<Finding, PluginRunError> {
        let Some(line) = input.text.lines().rev().find(|line| PATTERN.is_match(line)) else {
            return Ok(Finding::none());
        };
        let line = line.trim();
        let matched = PATTERN
            .find(line)
            .map(|found| found.as_str().to_ascii_lowercase())
            .unwrap_or_default();
        Ok(Finding {
            verdict: Some(Verdict {
                class: ErrorClass::Infrastructure,
                summary: format!("the machine failed ({matched}): {line}"),
                key: format!("infrastructure {matched}"),
            }),
            diagnostics: Vec::new(),
        })
    }
}
