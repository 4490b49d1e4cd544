//! `pipeline step exec`: one step of a workstream, run in the current checkout, the way a
//! job of an exported GitHub Actions workflow runs it (docs/CI.md "Export to GitHub
//! Actions").
//!
//! ```text
//!  checkout (clean) ── git fetch REMOTE pipeline-steps/<run>/<dep> ... ──► refs/remotes/REMOTE/...
//!        │                                     (a missing ref is refused, exit 2)
//!        ▼
//!  merge HEAD + the dependencies' results ──► checkout detached at the merge (the run's base)
//!        ▼
//!  the usual run, of a set reduced to this one step (tool, setup, tests, scope check,
//!  error engine, redaction, cache) ──► result commit
//!        ▼
//!  git push REMOTE +<result>:refs/heads/pipeline-steps/<run>/<step>
//! ```
//!
//! The step is not re-implemented: the workstream files are loaded and planned as for
//! `pipeline run`, then the set is reduced to the one step, its dependencies dropped (their
//! results are already merged into the base), and driven through the same entry as a run
//! ([`super::run_driver::start_prepared`]). The step therefore starts from the same tree
//! as in a local `pipeline run` of the whole DAG: the merge of its dependencies' results,
//! which all descend from the same base commit. The run is recorded in the checkout's own
//! state database under the given run id, so `pipeline status`, `logs` and the CI reports
//! work in the job as after a run.

use std::path::PathBuf;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::run_driver::{PreparedRun, prepare, start_prepared};
use super::step_cache::remote::git;
use super::{EngineError, Reporter, RunOptions, RunSummary, UnfinishedPolicy};
use crate::git::{GitError, Repository, blocking, uncommitted_paths};
use crate::model::WorkstreamSet;
use crate::planning::Plan;
use crate::state::RunStatus;

/// The branch namespace of step results exchanged through the remote:
/// `pipeline-steps/<run>/<step>` (the same name the step's own branch has in a local run).
pub const STEP_BRANCH_PREFIX: &str = "pipeline-steps/";

/// The branch holding the result of `step` (`ws/step`) in run `run`:
/// `pipeline-steps/<run>/<step>`.
pub fn step_result_branch(run: &str, step: &str) -> String {
    format!("{STEP_BRANCH_PREFIX}{run}/{step}")
}

/// What `pipeline step exec` is asked to do.
#[derive(Debug, Clone)]
pub struct StepExec {
    /// Workstream files or directories the step is defined in.
    pub paths: Vec<PathBuf>,
    /// The step's id, `ws/step` (or `ws` for a workstream without steps).
    pub step: String,
    /// Branches on the remote to merge onto `HEAD` before the step runs (`--from`), each
    /// `pipeline-steps/<run>/<dep>` (a leading `refs/heads/` is accepted). Every
    /// dependency of the step in the plan must be among them.
    pub from: Vec<String>,
    /// The git remote to fetch from and push to (`--remote`, default `origin`).
    pub remote: String,
    /// Whether the result is pushed to `pipeline-steps/<run>/<step>` on the remote.
    pub push: bool,
}

/// `pipeline step exec` (see the module docs). `options.run_id` is the run id shared by
/// every job of the workflow (generated when `None`); `options.base`, `unfinished` and
/// `include_uncommitted` are set here. Returns the summary of the one-step run; when it
/// completed and `exec.push` is set, its result commit has been pushed.
///
/// # Errors
/// [`EngineError::Input`] (exit 2) when the checkout has uncommitted changes, the step does
/// not exist (naming the files and the closest step ids), a dependency has no `--from`
/// ref, a `--from` ref is missing on the remote, or the inputs conflict when merged; the
/// errors of preparing and driving a run; [`EngineError::Internal`] when git cannot fetch,
/// check out or push.
pub async fn exec_step(
    exec: StepExec,
    mut options: RunOptions,
    reporter: Arc<dyn Reporter>,
    cancel: CancellationToken,
) -> Result<RunSummary, EngineError> {
    crate::git::set_durable_writes(options.durability.fsyncs_git());
    let run_id = match &options.run_id {
        Some(id) => {
            super::check_run_id(id).map_err(EngineError::Input)?;
            id.clone()
        }
        None => super::generate_run_id(),
    };
    let start = match options.repo.clone() {
        Some(p) => p,
        None => super::repository_root::current_dir()?,
    };
    let repo = Repository::open(&start)?;
    refuse_dirty(&repo)?;
    let mut prepared = prepare(&exec.paths, &options)?;
    let idx = find_step(&prepared.set, &exec.step)?;
    let from = dependency_refs(&prepared, idx, &run_id, &exec.from)?;
    let root = prepared.workspace.repo_root.clone();
    let fetched = fetch_inputs(&root, &exec.remote, &from)?;
    let base = merge_onto_head(&prepared.repo, &exec.step, &fetched).await?;
    // The checkout is clean (checked above): moving it to the merge loses nothing, and
    // a step that runs in place (`isolation: none`) sees its dependencies' results.
    git(
        &root,
        &["checkout", "--quiet", "--detach", &base.to_string()],
    )
    .map_err(|e| EngineError::Internal(format!("cannot check out the merged inputs: {e}")))?;
    reduce_to_step(&mut prepared, idx)?;
    options.run_id = Some(run_id.clone());
    options.base = Some(base.to_string());
    options.include_uncommitted = false;
    options.unfinished = UnfinishedPolicy::New;
    let summary = start_prepared(prepared, options, reporter, cancel).await?;
    let (Some(result), RunStatus::Completed) = (&summary.result_commit, summary.status) else {
        return Ok(summary);
    };
    // The local branch holds the result whatever the run's worktree cleanup left.
    let oid = repo.resolve_commit(result)?;
    repo.set_branch(&step_result_branch(&run_id, &exec.step), oid)?;
    if exec.push {
        let refspec = format!(
            "+{result}:refs/heads/{}",
            step_result_branch(&run_id, &exec.step)
        );
        git(
            &root,
            &["push", "--quiet", "--no-verify", &exec.remote, &refspec],
        )
        .map_err(|e| {
            EngineError::Internal(format!(
                "step {} completed (result {result}) but its result could not be pushed to \
                 remote `{}`: {e}",
                exec.step, exec.remote
            ))
        })?;
    }
    Ok(summary)
}

/// Refuses a checkout with uncommitted changes: the step starts from commits, and moving
/// the checkout to the merged inputs would overwrite them.
fn refuse_dirty(repo: &Repository) -> Result<(), EngineError> {
    let dirty = uncommitted_paths(repo)?;
    if dirty.is_empty() {
        return Ok(());
    }
    let shown: Vec<&str> = dirty.iter().take(10).map(String::as_str).collect();
    Err(EngineError::Input(format!(
        "the checkout {} has {} uncommitted change(s) ({}{}): `pipeline step exec` checks out \
         the merge of the step's inputs and would overwrite them\n  hint: commit or stash \
         them, or run the step in a fresh clone",
        repo.workdir().display(),
        dirty.len(),
        shown.join(", "),
        if dirty.len() > shown.len() {
            ", ..."
        } else {
            ""
        },
    )))
}

/// How many close step ids an unknown step's error names at most.
const CLOSE_MATCHES: usize = 3;

/// The position of step `id` in `set`; an unknown id is an input error naming the files
/// read and the closest step ids by edit distance.
fn find_step(set: &WorkstreamSet, id: &str) -> Result<usize, EngineError> {
    if let Some(i) = set.steps.iter().position(|s| s.id.as_str() == id) {
        return Ok(i);
    }
    let mut close: Vec<(usize, &str)> = set
        .steps
        .iter()
        .map(|s| (strsim::levenshtein(id, s.id.as_str()), s.id.as_str()))
        .filter(|(d, c)| *d <= (id.len().max(c.len()) / 3).max(2) || c.starts_with(id))
        .collect();
    close.sort();
    let files: Vec<String> = set.files.iter().map(|f| f.display().to_string()).collect();
    let hint = if close.is_empty() {
        "`pipeline plan` lists the steps".to_string()
    } else {
        format!(
            "did you mean {}? (`pipeline plan` lists the steps)",
            close
                .iter()
                .take(CLOSE_MATCHES)
                .map(|(_, c)| format!("`{c}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    Err(EngineError::Input(format!(
        "no step `{id}` in {}\n  hint: {hint}",
        files.join(", ")
    )))
}

/// The `--from` branches, normalised (no `refs/heads/`); every dependency of step `idx`
/// in the plan (declared, or implicit from overlapping scopes) must have its
/// `pipeline-steps/<run>/<dep>` among them, else the step would start from a different
/// tree than in a local run.
fn dependency_refs(
    prepared: &PreparedRun,
    idx: usize,
    run_id: &str,
    from: &[String],
) -> Result<Vec<String>, EngineError> {
    let from: Vec<String> = from
        .iter()
        .map(|r| r.strip_prefix("refs/heads/").unwrap_or(r).to_string())
        .collect();
    let step = &prepared.set.steps[idx];
    let missing: Vec<String> = prepared.plan.deps[idx]
        .iter()
        .map(|&d| step_result_branch(run_id, prepared.set.steps[d].id.as_str()))
        .filter(|r| !from.contains(r))
        .collect();
    if !missing.is_empty() {
        return Err(EngineError::Input(format!(
            "step {} depends on results not given with --from: {}\n  hint: pass --from \
             {} (the branches its dependencies' jobs pushed; `pipeline export` writes them)",
            step.id,
            missing.join(", "),
            missing.join(" --from ")
        )));
    }
    Ok(from)
}

/// Fetches `refs` from `remote` into `refs/remotes/<remote>/<ref>` and returns those
/// local refs. A ref the remote does not have is an input error naming it.
fn fetch_inputs(
    root: &std::path::Path,
    remote: &str,
    refs: &[String],
) -> Result<Vec<String>, EngineError> {
    if refs.is_empty() {
        return Ok(Vec::new());
    }
    let mut args = vec!["ls-remote".to_string(), remote.to_string()];
    args.extend(refs.iter().map(|r| format!("refs/heads/{r}")));
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let listed = git(root, &argv).map_err(|e| {
        EngineError::Input(format!(
            "cannot list the refs of remote `{remote}`: {e}\n  hint: --remote names a git \
             remote of this checkout (`git remote -v`)"
        ))
    })?;
    let present: Vec<&str> = listed
        .lines()
        .filter_map(|l| l.split('\t').nth(1))
        .collect();
    let absent: Vec<&str> = refs
        .iter()
        .filter(|r| !present.contains(&format!("refs/heads/{r}").as_str()))
        .map(String::as_str)
        .collect();
    if !absent.is_empty() {
        return Err(EngineError::Input(format!(
            "dependency result(s) missing on remote `{remote}`: {}\n  hint: the job of each \
             of these steps must complete (and push its result) before this one; check the \
             --run id is the one those jobs used",
            absent.join(", ")
        )));
    }
    let mut args = vec![
        "fetch".to_string(),
        "--quiet".to_string(),
        "--no-tags".to_string(),
        remote.to_string(),
    ];
    let local: Vec<String> = refs
        .iter()
        .map(|r| format!("refs/remotes/{remote}/{r}"))
        .collect();
    args.extend(
        refs.iter()
            .zip(&local)
            .map(|(r, l)| format!("+refs/heads/{r}:{l}")),
    );
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    git(root, &argv).map_err(|e| {
        EngineError::Internal(format!(
            "cannot fetch the dependency results from `{remote}`: {e}"
        ))
    })?;
    Ok(local)
}

/// The merge of `HEAD` and the fetched `inputs` (`HEAD` itself when there are none, or a
/// fetched commit when it contains everything else). A conflict is an input error listing
/// the paths.
async fn merge_onto_head(
    repo: &Repository,
    step: &str,
    inputs: &[String],
) -> Result<git2::Oid, EngineError> {
    let mut commits = vec![repo.resolve_commit("HEAD")?];
    for r in inputs {
        commits.push(repo.resolve_commit(r)?);
    }
    let r = repo.clone();
    let message = format!("pipeline: inputs of step {step}");
    match blocking(move || r.merge_commits(&commits, &message)).await {
        Ok(oid) => Ok(oid),
        Err(GitError::MergeConflict { paths }) => Err(EngineError::Input(format!(
            "the inputs of step {step} conflict when merged onto HEAD: {}\n  hint: the \
             dependencies' results (--from) and HEAD change the same lines; run the workflow \
             again from a commit that does not conflict with them",
            paths.join(", ")
        ))),
        Err(e) => Err(e.into()),
    }
}

/// Reduces `prepared` to step `idx` alone, without dependencies: their results are
/// already merged into the run's base. Its definition hash is kept (it still covers the
/// declared dependencies, as in a local run); the step cache's key leaves `depends_on` out
/// anyway (docs/CACHE.md).
fn reduce_to_step(prepared: &mut PreparedRun, idx: usize) -> Result<(), EngineError> {
    let set = &prepared.set;
    let mut step = set.steps[idx].clone();
    step.depends_on.clear();
    let reduced = WorkstreamSet::new(
        set.workstreams.clone(),
        vec![step],
        set.notes.clone(),
        set.files.clone(),
    );
    prepared.plan = Plan::build(&reduced)?;
    prepared.set = reduced;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_result_branches_are_namespaced_by_run() {
        assert_eq!(
            step_result_branch("42", "ws/a"),
            "pipeline-steps/42/ws/a".to_string()
        );
    }
}
