//! `pipeline webhooks`: the webhook and notify deliveries of the outbox, and where a
//! delivering process finds the repository's configuration and database.

use std::path::{Path, PathBuf};

use super::queries::resolve_run;
use super::{EngineError, Workspace, repository_root_or_current_dir};
use crate::state::{DeliveryRecord, Durability, StateStore};

/// The deliveries of run `run` (`latest`: the newest run; `None`: every run), oldest
/// first, from the state database of `repo` (or of the repository containing the
/// current directory) or `db`. No database yet means no deliveries.
///
/// Errors: [`EngineError::UnknownRun`] for a run that is not recorded,
/// [`EngineError::Input`] for `latest` with no run, [`EngineError::State`].
pub fn webhook_deliveries(
    repo: Option<&Path>,
    db: Option<&Path>,
    run: Option<&str>,
) -> Result<Vec<DeliveryRecord>, EngineError> {
    let workspace = delivery_workspace(repo, db)?;
    if !workspace.db_path.exists() {
        if let Some(id) = run.filter(|id| *id != super::LATEST) {
            return Err(EngineError::UnknownRun(id.to_owned()));
        }
        return Ok(Vec::new());
    }
    let state = StateStore::open(&workspace.db_path, Durability::Normal)?;
    let run_id = match run {
        Some(run) => Some(resolve_run(&state, Some(run))?.run_id),
        None => None,
    };
    Ok(state.deliveries(run_id.as_deref())?)
}

/// The repository root, state directory (with `config.yaml`) and database path of
/// `repo` (or the current directory's repository) and `db`: where a delivering process
/// (`pipeline run`, `resume`, `serve`) reads endpoints and the outbox.
///
/// Errors: those of [`repository_root_or_current_dir`] (a `--repo` that is no
/// repository, an unreadable current directory).
pub fn delivery_workspace(
    repo: Option<&Path>,
    db: Option<&Path>,
) -> Result<Workspace, EngineError> {
    let root: PathBuf = repository_root_or_current_dir(repo)?;
    Ok(Workspace::new(&root, db))
}
