//! A step's error-engine settings: `retry` and `circuit_breaker` (the workstream's blocks
//! overlaid by the step's, in the original format of
//! `shared/conformance/.../03_error_handling.json`), `fix_attempts`, `escalation` and
//! `compensation`. Invalid settings are errors naming the field; keys of the original
//! blocks this engine does not use are notes.

use std::path::Path;

use pipeline_error::{RetryPolicy, RetrySettings, WorkstreamErrorBlocks};
use serde_json::Value;

use super::raw_workstream::RawFields;
use super::{CompensationAction, ToolCatalog, ValidationDiagnostic};

/// Where a step's settings come from and how findings name it.
pub(crate) struct SettingsSource<'a> {
    /// The step's own object (for a single-step workstream, the workstream).
    pub own: &'a RawFields,
    /// JSON pointer of `own`.
    pub pointer: &'a str,
    /// The workstream object and its pointer, for a step of a multi-step workstream.
    pub workstream: Option<(&'a RawFields, &'a str)>,
    pub file: &'a Path,
    /// Step id, for the findings.
    pub step: &'a str,
}

/// The error-engine settings of one step, validated.
#[derive(Debug, Default)]
pub(crate) struct ErrorSettings {
    pub retry: RetrySettings,
    pub breaker_cooldown_sec: Option<f64>,
    pub fix_attempts: u32,
    pub escalation: Vec<String>,
}

/// Reads `retry`, `circuit_breaker`, `fix_attempts` and `escalation` (the last two
/// inherited from the workstream when the step has none).
pub(crate) fn error_settings(
    src: &SettingsSource<'_>,
    catalog: &dyn ToolCatalog,
    diags: &mut Vec<ValidationDiagnostic>,
) -> ErrorSettings {
    let outer = src
        .workstream
        .and_then(|(ws, ptr)| error_blocks(src, ws, ptr, diags));
    let inner = error_blocks(src, src.own, src.pointer, diags);
    let mut retry = outer.as_ref().map(|b| b.retry.clone()).unwrap_or_default();
    if let Some(b) = &inner {
        retry = retry.overlay(&b.retry);
    }
    if let Err(e) = RetryPolicy::from_settings(&retry) {
        diags.push(
            ValidationDiagnostic::error(
                src.file,
                format!("{}/retry", src.pointer),
                format!("invalid retry settings: {e}"),
            )
            .with_step(src.step),
        );
    }
    let breaker_cooldown_sec = inner
        .as_ref()
        .and_then(|b| b.cooldown)
        .or_else(|| outer.as_ref().and_then(|b| b.cooldown))
        .map(|d| d.as_secs_f64());
    let ws = src.workstream.map(|(ws, _)| ws);
    let fix_attempts = src
        .own
        .fix_attempts
        .or_else(|| ws.and_then(|w| w.fix_attempts))
        .unwrap_or(0);
    let escalation = src
        .own
        .escalation
        .as_ref()
        .or_else(|| ws.and_then(|w| w.escalation.as_ref()))
        .cloned()
        .unwrap_or_default();
    for (i, tool) in escalation.iter().enumerate() {
        if !catalog.has_tool(tool) {
            diags.push(
                ValidationDiagnostic::error(
                    src.file,
                    format!("{}/escalation/{i}", src.pointer),
                    format!("unknown tool `{tool}` in escalation"),
                )
                .with_step(src.step)
                .with_hint(format!("known tools: {}", catalog.tool_names().join(", "))),
            );
        }
    }
    ErrorSettings {
        retry,
        breaker_cooldown_sec,
        fix_attempts,
        escalation,
    }
}

/// The `retry` and `circuit_breaker` blocks of one object (at `pointer`), parsed by the
/// error engine; `None` (with an error) when they are invalid.
fn error_blocks(
    src: &SettingsSource<'_>,
    object: &RawFields,
    pointer: &str,
    diags: &mut Vec<ValidationDiagnostic>,
) -> Option<WorkstreamErrorBlocks> {
    match WorkstreamErrorBlocks::from_json(object.retry.as_ref(), object.circuit_breaker.as_ref()) {
        Ok(b) => {
            for key in &b.not_interpreted {
                diags.push(
                    ValidationDiagnostic::note(
                        src.file,
                        format!("{pointer}/{}", key.replace('.', "/")),
                        format!("`{key}` is not interpreted; kept as data"),
                    )
                    .with_step(src.step),
                );
            }
            Some(b)
        }
        Err(e) => {
            diags.push(
                ValidationDiagnostic::error(
                    src.file,
                    format!("{pointer}/{}", e.field.replace('.', "/")),
                    format!("invalid error-handling setting: {e}"),
                )
                .with_step(src.step)
                .with_hint("see docs/ERRORS.md for the retry and circuit_breaker settings"),
            );
            None
        }
    }
}

/// `compensation` of the step's own object: a command string, `{"command": ...,
/// "timeout_sec": ...}`, or an array of those. The original format's `{"enabled",
/// "action", "parameters"}` names a method of generated code, not a command: reported as
/// not interpreted.
pub(crate) fn compensation(
    src: &SettingsSource<'_>,
    diags: &mut Vec<ValidationDiagnostic>,
) -> Vec<CompensationAction> {
    let pointer = format!("{}/compensation", src.pointer);
    match &src.own.compensation {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .filter_map(|(i, x)| compensation_action(src, x, &format!("{pointer}/{i}"), diags))
            .collect(),
        Some(other) => compensation_action(src, other, &pointer, diags)
            .into_iter()
            .collect(),
    }
}

fn compensation_action(
    src: &SettingsSource<'_>,
    v: &Value,
    pointer: &str,
    diags: &mut Vec<ValidationDiagnostic>,
) -> Option<CompensationAction> {
    match v {
        Value::String(c) if !c.trim().is_empty() => Some(CompensationAction {
            command: c.clone(),
            timeout_sec: None,
        }),
        Value::Object(o) if o.get("enabled").and_then(Value::as_bool) == Some(false) => None,
        Value::Object(o) => match o.get("command").and_then(Value::as_str) {
            Some(c) => Some(CompensationAction {
                command: c.to_string(),
                timeout_sec: o
                    .get("timeout_sec")
                    .or_else(|| o.get("timeout"))
                    .and_then(Value::as_f64),
            }),
            None => {
                diags.push(
                    ValidationDiagnostic::note(
                        src.file,
                        pointer,
                        "compensation without `command` (e.g. `action`, a method name) is not interpreted; kept as data",
                    )
                    .with_step(src.step),
                );
                None
            }
        },
        _ => {
            diags.push(
                ValidationDiagnostic::error(
                    src.file,
                    pointer,
                    "compensation must be a command string or an object with `command`",
                )
                .with_step(src.step),
            );
            None
        }
    }
}
