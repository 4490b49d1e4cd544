//! Dependencies between change proposals and their cycles.
//!
//! A change declares the changes it builds on in its `.openspec.yaml` as
//! `depends_on: [other-change]` (this project's extension; the OpenSpec CLI ignores the
//! key). A dependency on an archived change is satisfied; one on a change that exists
//! nowhere is reported; cycles are reported with their path (`a -> b -> a`), and the
//! remaining changes get an order in which they can be applied.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::change_metadata::read_change_metadata;
use crate::layout::Layout;

/// The dependency picture of the active changes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DependencyReport {
    /// `depends_on` of each active change (only changes that declare some).
    pub dependencies: BTreeMap<String, Vec<String>>,
    /// Each cycle as a path that returns to its start.
    pub cycles: Vec<Vec<String>>,
    /// `(change, dependency)` pairs naming neither an active nor an archived change.
    pub missing: Vec<(String, String)>,
    /// Changes whose metadata could not be read, with the reason.
    pub unreadable: Vec<(String, String)>,
    /// Active changes in an order that respects dependencies (cycle members excluded).
    pub order: Vec<String>,
}

impl DependencyReport {
    /// `a -> b -> a` for each cycle.
    pub fn cycle_lines(&self) -> Vec<String> {
        self.cycles.iter().map(|c| c.join(" -> ")).collect()
    }
}

/// Reads every active change's `depends_on` and analyses the graph.
///
/// Errors: the changes directory cannot be listed.
pub fn dependency_report(layout: &Layout) -> std::io::Result<DependencyReport> {
    let active = layout.change_ids()?;
    let archived: BTreeSet<String> = layout
        .archived_change_ids()?
        .into_iter()
        .map(|name| {
            if name.len() > 11 && name.as_bytes()[10] == b'-' {
                name[11..].to_string()
            } else {
                name
            }
        })
        .collect();
    let mut report = DependencyReport::default();
    for change in &active {
        match read_change_metadata(&layout.change_dir(change), &layout.root) {
            Ok(Some(meta)) if !meta.depends_on.is_empty() => {
                report.dependencies.insert(change.clone(), meta.depends_on);
            }
            Ok(_) => {}
            Err(err) => report.unreadable.push((change.clone(), err.to_string())),
        }
    }
    let graph = analyse(&active, &archived, &report.dependencies);
    report.cycles = graph.cycles;
    report.missing = graph.missing;
    report.order = graph.order;
    Ok(report)
}

/// The result of [`analyse`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GraphAnalysis {
    /// Cycles as paths returning to their start.
    pub cycles: Vec<Vec<String>>,
    /// `(change, dependency)` pairs naming no known change.
    pub missing: Vec<(String, String)>,
    /// A dependency-respecting order of the changes outside cycles.
    pub order: Vec<String>,
}

/// Pure graph analysis of `dependencies` among `active` changes.
pub fn analyse(
    active: &[String],
    archived: &BTreeSet<String>,
    dependencies: &BTreeMap<String, Vec<String>>,
) -> GraphAnalysis {
    let active_set: BTreeSet<&String> = active.iter().collect();
    let mut missing = Vec::new();
    for (change, deps) in dependencies {
        for dep in deps {
            if !active_set.contains(dep) && !archived.contains(dep) {
                missing.push((change.clone(), dep.clone()));
            }
        }
    }
    let edges = |c: &String| -> Vec<String> {
        dependencies
            .get(c)
            .map(|d| {
                d.iter()
                    .filter(|x| active_set.contains(x))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    };
    // Depth-first search with colours; every back edge closes a cycle.
    #[derive(Clone, Copy, PartialEq)]
    enum Colour {
        White,
        Grey,
        Black,
    }
    let mut colour: BTreeMap<&String, Colour> = active.iter().map(|c| (c, Colour::White)).collect();
    let mut cycles: Vec<Vec<String>> = Vec::new();
    let mut order: Vec<String> = Vec::new();
    let mut in_cycle: BTreeSet<String> = BTreeSet::new();
    fn visit<'a>(
        node: &'a String,
        active: &'a [String],
        edges: &dyn Fn(&String) -> Vec<String>,
        colour: &mut BTreeMap<&'a String, Colour>,
        stack: &mut Vec<String>,
        cycles: &mut Vec<Vec<String>>,
        order: &mut Vec<String>,
    ) {
        colour.insert(node, Colour::Grey);
        stack.push(node.clone());
        for next in edges(node) {
            let Some(next_ref) = active.iter().find(|c| **c == next) else {
                continue;
            };
            match colour.get(next_ref).copied().unwrap_or(Colour::White) {
                Colour::White => visit(next_ref, active, edges, colour, stack, cycles, order),
                Colour::Grey => {
                    if let Some(start) = stack.iter().position(|s| *s == next) {
                        let mut cycle: Vec<String> = stack[start..].to_vec();
                        cycle.push(next.clone());
                        cycles.push(cycle);
                    }
                }
                Colour::Black => {}
            }
        }
        stack.pop();
        colour.insert(node, Colour::Black);
        order.push(node.clone());
    }
    for change in active {
        if colour.get(change).copied() == Some(Colour::White) {
            visit(
                change,
                active,
                &edges,
                &mut colour,
                &mut Vec::new(),
                &mut cycles,
                &mut order,
            );
        }
    }
    for cycle in &cycles {
        in_cycle.extend(cycle.iter().cloned());
    }
    order.retain(|c| !in_cycle.contains(c));
    GraphAnalysis {
        cycles,
        missing,
        order,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_cycles_missing_and_order() {
        let active: Vec<String> = ["a", "b", "c", "d"].iter().map(|s| s.to_string()).collect();
        let archived: BTreeSet<String> = ["old".to_string()].into();
        let mut deps = BTreeMap::new();
        deps.insert("a".to_string(), vec!["b".to_string()]);
        deps.insert("b".to_string(), vec!["a".to_string(), "old".to_string()]);
        deps.insert("c".to_string(), vec!["d".to_string(), "ghost".to_string()]);
        let GraphAnalysis {
            cycles,
            missing,
            order,
        } = analyse(&active, &archived, &deps);
        assert_eq!(
            cycles,
            vec![vec!["a".to_string(), "b".to_string(), "a".to_string()]]
        );
        assert_eq!(missing, vec![("c".to_string(), "ghost".to_string())]);
        assert_eq!(order, ["d", "c"]);
    }
}
