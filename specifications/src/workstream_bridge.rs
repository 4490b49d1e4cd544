//! Turning a change proposal (or a CCPM epic) into a workstream.
//!
//! One step per task group of `tasks.md` (`## N. Title` headings; a file without
//! groups becomes one step): the step's `tasks` are the group's task lines as written
//! (`1.1 Add the table`), `openspec_tasks` their numbers (so a completed step can tick
//! them with [`crate::task_list::tick_tasks`]), `depends_on` the groups named by an
//! explicit reference in the group (`Depends on: 1, 2`, `after 1.3`, `requires group
//! 2`) or else the previous group, `specs` the change's delta requirements as
//! `spec://` references (those a group mentions by name, or all of them), and
//! `acceptance_tests` the lines of a fenced block whose info string says `acceptance`
//! (in the group, else before the first group) or the configured default. Step ids are
//! `<N>-<slug of the title>` and match `^[A-Za-z0-9][A-Za-z0-9._-]*$`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::catalog::change_touches;
use crate::code_fence::fence_mask;
use crate::ecma_text::{js_re, js_trim};
use crate::layout::{Layout, read_lossy};
use crate::task_list::parse_task_line;

js_re!(GROUP_HEADING, r"^ {0,3}##[ \t]+(?:(\d+)\.?[ \t]*)?(.*)$");
js_re!(HTML_COMMENT, r"<!--.*?-->");
js_re!(
    DEPENDENCY,
    r"(?i)(?:depends[ _]on|after|requires)\s*:?\s*((?:(?:group|task|step)s?\s*)?\d+(?:\.\d+)*(?:\s*(?:,|and|&)\s*(?:(?:group|task|step)s?\s*)?\d+(?:\.\d+)*)*)"
);
js_re!(NUMBER, r"\d+(?:\.\d+)*");
js_re!(FENCE_INFO, r"^\s*(?:`{3,}|~{3,})(.*)$");

/// How steps are executed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BridgeOptions {
    /// Tool profile for every step (default `aider`).
    pub tool: Option<String>,
    /// Capability instead of a tool (e.g. `code_generation`); wins over `tool`.
    pub capability: Option<String>,
    /// Acceptance tests for steps that declare none.
    pub default_acceptance_tests: Vec<String>,
}

/// One step of a [`GeneratedWorkstream`], serialised in the workstream file format.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GeneratedStep {
    /// `<N>-<slug>`.
    pub id: String,
    /// Group title.
    pub description: String,
    /// Task lines (`1.1 text`).
    pub tasks: Vec<String>,
    /// Task numbers of `tasks.md` this step completes.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub openspec_tasks: Vec<String>,
    /// Step ids this step needs first.
    pub depends_on: Vec<String>,
    /// Tool profile.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool: Option<String>,
    /// Capability (instead of a tool).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capability: Option<String>,
    /// `spec://` references whose text goes into the prompt.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub specs: Vec<String>,
    /// Shell commands that must pass.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub acceptance_tests: Vec<String>,
    /// Extra facts (CCPM: parallel flag, source file).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, serde_json::Value>,
    /// CCPM tasks that must not run at once share a group.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conflict_group: Option<String>,
    /// `false` for CCPM tasks marked `parallel: false`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parallel_ok: Option<bool>,
}

/// A workstream generated from a change proposal or a CCPM epic: plain data that
/// serialises to a workstream file (not the engine's loaded workstream model, which
/// lives in pipeline-core and is built by loading such a file).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GeneratedWorkstream {
    /// `ws-<change-id>` / `ws-<epic>`.
    pub id: String,
    /// The change id (absent for CCPM epics).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub openspec_change: Option<String>,
    /// Title.
    pub description: String,
    /// Steps in task-file order.
    pub steps: Vec<GeneratedStep>,
    /// Source facts.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, serde_json::Value>,
}

/// Why a workstream cannot be generated.
#[derive(Debug, thiserror::Error)]
pub enum BridgeError {
    /// No such change or epic.
    #[error("{0}")]
    NotFound(String),
    /// The task file has no task.
    #[error(
        "{path}: no task found; write tasks as \"- [ ] 1.1 Description\" under \"## 1. Group\" headings"
    )]
    NoTasks {
        /// The task file.
        path: PathBuf,
    },
    /// A dependency names a group or task that does not exist.
    #[error("{path}: {message}")]
    BadReference {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// Lowercase ASCII slug: runs of other characters become `-`, at most 48 bytes.
pub fn slug(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    let mut out = out.trim_end_matches('-').to_string();
    if out.len() > 48 {
        out.truncate(48);
        out = out.trim_end_matches('-').to_string();
    }
    out
}

fn step_id(number: &str, title: &str) -> String {
    let s = slug(title);
    if s.is_empty() {
        number.to_string()
    } else {
        format!("{number}-{s}")
    }
}

#[derive(Debug, Default)]
struct Group {
    number: String,
    title: String,
    tasks: Vec<String>,
    task_numbers: Vec<String>,
    text: String,
    references: Vec<String>,
    acceptance: Vec<String>,
}

fn references_in(text: &str) -> Vec<String> {
    DEPENDENCY
        .captures_iter(text)
        .filter_map(|c| c.get(1))
        .flat_map(|m| {
            NUMBER
                .find_iter(m.as_str())
                .map(|n| n.as_str().split('.').next().unwrap_or("").to_string())
                .collect::<Vec<_>>()
        })
        .collect()
}

fn acceptance_lines(block: &[&str]) -> Vec<String> {
    block
        .iter()
        .map(|l| js_trim(l))
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect()
}

/// Splits `tasks.md` into groups; returns (groups, acceptance commands before the first group).
fn task_groups(content: &str, fallback_title: &str) -> (Vec<Group>, Vec<String>) {
    let normalized = crate::line_ending::normalize(content);
    let lines: Vec<&str> = normalized.split('\n').collect();
    let mask = fence_mask(&lines);
    let mut groups: Vec<Group> = Vec::new();
    let mut preamble_acceptance = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        if mask[i] {
            // A fenced block: collect it whole; keep it when its info string says acceptance.
            let info = FENCE_INFO
                .captures(line)
                .and_then(|c| c.get(1))
                .map_or("", |m| m.as_str())
                .to_lowercase();
            let start = i + 1;
            let mut end = start;
            while end < lines.len()
                && mask[end]
                && !(end > i
                    && FENCE_INFO.is_match(lines[end])
                    && js_trim(lines[end]).chars().all(|c| c == '`' || c == '~'))
            {
                end += 1;
            }
            if info.contains("acceptance") {
                let commands = acceptance_lines(&lines[start..end.min(lines.len())]);
                match groups.last_mut() {
                    Some(group) => group.acceptance.extend(commands),
                    None => preamble_acceptance.extend(commands),
                }
            }
            i = end + 1;
            continue;
        }
        if let Some(c) = GROUP_HEADING.captures(line) {
            let title = js_trim(&HTML_COMMENT.replace_all(c.get(2).map_or("", |m| m.as_str()), ""))
                .to_string();
            let number = c
                .get(1)
                .map(|m| m.as_str().to_string())
                .unwrap_or_else(|| (groups.len() + 1).to_string());
            groups.push(Group {
                number,
                title: title.clone(),
                text: title,
                ..Group::default()
            });
            i += 1;
            continue;
        }
        if let Some(task) = parse_task_line(line) {
            if groups.is_empty() {
                groups.push(Group {
                    number: "1".into(),
                    title: fallback_title.to_string(),
                    ..Group::default()
                });
            }
            if let Some(group) = groups.last_mut() {
                let description =
                    js_trim(&HTML_COMMENT.replace_all(&task.description, "")).to_string();
                group.text.push('\n');
                group.text.push_str(&description);
                if let Some(n) = &task.number {
                    group.task_numbers.push(n.clone());
                }
                group.tasks.push(description);
            }
        } else if let Some(group) = groups.last_mut() {
            group.text.push('\n');
            group.text.push_str(line);
        }
        i += 1;
    }
    groups.retain(|g| !g.tasks.is_empty());
    for group in &mut groups {
        let own = group.number.clone();
        let mut refs: Vec<String> = references_in(&group.text)
            .into_iter()
            .filter(|r| *r != own)
            .collect();
        refs.dedup();
        group.references = refs;
    }
    (groups, preamble_acceptance)
}

fn execution(options: &BridgeOptions) -> (Option<String>, Option<String>) {
    match &options.capability {
        Some(capability) => (None, Some(capability.clone())),
        None => (
            Some(options.tool.clone().unwrap_or_else(|| "aider".into())),
            None,
        ),
    }
}

/// Builds the workstream for change `change` of `layout`.
///
/// Errors: unknown change, no tasks, a dependency on a group that does not exist,
/// unreadable files.
pub fn change_to_workstream(
    layout: &Layout,
    change: &str,
    options: &BridgeOptions,
) -> Result<GeneratedWorkstream, BridgeError> {
    let dir = layout.change_dir(change);
    if !dir.is_dir() {
        let available = layout.change_ids().unwrap_or_default();
        return Err(BridgeError::NotFound(format!(
            "no active change '{change}' in {}; available: {}",
            layout.changes_dir().display(),
            if available.is_empty() {
                "none".to_string()
            } else {
                available.join(", ")
            }
        )));
    }
    let tasks_path = dir.join("tasks.md");
    let tasks = read_lossy(&tasks_path).map_err(|source| BridgeError::Io {
        path: tasks_path.clone(),
        source,
    })?;
    let proposal = read_lossy(&dir.join("proposal.md")).unwrap_or_default();
    let title = crate::change_view::proposal_title(&proposal, change);
    let (groups, preamble_acceptance) = task_groups(&tasks, &title);
    if groups.is_empty() {
        return Err(BridgeError::NoTasks { path: tasks_path });
    }
    let requirements = delta_requirement_refs(layout, change, &dir)?;
    let ids: BTreeMap<String, String> = groups
        .iter()
        .map(|g| (g.number.clone(), step_id(&g.number, &g.title)))
        .collect();
    let (tool, capability) = execution(options);
    let mut steps = Vec::new();
    for (index, group) in groups.iter().enumerate() {
        let acceptance = if !group.acceptance.is_empty() {
            group.acceptance.clone()
        } else if !preamble_acceptance.is_empty() {
            preamble_acceptance.clone()
        } else {
            options.default_acceptance_tests.clone()
        };
        steps.push(GeneratedStep {
            id: ids[&group.number].clone(),
            description: group.title.clone(),
            tasks: group.tasks.clone(),
            openspec_tasks: group.task_numbers.clone(),
            depends_on: group_dependencies(&groups, index, &ids, &tasks_path)?,
            tool: tool.clone(),
            capability: capability.clone(),
            specs: group_specs(group, &requirements),
            acceptance_tests: acceptance,
            metadata: BTreeMap::new(),
            conflict_group: None,
            parallel_ok: None,
        });
    }
    Ok(GeneratedWorkstream {
        id: format!("ws-{change}"),
        openspec_change: Some(change.to_string()),
        description: title,
        steps,
        metadata: BTreeMap::new(),
    })
}

/// The requirements a change adds, modifies or renames (under the new name), each as
/// `(name, spec://<capability>#<name>)`.
fn delta_requirement_refs(
    layout: &Layout,
    change: &str,
    dir: &Path,
) -> Result<Vec<(String, String)>, BridgeError> {
    let touches = change_touches(layout, change).map_err(|source| BridgeError::Io {
        path: dir.join("specs"),
        source,
    })?;
    Ok(touches
        .iter()
        .filter_map(|t| match t.operation {
            "ADDED" | "MODIFIED" => Some((
                t.requirement.clone(),
                format!("spec://{}#{}", t.capability, t.requirement),
            )),
            "RENAMED" => t
                .new_name
                .as_ref()
                .map(|n| (n.clone(), format!("spec://{}#{n}", t.capability))),
            _ => None,
        })
        .collect())
}

/// The step ids group `index` depends on: the groups it names, each once, or else the
/// previous group. Errors: [`BridgeError::BadReference`] for a group that does not exist.
fn group_dependencies(
    groups: &[Group],
    index: usize,
    ids: &BTreeMap<String, String>,
    tasks_path: &Path,
) -> Result<Vec<String>, BridgeError> {
    let group = &groups[index];
    if group.references.is_empty() {
        return Ok(index
            .checked_sub(1)
            .map(|p| vec![ids[&groups[p].number].clone()])
            .unwrap_or_default());
    }
    let mut deps = Vec::new();
    for reference in &group.references {
        let id = ids
            .get(reference)
            .ok_or_else(|| BridgeError::BadReference {
                path: tasks_path.to_path_buf(),
                message: format!(
                    "group {} ({}) depends on group {reference}, which does not exist (groups: {})",
                    group.number,
                    group.title,
                    ids.keys().cloned().collect::<Vec<_>>().join(", ")
                ),
            })?;
        if !deps.contains(id) {
            deps.push(id.clone());
        }
    }
    Ok(deps)
}

/// The `spec://` references of a group's step: the requirements its text names
/// (case-insensitively), or all of them when it names none.
fn group_specs(group: &Group, requirements: &[(String, String)]) -> Vec<String> {
    let lower = group.text.to_lowercase();
    let mentioned: Vec<String> = requirements
        .iter()
        .filter(|(name, _)| lower.contains(&name.to_lowercase()))
        .map(|(_, r)| r.clone())
        .collect();
    if mentioned.is_empty() {
        requirements.iter().map(|(_, r)| r.clone()).collect()
    } else {
        mentioned
    }
}

/// Front matter of a CCPM task file.
#[derive(Debug, Default, serde::Deserialize)]
struct CcpmFrontMatter {
    name: Option<String>,
    title: Option<String>,
    #[serde(default)]
    depends_on: Vec<serde_norway::Value>,
    parallel: Option<bool>,
    #[serde(default)]
    conflicts_with: Vec<serde_norway::Value>,
}

fn split_front_matter(content: &str) -> (Option<&str>, &str) {
    let content = content.strip_prefix('\u{FEFF}').unwrap_or(content);
    let Some(rest) = content
        .strip_prefix("---\n")
        .or_else(|| content.strip_prefix("---\r\n"))
    else {
        return (None, content);
    };
    let mut offset = 0;
    for line in rest.split_inclusive('\n') {
        if line.trim_end() == "---" {
            return (Some(&rest[..offset]), &rest[offset + line.len()..]);
        }
        offset += line.len();
    }
    (None, content)
}

fn value_number(v: &serde_norway::Value) -> Option<String> {
    match v {
        serde_norway::Value::Number(n) => Some(n.to_string()),
        serde_norway::Value::String(s) => Some(
            s.trim()
                .trim_end_matches(".md")
                .trim_start_matches('#')
                .to_string(),
        ),
        _ => None,
    }
}

/// Builds the workstream for CCPM epic `epic` (`<repo>/.claude/epics/<epic>/<N>.md`).
///
/// Errors: unknown epic, no task files, a dependency or conflict naming a task that
/// does not exist, invalid front matter, unreadable files.
pub fn ccpm_epic_to_workstream(
    repo: &Path,
    epic: &str,
    options: &BridgeOptions,
) -> Result<GeneratedWorkstream, BridgeError> {
    let dir = repo.join(".claude").join("epics").join(epic);
    let entries = std::fs::read_dir(&dir).map_err(|_| {
        BridgeError::NotFound(format!("no CCPM epic '{epic}' at {}", dir.display()))
    })?;
    let mut files: Vec<(u64, PathBuf)> = entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.strip_suffix(".md")
                .and_then(|n| n.parse::<u64>().ok())
                .map(|n| (n, e.path()))
        })
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(BridgeError::NoTasks { path: dir });
    }
    let mut parsed = Vec::new();
    for (number, path) in &files {
        let content = read_lossy(path).map_err(|source| BridgeError::Io {
            path: path.clone(),
            source,
        })?;
        let (front, body) = split_front_matter(&content);
        let meta: CcpmFrontMatter = match front {
            Some(yaml) if !yaml.trim().is_empty() => {
                serde_norway::from_str(yaml).map_err(|e| BridgeError::BadReference {
                    path: path.clone(),
                    message: format!("invalid front matter: {e}"),
                })?
            }
            _ => CcpmFrontMatter::default(),
        };
        parsed.push((number.to_string(), path.clone(), meta, body.to_string()));
    }
    let title_of = |meta: &CcpmFrontMatter, body: &str, n: &str| {
        meta.name
            .clone()
            .or_else(|| meta.title.clone())
            .or_else(|| {
                body.lines()
                    .find_map(|l| l.strip_prefix("# ").map(|t| t.trim().to_string()))
            })
            .unwrap_or_else(|| format!("Task {n}"))
    };
    let ids: BTreeMap<String, String> = parsed
        .iter()
        .map(|(n, _, meta, body)| (n.clone(), step_id(n, &title_of(meta, body, n))))
        .collect();
    // Union-find over conflicts_with, so every set of mutually conflicting tasks shares a group.
    let mut group_of: BTreeMap<String, String> =
        ids.keys().map(|n| (n.clone(), n.clone())).collect();
    fn root(map: &BTreeMap<String, String>, n: &str) -> String {
        let mut current = n.to_string();
        while let Some(parent) = map.get(&current).filter(|p| **p != current) {
            current = parent.clone();
        }
        current
    }
    let mut has_conflict: Vec<String> = Vec::new();
    for (n, path, meta, _) in &parsed {
        for other in meta.conflicts_with.iter().filter_map(value_number) {
            if !ids.contains_key(&other) {
                return Err(BridgeError::BadReference {
                    path: path.clone(),
                    message: format!(
                        "conflicts_with names task {other}, which is not in epic '{epic}'"
                    ),
                });
            }
            let (a, b) = (root(&group_of, n), root(&group_of, &other));
            let (low, high) = if a.parse::<u64>().unwrap_or(0) <= b.parse::<u64>().unwrap_or(0) {
                (a, b)
            } else {
                (b, a)
            };
            group_of.insert(high, low);
            has_conflict.push(n.clone());
            has_conflict.push(other);
        }
    }
    let (tool, capability) = execution(options);
    let mut steps = Vec::new();
    for (n, path, meta, body) in &parsed {
        let mut depends_on = Vec::new();
        for dep in meta.depends_on.iter().filter_map(value_number) {
            let id = ids.get(&dep).ok_or_else(|| BridgeError::BadReference {
                path: path.clone(),
                message: format!("depends_on names task {dep}, which is not in epic '{epic}'"),
            })?;
            depends_on.push(id.clone());
        }
        let body_acceptance = {
            let normalized = crate::line_ending::normalize(body);
            let lines: Vec<&str> = normalized.split('\n').collect();
            let mut found: Vec<String> = Vec::new();
            let mut i = 0;
            while i < lines.len() {
                if let Some(info) = FENCE_INFO.captures(lines[i]).and_then(|c| c.get(1)) {
                    let is_acceptance = info.as_str().to_lowercase().contains("acceptance");
                    let mut end = i + 1;
                    while end < lines.len() && !FENCE_INFO.is_match(lines[end]) {
                        end += 1;
                    }
                    if is_acceptance {
                        found.extend(acceptance_lines(&lines[i + 1..end]));
                    }
                    i = end + 1;
                } else {
                    i += 1;
                }
            }
            found
        };
        let mut metadata = BTreeMap::new();
        metadata.insert(
            "ccpm_task".to_string(),
            serde_json::Value::String(format!(".claude/epics/{epic}/{n}.md")),
        );
        steps.push(GeneratedStep {
            id: ids[n].clone(),
            description: title_of(meta, body, n),
            tasks: vec![js_trim(body).to_string()]
                .into_iter()
                .filter(|t| !t.is_empty())
                .collect(),
            openspec_tasks: Vec::new(),
            depends_on,
            tool: tool.clone(),
            capability: capability.clone(),
            specs: Vec::new(),
            acceptance_tests: if body_acceptance.is_empty() {
                options.default_acceptance_tests.clone()
            } else {
                body_acceptance
            },
            metadata,
            conflict_group: has_conflict
                .contains(n)
                .then(|| format!("ccpm-{epic}-{}", root(&group_of, n))),
            parallel_ok: meta.parallel.filter(|p| !p).map(|_| false),
        });
    }
    let epic_file = read_lossy(&dir.join("epic.md")).unwrap_or_default();
    let (front, body) = split_front_matter(&epic_file);
    let description = front
        .and_then(|f| serde_norway::from_str::<CcpmFrontMatter>(f).ok())
        .and_then(|m| m.name.or(m.title))
        .or_else(|| {
            body.lines()
                .find_map(|l| l.strip_prefix("# ").map(|t| t.trim().to_string()))
        })
        .unwrap_or_else(|| epic.to_string());
    let mut metadata = BTreeMap::new();
    metadata.insert(
        "ccpm_epic".to_string(),
        serde_json::Value::String(epic.to_string()),
    );
    Ok(GeneratedWorkstream {
        id: format!("ws-{}", slug(epic).if_empty(epic)),
        openspec_change: None,
        description,
        steps,
        metadata,
    })
}

trait IfEmpty {
    fn if_empty(self, fallback: &str) -> String;
}

impl IfEmpty for String {
    fn if_empty(self, fallback: &str) -> String {
        if self.is_empty() {
            fallback.to_string()
        } else {
            self
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_dependencies_and_acceptance_blocks() {
        let tasks = "# Tasks\n\n```sh acceptance\ncargo test\n```\n\n## 1. Data model\n- [ ] 1.1 Add table\n- [x] 1.2 Migrate\n\n## 2. API <!-- x -->\n- [ ] 2.1 Endpoint\n\n## 3. Docs\nDepends on: 1\n- [ ] 3.1 Write docs\n```bash acceptance\nmdbook test\n```\n";
        let (groups, preamble) = task_groups(tasks, "t");
        assert_eq!(preamble, ["cargo test"]);
        let titles: Vec<_> = groups.iter().map(|g| g.title.as_str()).collect();
        assert_eq!(titles, ["Data model", "API", "Docs"]);
        assert_eq!(groups[0].tasks, ["1.1 Add table", "1.2 Migrate"]);
        assert_eq!(groups[2].references, ["1"]);
        assert_eq!(groups[2].acceptance, ["mdbook test"]);
    }

    #[test]
    fn slugs_are_valid_step_ids() {
        assert_eq!(step_id("1", "Data model & API!"), "1-data-model-api");
        assert_eq!(step_id("2", "—"), "2");
    }
}
