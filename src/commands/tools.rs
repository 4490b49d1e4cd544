//! `pipeline tools`: tool profiles, whether each command is installed, its version, and
//! how many known secrets a run redacts (naming those too short to be).

use pipeline_core::engine::{
    KnownSecrets, MIN_SECRET_BYTES, SandboxSupport, breakers, known_secrets, open_repository,
    sandbox_support,
};

use super::exit;
use crate::cli::RepoArgs;
use crate::command_error::CommandError;
use crate::json_output::print_json;

/// `pipeline tools`: every tool profile, whether its command is installed, its version
/// and its circuit breaker, then whether steps can run under the write sandbox (Landlock
/// ABI, or why not; in JSON, each row's `sandbox` object). Errors: from the engine (no repository, invalid config).
pub fn tools(json: bool, repo: &RepoArgs) -> Result<i32, CommandError> {
    if json {
        print_json(&tools_document(repo)?)?;
        return Ok(exit::OK);
    }
    let tools = tool_rows(repo)?;
    let (workspace, registry, rows) = (&tools.workspace, &tools.registry, &tools.rows);
    let breaker_of = |name: &str| tools.breaker_of(name);
    let support = sandbox_support();
    let width = rows.iter().map(|r| r.0.len()).max().unwrap_or(4).max(4);
    println!(
        "{:width$}  {:<7} {:<9} {:<9} {:<30} VERSION / NOTE",
        "TOOL", "KIND", "INSTALLED", "BREAKER", "COMMAND"
    );
    for (name, profile, a) in rows {
        let installed = if a.found.is_some() { "yes" } else { "no" };
        let note = a
            .version
            .clone()
            .or_else(|| a.error.clone())
            .unwrap_or_default();
        let command = a
            .found
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| profile.command.clone());
        println!(
            "{:width$}  {:<7} {:<9} {:<9} {:<30} {}",
            name,
            profile.kind.as_str(),
            installed,
            breaker_of(name),
            command,
            note
        );
    }
    print_secrets(&known_secrets(&workspace.state_dir, registry, None)?);
    println!("\nsandbox: {support}");
    Ok(exit::OK)
}

/// The `tools --json` document (also `GET /api/tools`): one object per tool profile with
/// `name`, `profile` (secrets redacted), `found` (the command's path or `null`),
/// `version`, `error`, `breaker` (`closed`, `open`, `half_open`) and `sandbox`
/// (`available`, `abi`, `reason`). Errors: from the engine (no repository, invalid
/// config, state database).
pub fn tools_document(repo: &RepoArgs) -> Result<serde_json::Value, CommandError> {
    let tools = tool_rows(repo)?;
    let sandbox = match sandbox_support() {
        SandboxSupport::Available { abi } => {
            serde_json::json!({"available": true, "abi": abi, "reason": null})
        }
        SandboxSupport::Unavailable { reason } => {
            serde_json::json!({"available": false, "abi": null, "reason": reason})
        }
    };
    let list: Vec<serde_json::Value> = tools
        .rows
        .iter()
        .map(|(name, profile, a)| serde_json::json!({"name": name, "profile": profile, "found": a.found, "version": a.version, "error": a.error, "breaker": tools.breaker_of(name), "sandbox": sandbox}))
        .collect();
    Ok(serde_json::Value::Array(list))
}

/// Every tool profile of the repository with its availability, and the breakers.
struct ToolRows {
    workspace: pipeline_core::engine::Workspace,
    registry: pipeline_adapters::ToolRegistry,
    rows: Vec<(
        String,
        pipeline_adapters::ToolProfile,
        pipeline_adapters::Availability,
    )>,
    breakers: Vec<pipeline_error::BreakerState>,
}

impl ToolRows {
    /// `closed`, `open` or `half_open`: the tool's circuit breaker.
    fn breaker_of(&self, name: &str) -> String {
        self.breakers
            .iter()
            .find(|b| b.tool == name)
            .and_then(|b| serde_json::to_value(b.status).ok())
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_else(|| "closed".to_string())
    }
}

fn tool_rows(repo: &RepoArgs) -> Result<ToolRows, CommandError> {
    let (_, workspace, registry) = open_repository(repo.repo.as_deref(), repo.db.as_deref())?;
    // Breaker state lives in the state database; without one every breaker is closed.
    let breakers = if workspace.db_path.exists() {
        breakers(repo.repo.as_deref(), repo.db.as_deref(), None)?.1
    } else {
        Vec::new()
    };
    let mut rows = Vec::new();
    for name in registry.names() {
        let Some(profile) = registry.profile(name) else {
            continue;
        };
        let availability = registry.probe(name);
        rows.push((name.to_string(), profile.redacted(), availability));
    }
    Ok(ToolRows {
        workspace,
        registry,
        rows,
        breakers,
    })
}

/// The secrets lines: how many known secret values a run redacts, and which known
/// secrets are too short to be (names only, never values).
fn print_secrets(known: &KnownSecrets) {
    let redacted = known.values().len();
    println!(
        "\nSecrets: {redacted} known value(s) redacted from logs, the state database, events and output"
    );
    let short: Vec<String> = known
        .entries
        .iter()
        .filter(|e| !e.is_redacted())
        .map(|e| format!("{} ({})", e.name, e.source))
        .collect();
    if !short.is_empty() {
        println!(
            "Not redacted, shorter than {MIN_SECRET_BYTES} bytes: {}",
            short.join(", ")
        );
    }
}
