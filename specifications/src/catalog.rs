//! What a project says, requirement by requirement: the data behind the spec index,
//! the `spec://` resolver, the conflicting-changes report and the workstream bridge.
//!
//! Main specs contribute their canonical requirement blocks; active changes contribute
//! the requirements their delta specs add, modify, remove or rename ("touches").
//! Two active changes that modify, remove or rename the same requirement of the same
//! capability conflict: whichever is archived second would apply to a requirement
//! the first already changed.

use std::collections::BTreeMap;
use std::io;

use serde::Serialize;

use crate::code_fence::fence_mask;
use crate::delta::parse_delta_spec;
use crate::ecma_text::js_trim;
use crate::layout::{Layout, discover_spec_files, read_lossy};
use crate::line_ending;
use crate::requirement_block::{RequirementBlock, extract_requirements_section};
use crate::requirement_text::{
    extract_requirement_body, is_scenario_header, strip_scenario_header,
};

/// A scenario of a requirement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CatalogScenario {
    /// Name (header text without `Scenario:`).
    pub name: String,
    /// Steps under the header, trimmed.
    pub body: String,
}

/// A requirement with its statement and scenarios.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CatalogRequirement {
    /// Capability id.
    pub capability: String,
    /// Requirement name.
    pub name: String,
    /// Statement.
    pub text: String,
    /// The whole block as written (header, statement, scenarios).
    pub raw: String,
    /// Scenarios in order.
    pub scenarios: Vec<CatalogScenario>,
}

/// Builds a [`CatalogRequirement`] from a requirement block.
pub fn catalog_requirement(capability: &str, block: &RequirementBlock) -> CatalogRequirement {
    let normalized = line_ending::normalize_newlines(&block.raw);
    let lines: Vec<&str> = normalized.split('\n').collect();
    let mask = fence_mask(&lines);
    let mut scenarios = Vec::new();
    let mut i = 1;
    while i < lines.len() {
        if !mask[i] && is_scenario_header(lines[i]) {
            let header = strip_scenario_header(lines[i]);
            let name = js_trim(header.strip_prefix("Scenario:").unwrap_or(header)).to_string();
            let mut end = i + 1;
            while end < lines.len() && (mask[end] || !is_scenario_header(lines[end])) {
                end += 1;
            }
            scenarios.push(CatalogScenario {
                name,
                body: js_trim(&lines[i + 1..end].join("\n")).to_string(),
            });
            i = end;
        } else {
            i += 1;
        }
    }
    CatalogRequirement {
        capability: capability.to_string(),
        name: block.name.clone(),
        text: extract_requirement_body(&lines[1..]),
        raw: block.raw.clone(),
        scenarios,
    }
}

/// Canonical requirements of a main spec's content.
pub fn spec_requirements(capability: &str, content: &str) -> Vec<CatalogRequirement> {
    extract_requirements_section(content)
        .body_blocks
        .iter()
        .map(|b| catalog_requirement(capability, b))
        .collect()
}

/// A delta operation of an active change on one requirement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChangeTouch {
    /// Change id.
    pub change: String,
    /// Capability id.
    pub capability: String,
    /// Requirement name (the FROM name for a rename).
    pub requirement: String,
    /// `ADDED`, `MODIFIED`, `REMOVED` or `RENAMED`.
    pub operation: &'static str,
    /// The new name of a rename.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new_name: Option<String>,
    /// The block for ADDED / MODIFIED.
    #[serde(skip)]
    pub block: Option<RequirementBlock>,
}

/// Every touch of one change, in delta-file order (ADDED, MODIFIED, REMOVED, RENAMED).
///
/// Errors: the change's `specs/` tree cannot be walked.
pub fn change_touches(layout: &Layout, change: &str) -> io::Result<Vec<ChangeTouch>> {
    let mut touches = Vec::new();
    for file in discover_spec_files(&layout.change_dir(change).join("specs"))? {
        let Ok(content) = read_lossy(&file.file) else {
            continue;
        };
        let plan = parse_delta_spec(&content);
        let touch = |requirement: &str,
                     operation,
                     new_name: Option<String>,
                     block: Option<RequirementBlock>| ChangeTouch {
            change: change.to_string(),
            capability: file.id.clone(),
            requirement: requirement.to_string(),
            operation,
            new_name,
            block,
        };
        touches.extend(
            plan.added
                .iter()
                .map(|b| touch(&b.name, "ADDED", None, Some(b.clone()))),
        );
        touches.extend(
            plan.modified
                .iter()
                .map(|b| touch(&b.name, "MODIFIED", None, Some(b.clone()))),
        );
        touches.extend(plan.removed.iter().map(|n| touch(n, "REMOVED", None, None)));
        touches.extend(
            plan.renamed
                .iter()
                .map(|p| touch(&p.from, "RENAMED", Some(p.to.clone()), None)),
        );
    }
    Ok(touches)
}

/// Two or more active changes modifying, removing or renaming one requirement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChangeConflict {
    /// Capability id.
    pub capability: String,
    /// Requirement name.
    pub requirement: String,
    /// `change (OPERATION)` for each change involved, sorted.
    pub changes: Vec<String>,
}

impl ChangeConflict {
    /// One-line description for reports.
    pub fn message(&self) -> String {
        format!(
            "Requirement \"{}\" of capability '{}' is changed by {} active changes: {}. Whichever is archived second applies to a requirement the first already changed; merge them or rebase one on the other.",
            self.requirement,
            self.capability,
            self.changes.len(),
            self.changes.join(", ")
        )
    }
}

/// Conflicts among `touches` (ADDED is not a conflict: it cannot clobber).
pub fn conflicts_among(touches: &[ChangeTouch]) -> Vec<ChangeConflict> {
    let mut by_requirement: BTreeMap<(String, String), BTreeMap<String, &'static str>> =
        BTreeMap::new();
    for t in touches.iter().filter(|t| t.operation != "ADDED") {
        by_requirement
            .entry((t.capability.clone(), t.requirement.clone()))
            .or_default()
            .insert(t.change.clone(), t.operation);
    }
    by_requirement
        .into_iter()
        .filter(|(_, changes)| changes.len() > 1)
        .map(|((capability, requirement), changes)| ChangeConflict {
            capability,
            requirement,
            changes: changes
                .into_iter()
                .map(|(c, op)| format!("{c} ({op})"))
                .collect(),
        })
        .collect()
}

/// Conflicting active changes of the project.
///
/// Errors: the changes directory or a change's `specs/` cannot be read.
pub fn find_conflicts(layout: &Layout) -> io::Result<Vec<ChangeConflict>> {
    let mut touches = Vec::new();
    for change in layout.change_ids()? {
        touches.extend(change_touches(layout, &change)?);
    }
    Ok(conflicts_among(&touches))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenarios_are_split_by_level_four_headers() {
        let spec = "## Purpose\nP\n## Requirements\n### Requirement: A\nThe system SHALL a.\n\n#### Scenario: one\n- x\n#### two\n- y\n";
        let reqs = spec_requirements("cap", spec);
        assert_eq!(reqs[0].text, "The system SHALL a.");
        let names: Vec<_> = reqs[0].scenarios.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["one", "two"]);
        assert_eq!(reqs[0].scenarios[1].body, "- y");
    }

    #[test]
    fn only_clobbering_operations_conflict() {
        let t = |change: &str, op| ChangeTouch {
            change: change.into(),
            capability: "auth".into(),
            requirement: "Login".into(),
            operation: op,
            new_name: None,
            block: None,
        };
        assert!(conflicts_among(&[t("a", "ADDED"), t("b", "MODIFIED")]).is_empty());
        let found = conflicts_among(&[t("a", "REMOVED"), t("b", "MODIFIED"), t("c", "RENAMED")]);
        assert_eq!(found.len(), 1);
        assert_eq!(
            found[0].changes,
            ["a (REMOVED)", "b (MODIFIED)", "c (RENAMED)"]
        );
    }
}
