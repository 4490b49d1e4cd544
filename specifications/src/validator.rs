//! Validation of main specs and change proposals with the OpenSpec CLI's rules.
//!
//! Specs (`Validator.validateSpec`): the document must have Purpose and Requirements
//! sections; then the schema rules (at least one requirement, each with text and a
//! scenario), structural defects, placeholder or brief Purpose, very long
//! requirements, and SHALL/MUST in each requirement statement. Changes
//! (`Validator.validateChangeDeltaSpecs`, which is what `openspec validate <change>`
//! runs): every delta spec is read with [`crate::delta`] and checked for stray headers,
//! unpaired renames, orphaned requirements, empty sections, statements, scenarios,
//! duplicates, cross-section conflicts, scenario loss against the main spec, and
//! whether archive would refuse it; then misplaced delta files, the `skip_specs`
//! marker, the zero-delta rule, and the task-file lints. Levels, paths and messages are
//! the CLI's, in the CLI's order.

use std::collections::HashMap;
use std::path::Path;

use crate::change_metadata::{self, BUILT_IN_SCHEMA, METADATA_FILENAME};
use crate::delta::{RenamePair, RenameSide, parse_delta_spec};
use crate::ecma_text::utf16_len;
use crate::issue::{Issue, Level, Report};
use crate::layout::{
    discover_spec_files, find_unread_delta_files, has_any_file_under, posix_relative, read_lossy,
};
use crate::messages::{self as msg, missing_shall_or_must};
use crate::purpose_placeholder::find_purpose_placeholder;
use crate::requirement_block::{
    RequirementBlock, extract_requirements_section, fold_requirement_name,
    normalize_requirement_name,
};
use crate::requirement_text::{
    contains_shall_or_must, count_empty_scenarios, count_scenarios, extract_requirement_body,
};
use crate::scenario_diff::{describe_scenario_balance, diff_scenario_names, quote_names};
use crate::spec::{Spec, SpecShapeError, parse_spec};
use crate::spec_merge::{MergeError, build_updated_spec, find_spec_updates};
use crate::spec_structure::find_main_spec_structure_issues;
use crate::task_lint::{TaskDocument, missing_checkbox_issues, task_numbering_issues};

/// Extra checks of a change that need the project around it.
#[derive(Debug, Clone, Copy, Default)]
pub struct ChangeContext<'a> {
    /// Main specs directory: enables scenario-loss and archive-conflict checks.
    pub main_specs_dir: Option<&'a Path>,
    /// Project root: enables the task-file lints.
    pub project_root: Option<&'a Path>,
}

/// Validates specs and changes; `strict` makes warnings fail validity.
#[derive(Debug, Clone, Copy, Default)]
pub struct Validator {
    /// `--strict`: an item with a WARNING is invalid.
    pub strict: bool,
}

fn enrich_spec_error(err: &SpecShapeError) -> String {
    format!("{err}. {}", msg::GUIDE_MISSING_SPEC_SECTIONS)
}

fn statement(raw: &str) -> String {
    let lines: Vec<&str> = raw.split('\n').skip(1).collect();
    extract_requirement_body(&lines)
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

fn format_section_list(sections: &[&str]) -> String {
    match sections {
        [] => String::new(),
        [one] => (*one).to_string(),
        [head @ .., last] => format!("{} and {last}", head.join(", ")),
    }
}

impl Validator {
    /// A validator; `strict` as `--strict`.
    pub fn new(strict: bool) -> Self {
        Validator { strict }
    }

    /// Validates the main spec at `file` as capability `name`. An unreadable file is an
    /// ERROR on path `file`.
    pub fn validate_spec_file(&self, name: &str, file: &Path) -> Report {
        match read_lossy(file) {
            Ok(content) => self.validate_spec_content(name, &content),
            Err(err) => Report::new(
                vec![Issue::new(
                    Level::Error,
                    "file",
                    format!("cannot read {}: {err}", file.display()),
                )],
                self.strict,
            ),
        }
    }

    /// Validates main-spec `content` (also used on rebuilt specs before archive writes).
    pub fn validate_spec_content(&self, name: &str, content: &str) -> Report {
        let issues = match parse_spec(name, content) {
            Err(err) => vec![Issue::new(Level::Error, "file", enrich_spec_error(&err))],
            Ok(spec) => {
                let mut issues = schema_issues(&spec);
                issues.extend(spec_rules(&spec, content));
                issues
            }
        };
        Report::new(issues, self.strict)
    }

    /// Validates the change in `change_dir` the way `openspec validate <change>` does.
    /// Read failures become ERROR issues on path `file`.
    pub fn validate_change(&self, change_dir: &Path, context: ChangeContext<'_>) -> Report {
        let issues = match change_issues(change_dir, context) {
            Ok(issues) => issues,
            Err(err) => vec![Issue::new(Level::Error, "file", err.to_string())],
        };
        Report::new(issues, self.strict)
    }
}

fn schema_issues(spec: &Spec) -> Vec<Issue> {
    let mut issues = Vec::new();
    if spec.name.is_empty() {
        issues.push(Issue::new(Level::Error, "name", msg::SPEC_NAME_EMPTY));
    }
    if spec.requirements.is_empty() {
        issues.push(Issue::new(
            Level::Error,
            "requirements",
            msg::SPEC_NO_REQUIREMENTS,
        ));
    }
    for (i, req) in spec.requirements.iter().enumerate() {
        if req.text.is_empty() {
            issues.push(Issue::new(
                Level::Error,
                format!("requirements.{i}.text"),
                msg::REQUIREMENT_EMPTY,
            ));
        }
        if req.scenarios.is_empty() {
            issues.push(Issue::new(
                Level::Error,
                format!("requirements.{i}.scenarios"),
                msg::REQUIREMENT_NO_SCENARIOS,
            ));
        }
    }
    issues
}

fn spec_rules(spec: &Spec, content: &str) -> Vec<Issue> {
    let mut issues: Vec<Issue> = find_main_spec_structure_issues(content)
        .into_iter()
        .map(|s| Issue::at(Level::Error, "file", Some(s.line), s.message))
        .collect();
    if let Some(line) = find_purpose_placeholder(&spec.overview, content) {
        issues.push(Issue::at(
            Level::Warning,
            "overview",
            line,
            msg::PURPOSE_IS_PLACEHOLDER,
        ));
    } else if utf16_len(&spec.overview) < msg::MIN_PURPOSE_LENGTH {
        issues.push(Issue::new(
            Level::Warning,
            "overview",
            msg::PURPOSE_TOO_BRIEF,
        ));
    }
    for (i, req) in spec.requirements.iter().enumerate() {
        if utf16_len(&req.text) > msg::MAX_REQUIREMENT_TEXT_LENGTH {
            issues.push(Issue::new(
                Level::Info,
                format!("requirements[{i}]"),
                msg::REQUIREMENT_TOO_LONG,
            ));
        }
        if req.scenarios.is_empty() {
            issues.push(Issue::new(
                Level::Warning,
                format!("requirements[{i}].scenarios"),
                format!(
                    "{}. {}",
                    msg::REQUIREMENT_NO_SCENARIOS,
                    msg::GUIDE_SCENARIO_FORMAT
                ),
            ));
        }
    }
    for (i, block) in extract_requirements_section(content)
        .body_blocks
        .iter()
        .enumerate()
    {
        let text = statement(&block.raw);
        let prefix = format!("Requirement \"{}\"", block.name);
        if text.is_empty() {
            issues.push(Issue::new(
                Level::Error,
                format!("requirements[{i}]"),
                missing_shall_or_must(&prefix, &block.name, false),
            ));
        } else if !contains_shall_or_must(&text) {
            issues.push(Issue::new(
                Level::Warning,
                format!("requirements[{i}]"),
                missing_shall_or_must(&prefix, &block.name, true),
            ));
        }
    }
    issues
}

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

fn change_issues(change_dir: &Path, context: ChangeContext<'_>) -> std::io::Result<Vec<Issue>> {
    let specs_dir = change_dir.join("specs");
    let mut issues: Vec<Issue> = Vec::new();
    let mut total_deltas = 0usize;
    let mut missing_header: Vec<String> = Vec::new();
    let mut empty_sections: Vec<(String, Vec<&str>)> = Vec::new();

    let discovered = match discover_spec_files(&specs_dir) {
        Ok(found) => found,
        Err(err) if err.kind() == std::io::ErrorKind::NotADirectory => Vec::new(),
        Err(err) => return Err(err),
    };
    let has_root_spec = std::fs::metadata(specs_dir.join("spec.md"))
        .map(|m| m.is_file())
        .unwrap_or(false);
    if has_root_spec {
        issues.push(Issue::new(Level::Error, "spec.md", "Delta spec found at specs/spec.md. Delta specs must live under a capability path (e.g. specs/<capability-path>/spec.md) — a file at the specs/ root is ignored when the change is applied or archived."));
    }
    for spec in &discovered {
        let Ok(content) = read_lossy(&spec.file) else {
            continue;
        };
        let plan = parse_delta_spec(&content);
        let entry = posix_relative(&specs_dir, &spec.file);
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
            issues.push(Issue::at(
                Level::Info,
                entry.clone(),
                Some(stray.line),
                message,
            ));
        }
        for unpaired in &plan.unpaired_renames {
            let missing = match unpaired.side {
                RenameSide::From => "TO",
                RenameSide::To => "FROM",
            };
            issues.push(Issue::at(
                Level::Error,
                entry.clone(),
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
                entry.clone(),
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
                entry.clone(),
                Some(orphan.line),
                format!(
                    "Requirement \"{}\" is {where_}, which is not a delta section, so it is ignored. Move it under \"## ADDED Requirements\", \"## MODIFIED Requirements\", \"## REMOVED Requirements\", or \"## RENAMED Requirements\".",
                    orphan.name
                ),
            ));
        }
        let presence = plan.section_presence;
        let mut section_names: Vec<&str> = Vec::new();
        if presence.added {
            section_names.push("## ADDED Requirements");
        }
        if presence.modified {
            section_names.push("## MODIFIED Requirements");
        }
        if presence.removed {
            section_names.push("## REMOVED Requirements");
        }
        if presence.renamed {
            section_names.push("## RENAMED Requirements");
        }
        if plan.operation_count() == 0 {
            if section_names.is_empty() {
                missing_header.push(entry.clone());
            } else {
                empty_sections.push((entry.clone(), section_names));
            }
        }
        let mut added: Vec<String> = Vec::new();
        let mut modified: Vec<String> = Vec::new();
        let mut removed: Vec<String> = Vec::new();
        let mut renamed_from: Vec<String> = Vec::new();
        let mut renamed_to: Vec<String> = Vec::new();
        total_deltas += plan.added.len();
        check_blocks("ADDED", &plan.added, &entry, &mut added, &mut issues);
        total_deltas += plan.modified.len();
        check_blocks(
            "MODIFIED",
            &plan.modified,
            &entry,
            &mut modified,
            &mut issues,
        );
        if let Some(main_specs) = context.main_specs_dir
            && !plan.modified.is_empty()
        {
            let mut main_file = main_specs.to_path_buf();
            for segment in spec.id.split('/') {
                main_file.push(segment);
            }
            main_file.push("spec.md");
            issues.extend(scenario_loss_issues(
                &plan.modified,
                &plan.renamed,
                &main_file,
                &entry,
            ));
        }
        for name in &plan.removed {
            total_deltas += 1;
            let key = normalize_requirement_name(name);
            if removed.contains(&key) {
                issues.push(Issue::new(
                    Level::Error,
                    entry.clone(),
                    format!("Duplicate requirement in REMOVED: \"{name}\""),
                ));
            } else {
                removed.push(key);
            }
        }
        for RenamePair { from, to } in &plan.renamed {
            total_deltas += 1;
            let from_key = normalize_requirement_name(from);
            let to_key = normalize_requirement_name(to);
            if renamed_from.contains(&from_key) {
                issues.push(Issue::new(
                    Level::Error,
                    entry.clone(),
                    format!("Duplicate FROM in RENAMED: \"{from}\""),
                ));
            } else {
                renamed_from.push(from_key);
            }
            if renamed_to.contains(&to_key) {
                issues.push(Issue::new(
                    Level::Error,
                    entry.clone(),
                    format!("Duplicate TO in RENAMED: \"{to}\""),
                ));
            } else {
                renamed_to.push(to_key);
            }
        }
        for n in &modified {
            if removed.contains(n) {
                issues.push(Issue::new(
                    Level::Error,
                    entry.clone(),
                    format!("Requirement present in both MODIFIED and REMOVED: \"{n}\""),
                ));
            }
            if added.contains(n) {
                issues.push(Issue::new(
                    Level::Error,
                    entry.clone(),
                    format!("Requirement present in both MODIFIED and ADDED: \"{n}\""),
                ));
            }
        }
        for n in &added {
            if removed.contains(n) {
                issues.push(Issue::new(
                    Level::Error,
                    entry.clone(),
                    format!("Requirement present in both ADDED and REMOVED: \"{n}\""),
                ));
            }
        }
        for RenamePair { from, to } in &plan.renamed {
            let from_key = normalize_requirement_name(from);
            let to_key = normalize_requirement_name(to);
            if modified.contains(&from_key) {
                issues.push(Issue::new(
                    Level::Error,
                    entry.clone(),
                    format!(
                        "MODIFIED references old name from RENAMED. Use new header for \"{to}\""
                    ),
                ));
            }
            if added.contains(&to_key) {
                issues.push(Issue::new(
                    Level::Error,
                    entry.clone(),
                    format!("RENAMED TO collides with ADDED for \"{to}\""),
                ));
            }
            let folded = fold_requirement_name(&from_key);
            if let Some(spelled) = removed.iter().find(|r| fold_requirement_name(r) == folded) {
                let note = if *spelled == from_key {
                    String::new()
                } else {
                    format!(" (REMOVED spells it \"{spelled}\")")
                };
                issues.push(Issue::new(
                    Level::Error,
                    entry.clone(),
                    format!("Requirement present in both RENAMED and REMOVED: \"{from}\"{note}"),
                ));
            }
        }
    }
    if let Some(main_specs) = context.main_specs_dir {
        let mut reported: Vec<String> = issues
            .iter()
            .filter(|i| i.level == Level::Error)
            .map(|i| i.path.clone())
            .collect();
        reported.extend(missing_header.iter().cloned());
        reported.extend(empty_sections.iter().map(|(p, _)| p.clone()));
        issues.extend(archive_blockers(change_dir, main_specs, &reported));
    }
    let unread = find_unread_delta_files(&specs_dir)?;
    for file in &unread {
        issues.push(Issue::new(
            Level::Error,
            file.path.clone(),
            format!(
                "Delta spec found at specs/{}. Delta specs must be a spec.md inside a capability folder — this file is ignored when the change is applied or archived. Move its requirements into specs/{}.",
                file.path, file.expected
            ),
        ));
    }
    for (path, sections) in &empty_sections {
        issues.push(Issue::new(
            Level::Error,
            path.clone(),
            format!(
                "Delta sections {} were found, but no requirement entries parsed. Ensure each section includes at least one \"### Requirement:\" block (REMOVED may use bullet list syntax).",
                format_section_list(sections)
            ),
        ));
    }
    for path in &missing_header {
        issues.push(Issue::new(Level::Error, path.clone(), "No delta sections found. Add headers such as \"## ADDED Requirements\" or move non-delta notes outside specs/."));
    }
    let marker = change_metadata::read_marker(change_dir, "skip_specs");
    if let Some(reason) = &marker.invalid_reason {
        issues.push(Issue::new(
            Level::Error,
            METADATA_FILENAME,
            format!("{} ({reason})", msg::CHANGE_SKIP_SPECS_INVALID_METADATA),
        ));
    }
    let skip_specs = marker.declared;
    let specs_have_files = skip_specs && has_any_file_under(&specs_dir).unwrap_or(true);
    if skip_specs && specs_have_files {
        issues.push(Issue::new(
            Level::Error,
            "file",
            msg::CHANGE_SKIP_SPECS_CONFLICT,
        ));
    }
    if total_deltas == 0 && !has_root_spec && unread.is_empty() {
        if skip_specs && !specs_have_files {
            issues.push(Issue::new(
                Level::Info,
                "file",
                msg::CHANGE_SKIP_SPECS_ACCEPTED,
            ));
        } else if !skip_specs {
            issues.push(Issue::new(Level::Error, "file", msg::no_deltas_message()));
        }
    }
    if let Some(project_root) = context.project_root {
        issues.extend(task_file_issues(change_dir, project_root));
    }
    Ok(issues)
}

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

fn archive_blockers(
    change_dir: &Path,
    main_specs_dir: &Path,
    already_reported: &[String],
) -> Vec<Issue> {
    let change_name = change_dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let updates = match find_spec_updates(change_dir, main_specs_dir) {
        Ok(updates) => updates,
        Err(err) => {
            return vec![Issue::new(
                Level::Info,
                "specs",
                format!("Could not check archive merge conflicts: {err}"),
            )];
        }
    };
    let mut issues = Vec::new();
    for update in &updates {
        let entry = format!("{}/spec.md", update.id);
        if already_reported.contains(&entry) {
            continue;
        }
        if let Err(MergeError::Refused(message)) = build_updated_spec(update, &change_name) {
            issues.push(Issue::new(
                Level::Info,
                entry,
                format!("Archive would refuse this delta: {message}"),
            ));
        }
    }
    issues
}

fn task_file_issues(change_dir: &Path, project_root: &Path) -> Vec<Issue> {
    let schema = change_metadata::resolve_schema_for_change(change_dir, project_root);
    let built_in = matches!(&schema, Ok(s) if s == BUILT_IN_SCHEMA)
        && !project_root
            .join("openspec")
            .join("schemas")
            .join(BUILT_IN_SCHEMA)
            .join("schema.yaml")
            .is_file();
    let tasks_file = change_dir.join("tasks.md");
    // The built-in schema tracks `tasks.md`; other schemas are not read by this crate.
    let tracked = built_in && tasks_file.is_file();
    let mut documents = Vec::new();
    let mut unreadable = 0;
    match read_lossy(&tasks_file) {
        Ok(content) => documents.push(TaskDocument {
            path: "tasks.md".into(),
            content,
        }),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
        Err(_) => unreadable += 1,
    }
    let mut issues = Vec::new();
    if tracked && unreadable == 0 {
        issues.extend(missing_checkbox_issues(&documents));
    }
    if built_in {
        issues.extend(task_numbering_issues(&documents));
    }
    issues
        .into_iter()
        .map(|l| Issue::at(Level::Warning, l.path, Some(l.line), l.message))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spec_without_sections_is_one_file_error() {
        let report = Validator::new(false).validate_spec_content("x", "# nothing\n");
        assert!(!report.valid);
        assert_eq!(report.issues.len(), 1);
        assert_eq!(report.issues[0].path, "file");
        assert!(
            report.issues[0]
                .message
                .starts_with("Spec must have a Purpose section. Missing required sections.")
        );
    }

    #[test]
    fn requirement_rules_report_in_cli_order() {
        let spec = "## Purpose\nShort.\n\n## Requirements\n### Requirement: A\nno keyword here\n";
        let report = Validator::new(false).validate_spec_content("x", spec);
        let got: Vec<_> = report
            .issues
            .iter()
            .map(|i| (i.level, i.path.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                (Level::Error, "requirements.0.scenarios"),
                (Level::Warning, "overview"),
                (Level::Warning, "requirements[0].scenarios"),
                (Level::Warning, "requirements[0]"),
            ]
        );
        assert!(!report.valid);
    }
}
