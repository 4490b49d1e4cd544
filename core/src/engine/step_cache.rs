//! The cross-run step cache (issue #15, docs/CACHE.md): a step whose content key matches a
//! completed step of an earlier run in the same state database is satisfied from that
//! step's result instead of running its tool and tests.
//!
//! ```text
//!  merge inputs ──► key (definition, tool + version, input tree, specs)
//!                     │
//!        entries with the key, newest first (other runs)
//!                     │  result commit gone / cherry-pick conflicts ──► next entry
//!                     ▼
//!  hit: cached change re-applied on the start commit ──► branch pipeline-steps/<run>/<step>
//!       ──► `step_cached` + `step_completed` (attempt 0) + checkpoint, one transaction
//!  miss: the step runs; once completed its entry (key, parts, commits) is written
//! ```
//!
//! The hook sits in [`super::step_lifecycle`] between the merge of a step's inputs and its
//! worktree. `--no-cache` and `cache: false` skip the lookup; the step's entry is still
//! written (with the reason), so `pipeline why` can tell. Entries are written after the
//! completion is journalled: a crash in between costs a later run one miss, nothing else.

pub(crate) mod key;
pub mod queries;
pub mod why;

use std::sync::Arc;
use std::time::Instant;

use git2::Oid;

use super::run_context::RunContext;
use super::step_error::StepError;
use super::step_lifecycle::StepResult;
use crate::model::Step;
use crate::state::{
    CacheEntry, CachedFrom, Change, Checkpoint, CheckpointOutputs, Event, timestamp_now,
};
use key::{InputsPart, KEY_VERSION, KeyParts};

/// A step that runs: what its entry records once it completes.
pub(crate) struct Pending {
    key: String,
    parts: KeyParts,
    start: Oid,
    /// Why it runs although an entry with its key exists, when one does.
    reason: Option<String>,
}

/// What the lookup found.
pub(crate) enum Lookup {
    /// The step is completed from the cache (recorded).
    Hit(StepResult),
    /// The step runs; `None` when its key could not be computed (no entry then).
    Miss(Option<Box<Pending>>),
}

/// A cached result re-applied on the step's start commit.
struct Reapplied {
    commit: Oid,
    changed: Vec<String>,
    from: CacheEntry,
}

/// Looks step `idx` up by its key at start commit `start` (the merge of `inputs`). On a
/// hit the step is recorded completed (`step_cached`, `step_completed`, checkpoint) and
/// its entry written; a failed journal write is the only error.
pub(crate) async fn lookup(
    ctx: &Arc<RunContext>,
    idx: usize,
    inputs: &[Oid],
    start: Oid,
    started: Instant,
) -> Result<Lookup, StepError> {
    let step = &ctx.set.steps[idx];
    let worker = Arc::clone(ctx);
    let found = tokio::task::spawn_blocking(move || find(&worker, idx, start)).await;
    let (parts, reapplied, reason) = match found {
        Ok(Ok(found)) => found,
        Ok(Err(e)) => {
            tracing::warn!("step {}: no cache key: {e}", step.id);
            return Ok(Lookup::Miss(None));
        }
        Err(e) => {
            tracing::warn!("step {}: no cache key: {e}", step.id);
            return Ok(Lookup::Miss(None));
        }
    };
    let key = parts.key();
    let Some(hit) = reapplied else {
        return Ok(Lookup::Miss(Some(Box::new(Pending {
            key,
            parts,
            start,
            reason,
        }))));
    };
    let id = step.id.as_str().to_owned();
    let commit = hit.commit.to_string();
    let checkpoint = Checkpoint {
        commit: commit.clone(),
        definition_hash: step.definition_hash.clone(),
        outputs: CheckpointOutputs {
            version: CheckpointOutputs::VERSION,
            inputs: inputs.iter().map(Oid::to_string).collect(),
            start_commit: start.to_string(),
            changed: hit.changed,
            tests: Vec::new(),
            attempt: 0,
            tool: None,
            usage: None,
        },
    };
    ctx.journal.record_changes_with_next_write(vec![
        Change::Event(Event::StepCached {
            step: id.clone(),
            key: key.clone(),
            from_run: hit.from.run_id.clone(),
            from_step: hit.from.step_id.clone(),
            commit: commit.clone(),
        }),
        Change::Event(Event::StepCompleted {
            step: id.clone(),
            attempt: 0,
            commit: commit.clone(),
            duration_ms: started.elapsed().as_millis() as u64,
        }),
        Change::Checkpoint {
            step: &id,
            checkpoint: &checkpoint,
        },
    ])?;
    let entry = CacheEntry {
        run_id: ctx.run_id.clone(),
        step_id: id,
        key,
        parts: serde_json::to_string(&parts).unwrap_or_default(),
        result_commit: commit,
        start_commit: start.to_string(),
        cached_from: Some(CachedFrom {
            run: hit.from.run_id,
            step: hit.from.step_id,
        }),
        reason: None,
        created_at: timestamp_now(),
    };
    if let Err(e) = ctx.state.record_cache_entry(&entry) {
        tracing::warn!("step {}: cannot write its cache entry: {e}", step.id);
    }
    Ok(Lookup::Hit(StepResult::Completed { commit: hit.commit }))
}

/// Writes the entry of a step that ran and completed with `commit`.
pub(crate) fn remember(ctx: &RunContext, step: &Step, pending: Box<Pending>, commit: Oid) {
    let entry = CacheEntry {
        run_id: ctx.run_id.clone(),
        step_id: step.id.as_str().to_owned(),
        key: pending.key,
        parts: serde_json::to_string(&pending.parts).unwrap_or_default(),
        result_commit: commit.to_string(),
        start_commit: pending.start.to_string(),
        cached_from: None,
        reason: pending.reason,
        created_at: timestamp_now(),
    };
    if let Err(e) = ctx.state.record_cache_entry(&entry) {
        tracing::warn!("step {}: cannot write its cache entry: {e}", step.id);
    }
}

/// The step's key parts and, unless the lookup is off or nothing fits, the cached result
/// re-applied on `start`; with the reason a matching entry was not used.
fn find(
    ctx: &RunContext,
    idx: usize,
    start: Oid,
) -> Result<(KeyParts, Option<Reapplied>, Option<String>), String> {
    let step = &ctx.set.steps[idx];
    let repo = ctx.repo.git2().map_err(|e| e.to_string())?;
    let parts = key_parts(ctx, step, &repo, start).map_err(|e| e.to_string())?;
    let key = parts.key();
    let entries = ctx
        .state
        .cache_entries_with_key(&key, &ctx.run_id)
        .map_err(|e| e.to_string())?;
    if entries.is_empty() {
        return Ok((parts, None, None));
    }
    if ctx.options.no_cache {
        return Ok((parts, None, Some("--no-cache".into())));
    }
    if !step.cache {
        return Ok((parts, None, Some("cache: false on the step".into())));
    }
    let mut why = Vec::new();
    for entry in entries {
        match reapply(&repo, &entry, start, &ctx.run_id, step.id.as_str()) {
            Ok(Ok((commit, changed))) => {
                return Ok((
                    parts,
                    Some(Reapplied {
                        commit,
                        changed,
                        from: entry,
                    }),
                    None,
                ));
            }
            Ok(Err(miss)) => why.push(format!("{} {}: {miss}", entry.run_id, entry.step_id)),
            Err(e) => why.push(format!("{} {}: {e}", entry.run_id, entry.step_id)),
        }
    }
    Ok((parts, None, Some(why.join("; "))))
}

/// The key parts of `step` starting at `start`.
pub(crate) fn key_parts(
    ctx: &RunContext,
    step: &Step,
    repo: &git2::Repository,
    start: Oid,
) -> Result<KeyParts, git2::Error> {
    let excluded = key::workstream_files(ctx.set.steps.iter(), &ctx.workspace.repo_root);
    let files = key::input_files(repo, start, step.inputs.as_deref(), &excluded)?;
    Ok(KeyParts {
        version: KEY_VERSION,
        definition: key::definition_part(step, &ctx.secrets),
        tool: key::tool_part(step, &ctx.registry, |name| ctx.registry.probe(name).version),
        inputs: InputsPart {
            globs: step.inputs.clone(),
            tree: key::tree_hash(&files),
        },
        specs: ctx
            .spec_texts
            .get(&step.id)
            .map(|t| key::sha256_hex(t.as_bytes())),
    })
}

/// `entry`'s change (its result against its own start) cherry-picked onto `start`, as a
/// commit on branch `pipeline-steps/<run>/<step>`, with the paths it changes; the inner
/// error says why the entry does not fit (commit gone, conflict).
#[allow(clippy::type_complexity)]
fn reapply(
    repo: &git2::Repository,
    entry: &CacheEntry,
    start: Oid,
    run: &str,
    step: &str,
) -> Result<Result<(Oid, Vec<String>), String>, git2::Error> {
    let find = |hex: &str| Oid::from_str(hex).and_then(|oid| repo.find_commit(oid));
    let Ok(result) = find(&entry.result_commit) else {
        return Ok(Err(format!(
            "its result commit {} no longer exists",
            entry.result_commit
        )));
    };
    let Ok(cached_start) = find(&entry.start_commit) else {
        return Ok(Err(format!(
            "its start commit {} no longer exists",
            entry.start_commit
        )));
    };
    let current = repo.find_commit(start)?;
    let commit = if cached_start.id() == start {
        result.id()
    } else {
        let mut index = repo.merge_trees(
            &cached_start.tree()?,
            &current.tree()?,
            &result.tree()?,
            None,
        )?;
        if index.has_conflicts() {
            let paths: Vec<String> = index
                .conflicts()?
                .filter_map(Result::ok)
                .filter_map(|c| c.our.or(c.their).or(c.ancestor))
                .map(|e| String::from_utf8_lossy(&e.path).into_owned())
                .collect();
            return Ok(Err(format!(
                "its change conflicts with this start commit in {}",
                paths.join(", ")
            )));
        }
        let tree = repo.find_tree(index.write_tree_to(repo)?)?;
        let message = result.message().unwrap_or("pipeline: cached step result");
        repo.commit(
            None,
            &result.author(),
            &result.committer(),
            message,
            &tree,
            &[&current],
        )?
    };
    repo.reference(
        &format!("refs/heads/pipeline-steps/{run}/{step}"),
        commit,
        true,
        &format!("pipeline: {step} from the step cache ({})", entry.run_id),
    )?;
    let new_tree = repo.find_commit(commit)?.tree()?;
    let diff = repo.diff_tree_to_tree(Some(&current.tree()?), Some(&new_tree), None)?;
    let changed = diff
        .deltas()
        .filter_map(|d| d.new_file().path().or(d.old_file().path()))
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    Ok(Ok((commit, changed)))
}
