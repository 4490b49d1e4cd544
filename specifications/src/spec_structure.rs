//! Structural defects of a main spec that would make requirements invisible or lost.
//!
//! Mirrors `findMainSpecStructureIssues` of the CLI: a delta header in a main spec, a
//! `### Requirement:` header outside the `## Requirements` section, and a requirement
//! name declared twice. Fenced lines are blanked first. Used by validation (as
//! ERRORs on path `file`) and by archive (a target spec with any of them is refused).

use std::collections::HashMap;

use crate::code_fence::fence_mask;
use crate::ecma_text::{js_re, js_trim};
use crate::line_ending;
use crate::requirement_block::normalize_requirement_name;

js_re!(REQUIREMENTS_SECTION, r"(?i)^##\s+Requirements\s*$");
js_re!(TOP_LEVEL, r"^##\s+");
js_re!(
    DELTA_HEADER,
    r"(?i)^##\s+(ADDED|MODIFIED|REMOVED|RENAMED)\s+Requirements\s*$"
);
js_re!(REQUIREMENT_HEADER, r"(?i)^###\s+Requirement:\s*(.+)\s*$");

/// One structural defect, with its 1-based line and the CLI's message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StructureIssue {
    /// 1-based line number.
    pub line: usize,
    /// The offending header line, trimmed.
    pub header: String,
    /// What is wrong and why it matters.
    pub message: String,
}

/// Finds structural defects of a main spec (CRLF normalised; a BOM is kept, as the CLI
/// does here).
pub fn find_main_spec_structure_issues(content: &str) -> Vec<StructureIssue> {
    let normalized = line_ending::normalize_newlines(content);
    let raw: Vec<&str> = normalized.split('\n').collect();
    let mask = fence_mask(&raw);
    let lines: Vec<&str> = raw
        .iter()
        .enumerate()
        .map(|(i, l)| if mask[i] { "" } else { *l })
        .collect();
    let header_index = lines.iter().position(|l| REQUIREMENTS_SECTION.is_match(l));
    let end_index = header_index
        .and_then(|h| (h + 1..lines.len()).find(|&i| TOP_LEVEL.is_match(lines[i])))
        .unwrap_or(lines.len());
    let mut issues = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (i, line) in lines.iter().enumerate() {
        let trimmed = js_trim(line);
        if trimmed.is_empty() {
            continue;
        }
        if DELTA_HEADER.is_match(line) {
            issues.push(StructureIssue {
                line: i + 1,
                header: trimmed.to_string(),
                message: format!(
                    "Main spec contains delta header \"{trimmed}\". Delta headers are only valid inside openspec/changes/<name>/specs/<capability-path>/spec.md and truncate the parsed ## Requirements section."
                ),
            });
            continue;
        }
        let Some(caps) = REQUIREMENT_HEADER.captures(line) else {
            continue;
        };
        let inside = header_index.is_some_and(|h| i > h && i < end_index);
        if !inside {
            issues.push(StructureIssue {
                line: i + 1,
                header: trimmed.to_string(),
                message: format!(
                    "Requirement header \"{trimmed}\" appears outside the main ## Requirements section. Main specs only parse requirements inside that section, so this requirement is currently invisible to validate, list, and archive."
                ),
            });
            continue;
        }
        let name = normalize_requirement_name(caps.get(1).map_or("", |m| m.as_str()));
        match seen.get(&name) {
            Some(previous) => issues.push(StructureIssue {
                line: i + 1,
                header: trimmed.to_string(),
                message: format!(
                    "Requirement header \"{trimmed}\" duplicates the requirement declared on line {previous}. Requirement names must be unique so spec updates cannot discard one block while updating another."
                ),
            }),
            None => {
                seen.insert(name, i + 1);
            }
        }
    }
    issues
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_delta_headers_outside_and_duplicate_requirements() {
        let text = "## Purpose\n### Requirement: Early\n## Requirements\n### Requirement: A\n```\n### Requirement: A\n```\n### Requirement: A ##\n## ADDED Requirements\n";
        let issues = find_main_spec_structure_issues(text);
        let lines: Vec<_> = issues.iter().map(|i| i.line).collect();
        assert_eq!(lines, [2, 8, 9]);
        assert!(issues[1].message.contains("declared on line 4"));
    }
}
