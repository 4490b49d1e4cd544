//! Rendering a plan as text (for people), JSON (for scripts; the issue #2 interface
//! contract: `steps[]` with `id` and `depends_on`, `waves`, `critical_path`) or Graphviz DOT.

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
            if !s.depends_on.is_empty() {
                let deps: Vec<&str> = s.depends_on.iter().map(|d| d.as_str()).collect();
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
        tool: String,
        wave: usize,
        priority: u32,
        isolation: Isolation,
        conflict_group: &'a Option<String>,
        files_scope: &'a [String],
        acceptance_tests: Vec<&'a str>,
    }
    #[derive(serde::Serialize)]
    struct JsonWorkstream<'a> {
        id: &'a str,
        file: &'a std::path::Path,
        steps: &'a [StepId],
    }
    #[derive(serde::Serialize)]
    struct JsonPlan<'a> {
        steps: Vec<JsonStep<'a>>,
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
                tool: tool_label(s),
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
    let q = |s: &str| format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""));
    out.write_str("digraph plan {\n  rankdir=LR;\n  node [shape=box, fontname=\"monospace\"];\n")?;
    let on_path: std::collections::HashSet<usize> = plan.critical_path.iter().copied().collect();
    for (i, s) in set.steps.iter().enumerate() {
        let style = if on_path.contains(&i) {
            ", color=red, penwidth=2"
        } else {
            ""
        };
        writeln!(
            out,
            "  {} [label={}{}];",
            q(s.id.as_str()),
            q(&format!("{}\\n{}", s.id, tool_label(s))),
            style
        )?;
    }
    for (i, s) in set.steps.iter().enumerate() {
        for &d in &plan.deps[i] {
            let style = if on_path.contains(&i) && on_path.contains(&d) {
                " [color=red, penwidth=2]"
            } else {
                ""
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

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
