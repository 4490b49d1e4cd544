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

use std::path::Path;

use crate::change_metadata::{self, BUILT_IN_SCHEMA, METADATA_FILENAME};
use crate::delta_rules::delta_spec_findings;
use crate::ecma_text::utf16_len;
use crate::issue::{Issue, Level, Report};
use crate::layout::{
    UnreadDeltaFile, discover_spec_files, find_unread_delta_files, has_any_file_under, read_lossy,
};
use crate::messages::{self as msg, missing_shall_or_must};
use crate::purpose_placeholder::find_purpose_placeholder;
use crate::requirement_block::extract_requirements_section;
use crate::requirement_text::{contains_shall_or_must, extract_requirement_body};
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

/// The statement of a requirement block: its body after the header line, up to the
/// first scenario or deeper header.
pub(crate) fn statement(raw: &str) -> String {
    let lines: Vec<&str> = raw.split('\n').skip(1).collect();
    extract_requirement_body(&lines)
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

fn change_issues(change_dir: &Path, context: ChangeContext<'_>) -> std::io::Result<Vec<Issue>> {
    let specs_dir = change_dir.join("specs");
    let discovered = match discover_spec_files(&specs_dir) {
        Ok(found) => found,
        Err(err) if err.kind() == std::io::ErrorKind::NotADirectory => Vec::new(),
        Err(err) => return Err(err),
    };
    let has_root_spec = std::fs::metadata(specs_dir.join("spec.md"))
        .map(|m| m.is_file())
        .unwrap_or(false);
    let mut issues: Vec<Issue> = Vec::new();
    if has_root_spec {
        issues.push(Issue::new(Level::Error, "spec.md", "Delta spec found at specs/spec.md. Delta specs must live under a capability path (e.g. specs/<capability-path>/spec.md) — a file at the specs/ root is ignored when the change is applied or archived."));
    }
    let mut total_deltas = 0usize;
    // Delta specs without any operation: (entry, the delta section headers they have).
    let mut without_operations: Vec<(String, Vec<&'static str>)> = Vec::new();
    for spec in &discovered {
        let Some(findings) = delta_spec_findings(&specs_dir, spec, context.main_specs_dir) else {
            continue;
        };
        issues.extend(findings.issues);
        total_deltas += findings.operations;
        if findings.operations == 0 {
            without_operations.push((findings.entry, findings.sections));
        }
    }
    if let Some(main_specs) = context.main_specs_dir {
        let mut reported: Vec<String> = issues
            .iter()
            .filter(|i| i.level == Level::Error)
            .map(|i| i.path.clone())
            .collect();
        reported.extend(without_operations.iter().map(|(path, _)| path.clone()));
        issues.extend(archive_blockers(change_dir, main_specs, &reported));
    }
    let unread = find_unread_delta_files(&specs_dir)?;
    issues.extend(unread_delta_file_issues(&unread));
    issues.extend(empty_delta_issues(&without_operations));
    let no_deltas = total_deltas == 0 && !has_root_spec && unread.is_empty();
    issues.extend(skip_specs_issues(change_dir, &specs_dir, no_deltas));
    if let Some(project_root) = context.project_root {
        issues.extend(task_file_issues(change_dir, project_root));
    }
    Ok(issues)
}

/// Delta files under `specs/` that are not a capability's `spec.md`, so nothing reads them.
fn unread_delta_file_issues(unread: &[UnreadDeltaFile]) -> Vec<Issue> {
    unread
        .iter()
        .map(|file| {
            Issue::new(
                Level::Error,
                file.path.clone(),
                format!(
                    "Delta spec found at specs/{}. Delta specs must be a spec.md inside a capability folder — this file is ignored when the change is applied or archived. Move its requirements into specs/{}.",
                    file.path, file.expected
                ),
            )
        })
        .collect()
}

/// Delta specs without any operation: first those with delta sections but no entries,
/// then those without any delta section.
fn empty_delta_issues(without_operations: &[(String, Vec<&'static str>)]) -> Vec<Issue> {
    let mut issues = Vec::new();
    for (path, sections) in without_operations.iter().filter(|(_, s)| !s.is_empty()) {
        issues.push(Issue::new(
            Level::Error,
            path.clone(),
            format!(
                "Delta sections {} were found, but no requirement entries parsed. Ensure each section includes at least one \"### Requirement:\" block (REMOVED may use bullet list syntax).",
                format_section_list(sections)
            ),
        ));
    }
    for (path, _) in without_operations.iter().filter(|(_, s)| s.is_empty()) {
        issues.push(Issue::new(Level::Error, path.clone(), "No delta sections found. Add headers such as \"## ADDED Requirements\" or move non-delta notes outside specs/."));
    }
    issues
}

/// The `skip_specs` marker (unhonourable, or contradicted by files under `specs/`) and
/// the zero-delta rule it relaxes: a change with `no_deltas` is an ERROR unless it
/// declares `skip_specs` with an empty `specs/`, which is then noted as accepted.
fn skip_specs_issues(change_dir: &Path, specs_dir: &Path, no_deltas: bool) -> Vec<Issue> {
    let mut issues = Vec::new();
    let marker = change_metadata::read_marker(change_dir, "skip_specs");
    if let Some(reason) = &marker.invalid_reason {
        issues.push(Issue::new(
            Level::Error,
            METADATA_FILENAME,
            format!("{} ({reason})", msg::CHANGE_SKIP_SPECS_INVALID_METADATA),
        ));
    }
    let skip_specs = marker.declared;
    let specs_have_files = skip_specs && has_any_file_under(specs_dir).unwrap_or(true);
    if skip_specs && specs_have_files {
        issues.push(Issue::new(
            Level::Error,
            "file",
            msg::CHANGE_SKIP_SPECS_CONFLICT,
        ));
    }
    if no_deltas {
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
