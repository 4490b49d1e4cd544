//! The typed layer: raw workstream objects -> [`Step`]s, built once.
//!
//! A workstream without `steps` or `phases` is one step whose id is the workstream's. A
//! multi-step workstream yields its `steps[]`, then each phase's `steps[]`, with ids
//! `<ws>/<step>`, and, when it has `acceptance_tests`, a gate `<ws>/_acceptance` that runs
//! them on the merge of all its steps. Per object, findings come in a fixed order: fields
//! not interpreted, ids, tool, scope, error settings, context files, compensation,
//! nothing to do. Dependencies are only collected here (as written); they are resolved
//! once every workstream is built ([`super::dependency_resolution`]).

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use super::declared_scope::{check_inherited_path_lists, declared_scope};
use super::error_settings::{ErrorSettings, SettingsSource, compensation, error_settings};
use super::input_limits::{ObjectSite, check_id, check_object_limits};
use super::other_fields::ObjectKind;
use super::raw_workstream::{RawAcceptanceTest, RawFields, RawWorkstream};
use super::step_draft::StepDraft;
use super::step_placement::check_read_only_scope;
use super::tool_resolution::{check_one_runner, check_tool, tool_of};
use super::workstream_file::SourcedWorkstream;
use super::{
    AcceptanceTest, Step, StepId, StepKind, ToolCatalog, ToolChoice, ValidationDiagnostic,
};

/// A workstream whose steps are built but whose dependencies are not resolved yet.
pub(crate) struct WorkstreamDraft {
    pub id: String,
    pub file: Arc<Path>,
    pub pointer: String,
    pub openspec_change: Option<String>,
    /// Workstream-level `depends_on`, as written.
    pub depends_on: Vec<String>,
    /// Its steps (indices into [`Drafts::steps`]: a workstream's steps are built one after
    /// the other), in file order, the gate last.
    pub steps: Range<usize>,
    /// Phases by id.
    pub phases: BTreeMap<String, PhaseDraft>,
    pub multi_step: bool,
    /// The acceptance gate, if any.
    pub acceptance: Option<usize>,
}

/// A phase: the phases it depends on and its steps.
pub(crate) struct PhaseDraft {
    /// Phase ids, as written.
    pub depends_on: Vec<String>,
    /// JSON pointer of the phase object.
    pub pointer: String,
    /// Indices into [`Drafts::steps`].
    pub members: Vec<usize>,
}

/// What dependency resolution needs to know about a built step.
pub(crate) struct StepLinks {
    /// Index into [`Drafts::workstreams`].
    pub ws_index: usize,
    /// The step's own `depends_on`, as written.
    pub depends_on: Vec<String>,
    /// Id of the phase the step belongs to.
    pub phase: Option<String>,
}

/// Workstreams built (every one read, until selection keeps some: [`Drafts::select`]).
/// `steps` and `links` are parallel.
#[derive(Default)]
pub(crate) struct Drafts {
    pub workstreams: Vec<WorkstreamDraft>,
    pub steps: Vec<Step>,
    pub links: Vec<StepLinks>,
}

impl Drafts {
    fn push(&mut self, step: Step, links: StepLinks) -> usize {
        self.steps.push(step);
        self.links.push(links);
        self.steps.len() - 1
    }

    /// Forgets everything built after `workstreams` workstreams (the steps of a workstream
    /// follow those of the workstreams before it).
    pub fn truncate(&mut self, workstreams: usize) {
        let steps = self
            .workstreams
            .iter()
            .skip(workstreams)
            .find_map(|w| (!w.steps.is_empty()).then_some(w.steps.start))
            .unwrap_or(self.steps.len());
        self.workstreams.truncate(workstreams);
        self.steps.truncate(steps);
        self.links.truncate(steps);
    }

    /// Keeps the workstreams `order` names (indices into [`Self::workstreams`]), in that
    /// order, with their steps, renumbering step indices. Nothing moves when `order` keeps
    /// every workstream in place, the usual case.
    pub fn select(self, order: &[usize]) -> Drafts {
        if order.len() == self.workstreams.len() && order.iter().enumerate().all(|(i, &w)| i == w) {
            return self;
        }
        let mut workstreams: Vec<Option<WorkstreamDraft>> =
            self.workstreams.into_iter().map(Some).collect();
        let mut steps: Vec<Option<Step>> = self.steps.into_iter().map(Some).collect();
        let mut links: Vec<Option<StepLinks>> = self.links.into_iter().map(Some).collect();
        let mut out = Drafts::default();
        for &w in order {
            let Some(mut draft) = workstreams.get_mut(w).and_then(Option::take) else {
                continue;
            };
            let ws_index = out.workstreams.len();
            let first = out.steps.len();
            for s in draft.steps.clone() {
                if let (Some(step), Some(mut link)) = (steps[s].take(), links[s].take()) {
                    link.ws_index = ws_index;
                    out.push(step, link);
                }
            }
            let old_first = draft.steps.start;
            let moved = |s: &usize| Some(s - old_first + first);
            let new = &moved;
            draft.steps = first..out.steps.len();
            for phase in draft.phases.values_mut() {
                phase.members = phase.members.iter().filter_map(new).collect();
            }
            draft.acceptance = draft.acceptance.as_ref().and_then(new);
            out.workstreams.push(draft);
        }
        out
    }
}

/// Builds the steps of one workstream into `drafts`, consuming its raw object.
pub(crate) fn build_workstream(
    sourced: SourcedWorkstream,
    catalog: &dyn ToolCatalog,
    drafts: &mut Drafts,
    diags: &mut Vec<ValidationDiagnostic>,
) {
    let SourcedWorkstream { raw, file, pointer } = sourced;
    let RawWorkstream {
        openspec_change,
        steps,
        phases,
        fields: mut ws,
    } = *raw;
    let id = std::mem::take(&mut ws.id);
    let ws_index = drafts.workstreams.len();
    let site = ObjectSite {
        file: &file,
        pointer: &pointer,
        step: &id,
    };
    check_id(&id, "workstream", &site, diags);
    check_object_limits(&ws, &site, diags);
    let multi_step = steps.is_some() || phases.is_some();
    // A workstream without steps is itself the step the user thinks of.
    let noun = if multi_step { "workstream" } else { "step" };
    ws.other
        .report_as(ObjectKind::Workstream, noun, &file, &pointer, &id, diags);
    check_one_runner(&ws, noun, &file, &pointer, &id, diags);
    check_read_only_scope(&ws, None, noun, &file, &pointer, &id, diags);
    let ws_scope = declared_scope(&ws, &file, &pointer, &id, diags);
    let ws_tool = tool_of(&ws);
    let ws_tests = acceptance_tests(std::mem::take(&mut ws.acceptance_tests));
    let depends_on = std::mem::take(&mut ws.depends_on);
    let mut draft = WorkstreamDraft {
        id: String::new(),
        file: Arc::clone(&file),
        pointer: pointer.clone(),
        openspec_change,
        depends_on,
        steps: drafts.steps.len()..drafts.steps.len(),
        phases: BTreeMap::new(),
        multi_step,
        acceptance: None,
    };

    let context = WorkstreamContext {
        id: &id,
        file: &file,
        pointer: &pointer,
        ws_index,
        catalog,
    };
    if !multi_step {
        let index = context.single_step(ws, ws_tool, ws_scope, ws_tests, drafts, diags);
        draft.steps.end = index + 1;
        draft.id = id;
        drafts.workstreams.push(draft);
        return;
    }

    // Phases first (their findings come before the steps'), then steps[], then each
    // phase's steps[].
    let phases = phases.unwrap_or_default();
    let mut phase_ids = Vec::with_capacity(phases.len());
    for (pi, p) in phases.iter().enumerate() {
        let pptr = format!("{pointer}/phases/{pi}");
        p.other.report(
            ObjectKind::Phase,
            &file,
            &pptr,
            &format!("{id}/{}", p.id),
            diags,
        );
        let entry = PhaseDraft {
            depends_on: p.depends_on.clone(),
            pointer: pptr.clone(),
            members: Vec::new(),
        };
        // A repeated id replaces the earlier phase; both phases' steps join it.
        if draft.phases.insert(p.id.clone(), entry).is_some() {
            diags.push(
                ValidationDiagnostic::error(
                    &*file,
                    format!("{pptr}/id"),
                    format!("duplicate phase id `{}`", p.id),
                )
                .with_step(id.as_str()),
            );
        }
        phase_ids.push(p.id.clone());
    }
    let direct = steps
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(i, s)| (format!("{pointer}/steps/{i}"), s, None));
    let phased = phases
        .into_iter()
        .zip(phase_ids)
        .enumerate()
        .flat_map(|(pi, (p, pid))| {
            let pointer = &pointer;
            p.steps.into_iter().enumerate().map(move |(si, s)| {
                (
                    format!("{pointer}/phases/{pi}/steps/{si}"),
                    s,
                    Some(pid.clone()),
                )
            })
        });
    let multi = MultiStepContext {
        workstream: &context,
        ws: &ws,
        ws_tool: ws_tool.as_ref(),
        ws_scope: ws_scope.as_deref(),
        phases: &draft.phases,
    };
    // Pointer of the last step seen with each id, for duplicate reports.
    let mut seen: HashMap<String, String> = HashMap::new();
    for (sptr, s, phase) in direct.chain(phased) {
        if let Some(index) = multi.step(sptr, *s, phase, &mut seen, drafts, diags) {
            draft.steps.end = index + 1;
        }
    }
    for index in draft.steps.clone() {
        if let Some(p) = &drafts.links[index].phase
            && let Some(entry) = draft.phases.get_mut(p)
        {
            entry.members.push(index);
        }
    }

    if !ws_tests.is_empty() {
        let gate = StepDraft {
            id: StepId::nested(&id, "_acceptance"),
            kind: StepKind::WorkstreamAcceptance,
            workstream: &id,
            file: &file,
            pointer: format!("{pointer}/acceptance_tests"),
            own: RawFields::default(),
            inherited: Some(&ws),
            tool: ToolChoice::None,
            files_scope: Vec::new(),
            declared_scope: false,
            acceptance_tests: ws_tests,
            settings: ErrorSettings::default(),
            compensation: Vec::new(),
        };
        let mut step = gate.into_step();
        step.description = Some(format!("acceptance tests of workstream {id}"));
        let index = drafts.push(
            step,
            StepLinks {
                ws_index,
                depends_on: Vec::new(),
                phase: None,
            },
        );
        draft.acceptance = Some(index);
        draft.steps.end = index + 1;
    }
    draft.id = id;
    drafts.workstreams.push(draft);
}

/// What every step of one workstream shares.
struct WorkstreamContext<'a> {
    id: &'a str,
    file: &'a Arc<Path>,
    pointer: &'a str,
    ws_index: usize,
    catalog: &'a dyn ToolCatalog,
}

impl WorkstreamContext<'_> {
    /// The one step of a workstream without `steps`: the workstream object `ws` is the
    /// step, with its own `tool`, scope and tests.
    fn single_step(
        &self,
        ws: RawFields,
        tool: Option<ToolChoice>,
        scope: Option<Vec<String>>,
        tests: Vec<AcceptanceTest>,
        drafts: &mut Drafts,
        diags: &mut Vec<ValidationDiagnostic>,
    ) -> usize {
        let (id, file, pointer) = (self.id, self.file, self.pointer);
        let tool = tool.unwrap_or_else(|| {
            diags.push(
                ValidationDiagnostic::error(file, pointer, format!("workstream `{id}` names no tool"))
                    .with_step(id)
                    .with_hint("give `tool` (a profile of config/tools.yaml), `capability`, or `command` (a shell command)"),
            );
            ToolChoice::None
        });
        check_tool(&tool, self.catalog, file, pointer, id, diags);
        let src = SettingsSource {
            own: &ws,
            pointer,
            workstream: None,
            file,
            step: id,
        };
        let settings = error_settings(&src, self.catalog, diags);
        check_inherited_path_lists(&ws, pointer, None, file, id, diags);
        let compensation = compensation(&src, diags);
        let idle = ws.tasks.as_ref().is_none_or(|t| t.0.is_empty())
            && ws.prompt.is_none()
            && !matches!(tool, ToolChoice::Shell(_));
        if idle {
            diags.push(
                ValidationDiagnostic::error(
                    file,
                    pointer,
                    format!("workstream `{id}` has nothing to do"),
                )
                .with_step(id)
                .with_hint("give `tasks` or `prompt` for its tool, `command` to run, or `steps`"),
            );
        }
        let step = StepDraft {
            id: StepId::workstream(id),
            kind: StepKind::Task,
            workstream: id,
            file,
            pointer: pointer.to_string(),
            own: ws,
            inherited: None,
            tool,
            files_scope: scope.unwrap_or_default(),
            declared_scope: true,
            acceptance_tests: tests,
            settings,
            compensation,
        }
        .into_step();
        drafts.push(
            step,
            StepLinks {
                ws_index: self.ws_index,
                depends_on: Vec::new(),
                phase: None,
            },
        )
    }
}

/// What every step of one multi-step workstream shares besides [`WorkstreamContext`]: the
/// workstream object they inherit from, and its phases.
struct MultiStepContext<'a> {
    workstream: &'a WorkstreamContext<'a>,
    ws: &'a RawFields,
    ws_tool: Option<&'a ToolChoice>,
    ws_scope: Option<&'a [String]>,
    phases: &'a BTreeMap<String, PhaseDraft>,
}

impl MultiStepContext<'_> {
    /// Builds the step object `s` at `sptr` (of `phase`, if any); `None` for a repeated
    /// step id (an error).
    fn step(
        &self,
        sptr: String,
        mut s: RawFields,
        phase: Option<String>,
        seen: &mut HashMap<String, String>,
        drafts: &mut Drafts,
        diags: &mut Vec<ValidationDiagnostic>,
    ) -> Option<usize> {
        let WorkstreamContext {
            id: ws_id,
            file,
            pointer: ws_pointer,
            ws_index,
            catalog,
        } = *self.workstream;
        let sid = std::mem::take(&mut s.id);
        let full = StepId::nested(ws_id, &sid);
        s.other
            .report(ObjectKind::Step, file, &sptr, full.as_str(), diags);
        let site = ObjectSite {
            file,
            pointer: &sptr,
            step: full.as_str(),
        };
        check_id(&sid, "step", &site, diags);
        check_object_limits(&s, &site, diags);
        check_one_runner(&s, "step", file, &sptr, full.as_str(), diags);
        check_read_only_scope(
            &s,
            self.ws.read_only,
            "step",
            file,
            &sptr,
            full.as_str(),
            diags,
        );
        if let Some(first) = seen.insert(sid.clone(), sptr.clone()) {
            diags.push(
                ValidationDiagnostic::error(
                    file,
                    format!("{sptr}/id"),
                    format!("duplicate step id `{sid}` in workstream `{ws_id}` (first at {first})"),
                )
                .with_step(full.as_str())
                .with_hint("step ids must be unique within their workstream"),
            );
            return None;
        }
        if self.phases.contains_key(&sid) {
            diags.push(
                ValidationDiagnostic::error(
                    file,
                    format!("{sptr}/id"),
                    format!("step id `{sid}` is also a phase id"),
                )
                .with_step(full.as_str()),
            );
        }
        let tool = tool_of(&s).or_else(|| self.ws_tool.cloned()).unwrap_or_else(|| {
            diags.push(
                ValidationDiagnostic::error(file, sptr.as_str(), format!("step `{full}` names no tool"))
                    .with_step(full.as_str())
                    .with_hint("give the step `tool`, `capability` or `command`, or set `tool` on the workstream"),
            );
            ToolChoice::None
        });
        check_tool(&tool, catalog, file, &sptr, full.as_str(), diags);
        let (files_scope, declared) = match declared_scope(&s, file, &sptr, full.as_str(), diags) {
            Some(own) => (own, true),
            None => (
                self.ws_scope.map(<[String]>::to_vec).unwrap_or_default(),
                false,
            ),
        };
        let tests = acceptance_tests(std::mem::take(&mut s.acceptance_tests));
        let inherited = Some((self.ws, ws_pointer));
        let src = SettingsSource {
            own: &s,
            pointer: &sptr,
            workstream: inherited,
            file,
            step: full.as_str(),
        };
        let settings = error_settings(&src, catalog, diags);
        check_inherited_path_lists(&s, &sptr, inherited, file, full.as_str(), diags);
        let compensation = compensation(&src, diags);
        let idle = s.tasks.as_ref().is_none_or(|t| t.0.is_empty())
            && s.prompt.is_none()
            && s.description.is_none()
            && !matches!(tool, ToolChoice::Shell(_));
        if idle {
            diags.push(
                ValidationDiagnostic::error(
                    file,
                    sptr.as_str(),
                    format!("step `{full}` has nothing to do"),
                )
                .with_step(full.as_str())
                .with_hint(
                    "give `tasks`, `prompt` or `description` for its tool, or `command` to run",
                ),
            );
        }
        let depends_on = std::mem::take(&mut s.depends_on);
        let step = StepDraft {
            id: full,
            kind: StepKind::Task,
            workstream: ws_id,
            file,
            pointer: sptr,
            own: s,
            inherited: Some(self.ws),
            tool,
            files_scope,
            declared_scope: declared,
            acceptance_tests: tests,
            settings,
            compensation,
        }
        .into_step();
        Some(drafts.push(
            step,
            StepLinks {
                ws_index,
                depends_on,
                phase,
            },
        ))
    }
}

/// `acceptance_tests` entries as tests: a bare command is its own name.
fn acceptance_tests(raw: Vec<RawAcceptanceTest>) -> Vec<AcceptanceTest> {
    raw.into_iter()
        .map(|t| match t {
            RawAcceptanceTest::Command(c) => AcceptanceTest {
                name: c.clone(),
                command: c,
                timeout_sec: None,
            },
            RawAcceptanceTest::Named {
                name,
                command,
                timeout_sec,
            } => AcceptanceTest {
                name: name.unwrap_or_else(|| command.clone()),
                command,
                timeout_sec,
            },
        })
        .collect()
}
