//! Checks that need the whole set of steps: dependency cycles.

use std::collections::HashSet;

use petgraph::algo::tarjan_scc;
use petgraph::graph::{DiGraph, NodeIndex};

use super::id_hasher::IdMap;
use super::{Step, ValidationDiagnostic};

/// One error per dependency cycle, printing the cycle as `a -> b -> c -> a` where each
/// step depends on the next. Deterministic: each cycle starts at its first step in file order.
pub(crate) fn check_cycles(steps: &[Step]) -> Vec<ValidationDiagnostic> {
    let mut graph: DiGraph<usize, ()> = DiGraph::with_capacity(steps.len(), steps.len());
    let nodes: Vec<NodeIndex> = (0..steps.len()).map(|i| graph.add_node(i)).collect();
    let index: IdMap<&str, usize> = steps
        .iter()
        .enumerate()
        .map(|(i, s)| (s.id.as_str(), i))
        .collect();
    for (i, s) in steps.iter().enumerate() {
        for d in &s.depends_on {
            if let Some(&j) = index.get(d.as_str()) {
                graph.add_edge(nodes[i], nodes[j], ());
            }
        }
    }
    let mut out = Vec::new();
    let mut sccs = tarjan_scc(&graph);
    sccs.iter_mut().for_each(|c| c.sort_by_key(|n| graph[*n]));
    sccs.sort_by_key(|c| c.first().map(|n| graph[*n]));
    for scc in sccs {
        let first = scc[0];
        let self_loop = graph.contains_edge(first, first);
        if scc.len() < 2 && !self_loop {
            continue;
        }
        let members: HashSet<NodeIndex> = scc.iter().copied().collect();
        let path = cycle_path(&graph, first, &members);
        let text: Vec<&str> = path.iter().map(|n| steps[graph[*n]].id.as_str()).collect();
        let s = &steps[graph[first]];
        out.push(
            ValidationDiagnostic::error(
                &s.file,
                format!("{}/depends_on", s.pointer),
                format!(
                    "dependency cycle: {} (each step depends on the next)",
                    text.join(" -> ")
                ),
            )
            .with_step(s.id.to_string())
            .with_hint("remove one of these dependencies to break the cycle"),
        );
    }
    out
}

/// A path from `start` back to `start` inside one strongly connected component.
fn cycle_path(
    graph: &DiGraph<usize, ()>,
    start: NodeIndex,
    members: &HashSet<NodeIndex>,
) -> Vec<NodeIndex> {
    // Iterative DFS restricted to the component; a cycle through `start` always exists.
    let mut stack: Vec<(NodeIndex, Vec<NodeIndex>)> = vec![(start, {
        let mut n: Vec<NodeIndex> = graph
            .neighbors(start)
            .filter(|n| members.contains(n))
            .collect();
        n.sort_by_key(|x| std::cmp::Reverse(graph[*x]));
        n
    })];
    let mut visited: HashSet<NodeIndex> = HashSet::from([start]);
    while let Some((_, next)) = stack.last_mut() {
        let Some(n) = next.pop() else {
            stack.pop();
            continue;
        };
        if n == start {
            let mut path: Vec<NodeIndex> = stack.iter().map(|(node, _)| *node).collect();
            path.push(start);
            return path;
        }
        if visited.insert(n) {
            let mut nbrs: Vec<NodeIndex> =
                graph.neighbors(n).filter(|x| members.contains(x)).collect();
            nbrs.sort_by_key(|x| std::cmp::Reverse(graph[*x]));
            stack.push((n, nbrs));
        }
    }
    vec![start, start]
}

/// The candidate closest to `name` by edit distance, if reasonably close.
pub(crate) fn closest<'a>(
    name: &str,
    candidates: impl Iterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .map(|c| (strsim::levenshtein(name, c), c))
        .filter(|(d, c)| *d <= (name.len().max(c.len()) / 3).max(2))
        .min()
        .map(|(_, c)| c)
}
