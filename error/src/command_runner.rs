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
//! `timeout_secs`, else its process group is stopped (SIGTERM, [`KILL_GRACE`], SIGKILL)
//! and the failure recorded in the report.
//!
//! The program runs under the shared process supervisor (`pipeline-process`): its own
//! process group, stdin written and closed concurrently with reading stdout and stderr,
//! stdout kept up to [`MAX_STDOUT_BYTES`] and stderr up to [`MAX_STDERR_BYTES`] (the
//! rest is drained and discarded).

use serde::Deserialize;
use std::path::Path;
use std::time::Duration;

use crate::builtin::permanent_finding::error_key;
use crate::diagnostic::{Diagnostic, Severity};
use crate::error_class::ErrorClass;
use crate::plugin::{Finding, PluginInput, PluginRunError, Verdict};
use pipeline_process::{
    CaptureLimits, ProcessError, ProcessSpec, Termination, run_captured_blocking,
};
use tokio_util::sync::CancellationToken;

/// Time a timed-out plugin gets between SIGTERM and SIGKILL, 1 second: it holds no
/// state worth saving, and the attempt's classification waits for it.
const KILL_GRACE: Duration = Duration::from_secs(1);

/// Most bytes of diagnostics JSON a plugin may print, 4 MiB.
const MAX_STDOUT_BYTES: usize = 4 * 1024 * 1024;

/// Bytes of a plugin's stderr kept for the failure message, 64 KiB.
const MAX_STDERR_BYTES: usize = 64 * 1024;

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

/// `PIPELINE_EXIT` for a termination. A cancelled attempt reads `timeout`, as it is
/// classified like one; a stalled one reads `stalled`.
fn exit_text(termination: Termination) -> String {
    match termination {
        Termination::Exited(code) => format!("exit:{code}"),
        Termination::Signaled(signal) => format!("signal:{signal}"),
        Termination::TimedOut | Termination::Cancelled => "timeout".to_string(),
        Termination::Stalled => "stalled".to_string(),
    }
}

/// Runs the program and parses what it prints.
///
/// # Errors
/// `PluginRunError` when the program cannot start, exceeds `timeout`, exits non-zero,
/// prints more than [`MAX_STDOUT_BYTES`], or prints something that is not the
/// protocol's JSON, or names an unknown class.
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
    let mut spec = ProcessSpec::new(&program_path, args, dir);
    spec.env = vec![
        ("PIPELINE_TOOL".into(), (&input.failure.tool).into()),
        (
            "PIPELINE_TOOL_KIND".into(),
            (&input.failure.tool_kind).into(),
        ),
        ("PIPELINE_COMMAND".into(), (&input.failure.command).into()),
        (
            "PIPELINE_EXIT".into(),
            exit_text(input.failure.termination).into(),
        ),
    ];
    spec.timeout = Some(timeout);
    spec.kill_grace = KILL_GRACE;
    let limits = CaptureLimits {
        max_stdout_bytes: MAX_STDOUT_BYTES,
        max_stderr_bytes: MAX_STDERR_BYTES,
    };
    let output = run_captured_blocking(
        &spec,
        input.text.as_bytes(),
        &limits,
        CancellationToken::new(),
    )
    .map_err(|error| match error {
        ProcessError::Spawn { source, .. } => fail(format!(
            "cannot start `{}`: {source}; check the manifest's `command`",
            program_path.display()
        )),
        other => fail(other.to_string()),
    })?;
    match output.termination {
        Termination::Exited(0) => {}
        Termination::TimedOut | Termination::Cancelled => {
            return Err(fail(format!(
                "`{}` did not finish within {} s and was killed; raise `timeout_secs` or make it faster",
                program_path.display(),
                timeout.as_secs_f64()
            )));
        }
        other => {
            return Err(fail(format!(
                "`{}` {other}: {}",
                program_path.display(),
                String::from_utf8_lossy(&output.stderr).trim()
            )));
        }
    }
    if output.stdout_truncated {
        return Err(fail(format!(
            "`{}` printed more than {MAX_STDOUT_BYTES} bytes of diagnostics; print fewer",
            program_path.display()
        )));
    }
    let stdout = output.stdout;
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
                    let key = error_key(
                        diagnostics.iter().filter(|d| d.severity == Severity::Error),
                        "",
                    );
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
