//! `pipeline usage [RUN] [--by step|tool|model] [--json]`: the tokens and cost of a run
//! (docs/COSTS.md): its total, one line per step, tool or model, and its most expensive
//! steps. Costs that pipeline estimated from the price table are marked `(estimated)`;
//! attempts whose model has no price are counted as unpriced.

use pipeline_core::engine::{UsageGroup, UsageGrouping, UsageReport, UsageTotals, run_usage};

use super::exit;
use crate::cli::{RepoArgs, UsageBy};
use crate::command_error::CommandError;
use crate::json_output::print_json;

/// `pipeline usage [RUN]`: the run's usage as a table or JSON ([`UsageReport`]). Errors:
/// from the engine (no repository or database, unknown run; exit 2).
pub fn usage(
    run: Option<&str>,
    by: UsageBy,
    json: bool,
    repo: &RepoArgs,
) -> Result<i32, CommandError> {
    let by = match by {
        UsageBy::Step => UsageGrouping::Step,
        UsageBy::Tool => UsageGrouping::Tool,
        UsageBy::Model => UsageGrouping::Model,
    };
    let report = run_usage(repo.repo.as_deref(), repo.db.as_deref(), run, by)?;
    if json {
        print_json(&report)?;
    } else {
        print!("{}", render_usage(&report));
    }
    Ok(exit::OK)
}

/// `1,234,567`: a count with thousands separators.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn row(key: &str, u: &UsageTotals) -> [String; 7] {
    [
        key.to_owned(),
        u.attempts.to_string(),
        thousands(u.input_tokens),
        thousands(u.cached_input_tokens),
        thousands(u.output_tokens),
        thousands(u.requests),
        u.cost_text(),
    ]
}

fn render_usage(report: &UsageReport) -> String {
    let mut out = format!("Usage of run {}\n", report.run_id);
    if report.total.attempts == 0 {
        out.push_str("  no attempt of this run reported token usage (only AI tools do)\n");
        return out;
    }
    let first = match report.by {
        UsageGrouping::Step => "STEP",
        UsageGrouping::Tool => "TOOL",
        UsageGrouping::Model => "MODEL",
    };
    let header = [
        first,
        "ATTEMPTS",
        "INPUT",
        "CACHED",
        "OUTPUT",
        "REQUESTS",
        "COST (USD)",
    ]
    .map(str::to_owned);
    let mut rows: Vec<[String; 7]> = vec![header];
    rows.extend(
        report
            .groups
            .iter()
            .map(|UsageGroup { key, usage }| row(key, usage)),
    );
    rows.push(row("total", &report.total));
    let mut widths = [0usize; 7];
    for r in &rows {
        for (w, cell) in widths.iter_mut().zip(r) {
            *w = (*w).max(cell.len());
        }
    }
    let lines: Vec<String> = rows
        .iter()
        .map(|r| {
            let mut line = format!("  {:<w$}", r[0], w = widths[0]);
            for (cell, w) in r.iter().zip(widths).skip(1).take(5) {
                line.push_str(&format!("  {cell:>w$}"));
            }
            line.push_str(&format!("  {}", r[6]));
            line.trim_end().to_owned()
        })
        .collect();
    let rule = lines
        .iter()
        .map(String::len)
        .max()
        .unwrap_or(0)
        .saturating_sub(2);
    for (i, line) in lines.iter().enumerate() {
        if i + 1 == lines.len() {
            out.push_str(&format!("  {}\n", "-".repeat(rule)));
        }
        out.push_str(line);
        out.push('\n');
    }
    if !report.most_expensive.is_empty() {
        out.push_str("\n  most expensive steps:\n");
        for (n, s) in report.most_expensive.iter().enumerate() {
            out.push_str(&format!(
                "    {}. {}  ${:.4}{}  ({} tokens)\n",
                n + 1,
                s.step,
                s.cost_usd,
                if s.estimated { " (estimated)" } else { "" },
                thousands(s.tokens)
            ));
        }
    }
    if report.total.estimated {
        out.push_str(
            "\n  (estimated): the tool reported tokens but no cost; priced from config/prices.yaml\n  and `prices:` in .pipeline/config.yaml (docs/COSTS.md)\n",
        );
    }
    if report.total.unpriced_attempts > 0 {
        out.push_str(&format!(
            "\n  {} reported tokens for a model without a price: not in the cost; add it under\n  `prices:` in .pipeline/config.yaml (docs/COSTS.md)\n",
            if report.total.unpriced_attempts == 1 {
                "1 attempt".to_owned()
            } else {
                format!("{} attempts", report.total.unpriced_attempts)
            }
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{render_usage, thousands};
    use pipeline_core::engine::{StepCost, UsageGroup, UsageGrouping, UsageReport, UsageTotals};

    #[test]
    fn the_table_lists_groups_the_total_and_what_is_estimated_or_unpriced() {
        let priced = UsageTotals {
            attempts: 2,
            input_tokens: 1200,
            cached_input_tokens: 100,
            output_tokens: 30,
            requests: 2,
            cost_usd: Some(0.0123),
            estimated: true,
            unpriced_attempts: 0,
        };
        let unpriced = UsageTotals {
            attempts: 1,
            input_tokens: 500,
            output_tokens: 5,
            unpriced_attempts: 1,
            ..UsageTotals::default()
        };
        let mut total = priced.clone();
        total.merge(&unpriced);
        let report = UsageReport {
            run_id: "r1".into(),
            total,
            by: UsageGrouping::Tool,
            groups: vec![
                UsageGroup {
                    key: "codex".into(),
                    usage: priced,
                },
                UsageGroup {
                    key: "aider".into(),
                    usage: unpriced,
                },
            ],
            most_expensive: vec![StepCost {
                step: "ws/a".into(),
                cost_usd: 0.0123,
                estimated: true,
                tokens: 1230,
            }],
        };
        let text = render_usage(&report);
        let expected = "Usage of run r1
  TOOL   ATTEMPTS  INPUT  CACHED  OUTPUT  REQUESTS  COST (USD)
  codex         2  1,200     100      30         2  $0.01 (estimated)
  aider         1    500       0       5         0  unpriced
  --------------------------------------------------------------------------------
  total         3  1,700     100      35         2  $0.01 (estimated) + 1 unpriced

  most expensive steps:
    1. ws/a  $0.0123 (estimated)  (1,230 tokens)
";
        assert!(text.starts_with(expected), "{text}");
        assert!(
            text.contains("(estimated): the tool reported tokens but no cost"),
            "{text}"
        );
        assert!(
            text.contains("1 attempt reported tokens for a model without a price"),
            "{text}"
        );
    }

    #[test]
    fn counts_get_thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1234567), "1,234,567");
    }
}
