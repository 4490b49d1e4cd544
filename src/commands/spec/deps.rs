//! `pipeline spec deps`: the `depends_on` of change proposals (`.openspec.yaml`), their
//! cycles, missing dependencies, and an order to apply them in.

use pipeline_core::openspec::{Layout, dependency_report};
use serde_json::json;

use crate::command_error::CommandError;
use crate::commands::exit;
use crate::json_output::print_json;

/// Prints the dependencies between changes. `Ok(FAILED)` when there is a cycle or a
/// dependency on a change that exists nowhere, else `Ok(OK)`.
///
/// Errors: the changes cannot be read (internal).
pub fn deps(layout: &Layout, json: bool) -> Result<i32, CommandError> {
    let report = dependency_report(layout)
        .map_err(|err| CommandError::internal(format!("cannot read changes: {err}")))?;
    let code = if report.cycles.is_empty() && report.missing.is_empty() {
        exit::OK
    } else {
        exit::FAILED
    };
    if json {
        let value = json!({
            "dependencies": report.dependencies,
            "cycles": report.cycle_lines(),
            "missing": report.missing.iter().map(|(c, d)| json!({"change": c, "dependsOn": d})).collect::<Vec<_>>(),
            "unreadable": report.unreadable.iter().map(|(c, e)| json!({"change": c, "error": e})).collect::<Vec<_>>(),
            "order": report.order,
        });
        print_json(&value)?;
        return Ok(code);
    }
    for (change, deps) in &report.dependencies {
        println!("{change} depends on {}", deps.join(", "));
    }
    for cycle in report.cycle_lines() {
        eprintln!("✗ dependency cycle: {cycle}");
    }
    for (change, dep) in &report.missing {
        eprintln!(
            "✗ {change} depends on '{dep}', which is neither an active nor an archived change"
        );
    }
    for (change, err) in &report.unreadable {
        eprintln!("⚠ {change}: {err}");
    }
    if !report.order.is_empty() {
        println!("Order: {}", report.order.join(", "));
    }
    Ok(code)
}
