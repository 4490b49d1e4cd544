//! Applying a change's delta specs to the main specs (the merge archive performs).
//!
//! For each delta `changes/<id>/specs/<capability>/spec.md` the target is
//! `specs/<capability>/spec.md`. Operations apply in the CLI's order — RENAMED,
//! REMOVED, MODIFIED, ADDED — with its rules (`core/specs-apply.ts`):
//! duplicates and cross-section conflicts are refused; a RENAMED or MODIFIED target
//! must exist; an already-applied operation (early sync) is a no-op; a near-miss name
//! (differs only in case or spacing) is refused; a MODIFIED block may not drop a
//! scenario; a new capability gets a skeleton (Purpose from the delta or a
//! placeholder) and only ADDED is allowed. The spec is rebuilt keeping everything
//! outside `## Requirements`, the original block order, new blocks appended, one blank
//! line between blocks, runs of blank lines collapsed outside fences, and one trailing
//! newline. Nothing is written here: [`crate::archive`] validates every rebuilt spec
//! before writing any.

use std::io;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::code_fence::fence_mask;
use crate::delta::{DeltaPlan, RenameSide, parse_delta_spec};
use crate::ecma_text::{js_re, js_trim, js_trim_end, utf16_len};
use crate::layout::{discover_spec_files, read_lossy};
use crate::line_ending;
use crate::messages::MIN_PURPOSE_LENGTH;
use crate::purpose_placeholder::{PLACEHOLDER_PREFIX, PLACEHOLDER_SUFFIX};
use crate::requirement_block::{
    RequirementBlock, RequirementsSection, extract_requirements_section, fold_requirement_name,
    normalize_requirement_name,
};
use crate::requirement_operations::{AppliedOperations, apply_operations, normalize_block_raw};
use crate::retirement_audit::content_the_merge_cannot_name;
use crate::spec::parse_spec;
use crate::spec_structure::find_main_spec_structure_issues;

js_re!(PURPOSE_HEADER, r"(?i)^##\s+Purpose\s*$");
js_re!(SECTION_HEADER, r"^##\s+");
js_re!(FOREIGN_HEADING, r"^ {0,3}#{1,3}(?:[ \t]|$)");

/// One delta spec and the main spec it applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecUpdate {
    /// Capability id.
    pub id: String,
    /// The delta file.
    pub source: PathBuf,
    /// The main spec file (may not exist yet).
    pub target: PathBuf,
    /// Whether the target existed when the update was planned.
    pub exists: bool,
}

/// Operations applied to one spec (already-synced operations not counted).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct MergeCounts {
    /// ADDED blocks appended.
    pub added: usize,
    /// MODIFIED blocks whose content changed.
    pub modified: usize,
    /// REMOVED blocks deleted.
    pub removed: usize,
    /// RENAMED headers changed.
    pub renamed: usize,
}

impl MergeCounts {
    /// Sum of all operations.
    pub fn total(&self) -> usize {
        self.added + self.modified + self.removed + self.renamed
    }
}

/// A rebuilt main spec, not yet written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergedSpec {
    /// The new content (LF line endings, one trailing newline).
    pub rebuilt: String,
    /// What was applied.
    pub counts: MergeCounts,
    /// Non-blocking notes (ignored orphans, skipped REMOVED, lost foreign headings).
    pub warnings: Vec<String>,
    /// The rebuilt spec has no requirement block left.
    pub no_requirement_blocks: bool,
    /// Lines of the original spec a retirement could not account for.
    pub unaccounted_content: Vec<String>,
}

/// Why a delta cannot be applied.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    /// The delta conflicts with itself or with the main spec; the CLI's message.
    #[error("{0}")]
    Refused(String),
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
}

/// Plans one [`SpecUpdate`] per delta spec of `change_dir` (sorted by capability id).
///
/// Errors: a read failure of the change's `specs/` tree other than "not found".
pub fn find_spec_updates(change_dir: &Path, main_specs_dir: &Path) -> io::Result<Vec<SpecUpdate>> {
    let mut updates = Vec::new();
    for discovered in discover_spec_files(&change_dir.join("specs"))? {
        let mut target = main_specs_dir.to_path_buf();
        for segment in discovered.id.split('/') {
            target.push(segment);
        }
        target.push("spec.md");
        let exists = target.exists();
        updates.push(SpecUpdate {
            id: discovered.id,
            source: discovered.file,
            target,
            exists,
        });
    }
    Ok(updates)
}

/// Applies one delta to its main spec in memory (`buildUpdatedSpec`).
///
/// Errors: [`MergeError::Refused`] with the CLI's message for every rule above;
/// [`MergeError::Io`] when the delta or an existing target cannot be read.
pub fn build_updated_spec(
    update: &SpecUpdate,
    change_name: &str,
) -> Result<MergedSpec, MergeError> {
    let change_content = read_lossy(&update.source).map_err(|source| MergeError::Io {
        path: update.source.clone(),
        source,
    })?;
    let plan = parse_delta_spec(&change_content);
    let spec = update.id.as_str();
    refuse_unpaired_rename(spec, &plan)?;
    let mut warnings = orphan_warnings(spec, &plan);
    let names = DeltaNames::unique(spec, &plan)?;
    refuse_cross_section(spec, &plan, &names)?;
    if plan.operation_count() == 0 {
        return Err(refuse(format!(
            "Delta parsing found no operations for {spec}. Provide ADDED/MODIFIED/REMOVED/RENAMED sections in change spec."
        )));
    }
    let target = read_target(update, change_name, &plan, &change_content, &mut warnings)?;
    refuse_invalid_structure(spec, &target.content)?;

    let parts = extract_requirements_section(&target.content);
    let applied = apply_operations(
        spec,
        &plan,
        &parts.body_blocks,
        target.is_new,
        &mut warnings,
    )?;
    let kept = blocks_in_order(spec, &parts.body_blocks, &applied, &mut warnings);
    Ok(MergedSpec {
        rebuilt: reassemble(&parts, &kept),
        counts: applied.counts,
        warnings,
        no_requirement_blocks: kept.is_empty(),
        unaccounted_content: content_the_merge_cannot_name(&parts),
    })
}

fn refuse(message: String) -> MergeError {
    MergeError::Refused(message)
}

/// A RENAMED entry whose FROM or TO line has no partner.
fn refuse_unpaired_rename(spec: &str, plan: &DeltaPlan) -> Result<(), MergeError> {
    let Some(first) = plan.unpaired_renames.first() else {
        return Ok(());
    };
    let missing = match first.side {
        RenameSide::From => "TO",
        RenameSide::To => "FROM",
    };
    Err(refuse(format!(
        "{spec} validation failed - RENAMED entry on line {} has no matching {missing}: for header \"### Requirement: {}\". Write each rename as a FROM: line followed immediately by its TO: line.",
        first.line, first.name
    )))
}

/// One warning per requirement outside any delta section (it is not applied).
fn orphan_warnings(spec: &str, plan: &DeltaPlan) -> Vec<String> {
    plan.orphaned_requirements
        .iter()
        .map(|orphan| {
            let where_ = match &orphan.section {
                Some(section) => format!("under \"## {section}\""),
                None => "above the first \"## \" section".to_string(),
            };
            format!(
                "{spec} - requirement \"{}\" (line {}) is {where_}, which is not a delta section, so it was not applied. Move it under ADDED/MODIFIED/REMOVED/RENAMED Requirements.",
                orphan.name, orphan.line
            )
        })
        .collect()
}

/// The normalised requirement names each section of a delta names, each once.
struct DeltaNames {
    added: Vec<String>,
    modified: Vec<String>,
    removed: Vec<String>,
}

impl DeltaNames {
    /// Collects the names, refusing the first one a section names twice (ADDED,
    /// MODIFIED, REMOVED, then RENAMED FROM and TO).
    fn unique(spec: &str, plan: &DeltaPlan) -> Result<Self, MergeError> {
        let duplicate = |section: &str, name: &str| {
            refuse(format!(
                "{spec} validation failed - duplicate {section} for header \"### Requirement: {name}\""
            ))
        };
        let mut added: Vec<String> = Vec::new();
        for add in &plan.added {
            let name = normalize_requirement_name(&add.name);
            if added.contains(&name) {
                return Err(duplicate("requirement in ADDED", &add.name));
            }
            added.push(name);
        }
        let mut modified: Vec<String> = Vec::new();
        for m in &plan.modified {
            let name = normalize_requirement_name(&m.name);
            if modified.contains(&name) {
                return Err(duplicate("requirement in MODIFIED", &m.name));
            }
            modified.push(name);
        }
        let mut removed: Vec<String> = Vec::new();
        for r in &plan.removed {
            let name = normalize_requirement_name(r);
            if removed.contains(&name) {
                return Err(duplicate("requirement in REMOVED", r));
            }
            removed.push(name);
        }
        let mut renamed_from: Vec<String> = Vec::new();
        let mut renamed_to: Vec<String> = Vec::new();
        for pair in &plan.renamed {
            let from = normalize_requirement_name(&pair.from);
            let to = normalize_requirement_name(&pair.to);
            if renamed_from.contains(&from) {
                return Err(duplicate("FROM in RENAMED", &pair.from));
            }
            if renamed_to.contains(&to) {
                return Err(duplicate("TO in RENAMED", &pair.to));
            }
            renamed_from.push(from);
            renamed_to.push(to);
        }
        Ok(DeltaNames {
            added,
            modified,
            removed,
        })
    }
}

/// A requirement named by two sections that cannot both apply to it. Renames are
/// checked first (RENAMED and REMOVED however spelled, MODIFIED naming the old name,
/// TO colliding with ADDED), then MODIFIED/REMOVED, MODIFIED/ADDED and ADDED/REMOVED.
fn refuse_cross_section(
    spec: &str,
    plan: &DeltaPlan,
    names: &DeltaNames,
) -> Result<(), MergeError> {
    for pair in &plan.renamed {
        let from = normalize_requirement_name(&pair.from);
        let to = normalize_requirement_name(&pair.to);
        let folded = fold_requirement_name(&from);
        if let Some(spelled) = names
            .removed
            .iter()
            .find(|r| fold_requirement_name(r) == folded)
        {
            let note = if *spelled == from {
                String::new()
            } else {
                format!(" (REMOVED spells it \"{spelled}\")")
            };
            return Err(refuse(format!(
                "{spec} validation failed - requirement present in multiple sections (RENAMED and REMOVED) for header \"### Requirement: {}\"{note}",
                pair.from
            )));
        }
        if names.modified.contains(&from) {
            return Err(refuse(format!(
                "{spec} validation failed - when a rename exists, MODIFIED must reference the NEW header \"### Requirement: {}\"",
                pair.to
            )));
        }
        if names.added.contains(&to) {
            return Err(refuse(format!(
                "{spec} validation failed - RENAMED TO header collides with ADDED for \"### Requirement: {}\"",
                pair.to
            )));
        }
    }
    let mut conflicts: Vec<(&String, &str, &str)> = Vec::new();
    for n in &names.modified {
        if names.removed.contains(n) {
            conflicts.push((n, "MODIFIED", "REMOVED"));
        }
        if names.added.contains(n) {
            conflicts.push((n, "MODIFIED", "ADDED"));
        }
    }
    for n in &names.added {
        if names.removed.contains(n) {
            conflicts.push((n, "ADDED", "REMOVED"));
        }
    }
    match conflicts.first() {
        Some((name, a, b)) => Err(refuse(format!(
            "{spec} validation failed - requirement present in multiple sections ({a} and {b}) for header \"### Requirement: {name}\""
        ))),
        None => Ok(()),
    }
}

/// The main spec a delta applies to: its content, or a skeleton for a new capability.
struct Target {
    content: String,
    /// The capability did not exist: its content is the skeleton.
    is_new: bool,
}

/// Reads the target of `update`; when it does not exist, builds the new capability's
/// skeleton instead (only ADDED may apply to it). Warns when an existing spec's Purpose
/// differs from the one the delta carries (the delta's is ignored).
fn read_target(
    update: &SpecUpdate,
    change_name: &str,
    plan: &DeltaPlan,
    change_content: &str,
    warnings: &mut Vec<String>,
) -> Result<Target, MergeError> {
    let spec = update.id.as_str();
    let delta_purpose = extract_purpose_section(change_content);
    match read_lossy(&update.target) {
        Ok(content) => {
            if let Some(delta) = &delta_purpose
                && let Some(existing) = extract_purpose_section(&content)
                && existing != *delta
            {
                warnings.push(format!(
                    "{spec} - delta Purpose ignored; {spec} already has one. Edit {} directly to change it.",
                    update.target.display()
                ));
            }
            Ok(Target {
                content,
                is_new: false,
            })
        }
        Err(err)
            if matches!(
                err.kind(),
                io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
            ) =>
        {
            let content = new_capability_skeleton(
                spec,
                change_name,
                plan,
                delta_purpose.as_deref(),
                warnings,
            )?;
            Ok(Target {
                content,
                is_new: true,
            })
        }
        Err(source) => Err(MergeError::Io {
            path: update.target.clone(),
            source,
        }),
    }
}

/// The skeleton of a capability the change creates: refused when the delta modifies or
/// renames (nothing exists to change), REMOVED entries ignored with a warning; the
/// delta's Purpose carried over unless it would leave the spec unreadable (then the
/// placeholder, with a warning), with a warning when it is too brief for `--strict`.
fn new_capability_skeleton(
    spec: &str,
    change_name: &str,
    plan: &DeltaPlan,
    delta_purpose: Option<&str>,
    warnings: &mut Vec<String>,
) -> Result<String, MergeError> {
    if !plan.modified.is_empty() || !plan.renamed.is_empty() {
        return Err(refuse(format!(
            "{spec}: target spec does not exist; only ADDED requirements are allowed for new specs. MODIFIED and RENAMED operations require an existing spec."
        )));
    }
    if !plan.removed.is_empty() {
        warnings.push(format!(
            "{spec} - {} REMOVED requirement(s) ignored for new spec (nothing to remove).",
            plan.removed.len()
        ));
    }
    let skeleton = build_spec_skeleton(spec, change_name, delta_purpose);
    let overview = delta_purpose.and_then(|_| readable_overview(&skeleton, spec));
    if delta_purpose.is_some() && overview.is_none() {
        warnings.push(format!(
            "{spec} - delta Purpose ignored (it would leave the new spec unreadable); wrote the placeholder Purpose instead."
        ));
        return Ok(build_spec_skeleton(spec, change_name, None));
    }
    if let Some(overview) = overview
        && utf16_len(&overview) < MIN_PURPOSE_LENGTH
    {
        warnings.push(format!(
            "{spec} - carried Purpose is under {MIN_PURPOSE_LENGTH} characters; openspec validate --strict reports it as too brief."
        ));
    }
    Ok(skeleton)
}

/// A target with structural defects (which the merge could make worse) is refused.
fn refuse_invalid_structure(spec: &str, content: &str) -> Result<(), MergeError> {
    let structure = find_main_spec_structure_issues(content);
    if structure.is_empty() {
        return Ok(());
    }
    let details: Vec<String> = structure
        .iter()
        .map(|i| format!("line {}: {}", i.line, i.message))
        .collect();
    Err(refuse(format!(
        "{spec}: target spec is structurally invalid and cannot be updated until fixed:\n{}",
        details.join("\n")
    )))
}

/// The blocks of the rebuilt spec: the original ones in their order (replaced, renamed
/// or gone), then the new ones. Warns about a heading inside a replaced or removed block
/// that goes with it.
fn blocks_in_order(
    spec: &str,
    original: &[RequirementBlock],
    applied: &AppliedOperations,
    warnings: &mut Vec<String>,
) -> Vec<RequirementBlock> {
    let mut kept: Vec<RequirementBlock> = Vec::new();
    let mut seen: Vec<&String> = Vec::new();
    for (block, key) in original.iter().zip(&applied.ordered_keys) {
        let replacement = applied.blocks.get(key);
        if let Some(r) = replacement {
            kept.push(r.clone());
            seen.push(key);
        }
        if replacement != Some(block)
            && let Some((heading, foreign_raw)) = first_foreign_tail(&block.raw)
        {
            let normalized_foreign = normalize_block_raw(&foreign_raw);
            let keeps = replacement.is_some_and(|r| {
                count_occurrences(&normalize_block_raw(&r.raw), &normalized_foreign)
                    >= count_occurrences(&normalize_block_raw(&block.raw), &normalized_foreign)
            });
            if !keeps {
                warnings.push(format!(
                    "{spec} - \"{heading}\" sits inside requirement \"{}\" and goes with it. Move it under its own requirement, or above `## Requirements`, to keep it.",
                    block.name
                ));
            }
        }
    }
    for (key, block) in applied.blocks.entries() {
        if !seen.contains(&key) {
            kept.push(block.clone());
        }
    }
    kept
}

/// The rebuilt spec text: what precedes the requirements section, its header, the
/// preamble and blocks one blank line apart, what follows; blank runs outside fences
/// collapsed, one trailing newline.
fn reassemble(parts: &RequirementsSection, kept: &[RequirementBlock]) -> String {
    let mut body_parts: Vec<String> = Vec::new();
    if !js_trim(&parts.preamble).is_empty() {
        body_parts.push(js_trim_end(&parts.preamble).to_string());
    }
    body_parts.extend(kept.iter().map(|b| b.raw.clone()));
    let req_body = js_trim_end(&body_parts.join("\n\n")).to_string();
    let slices: Vec<String> = [
        js_trim_end(&parts.before).to_string(),
        parts.header_line.clone(),
        req_body,
        js_trim(&parts.after).to_string(),
    ]
    .into_iter()
    .filter(|s| !s.is_empty())
    .collect();
    format!(
        "{}\n",
        js_trim_end(&collapse_blank_runs_outside_fences(&slices.join("\n\n")))
    )
}

/// The first heading inside a requirement block that is not its own (levels 1 to 3,
/// outside fences), trimmed, with the block's text from there on.
pub(crate) fn first_foreign_tail(raw: &str) -> Option<(String, String)> {
    let normalized = line_ending::normalize_newlines(raw);
    let lines: Vec<&str> = normalized.split('\n').collect();
    let mask = fence_mask(&lines);
    (1..lines.len())
        .find(|&i| !mask[i] && FOREIGN_HEADING.is_match(lines[i]))
        .map(|i| {
            (
                js_trim(lines[i]).to_string(),
                js_trim_end(&lines[i..].join("\n")).to_string(),
            )
        })
}

fn count_occurrences(haystack: &str, needle: &str) -> usize {
    if needle.is_empty() {
        0
    } else {
        haystack.matches(needle).count()
    }
}

fn collapse_blank_runs_outside_fences(content: &str) -> String {
    let lines: Vec<&str> = content.split('\n').collect();
    let mask = fence_mask(&lines);
    let mut kept: Vec<&str> = Vec::with_capacity(lines.len());
    let mut blank_run = 0;
    for (i, line) in lines.iter().enumerate() {
        if mask[i] {
            blank_run = 0;
            kept.push(line);
        } else if line.is_empty() {
            blank_run += 1;
            if blank_run <= 1 {
                kept.push(line);
            }
        } else {
            blank_run = 0;
            kept.push(line);
        }
    }
    kept.join("\n")
}

fn mask_html_comments(content: &str) -> String {
    let blank = |text: &str| {
        text.chars()
            .map(|c| if c == '\n' { '\n' } else { ' ' })
            .collect::<String>()
    };
    let mut out = String::with_capacity(content.len());
    let mut index = 0;
    loop {
        let Some(open_rel) = content[index..].find("<!--") else {
            out.push_str(&content[index..]);
            return out;
        };
        let open = index + open_rel;
        out.push_str(&content[index..open]);
        let body = &content[open + 4..];
        let close = match (body.find("-->"), body.find("--!>")) {
            (Some(a), Some(b)) if b < a => Some(open + 4 + b + 4),
            (Some(a), _) => Some(open + 4 + a + 3),
            (None, Some(b)) => Some(open + 4 + b + 4),
            (None, None) => None,
        };
        match close {
            None => {
                out.push_str(&blank(&content[open..]));
                return out;
            }
            Some(close) => {
                out.push_str(&blank(&content[open..close]));
                index = close;
            }
        }
    }
}

/// The body of a `## Purpose` section, ignoring headers inside fences and HTML comments;
/// `None` when absent or without prose.
pub fn extract_purpose_section(content: &str) -> Option<String> {
    let normalized = line_ending::normalize_newlines(content);
    let lines: Vec<&str> = normalized.split('\n').collect();
    let masked_text = mask_html_comments(&normalized);
    let masked: Vec<&str> = masked_text.split('\n').collect();
    let fence = fence_mask(&masked);
    let start = (0..masked.len()).find(|&i| !fence[i] && PURPOSE_HEADER.is_match(masked[i]))?;
    let end = (start + 1..masked.len())
        .find(|&i| !fence[i] && SECTION_HEADER.is_match(masked[i]))
        .unwrap_or(masked.len());
    let prose: Vec<&str> = (start + 1..end)
        .filter(|&i| !fence[i])
        .map(|i| masked[i])
        .collect();
    if js_trim(&prose.join("\n")).is_empty() {
        return None;
    }
    let body = js_trim(&lines[start + 1..end].join("\n")).to_string();
    if body.is_empty() { None } else { Some(body) }
}

fn readable_overview(skeleton: &str, spec: &str) -> Option<String> {
    if skeleton.contains("<!--") || !find_main_spec_structure_issues(skeleton).is_empty() {
        return None;
    }
    parse_spec(spec, skeleton)
        .ok()
        .map(|s| js_trim(&s.overview).to_string())
        .filter(|o| !o.is_empty())
}

/// The skeleton archive creates for a new capability (`buildSpecSkeleton`).
pub fn build_spec_skeleton(capability: &str, change_name: &str, purpose: Option<&str>) -> String {
    let purpose = purpose
        .map(js_trim)
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .unwrap_or_else(|| format!("{PLACEHOLDER_PREFIX}{change_name}{PLACEHOLDER_SUFFIX}"));
    format!("# {capability} Specification\n\n## Purpose\n{purpose}\n\n## Requirements\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn update(dir: &Path, delta: &str, main: Option<&str>) -> SpecUpdate {
        let source = dir.join("delta.md");
        let target = dir.join("main.md");
        std::fs::write(&source, delta).expect("write delta");
        if let Some(main) = main {
            std::fs::write(&target, main).expect("write main");
        }
        SpecUpdate {
            id: "auth".into(),
            source,
            target,
            exists: main.is_some(),
        }
    }

    const MAIN: &str = "# auth\n\n## Purpose\nP\n\n## Requirements\n### Requirement: A\nThe system SHALL a.\n\n#### Scenario: a\n- ok\n\n### Requirement: B\nThe system SHALL b.\n\n#### Scenario: b\n- ok\n";

    #[test]
    fn applies_operations_in_cli_order_and_keeps_block_order() {
        let dir = tempfile::tempdir().expect("temp dir");
        let delta = "## ADDED Requirements\n### Requirement: C\nThe system SHALL c.\n\n#### Scenario: c\n- ok\n\n## RENAMED Requirements\n- FROM: `### Requirement: A`\n- TO: `### Requirement: A2`\n\n## REMOVED Requirements\n### Requirement: B\n";
        let merged =
            build_updated_spec(&update(dir.path(), delta, Some(MAIN)), "c1").expect("merge");
        assert_eq!(
            merged.counts,
            MergeCounts {
                added: 1,
                modified: 0,
                removed: 1,
                renamed: 1
            }
        );
        assert_eq!(
            merged.rebuilt,
            "# auth\n\n## Purpose\nP\n\n## Requirements\n\n### Requirement: A2\nThe system SHALL a.\n\n#### Scenario: a\n- ok\n\n### Requirement: C\nThe system SHALL c.\n\n#### Scenario: c\n- ok\n"
        );
    }

    #[test]
    fn modified_may_not_drop_scenarios_and_near_misses_are_refused() {
        let dir = tempfile::tempdir().expect("temp dir");
        let delta = "## MODIFIED Requirements\n### Requirement: A\nThe system SHALL a2.\n\n#### Scenario: other\n- ok\n";
        let err = build_updated_spec(&update(dir.path(), delta, Some(MAIN)), "c1")
            .expect_err("must refuse");
        assert!(err.to_string().starts_with("auth MODIFIED failed for header \"### Requirement: A\" - current spec contains scenario(s) not present in the modified block: \"a\"."));
        let delta = "## REMOVED Requirements\n### Requirement: a\n";
        let err = build_updated_spec(&update(dir.path(), delta, Some(MAIN)), "c1")
            .expect_err("must refuse");
        assert!(
            err.to_string()
                .contains("not found, but \"### Requirement: A\" exists")
        );
    }

    #[test]
    fn a_new_capability_gets_a_skeleton_and_rejects_modified() {
        let dir = tempfile::tempdir().expect("temp dir");
        let delta = "## ADDED Requirements\n### Requirement: N\nThe system SHALL n.\n\n#### Scenario: n\n- ok\n";
        let merged = build_updated_spec(&update(dir.path(), delta, None), "add-n").expect("merge");
        assert_eq!(
            merged.rebuilt,
            "# auth Specification\n\n## Purpose\nTBD - created by archiving change add-n. Update Purpose after archive.\n\n## Requirements\n\n### Requirement: N\nThe system SHALL n.\n\n#### Scenario: n\n- ok\n"
        );
        let err = build_updated_spec(
            &update(
                dir.path(),
                "## MODIFIED Requirements\n### Requirement: N\nx\n",
                None,
            ),
            "c",
        )
        .expect_err("must refuse");
        assert!(err.to_string().contains("target spec does not exist"));
    }
}
