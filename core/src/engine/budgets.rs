//! Budgets (docs/COSTS.md "Budgets"): what a run, a workstream or a step may spend.
//!
//! - The run's budget (`pipeline run --budget-usd X --budget-tokens N`) is checked
//!   before an AI step (see [`super::attempt::is_ai_tool`]) starts its first attempt:
//!   once the run's attempts (every attempt journalled under the run id, so a resumed
//!   run counts what it spent before) have spent it, the step is `skipped` with the
//!   reason. Running steps finish; steps run by a command still run.
//! - A step's budget (`budget` of the step, else of its workstream) is checked after
//!   each attempt: when its attempts together spent more, the step fails with class
//!   `budget_exceeded` (permanent: no retry, no fix prompt, no escalation) and a
//!   `budget_exceeded` event. A successful attempt that crossed it becomes a failed one
//!   ([`over_budget_success`]): its result is not taken.
//!
//! - A tool that streams usage (Claude Code per model request, Codex per turn; see
//!   [`pipeline_adapters::UsageWatch`]) is stopped as soon as the step's attempts, the
//!   running one included, spent more than the step's budget ([`BudgetStop`]): its
//!   process group is terminated and the attempt fails with class `budget_exceeded`
//!   like one found over budget after it ended.
//!
//! Spending is the attempts' journalled usage: US dollars are the known costs (the
//! tool's, else the price table's estimate); tokens are input plus output tokens.

use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

use pipeline_adapters::UsageWatch;
use tokio_util::sync::CancellationToken;

use pipeline_error::{AttemptFailure, Termination as FailureTermination};

use super::attempt::{AttemptFailed, Success};
use super::next_action::Stage;
use super::queries::{UsageTotals, attempt_usages_in};
use super::run_context::RunContext;
use super::step_error::{StepError, StepFailure};
use super::tool_choice::ChosenTool;
use super::usage_cost::priced_usage;
use crate::model::Budget;
use crate::state::{AttemptResult, Event, Usage};

/// What the run's (or a step's) attempts spent: the sum of their usage.
fn spent(ctx: &RunContext, step: Option<&str>) -> Result<UsageTotals, StepError> {
    let usages = attempt_usages_in(&ctx.state, &ctx.run_id)
        .map_err(|e| StepFailure::Usage(e.to_string()))?;
    let mut total = UsageTotals::default();
    for (id, attempts) in &usages {
        if step.is_none_or(|s| s == id) {
            for a in attempts {
                total.add(&a.usage);
            }
        }
    }
    Ok(total)
}

/// `$1.2345` with four decimals (costs of a few tokens are fractions of a cent).
fn dollars(usd: f64) -> String {
    format!("${usd:.4}")
}

/// Whether `spent` reached `budget` (`>=`: a run budget is spent when nothing is left).
fn reached(budget: &Budget, spent: &UsageTotals) -> bool {
    budget
        .usd
        .is_some_and(|b| spent.cost_usd.unwrap_or(0.0) >= b)
        || budget.tokens.is_some_and(|b| spent.tokens() >= b)
}

/// Whether `spent` went over `budget` (`>`).
fn exceeded(budget: &Budget, spent: &UsageTotals) -> bool {
    budget
        .usd
        .is_some_and(|b| spent.cost_usd.unwrap_or(0.0) > b)
        || budget.tokens.is_some_and(|b| spent.tokens() > b)
}

/// "$X" / "N tokens" / both, as the budget has them.
fn describe(budget: &Budget) -> String {
    let mut parts = Vec::new();
    if let Some(usd) = budget.usd {
        parts.push(dollars(usd));
    }
    if let Some(tokens) = budget.tokens {
        parts.push(format!("{tokens} tokens"));
    }
    parts.join(" and ")
}

/// "$Y, N tokens" spent.
fn describe_spent(spent: &UsageTotals) -> String {
    match spent.cost_usd {
        Some(usd) => format!("{}, {} tokens", dollars(usd), spent.tokens()),
        None => format!("{} tokens (no known cost)", spent.tokens()),
    }
}

/// The reason an AI step is skipped when the run's budget is spent (`run budget of $X
/// spent: $Y, N tokens`), or `None` while some is left or the run has no budget.
///
/// Errors: [`StepFailure::Usage`] when the journal cannot be read.
pub(crate) fn run_budget_spent(ctx: &RunContext) -> Result<Option<String>, StepError> {
    let Some(budget) = ctx
        .options
        .budget
        .filter(|b| b.usd.is_some() || b.tokens.is_some())
    else {
        return Ok(None);
    };
    let spent = spent(ctx, None)?;
    Ok(reached(&budget, &spent).then(|| {
        format!(
            "run budget of {} spent: {} (--budget-usd / --budget-tokens); AI steps not \
             started yet are skipped",
            describe(&budget),
            describe_spent(&spent)
        )
    }))
}

/// When the attempts of `step` (with attempt `attempt`'s `usage`, not journalled yet)
/// spent more than `budget`: the `budget_exceeded` event and the step's error.
///
/// Errors: [`StepFailure::Usage`] when the journal cannot be read.
pub(crate) fn step_budget_exceeded(
    ctx: &RunContext,
    step: &str,
    budget: Option<Budget>,
    attempt: u32,
    usage: Option<&Usage>,
) -> Result<Option<(Event, String)>, StepError> {
    let Some(budget) = budget.filter(|b| b.usd.is_some() || b.tokens.is_some()) else {
        return Ok(None);
    };
    let mut spent = spent(ctx, Some(step))?;
    if let Some(usage) = usage {
        spent.add(usage);
    }
    if !exceeded(&budget, &spent) {
        return Ok(None);
    }
    let error = format!(
        "{BUDGET_EXCEEDED}: step `{step}` spent {} over {} attempt(s), over its budget of {}\n  \
         hint: raise `budget` on the step or its workstream, or make the task smaller",
        describe_spent(&spent),
        spent.attempts,
        describe(&budget)
    );
    let event = Event::BudgetExceeded {
        step: step.to_owned(),
        attempt,
        spent_usd: spent.cost_usd,
        spent_tokens: spent.tokens(),
        budget_usd: budget.usd,
        budget_tokens: budget.tokens,
    };
    Ok(Some((event, error)))
}

/// After attempt `attempt` of `step` succeeded: `Ok(success)` while the step's attempts,
/// this one included, are within its budget; else the attempt as a failure (outcome
/// `failed`, exit 0, its usage kept) for the lifecycle's after-failure path, which
/// finds the budget exceeded and fails the step with class `budget_exceeded`.
///
/// Errors: [`StepFailure::Usage`] when the journal cannot be read.
pub(crate) fn over_budget_success(
    ctx: &RunContext,
    step: &crate::model::Step,
    tool: Option<&ChosenTool>,
    attempt: u32,
    log: &Path,
    success: Success,
) -> Result<Result<Success, Box<AttemptFailed>>, StepError> {
    let Some(reported) = success.usage.clone() else {
        return Ok(Ok(success));
    };
    let priced = priced_usage(reported, &ctx.prices);
    let Some((_, why)) =
        step_budget_exceeded(ctx, step.id.as_str(), step.budget, attempt, Some(&priced))?
    else {
        return Ok(Ok(success));
    };
    let name = tool.map_or("-", |t| t.name.as_str());
    let error = format!(
        "the attempt succeeded (result {}), but it is not taken: {}",
        success.commit,
        why.lines().next().unwrap_or(BUDGET_EXCEEDED)
    );
    let mut failure = AttemptFailure::new(name, name, FailureTermination::Exited(0), error.clone())
        .finished_at(SystemTime::now());
    if let Some(t) = tool {
        failure = failure.with_kind(&t.kind);
    }
    failure.log_path = Some(log.to_path_buf());
    Ok(Err(Box::new(AttemptFailed {
        stage: Stage::Tool,
        result: AttemptResult::Failed,
        exit_code: Some(0),
        error,
        failure,
        usage: success.usage,
        stalled: None,
    })))
}

/// Watches the usage a running attempt streams and stops the attempt (cancels its
/// token, which terminates the tool's process group) once the step's earlier attempts
/// plus this one's running total spent more than the step's budget.
pub(crate) struct BudgetStop {
    /// Handed to the tool's adapter ([`pipeline_adapters::Invocation::usage_watch`]).
    pub watch: UsageWatch,
    /// The running total (as the tool reported it, unpriced) that crossed the budget.
    crossed: Arc<Mutex<Option<pipeline_adapters::Usage>>>,
}

impl BudgetStop {
    /// The reported running total that crossed the budget, once it did.
    pub(crate) fn crossed(&self) -> Option<pipeline_adapters::Usage> {
        self.crossed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// A [`BudgetStop`] for an attempt of `step` that `cancel` stops, or `None` when the
/// step has no budget. What the step's earlier attempts spent is read once, here.
///
/// Errors: [`StepFailure::Usage`] when the journal cannot be read.
pub(crate) fn budget_stop(
    ctx: &RunContext,
    step: &crate::model::Step,
    cancel: &CancellationToken,
) -> Result<Option<BudgetStop>, StepError> {
    let Some(budget) = step
        .budget
        .filter(|b| b.usd.is_some() || b.tokens.is_some())
    else {
        return Ok(None);
    };
    let before = spent(ctx, Some(step.id.as_str()))?;
    let crossed = Arc::new(Mutex::new(None));
    let watch = UsageWatch::new({
        let crossed = crossed.clone();
        let prices = ctx.prices.clone();
        let cancel = cancel.clone();
        move |running: &pipeline_adapters::Usage| {
            let mut crossed = crossed.lock().unwrap_or_else(PoisonError::into_inner);
            if crossed.is_some() {
                return;
            }
            let mut total = before.clone();
            total.add(&priced_usage(running.clone(), &prices));
            if exceeded(&budget, &total) {
                *crossed = Some(running.clone());
                cancel.cancel();
            }
        }
    });
    Ok(Some(BudgetStop { watch, crossed }))
}

/// The reason and plugin of a step that spent its budget.
pub(crate) const BUDGET_EXCEEDED: &str = "budget_exceeded";

/// The classification of an attempt after which the step's budget is spent: class
/// `budget_exceeded`, plugin `budget_exceeded`, made by the engine (nothing in the
/// tool's output says it; the journalled usage does).
pub(crate) fn budget_report(error: &str) -> pipeline_error::ErrorReport {
    let normalized = pipeline_error::normalize(BUDGET_EXCEEDED);
    pipeline_error::ErrorReport {
        class: pipeline_error::ErrorClass::BudgetExceeded,
        plugin: BUDGET_EXCEEDED.to_owned(),
        signature: pipeline_error::signature_of(&normalized),
        normalized,
        summary: error.lines().next().unwrap_or(BUDGET_EXCEEDED).to_owned(),
        diagnostics: Vec::new(),
        output_hash: pipeline_error::fingerprint(BUDGET_EXCEEDED.as_bytes()),
        diff_hash: None,
        plugin_failures: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn totals(usd: Option<f64>, tokens: u64) -> UsageTotals {
        UsageTotals {
            attempts: 1,
            input_tokens: tokens,
            cost_usd: usd,
            ..Default::default()
        }
    }

    #[test]
    fn a_run_budget_is_spent_when_reached_a_step_budget_when_exceeded() {
        let budget = Budget {
            usd: Some(0.01),
            tokens: None,
        };
        assert!(reached(&budget, &totals(Some(0.01), 5)));
        assert!(!exceeded(&budget, &totals(Some(0.01), 5)));
        assert!(exceeded(&budget, &totals(Some(0.011), 5)));
        assert!(!reached(&budget, &totals(None, 1_000_000)));
        let tokens = Budget {
            usd: None,
            tokens: Some(100),
        };
        assert!(reached(&tokens, &totals(None, 100)));
        assert!(exceeded(&tokens, &totals(None, 101)));
        assert!(!exceeded(&Budget::default(), &totals(Some(9.0), 9)));
        assert_eq!(
            describe(&Budget {
                usd: Some(0.5),
                tokens: Some(10)
            }),
            "$0.5000 and 10 tokens"
        );
    }

    #[test]
    fn the_report_is_budget_exceeded_and_not_retryable() {
        let report = budget_report("budget_exceeded: step `ws/a` spent ...\n  hint: ...");
        assert_eq!(report.class.name(), "budget_exceeded");
        assert!(!report.class.is_retryable());
        assert_eq!(report.summary, "budget_exceeded: step `ws/a` spent ...");
    }
}
