//! `validate` over items of a project: one item, all changes, all specs, or both.
//!
//! Produces the JSON document of `openspec validate --json`
//! (`{items[{id, type, valid, issues, durationMs}], summary{totals, byType}, version}`),
//! with items sorted as the CLI sorts them. Changes are validated with the main specs
//! and the project root in context (scenario loss, archive conflicts, task lints);
//! a change directory that only wraps nested changes is reported instead.

use std::collections::BTreeMap;
use std::time::Instant;

use serde::Serialize;

use crate::ecma_text::locale_compare;
use crate::issue::{Issue, Level, Report};
use crate::layout::Layout;
use crate::nested_change::nested_change_message;
use crate::validator::{ChangeContext, Validator};

/// Kind of item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ItemType {
    /// A change proposal.
    Change,
    /// A main spec.
    Spec,
}

impl ItemType {
    /// `change` or `spec`.
    pub fn as_str(self) -> &'static str {
        match self {
            ItemType::Change => "change",
            ItemType::Spec => "spec",
        }
    }
}

/// One validated item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemReport {
    /// Change id or capability id.
    pub id: String,
    /// Kind.
    #[serde(rename = "type")]
    pub item_type: ItemType,
    /// Validity under the requested strictness.
    pub valid: bool,
    /// Findings.
    pub issues: Vec<Issue>,
    /// Wall time spent, in milliseconds.
    pub duration_ms: u64,
}

/// Items / passed / failed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Tally {
    /// Items validated.
    pub items: usize,
    /// Valid items.
    pub passed: usize,
    /// Invalid items.
    pub failed: usize,
}

/// Totals overall and per kind.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ValidationSummary {
    /// Over all items.
    pub totals: Tally,
    /// Per kind, for the kinds in scope.
    pub by_type: BTreeMap<&'static str, Tally>,
}

/// The result of one `validate` invocation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ValidationRun {
    /// Items, sorted by id.
    pub items: Vec<ItemReport>,
    /// Totals.
    pub summary: ValidationSummary,
    /// Report format version (`1.0`).
    pub version: &'static str,
}

impl ValidationRun {
    /// Whether every item is valid (exit code 0).
    pub fn all_valid(&self) -> bool {
        self.items.iter().all(|i| i.valid)
    }
}

/// Why a single item could not be validated.
#[derive(Debug, thiserror::Error)]
pub enum ItemLookupError {
    /// Neither a change nor a spec.
    #[error("Unknown item '{name}'.{}", suggestion(.suggestions))]
    Unknown {
        /// The name given.
        name: String,
        /// Closest existing ids.
        suggestions: Vec<String>,
    },
    /// Both a change and a spec.
    #[error("Ambiguous item '{0}' matches both a change and a spec. Pass --type change|spec.")]
    Ambiguous(String),
    /// The name is not a valid folder name.
    #[error("{0}")]
    InvalidName(String),
    /// The project could not be read.
    #[error("cannot read the OpenSpec tree: {0}")]
    Io(#[from] std::io::Error),
}

fn suggestion(suggestions: &[String]) -> String {
    if suggestions.is_empty() {
        String::new()
    } else {
        format!(" Did you mean: {}?", suggestions.join(", "))
    }
}

/// Levenshtein distance over UTF-16 code units, as the CLI's `nearestMatches` uses.
pub fn levenshtein(a: &str, b: &str) -> usize {
    let a: Vec<u16> = a.encode_utf16().collect();
    let b: Vec<u16> = b.encode_utf16().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for i in 1..=a.len() {
        let mut current = vec![i; b.len() + 1];
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            current[j] = (prev[j] + 1)
                .min(current[j - 1] + 1)
                .min(prev[j - 1] + cost);
        }
        prev = current;
    }
    prev[b.len()]
}

/// Up to `max` candidates closest to `input` (stable for equal distances).
pub fn nearest_matches(input: &str, candidates: &[String], max: usize) -> Vec<String> {
    let mut scored: Vec<(usize, &String)> = candidates
        .iter()
        .map(|c| (levenshtein(input, c), c))
        .collect();
    scored.sort_by_key(|(d, _)| *d);
    scored
        .into_iter()
        .take(max)
        .map(|(_, c)| c.clone())
        .collect()
}

fn validate_change_item(layout: &Layout, id: &str, strict: bool) -> ItemReport {
    let start = Instant::now();
    let report = match nested_change_message(&layout.changes_dir(), id) {
        Some(message) => Report::new(vec![Issue::new(Level::Error, "file", message)], strict),
        None => {
            let specs = layout.specs_dir();
            let context = ChangeContext {
                main_specs_dir: Some(&specs),
                project_root: Some(&layout.root),
            };
            Validator::new(strict).validate_change(&layout.change_dir(id), context)
        }
    };
    ItemReport {
        id: id.to_string(),
        item_type: ItemType::Change,
        valid: report.valid,
        issues: report.issues,
        duration_ms: start.elapsed().as_millis() as u64,
    }
}

fn validate_spec_item(layout: &Layout, id: &str, strict: bool) -> ItemReport {
    let start = Instant::now();
    let report = Validator::new(strict).validate_spec_file(id, &layout.spec_file(id));
    ItemReport {
        id: id.to_string(),
        item_type: ItemType::Spec,
        valid: report.valid,
        issues: report.issues,
        duration_ms: start.elapsed().as_millis() as u64,
    }
}

fn tally<'a>(items: impl Iterator<Item = &'a ItemReport>) -> Tally {
    let mut t = Tally::default();
    for item in items {
        t.items += 1;
        if item.valid {
            t.passed += 1;
        } else {
            t.failed += 1;
        }
    }
    t
}

fn finish(mut items: Vec<ItemReport>, kinds: &[ItemType]) -> ValidationRun {
    items.sort_by(|a, b| locale_compare(&a.id, &b.id));
    let mut by_type = BTreeMap::new();
    for kind in kinds {
        by_type.insert(
            kind.as_str(),
            tally(items.iter().filter(|i| i.item_type == *kind)),
        );
    }
    ValidationRun {
        summary: ValidationSummary {
            totals: tally(items.iter()),
            by_type,
        },
        items,
        version: "1.0",
    }
}

/// Validates every change (`changes`) and/or every spec (`specs`) of the project.
///
/// Errors: the changes or specs directory cannot be listed.
pub fn validate_scope(
    layout: &Layout,
    changes: bool,
    specs: bool,
    strict: bool,
) -> std::io::Result<ValidationRun> {
    let mut items = Vec::new();
    let mut kinds = Vec::new();
    if changes {
        kinds.push(ItemType::Change);
        for id in layout.change_ids()? {
            items.push(validate_change_item(layout, &id, strict));
        }
    }
    if specs {
        kinds.push(ItemType::Spec);
        for id in layout.spec_ids()? {
            items.push(validate_spec_item(layout, &id, strict));
        }
    }
    Ok(finish(items, &kinds))
}

/// Validates one item by name; `type_override` as `--type`.
///
/// Errors: unknown name (with suggestions), a name both a change and a spec have,
/// a name that is not a folder name, an unreadable tree.
pub fn validate_item(
    layout: &Layout,
    name: &str,
    type_override: Option<ItemType>,
    strict: bool,
) -> Result<ValidationRun, ItemLookupError> {
    let changes = layout.change_ids()?;
    let specs = layout.spec_ids()?;
    let is_change = changes.iter().any(|c| c == name);
    let is_spec = specs.iter().any(|s| s == name);
    let kind = match (type_override, is_change, is_spec) {
        (Some(kind), _, _) => kind,
        (None, true, true) => return Err(ItemLookupError::Ambiguous(name.to_string())),
        (None, true, false) => ItemType::Change,
        (None, false, true) => ItemType::Spec,
        (None, false, false) => {
            let all: Vec<String> = changes.iter().chain(specs.iter()).cloned().collect();
            return Err(ItemLookupError::Unknown {
                name: name.to_string(),
                suggestions: nearest_matches(name, &all, 5),
            });
        }
    };
    let problem = match kind {
        ItemType::Change => crate::archive::change_name_problem(name),
        ItemType::Spec => name.split('/').find_map(|segment| {
            crate::archive::change_name_problem(segment)
                .map(|p| p.replace("Change name", "Spec id"))
        }),
    };
    if let Some(problem) = problem {
        return Err(ItemLookupError::InvalidName(problem));
    }
    let item = match kind {
        ItemType::Change => validate_change_item(layout, name, strict),
        ItemType::Spec => validate_spec_item(layout, name, strict),
    };
    Ok(finish(vec![item], &[kind]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_matches_rank_by_edit_distance() {
        let candidates = vec![
            "auth".to_string(),
            "billing".to_string(),
            "author".to_string(),
        ];
        assert_eq!(nearest_matches("auht", &candidates, 2), ["auth", "author"]);
        assert_eq!(levenshtein("kitten", "sitting"), 3);
    }
}
