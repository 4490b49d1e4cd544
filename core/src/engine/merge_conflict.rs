//! Explaining a merge conflict between step results: which files conflict, which steps
//! touched each of them, and what to change (issue #11, what must hold 2).
//!
//! A step's own change is the diff from the commit it started at to its result commit,
//! both recorded in its checkpoint; only steps whose result takes part in the failed
//! merge (a merged commit or an ancestor of one) are named. Used when a step's
//! dependencies' results conflict and when the run's result branch cannot be built.

use git2::Oid;

use super::run_context::RunContext;
use crate::git::{ConflictingPath, StepChange, blocking};

/// The own changes of the run's completed steps, from their checkpoints. Steps whose
/// checkpoint cannot be read or parsed are left out (the message then names fewer steps).
fn recorded_changes(ctx: &RunContext) -> Vec<StepChange> {
    let Ok(steps) = ctx.state.steps(&ctx.run_id) else {
        return Vec::new();
    };
    steps
        .iter()
        .filter(|s| s.commit.is_some())
        .filter_map(|s| {
            let cp = ctx.state.checkpoint(&ctx.run_id, &s.step_id).ok()??;
            Some(StepChange {
                step: s.step_id.clone(),
                start: Oid::from_str(&cp.outputs.start_commit).ok()?,
                result: Oid::from_str(&cp.commit).ok()?,
            })
        })
        .collect()
}

/// Which of the run's steps touched each of `paths` among the work merged in `heads`;
/// each path with no step when that cannot be found out.
pub(crate) async fn conflict_authors(
    ctx: &RunContext,
    heads: &[Oid],
    paths: &[String],
) -> Vec<ConflictingPath> {
    let changes = recorded_changes(ctx);
    let repo = ctx.repo.clone();
    let (heads, wanted) = (heads.to_vec(), paths.to_vec());
    blocking(move || repo.conflict_authors(&heads, &changes, &wanted))
        .await
        .unwrap_or_else(|_| {
            paths
                .iter()
                .map(|p| ConflictingPath {
                    path: p.clone(),
                    steps: Vec::new(),
                })
                .collect()
        })
}

/// The message of a conflict: `what` (e.g. "merging the results of its dependencies
/// conflicts"), then one line per file with the steps that changed it, then what to do.
///
/// ```text
/// merging the results of its dependencies conflicts in 1 file:
///   shared.txt: changed by steps a and b
///   hint: ...
/// ```
pub(crate) fn conflict_text(what: &str, conflicts: &[ConflictingPath]) -> String {
    let n = conflicts.len();
    let mut text = format!("{what} in {n} file{}:", if n == 1 { "" } else { "s" });
    for c in conflicts {
        let by = match c.steps.as_slice() {
            [] => "not by a step of this run (it differs since the run's base commit)".into(),
            [one] => format!("by step {one} only"),
            many => format!(
                "by steps {} and {}",
                many[..many.len() - 1].join(", "),
                many[many.len() - 1]
            ),
        };
        text.push_str(&format!("\n  {}: changed {by}", c.path));
    }
    let pair = conflicts.iter().find(|c| c.steps.len() >= 2);
    let order = match pair {
        Some(c) => format!(
            "add \"depends_on\": [\"{}\"] to step {} so it starts from that step's result",
            c.steps[0], c.steps[1]
        ),
        None => "order the steps that change these files with depends_on, so the later one \
                 starts from the earlier one's result"
            .to_string(),
    };
    text.push_str(&format!(
        "\n  hint: steps that no dependency orders changed the same file separately; {order}, \
         or split their files_scope so that each file belongs to one step (declared \
         overlapping files_scope orders them automatically); then `pipeline resume`"
    ));
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_names_files_steps_and_the_fix() {
        let text = conflict_text(
            "merging the results of its dependencies conflicts",
            &[
                ConflictingPath {
                    path: "shared.txt".into(),
                    steps: vec!["a".into(), "b".into()],
                },
                ConflictingPath {
                    path: "old.txt".into(),
                    steps: Vec::new(),
                },
            ],
        );
        assert_eq!(
            text,
            "merging the results of its dependencies conflicts in 2 files:\n  \
             shared.txt: changed by steps a and b\n  \
             old.txt: changed not by a step of this run (it differs since the run's base commit)\n  \
             hint: steps that no dependency orders changed the same file separately; add \
             \"depends_on\": [\"a\"] to step b so it starts from that step's result, or split \
             their files_scope so that each file belongs to one step (declared overlapping \
             files_scope orders them automatically); then `pipeline resume`"
        );
    }
}
