//! `pipeline errors`, `pipeline breakers`, `pipeline plugins`, `pipeline diagnose`: the
//! error engine's view of runs, tools and logs.

use std::path::Path;

use pipeline_core::engine::{breakers, diagnose, plugins, run_errors};

use super::exit;
use crate::cli::RepoArgs;
use crate::command_error::CommandError;
use crate::json_output::print_json;

/// `pipeline errors [RUN]`: the classified errors of a run's steps (default: the newest
/// run) with their diagnostics. Errors: from the engine (no repository, unknown run).
pub fn errors(run: Option<&str>, json: bool, repo: &RepoArgs) -> Result<i32, CommandError> {
    let (run_id, errors) = run_errors(repo.repo.as_deref(), repo.db.as_deref(), run)?;
    if json {
        print_json(&serde_json::json!({"run_id": run_id, "errors": errors}))?;
        return Ok(exit::OK);
    }
    if errors.is_empty() {
        println!("run {run_id}: no errors recorded");
    }
    for e in &errors {
        println!(
            "{}  {}  x{}  (attempts {}-{}, plugin {}, signature {})",
            e.step_id,
            e.class,
            e.occurrences,
            e.first_attempt,
            e.last_attempt,
            e.plugin,
            e.signature
        );
        println!("  {}", e.summary);
        if let Some(diags) = e.report.get("diagnostics").and_then(|d| d.as_array()) {
            for d in diags.iter().take(10) {
                let at = [d.get("file"), d.get("line"), d.get("column")]
                    .iter()
                    .filter_map(|v| {
                        v.and_then(|v| {
                            if v.is_null() {
                                None
                            } else {
                                Some(v.to_string().trim_matches('"').to_string())
                            }
                        })
                    })
                    .collect::<Vec<_>>()
                    .join(":");
                println!(
                    "    {at} {}",
                    d.get("message").and_then(|m| m.as_str()).unwrap_or("")
                );
            }
        }
    }
    Ok(exit::OK)
}

/// `pipeline breakers [--reset TOOL]`: every tool's circuit breaker, after closing
/// `reset`'s. Errors: from the engine (no repository, state database).
pub fn breakers_cmd(reset: Option<&str>, json: bool, repo: &RepoArgs) -> Result<i32, CommandError> {
    let (removed, list) = breakers(repo.repo.as_deref(), repo.db.as_deref(), reset)?;
    if json {
        print_json(
            &serde_json::json!({"reset": reset.map(|t| serde_json::json!({"tool": t, "existed": removed})), "breakers": list}),
        )?;
        return Ok(exit::OK);
    }
    if let Some(tool) = reset {
        println!(
            "{}",
            if removed {
                format!("reset the circuit breaker of `{tool}` (closed)")
            } else {
                format!("`{tool}` had no circuit breaker state (closed)")
            }
        );
    }
    if list.is_empty() {
        println!("no circuit breaker state recorded: every tool is closed");
    }
    for b in &list {
        let status = serde_json::to_value(b.status)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        let until = b
            .open_until
            .map(|t| format!(" until {}", humantime::format_rfc3339_seconds(t)))
            .unwrap_or_default();
        println!(
            "{:<20} {status}{until}  consecutive failures {}  opened {} times{}",
            b.tool,
            b.consecutive_failures,
            b.times_opened,
            b.last_error
                .as_deref()
                .map(|e| format!("  last: {e}"))
                .unwrap_or_default()
        );
    }
    Ok(exit::OK)
}

/// `pipeline plugins`: the error plugins in the order they are consulted. Errors: an
/// invalid plugin manifest (invalid input).
pub fn plugins_cmd(json: bool, repo: &RepoArgs) -> Result<i32, CommandError> {
    let list = plugins(repo.repo.as_deref())?;
    if json {
        print_json(&list)?;
        return Ok(exit::OK);
    }
    for p in &list {
        let origin = serde_json::to_value(&p.origin)
            .map(|v| v.to_string())
            .unwrap_or_default();
        println!(
            "{:>2}. {:<18} {}  [{}]",
            p.position,
            p.id,
            p.description,
            origin.trim_matches('"')
        );
    }
    Ok(exit::OK)
}

/// `pipeline diagnose --log FILE`: the error engine's report on a saved log, as if `tool`
/// had exited with `exit_code`. Errors: an unreadable log or invalid plugin (invalid input).
pub fn diagnose_cmd(
    log: &Path,
    tool: Option<&str>,
    exit_code: i32,
    json: bool,
    repo: &RepoArgs,
) -> Result<i32, CommandError> {
    let report = diagnose(repo.repo.as_deref(), log, tool, exit_code)?;
    if json {
        print_json(&report)?;
        return Ok(exit::OK);
    }
    println!("class:     {}", report.class.name());
    println!("plugin:    {}", report.plugin);
    println!("signature: {}", report.signature);
    println!("summary:   {}", report.summary);
    for d in &report.diagnostics {
        println!("  {d}");
    }
    Ok(exit::OK)
}
