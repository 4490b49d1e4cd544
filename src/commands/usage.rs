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
    for (i, r) in rows.iter().enumerate() {
        if i + 1 == rows.len() {
            out.push_str(&format!(
                "  {}\n",
                "-".repeat(widths.iter().sum::<usize>() + 12)
            ));
        }
        let mut line = format!("  {:<w$}", r[0], w = widths[0]);
        for (cell, w) in r.iter().zip(widths).skip(1).take(5) {
            line.push_str(&format!("  {cell:>w$}"));
        }
        line.push_str(&format!("  {}", r[6]));
        out.push_str(line.trim_end());
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
    use super::thousands;

    #[test]
    fn counts_get_thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1234567), "1,234,567");
    }
}
