//! Normalisation: schema-valid workstream JSON -> typed [`Step`]s with resolved
//! dependencies, inherited fields applied and definition hashes computed.
//!
//! Dependency names resolve in this order, for a step of workstream `W`: a step id of `W`;
//! a phase id of `W` (every step of the phase); `X/y` (step `y` of workstream `X`); a
//! workstream id `X` (its exit steps: the acceptance gate, else its sinks).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::loader::RawWorkstream;
use super::semantic_checks::{check_cycles, closest};
use super::workstream_set::hex;
use super::{
    AcceptanceTest, CompensationAction, Diagnostic, Isolation, Step, StepId, StepKind, ToolCatalog,
    ToolChoice, Workstream,
};

/// Fields the engine interprets, on workstreams and steps.
const INTERPRETED: &[&str] = &[
    "id",
    "description",
    "tool",
    "capability",
    "command",
    "tasks",
    "prompt",
    "depends_on",
    "files_scope",
    "files_create",
    "context_files",
    "acceptance_tests",
    "timeout_sec",
    "env",
    "isolation",
    "conflict_group",
    "parallel_ok",
    "specs",
    "openspec_tasks",
    "steps",
    "phases",
    "retry",
    "circuit_breaker",
    "compensation",
    "fix_attempts",
    "escalation",
];
/// Informational fields: kept and shown, with no effect on execution by design.
const INFORMATIONAL: &[&str] = &[
    "openspec_change",
    "ccpm_issue",
    "gate",
    "metadata",
    "name",
    "title",
];
const PHASE_FIELDS: &[&str] = &["id", "name", "description", "depends_on", "steps"];

pub(crate) struct Normalized {
    pub workstreams: Vec<Workstream>,
    pub steps: Vec<Step>,
    pub diagnostics: Vec<Diagnostic>,
}

/// A step before dependency resolution.
struct Draft {
    step: Step,
    ws_index: usize,
    /// Raw dependency names with the JSON pointer of each.
    raw_deps: Vec<(String, String)>,
    phase: Option<String>,
}

/// A phase of a workstream: its `depends_on` (phase ids with JSON pointers) and the
/// indices of its steps.
struct Phase {
    depends_on: Vec<(String, String)>,
    members: Vec<usize>,
}

struct WsInfo {
    id: String,
    file: PathBuf,
    pointer: String,
    openspec_change: Option<String>,
    depends_on: Vec<(String, String)>,
    /// Indices into the drafts.
    steps: Vec<usize>,
    phases: BTreeMap<String, Phase>,
    multi_step: bool,
    acceptance: Option<usize>,
}

pub(crate) fn normalize_workstreams(
    raws: &[&RawWorkstream],
    catalog: &dyn ToolCatalog,
) -> Normalized {
    let mut diags = Vec::new();
    let mut drafts: Vec<Draft> = Vec::new();
    let mut infos: Vec<WsInfo> = Vec::new();

    for (wi, raw) in raws.iter().enumerate() {
        let info = build_workstream(wi, raw, catalog, &mut drafts, &mut diags);
        infos.push(info);
    }

    // Local lookup tables.
    let ws_by_id: HashMap<&str, usize> = infos
        .iter()
        .enumerate()
        .map(|(i, w)| (w.id.as_str(), i))
        .collect();
    let step_by_id: HashMap<StepId, usize> = drafts
        .iter()
        .enumerate()
        .map(|(i, d)| (d.step.id.clone(), i))
        .collect();

    // Pass 1: intra-workstream dependencies (steps and phases).
    let mut resolved: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); drafts.len()];
    let mut pending_cross: Vec<Vec<(String, String)>> = vec![Vec::new(); drafts.len()];
    for (di, d) in drafts.iter().enumerate() {
        let w = &infos[d.ws_index];
        for (name, ptr) in &d.raw_deps {
            if let Some(&t) = step_by_id
                .get(&StepId::nested(&w.id, name))
                .filter(|_| w.multi_step)
            {
                resolved[di].insert(t);
            } else if let Some(phase) = w.phases.get(name) {
                resolved[di].extend(phase.members.iter().copied());
            } else {
                pending_cross[di].push((name.clone(), ptr.clone()));
            }
        }
        if let Some(phase) = &d.phase
            && let Some(own) = w.phases.get(phase)
        {
            for (pd, ptr) in &own.depends_on {
                match w.phases.get(pd) {
                    Some(other) => resolved[di].extend(other.members.iter().copied()),
                    None => diags.push(
                        Diagnostic::error(&w.file, ptr.clone(), format!("unknown dependency `{pd}`: no phase with this id in workstream `{}`", w.id))
                            .with_step(w.id.clone())
                            .with_hint(hint_for(pd, w.phases.keys().map(String::as_str))),
                    ),
                }
            }
        }
    }
    // Workstream-level depends_on applies to the workstream's root steps.
    for w in &infos {
        let roots: Vec<usize> = w
            .steps
            .iter()
            .copied()
            .filter(|&s| resolved[s].is_empty() && pending_cross[s].is_empty())
            .collect();
        let targets = if w.multi_step { roots } else { w.steps.clone() };
        for &s in &targets {
            if drafts[s].step.kind == StepKind::WorkstreamAcceptance {
                continue;
            }
            pending_cross[s].extend(w.depends_on.iter().cloned());
        }
    }

    // Sinks and exit steps (from intra-workstream edges only).
    let mut has_dependent = vec![false; drafts.len()];
    for deps in &resolved {
        for &t in deps {
            has_dependent[t] = true;
        }
    }
    let mut exit_steps: Vec<Vec<usize>> = Vec::with_capacity(infos.len());
    for w in infos.iter() {
        if let Some(acc) = w.acceptance {
            let sinks: Vec<usize> = w
                .steps
                .iter()
                .copied()
                .filter(|&s| s != acc && !has_dependent[s])
                .collect();
            resolved[acc].extend(sinks);
            exit_steps.push(vec![acc]);
        } else {
            let sinks = w
                .steps
                .iter()
                .copied()
                .filter(|&s| !has_dependent[s])
                .collect();
            exit_steps.push(sinks);
        }
    }

    // Pass 2: cross-workstream dependencies.
    for di in 0..drafts.len() {
        let w = &infos[drafts[di].ws_index];
        let deps = std::mem::take(&mut pending_cross[di]);
        for (name, ptr) in deps {
            if let Some((ws, step)) = name.split_once('/') {
                if let Some(&t) = step_by_id.get(&StepId::nested(ws, step)) {
                    resolved[di].insert(t);
                    continue;
                }
            } else if let Some(&wi) = ws_by_id.get(name.as_str()) {
                resolved[di].extend(exit_steps[wi].iter().copied());
                continue;
            }
            let candidates = infos.iter().map(|w| w.id.as_str()).chain(
                w.steps
                    .iter()
                    .filter_map(|&s| drafts[s].step.id.as_str().split_once('/').map(|(_, l)| l)),
            );
            diags.push(
                Diagnostic::error(
                    &w.file,
                    ptr,
                    format!(
                        "unknown dependency `{name}`: no step, phase or workstream has this id"
                    ),
                )
                .with_step(drafts[di].step.id.to_string())
                .with_hint(hint_for(&name, candidates)),
            );
        }
    }

    // Finalise steps: deps as ids, definition hashes.
    let ids: Vec<StepId> = drafts.iter().map(|d| d.step.id.clone()).collect();
    let mut steps: Vec<Step> = Vec::with_capacity(drafts.len());
    for (di, d) in drafts.into_iter().enumerate() {
        let mut step = d.step;
        step.depends_on = resolved[di].iter().map(|&t| ids[t].clone()).collect();
        step.depends_on.sort();
        step.definition_hash = definition_hash(&step);
        steps.push(step);
    }
    diags.extend(check_cycles(&steps));

    let workstreams = infos
        .into_iter()
        .zip(exit_steps)
        .map(|(w, exits)| Workstream {
            steps: w.steps.iter().map(|&s| steps[s].id.clone()).collect(),
            exit_steps: exits.iter().map(|&s| steps[s].id.clone()).collect(),
            id: w.id,
            file: w.file,
            pointer: w.pointer,
            openspec_change: w.openspec_change,
            depends_on: w.depends_on.into_iter().map(|(n, _)| n).collect(),
        })
        .collect();
    Normalized {
        workstreams,
        steps,
        diagnostics: diags,
    }
}

fn hint_for<'a>(name: &str, candidates: impl Iterator<Item = &'a str>) -> String {
    match closest(name, candidates) {
        Some(c) => format!("did you mean `{c}`?"),
        None => "depends_on names a step of the same workstream, a phase, a workstream id, or <workstream-id>/<step-id>".to_string(),
    }
}

fn build_workstream(
    wi: usize,
    raw: &RawWorkstream,
    catalog: &dyn ToolCatalog,
    drafts: &mut Vec<Draft>,
    diags: &mut Vec<Diagnostic>,
) -> WsInfo {
    let v = &raw.value;
    let file = &raw.file;
    let ptr = |suffix: &str| format!("{}{}", raw.pointer, suffix);
    report_uninterpreted(v, file, &raw.pointer, &raw.id, INFORMATIONAL, diags);

    let mut info = WsInfo {
        id: raw.id.clone(),
        file: file.clone(),
        pointer: raw.pointer.clone(),
        openspec_change: str_field(v, "openspec_change"),
        depends_on: id_list(v, "depends_on", &ptr("/depends_on")),
        steps: Vec::new(),
        phases: BTreeMap::new(),
        multi_step: v.get("steps").is_some() || v.get("phases").is_some(),
        acceptance: None,
    };
    let ws_scope = scope_of(v, file, &raw.pointer, &raw.id, diags);
    let ws_tool = tool_of(v);
    let ws_tests = tests_of(v);

    if !info.multi_step {
        let tool = match ws_tool.clone() {
            Some(t) => t,
            None => {
                diags.push(
                    Diagnostic::error(file, ptr(""), format!("workstream `{}` names no tool", raw.id))
                        .with_step(raw.id.clone())
                        .with_hint("give `tool` (a profile of config/tools.yaml), `capability`, or `command` (a shell command)"),
                );
                ToolChoice::None
            }
        };
        check_tool(&tool, catalog, file, &ptr(""), &raw.id, diags);
        let mut step = base_step(
            StepId::workstream(&raw.id),
            &raw.id,
            file,
            raw.pointer.clone(),
            v,
            v,
            tool,
            ws_scope.clone().unwrap_or_default(),
            true,
            ws_tests,
        );
        apply_error_settings(&mut step, v, None, &raw.pointer, catalog, diags);
        if step.tasks.is_empty()
            && step.prompt.is_none()
            && !matches!(step.tool, ToolChoice::Shell(_))
        {
            diags.push(
                Diagnostic::error(
                    file,
                    ptr(""),
                    format!("workstream `{}` has nothing to do", raw.id),
                )
                .with_step(raw.id.clone())
                .with_hint("give `tasks` or `prompt` for its tool, `command` to run, or `steps`"),
            );
        }
        info.steps.push(drafts.len());
        drafts.push(Draft {
            step,
            ws_index: wi,
            raw_deps: Vec::new(),
            phase: None,
        });
        return info;
    }

    // Multi-step workstream: steps[] then phases[].steps[].
    let mut step_values: Vec<(String, &Value, Option<String>)> = Vec::new();
    if let Some(Value::Array(steps)) = v.get("steps") {
        for (i, s) in steps.iter().enumerate() {
            step_values.push((ptr(&format!("/steps/{i}")), s, None));
        }
    }
    if let Some(Value::Array(phases)) = v.get("phases") {
        for (pi, p) in phases.iter().enumerate() {
            let pid = p
                .get("id")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            let pptr = ptr(&format!("/phases/{pi}"));
            report_uninterpreted(
                p,
                file,
                &pptr,
                &format!("{}/{}", raw.id, pid),
                PHASE_FIELDS,
                diags,
            );
            let deps = id_list(p, "depends_on", &format!("{pptr}/depends_on"));
            if info
                .phases
                .insert(
                    pid.clone(),
                    Phase {
                        depends_on: deps,
                        members: Vec::new(),
                    },
                )
                .is_some()
            {
                diags.push(
                    Diagnostic::error(
                        file,
                        format!("{pptr}/id"),
                        format!("duplicate phase id `{pid}`"),
                    )
                    .with_step(raw.id.clone()),
                );
            }
            if let Some(Value::Array(steps)) = p.get("steps") {
                for (si, s) in steps.iter().enumerate() {
                    step_values.push((format!("{pptr}/steps/{si}"), s, Some(pid.clone())));
                }
            }
        }
    }
    let mut seen: HashMap<String, String> = HashMap::new();
    for (sptr, s, phase) in step_values {
        let sid = s.get("id").and_then(Value::as_str).unwrap_or_default();
        let full = StepId::nested(&raw.id, sid);
        report_uninterpreted(
            s,
            file,
            &sptr,
            full.as_str(),
            &["isolation", "name", "metadata"],
            diags,
        );
        if let Some(first) = seen.insert(sid.to_string(), sptr.clone()) {
            diags.push(
                Diagnostic::error(
                    file,
                    format!("{sptr}/id"),
                    format!(
                        "duplicate step id `{sid}` in workstream `{}` (first at {first})",
                        raw.id
                    ),
                )
                .with_step(full.to_string())
                .with_hint("step ids must be unique within their workstream"),
            );
            continue;
        }
        if info.phases.contains_key(sid) {
            diags.push(
                Diagnostic::error(
                    file,
                    format!("{sptr}/id"),
                    format!("step id `{sid}` is also a phase id"),
                )
                .with_step(full.to_string()),
            );
        }
        let tool = match tool_of(s).or_else(|| ws_tool.clone()) {
            Some(t) => t,
            None => {
                diags.push(
                    Diagnostic::error(file, sptr.clone(), format!("step `{full}` names no tool"))
                        .with_step(full.to_string())
                        .with_hint("give the step `tool`, `capability` or `command`, or set `tool` on the workstream"),
                );
                ToolChoice::None
            }
        };
        check_tool(&tool, catalog, file, &sptr, full.as_str(), diags);
        let own_scope = scope_of(s, file, &sptr, full.as_str(), diags);
        let (scope, declared) = match own_scope {
            Some(sc) => (sc, true),
            None => (ws_scope.clone().unwrap_or_default(), false),
        };
        let mut step = base_step(
            full.clone(),
            &raw.id,
            file,
            sptr.clone(),
            s,
            v,
            tool,
            scope,
            declared,
            tests_of(s),
        );
        apply_error_settings(
            &mut step,
            s,
            Some((v, raw.pointer.as_str())),
            &sptr,
            catalog,
            diags,
        );
        if step.tasks.is_empty()
            && step.prompt.is_none()
            && step.description.is_none()
            && !matches!(step.tool, ToolChoice::Shell(_))
        {
            diags.push(
                Diagnostic::error(
                    file,
                    sptr.clone(),
                    format!("step `{full}` has nothing to do"),
                )
                .with_step(full.to_string())
                .with_hint(
                    "give `tasks`, `prompt` or `description` for its tool, or `command` to run",
                ),
            );
        }
        let idx = drafts.len();
        if let Some(p) = &phase
            && let Some(entry) = info.phases.get_mut(p)
        {
            entry.members.push(idx);
        }
        info.steps.push(idx);
        drafts.push(Draft {
            raw_deps: id_list(s, "depends_on", &format!("{sptr}/depends_on")),
            step,
            ws_index: wi,
            phase,
        });
    }

    if !ws_tests.is_empty() {
        let id = StepId::nested(&raw.id, "_acceptance");
        let mut step = base_step(
            id,
            &raw.id,
            file,
            ptr("/acceptance_tests"),
            &Value::Null,
            v,
            ToolChoice::None,
            Vec::new(),
            false,
            ws_tests,
        );
        step.kind = StepKind::WorkstreamAcceptance;
        step.description = Some(format!("acceptance tests of workstream {}", raw.id));
        step.tasks.clear();
        step.prompt = None;
        info.acceptance = Some(drafts.len());
        info.steps.push(drafts.len());
        drafts.push(Draft {
            step,
            ws_index: wi,
            raw_deps: Vec::new(),
            phase: None,
        });
    }
    info
}

#[allow(clippy::too_many_arguments)]
fn base_step(
    id: StepId,
    ws: &str,
    file: &std::path::Path,
    pointer: String,
    s: &Value,
    ws_value: &Value,
    tool: ToolChoice,
    files_scope: Vec<String>,
    declared_scope: bool,
    acceptance_tests: Vec<AcceptanceTest>,
) -> Step {
    let inherit = |key: &str| s.get(key).or_else(|| ws_value.get(key));
    let mut env: BTreeMap<String, String> = BTreeMap::new();
    for src in [ws_value.get("env"), s.get("env")].into_iter().flatten() {
        if let Value::Object(m) = src {
            for (k, v) in m {
                if let Some(v) = v.as_str() {
                    env.insert(k.clone(), v.to_string());
                }
            }
        }
    }
    Step {
        id,
        workstream: ws.to_string(),
        kind: StepKind::Task,
        file: file.to_path_buf(),
        pointer,
        description: str_field(s, "description"),
        tool,
        tasks: match s.get("tasks") {
            Some(Value::String(t)) => vec![t.clone()],
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect(),
            _ => Vec::new(),
        },
        prompt: str_field(s, "prompt"),
        depends_on: Vec::new(),
        files_scope,
        declared_scope,
        acceptance_tests,
        context_files: strings(inherit("context_files")),
        timeout_sec: inherit("timeout_sec").and_then(Value::as_f64),
        env,
        isolation: match inherit("isolation").and_then(Value::as_str) {
            Some("none") => Isolation::None,
            _ => Isolation::Worktree,
        },
        conflict_group: inherit("conflict_group")
            .and_then(Value::as_str)
            .map(str::to_string),
        parallel_ok: inherit("parallel_ok")
            .and_then(Value::as_bool)
            .unwrap_or(true),
        specs: strings(s.get("specs")),
        openspec_tasks: strings(s.get("openspec_tasks")),
        retry: pipeline_error::RetrySettings::default(),
        breaker_cooldown_sec: None,
        compensation: Vec::new(),
        fix_attempts: 0,
        escalation: Vec::new(),
        definition_hash: String::new(),
    }
}

/// Reads the error-engine settings of a step: `retry` and `circuit_breaker` blocks (the
/// workstream's, overlaid by the step's, in the original format of
/// `shared/conformance/.../03_error_handling.json`), `compensation`, `fix_attempts` and
/// `escalation`. Invalid settings are errors naming the field; keys of the original
/// blocks this engine does not use are notes.
fn apply_error_settings(
    step: &mut Step,
    s: &Value,
    ws: Option<(&Value, &str)>,
    pointer: &str,
    catalog: &dyn ToolCatalog,
    diags: &mut Vec<Diagnostic>,
) {
    use pipeline_error::{RetryPolicy, WorkstreamErrorBlocks};
    let file = step.file.clone();
    let id = step.id.to_string();
    let mut blocks = |v: &Value, ptr: &str| match WorkstreamErrorBlocks::from_json(
        v.get("retry"),
        v.get("circuit_breaker"),
    ) {
        Ok(b) => {
            for key in &b.not_interpreted {
                diags.push(
                    Diagnostic::note(
                        &file,
                        format!("{ptr}/{}", key.replace('.', "/")),
                        format!("`{key}` is not interpreted; kept as data"),
                    )
                    .with_step(id.clone()),
                );
            }
            Some(b)
        }
        Err(e) => {
            diags.push(
                Diagnostic::error(
                    &file,
                    format!("{ptr}/{}", e.field.replace('.', "/")),
                    format!("invalid error-handling setting: {e}"),
                )
                .with_step(id.clone())
                .with_hint("see docs/ERRORS.md for the retry and circuit_breaker settings"),
            );
            None
        }
    };
    let outer = ws.and_then(|(wv, wp)| blocks(wv, wp));
    let inner = blocks(s, pointer);
    let mut settings = outer.as_ref().map(|b| b.retry.clone()).unwrap_or_default();
    if let Some(b) = &inner {
        settings = settings.overlay(&b.retry);
    }
    if let Err(e) = RetryPolicy::from_settings(&settings) {
        diags.push(
            Diagnostic::error(
                &file,
                format!("{pointer}/retry"),
                format!("invalid retry settings: {e}"),
            )
            .with_step(id.clone()),
        );
    }
    step.retry = settings;
    step.breaker_cooldown_sec = inner
        .as_ref()
        .and_then(|b| b.cooldown)
        .or_else(|| outer.as_ref().and_then(|b| b.cooldown))
        .map(|d| d.as_secs_f64());

    let inherit = |key: &str| s.get(key).or_else(|| ws.and_then(|(wv, _)| wv.get(key)));
    step.fix_attempts = inherit("fix_attempts").and_then(Value::as_u64).unwrap_or(0) as u32;
    step.escalation = strings(inherit("escalation"));
    for (i, tool) in step.escalation.iter().enumerate() {
        if !catalog.has_tool(tool) {
            diags.push(
                Diagnostic::error(
                    &file,
                    format!("{pointer}/escalation/{i}"),
                    format!("unknown tool `{tool}` in escalation"),
                )
                .with_step(id.clone())
                .with_hint(format!("known tools: {}", catalog.tool_names().join(", "))),
            );
        }
    }
    for (i, entry) in step.context_files.iter().enumerate() {
        if let Err(err) = super::check_scope_path(entry) {
            let key = if s.get("context_files").is_some() {
                pointer.to_string()
            } else {
                ws.map(|(_, p)| p.to_string()).unwrap_or_default()
            };
            diags.push(
                Diagnostic::error(
                    &file,
                    format!("{key}/context_files/{i}"),
                    format!("context_files: {err}"),
                )
                .with_step(id.clone()),
            );
        }
    }
    step.compensation = compensation_of(
        s.get("compensation"),
        &file,
        &format!("{pointer}/compensation"),
        &id,
        diags,
    );
}

/// `compensation`: a command string, `{"command": ..., "timeout_sec": ...}`, or an array
/// of those. The original format's `{"enabled", "action", "parameters"}` names a method of
/// generated code, not a command: reported as not interpreted.
fn compensation_of(
    v: Option<&Value>,
    file: &std::path::Path,
    pointer: &str,
    id: &str,
    diags: &mut Vec<Diagnostic>,
) -> Vec<CompensationAction> {
    let one = |v: &Value, ptr: &str, diags: &mut Vec<Diagnostic>| -> Option<CompensationAction> {
        match v {
            Value::String(c) if !c.trim().is_empty() => Some(CompensationAction {
                command: c.clone(),
                timeout_sec: None,
            }),
            Value::Object(o) if o.get("enabled").and_then(Value::as_bool) == Some(false) => None,
            Value::Object(o) => match o.get("command").and_then(Value::as_str) {
                Some(c) => Some(CompensationAction {
                    command: c.to_string(),
                    timeout_sec: o
                        .get("timeout_sec")
                        .or_else(|| o.get("timeout"))
                        .and_then(Value::as_f64),
                }),
                None => {
                    diags.push(
                        Diagnostic::note(file, ptr.to_string(), "compensation without `command` (e.g. `action`, a method name) is not interpreted; kept as data")
                            .with_step(id.to_string()),
                    );
                    None
                }
            },
            _ => {
                diags.push(
                    Diagnostic::error(
                        file,
                        ptr.to_string(),
                        "compensation must be a command string or an object with `command`",
                    )
                    .with_step(id.to_string()),
                );
                None
            }
        }
    };
    match v {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .filter_map(|(i, x)| one(x, &format!("{pointer}/{i}"), diags))
            .collect(),
        Some(other) => one(other, pointer, diags).into_iter().collect(),
    }
}

fn definition_hash(step: &Step) -> String {
    /// Only what changes the step's effect: not its file, pointer or informational fields.
    #[derive(serde::Serialize)]
    struct Definition<'a> {
        kind: &'a StepKind,
        tool: &'a ToolChoice,
        description: &'a Option<String>,
        tasks: &'a [String],
        prompt: &'a Option<String>,
        depends_on: &'a [StepId],
        files_scope: &'a [String],
        acceptance_tests: &'a [AcceptanceTest],
        context_files: &'a [String],
        timeout_sec: &'a Option<f64>,
        env: &'a BTreeMap<String, String>,
        isolation: &'a Isolation,
        specs: &'a [String],
        openspec_tasks: &'a [String],
    }
    /// Feeds serialised bytes straight into the hash, without an intermediate buffer.
    struct HashWriter(Sha256);
    impl std::io::Write for HashWriter {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.update(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let definition = Definition {
        kind: &step.kind,
        tool: &step.tool,
        description: &step.description,
        tasks: &step.tasks,
        prompt: &step.prompt,
        depends_on: &step.depends_on,
        files_scope: &step.files_scope,
        acceptance_tests: &step.acceptance_tests,
        context_files: &step.context_files,
        timeout_sec: &step.timeout_sec,
        env: &step.env,
        isolation: &step.isolation,
        specs: &step.specs,
        openspec_tasks: &step.openspec_tasks,
    };
    let mut w = HashWriter(Sha256::new());
    // Serialising plain data into an infallible writer cannot fail.
    let _ = serde_json::to_writer(&mut w, &definition);
    hex(&w.0.finalize())
}

fn str_field(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_string)
}

fn strings(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    }
}

fn id_list(v: &Value, key: &str, pointer: &str) -> Vec<(String, String)> {
    match v.get(key) {
        Some(Value::Array(a)) => a
            .iter()
            .enumerate()
            .filter_map(|(i, x)| {
                x.as_str()
                    .map(|s| (s.to_string(), format!("{pointer}/{i}")))
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn tool_of(v: &Value) -> Option<ToolChoice> {
    if let Some(c) = v.get("command").and_then(Value::as_str) {
        return Some(ToolChoice::Shell(c.to_string()));
    }
    if let Some(t) = v.get("tool").and_then(Value::as_str) {
        return Some(ToolChoice::Profile(t.to_string()));
    }
    v.get("capability")
        .and_then(Value::as_str)
        .map(|c| ToolChoice::Capability(c.to_string()))
}

fn tests_of(v: &Value) -> Vec<AcceptanceTest> {
    let Some(Value::Array(items)) = v.get("acceptance_tests") else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|t| match t {
            Value::String(c) => Some(AcceptanceTest {
                name: c.clone(),
                command: c.clone(),
                timeout_sec: None,
            }),
            Value::Object(o) => {
                let command = o.get("command")?.as_str()?.to_string();
                Some(AcceptanceTest {
                    name: o
                        .get("name")
                        .and_then(Value::as_str)
                        .unwrap_or(&command)
                        .to_string(),
                    timeout_sec: o.get("timeout_sec").and_then(Value::as_f64),
                    command,
                })
            }
            _ => None,
        })
        .collect()
}

/// `files_scope` + `files_create` of an object, when either is present; bad paths are
/// reported with the pointer of the entry.
fn scope_of(
    v: &Value,
    file: &std::path::Path,
    pointer: &str,
    id: &str,
    diags: &mut Vec<Diagnostic>,
) -> Option<Vec<String>> {
    let mut out = Vec::new();
    let mut present = false;
    for key in ["files_scope", "files_create"] {
        if let Some(Value::Array(a)) = v.get(key) {
            present = true;
            for (i, e) in a.iter().enumerate() {
                let Some(e) = e.as_str() else { continue };
                match super::check_scope_path(e) {
                    Ok(()) => {
                        if !out.iter().any(|x| x == e) {
                            out.push(e.to_string());
                        }
                    }
                    Err(err) => diags.push(
                        Diagnostic::error(
                            file,
                            format!("{pointer}/{key}/{i}"),
                            format!("{key}: {err}"),
                        )
                        .with_step(id.to_string())
                        .with_hint(
                            "scope paths are relative to the repository root and stay inside it",
                        ),
                    ),
                }
            }
        }
    }
    if let Err(err) = super::FileScope::new(out.iter().map(String::as_str)) {
        diags.push(
            Diagnostic::error(
                file,
                format!("{pointer}/files_scope"),
                format!("files_scope: {err}"),
            )
            .with_step(id.to_string()),
        );
    }
    present.then_some(out)
}

fn check_tool(
    tool: &ToolChoice,
    catalog: &dyn ToolCatalog,
    file: &std::path::Path,
    pointer: &str,
    id: &str,
    diags: &mut Vec<Diagnostic>,
) {
    match tool {
        ToolChoice::Profile(name) if !catalog.has_tool(name) => {
            let names = catalog.tool_names();
            let hint = match closest(name, names.iter().map(String::as_str)) {
                Some(c) => format!("did you mean `{c}`? Known tools: {}", names.join(", ")),
                None => format!(
                    "known tools: {}; define profiles in .pipeline/config.yaml under `tools:`",
                    names.join(", ")
                ),
            };
            diags.push(
                Diagnostic::error(
                    file,
                    format!("{pointer}/tool"),
                    format!("unknown tool `{name}`"),
                )
                .with_step(id.to_string())
                .with_hint(hint),
            );
        }
        ToolChoice::Capability(cap) if !catalog.has_capability(cap) => {
            diags.push(
                Diagnostic::error(
                    file,
                    format!("{pointer}/capability"),
                    format!("no tool profile has capability `{cap}`"),
                )
                .with_step(id.to_string())
                .with_hint(
                    "add the capability to a profile's `capabilities` in .pipeline/config.yaml",
                ),
            );
        }
        _ => {}
    }
}

fn report_uninterpreted(
    v: &Value,
    file: &std::path::Path,
    pointer: &str,
    id: &str,
    extra_known: &[&str],
    diags: &mut Vec<Diagnostic>,
) {
    let Value::Object(map) = v else { return };
    for key in map.keys() {
        if key.starts_with('_')
            || INTERPRETED.contains(&key.as_str())
            || INFORMATIONAL.contains(&key.as_str())
            || extra_known.contains(&key.as_str())
        {
            continue;
        }
        let msg = format!("field `{key}` is not interpreted; kept as data");
        diags.push(
            Diagnostic::note(file, format!("{pointer}/{key}"), msg).with_step(id.to_string()),
        );
    }
}
