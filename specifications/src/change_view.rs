//! `show` for changes and specs, and `list`: the CLI's read-only views.
//!
//! `show <change> --json` gives `{id, title, deltaCount, deltas}`; deltas come from the
//! delta specs (read exactly as archive reads them, so `show` reports what archive
//! will do) or, when no delta spec has a delta section, from the `**capability**:`
//! bullets of the proposal's What Changes section. `show <spec> --json` gives
//! `{id, title, overview, requirementCount, requirements, metadata}`. `list` gives
//! changes with task progress and last modification, or specs with requirement counts
//! (CLI `commands/change.ts`, `commands/spec.ts`, `core/list.ts`).

use std::path::Path;
use std::time::SystemTime;

use serde::Serialize;

use crate::delta::{DeltaPlan, parse_delta_spec};
use crate::ecma_text::{js_re, js_trim, locale_compare};
use crate::layout::{Layout, discover_spec_files, read_lossy};
use crate::line_ending;
use crate::nested_change::nested_change_message;
use crate::requirement_block::RequirementBlock;
use crate::section::{find_section, parse_sections};
use crate::spec::{Requirement, parse_spec, requirement_from_section};
use crate::task_list::task_progress;

js_re!(TITLE, r"(?im)^#\s+(?:Change:\s+)?(.+)$");
js_re!(HEADER_PREFIX, r"^###\s*");
js_re!(CANONICAL_TITLE, r"(?i)^Requirement:\s*\S");
js_re!(PROSE_DELTA, r"^\s*-\s*\*\*([^*:]+)(?::\*\*|\*\*:)\s*(.+)$");
js_re!(
    RENAME_WORDS,
    r"\brename(s|d|ing)?\b|\brenamed\s+(to|from)\b"
);
js_re!(
    ADD_WORDS,
    r"\badd(s|ed|ing)?\b|\bcreate(s|d|ing)?\b|\bnew\b"
);
js_re!(REMOVE_WORDS, r"\bremove(s|d|ing)?\b|\bdelete(s|d|ing)?\b");

/// A rename in a delta.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rename {
    /// Old name.
    pub from: String,
    /// New name.
    pub to: String,
}

/// One delta of a change, as `show --json` prints it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeltaView {
    /// Capability id.
    pub spec: String,
    /// `ADDED`, `MODIFIED`, `REMOVED` or `RENAMED`.
    pub operation: &'static str,
    /// Human description.
    pub description: String,
    /// The requirement (not for RENAMED or prose deltas).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requirement: Option<Requirement>,
    /// The same requirement as a one-element list.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requirements: Option<Vec<Requirement>>,
    /// The rename (RENAMED only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rename: Option<Rename>,
}

/// `show <change> --json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChangeView {
    /// Change id.
    pub id: String,
    /// First `# ` heading of the proposal (or the id).
    pub title: String,
    /// Number of deltas.
    pub delta_count: usize,
    /// The deltas.
    pub deltas: Vec<DeltaView>,
}

/// Spec metadata block of `show <spec> --json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SpecMetadata {
    /// Always `1.0.0`.
    pub version: &'static str,
    /// Always `openspec`.
    pub format: &'static str,
}

/// `show <spec> --json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SpecView {
    /// Capability id.
    pub id: String,
    /// Capability id.
    pub title: String,
    /// Purpose text.
    pub overview: String,
    /// Number of requirements.
    pub requirement_count: usize,
    /// Requirements.
    pub requirements: Vec<Requirement>,
    /// Format metadata.
    pub metadata: SpecMetadata,
}

/// Why an item cannot be shown.
#[derive(Debug, thiserror::Error)]
pub enum ShowError {
    /// No such change or spec.
    #[error("{0}")]
    NotFound(String),
    /// The document lacks a required section.
    #[error("{path}: {message}")]
    Shape {
        /// The file.
        path: String,
        /// What is missing.
        message: String,
    },
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

fn block_requirements(block: &RequirementBlock) -> Vec<Requirement> {
    let mut lines = block.raw.split('\n');
    let header = lines.next().unwrap_or_default();
    let title = js_trim(&HEADER_PREFIX.replace(header, "")).to_string();
    let body: Vec<&str> = lines.collect();
    let text = format!("### {title}\n{}", body.join("\n"));
    let normalized = line_ending::normalize(&text);
    let all: Vec<&str> = normalized.split('\n').collect();
    let sections = parse_sections(&all);
    sections
        .first()
        .filter(|s| CANONICAL_TITLE.is_match(js_trim(&s.title)))
        .map(|s| vec![requirement_from_section(s)])
        .unwrap_or_default()
}

fn spec_deltas(spec: &str, plan: &DeltaPlan) -> Vec<DeltaView> {
    let mut deltas = Vec::new();
    let push = |operation: &'static str,
                verb: &str,
                block: &RequirementBlock,
                deltas: &mut Vec<DeltaView>| {
        for req in block_requirements(block) {
            deltas.push(DeltaView {
                spec: spec.to_string(),
                operation,
                description: format!("{verb} requirement: {}", req.text),
                requirement: Some(req.clone()),
                requirements: Some(vec![req]),
                rename: None,
            });
        }
    };
    for block in &plan.added {
        push("ADDED", "Add", block, &mut deltas);
    }
    for block in &plan.modified {
        push("MODIFIED", "Modify", block, &mut deltas);
    }
    let mut removed_blocks = plan.removed_blocks.clone();
    for name in &plan.removed {
        let block = match removed_blocks.iter().position(|b| &b.name == name) {
            Some(i) => removed_blocks.remove(i),
            None => {
                let header = format!("### Requirement: {name}");
                RequirementBlock {
                    header_line: header.clone(),
                    name: name.clone(),
                    raw: header,
                }
            }
        };
        push("REMOVED", "Remove", &block, &mut deltas);
    }
    for pair in &plan.renamed {
        deltas.push(DeltaView {
            spec: spec.to_string(),
            operation: "RENAMED",
            description: format!(
                "Rename requirement from \"{}\" to \"{}\"",
                pair.from, pair.to
            ),
            requirement: None,
            requirements: None,
            rename: Some(Rename {
                from: pair.from.clone(),
                to: pair.to.clone(),
            }),
        });
    }
    deltas
}

fn prose_deltas(what_changes: &str) -> Vec<DeltaView> {
    what_changes
        .split('\n')
        .filter_map(|line| PROSE_DELTA.captures(line))
        .map(|c| {
            let spec = js_trim(c.get(1).map_or("", |m| m.as_str())).to_string();
            let description = js_trim(c.get(2).map_or("", |m| m.as_str())).to_string();
            let lower = description.to_lowercase();
            let operation = if RENAME_WORDS.is_match(&lower) {
                "RENAMED"
            } else if ADD_WORDS.is_match(&lower) {
                "ADDED"
            } else if REMOVE_WORDS.is_match(&lower) {
                "REMOVED"
            } else {
                "MODIFIED"
            };
            DeltaView {
                spec,
                operation,
                description,
                requirement: None,
                requirements: None,
                rename: None,
            }
        })
        .collect()
}

/// The title of a proposal: its first `# ` heading (a bare `# Proposal` does not
/// count), else the change id.
pub fn proposal_title(content: &str, change: &str) -> String {
    TITLE
        .captures(content)
        .and_then(|c| c.get(1))
        .map(|m| js_trim(m.as_str()).to_string())
        .filter(|t| !t.is_empty() && t.to_lowercase() != "proposal")
        .unwrap_or_else(|| change.to_string())
}

/// Every delta of the change in `change_dir`, with the proposal's Why / What Changes
/// checked as the CLI checks them.
///
/// Errors: missing proposal, missing Why or What Changes section, unreadable files.
pub fn change_deltas(
    change_dir: &Path,
    change: &str,
) -> Result<(String, Vec<DeltaView>), ShowError> {
    let proposal_path = change_dir.join("proposal.md");
    let shown = proposal_path.display().to_string();
    let content = match read_lossy(&proposal_path) {
        Ok(content) => content,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            if change_dir.is_dir() {
                if let Some(message) = change_dir
                    .parent()
                    .and_then(|p| nested_change_message(p, change))
                {
                    return Err(ShowError::NotFound(message));
                }
                return Err(ShowError::NotFound(format!(
                    "Change \"{change}\" has no proposal.md yet."
                )));
            }
            return Err(ShowError::NotFound(format!(
                "Change \"{change}\" not found at {shown}"
            )));
        }
        Err(source) => {
            return Err(ShowError::Io {
                path: shown,
                source,
            });
        }
    };
    let normalized = line_ending::normalize(&content);
    let lines: Vec<&str> = normalized.split('\n').collect();
    let sections = parse_sections(&lines);
    let why = find_section(&sections, "Why")
        .map(|s| s.content.clone())
        .unwrap_or_default();
    let what = find_section(&sections, "What Changes")
        .map(|s| s.content.clone())
        .unwrap_or_default();
    if why.is_empty() {
        return Err(ShowError::Shape {
            path: shown,
            message: "Change must have a Why section".into(),
        });
    }
    if what.is_empty() {
        return Err(ShowError::Shape {
            path: shown,
            message: "Change must have a What Changes section".into(),
        });
    }
    let specs_dir = change_dir.join("specs");
    let files = discover_spec_files(&specs_dir).map_err(|source| ShowError::Io {
        path: specs_dir.display().to_string(),
        source,
    })?;
    let mut deltas = Vec::new();
    let mut has_sections = false;
    for file in files {
        let Ok(text) = read_lossy(&file.file) else {
            continue;
        };
        let plan = parse_delta_spec(&text);
        has_sections |= plan.section_presence.any();
        deltas.extend(spec_deltas(&file.id, &plan));
    }
    if !has_sections {
        deltas = prose_deltas(&what);
    }
    Ok((proposal_title(&content, change), deltas))
}

/// `show <change> --json`; `deltas_only` is accepted for CLI parity (same shape).
///
/// Errors: see [`change_deltas`].
pub fn show_change(layout: &Layout, change: &str) -> Result<ChangeView, ShowError> {
    let (title, deltas) = change_deltas(&layout.change_dir(change), change)?;
    Ok(ChangeView {
        id: change.to_string(),
        title,
        delta_count: deltas.len(),
        deltas,
    })
}

/// `show <spec> --json`.
///
/// Errors: no such spec, a spec without Purpose/Requirements, unreadable file.
pub fn show_spec(layout: &Layout, id: &str) -> Result<SpecView, ShowError> {
    let file = layout.spec_file(id);
    let shown = file.display().to_string();
    let content = match read_lossy(&file) {
        Ok(content) => content,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            return Err(ShowError::NotFound(format!(
                "Spec '{id}' not found at openspec/specs/{id}/spec.md"
            )));
        }
        Err(source) => {
            return Err(ShowError::Io {
                path: shown,
                source,
            });
        }
    };
    let spec = parse_spec(id, &content).map_err(|e| ShowError::Shape {
        path: shown,
        message: e.to_string(),
    })?;
    Ok(SpecView {
        id: id.to_string(),
        title: spec.name,
        overview: spec.overview,
        requirement_count: spec.requirements.len(),
        requirements: spec.requirements,
        metadata: SpecMetadata {
            version: "1.0.0",
            format: "openspec",
        },
    })
}

/// One active change in `list`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChangeSummary {
    /// Change id.
    pub name: String,
    /// Checked tasks.
    pub completed_tasks: usize,
    /// All tasks.
    pub total_tasks: usize,
    /// Newest file modification, ISO 8601 UTC with milliseconds.
    pub last_modified: String,
    /// `no-tasks`, `complete` or `in-progress`.
    pub status: &'static str,
    /// Nested change directories when this is only a wrapper folder.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nested: Option<String>,
}

/// One spec in `list --specs`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SpecSummary {
    /// Capability id.
    pub id: String,
    /// Number of requirements (0 when the spec cannot be parsed).
    pub requirement_count: usize,
}

fn newest_mtime(dir: &Path) -> std::io::Result<SystemTime> {
    fn walk(dir: &Path, newest: &mut Option<SystemTime>) -> std::io::Result<()> {
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            let path = entry.path();
            if entry.file_type()?.is_dir() {
                walk(&path, newest)?;
            } else if let Ok(meta) = std::fs::metadata(&path) {
                let modified = meta.modified()?;
                if newest.is_none_or(|n| modified > n) {
                    *newest = Some(modified);
                }
            }
        }
        Ok(())
    }
    let mut newest = None;
    walk(dir, &mut newest)?;
    match newest {
        Some(time) => Ok(time),
        None => std::fs::metadata(dir)?.modified(),
    }
}

/// Active changes, most recently modified first (the CLI's default order).
///
/// Errors: the changes directory or a change cannot be read.
pub fn list_changes(layout: &Layout) -> std::io::Result<Vec<ChangeSummary>> {
    let mut rows: Vec<(SystemTime, ChangeSummary)> = Vec::new();
    for name in layout.change_ids()? {
        let dir = layout.change_dir(&name);
        let progress = read_lossy(&dir.join("tasks.md"))
            .map(|c| task_progress(&c))
            .unwrap_or_default();
        let modified = newest_mtime(&dir)?;
        let status = if progress.total == 0 {
            "no-tasks"
        } else if progress.completed == progress.total {
            "complete"
        } else {
            "in-progress"
        };
        rows.push((
            modified,
            ChangeSummary {
                name: name.clone(),
                completed_tasks: progress.completed,
                total_tasks: progress.total,
                last_modified: chrono::DateTime::<chrono::Utc>::from(modified)
                    .format("%Y-%m-%dT%H:%M:%S%.3fZ")
                    .to_string(),
                status,
                nested: nested_change_message(&layout.changes_dir(), &name),
            },
        ));
    }
    rows.sort_by_key(|row| std::cmp::Reverse(row.0));
    Ok(rows.into_iter().map(|(_, row)| row).collect())
}

/// Main specs with their requirement counts, sorted by id.
///
/// Errors: the specs directory cannot be walked.
pub fn list_specs(layout: &Layout) -> std::io::Result<Vec<SpecSummary>> {
    let mut specs: Vec<SpecSummary> = discover_spec_files(&layout.specs_dir())?
        .into_iter()
        .map(|found| {
            let count = read_lossy(&found.file)
                .ok()
                .and_then(|c| parse_spec(&found.id, &c).ok())
                .map_or(0, |s| s.requirements.len());
            SpecSummary {
                id: found.id,
                requirement_count: count,
            }
        })
        .collect();
    specs.sort_by(|a, b| locale_compare(&a.id, &b.id));
    Ok(specs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prose_deltas_classify_by_whole_words() {
        let deltas = prose_deltas(
            "- **auth:** Add login\n- **billing**: address the rename of invoices\n- **x:** Remove old\n- **y:** tweak",
        );
        let ops: Vec<_> = deltas.iter().map(|d| d.operation).collect();
        assert_eq!(ops, ["ADDED", "RENAMED", "REMOVED", "MODIFIED"]);
    }

    #[test]
    fn title_skips_a_bare_proposal_heading() {
        assert_eq!(proposal_title("# Proposal\n", "c"), "c");
        assert_eq!(proposal_title("# Change: Add login\n", "c"), "Add login");
    }
}
