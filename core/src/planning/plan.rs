//! The plan: DAG, waves, critical path, priorities and exclusions.

use std::collections::{HashMap, VecDeque};

use crate::model::{FileScope, StepId, WorkstreamSet};

/// Planning failed. Only possible for sets not produced by the loader (which rejects
/// cycles and unknown dependencies first).
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("step `{step}` depends on unknown step `{dependency}`")]
    UnknownDependency { step: String, dependency: String },
    #[error("the steps contain a dependency cycle through `{0}`")]
    Cycle(String),
}

/// Two steps that must not run at the same time although the DAG would allow it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Exclusion {
    pub a: StepId,
    pub b: StepId,
    /// Why: `conflict group "db"` or `overlapping files_scope`.
    pub reason: String,
}

/// An edge the planner added: two steps whose declared `files_scope`s overlap and that
/// the DAG does not order. The later-declared step depends on the earlier one, so it
/// starts from the earlier one's result instead of both starting from the same commit
/// and conflicting when merged (issue #11, what must hold 2). Indices are positions in
/// `WorkstreamSet::steps`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImplicitEdge {
    /// The earlier-declared step (the dependency).
    pub earlier: usize,
    /// The later-declared step (the dependent).
    pub later: usize,
    /// The first overlapping entry of the earlier step's `files_scope`, as declared.
    pub earlier_entry: String,
    /// The entry of the later step's `files_scope` it overlaps, as declared.
    pub later_entry: String,
}

impl ImplicitEdge {
    /// The overlapping scope in words: `src/x.py`, or `src and src/x.py` when the two
    /// entries differ.
    pub fn scope(&self) -> String {
        if self.earlier_entry == self.later_entry {
            self.earlier_entry.clone()
        } else {
            format!("{} and {}", self.earlier_entry, self.later_entry)
        }
    }

    /// Why the edge exists: `overlapping files_scope src/x.py`.
    pub fn reason(&self) -> String {
        format!("overlapping files_scope {}", self.scope())
    }
}

/// Why two steps exclude each other pairwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PairConflict {
    Group,
    Scope,
}

/// The execution plan of a workstream set. Step indices are positions in
/// `WorkstreamSet::steps`.
#[derive(Debug)]
pub struct Plan {
    /// Direct dependencies and dependents of each step (indices): the DAG, with an edge
    /// dependency -> dependent. Declared dependencies first, then implicit ones.
    pub deps: Vec<Vec<usize>>,
    pub dependents: Vec<Vec<usize>>,
    /// Topological levels, each sorted by file order.
    pub waves: Vec<Vec<usize>>,
    /// Wave number (0-based) of each step.
    pub wave_of: Vec<usize>,
    /// Length in steps of the longest chain from each step to a sink, itself included.
    pub priority: Vec<u32>,
    /// The longest dependency chain, first step first.
    pub critical_path: Vec<usize>,
    /// Conflict group of each step, interned.
    pub conflict_group: Vec<Option<u32>>,
    /// Declared file scope of each step (only declared scopes serialise steps).
    pub scope: Vec<Option<FileScope>>,
    /// `parallel_ok: false`.
    pub exclusive: Vec<bool>,
    /// Edges added because declared scopes of unordered steps overlap, by dependent then
    /// dependency (also in `deps` and `dependents`).
    pub implicit: Vec<ImplicitEdge>,
}

impl Plan {
    /// Builds the plan. O(steps + edges) apart from the scope-overlap report, which only
    /// compares steps with declared scopes sharing a top-level directory.
    pub fn build(set: &WorkstreamSet) -> Result<Plan, PlanError> {
        let n = set.steps.len();
        let mut deps = vec![Vec::new(); n];
        let mut dependents = vec![Vec::new(); n];
        for (i, s) in set.steps.iter().enumerate() {
            for d in &s.depends_on {
                let j = set
                    .position(d)
                    .ok_or_else(|| PlanError::UnknownDependency {
                        step: s.id.to_string(),
                        dependency: d.to_string(),
                    })?;
                deps[i].push(j);
                dependents[j].push(i);
            }
        }
        let scope: Vec<Option<FileScope>> = set
            .steps
            .iter()
            .map(|s| {
                if s.declared_scope && !s.files_scope.is_empty() {
                    FileScope::new(s.files_scope.iter().map(String::as_str)).ok()
                } else {
                    None
                }
            })
            .collect();
        let implicit = add_implicit_edges(set, &scope, &mut deps, &mut dependents);

        // Kahn's algorithm, processing in file order for stable waves.
        let mut indegree: Vec<usize> = deps.iter().map(Vec::len).collect();
        let mut wave_of = vec![0usize; n];
        let mut queue: VecDeque<usize> = (0..n).filter(|&i| indegree[i] == 0).collect();
        let mut order = Vec::with_capacity(n);
        while let Some(i) = queue.pop_front() {
            order.push(i);
            for &d in &dependents[i] {
                wave_of[d] = wave_of[d].max(wave_of[i] + 1);
                indegree[d] -= 1;
                if indegree[d] == 0 {
                    queue.push_back(d);
                }
            }
        }
        if order.len() != n {
            let stuck = (0..n)
                .find(|&i| indegree[i] > 0)
                .map(|i| set.steps[i].id.to_string())
                .unwrap_or_default();
            return Err(PlanError::Cycle(stuck));
        }
        let wave_count = wave_of.iter().copied().max().map_or(0, |m| m + 1);
        let mut waves = vec![Vec::new(); wave_count];
        for i in 0..n {
            waves[wave_of[i]].push(i);
        }

        let mut priority = vec![1u32; n];
        for &i in order.iter().rev() {
            let best = dependents[i]
                .iter()
                .map(|&d| priority[d])
                .max()
                .unwrap_or(0);
            priority[i] = best + 1;
        }
        let mut critical_path = Vec::new();
        let mut cur = (0..n)
            .filter(|&i| deps[i].is_empty())
            .max_by(|&a, &b| priority[a].cmp(&priority[b]).then(b.cmp(&a)));
        while let Some(i) = cur {
            critical_path.push(i);
            cur = dependents[i]
                .iter()
                .copied()
                .max_by(|&a, &b| priority[a].cmp(&priority[b]).then(b.cmp(&a)));
        }

        let mut groups: HashMap<&str, u32> = HashMap::new();
        let conflict_group = set
            .steps
            .iter()
            .map(|s| {
                s.conflict_group.as_deref().map(|g| {
                    let next = groups.len() as u32;
                    *groups.entry(g).or_insert(next)
                })
            })
            .collect();
        let exclusive = set.steps.iter().map(|s| !s.parallel_ok).collect();
        Ok(Plan {
            deps,
            dependents,
            waves,
            wave_of,
            priority,
            critical_path,
            conflict_group,
            scope,
            exclusive,
            implicit,
        })
    }

    /// The implicit edge `dependency -> step`, when the planner added it.
    pub fn implicit_edge(&self, dependency: usize, step: usize) -> Option<&ImplicitEdge> {
        self.implicit
            .iter()
            .find(|e| e.earlier == dependency && e.later == step)
    }

    /// Whether steps `a` and `b` must not run at the same time (ignoring the DAG): either
    /// says `parallel_ok: false`, or they share a conflict group, or their declared scopes
    /// overlap. Symmetric.
    pub fn excludes(&self, a: usize, b: usize) -> bool {
        self.exclusive[a] || self.exclusive[b] || self.pair_conflict(a, b).is_some()
    }

    /// Why two steps exclude each other pairwise: a shared conflict group, else
    /// overlapping declared scopes.
    fn pair_conflict(&self, a: usize, b: usize) -> Option<PairConflict> {
        if let (Some(x), Some(y)) = (self.conflict_group[a], self.conflict_group[b])
            && x == y
        {
            return Some(PairConflict::Group);
        }
        if let (Some(x), Some(y)) = (&self.scope[a], &self.scope[b])
            && x.overlaps(y)
        {
            return Some(PairConflict::Scope);
        }
        None
    }

    /// Pairs of steps the DAG would let run at the same time but that exclude each other
    /// because of a shared conflict group or overlapping declared scopes (`parallel_ok:
    /// false` is not listed pairwise). Sorted by step order.
    ///
    /// Only steps that could conflict are compared ([`candidate_pairs`]). Since the
    /// planner orders every two unordered steps with overlapping scopes (implicit edges),
    /// only shared conflict groups remain in practice; the scope reason stays for plans
    /// whose edges were built otherwise.
    pub fn exclusions(&self, set: &WorkstreamSet) -> Vec<Exclusion> {
        let mut pairs = std::collections::BTreeSet::new();
        for (a, b) in candidate_pairs(set, &self.scope) {
            if self.pair_conflict(a, b).is_some() && !self.ordered(a, b) {
                pairs.insert((a, b));
            }
        }
        pairs
            .into_iter()
            .filter_map(|(a, b)| {
                let reason = match self.pair_conflict(a, b)? {
                    PairConflict::Group => format!(
                        "conflict group `{}`",
                        set.steps[a].conflict_group.as_deref().unwrap_or_default()
                    ),
                    PairConflict::Scope => "overlapping files_scope".to_string(),
                };
                Some(Exclusion {
                    a: set.steps[a].id.clone(),
                    b: set.steps[b].id.clone(),
                    reason,
                })
            })
            .collect()
    }

    /// Whether one of the two steps (transitively) depends on the other.
    pub fn ordered(&self, a: usize, b: usize) -> bool {
        self.reaches(a, b) || self.reaches(b, a)
    }

    /// Whether `to` is reachable from `from` following dependents.
    fn reaches(&self, from: usize, to: usize) -> bool {
        if self.wave_of[from] >= self.wave_of[to] {
            return false;
        }
        let mut seen = vec![false; self.deps.len()];
        let mut stack = vec![from];
        while let Some(i) = stack.pop() {
            for &d in &self.dependents[i] {
                if d == to {
                    return true;
                }
                if !seen[d] && self.wave_of[d] < self.wave_of[to] {
                    seen[d] = true;
                    stack.push(d);
                }
            }
        }
        false
    }
}

/// Pairs `(a, b)`, `a < b`, of steps that could conflict: sharing a conflict group, or
/// with declared scopes sharing a top-level directory (a scope entry that is a glob at the
/// top level, `.` or empty may overlap anything). Sorted, without duplicates. Only these
/// pairs are compared, so sets with few scopes and groups plan in linear time.
fn candidate_pairs(
    set: &WorkstreamSet,
    scope: &[Option<FileScope>],
) -> std::collections::BTreeSet<(usize, usize)> {
    let mut candidates: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, s) in set.steps.iter().enumerate() {
        if let Some(g) = &s.conflict_group {
            candidates.entry(format!("group:{g}")).or_default().push(i);
        }
        if scope[i].is_some() {
            for e in &s.files_scope {
                let e = e.trim().replace('\\', "/");
                let top = e.trim_start_matches("./").split('/').next().unwrap_or("");
                let key = if top.is_empty() || top == "." || top.contains(['*', '?', '[', '{']) {
                    "scope:*".to_string()
                } else {
                    format!("scope:{top}")
                };
                candidates.entry(key).or_default().push(i);
            }
        }
    }
    let wildcard = candidates.get("scope:*").cloned().unwrap_or_default();
    let mut pairs = std::collections::BTreeSet::new();
    for (key, members) in &candidates {
        let mut all = members.clone();
        if key.starts_with("scope:") && key != "scope:*" {
            all.extend(wildcard.iter().copied());
        }
        all.sort_unstable();
        all.dedup();
        for (x, &a) in all.iter().enumerate() {
            for &b in &all[x + 1..] {
                pairs.insert((a, b));
            }
        }
    }
    pairs
}

/// Adds an implicit edge `earlier -> later` for every two steps whose declared scopes
/// overlap and that the graph (declared edges and the implicit edges added so far) does
/// not order. Later steps are taken in declaration order and, for each, earlier steps
/// nearest first, so three overlapping steps become a chain `a -> b -> c` rather than
/// also `a -> c`. An edge from an earlier to a later step that the later one does not
/// reach cannot close a cycle (a declared cycle is found by the caller afterwards).
fn add_implicit_edges(
    set: &WorkstreamSet,
    scope: &[Option<FileScope>],
    deps: &mut [Vec<usize>],
    dependents: &mut [Vec<usize>],
) -> Vec<ImplicitEdge> {
    let mut pairs: Vec<(usize, usize)> = candidate_pairs(set, scope)
        .into_iter()
        .filter(|&(a, b)| match (&scope[a], &scope[b]) {
            (Some(x), Some(y)) => x.overlaps(y),
            _ => false,
        })
        .collect();
    pairs.sort_by_key(|&(a, b)| (b, std::cmp::Reverse(a)));
    let mut implicit = Vec::new();
    for (a, b) in pairs {
        if reachable(dependents, a, b) || reachable(dependents, b, a) {
            continue;
        }
        let (earlier_entry, later_entry) =
            overlapping_entries(&set.steps[a].files_scope, &set.steps[b].files_scope);
        deps[b].push(a);
        dependents[a].push(b);
        implicit.push(ImplicitEdge {
            earlier: a,
            later: b,
            earlier_entry,
            later_entry,
        });
    }
    implicit
}

/// Whether `to` is reachable from `from` following `dependents` (depth-first, no
/// pruning: waves are not known yet while implicit edges are added).
fn reachable(dependents: &[Vec<usize>], from: usize, to: usize) -> bool {
    let mut seen = vec![false; dependents.len()];
    let mut stack = vec![from];
    while let Some(i) = stack.pop() {
        for &d in &dependents[i] {
            if d == to {
                return true;
            }
            if !seen[d] {
                seen[d] = true;
                stack.push(d);
            }
        }
    }
    false
}

/// The first pair of entries of two scopes that overlap, as declared (by the same rule as
/// [`FileScope::overlaps`]); the first entries when none compiles alone.
fn overlapping_entries(a: &[String], b: &[String]) -> (String, String) {
    for x in a {
        for y in b {
            if let (Ok(sx), Ok(sy)) = (FileScope::new([x.as_str()]), FileScope::new([y.as_str()]))
                && sx.overlaps(&sy)
            {
                return (x.clone(), y.clone());
            }
        }
    }
    (
        a.first().cloned().unwrap_or_default(),
        b.first().cloned().unwrap_or_default(),
    )
}
