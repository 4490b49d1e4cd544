//! `GET /api/runs/{run}/steps/{step}/diff`: what a step changed, as a unified diff of its
//! result commit against the commit its worktree started at.

use std::path::Path;

use super::{open, resolve_run, unknown_step};
use crate::engine::EngineError;
use crate::git::GitError;

/// A step's changes.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StepDiff {
    /// The run (resolved: never `latest`).
    pub run_id: String,
    /// The step.
    pub step: String,
    /// Hex commit the step started at: its checkpoint's `start_commit`, or, without
    /// one, the result commit's first parent.
    pub from: String,
    /// Hex result commit.
    pub to: String,
    /// Unified diff (`git diff from to`), with `diff --git` headers; empty when the step
    /// changed nothing.
    pub patch: String,
}

/// The diff of step `step_id` of run `run_id` (or `latest`), or `None` when the step
/// has no result commit yet (its own, or, awaiting approval, its checkpoint's).
///
/// Errors: [`EngineError::UnknownRun`]; [`EngineError::Input`] for a step the run does
/// not have; [`EngineError::Git`] when a commit cannot be read (e.g. removed by `git gc`
/// after `pipeline clean`).
pub fn step_diff(
    repo: Option<&Path>,
    db: Option<&Path>,
    run_id: &str,
    step_id: &str,
) -> Result<Option<StepDiff>, EngineError> {
    let (repository, _, state) = open(repo, db)?;
    let run_id = resolve_run(&state, Some(run_id))?.run_id;
    let Some(record) = state.step(&run_id, step_id)? else {
        let known = state.steps(&run_id)?;
        let ids: Vec<&str> = known.iter().map(|s| s.step_id.as_str()).collect();
        return Err(EngineError::Input(unknown_step(&run_id, step_id, &ids)));
    };
    // A step awaiting approval has its result checkpointed, not yet recorded on the step.
    let checkpoint = state.checkpoint(&run_id, step_id)?;
    let Some(to) = record
        .commit
        .or_else(|| checkpoint.as_ref().map(|c| c.commit.clone()))
    else {
        return Ok(None);
    };
    let start = checkpoint
        .map(|c| c.outputs.start_commit)
        .filter(|s| !s.is_empty());
    let path = repository.workdir().to_path_buf();
    let git = repository.git2()?;
    let read = |what: &str| GitError::git(format!("read {what}"), &path);
    let to_oid = git2::Oid::from_str(&to).map_err(read("the step's result commit"))?;
    let to_commit = git
        .find_commit(to_oid)
        .map_err(read("the step's result commit"))?;
    let from_commit = match start {
        Some(s) => {
            let oid = git2::Oid::from_str(&s).map_err(read("the step's start commit"))?;
            git.find_commit(oid)
                .map_err(read("the step's start commit"))?
        }
        None => to_commit
            .parent(0)
            .map_err(read("the parent of the step's result commit"))?,
    };
    let old = from_commit.tree().map_err(read("a commit's tree"))?;
    let new = to_commit.tree().map_err(read("a commit's tree"))?;
    let diff = git
        .diff_tree_to_tree(Some(&old), Some(&new), None)
        .map_err(read("the diff"))?;
    let mut patch: Vec<u8> = Vec::new();
    diff.print(git2::DiffFormat::Patch, |_, _, line| {
        if matches!(line.origin(), '+' | '-' | ' ') {
            patch.push(line.origin() as u8);
        }
        patch.extend_from_slice(line.content());
        true
    })
    .map_err(read("the diff"))?;
    Ok(Some(StepDiff {
        run_id,
        step: step_id.to_owned(),
        from: from_commit.id().to_string(),
        to,
        patch: String::from_utf8_lossy(&patch).into_owned(),
    }))
}
