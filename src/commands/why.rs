//! `pipeline why RUN STEP [--json]`: why a step ran, or where its result came from
//! (docs/CACHE.md "Why a step ran").

use pipeline_core::engine::{Why, why_step};

use super::exit;
use crate::cli::RepoArgs;
use crate::command_error::CommandError;
use crate::json_output::print_json;

/// Prints the verdict; with `--json` `{"run": ..., "step": ..., "verdict": ..., ...}`.
/// Errors: from the engine (unknown run, no repository, the database).
pub fn why(run: &str, step: &str, json: bool, repo: &RepoArgs) -> Result<i32, CommandError> {
    let (run_id, verdict) = why_step(repo.repo.as_deref(), repo.db.as_deref(), run, step)?;
    if json {
        let mut value = serde_json::to_value(&verdict).unwrap_or_default();
        if let Some(object) = value.as_object_mut() {
            object.insert("run".into(), run_id.into());
            object.insert("step".into(), step.into());
        }
        print_json(&value)?;
        return Ok(exit::OK);
    }
    print!("{}", text(&run_id, step, &verdict));
    Ok(exit::OK)
}

fn text(run: &str, step: &str, verdict: &Why) -> String {
    match verdict {
        Why::NotCompleted => format!(
            "{step} has no cache entry in run {run}: it did not complete there (see `pipeline status {run}`)\n"
        ),
        Why::Cached {
            from,
            remote: Some(remote),
            ..
        } => format!(
            "{step} did not run in {run}: its result was taken from the shared cache (remote {remote}): run {} (step {}) elsewhere, whose cache key matched\n",
            from.run, from.step
        ),
        Why::Cached { from, .. } => format!(
            "{step} did not run in {run}: its result was taken from run {} (step {}), whose cache key matched\n",
            from.run, from.step
        ),
        Why::NoEarlierEntry { .. } => format!(
            "{step} ran in {run}: no earlier run completed it, so there was no result to reuse\n"
        ),
        Why::SameKey {
            earlier_run,
            reason,
            ..
        } => format!(
            "{step} ran in {run} although run {earlier_run} had the same cache key: {reason}\n"
        ),
        Why::KeyDiffers {
            earlier_run,
            differences,
            ..
        } => {
            let mut out = format!(
                "{step} ran in {run}: its cache key differs from run {earlier_run}'s in:\n"
            );
            for d in differences {
                out.push_str(&format!("  - {d}\n"));
            }
            out
        }
    }
}
