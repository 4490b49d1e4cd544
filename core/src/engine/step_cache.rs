//! The cross-run step cache (issue #15, docs/CACHE.md): a step whose content key matches a
//! completed step of an earlier run in the same state database is satisfied from that
//! step's result instead of running its tool and tests.
//!
//! ```text
//!  merge inputs ──► key (definition, tool + version, input tree, specs)
//!                     │
//!        entries with the key, newest first (other runs)
//!                     │  result commit gone / cherry-pick conflicts ──► next entry
//!                     │  none fits, `cache.remote` set ──► fetch refs/pipeline-cache/<key>
//!                     ▼
//!  hit: cached change re-applied on the start commit ──► branch pipeline-steps/<run>/<step>
//!       (--verify-cached: acceptance tests run on it; one fails ──► miss)
//!       ──► `step_cached` + `step_completed` (attempt 0) + checkpoint, one transaction
//!  miss: the step runs; once completed its entry (key, parts, commits) is written and,
//!       with `cache.remote`, pushed to refs/pipeline-cache/<key> there (remote.rs)
//! ```
//!
//! The hook sits in [`super::step_lifecycle`] between the merge of a step's inputs and its
//! worktree. `--no-cache` and `cache: false` skip the lookup; the step's entry is still
//! written (with the reason), so `pipeline why` can tell. Entries are written after the
//! completion is journalled: a crash in between costs a later run one miss, nothing else.

pub(crate) mod key;
pub mod queries;
pub(crate) mod remote;
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
    /// The shared cache's remote it was fetched from; `None` for a local entry.
    remote: Option<String>,
}

/// Looks step `idx` up by its key at start commit `start` (the merge of `inputs`): local
/// entries newest first, then the shared cache's remote. With `--verify-cached` a hit's
/// acceptance tests run on the re-applied result first; a failure makes it a miss (the
/// first fitting entry decides, later ones are not tried). On a hit the step is recorded
/// completed (`step_cached`, `step_completed`, checkpoint) and its entry written; a failed
/// journal write is the only error.
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
    let mut tests = Vec::new();
    if ctx.options.verify_cached && !step.acceptance_tests.is_empty() {
        match verify(ctx, step, hit.commit).await? {
            Ok(passed) => tests = passed,
            Err(failed) => {
                let reason = format!(
                    "--verify-cached: {failed} on the result taken from {} {}",
                    hit.from.run_id, hit.from.step_id
                );
                tracing::warn!("step {}: {reason}; the step runs", step.id);
                return Ok(Lookup::Miss(Some(Box::new(Pending {
                    key,
                    parts,
                    start,
                    reason: Some(reason),
                }))));
            }
        }
    }
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
            tests,
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
            remote: hit.remote.clone(),
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
        reason: hit.remote.as_deref().map(remote::shared_reason),
        created_at: timestamp_now(),
    };
    if let Err(e) = ctx.state.record_cache_entry(&entry) {
        tracing::warn!("step {}: cannot write its cache entry: {e}", step.id);
    }
    Ok(Lookup::Hit(StepResult::Completed { commit: hit.commit }))
}

/// `--verify-cached`: runs `step`'s acceptance tests (as attempt 0, journalled) in its
/// worktree checked out at the re-applied result `commit`. The inner error names the
/// failing test; an interruption counts as a failure (the step then runs and stops).
async fn verify(
    ctx: &Arc<RunContext>,
    step: &Step,
    commit: Oid,
) -> Result<Result<Vec<crate::state::TestResult>, String>, StepError> {
    let pool = ctx.pool.clone();
    let path = step.id.as_str().to_owned();
    let branch = format!("pipeline-steps/{}/{}", ctx.run_id, step.id);
    let acquired = tokio::task::spawn_blocking(move || pool.acquire(&path, &branch, commit)).await;
    let worktree = match acquired {
        Ok(Ok(wt)) => wt,
        Ok(Err(e)) => {
            return Ok(Err(format!(
                "no worktree to run the acceptance tests in: {e}"
            )));
        }
        Err(e) => {
            return Ok(Err(format!(
                "no worktree to run the acceptance tests in: {e}"
            )));
        }
    };
    let limits = pipeline_adapters::OutputLimits {
        max_log_bytes: ctx.options.max_log_bytes,
        ..pipeline_adapters::OutputLimits::default()
    };
    let cancel = ctx.cancel.child_token();
    let outcome =
        super::attempt::run_acceptance_tests(ctx, step, worktree.path(), 0, &limits, &cancel).await;
    let pool = ctx.pool.clone();
    if let Ok(Err(e)) = tokio::task::spawn_blocking(move || pool.release(worktree)).await {
        tracing::warn!(
            "step {}: cannot release the worktree of --verify-cached: {e}",
            step.id
        );
    }
    match outcome {
        Ok(tests) => Ok(Ok(tests)),
        Err(super::attempt::Failure::Journal(e)) => Err(e),
        Err(super::attempt::Failure::Interrupted { .. }) => Ok(Err(
            "the run was interrupted during its acceptance tests".into(),
        )),
        Err(super::attempt::Failure::Attempt(failed)) => Ok(Err(failed
            .error
            .lines()
            .next()
            .unwrap_or("an acceptance test failed")
            .to_owned())),
    }
}

/// Writes the entry of a step that ran and completed with `commit` and, with a shared
/// cache (`cache.remote`), pushes it there; a failed push is a warning.
pub(crate) async fn remember(
    ctx: &Arc<RunContext>,
    step: &Step,
    pending: Box<Pending>,
    commit: Oid,
) {
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
    let remote = match remote::configured_remote(&ctx.workspace.state_dir) {
        Ok(Some(remote)) => remote,
        Ok(None) => return,
        Err(e) => {
            tracing::warn!("step {}: no shared cache: {e}", step.id);
            return;
        }
    };
    let root = ctx.workspace.repo_root.clone();
    let pushed = tokio::task::spawn_blocking(move || {
        remote::push(&root, &remote, &entry).map_err(|e| (remote, e))
    })
    .await;
    match pushed {
        Ok(Ok(_)) => {}
        Ok(Err((remote, e))) => tracing::warn!(
            "step {}: its cache entry was not pushed to the shared cache (remote {remote}): {e}",
            step.id
        ),
        Err(e) => tracing::warn!("step {}: its cache entry was not pushed: {e}", step.id),
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
    let off = if ctx.options.no_cache {
        Some("--no-cache")
    } else if !step.cache {
        Some("cache: false on the step")
    } else {
        None
    };
    if let Some(off) = off {
        let reason = (!entries.is_empty()).then(|| off.to_owned());
        return Ok((parts, None, reason));
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
                        remote: None,
                    }),
                    None,
                ));
            }
            Ok(Err(miss)) => why.push(format!("{} {}: {miss}", entry.run_id, entry.step_id)),
            Err(e) => why.push(format!("{} {}: {e}", entry.run_id, entry.step_id)),
        }
    }
    // A local miss: the shared cache, when one is configured.
    let shared = match remote::configured_remote(&ctx.workspace.state_dir) {
        Ok(shared) => shared,
        Err(e) => {
            tracing::warn!("step {}: no shared cache: {e}", step.id);
            None
        }
    };
    if let Some(name) = shared {
        match remote::fetch_listed(&ctx.workspace.repo_root, &name, &key) {
            Ok(None) => {}
            Ok(Some(entry)) => match reapply(&repo, &entry, start, &ctx.run_id, step.id.as_str()) {
                Ok(Ok((commit, changed))) => {
                    return Ok((
                        parts,
                        Some(Reapplied {
                            commit,
                            changed,
                            from: entry,
                            remote: Some(name),
                        }),
                        None,
                    ));
                }
                Ok(Err(miss)) => why.push(format!("the shared cache (remote {name}): {miss}")),
                Err(e) => why.push(format!("the shared cache (remote {name}): {e}")),
            },
            Err(e) => tracing::warn!(
                "step {}: the shared cache (remote {name}) could not be read: {e}",
                step.id
            ),
        }
    }
    let reason = (!why.is_empty()).then(|| why.join("; "));
    Ok((parts, None, reason))
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
