//! `pipeline cache [list|clear|stats] [--json]`: the cross-run step cache (docs/CACHE.md).

use pipeline_core::engine::{RemoteCache, cache_entries, cache_stats, clear_cache, remote_cache};
use pipeline_core::state::CacheEntry;

use super::exit;
use crate::cli::{CacheAction, RepoArgs};
use crate::command_error::CommandError;
use crate::json_output::print_json;

/// Lists the entries (oldest first), clears them, or counts them. With `--json`: `list`
/// prints `{"entries": [...]}`, `clear` `{"cleared": n}`, `stats` the counts object.
/// With a shared cache (`cache.remote`), `list` and `stats` add `"remote": {"remote":
/// NAME, "keys": [...], "error"?: TEXT}` (one `git ls-remote`; `clear` leaves it alone).
/// Errors: from the engine (no repository, the database).
pub fn cache(action: CacheAction, json: bool, repo: &RepoArgs) -> Result<i32, CommandError> {
    let (dir, db) = (repo.repo.as_deref(), repo.db.as_deref());
    match action {
        CacheAction::List => {
            let entries = cache_entries(dir, db)?;
            let remote = remote_cache(dir, db)?;
            if json {
                let mut value = serde_json::json!({ "entries": entries });
                if let Some(remote) = &remote {
                    value["remote"] = serde_json::to_value(remote).unwrap_or_default();
                }
                print_json(&value)?;
            } else {
                if entries.is_empty() {
                    println!("the step cache is empty (completed steps of runs leave entries)");
                }
                for entry in &entries {
                    println!("{}", entry_line(entry));
                }
                if let Some(remote) = &remote {
                    println!("{}", remote_line(remote));
                    for key in &remote.keys {
                        let local = entries.iter().any(|e| &e.key == key);
                        println!(
                            "  {key}{}",
                            if local {
                                ""
                            } else {
                                "  (not in this database)"
                            }
                        );
                    }
                }
            }
        }
        CacheAction::Clear => {
            let cleared = clear_cache(dir, db)?;
            if json {
                print_json(&serde_json::json!({ "cleared": cleared }))?;
            } else {
                println!(
                    "cleared {cleared} cache entr{}",
                    if cleared == 1 { "y" } else { "ies" }
                );
            }
        }
        CacheAction::Stats => {
            let stats = cache_stats(dir, db)?;
            let remote = remote_cache(dir, db)?;
            if json {
                let mut value = serde_json::to_value(stats).unwrap_or_default();
                if let Some(remote) = &remote {
                    value["remote"] = serde_json::json!({
                        "remote": remote.remote,
                        "entries": remote.keys.len(),
                        "error": remote.error,
                    });
                }
                print_json(&value)?;
            } else {
                println!(
                    "{} entries ({} distinct keys) from {} runs: {} cached, {} ran",
                    stats.entries, stats.keys, stats.runs, stats.hits, stats.misses
                );
                if let Some(remote) = &remote {
                    println!("{}", remote_line(remote));
                }
            }
        }
    }
    Ok(exit::OK)
}

/// `<run> <step> <key prefix> <result> [cached from <run> <step>]`.
fn entry_line(entry: &CacheEntry) -> String {
    let short = |s: &str| s.chars().take(12).collect::<String>();
    let from = entry
        .cached_from
        .as_ref()
        .map(|f| format!("  cached from {} {}", f.run, f.step))
        .unwrap_or_default();
    format!(
        "{}  {}  key {}  result {}{from}",
        entry.run_id,
        entry.step_id,
        short(&entry.key),
        short(&entry.result_commit)
    )
}

/// `shared cache (remote NAME): N entries`, or why it could not be listed.
fn remote_line(remote: &RemoteCache) -> String {
    match &remote.error {
        Some(error) => format!(
            "shared cache (remote {}): cannot be listed: {error}",
            remote.remote
        ),
        None => format!(
            "shared cache (remote {}): {} entr{}",
            remote.remote,
            remote.keys.len(),
            if remote.keys.len() == 1 { "y" } else { "ies" }
        ),
    }
}
