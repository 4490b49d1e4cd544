//! Resolving `depends_on` names to steps, once every selected workstream is built.
//!
//! Names resolve in this order, for a step of workstream `W`: a step id of `W`; a phase id
//! of `W` (every step of the phase); `X/y` (step `y` of workstream `X`); a workstream id
//! `X` (its exit steps: the acceptance gate, else its sinks). A phase's `depends_on` makes
//! each of its steps depend on every step of the named phases. A workstream's own
//! `depends_on` applies to its root steps (steps without dependencies inside it). A
//! workstream's acceptance gate depends on its sinks. Then every step gets its resolved
//! `depends_on` (sorted ids) and its definition hash, and the set is checked for cycles.

use super::definition_hash::definition_hash;
use super::id_hasher::IdMap;
use super::semantic_checks::{check_cycles, closest};
use super::step_placement::check_in_place_steps;
use super::workstream_builder::{Drafts, WorkstreamDraft};
use super::{Step, StepId, StepKind, ValidationDiagnostic, Workstream};

/// Resolves every dependency of `drafts`, reporting unknown names and cycles to `diags`;
/// returns the workstreams and the finished steps (in the order built).
pub(crate) fn resolve_dependencies(
    drafts: Drafts,
    diags: &mut Vec<ValidationDiagnostic>,
) -> (Vec<Workstream>, Vec<Step>) {
    let Drafts {
        workstreams: mut infos,
        mut steps,
        links,
    } = drafts;
    let n = steps.len();
    let ids: Vec<StepId> = steps.iter().map(|s| s.id.clone()).collect();
    let ws_by_id: IdMap<&str, usize> = infos
        .iter()
        .enumerate()
        .map(|(i, w)| (w.id.as_str(), i))
        .collect();
    // Steps of multi-step workstreams by (workstream id, step id).
    let nested: IdMap<(&str, &str), usize> = ids
        .iter()
        .enumerate()
        .filter_map(|(i, id)| id.as_str().split_once('/').map(|key| (key, i)))
        .collect();

    // Pass 1: dependencies inside a workstream (steps and phases), written straight into
    // each step's depends_on (sorted and deduplicated at the end).
    // Per step: indices of its own depends_on entries left for the cross-workstream pass
    // (most steps have none: no allocation), and whether its workstream's depends_on
    // applies to it.
    let mut pending: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut inherits_ws_deps = vec![false; n];
    let mut has_dependent = vec![false; n];
    for (di, link) in links.iter().enumerate() {
        let w = &infos[link.ws_index];
        let mut inside: Vec<usize> = Vec::new();
        for (k, name) in link.depends_on.iter().enumerate() {
            if let Some(&t) = nested
                .get(&(w.id.as_str(), name.as_str()))
                .filter(|_| w.multi_step)
            {
                inside.push(t);
            } else if let Some(phase) = w.phases.get(name) {
                inside.extend_from_slice(&phase.members);
            } else {
                pending[di].push(k);
            }
        }
        if let Some(phase) = &link.phase
            && let Some(own) = w.phases.get(phase)
        {
            for (k, pd) in own.depends_on.iter().enumerate() {
                match w.phases.get(pd) {
                    Some(other) => inside.extend_from_slice(&other.members),
                    None => diags.push(
                        ValidationDiagnostic::error(
                            &*w.file,
                            format!("{}/depends_on/{k}", own.pointer),
                            format!(
                                "unknown dependency `{pd}`: no phase with this id in workstream `{}`",
                                w.id
                            ),
                        )
                        .with_step(w.id.as_str())
                        .with_hint(hint_for(pd, w.phases.keys().map(String::as_str))),
                    ),
                }
            }
        }
        for &t in &inside {
            has_dependent[t] = true;
        }
        steps[di]
            .depends_on
            .extend(inside.iter().map(|&t| ids[t].clone()));
    }
    // A workstream's own depends_on applies to its root steps.
    for w in &infos {
        for s in w.steps.clone() {
            let root = steps[s].depends_on.is_empty() && pending[s].is_empty();
            inherits_ws_deps[s] =
                (root || !w.multi_step) && steps[s].kind != StepKind::WorkstreamAcceptance;
        }
    }

    // Exit steps (from the edges inside each workstream only), workstream after workstream:
    // those of workstream `w` are `exits[exit_start[w]..exit_start[w + 1]]`.
    let mut exits: Vec<usize> = Vec::with_capacity(infos.len());
    let mut exit_start: Vec<usize> = Vec::with_capacity(infos.len() + 1);
    for w in &infos {
        exit_start.push(exits.len());
        let sinks = w
            .steps
            .clone()
            .filter(|&s| Some(s) != w.acceptance && !has_dependent[s]);
        match w.acceptance {
            Some(gate) => {
                let sink_ids: Vec<StepId> = sinks.map(|s| ids[s].clone()).collect();
                steps[gate].depends_on.extend(sink_ids);
                exits.push(gate);
            }
            None => exits.extend(sinks),
        }
    }
    exit_start.push(exits.len());
    drop(has_dependent);
    let exits_of = |w: usize| &exits[exit_start[w]..exit_start[w + 1]];

    // Pass 2: dependencies across workstreams.
    for di in 0..n {
        let w = &infos[links[di].ws_index];
        let own = std::mem::take(&mut pending[di]);
        let inherited = if inherits_ws_deps[di] {
            w.depends_on.len()
        } else {
            0
        };
        let named = own
            .iter()
            .map(|&k| (true, k))
            .chain((0..inherited).map(|k| (false, k)));
        for (own_entry, k) in named {
            let name = if own_entry {
                &links[di].depends_on[k]
            } else {
                &w.depends_on[k]
            };
            if let Some(key) = name.split_once('/') {
                if let Some(&t) = nested.get(&key) {
                    steps[di].depends_on.push(ids[t].clone());
                    continue;
                }
            } else if let Some(&wi) = ws_by_id.get(name.as_str()) {
                let targets = exits_of(wi).iter().map(|&t| ids[t].clone());
                steps[di].depends_on.extend(targets);
                continue;
            }
            let base = if own_entry {
                steps[di].pointer.as_str()
            } else {
                w.pointer.as_str()
            };
            diags.push(unknown_dependency(
                name,
                &format!("{base}/depends_on/{k}"),
                w,
                &infos,
                &ids,
                di,
            ));
        }
    }
    drop(pending);
    drop(inherits_ws_deps);
    drop(links);
    drop(nested);
    drop(ws_by_id);
    // The names as written are resolved: free them before the hashes are made.
    for w in &mut infos {
        w.depends_on = Vec::new();
        w.phases = Default::default();
    }

    // Finish the steps: dependencies as sorted ids, definition hashes.
    for step in steps.iter_mut() {
        step.depends_on.sort();
        step.depends_on.dedup();
        step.depends_on.shrink_to_fit();
        step.definition_hash = definition_hash(step);
    }
    diags.extend(check_cycles(&steps));
    diags.extend(check_in_place_steps(&steps));
    diags.extend(super::candidate_settings::check_candidates(&steps));

    let workstreams = infos
        .into_iter()
        .enumerate()
        .map(|(i, w)| Workstream {
            steps: ids[w.steps.clone()].to_vec(),
            exit_steps: exits_of(i).iter().map(|&s| ids[s].clone()).collect(),
            file: w.file,
            id: w.id,
            pointer: w.pointer,
            openspec_change: w.openspec_change,
        })
        .collect();
    (workstreams, steps)
}

/// The error for a name that resolved to nothing, with the closest workstream or step id of
/// the same workstream as a hint.
fn unknown_dependency(
    name: &str,
    location: &str,
    w: &WorkstreamDraft,
    infos: &[WorkstreamDraft],
    ids: &[StepId],
    step: usize,
) -> ValidationDiagnostic {
    let candidates = infos.iter().map(|w| w.id.as_str()).chain(
        ids[w.steps.clone()]
            .iter()
            .filter_map(|id| id.as_str().split_once('/').map(|(_, l)| l)),
    );
    ValidationDiagnostic::error(
        &*w.file,
        location,
        format!("unknown dependency `{name}`: no step, phase or workstream has this id"),
    )
    .with_step(ids[step].as_str())
    .with_hint(hint_for(name, candidates))
}

fn hint_for<'a>(name: &str, candidates: impl Iterator<Item = &'a str>) -> String {
    match closest(name, candidates) {
        Some(c) => format!("did you mean `{c}`?"),
        None => "depends_on names a step of the same workstream, a phase, a workstream id, or <workstream-id>/<step-id>".to_string(),
    }
}
