//! The prompt an AI tool gets: the step's tasks with its referenced specifications, and
//! after failing acceptance tests or a rejected result, the fix prompt.

use super::run_context::RunContext;
use crate::model::Step;

/// The prompt for an attempt that is not a fix: `None` for a plain command with nothing
/// to say (no tasks, no prompt, no referenced specifications), which then gets no prompt
/// file; the full prompt for an AI tool (`takes_prompts`) or a step that has one.
pub(crate) fn attempt_prompt(ctx: &RunContext, step: &Step, takes_prompts: bool) -> Option<String> {
    let has_spec_text = ctx.spec_texts.get(&step.id).is_some_and(|t| !t.is_empty());
    let says_something = !step.tasks.is_empty() || step.prompt.is_some() || has_spec_text;
    (takes_prompts || says_something).then(|| prompt_with_specs(ctx, step))
}

/// The step's prompt with the text of its `specs` references.
pub(crate) fn prompt_with_specs(ctx: &RunContext, step: &Step) -> String {
    let mut p = step.prompt_text();
    if let Some(text) = ctx.spec_texts.get(&step.id).filter(|t| !t.is_empty()) {
        p.push_str("\n## Referenced specifications\n");
        p.push_str(text);
    }
    p
}

/// The prompt of a fix attempt: the step's prompt, what failed, and the diagnostics the
/// error engine extracted (at most 50).
pub(crate) fn fix_prompt_text(
    ctx: &RunContext,
    step: &Step,
    error: &str,
    report: &pipeline_error::ErrorReport,
) -> String {
    let mut p = prompt_with_specs(ctx, step);
    p.push_str("\n## The previous attempt failed its acceptance tests\n\n");
    p.push_str(error);
    p.push('\n');
    let diagnostics: Vec<String> = report
        .diagnostics
        .iter()
        .take(50)
        .map(|d| format!("- {d}"))
        .collect();
    if !diagnostics.is_empty() {
        p.push_str("\nDiagnostics:\n");
        p.push_str(&diagnostics.join("\n"));
        p.push('\n');
    }
    p.push_str("\nFix the code so that the acceptance tests pass. Change only files in scope.\n");
    p
}

/// The prompt of an attempt after the step's AI tool finished without changing any file
/// (reason `no_change`): the step's prompt, then that nothing changed and that the task
/// needs changes to files. The worktree is the same, still unchanged.
pub(crate) fn no_change_fix_prompt(ctx: &RunContext, step: &Step) -> String {
    let mut p = prompt_with_specs(ctx, step);
    p.push_str("\n## The previous attempt changed nothing\n\n");
    p.push_str(
        "The previous attempt finished without changing, creating or deleting any file, so \
         the task above is not done. Make the changes it asks for now, by editing or \
         creating the files (only files in scope). Do not just describe them.\n",
    );
    p
}

/// The prompt of an attempt after a reviewer rejected the step's result: the step's
/// prompt, who rejected it and their comment, word for word. The worktree holds the
/// rejected result, so the tool changes it rather than starting over.
pub(crate) fn rejection_fix_prompt(
    ctx: &RunContext,
    step: &Step,
    by: &str,
    comment: &str,
) -> String {
    let mut p = prompt_with_specs(ctx, step);
    p.push_str("\n## A reviewer rejected the previous result\n\n");
    p.push_str(&format!("Rejected by {by}. Their comment:\n\n"));
    p.push_str(if comment.is_empty() {
        "(no comment)"
    } else {
        comment
    });
    p.push_str(
        "\n\nThe working tree holds the rejected result. Change it to address the comment; \
         the acceptance tests must still pass. Change only files in scope.\n",
    );
    p
}
