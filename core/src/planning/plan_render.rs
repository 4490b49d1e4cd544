//! Rendering a plan as text (for people), JSON (for scripts; the issue #2 interface
//! contract: `steps[]` with `id` and `depends_on`, `waves`, `critical_path`) or Graphviz DOT.
//!
//! Implicit edges (steps ordered because their declared scopes overlap, issue #11) are
//! shown as such in every format: a line `b after a (implicit: overlapping files_scope
//! src/x.py)` in text, `edges[]` entries with `"implicit": true` and the reason in JSON
//! (`steps[].depends_on` stays the declared list), dashed labelled edges in DOT.

use std::fmt;
use std::io;

use super::Plan;
use crate::model::{Step, ToolChoice, ValidationSeverity, WorkstreamSet};

/// Output format of `pipeline plan`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlanFormat {
    Text,
    Json,
    Dot,
}

/// What runs, for JSON: `tool` (a profile name), `capability` or `command` (the shell
/// command as written); none of them for a step of acceptance tests only.
#[derive(serde::Serialize, Default)]
struct JsonTool<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    tool: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    capability: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    command: Option<&'a str>,
}

fn json_tool(s: &Step) -> JsonTool<'_> {
    match &s.tool {
        ToolChoice::Shell(c) => JsonTool {
            command: Some(c.as_str()),
            ..JsonTool::default()
        },
        ToolChoice::Profile(p) => JsonTool {
            tool: Some(p.as_str()),
            ..JsonTool::default()
        },
        ToolChoice::Capability(c) => JsonTool {
            capability: Some(c.as_str()),
            ..JsonTool::default()
        },
        ToolChoice::None => JsonTool::default(),
    }
}

fn tool_label(s: &Step) -> String {
    match &s.tool {
        ToolChoice::Shell(c) => {
            let one_line = c.lines().next().unwrap_or("");
            if one_line.chars().count() > 40 || c.contains('\n') {
                format!("shell: {}…", one_line.chars().take(40).collect::<String>())
            } else {
                format!("shell: {one_line}")
            }
        }
        ToolChoice::Profile(p) => format!("tool {p}"),
        ToolChoice::Capability(c) => format!("capability {c}"),
        ToolChoice::None => "acceptance tests".to_string(),
    }
}

/// Renders `plan` of `set` in `format`. Text output ends with a newline.
pub fn render_plan(set: &WorkstreamSet, plan: &Plan, format: PlanFormat) -> String {
    let mut out = Vec::new();
    // Writing into memory cannot fail.
    let _ = write_plan(set, plan, format, &mut out);
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// Writes `plan` of `set` in `format` to `out` as it is rendered, without holding the
/// whole text (tens of megabytes for 100,000 steps in JSON). Errors: those of `out`.
pub fn write_plan(
    set: &WorkstreamSet,
    plan: &Plan,
    format: PlanFormat,
    out: &mut dyn io::Write,
) -> io::Result<()> {
    if format == PlanFormat::Json {
        return write_json(set, plan, out);
    }
    let mut adapter = FmtToIo { out, error: None };
    let rendered = match format {
        PlanFormat::Dot => render_dot(set, plan, &mut adapter),
        _ => render_text(set, plan, &mut adapter),
    };
    match (rendered, adapter.error) {
        (_, Some(e)) => Err(e),
        (Err(_), None) => Err(io::Error::other("formatting the plan failed")),
        (Ok(()), None) => Ok(()),
    }
}

/// Text formatting into an `io::Write`, keeping the first I/O error.
struct FmtToIo<'a> {
    out: &'a mut dyn io::Write,
    error: Option<io::Error>,
}

impl fmt::Write for FmtToIo<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.out.write_all(s.as_bytes()).map_err(|e| {
            self.error.get_or_insert(e);
            fmt::Error
        })
    }
}

fn render_text(set: &WorkstreamSet, plan: &Plan, out: &mut dyn fmt::Write) -> fmt::Result {
    writeln!(
        out,
        "Plan: {} step{} in {} wave{} from {} workstream{}; critical path {} step{}",
        set.steps.len(),
        plural(set.steps.len()),
        plan.waves.len(),
        plural(plan.waves.len()),
        set.workstreams.len(),
        plural(set.workstreams.len()),
        plan.critical_path.len(),
        plural(plan.critical_path.len()),
    )?;
    let width = set
        .steps
        .iter()
        .map(|s| s.id.as_str().len())
        .max()
        .unwrap_or(0)
        .min(60);
    let mut on_path = vec![false; set.steps.len()];
    for &i in &plan.critical_path {
        on_path[i] = true;
    }
    for (w, wave) in plan.waves.iter().enumerate() {
        writeln!(
            out,
            "\nWave {} ({} step{}{}):",
            w + 1,
            wave.len(),
            plural(wave.len()),
            if wave.len() > 1 {
                ", may run at once"
            } else {
                ""
            }
        )?;
        for &i in wave {
            let s = &set.steps[i];
            let mark = if on_path[i] { "*" } else { " " };
            write!(out, " {mark} {:width$}  {}", s.id.as_str(), tool_label(s))?;
            let mut deps: Vec<String> = s.depends_on.iter().map(|d| d.to_string()).collect();
            deps.extend(
                plan.implicit
                    .iter()
                    .filter(|e| e.later == i)
                    .map(|e| format!("{} (implicit)", set.steps[e.earlier].id)),
            );
            if !deps.is_empty() {
                write!(out, "  <- {}", deps.join(", "))?;
            }
            out.write_char('\n')?;
        }
    }
    let path: Vec<&str> = plan
        .critical_path
        .iter()
        .map(|&i| set.steps[i].id.as_str())
        .collect();
    writeln!(out, "\nCritical path (*): {}", path.join(" -> "))?;
    if !plan.implicit.is_empty() {
        writeln!(
            out,
            "\nImplicit order (declared scopes overlap, no path between them):"
        )?;
        for e in &plan.implicit {
            writeln!(
                out,
                "  {} after {} (implicit: {})",
                set.steps[e.later].id,
                set.steps[e.earlier].id,
                e.reason()
            )?;
        }
    }
    let exclusions = plan.exclusions(set);
    if !exclusions.is_empty() {
        writeln!(out, "\nNever at the same time:")?;
        for e in &exclusions {
            writeln!(out, "  {} / {}: {}", e.a, e.b, e.reason)?;
        }
    }
    let notes = set
        .notes
        .iter()
        .filter(|n| n.severity == ValidationSeverity::Note)
        .count();
    if notes > 0 {
        writeln!(
            out,
            "\n{notes} note{} (see `pipeline validate`)",
            plural(notes)
        )?;
    }
    Ok(())
}

fn write_json(set: &WorkstreamSet, plan: &Plan, out: &mut dyn io::Write) -> io::Result<()> {
    use crate::model::{Isolation, StepId};
    #[derive(serde::Serialize)]
    struct JsonStep<'a> {
        id: &'a StepId,
        workstream: &'a str,
        depends_on: &'a [StepId],
        #[serde(flatten)]
        tool: JsonTool<'a>,
        wave: usize,
        priority: u32,
        isolation: Isolation,
        conflict_group: &'a Option<String>,
        files_scope: &'a [String],
        acceptance_tests: Vec<&'a str>,
        /// The step's tasks (an AI tool's work list); omitted when it has none.
        #[serde(skip_serializing_if = "<[String]>::is_empty")]
        tasks: &'a [String],
        /// The step's prompt; omitted when it has none.
        #[serde(skip_serializing_if = "Option::is_none")]
        prompt: Option<&'a str>,
    }
    #[derive(serde::Serialize)]
    struct JsonWorkstream<'a> {
        id: &'a str,
        file: &'a std::path::Path,
        steps: &'a [StepId],
    }
    /// One edge of the DAG, dependency first; implicit ones say why.
    #[derive(serde::Serialize)]
    struct JsonEdge<'a> {
        from: &'a StepId,
        to: &'a StepId,
        implicit: bool,
        #[serde(skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    }
    #[derive(serde::Serialize)]
    struct JsonPlan<'a> {
        steps: Vec<JsonStep<'a>>,
        edges: Vec<JsonEdge<'a>>,
        waves: Vec<Vec<&'a StepId>>,
        critical_path: Vec<&'a StepId>,
        exclusions: Vec<super::Exclusion>,
        workstreams: Vec<JsonWorkstream<'a>>,
    }
    let ids = |v: &[usize]| v.iter().map(|&i| &set.steps[i].id).collect::<Vec<_>>();
    let doc = JsonPlan {
        steps: set
            .steps
            .iter()
            .enumerate()
            .map(|(i, s)| JsonStep {
                id: &s.id,
                workstream: &s.workstream,
                depends_on: &s.depends_on,
                tool: json_tool(s),
                wave: plan.wave_of[i] + 1,
                priority: plan.priority[i],
                isolation: s.isolation,
                conflict_group: &s.conflict_group,
                files_scope: &s.files_scope,
                acceptance_tests: s
                    .acceptance_tests
                    .iter()
                    .map(|t| t.command.as_str())
                    .collect(),
                tasks: &s.tasks,
                prompt: s.prompt.as_deref(),
            })
            .collect(),
        edges: plan
            .deps
            .iter()
            .enumerate()
            .flat_map(|(i, deps)| deps.iter().map(move |&d| (d, i)))
            .map(|(d, i)| {
                let implicit = plan.implicit_edge(d, i);
                JsonEdge {
                    from: &set.steps[d].id,
                    to: &set.steps[i].id,
                    implicit: implicit.is_some(),
                    reason: implicit.map(|e| e.reason()),
                }
            })
            .collect(),
        waves: plan.waves.iter().map(|w| ids(w)).collect(),
        critical_path: ids(&plan.critical_path),
        exclusions: plan.exclusions(set),
        workstreams: set
            .workstreams
            .iter()
            .map(|w| JsonWorkstream {
                id: &w.id,
                file: &w.file,
                steps: &w.steps,
            })
            .collect(),
    };
    serde_json::to_writer_pretty(&mut *out, &doc)?;
    out.write_all(b"\n")
}

fn render_dot(set: &WorkstreamSet, plan: &Plan, out: &mut dyn fmt::Write) -> fmt::Result {
    let q = |s: &str| format!("\"{}\"", escape(s));
    out.write_str("digraph plan {\n  rankdir=LR;\n  node [shape=box, fontname=\"monospace\"];\n")?;
    let on_path: std::collections::HashSet<usize> = plan.critical_path.iter().copied().collect();
    for (i, s) in set.steps.iter().enumerate() {
        let style = if on_path.contains(&i) {
            ", color=red, penwidth=2"
        } else {
            ""
        };
        // `\n` inside a quoted DOT label is Graphviz's centred line break, so it is
        // written unescaped between the two escaped lines.
        let label = format!("\"{}\\n{}\"", escape(s.id.as_str()), escape(&tool_label(s)));
        writeln!(out, "  {} [label={}{}];", q(s.id.as_str()), label, style)?;
    }
    for (i, s) in set.steps.iter().enumerate() {
        for &d in &plan.deps[i] {
            let style = if let Some(e) = plan.implicit_edge(d, i) {
                format!(
                    " [style=dashed, label={}]",
                    q(&format!("implicit: {}", e.reason()))
                )
            } else if on_path.contains(&i) && on_path.contains(&d) {
                " [color=red, penwidth=2]".to_string()
            } else {
                String::new()
            };
            writeln!(
                out,
                "  {} -> {}{};",
                q(set.steps[d].id.as_str()),
                q(s.id.as_str()),
                style
            )?;
        }
    }
    out.write_str("}\n")
}

/// `s` escaped for a quoted DOT string: backslashes and double quotes; a line break
/// becomes a space (labels are one line each).
fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace(['\n', '\r'], " ")
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
