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
    /// dependency -> dependent.
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
        let scope = set
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
        })
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
    /// Only steps that could conflict are compared: those sharing a conflict group, and
    /// those whose scopes share a top-level directory (a scope entry that is a glob at the
    /// top level, `.` or empty may overlap anything).
    pub fn exclusions(&self, set: &WorkstreamSet) -> Vec<Exclusion> {
        let mut candidates: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, s) in set.steps.iter().enumerate() {
            if let Some(g) = &s.conflict_group {
                candidates.entry(format!("group:{g}")).or_default().push(i);
            }
            if self.scope[i].is_some() {
                for e in &s.files_scope {
                    let e = e.trim().replace('\\', "/");
                    let top = e.trim_start_matches("./").split('/').next().unwrap_or("");
                    let key = if top.is_empty() || top == "." || top.contains(['*', '?', '[', '{'])
                    {
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
                    if self.pair_conflict(a, b).is_some() && !self.ordered(a, b) {
                        pairs.insert((a, b));
                    }
                }
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
