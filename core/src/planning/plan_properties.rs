//! Property tests of the planner on random DAGs, against independent, deliberately simple
//! computations written here: recursion over the dependency lists for waves and
//! priorities, a depth-first search per pair for "ordered", and a pairwise comparison of
//! every two steps for exclusions.
//!
//! A random DAG: `n` steps; the step at topological position `t` depends on up to three
//! steps at earlier positions; the positions are then shuffled into file order, so file
//! order is not a topological order. Steps get random conflict groups, declared scopes
//! (plain paths, a top-level glob, `.`) and, rarely, `parallel_ok: false`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use proptest::prelude::*;
use proptest::sample::{Index, subsequence};

use super::{Plan, PlanError};
use crate::model::{Isolation, Step, StepId, StepKind, ToolChoice, WorkstreamSet};

/// Scope entries drawn from; `lib/*.rs` may overlap anything under `lib`, `.` anything.
const SCOPES: &[&str] = &[
    "src",
    "src/api",
    "src/apis",
    "docs",
    "docs/a.md",
    "lib/*.rs",
    ".",
];

/// A random DAG in file order: direct dependencies (file positions), conflict group,
/// declared scope, `parallel_ok: false`.
#[derive(Debug, Clone)]
struct Dag {
    deps: Vec<BTreeSet<usize>>,
    group: Vec<Option<u8>>,
    scope: Vec<Option<Vec<&'static str>>>,
    exclusive: Vec<bool>,
}

fn dag() -> impl Strategy<Value = Dag> {
    (1usize..40).prop_flat_map(|n| {
        (
            proptest::collection::vec(proptest::collection::vec(any::<Index>(), 0..4), n),
            Just((0..n).collect::<Vec<usize>>()).prop_shuffle(),
            proptest::collection::vec(proptest::option::weighted(0.3, 0u8..3), n),
            proptest::collection::vec(
                proptest::option::weighted(0.3, subsequence(SCOPES.to_vec(), 1..3)),
                n,
            ),
            proptest::collection::vec(proptest::bool::weighted(0.05), n),
        )
            .prop_map(|(picks, position, group, scope, exclusive)| {
                // `position[t]` is the file position of the step at topological position t.
                let mut deps = vec![BTreeSet::new(); position.len()];
                for (t, picks) in picks.iter().enumerate() {
                    if t == 0 {
                        continue;
                    }
                    for p in picks {
                        deps[position[t]].insert(position[p.index(t)]);
                    }
                }
                Dag {
                    deps,
                    group,
                    scope,
                    exclusive,
                }
            })
    })
}

fn id(i: usize) -> StepId {
    StepId::workstream(&format!("s{i:02}"))
}

/// The DAG as a loaded set of single-step workstreams.
fn workstream_set(dag: &Dag) -> WorkstreamSet {
    let steps = (0..dag.deps.len())
        .map(|i| Step {
            id: id(i),
            workstream: id(i).to_string(),
            kind: StepKind::Task,
            file: Arc::from(Path::new("dag.json")),
            pointer: format!("/{i}"),
            description: None,
            tool: ToolChoice::Shell("true".into()),
            tasks: Vec::new(),
            prompt: None,
            depends_on: dag.deps[i].iter().map(|&d| id(d)).collect(),
            files_scope: dag.scope[i]
                .iter()
                .flatten()
                .map(|s| s.to_string())
                .collect(),
            declared_scope: dag.scope[i].is_some(),
            acceptance_tests: Vec::new(),
            context_files: Vec::new(),
            timeout_sec: None,
            stall_timeout_sec: None,
            env: BTreeMap::new(),
            isolation: Isolation::None,
            conflict_group: dag.group[i].map(|g| format!("g{g}")),
            parallel_ok: !dag.exclusive[i],
            specs: Vec::new(),
            openspec_tasks: Vec::new(),
            retry: Default::default(),
            breaker_cooldown_sec: None,
            compensation: Vec::new(),
            fix_attempts: 0,
            escalation: Vec::new(),
            sandbox: true,
            writable_paths: Vec::new(),
            definition_hash: String::new(),
            allow_symlinks: Vec::new(),
            approval: None,
            read_only: false,
            allow_empty: false,
            budget: None,
            inputs: None,
            cache: true,
            setup: Vec::new(),
            copy_into_worktree: Vec::new(),
            candidates: 1,
            select: None,
        })
        .collect();
    WorkstreamSet::new(Vec::new(), steps, Vec::new(), Vec::new())
}

/// Wave of each step by its definition: 0 without dependencies, else one more than its
/// deepest dependency.
fn expected_waves(dag: &Dag) -> Vec<usize> {
    fn wave(i: usize, dag: &Dag, memo: &mut Vec<Option<usize>>) -> usize {
        if let Some(w) = memo[i] {
            return w;
        }
        let w = dag.deps[i]
            .iter()
            .map(|&d| wave(d, dag, memo) + 1)
            .max()
            .unwrap_or(0);
        memo[i] = Some(w);
        w
    }
    let mut memo = vec![None; dag.deps.len()];
    (0..dag.deps.len())
        .map(|i| wave(i, dag, &mut memo))
        .collect()
}

/// Steps that depend directly on each step.
fn dependents(dag: &Dag) -> Vec<BTreeSet<usize>> {
    let mut out = vec![BTreeSet::new(); dag.deps.len()];
    for (i, deps) in dag.deps.iter().enumerate() {
        for &d in deps {
            out[d].insert(i);
        }
    }
    out
}

/// Longest chain (in steps, itself included) from each step to a sink, by recursion over
/// dependents.
fn expected_priorities(dag: &Dag) -> Vec<u32> {
    fn chain(i: usize, down: &[BTreeSet<usize>], memo: &mut Vec<Option<u32>>) -> u32 {
        if let Some(p) = memo[i] {
            return p;
        }
        let p = 1 + down[i]
            .iter()
            .map(|&d| chain(d, down, memo))
            .max()
            .unwrap_or(0);
        memo[i] = Some(p);
        p
    }
    let down = dependents(dag);
    let mut memo = vec![None; dag.deps.len()];
    (0..dag.deps.len())
        .map(|i| chain(i, &down, &mut memo))
        .collect()
}

/// Whether `to` depends on `from`, transitively (depth-first search over dependencies).
fn depends_on(dag: &Dag, to: usize, from: usize) -> bool {
    let mut stack = vec![to];
    let mut seen = BTreeSet::new();
    while let Some(i) = stack.pop() {
        for &d in &dag.deps[i] {
            if d == from {
                return true;
            }
            if seen.insert(d) {
                stack.push(d);
            }
        }
    }
    false
}

/// Whether two scope entries may claim a common path, as documented for `FileScope`:
/// nested paths overlap; a glob counts as the directory before its metacharacter; `.` is
/// the whole repository.
fn entries_overlap(a: &str, b: &str) -> bool {
    let prefix = |e: &str| -> String {
        match e {
            "." => String::new(),
            "lib/*.rs" => "lib".to_string(),
            other => other.to_string(),
        }
    };
    let (a, b) = (prefix(a), prefix(b));
    let nested = |x: &str, y: &str| x.is_empty() || x == y || y.starts_with(&format!("{x}/"));
    nested(&a, &b) || nested(&b, &a)
}

/// The pairwise reason two steps conflict, if any.
fn expected_conflict(dag: &Dag, a: usize, b: usize) -> Option<String> {
    if let (Some(x), Some(y)) = (dag.group[a], dag.group[b])
        && x == y
    {
        return Some(format!("conflict group `g{x}`"));
    }
    if let (Some(x), Some(y)) = (&dag.scope[a], &dag.scope[b])
        && x.iter().any(|p| y.iter().any(|q| entries_overlap(p, q)))
    {
        return Some("overlapping files_scope".to_string());
    }
    None
}

/// The DAG with the planner's implicit edges, by their definition: for each step in file
/// order, each earlier step nearest first whose scope overlaps its own gets an edge to
/// it unless the DAG built so far already orders the two.
fn with_implicit_edges(dag: &Dag) -> Dag {
    let mut out = dag.clone();
    for b in 0..dag.deps.len() {
        for a in (0..b).rev() {
            let overlap = match (&dag.scope[a], &dag.scope[b]) {
                (Some(x), Some(y)) => x.iter().any(|p| y.iter().any(|q| entries_overlap(p, q))),
                _ => false,
            };
            if overlap && !depends_on(&out, a, b) && !depends_on(&out, b, a) {
                out.deps[b].insert(a);
            }
        }
    }
    out
}

/// The plan of the DAG as declared (its steps' `depends_on`).
fn plan_of(dag: &Dag) -> (WorkstreamSet, Plan) {
    let set = workstream_set(dag);
    let plan = match Plan::build(&set) {
        Ok(p) => p,
        Err(e) => panic!("a DAG must plan: {e}"),
    };
    (set, plan)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Every dependency sits in an earlier wave, waves hold each step once, in file order,
    /// and each step's wave is the one its definition gives.
    #[test]
    fn waves_are_topological(dag in dag()) {
        let (_, plan) = plan_of(&dag);
        let dag = with_implicit_edges(&dag);
        let expected = expected_waves(&dag);
        prop_assert_eq!(&plan.wave_of, &expected);
        for (i, deps) in dag.deps.iter().enumerate() {
            for &d in deps {
                prop_assert!(plan.wave_of[d] < plan.wave_of[i], "{} -> {}", d, i);
            }
        }
        let mut waves: Vec<Vec<usize>> =
            vec![Vec::new(); expected.iter().max().map_or(0, |m| m + 1)];
        for (i, &w) in expected.iter().enumerate() {
            waves[w].push(i);
        }
        prop_assert_eq!(&plan.waves, &waves);
    }

    /// Each step's priority is its longest chain to a sink, and the critical path is a
    /// dependency chain from a root to a sink as long as the longest chain.
    #[test]
    fn priorities_are_longest_chains_to_a_sink(dag in dag()) {
        let (_, plan) = plan_of(&dag);
        let dag = with_implicit_edges(&dag);
        let expected = expected_priorities(&dag);
        prop_assert_eq!(&plan.priority, &expected);
        let longest = expected.iter().copied().max().unwrap_or(0) as usize;
        let path = &plan.critical_path;
        prop_assert_eq!(path.len(), longest);
        prop_assert!(dag.deps[path[0]].is_empty(), "starts at a root");
        for pair in path.windows(2) {
            prop_assert!(dag.deps[pair[1]].contains(&pair[0]), "{:?} is an edge", pair);
        }
        let last = path[path.len() - 1];
        prop_assert!(dependents(&dag)[last].is_empty(), "ends at a sink");
    }

    /// The plan's adjacency is the DAG's with its implicit edges, in both directions, and
    /// the plan lists exactly those implicit edges.
    #[test]
    fn adjacency_matches_the_dependencies(dag in dag()) {
        let (_, plan) = plan_of(&dag);
        let declared = dag.clone();
        let dag = with_implicit_edges(&dag);
        let down = dependents(&dag);
        for (i, (expected_deps, expected_dependents)) in dag.deps.iter().zip(&down).enumerate() {
            let deps: BTreeSet<usize> = plan.deps[i].iter().copied().collect();
            let dependents: BTreeSet<usize> = plan.dependents[i].iter().copied().collect();
            prop_assert_eq!(&deps, expected_deps);
            prop_assert_eq!(&dependents, expected_dependents);
            prop_assert_eq!(plan.deps[i].len(), deps.len());
        }
        let implicit: BTreeSet<(usize, usize)> =
            plan.implicit.iter().map(|e| (e.earlier, e.later)).collect();
        let expected: BTreeSet<(usize, usize)> = (0..dag.deps.len())
            .flat_map(|i| dag.deps[i].difference(&declared.deps[i]).map(move |&d| (d, i)))
            .collect();
        prop_assert_eq!(implicit, expected);
    }

    /// Exclusion is symmetric and follows its definition; the listed exclusions are exactly
    /// the pairs that conflict through a group or scopes and that the DAG (with its
    /// implicit edges) does not order: overlapping scopes never remain unordered.
    #[test]
    fn exclusions_are_symmetric_and_complete(dag in dag()) {
        let (set, plan) = plan_of(&dag);
        let dag = with_implicit_edges(&dag);
        let n = dag.deps.len();
        let mut expected = Vec::new();
        for a in 0..n {
            for b in 0..n {
                prop_assert_eq!(plan.excludes(a, b), plan.excludes(b, a));
                let conflict = expected_conflict(&dag, a, b);
                let excl = dag.exclusive[a] || dag.exclusive[b] || conflict.is_some();
                prop_assert_eq!(plan.excludes(a, b), excl, "{} / {}", a, b);
                let ordered = depends_on(&dag, a, b) || depends_on(&dag, b, a);
                prop_assert_eq!(plan.ordered(a, b), ordered, "{} / {}", a, b);
                if a < b && !ordered && let Some(reason) = conflict {
                    expected.push((id(a), id(b), reason));
                }
            }
        }
        let listed: Vec<(StepId, StepId, String)> = plan
            .exclusions(&set)
            .into_iter()
            .map(|e| (e.a, e.b, e.reason))
            .collect();
        prop_assert_eq!(listed, expected);
    }
}

/// A set whose steps form a cycle is refused, naming a step on it.
#[test]
fn a_cycle_is_refused() {
    let dag = Dag {
        deps: vec![
            BTreeSet::from([2]),
            BTreeSet::from([0]),
            BTreeSet::from([1]),
        ],
        group: vec![None; 3],
        scope: vec![None; 3],
        exclusive: vec![false; 3],
    };
    match Plan::build(&workstream_set(&dag)) {
        Err(PlanError::Cycle(step)) => assert!(step.starts_with('s'), "{step}"),
        other => panic!("expected a cycle, got {other:?}"),
    }
}
