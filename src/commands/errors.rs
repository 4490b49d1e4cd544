//! `pipeline errors`, `pipeline breakers`, `pipeline plugins`, `pipeline diagnose`: the
//! error engine's view of runs, tools and logs.

use std::path::Path;

use pipeline_core::engine::{
    breakers, counted, diagnose, plugins, repository_root_or_current_dir, run_errors,
};

use super::exit;
use crate::cli::RepoArgs;
use crate::command_error::CommandError;
use crate::json_output::print_json;

/// `pipeline errors [RUN]`: the classified errors of a run's steps (default, or
/// `latest`: the newest run) with their diagnostics. Errors: from the engine (no repository, unknown run).
pub fn errors(run: Option<&str>, json: bool, repo: &RepoArgs) -> Result<i32, CommandError> {
    let (run_id, errors) = run_errors(repo.repo.as_deref(), repo.db.as_deref(), run)?;
    if json {
        print_json(&errors_document(&run_id, &errors))?;
        return Ok(exit::OK);
    }
    if errors.is_empty() {
        println!("run {run_id}: no errors recorded");
    }
    for e in &errors {
        let attempts = if e.first_attempt == e.last_attempt {
            format!("attempt {}", e.first_attempt)
        } else {
            format!("attempts {}-{}", e.first_attempt, e.last_attempt)
        };
        println!(
            "{}  {}  x{}  ({attempts}, plugin {}, signature {})",
            e.step_id, e.class, e.occurrences, e.plugin, e.signature
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

/// The `errors --json` document (also `GET /api/errors`): `{"run_id", "errors": [...]}`.
pub fn errors_document(
    run_id: &str,
    errors: &[pipeline_core::state::ErrorRecord],
) -> serde_json::Value {
    serde_json::json!({"run_id": run_id, "errors": errors})
}

/// The `breakers --json` document (also `GET /api/breakers` and `POST
/// /api/breakers/{tool}/reset`): `{"reset": null | {"tool", "existed"}, "breakers": [...]}`.
pub fn breakers_document(
    reset: Option<&str>,
    removed: bool,
    list: &[impl serde::Serialize],
) -> serde_json::Value {
    serde_json::json!({"reset": reset.map(|t| serde_json::json!({"tool": t, "existed": removed})), "breakers": list})
}

/// `pipeline breakers [--reset TOOL]`: every tool's circuit breaker, after closing
/// `reset`'s. Errors: from the engine (no repository, state database); a `reset` tool
/// that is neither a profile nor has breaker state (exit 2, naming the known tools).
pub fn breakers_cmd(reset: Option<&str>, json: bool, repo: &RepoArgs) -> Result<i32, CommandError> {
    let (removed, list) = breakers(repo.repo.as_deref(), repo.db.as_deref(), reset)?;
    if json {
        print_json(&breakers_document(reset, removed, &list))?;
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
            "{:<20} {status}{until}  {}  opened {}{}",
            b.tool,
            counted(
                b.consecutive_failures as usize,
                "consecutive failure",
                "consecutive failures"
            ),
            counted(b.times_opened as usize, "time", "times"),
            b.last_error
                .as_deref()
                .map(|e| format!("  last: {e}"))
                .unwrap_or_default()
        );
    }
    Ok(exit::OK)
}

/// `pipeline plugins`: the error plugins in the order they are consulted, as a table
/// (order, id, kind, source, what it matches) or, with `json`, as JSON (`PluginInfo`
/// objects). Errors: an invalid plugin manifest (invalid input).
pub fn plugins_cmd(json: bool, repo: &RepoArgs) -> Result<i32, CommandError> {
    let list = plugins(repo.repo.as_deref())?;
    if json {
        print_json(&list)?;
        return Ok(exit::OK);
    }
    // Manifests of the repository are shown relative to it, as they are found there.
    let root = repository_root_or_current_dir(repo.repo.as_deref())?;
    let rows: Vec<[String; 5]> = list
        .iter()
        .map(|p| {
            let kind = serde_json::to_value(p.specificity)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            // `{"kind": "built_in"}` or `{"kind": "manifest", "path": ...}`.
            let origin = serde_json::to_value(&p.origin).unwrap_or_default();
            let source = origin["path"].as_str().map_or_else(
                || "built-in".to_string(),
                |path| {
                    let path = Path::new(path);
                    path.strip_prefix(&root)
                        .unwrap_or(path)
                        .display()
                        .to_string()
                },
            );
            [
                p.position.to_string(),
                p.id.clone(),
                kind,
                source,
                p.description.clone(),
            ]
        })
        .collect();
    print!("{}", render_plugins(&rows));
    Ok(exit::OK)
}

/// The `plugins` table: a header, one line per plugin, a count.
fn render_plugins(rows: &[[String; 5]]) -> String {
    let header = ["ORDER", "ID", "KIND", "SOURCE", "MATCHES"];
    let mut widths = header.map(str::len);
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.len());
        }
    }
    let line = |cells: [&str; 5]| {
        format!(
            "{:>w0$}  {:<w1$}  {:<w2$}  {:<w3$}  {}",
            cells[0],
            cells[1],
            cells[2],
            cells[3],
            cells[4],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2],
            w3 = widths[3],
        )
        .trim_end()
        .to_string()
            + "\n"
    };
    let mut out = line(header);
    for r in rows {
        out.push_str(&line(r.each_ref().map(String::as_str)));
    }
    out.push_str(&format!(
        "{}, consulted in this order\n",
        counted(rows.len(), "plugin", "plugins")
    ));
    out
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
