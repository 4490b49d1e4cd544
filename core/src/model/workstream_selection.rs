//! Which of the workstreams read are loaded: those of the given files, plus every
//! workstream they depend on (transitively) from sibling files; and which workstream ids a
//! workstream names outside itself, which decides whether siblings are read at all.

use std::collections::{BTreeSet, HashSet, VecDeque};

use super::ValidationDiagnostic;
use super::id_hasher::IdMap;
use super::workstream_builder::{Drafts, WorkstreamDraft};
use super::workstream_file::pointer_or_root;

/// The workstreams to load, as indices into `drafts.workstreams`, in the order of
/// `candidates` (every workstream read, in file order). `given` tells whether a workstream
/// comes from a given file. A repeated workstream id is an error when a given file is
/// involved (to `diags`), else a sibling problem (to `sibling_problems`); either way the
/// first definition wins.
pub(crate) fn select_workstreams(
    drafts: &Drafts,
    candidates: &[usize],
    given: &dyn Fn(usize) -> bool,
    diags: &mut Vec<ValidationDiagnostic>,
    sibling_problems: &mut Vec<ValidationDiagnostic>,
) -> Vec<usize> {
    let ws = &drafts.workstreams;
    let mut by_id: IdMap<&str, usize> = IdMap::default();
    for &i in candidates {
        let w = &ws[i];
        if let Some(&first) = by_id.get(w.id.as_str()) {
            let other = &ws[first];
            let d = ValidationDiagnostic::error(
                &*w.file,
                format!("{}/id", w.pointer),
                format!(
                    "duplicate workstream id `{}` (also defined in {} at {})",
                    w.id,
                    other.file.display(),
                    pointer_or_root(&other.pointer)
                ),
            )
            .with_step(w.id.as_str())
            .with_hint("workstream ids must be unique across the files of a directory");
            if given(i) || given(first) {
                diags.push(d);
            } else {
                sibling_problems.push(d);
            }
            continue;
        }
        by_id.insert(&w.id, i);
    }

    // Workstreams of given files, plus the closure of what they depend on.
    let mut selected = vec![false; ws.len()];
    let mut queue: VecDeque<usize> = candidates
        .iter()
        .copied()
        .filter(|&i| given(i) && by_id.get(ws[i].id.as_str()) == Some(&i))
        .collect();
    while let Some(i) = queue.pop_front() {
        if selected[i] {
            continue;
        }
        selected[i] = true;
        for dep in external_references(&ws[i], drafts) {
            if let Some(&j) = by_id.get(dep)
                && !selected[j]
            {
                queue.push_back(j);
            }
        }
    }
    candidates
        .iter()
        .copied()
        .filter(|&i| selected[i])
        .collect()
}

/// Workstream ids that `depends_on` entries of a workstream (its own, its steps') name
/// outside it, following the resolution order of [`super::dependency_resolution`]: a
/// step's entry naming a step or phase of the same workstream stays inside; `X/y` names
/// workstream `X`; any other name is a workstream id.
pub(crate) fn external_references<'a>(
    w: &'a WorkstreamDraft,
    drafts: &'a Drafts,
) -> BTreeSet<&'a str> {
    let mut out: BTreeSet<&str> = w.depends_on.iter().map(|d| head(d)).collect();
    if w.multi_step {
        let local: HashSet<&str> = w
            .steps
            .clone()
            .filter_map(|s| drafts.steps[s].id.as_str().split_once('/').map(|(_, l)| l))
            .chain(w.phases.keys().map(String::as_str))
            .collect();
        for s in w.steps.clone() {
            for d in &drafts.links[s].depends_on {
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
    use std::path::Path;
    use std::sync::Arc;

    use super::*;
    use crate::model::loader_tests::catalog;
    use crate::model::raw_workstream::RawWorkstream;
    use crate::model::workstream_builder::build_workstream;
    use crate::model::workstream_file::SourcedWorkstream;

    fn built(v: serde_json::Value) -> Drafts {
        let mut drafts = Drafts::default();
        let sourced = SourcedWorkstream {
            raw: Box::new(RawWorkstream::from_value(v).unwrap()),
            file: Arc::from(Path::new("w.json")),
            pointer: String::new(),
        };
        build_workstream(sourced, &catalog(), &mut drafts, &mut Vec::new());
        drafts
    }

    #[test]
    fn names_of_local_steps_and_phases_stay_inside() {
        let d = built(serde_json::json!({
            "id": "w", "depends_on": ["base", "lib/build"],
            "steps": [{"id": "a", "command": "true", "depends_on": ["b", "p", "other", "x/y"]},
                      {"id": "b", "command": "true"}],
            "phases": [{"id": "p", "steps": [{"id": "c", "command": "true", "depends_on": ["a", "far"]}]}]
        }));
        let refs: Vec<&str> = external_references(&d.workstreams[0], &d)
            .into_iter()
            .collect();
        assert_eq!(refs, vec!["base", "far", "lib", "other", "x"]);
        // A single-step workstream has no local names: its depends_on is all outside.
        let single = built(serde_json::json!({"id": "s", "command": "true", "depends_on": ["s2"]}));
        assert_eq!(
            external_references(&single.workstreams[0], &single)
                .into_iter()
                .collect::<Vec<_>>(),
            vec!["s2"]
        );
    }
}
