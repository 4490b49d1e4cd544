//! `pipeline why RUN STEP`: why a step ran, or where its result came from, read from the
//! step cache's entries (docs/CACHE.md "Why a step ran").
//!
//! A step that ran is compared with the closest earlier entry of the same step id (the
//! one whose key parts differ in the fewest places; the newest among equals): the
//! definition fields, tool fields and input paths that differ are named. Input paths come
//! from the two entries' start commits, narrowed to the step's `inputs`.

use std::collections::BTreeMap;

use git2::Oid;

use super::key::{KeyParts, input_files};
use crate::state::{CacheEntry, CachedFrom, StateError, StateStore};

/// The answer of `pipeline why`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Why {
    /// The step has no entry in that run: it did not complete (or ran before the cache).
    NotCompleted,
    /// It was satisfied from the cache: the result of `from`.
    Cached {
        /// Its key.
        key: String,
        /// The earlier run and step.
        from: CachedFrom,
        /// The shared cache's git remote it was fetched from (`cache.remote`); absent for
        /// a result of this state database.
        #[serde(skip_serializing_if = "Option::is_none")]
        remote: Option<String>,
    },
    /// It ran: no earlier run completed a step with that id.
    NoEarlierEntry {
        /// Its key.
        key: String,
    },
    /// It ran although an earlier entry had the same key, for `reason`.
    SameKey {
        /// Its key.
        key: String,
        /// The earlier run.
        earlier_run: String,
        /// Why that entry was not used (`--no-cache`, `cache: false`, a conflict, ...).
        reason: String,
    },
    /// It ran: its key differs from the closest earlier entry's in these parts.
    KeyDiffers {
        /// Its key.
        key: String,
        /// The earlier run compared with.
        earlier_run: String,
        /// One line per difference: `definition field `tasks``, `tool version: a -> b`,
        /// `input path src/x.txt changed`, ...
        differences: Vec<String>,
    },
}

/// Explains step `step` of run `run` (see the module docs). `repo` opens the repository
/// for input paths; without it (or without the commits) the input tree is named as a
/// whole.
///
/// Errors: [`StateError::Database`].
pub fn why(
    state: &StateStore,
    repo: Option<&git2::Repository>,
    run: &str,
    step: &str,
) -> Result<Why, StateError> {
    let Some(entry) = state.cache_entry(run, step)? else {
        return Ok(Why::NotCompleted);
    };
    if let Some(from) = entry.cached_from.clone() {
        let remote = entry
            .reason
            .as_deref()
            .and_then(super::remote::remote_of_reason)
            .map(str::to_owned);
        return Ok(Why::Cached {
            key: entry.key,
            from,
            remote,
        });
    }
    let earlier = state.cache_entries_of_step_before(step, &entry.created_at, run)?;
    if let Some(same) = earlier.iter().find(|e| e.key == entry.key) {
        return Ok(Why::SameKey {
            key: entry.key.clone(),
            earlier_run: same.run_id.clone(),
            reason: entry
                .reason
                .clone()
                .unwrap_or_else(|| "the earlier result could not be used".into()),
        });
    }
    let closest = earlier
        .iter()
        .map(|e| (differences(repo, &entry, e), e))
        .min_by_key(|(d, _)| d.len());
    Ok(match closest {
        None => Why::NoEarlierEntry { key: entry.key },
        Some((differences, e)) => Why::KeyDiffers {
            key: entry.key.clone(),
            earlier_run: e.run_id.clone(),
            differences,
        },
    })
}

fn parts_of(entry: &CacheEntry) -> Option<KeyParts> {
    serde_json::from_str(&entry.parts).ok()
}

/// The parts in which `now` differs from `before`.
fn differences(
    repo: Option<&git2::Repository>,
    now: &CacheEntry,
    before: &CacheEntry,
) -> Vec<String> {
    let (Some(a), Some(b)) = (parts_of(before), parts_of(now)) else {
        return vec!["the key's layout (an entry of another pipeline version)".into()];
    };
    let mut out = Vec::new();
    if a.version != b.version {
        out.push(format!("key version: {} -> {}", a.version, b.version));
    }
    let names: std::collections::BTreeSet<&String> =
        a.definition.keys().chain(b.definition.keys()).collect();
    for name in names {
        if a.definition.get(name) != b.definition.get(name) {
            out.push(format!("definition field `{name}`"));
        }
    }
    let (ta, tb) = (&a.tool, &b.tool);
    let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "none".into());
    if ta.name != tb.name {
        out.push(format!("tool: {} -> {}", ta.name, tb.name));
    }
    if ta.command != tb.command {
        out.push(format!(
            "tool command: {} -> {}",
            show(&ta.command),
            show(&tb.command)
        ));
    }
    if ta.args != tb.args {
        out.push("tool arguments".into());
    }
    if ta.model != tb.model {
        out.push(format!(
            "tool model: {} -> {}",
            show(&ta.model),
            show(&tb.model)
        ));
    }
    if ta.version != tb.version {
        out.push(format!(
            "tool version: {} -> {}",
            show(&ta.version),
            show(&tb.version)
        ));
    }
    if a.inputs.globs != b.inputs.globs {
        out.push("definition field `inputs`".into());
    } else if a.inputs.tree != b.inputs.tree {
        match repo.and_then(|r| changed_inputs(r, before, now, b.inputs.globs.as_deref())) {
            Some(paths) if !paths.is_empty() => {
                out.extend(paths.into_iter().map(|p| format!("input path {p} changed")))
            }
            _ => out.push("input tree".into()),
        }
    }
    if a.specs != b.specs {
        out.push("referenced OpenSpec texts".into());
    }
    out
}

/// Paths read by the step that differ between the two entries' start commits.
fn changed_inputs(
    repo: &git2::Repository,
    before: &CacheEntry,
    now: &CacheEntry,
    globs: Option<&[String]>,
) -> Option<Vec<String>> {
    let files = |hex: &str| -> Option<BTreeMap<String, (i32, Oid)>> {
        let oid = Oid::from_str(hex).ok()?;
        let listed = input_files(repo, oid, globs, &[]).ok()?;
        Some(listed.into_iter().map(|(p, m, id)| (p, (m, id))).collect())
    };
    let (a, b) = (files(&before.start_commit)?, files(&now.start_commit)?);
    let mut paths: Vec<String> = a
        .keys()
        .chain(b.keys())
        .filter(|p| a.get(*p) != b.get(*p))
        .cloned()
        .collect();
    paths.sort();
    paths.dedup();
    Some(paths)
}
