//! Runs a `command` plugin: the output goes to the program's stdin, diagnostics JSON comes
//! back on its stdout.
//!
//! Protocol (documented in docs/ERRORS.md): the program runs in the manifest's directory
//! with `PIPELINE_TOOL`, `PIPELINE_TOOL_KIND`, `PIPELINE_COMMAND` and `PIPELINE_EXIT`
//! (`exit:N`, `signal:N` or `timeout`) in its environment, reads the plain output on
//! stdin, and prints either a JSON array of diagnostics or an object
//! `{"class": "transient"|...|null, "summary": "...", "retry_after": seconds,
//! "diagnostics": [...]}`; a diagnostic is `{"file", "line", "column", "code", "severity",
//! "message"}` with only `message` required. It must exit 0 within the manifest's
//! `timeout_secs`, else it is killed and the failure recorded in the report.

use serde::Deserialize;
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::attempt_failure::Termination;
use crate::diagnostic::{Diagnostic, Severity};
use crate::error_class::ErrorClass;
use crate::plugin::{Finding, PluginInput, PluginRunError, Verdict};

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum CommandOutput {
    List(Vec<CommandDiagnostic>),
    Report {
        #[serde(default)]
        class: Option<String>,
        #[serde(default)]
        summary: Option<String>,
        #[serde(default)]
        retry_after: Option<f64>,
        #[serde(default)]
        diagnostics: Vec<CommandDiagnostic>,
    },
}

#[derive(Debug, Deserialize)]
struct CommandDiagnostic {
    #[serde(default)]
    file: Option<String>,
    #[serde(default)]
    line: Option<u32>,
    #[serde(default)]
    column: Option<u32>,
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    severity: Option<String>,
    message: String,
}

impl CommandDiagnostic {
    fn into_diagnostic(self) -> Diagnostic {
        Diagnostic {
            file: self.file,
            line: self.line,
            column: self.column,
            code: self.code,
            severity: self
                .severity
                .as_deref()
                .and_then(Severity::from_name)
                .unwrap_or(Severity::Error),
            message: self.message,
        }
    }
}

fn exit_text(termination: Termination) -> String {
    match termination {
        Termination::Exited { code } => format!("exit:{code}"),
        Termination::Signalled { signal } => format!("signal:{signal}"),
        Termination::TimedOut => "timeout".to_string(),
    }
}

/// Runs the program and parses what it prints.
///
/// # Errors
/// `PluginRunError` when the program cannot start, exceeds `timeout`, exits non-zero, or
/// prints something that is not the protocol's JSON, or names an unknown class.
pub(crate) fn run_command_plugin(
    id: &str,
    argv: &[String],
    dir: &Path,
    timeout: Duration,
    input: &PluginInput<'_>,
) -> Result<Finding, PluginRunError> {
    let fail = |message: String| PluginRunError {
        plugin: id.to_string(),
        message,
    };
    let (program, args) = argv
        .split_first()
        .ok_or_else(|| fail("the manifest's command is empty".to_string()))?;
    let program_path = if program.contains('/') && !Path::new(program).is_absolute() {
        dir.join(program)
    } else {
        Path::new(program).to_path_buf()
    };
    let mut child = Command::new(&program_path)
        .args(args)
        .current_dir(dir)
        .env("PIPELINE_TOOL", &input.failure.tool)
        .env("PIPELINE_TOOL_KIND", &input.failure.tool_kind)
        .env("PIPELINE_COMMAND", &input.failure.command)
        .env("PIPELINE_EXIT", exit_text(input.failure.termination))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|error| {
            fail(format!(
                "cannot start `{}`: {error}; check the manifest's `command`",
                program_path.display()
            ))
        })?;

    // Feed stdin and drain stdout/stderr on threads so that no full pipe blocks the child.
    let stdin = child.stdin.take();
    let text = input.text.to_string();
    let writer = std::thread::spawn(move || {
        if let Some(mut stdin) = stdin {
            // A program that does not read its input closes the pipe: not an error.
            let _ = stdin.write_all(text.as_bytes());
        }
    });
    let mut stdout = child.stdout.take();
    let reader = std::thread::spawn(move || {
        let mut out = Vec::new();
        if let Some(stdout) = stdout.as_mut() {
            let _ = stdout.read_to_end(&mut out);
        }
        out
    });
    let mut stderr = child.stderr.take();
    let error_reader = std::thread::spawn(move || {
        let mut out = Vec::new();
        if let Some(stderr) = stderr.as_mut() {
            let _ = stderr.take(64 * 1024).read_to_end(&mut out);
        }
        out
    });

    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(fail(format!(
                    "`{}` did not finish within {} s and was killed; raise `timeout_secs` or make it faster",
                    program_path.display(),
                    timeout.as_secs_f64()
                )));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(error) => {
                return Err(fail(format!(
                    "cannot wait for `{}`: {error}",
                    program_path.display()
                )));
            }
        }
    };
    let _ = writer.join();
    let stdout = reader.join().unwrap_or_default();
    let stderr = error_reader.join().unwrap_or_default();
    if !status.success() {
        return Err(fail(format!(
            "`{}` exited with {status}: {}",
            program_path.display(),
            String::from_utf8_lossy(&stderr).trim()
        )));
    }
    let stdout = String::from_utf8_lossy(&stdout);
    if stdout.trim().is_empty() {
        return Ok(Finding::none());
    }
    let output: CommandOutput = serde_json::from_str(stdout.trim()).map_err(|error| {
        fail(format!(
            "`{}` printed invalid diagnostics JSON ({error}); expected an array of diagnostics or an object with `class`, `summary`, `diagnostics`",
            program_path.display()
        ))
    })?;
    match output {
        CommandOutput::List(list) => Ok(Finding {
            verdict: None,
            diagnostics: list
                .into_iter()
                .map(CommandDiagnostic::into_diagnostic)
                .collect(),
        }),
        CommandOutput::Report {
            class,
            summary,
            retry_after,
            diagnostics,
        } => {
            let diagnostics: Vec<Diagnostic> = diagnostics
                .into_iter()
                .map(CommandDiagnostic::into_diagnostic)
                .collect();
            let verdict = match class {
                None => None,
                Some(name) => {
                    let mut class = ErrorClass::from_name(&name).ok_or_else(|| {
                        fail(format!(
                            "printed unknown class `{name}`; use one of {}",
                            ErrorClass::NAMES.join(", ")
                        ))
                    })?;
                    if let (ErrorClass::RateLimited { .. }, Some(after)) = (
                        &class,
                        retry_after.and_then(|secs| Duration::try_from_secs_f64(secs).ok()),
                    ) {
                        class = ErrorClass::RateLimited {
                            reset_at: Some(input.failure.finished_at + after),
                            retry_after: Some(after),
                        };
                    }
                    let summary = summary.unwrap_or_else(|| {
                        diagnostics.first().map_or_else(
                            || format!("{id} classified the failure as {name}"),
                            |d| d.to_string(),
                        )
                    });
                    let key = diagnostics
                        .iter()
                        .filter(|d| d.severity == Severity::Error)
                        .map(|d| format!("{} {}", d.code.as_deref().unwrap_or(""), d.message))
                        .collect::<Vec<_>>()
                        .join("\n");
                    Some(Verdict {
                        class,
                        key: if key.is_empty() { summary.clone() } else { key },
                        summary,
                    })
                }
            };
            Ok(Finding {
                verdict,
                diagnostics,
            })
        }
    }
}
