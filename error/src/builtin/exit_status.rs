//! Built-in plugin `exit-status`: the fallback that always decides, from how the process
//! ended.
//!
//! Rules: the executor's timeout -> `timeout`; a stall (no output and no CPU for the
//! stall timeout) -> `stalled`; SIGKILL (also exit 137 = 128 + 9 from a
//! shell) -> `infrastructure` (usually the out-of-memory killer or the machine); SIGTERM,
//! SIGINT, SIGHUP -> `transient` (stopped from outside); other signals (SIGSEGV, SIGABRT,
//! ...) -> `permanent` (the program crashed); exit 126 (not executable) and 127 (command
//! not found, POSIX shell convention, see `generic/command-not-found.txt` captured from
//! dash) -> `permanent`; any other non-zero exit -> `permanent`. An attempt the executor
//! calls failed although it exited 0 is `permanent` too. The key text is the last
//! `KEY_LINES` non-empty lines of the output, so different failures of one command get
//! different signatures.

use crate::error_class::ErrorClass;
use crate::plugin::{Finding, Plugin, PluginInput, PluginRunError, Specificity, Verdict};
use pipeline_process::Termination;

/// How many trailing output lines form the key text.
pub const KEY_LINES: usize = 20;

/// The `exit-status` plugin (see the module doc).
#[derive(Debug, Default)]
pub struct ExitStatusPlugin;

/// Conventional name of a Unix signal number (Linux numbering).
pub fn signal_name(signal: i32) -> &'static str {
    match signal {
        1 => "SIGHUP",
        2 => "SIGINT",
        3 => "SIGQUIT",
        4 => "SIGILL",
        6 => "SIGABRT",
        7 => "SIGBUS",
        8 => "SIGFPE",
        9 => "SIGKILL",
        11 => "SIGSEGV",
        13 => "SIGPIPE",
        14 => "SIGALRM",
        15 => "SIGTERM",
        _ => "signal",
    }
}

fn by_signal(signal: i32) -> (ErrorClass, String) {
    let name = signal_name(signal);
    match signal {
        9 => (
            ErrorClass::Infrastructure,
            format!("killed by {name} ({signal}), often the out-of-memory killer"),
        ),
        1 | 2 | 15 => (
            ErrorClass::Transient,
            format!("stopped from outside by {name} ({signal})"),
        ),
        _ => (
            ErrorClass::Permanent,
            format!("crashed with {name} ({signal})"),
        ),
    }
}

fn last_lines(text: &str, count: usize) -> String {
    let lines: Vec<&str> = text
        .lines()
        .filter(|line| !line.trim().is_empty())
        .collect();
    lines[lines.len().saturating_sub(count)..].join("\n")
}

impl Plugin for ExitStatusPlugin {
    fn id(&self) -> &str {
        "exit-status"
    }

    fn description(&self) -> &str {
        "fallback: timeout, signals (SIGKILL = infrastructure), exit 126/127 (command not runnable), other exit codes"
    }

    fn specificity(&self) -> Specificity {
        Specificity::Fallback
    }

    fn applies_to(&self, _input: &PluginInput<'_>) -> bool {
        true
    }

    fn analyse(&self, input: &PluginInput<'_>) -> Result<Finding, PluginRunError> {
        let (class, what) = match input.failure.termination {
            // The engine reports an attempt it stopped as timed out either way; a
            // cancelled attempt is classified like one.
            Termination::TimedOut | Termination::Cancelled => (
                ErrorClass::Timeout,
                "timed out (the step's timeout elapsed)".to_string(),
            ),
            Termination::Stalled => (
                ErrorClass::Stalled,
                "stalled (no output and no CPU for the stall timeout)".to_string(),
            ),
            Termination::Signaled(signal) => by_signal(signal),
            Termination::Exited(0) => (
                ErrorClass::Permanent,
                "reported as failed although the tool exited 0".to_string(),
            ),
            Termination::Exited(126) => (
                ErrorClass::Permanent,
                "the command is not executable (exit 126); check its permissions".to_string(),
            ),
            Termination::Exited(127) => (
                ErrorClass::Permanent,
                "command not found (exit 127); install the tool or fix the command".to_string(),
            ),
            Termination::Exited(code) if (129..=192).contains(&code) => {
                let (class, what) = by_signal(code - 128);
                (class, format!("{what} (exit {code})"))
            }
            Termination::Exited(code) => {
                (ErrorClass::Permanent, format!("exited with status {code}"))
            }
        };
        let tail = last_lines(input.text, KEY_LINES);
        let last = tail.lines().last().unwrap_or("").trim();
        let summary = if last.is_empty() {
            format!("`{}` {what}", input.failure.tool)
        } else {
            format!("`{}` {what}: {last}", input.failure.tool)
        };
        Ok(Finding {
            verdict: Some(Verdict {
                class,
                summary,
                key: format!("{what}\n{tail}"),
            }),
            diagnostics: Vec::new(),
        })
    }
}
