//! Built-in plugin `not-found`: a module, package, file or command that does not exist.
//!
//! Retrying cannot make a missing dependency appear, so these failures are `permanent`, each
//! kind with its own signature (the key is the kind and the missing name, so the same
//! missing module gives the same signature from any file). Before this plugin, a Python
//! `ModuleNotFoundError` was taken for a DNS failure by `network-api` (the name contains
//! "enotfound") and retried. Messages, as captured in `error/tests/fixtures/corpus/` (versions
//! in `VERSIONS.txt`):
//!
//! - module or package (`module-not-found`): Python 3.11 `ModuleNotFoundError: No module
//!   named 'x'`; Node 20 `Error: Cannot find module 'x'` (CommonJS, `MODULE_NOT_FOUND`) and
//!   `Error [ERR_MODULE_NOT_FOUND]: Cannot find package 'x' imported from ...` (ES
//!   modules); rustc 1.95 ``unresolved import `x` `` (E0432) and ``can't find crate for `x` ``
//!   (E0463); Go 1.19 `no required module provides package x`, `cannot find package "x"`,
//!   `cannot find module providing package x`;
//! - command (`command-not-found`): bash `x: command not found`, dash `sh: 1: x: not found`,
//!   and any "No such file or directory" of a command that exited 127 (the shell's "not
//!   found" status, e.g. `bash: line 1: ./deploy.sh: No such file or directory`);
//! - file (`file-not-found`): the C library's `No such file or directory` (ENOENT) as `cat`,
//!   `bash`, Python (`[Errno 2] No such file or directory: 'x'`, `can't open file 'x'`) and
//!   Node (`ENOENT: no such file or directory, open 'x'`) print it.
//!
//! Only the decisive part of the output is read (from the last Python traceback or Node's
//! uncaught-error caret on, see `network::decisive_part`), and only its last
//! [`WINDOW_LINES`] non-empty lines: a missing file a build mentioned long before it failed
//! for another reason does not decide. When a network or API error (the `network-api`
//! rules) shows on a later line, this plugin leaves the decision to `network-api`: a module
//! that could not be downloaded is a network failure.

use regex::{Captures, Regex};
use std::sync::LazyLock;

use crate::builtin::network::{decisive_part, last_api_error_line};
use crate::builtin::permanent_finding::permanent;
use crate::plugin::{Finding, Plugin, PluginInput, PluginRunError, Specificity};
use pipeline_process::Termination;

/// How many trailing non-empty lines of the decisive part are looked at.
pub const WINDOW_LINES: usize = 30;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Missing {
    Module,
    Command,
    File,
}

impl Missing {
    fn code(self) -> &'static str {
        match self {
            Missing::Module => "module-not-found",
            Missing::Command => "command-not-found",
            Missing::File => "file-not-found",
        }
    }

    fn advice(self) -> &'static str {
        match self {
            Missing::Module => "install the dependency or fix the import",
            Missing::Command => "install the tool or fix the command",
            Missing::File => "create the file or fix the path",
        }
    }
}

struct Rule {
    missing: Missing,
    pattern: Regex,
}

/// Tried in order on each line; the named group `name` is the missing thing.
static RULES: LazyLock<Vec<Rule>> = LazyLock::new(|| {
    let rule = |missing, pattern: &str| Rule {
        missing,
        pattern: Regex::new(pattern).expect("static regex"),
    };
    vec![
        rule(
            Missing::Command,
            r"^(?:.*: )?(?P<name>\S+): command not found$",
        ),
        rule(
            Missing::Command,
            r"^(?:/bin/|/usr/bin/)?(?:sh|dash|ash): (?:\d+: |line \d+: )?(?P<name>\S+): not found$",
        ),
        rule(
            Missing::Module,
            r"(?:ModuleNotFoundError|ImportError): No module named '?(?P<name>[\w.]+)'?",
        ),
        rule(
            Missing::Module,
            r"Cannot find (?:module|package) '(?P<name>[^']+)'",
        ),
        rule(Missing::Module, r"unresolved import `(?P<name>[^`]+)`"),
        rule(Missing::Module, r"can't find crate for `(?P<name>[^`]+)`"),
        rule(
            Missing::Module,
            r"no required module provides package (?P<name>[^\s;]+)",
        ),
        rule(
            Missing::Module,
            r"cannot find (?:module providing )?package (?P<name>[^\s:;]+)",
        ),
        rule(
            Missing::File,
            r"(?i)can't open file '(?P<name>[^']+)': \[Errno 2\]",
        ),
        rule(
            Missing::File,
            r"(?i)no such file or directory(?:, \w+ |: )'(?P<name>[^']+)'",
        ),
        rule(
            Missing::File,
            r"^curl: \(37\) Couldn't open file (?P<name>\S+)",
        ),
        rule(
            Missing::File,
            r"^(?:[\w./-]+: )*(?:line \d+: )?(?P<name>[^:\s]+): No such file or directory$",
        ),
        rule(Missing::File, r"(?i)no such file or directory"),
    ]
});

/// One missing thing found in the output.
struct Found<'a> {
    missing: Missing,
    name: Option<String>,
    line: &'a str,
}

fn match_line(line: &str) -> Option<(Missing, Option<String>)> {
    RULES.iter().find_map(|rule| {
        rule.pattern.captures(line).map(|caps: Captures<'_>| {
            let name = caps
                .name("name")
                .map(|m| m.as_str().trim_matches('"').to_string());
            (rule.missing, name)
        })
    })
}

/// The last missing thing in the window of `text`, with the index of its line.
fn last_missing(text: &str) -> Option<(usize, Found<'_>)> {
    let lines: Vec<(usize, &str)> = text
        .lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .collect();
    let window = &lines[lines.len().saturating_sub(WINDOW_LINES)..];
    window.iter().rev().find_map(|&(index, line)| {
        match_line(line.trim()).map(|(missing, name)| {
            (
                index,
                Found {
                    missing,
                    name,
                    line: line.trim(),
                },
            )
        })
    })
}

/// The `not-found` plugin (see the module doc).
#[derive(Debug, Default)]
pub struct NotFoundPlugin;

impl Plugin for NotFoundPlugin {
    fn id(&self) -> &str {
        "not-found"
    }

    fn description(&self) -> &str {
        "missing module or package (Python, Node, Rust, Go), command (exit 127) or file (ENOENT): permanent"
    }

    fn specificity(&self) -> Specificity {
        Specificity::Protocol
    }

    fn applies_to(&self, _input: &PluginInput<'_>) -> bool {
        true
    }

    fn analyse(&self, input: &PluginInput<'_>) -> Result<Finding, PluginRunError> {
        let text = decisive_part(input.text);
        let Some((index, mut found)) = last_missing(text) else {
            return Ok(Finding::none());
        };
        if last_api_error_line(text).is_some_and(|network| network > index) {
            return Ok(Finding::none());
        }
        if found.missing == Missing::File && input.failure.termination == Termination::Exited(127) {
            found.missing = Missing::Command;
        }
        let what = match (found.missing, &found.name) {
            (Missing::Module, Some(name)) => format!("module or package `{name}` not found"),
            (Missing::Command, Some(name)) => format!("command `{name}` not found"),
            (Missing::File, Some(name)) => format!("file `{name}` not found"),
            (Missing::Module, None) => "a module or package was not found".to_string(),
            (Missing::Command, None) => "a command was not found".to_string(),
            (Missing::File, None) => "a file was not found".to_string(),
        };
        let summary = format!(
            "{what} ({}); {}",
            truncate(found.line, 300),
            found.missing.advice()
        );
        let key = format!(
            "{} {}",
            found.missing.code(),
            found.name.as_deref().unwrap_or(found.line)
        );
        Ok(permanent(summary, key, Vec::new()))
    }
}

fn truncate(line: &str, max: usize) -> String {
    if line.len() <= max {
        return line.to_string();
    }
    let mut cut = max;
    while !line.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}...", &line[..cut])
}
