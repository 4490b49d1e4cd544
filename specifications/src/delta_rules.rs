//! The rules one delta spec of a change must satisfy (the per-file part of the CLI's
//! `Validator.validateChangeDeltaSpecs`).
//!
//! A delta spec is parsed with [`crate::delta`]; its findings come in the CLI's order:
//! lines the parser does not apply (stray headers, unpaired or malformed renames,
//! requirements outside a delta section), then each ADDED and MODIFIED block (duplicate,
//! statement, scenarios), scenario loss against the main spec, duplicate REMOVED and
//! RENAMED entries, and requirements named by two sections at once. Whether the file
//! applies any operation is returned too: the change-level rules about empty deltas
//! need it.

use std::collections::HashMap;
use std::path::Path;

use crate::delta::{DeltaPlan, RenamePair, RenameSide, parse_delta_spec};
use crate::issue::{Issue, Level};
use crate::layout::{DiscoveredSpec, posix_relative, read_lossy};
use crate::messages::missing_shall_or_must;
use crate::requirement_block::{
    RequirementBlock, extract_requirements_section, fold_requirement_name,
    normalize_requirement_name,
};
use crate::requirement_text::{contains_shall_or_must, count_empty_scenarios, count_scenarios};
use crate::scenario_diff::{describe_scenario_balance, diff_scenario_names, quote_names};
use crate::validator::statement;

/// What validating one delta spec found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DeltaSpecFindings {
    /// The path of the file below the change's `specs/`, `/`-separated.
    pub entry: String,
    /// The findings, in the CLI's order.
    pub issues: Vec<Issue>,
    /// How many operations (ADDED, MODIFIED, REMOVED, RENAMED entries) it holds.
    pub operations: usize,
    /// The delta section headers it has (`## ADDED Requirements`, ...), in that order.
    pub sections: Vec<&'static str>,
}

/// Validates the delta spec `spec` of the change whose `specs/` is `specs_dir`; with
/// `main_specs_dir`, MODIFIED blocks are also checked for scenarios they would drop.
/// `None` when the file cannot be read (the CLI skips it too).
pub(crate) fn delta_spec_findings(
    specs_dir: &Path,
    spec: &DiscoveredSpec,
    main_specs_dir: Option<&Path>,
) -> Option<DeltaSpecFindings> {
    let content = read_lossy(&spec.file).ok()?;
    let plan = parse_delta_spec(&content);
    let entry = posix_relative(specs_dir, &spec.file);
    let mut issues = unapplied_line_issues(&plan, &entry);
    let mut added: Vec<String> = Vec::new();
    let mut modified: Vec<String> = Vec::new();
    check_blocks("ADDED", &plan.added, &entry, &mut added, &mut issues);
    check_blocks(
        "MODIFIED",
        &plan.modified,
        &entry,
        &mut modified,
        &mut issues,
    );
    if let Some(main_specs) = main_specs_dir
        && !plan.modified.is_empty()
    {
        let mut main_file = main_specs.to_path_buf();
        main_file.extend(spec.id.split('/'));
        main_file.push("spec.md");
        issues.extend(scenario_loss_issues(
            &plan.modified,
            &plan.renamed,
            &main_file,
            &entry,
        ));
    }
    let removed = unique_removed_names(&plan, &entry, &mut issues);
    issues.extend(duplicate_rename_issues(&plan.renamed, &entry));
    let names = OperationNames {
        added,
        modified,
        removed,
    };
    issues.extend(cross_section_issues(&names, &plan.renamed, &entry));
    Some(DeltaSpecFindings {
        entry,
        issues,
        operations: plan.operation_count(),
        sections: present_sections(&plan),
    })
}

/// Lines of the delta the parser does not apply: stray `###` headers (INFO), unpaired
/// renames (ERROR), malformed rename lines (ERROR) and requirements outside any delta
/// section (WARNING).
fn unapplied_line_issues(plan: &DeltaPlan, entry: &str) -> Vec<Issue> {
    let mut issues = Vec::new();
    for stray in &plan.skipped_headers {
        let nameless = {
            let h = stray.header.to_lowercase();
            h == "requirement" || h == "requirement:"
        };
        let message = if nameless {
            format!(
                "Header \"### {}\" in {} is missing a requirement name and is ignored by validation. Add a name, e.g. \"### Requirement: <name>\".",
                stray.header, stray.section
            )
        } else {
            format!(
                "Header \"### {h}\" in {} is not a \"### Requirement:\" header and is ignored by validation. Use \"### Requirement: {h}\" if it should be validated as a requirement.",
                stray.section,
                h = stray.header
            )
        };
        issues.push(Issue::at(Level::Info, entry, Some(stray.line), message));
    }
    for unpaired in &plan.unpaired_renames {
        let missing = match unpaired.side {
            RenameSide::From => "TO",
            RenameSide::To => "FROM",
        };
        issues.push(Issue::at(
            Level::Error,
            entry,
            Some(unpaired.line),
            format!(
                "RENAMED {}: \"{}\" has no matching {missing}: line. Write each rename as a FROM: line followed immediately by its TO: line.",
                unpaired.side.as_str(),
                unpaired.name
            ),
        ));
    }
    // Deliberate difference: the CLI drops these lines without a word, so a rename
    // written as `- FROM: Login` silently never happens.
    for (line, text) in &plan.ignored_rename_lines {
        issues.push(Issue::at(
            Level::Error,
            entry,
            Some(*line),
            format!(
                "RENAMED line \"{text}\" is not a rename entry and would be ignored. Write \"- FROM: `### Requirement: <old name>`\" followed by \"- TO: `### Requirement: <new name>`\"."
            ),
        ));
    }
    for orphan in &plan.orphaned_requirements {
        let where_ = match &orphan.section {
            Some(section) => format!("under \"## {section}\""),
            None => "above the first \"## \" section".to_string(),
        };
        issues.push(Issue::at(
            Level::Warning,
            entry,
            Some(orphan.line),
            format!(
                "Requirement \"{}\" is {where_}, which is not a delta section, so it is ignored. Move it under \"## ADDED Requirements\", \"## MODIFIED Requirements\", \"## REMOVED Requirements\", or \"## RENAMED Requirements\".",
                orphan.name
            ),
        ));
    }
    issues
}

/// The delta section headers `plan` found, in the CLI's order.
fn present_sections(plan: &DeltaPlan) -> Vec<&'static str> {
    let presence = plan.section_presence;
    [
        (presence.added, "## ADDED Requirements"),
        (presence.modified, "## MODIFIED Requirements"),
        (presence.removed, "## REMOVED Requirements"),
        (presence.renamed, "## RENAMED Requirements"),
    ]
    .into_iter()
    .filter_map(|(present, name)| present.then_some(name))
    .collect()
}

/// Checks each block of one section (`kind` is `ADDED` or `MODIFIED`): duplicate name,
/// missing statement or SHALL/MUST, missing scenario. Records each new normalised name
/// in `names`.
fn check_blocks(
    kind: &str,
    blocks: &[RequirementBlock],
    entry: &str,
    names: &mut Vec<String>,
    issues: &mut Vec<Issue>,
) {
    for block in blocks {
        let key = normalize_requirement_name(&block.name);
        if names.contains(&key) {
            issues.push(Issue::new(
                Level::Error,
                entry,
                format!("Duplicate requirement in {kind}: \"{}\"", block.name),
            ));
        } else {
            names.push(key);
        }
        let text = statement(&block.raw);
        let prefix = format!("{kind} \"{}\"", block.name);
        if text.is_empty() {
            let message = if contains_shall_or_must(&block.name) {
                missing_shall_or_must(&prefix, &block.name, false)
            } else {
                format!("{prefix} is missing requirement text")
            };
            issues.push(Issue::new(Level::Error, entry, message));
        } else if !contains_shall_or_must(&text) {
            issues.push(Issue::new(
                Level::Warning,
                entry,
                missing_shall_or_must(&prefix, &block.name, true),
            ));
        }
        if scenario_count(&block.raw) < 1 {
            issues.push(Issue::new(
                Level::Error,
                entry,
                format!(
                    "{prefix} must include at least one scenario{}",
                    empty_scenario_hint(&block.raw)
                ),
            ));
        }
    }
}

fn scenario_count(raw: &str) -> usize {
    let lines: Vec<&str> = raw.split('\n').skip(1).collect();
    count_scenarios(&lines)
}

fn empty_scenario_hint(raw: &str) -> &'static str {
    let lines: Vec<&str> = raw.split('\n').skip(1).collect();
    if count_empty_scenarios(&lines) == 0 {
        ""
    } else {
        " (a scenario header with no body under it does not count; add its steps, e.g. \"- **WHEN** ...\" and \"- **THEN** ...\")"
    }
}

/// The normalised names of the REMOVED entries, each once; a repeated one is an ERROR.
fn unique_removed_names(plan: &DeltaPlan, entry: &str, issues: &mut Vec<Issue>) -> Vec<String> {
    let mut removed: Vec<String> = Vec::new();
    for name in &plan.removed {
        let key = normalize_requirement_name(name);
        if removed.contains(&key) {
            issues.push(Issue::new(
                Level::Error,
                entry,
                format!("Duplicate requirement in REMOVED: \"{name}\""),
            ));
        } else {
            removed.push(key);
        }
    }
    removed
}

/// A FROM or a TO named by two RENAMED entries.
fn duplicate_rename_issues(renamed: &[RenamePair], entry: &str) -> Vec<Issue> {
    let mut issues = Vec::new();
    let mut renamed_from: Vec<String> = Vec::new();
    let mut renamed_to: Vec<String> = Vec::new();
    for RenamePair { from, to } in renamed {
        let from_key = normalize_requirement_name(from);
        let to_key = normalize_requirement_name(to);
        if renamed_from.contains(&from_key) {
            issues.push(Issue::new(
                Level::Error,
                entry,
                format!("Duplicate FROM in RENAMED: \"{from}\""),
            ));
        } else {
            renamed_from.push(from_key);
        }
        if renamed_to.contains(&to_key) {
            issues.push(Issue::new(
                Level::Error,
                entry,
                format!("Duplicate TO in RENAMED: \"{to}\""),
            ));
        } else {
            renamed_to.push(to_key);
        }
    }
    issues
}

/// The normalised requirement names each section of one delta spec names.
struct OperationNames {
    added: Vec<String>,
    modified: Vec<String>,
    removed: Vec<String>,
}

/// A requirement named by two sections that cannot both apply to it: MODIFIED and
/// REMOVED or ADDED, ADDED and REMOVED, a MODIFIED naming a rename's old name, a rename
/// onto an ADDED name, a rename of a REMOVED requirement (however it is spelled).
fn cross_section_issues(names: &OperationNames, renamed: &[RenamePair], entry: &str) -> Vec<Issue> {
    let mut issues = Vec::new();
    let both = |a: &str, b: &str, n: &str| {
        Issue::new(
            Level::Error,
            entry,
            format!("Requirement present in both {a} and {b}: \"{n}\""),
        )
    };
    for n in &names.modified {
        if names.removed.contains(n) {
            issues.push(both("MODIFIED", "REMOVED", n));
        }
        if names.added.contains(n) {
            issues.push(both("MODIFIED", "ADDED", n));
        }
    }
    for n in &names.added {
        if names.removed.contains(n) {
            issues.push(both("ADDED", "REMOVED", n));
        }
    }
    for RenamePair { from, to } in renamed {
        let from_key = normalize_requirement_name(from);
        let to_key = normalize_requirement_name(to);
        if names.modified.contains(&from_key) {
            issues.push(Issue::new(
                Level::Error,
                entry,
                format!("MODIFIED references old name from RENAMED. Use new header for \"{to}\""),
            ));
        }
        if names.added.contains(&to_key) {
            issues.push(Issue::new(
                Level::Error,
                entry,
                format!("RENAMED TO collides with ADDED for \"{to}\""),
            ));
        }
        let folded = fold_requirement_name(&from_key);
        if let Some(spelled) = names
            .removed
            .iter()
            .find(|r| fold_requirement_name(r) == folded)
        {
            let note = if *spelled == from_key {
                String::new()
            } else {
                format!(" (REMOVED spells it \"{spelled}\")")
            };
            issues.push(Issue::new(
                Level::Error,
                entry,
                format!("Requirement present in both RENAMED and REMOVED: \"{from}\"{note}"),
            ));
        }
    }
    issues
}

/// MODIFIED blocks that omit scenarios the current block in `main_file` still has
/// (following renames back to the current name); archive refuses to drop them. An
/// unreadable main spec is an ERROR, a missing one nothing.
fn scenario_loss_issues(
    modified: &[RequirementBlock],
    renamed: &[RenamePair],
    main_file: &Path,
    entry: &str,
) -> Vec<Issue> {
    let content = match read_lossy(main_file) {
        Ok(content) => content,
        Err(err) => {
            return match err.kind() {
                std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::IsADirectory => {
                    vec![Issue::new(
                        Level::Error,
                        entry,
                        format!(
                            "Could not read {} to check the MODIFIED requirements against it ({err}). Archive reads the same file, so fix the file before archiving.",
                            main_file.display()
                        ),
                    )]
                }
                _ => Vec::new(),
            };
        }
    };
    let mut current: HashMap<String, RequirementBlock> = HashMap::new();
    for block in extract_requirements_section(&content).body_blocks {
        current.insert(normalize_requirement_name(&block.name), block);
    }
    let renamed_from: HashMap<String, String> = renamed
        .iter()
        .map(|p| {
            (
                normalize_requirement_name(&p.to),
                normalize_requirement_name(&p.from),
            )
        })
        .collect();
    let renamed_away: Vec<String> = renamed
        .iter()
        .map(|p| normalize_requirement_name(&p.from))
        .collect();
    let current_for = |name: &str| -> Option<&RequirementBlock> {
        let mut visited: Vec<String> = Vec::new();
        let mut key = Some(name.to_string());
        while let Some(k) = key {
            if visited.contains(&k) {
                break;
            }
            if let Some(block) = current.get(&k) {
                return Some(block);
            }
            key = renamed_from.get(&k).cloned();
            visited.push(k);
        }
        None
    };
    let mut issues = Vec::new();
    for block in modified {
        let key = normalize_requirement_name(&block.name);
        if renamed_away.contains(&key) {
            continue;
        }
        let Some(base) = current_for(&key) else {
            continue;
        };
        let diff = diff_scenario_names(&base.raw, &block.raw);
        if diff.missing.is_empty() {
            continue;
        }
        issues.push(Issue::new(
            Level::Error,
            entry,
            format!(
                "MODIFIED \"{}\" omits scenario(s) the current spec still has: {}. {} Copy the omitted scenarios into the MODIFIED block (a MODIFIED requirement replaces the whole block, so archive refuses to drop them).",
                block.name,
                quote_names(&diff.missing),
                describe_scenario_balance(&diff)
            ),
        ));
    }
    issues
}
