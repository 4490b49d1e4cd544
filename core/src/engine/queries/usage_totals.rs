//! Tokens, requests and cost of a run, per attempt, per step and in total, read from
//! the `attempt_finished` events of its journal (which carry what each attempt's tool
//! reported, priced when it gave no cost: see docs/COSTS.md).
//!
//! `status`, `runs`, `usage`, JUnit and the API all add up usage here, so their totals
//! agree. Costs add up only where they are known: an attempt whose model has no price
//! counts in `unpriced_attempts`, and `estimated` says that part of `cost_usd` is
//! pipeline's estimate rather than the tools' own figures.

use std::collections::HashMap;

use super::{StateStore, resolve_run};
use crate::engine::EngineError;
use crate::state::{Event, Usage};

/// The sum of some attempts' usage.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct UsageTotals {
    /// Attempts whose tool reported usage.
    pub attempts: u32,
    /// Input tokens, cached ones included.
    pub input_tokens: u64,
    /// Input tokens served from the provider's prompt cache.
    pub cached_input_tokens: u64,
    /// Output tokens.
    pub output_tokens: u64,
    /// Model requests.
    pub requests: u64,
    /// US dollars: the sum of the attempts' known costs; `null` when none is known.
    pub cost_usd: Option<f64>,
    /// Whether part of `cost_usd` is estimated from the price table.
    pub estimated: bool,
    /// Attempts that reported tokens but have no cost (their model has no price).
    pub unpriced_attempts: u32,
}

impl UsageTotals {
    /// Adds one attempt's usage.
    pub fn add(&mut self, usage: &Usage) {
        self.attempts += 1;
        self.input_tokens += usage.input_tokens.unwrap_or(0);
        self.cached_input_tokens += usage.cached_input_tokens.unwrap_or(0);
        self.output_tokens += usage.output_tokens.unwrap_or(0);
        self.requests += u64::from(usage.requests.unwrap_or(0));
        match usage.cost_usd {
            Some(cost) => {
                self.cost_usd = Some(self.cost_usd.unwrap_or(0.0) + cost);
                self.estimated |= usage.estimated;
            }
            None if usage.input_tokens.is_some() || usage.output_tokens.is_some() => {
                self.unpriced_attempts += 1;
            }
            None => {}
        }
    }

    /// Adds another sum.
    pub fn merge(&mut self, other: &UsageTotals) {
        self.attempts += other.attempts;
        self.input_tokens += other.input_tokens;
        self.cached_input_tokens += other.cached_input_tokens;
        self.output_tokens += other.output_tokens;
        self.requests += other.requests;
        if let Some(cost) = other.cost_usd {
            self.cost_usd = Some(self.cost_usd.unwrap_or(0.0) + cost);
        }
        self.estimated |= other.estimated;
        self.unpriced_attempts += other.unpriced_attempts;
    }

    /// Input plus output tokens.
    pub fn tokens(&self) -> u64 {
        self.input_tokens + self.output_tokens
    }

    /// `$0.0019 (estimated)`, `$1.25`, `$0.50 + 1 unpriced`, `unpriced`, or `-` when no
    /// attempt reported usage: the cost as the text views show it.
    pub fn cost_text(&self) -> String {
        let cost = self.cost_usd.map(|c| {
            let amount = if c < 0.01 {
                format!("${c:.4}")
            } else {
                format!("${c:.2}")
            };
            if self.estimated {
                format!("{amount} (estimated)")
            } else {
                amount
            }
        });
        match (cost, self.unpriced_attempts) {
            (Some(c), 0) => c,
            (Some(c), n) => format!("{c} + {n} unpriced"),
            (None, n) if n > 0 => "unpriced".to_owned(),
            (None, _) if self.attempts > 0 => "no cost reported".to_owned(),
            (None, _) => "-".to_owned(),
        }
    }
}

/// One attempt's usage.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct AttemptUsage {
    /// Attempt number, 1-based.
    pub attempt: u32,
    /// The tool profile that ran it, when journalled.
    pub tool: Option<String>,
    /// What its tool reported, priced (see [`Usage`]).
    pub usage: Usage,
}

/// Every attempt of run `run_id` that reported usage, by step id, oldest first.
///
/// Errors: the state database cannot be read.
pub(crate) fn attempt_usages(
    state: &StateStore,
    run_id: &str,
) -> Result<HashMap<String, Vec<AttemptUsage>>, EngineError> {
    let mut tools: HashMap<(String, u32), Option<String>> = HashMap::new();
    for entry in state.journal_of_kind(run_id, "attempt_started")? {
        if let Event::AttemptStarted {
            step,
            attempt,
            tool,
            ..
        } = entry.event
        {
            tools.insert((step, attempt), tool);
        }
    }
    let mut usages: HashMap<String, Vec<AttemptUsage>> = HashMap::new();
    for entry in state.journal_of_kind(run_id, "attempt_finished")? {
        if let Event::AttemptFinished {
            step,
            attempt,
            usage: Some(usage),
            ..
        } = entry.event
        {
            let tool = tools.remove(&(step.clone(), attempt)).flatten();
            usages.entry(step).or_default().push(AttemptUsage {
                attempt,
                tool,
                usage,
            });
        }
    }
    Ok(usages)
}

/// The sum of `attempts`.
pub(crate) fn totals_of(attempts: &[AttemptUsage]) -> UsageTotals {
    let mut totals = UsageTotals::default();
    for a in attempts {
        totals.add(&a.usage);
    }
    totals
}

/// How `pipeline usage --by` groups attempts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UsageGrouping {
    /// By step id (the default).
    #[default]
    Step,
    /// By tool profile.
    Tool,
    /// By model, as the tool reported it.
    Model,
}

/// One group of `pipeline usage`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct UsageGroup {
    /// The step id, tool profile or model; `unknown` when the attempt did not say.
    pub key: String,
    /// Its attempts' sum.
    pub usage: UsageTotals,
}

/// One of the most expensive steps.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct StepCost {
    /// The step.
    pub step: String,
    /// US dollars over all its attempts.
    pub cost_usd: f64,
    /// Whether part of it is estimated.
    pub estimated: bool,
    /// Input plus output tokens over all its attempts.
    pub tokens: u64,
}

/// `pipeline usage [RUN] --json`: a run's usage in total, by step, tool or model, and
/// its most expensive steps.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct UsageReport {
    /// The run (resolved: never `latest`).
    pub run_id: String,
    /// The run's total.
    pub total: UsageTotals,
    /// How `groups` are grouped.
    pub by: UsageGrouping,
    /// Most expensive first (then most tokens, then by key).
    pub groups: Vec<UsageGroup>,
    /// At most [`MOST_EXPENSIVE`] steps with a known cost above zero, most expensive
    /// first.
    pub most_expensive: Vec<StepCost>,
}

/// How many steps `most_expensive` lists.
pub const MOST_EXPENSIVE: usize = 5;

/// The usage of run `run_id` (default: the newest run; `latest` names it too), grouped
/// `by` step, tool or model.
///
/// Errors: no repository or database; [`EngineError::UnknownRun`]; a state database that
/// cannot be read.
pub fn run_usage(
    repo: Option<&std::path::Path>,
    db: Option<&std::path::Path>,
    run_id: Option<&str>,
    by: UsageGrouping,
) -> Result<UsageReport, EngineError> {
    let (_, _, state) = super::open(repo, db)?;
    let run = resolve_run(&state, run_id)?;
    let usages = attempt_usages(&state, &run.run_id)?;
    // Plan order for steps, so equal groups keep a stable order.
    let order: Vec<String> = state
        .steps(&run.run_id)?
        .into_iter()
        .map(|s| s.step_id)
        .collect();
    let mut total = UsageTotals::default();
    let mut groups: Vec<UsageGroup> = Vec::new();
    let mut most_expensive = Vec::new();
    for step in &order {
        let Some(attempts) = usages.get(step) else {
            continue;
        };
        let step_total = totals_of(attempts);
        total.merge(&step_total);
        if let Some(cost) = step_total.cost_usd.filter(|c| *c > 0.0) {
            most_expensive.push(StepCost {
                step: step.clone(),
                cost_usd: cost,
                estimated: step_total.estimated,
                tokens: step_total.tokens(),
            });
        }
        for a in attempts {
            let key = match by {
                UsageGrouping::Step => Some(step.clone()),
                UsageGrouping::Tool => a.tool.clone(),
                UsageGrouping::Model => a.usage.model.clone(),
            }
            .unwrap_or_else(|| "unknown".to_owned());
            match groups.iter_mut().find(|g| g.key == key) {
                Some(group) => group.usage.add(&a.usage),
                None => {
                    let mut usage = UsageTotals::default();
                    usage.add(&a.usage);
                    groups.push(UsageGroup { key, usage });
                }
            }
        }
    }
    let by_cost = |a: Option<f64>, b: Option<f64>| {
        b.unwrap_or(-1.0)
            .partial_cmp(&a.unwrap_or(-1.0))
            .unwrap_or(std::cmp::Ordering::Equal)
    };
    groups.sort_by(|a, b| {
        by_cost(a.usage.cost_usd, b.usage.cost_usd)
            .then_with(|| b.usage.tokens().cmp(&a.usage.tokens()))
    });
    most_expensive.sort_by(|a, b| by_cost(Some(a.cost_usd), Some(b.cost_usd)));
    most_expensive.truncate(MOST_EXPENSIVE);
    Ok(UsageReport {
        run_id: run.run_id,
        total,
        by,
        groups,
        most_expensive,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usage(cost: Option<f64>, estimated: bool) -> Usage {
        Usage {
            model: Some("m".into()),
            input_tokens: Some(100),
            cached_input_tokens: Some(10),
            output_tokens: Some(5),
            cost_usd: cost,
            requests: Some(2),
            estimated,
            cost_unknown: None,
        }
    }

    #[test]
    fn totals_add_known_costs_and_count_unpriced_attempts() {
        let mut t = UsageTotals::default();
        assert_eq!(t.cost_text(), "-");
        t.add(&usage(None, false));
        assert_eq!(t.cost_text(), "unpriced");
        t.add(&usage(Some(0.5), false));
        t.add(&usage(Some(0.25), true));
        assert_eq!(t.attempts, 3);
        assert_eq!(t.input_tokens, 300);
        assert_eq!(t.cached_input_tokens, 30);
        assert_eq!(t.output_tokens, 15);
        assert_eq!(t.requests, 6);
        assert_eq!(t.cost_usd, Some(0.75));
        assert!(t.estimated);
        assert_eq!(t.unpriced_attempts, 1);
        assert_eq!(t.cost_text(), "$0.75 (estimated) + 1 unpriced");

        let mut sum = UsageTotals::default();
        sum.merge(&t);
        sum.merge(&t);
        assert_eq!(sum.cost_usd, Some(1.5));
        assert_eq!(sum.unpriced_attempts, 2);
        assert_eq!(sum.tokens(), 630);
    }

    #[test]
    fn small_costs_keep_four_decimals() {
        let mut t = UsageTotals::default();
        t.add(&usage(Some(0.00186), true));
        assert_eq!(t.cost_text(), "$0.0019 (estimated)");
        let mut none = UsageTotals::default();
        none.add(&Usage::default());
        assert_eq!(none.cost_text(), "no cost reported");
    }
}
