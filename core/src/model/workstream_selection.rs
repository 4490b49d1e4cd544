//! Which of the workstreams read are loaded: those of the given files, plus every
//! workstream they depend on (transitively) from sibling files; and which workstream ids a
//! workstream names outside itself, which decides whether siblings are read at all.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};

use super::ValidationDiagnostic;
use super::raw_workstream::RawWorkstream;
use super::workstream_file::{SourcedWorkstream, pointer_or_root};

/// A workstream read, and whether its file was given (read strictly) or is a sibling.
pub(crate) struct Candidate {
    pub workstream: SourcedWorkstream,
    pub given: bool,
}

/// The selected candidates, in file order. A repeated workstream id is an error when a
/// given file is involved (to `diags`), else a sibling problem (to `sibling_problems`);
/// either way the first definition wins.
pub(crate) fn select_workstreams(
    candidates: Vec<Candidate>,
    diags: &mut Vec<ValidationDiagnostic>,
    sibling_problems: &mut Vec<ValidationDiagnostic>,
) -> Vec<Candidate> {
    let mut by_id: HashMap<&str, usize> = HashMap::with_capacity(candidates.len());
    let mut kept = vec![false; candidates.len()];
    for (i, c) in candidates.iter().enumerate() {
        let w = &c.workstream;
        if let Some(&first) = by_id.get(w.id()) {
            let other = &candidates[first];
            let d = ValidationDiagnostic::error(
                &*w.file,
                format!("{}/id", w.pointer),
                format!(
                    "duplicate workstream id `{}` (also defined in {} at {})",
                    w.id(),
                    other.workstream.file.display(),
                    pointer_or_root(&other.workstream.pointer)
                ),
            )
            .with_step(w.id())
            .with_hint("workstream ids must be unique across the files of a directory");
            if c.given || other.given {
                diags.push(d);
            } else {
                sibling_problems.push(d);
            }
            continue;
        }
        by_id.insert(w.id(), i);
        kept[i] = true;
    }

    // Workstreams of given files, plus the closure of what they depend on.
    let mut selected = vec![false; candidates.len()];
    let mut queue: VecDeque<usize> = (0..candidates.len())
        .filter(|&i| kept[i] && candidates[i].given)
        .collect();
    while let Some(i) = queue.pop_front() {
        if selected[i] {
            continue;
        }
        selected[i] = true;
        for dep in external_references(&candidates[i].workstream.raw) {
            if let Some(&j) = by_id.get(dep)
                && !selected[j]
            {
                queue.push_back(j);
            }
        }
    }
    drop(by_id);
    candidates
        .into_iter()
        .zip(selected)
        .filter_map(|(c, selected)| selected.then_some(c))
        .collect()
}

/// Workstream ids that `depends_on` entries of a workstream (its own, its steps') name
/// outside it, following the resolution order of [`super::dependency_resolution`]: a
/// step's entry naming a step or phase of the same workstream stays inside; `X/y` names
/// workstream `X`; any other name is a workstream id.
pub(crate) fn external_references(raw: &RawWorkstream) -> BTreeSet<&str> {
    let mut out: BTreeSet<&str> = raw.fields.depends_on.iter().map(|d| head(d)).collect();
    if raw.is_multi_step() {
        let mut local: HashSet<&str> = HashSet::new();
        for step in raw.step_fields() {
            local.insert(&step.id);
        }
        for phase in raw.phases.iter().flatten() {
            local.insert(&phase.id);
        }
        for step in raw.step_fields() {
            for d in &step.depends_on {
                if !local.contains(d.as_str()) {
                    out.insert(head(d));
                }
            }
        }
    }
    out
}

/// The workstream part of a dependency name: `X` of `X/y`, else the name.
fn head(name: &str) -> &str {
    name.split_once('/').map_or(name, |(ws, _)| ws)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(v: serde_json::Value) -> RawWorkstream {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn names_of_local_steps_and_phases_stay_inside() {
        let w = raw(serde_json::json!({
            "id": "w", "depends_on": ["base", "lib/build"],
            "steps": [{"id": "a", "depends_on": ["b", "p", "other", "x/y"]}, {"id": "b"}],
            "phases": [{"id": "p", "steps": [{"id": "c", "depends_on": ["a", "far"]}]}]
        }));
        let refs: Vec<&str> = external_references(&w).into_iter().collect();
        assert_eq!(refs, vec!["base", "far", "lib", "other", "x"]);
        // A single-step workstream has no local names: its depends_on is all outside.
        let single = raw(serde_json::json!({"id": "s", "command": "true", "depends_on": ["s2"]}));
        assert_eq!(
            external_references(&single).into_iter().collect::<Vec<_>>(),
            vec!["s2"]
        );
    }
}
