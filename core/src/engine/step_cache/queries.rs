//! What `pipeline cache` and `pipeline why` read: the step cache of a repository's state
//! database (docs/CACHE.md).

use std::path::Path;

use super::why::{Why, why};
use crate::engine::queries::resolve_run;
use crate::engine::webhook_deliveries::delivery_workspace;
use crate::engine::{EngineError, Workspace};
use crate::state::{CacheEntry, CacheStats, Durability, StateStore};

/// The state database of `repo` (or the current directory's repository) or `db`; `None`
/// when there is none yet.
fn open(
    repo: Option<&Path>,
    db: Option<&Path>,
) -> Result<(Workspace, Option<StateStore>), EngineError> {
    let workspace = delivery_workspace(repo, db)?;
    if !workspace.db_path.exists() {
        return Ok((workspace, None));
    }
    let state = StateStore::open(&workspace.db_path, Durability::Normal)?;
    Ok((workspace, Some(state)))
}

/// Every cache entry, oldest first (none without a database).
///
/// Errors: [`EngineError::Input`] for a `--repo` that is no repository,
/// [`EngineError::State`].
pub fn cache_entries(
    repo: Option<&Path>,
    db: Option<&Path>,
) -> Result<Vec<CacheEntry>, EngineError> {
    match open(repo, db)? {
        (_, Some(state)) => Ok(state.cache_entries()?),
        (_, None) => Ok(Vec::new()),
    }
}

/// Counts over the cache entries.
///
/// Errors: as [`cache_entries`].
pub fn cache_stats(repo: Option<&Path>, db: Option<&Path>) -> Result<CacheStats, EngineError> {
    match open(repo, db)? {
        (_, Some(state)) => Ok(state.cache_stats()?),
        (_, None) => Ok(CacheStats::default()),
    }
}

/// Deletes every cache entry; returns how many there were. Runs are untouched.
///
/// Errors: as [`cache_entries`].
pub fn clear_cache(repo: Option<&Path>, db: Option<&Path>) -> Result<u64, EngineError> {
    match open(repo, db)? {
        (_, Some(state)) => Ok(state.clear_cache()?),
        (_, None) => Ok(0),
    }
}

/// Why step `step` of run `run` (`latest`: the newest run) ran, or where its result came
/// from; with the resolved run id.
///
/// Errors: [`EngineError::UnknownRun`], [`EngineError::Input`] (`latest` with no run, no
/// repository), [`EngineError::State`].
pub fn why_step(
    repo: Option<&Path>,
    db: Option<&Path>,
    run: &str,
    step: &str,
) -> Result<(String, Why), EngineError> {
    let (workspace, state) = open(repo, db)?;
    let Some(state) = state else {
        return Err(EngineError::UnknownRun(run.to_owned()));
    };
    let run_id = resolve_run(&state, Some(run))?.run_id;
    let git = git2::Repository::open(&workspace.repo_root).ok();
    Ok((run_id.clone(), why(&state, git.as_ref(), &run_id, step)?))
}

/// The shared cache as `pipeline cache list|stats` shows it: the configured remote and the
/// keys of its entries (one `git ls-remote`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RemoteCache {
    /// The git remote (`cache.remote` of `.pipeline/config.yaml`).
    pub remote: String,
    /// Keys with a ref `refs/pipeline-cache/<key>` there, sorted; empty when it could not
    /// be listed.
    pub keys: Vec<String>,
    /// Why the remote could not be listed (unreachable, no such remote), if it could not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The shared cache of `repo` (or the current directory's repository): `None` without
/// `cache.remote`. A remote that cannot be listed, or a broken configuration file, is
/// reported in [`RemoteCache::error`] / as `None` with a warning, never as an error.
///
/// Errors: [`EngineError::Input`] for a `--repo` that is no repository.
pub fn remote_cache(
    repo: Option<&Path>,
    db: Option<&Path>,
) -> Result<Option<RemoteCache>, EngineError> {
    let workspace = delivery_workspace(repo, db)?;
    let remote = match super::remote::configured_remote(&workspace.state_dir) {
        Ok(Some(remote)) => remote,
        Ok(None) => return Ok(None),
        Err(e) => {
            tracing::warn!("no shared cache: {e}");
            return Ok(None);
        }
    };
    Ok(Some(
        match super::remote::list(&workspace.repo_root, &remote) {
            Ok(keys) => RemoteCache {
                remote,
                keys,
                error: None,
            },
            Err(e) => RemoteCache {
                remote,
                keys: Vec::new(),
                error: Some(e),
            },
        },
    ))
}
