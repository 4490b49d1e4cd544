//! Resolving `depends_on` names to steps, once every selected workstream is built.
//!
//! Names resolve in this order, for a step of workstream `W`: a step id of `W`; a phase id
//! of `W` (every step of the phase); `X/y` (step `y` of workstream `X`); a workstream id
//! `X` (its exit steps: the acceptance gate, else its sinks). A phase's `depends_on` makes
//! each of its steps depend on every step of the named phases. A workstream's own
//! `depends_on` applies to its root steps (steps without dependencies inside it). A
//! workstream's acceptance gate depends on its sinks. Then every step gets its resolved
//! `depends_on` (sorted ids) and its definition hash, and the set is checked for cycles.

use std::collections::HashMap;

use super::definition_hash::definition_hash;
use super::semantic_checks::{check_cycles, closest};
use super::workstream_builder::{Drafts, WorkstreamDraft};
use super::{Step, StepId, StepKind, ValidationDiagnostic, Workstream};

/// A dependency left for the cross-workstream pass: the index of the name in the step's
/// own `depends_on`, or in its workstream's.
#[derive(Clone, Copy)]
enum Pending {
    Step(usize),
    Workstream(usize),
}

/// Resolves every dependency of `drafts`, reporting unknown names and cycles to `diags`;
/// returns the workstreams and the finished steps (in the order built).
pub(crate) fn resolve_dependencies(
    drafts: Drafts,
    diags: &mut Vec<ValidationDiagnostic>,
) -> (Vec<Workstream>, Vec<Step>) {
    let Drafts {
        workstreams: infos,
        mut steps,
        links,
    } = drafts;
    let n = steps.len();
    let ids: Vec<StepId> = steps.iter().map(|s| s.id.clone()).collect();
    let ws_by_id: HashMap<&str, usize> = infos
        .iter()
        .enumerate()
        .map(|(i, w)| (w.id.as_str(), i))
        .collect();
    // Steps of multi-step workstreams by (workstream id, step id).
    let nested: HashMap<(&str, &str), usize> = ids
        .iter()
        .enumerate()
        .filter_map(|(i, id)| id.as_str().split_once('/').map(|key| (key, i)))
        .collect();

    // Pass 1: dependencies inside a workstream (steps and phases).
    let mut resolved: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut pending: Vec<Vec<Pending>> = vec![Vec::new(); n];
    for (di, link) in links.iter().enumerate() {
        let w = &infos[link.ws_index];
        for (k, name) in link.depends_on.iter().enumerate() {
            if let Some(&t) = nested
                .get(&(w.id.as_str(), name.as_str()))
                .filter(|_| w.multi_step)
            {
                resolved[di].push(t);
            } else if let Some(phase) = w.phases.get(name) {
                resolved[di].extend_from_slice(&phase.members);
            } else {
                pending[di].push(Pending::Step(k));
            }
        }
        if let Some(phase) = &link.phase
            && let Some(own) = w.phases.get(phase)
        {
            for (k, pd) in own.depends_on.iter().enumerate() {
                match w.phases.get(pd) {
                    Some(other) => resolved[di].extend_from_slice(&other.members),
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
    }
    // A workstream's own depends_on applies to its root steps.
    for w in &infos {
        for &s in &w.steps {
            let root = resolved[s].is_empty() && pending[s].is_empty();
            if (root || !w.multi_step) && steps[s].kind != StepKind::WorkstreamAcceptance {
                pending[s].extend((0..w.depends_on.len()).map(Pending::Workstream));
            }
        }
    }

    // Exit steps, from the edges inside each workstream only.
    let mut has_dependent = vec![false; n];
    for deps in &resolved {
        for &t in deps {
            has_dependent[t] = true;
        }
    }
    let mut exit_steps: Vec<Vec<usize>> = Vec::with_capacity(infos.len());
    for w in &infos {
        let sinks = w
            .steps
            .iter()
            .copied()
            .filter(|&s| Some(s) != w.acceptance && !has_dependent[s]);
        match w.acceptance {
            Some(gate) => {
                resolved[gate].extend(sinks);
                exit_steps.push(vec![gate]);
            }
            None => exit_steps.push(sinks.collect()),
        }
    }
    drop(has_dependent);

    // Pass 2: dependencies across workstreams.
    for di in 0..n {
        let w = &infos[links[di].ws_index];
        for dep in std::mem::take(&mut pending[di]) {
            let (name, base, k) = match dep {
                Pending::Step(k) => (&links[di].depends_on[k], steps[di].pointer.as_str(), k),
                Pending::Workstream(k) => (&w.depends_on[k], w.pointer.as_str(), k),
            };
            if let Some(key) = name.split_once('/') {
                if let Some(&t) = nested.get(&key) {
                    resolved[di].push(t);
                    continue;
                }
            } else if let Some(&wi) = ws_by_id.get(name.as_str()) {
                resolved[di].extend_from_slice(&exit_steps[wi]);
                continue;
            }
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
    drop(nested);
    drop(ws_by_id);

    // Finish the steps: dependencies as sorted ids, definition hashes.
    for (step, mut deps) in steps.iter_mut().zip(resolved) {
        deps.sort_unstable();
        deps.dedup();
        let mut dep_ids: Vec<StepId> = deps.iter().map(|&t| ids[t].clone()).collect();
        dep_ids.sort();
        step.depends_on = dep_ids;
        step.definition_hash = definition_hash(step);
    }
    diags.extend(check_cycles(&steps));

    let workstreams = infos
        .into_iter()
        .zip(exit_steps)
        .map(|(w, exits)| Workstream {
            steps: w.steps.iter().map(|&s| ids[s].clone()).collect(),
            exit_steps: exits.iter().map(|&s| ids[s].clone()).collect(),
            file: w.file.to_path_buf(),
            id: w.id,
            pointer: w.pointer,
            openspec_change: w.openspec_change,
            depends_on: w.depends_on,
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
        w.steps
            .iter()
            .filter_map(|&s| ids[s].as_str().split_once('/').map(|(_, l)| l)),
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
