//! Scenario loss between a current requirement block and its MODIFIED replacement.
//!
//! A MODIFIED requirement replaces the whole block, so a scenario the current spec has
//! and the replacement omits would be deleted. Archive refuses that and validate
//! reports it ahead of time, through this one comparison (`diffScenarioNames` of the
//! CLI): scenario names are every non-fenced `#### ` header, with a closing `#` run
//! and a `Scenario:` prefix dropped; names are matched with multiplicity.

use std::collections::HashMap;

use crate::code_fence::fence_mask;
use crate::ecma_text::{js_re, js_trim};
use crate::line_ending;
use crate::requirement_text::{is_scenario_header, strip_scenario_header};

js_re!(CLOSING_HASHES, r"[ \t]+#+[ \t]*$");
js_re!(SCENARIO_PREFIX, r"(?i)^Scenario:\s*");

/// The two directions of a scenario comparison.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioDiff {
    /// Names in the current block the incoming one lacks.
    pub missing: Vec<String>,
    /// Names in the incoming block the current one lacks.
    pub added: Vec<String>,
    /// Number of scenario headers in the current block.
    pub current_count: usize,
    /// Number of scenario headers in the incoming block.
    pub incoming_count: usize,
}

/// Scenario header names of a requirement block, in order.
pub fn scenario_names(raw: &str) -> Vec<String> {
    let normalized = line_ending::normalize_newlines(raw);
    let lines: Vec<&str> = normalized.split('\n').collect();
    let mask = fence_mask(&lines);
    lines
        .iter()
        .enumerate()
        .filter(|(i, line)| !mask[*i] && is_scenario_header(line))
        .map(|(_, line)| {
            let rest = strip_scenario_header(line);
            let rest = CLOSING_HASHES.replace(rest, "");
            js_trim(&SCENARIO_PREFIX.replace(&rest, "")).to_string()
        })
        .collect()
}

fn unmatched(names: &[String], against: &[String]) -> Vec<String> {
    let mut remaining: HashMap<&str, usize> = HashMap::new();
    for name in against {
        *remaining.entry(name).or_default() += 1;
    }
    let mut out = Vec::new();
    for name in names {
        match remaining.get_mut(name.as_str()) {
            Some(left) if *left > 0 => *left -= 1,
            _ => out.push(name.clone()),
        }
    }
    out
}

/// Compares the scenarios of `current_raw` and `incoming_raw` (whole blocks).
pub fn diff_scenario_names(current_raw: &str, incoming_raw: &str) -> ScenarioDiff {
    let current = scenario_names(current_raw);
    let incoming = scenario_names(incoming_raw);
    ScenarioDiff {
        missing: unmatched(&current, &incoming),
        added: unmatched(&incoming, &current),
        current_count: current.len(),
        incoming_count: incoming.len(),
    }
}

/// The sentence archive and validate append when scenarios would be lost.
pub fn describe_scenario_balance(diff: &ScenarioDiff) -> String {
    let count = |n: usize| format!("{n} {}", if n == 1 { "scenario" } else { "scenarios" });
    let scale = format!(
        "The modified block has {}; the current spec has {}.",
        count(diff.incoming_count),
        count(diff.current_count)
    );
    if diff.added.is_empty() {
        return format!("{scale} It adds none.");
    }
    let listed: Vec<String> = diff
        .added
        .iter()
        .take(3)
        .map(|n| format!("\"{n}\""))
        .collect();
    let listed = listed.join(", ");
    let names = if diff.added.len() > 3 {
        format!("{listed} and {} more", diff.added.len() - 3)
    } else {
        listed
    };
    format!(
        "{scale} It adds {} not in the current spec: {names}.",
        count(diff.added.len())
    )
}

/// Quoted, comma-separated list of names (`"a", "b"`).
pub fn quote_names(names: &[String]) -> String {
    names
        .iter()
        .map(|n| format!("\"{n}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_names_count_multiplicity_and_ignore_prefix_and_closing_run() {
        let current = "### Requirement: A\n#### Scenario: one\n- x\n#### Scenario: one\n- y\n#### two ##\n- z";
        let incoming =
            "### Requirement: A\n#### one\n- x\n#### Scenario: two\n- z\n#### Scenario: three\n- w";
        let diff = diff_scenario_names(current, incoming);
        assert_eq!(diff.missing, ["one"]);
        assert_eq!(diff.added, ["three"]);
        assert_eq!(
            describe_scenario_balance(&diff),
            "The modified block has 3 scenarios; the current spec has 3 scenarios. It adds 1 scenario not in the current spec: \"three\"."
        );
    }
}
