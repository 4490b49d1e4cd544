//! Archiving a change: apply its deltas to the main specs, then move it to the archive.
//!
//! Follows `openspec archive <id> --yes` (CLI `core/archive.ts`), non-interactively:
//! 1. refuse a bad name, a missing change, a symlinked change, a wrapper folder;
//! 2. unless `--no-validate`, validate the delta specs (when there are any) and stop
//!    on an error; `--no-validate` itself needs `--yes`;
//! 3. stop on incomplete tasks unless `--yes`;
//! 4. refuse when `archive/<date>-<id>` exists (a date-prefixed id keeps its name);
//! 5. unless `--skip-specs`, rebuild every affected main spec in memory
//!    ([`crate::spec_merge`]), require `--yes` to apply them, validate every rebuilt
//!    spec (unless `--no-validate`), and only then write them (or retire a capability
//!    whose last requirement was removed, when `.openspec.yaml` says
//!    `retire_capabilities: true`);
//! 6. move the change directory to the archive.
//!
//! Atomicity: nothing is written before every check of steps 1–5 has passed. New
//! contents are first staged next to each target, then renamed into place; if a rename
//! or the final move fails, every spec already replaced is restored and every retired
//! spec is put back, so a failed archive leaves the tree as it was (see `spec_journal.rs`).

use std::io;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::change_metadata::{self, METADATA_FILENAME};
use crate::ecma_text::js_re;
use crate::issue::{Issue, Level};
use crate::layout::{
    Layout, discover_spec_files, find_unread_delta_files, has_any_file_under, read_lossy,
};
use crate::messages::SPEC_NO_REQUIREMENTS;
use crate::nested_change::nested_change_message;
use crate::spec_journal::{Journal, SpecMutation};
use crate::spec_merge::{
    MergeCounts, MergeError, MergedSpec, SpecUpdate, build_updated_spec, find_spec_updates,
};
use crate::task_list::{TaskProgress, task_progress};
use crate::validator::{ChangeContext, Validator};

// The CLI's test for "this change has delta headers" (`core/archive.ts`), with its `im`
// flags and JavaScript's `\s`.
js_re!(
    DELTA_HEADER_ANYWHERE,
    r"(?im)^##\s+(ADDED|MODIFIED|REMOVED|RENAMED)\s+Requirements"
);

/// What `pipeline spec archive` was asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveOptions {
    /// `--yes`: apply spec updates, accept incomplete tasks and skipped validation.
    pub yes: bool,
    /// `--skip-specs`: move the change without touching the main specs.
    pub skip_specs: bool,
    /// `--no-validate`: skip delta and rebuilt-spec validation (needs `yes`).
    pub no_validate: bool,
    /// The archive date prefix, `YYYY-MM-DD` (see [`local_date_today`]).
    pub date: String,
}

/// What happened to one main spec.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AppliedSpec {
    /// Capability id.
    pub id: String,
    /// `update` (existed) or `create`.
    pub action: &'static str,
    /// `write`, `retire` or `skip` (already in sync / already retired).
    pub outcome: &'static str,
    /// Operations applied.
    pub counts: MergeCounts,
}

/// A successful archive. Serialises like the CLI's `archive` JSON object (plus
/// `specs` and `taskProgress`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ArchiveResult {
    /// The change id.
    pub change: String,
    /// The archive directory name.
    pub archived_as: String,
    /// The archive directory.
    pub path: PathBuf,
    /// Whether any main spec was written or retired.
    pub specs_updated: bool,
    /// Totals over written specs (absent with `--skip-specs` or without deltas).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub totals: Option<MergeCounts>,
    /// Non-blocking notes from the merge.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// Per-spec outcomes.
    pub specs: Vec<AppliedSpec>,
    /// Task progress when archived.
    pub task_progress: TaskProgress,
}

/// Why an archive did not happen. No file was changed in any of these cases.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// The change name is empty, `.`/`..` or contains a path separator.
    #[error("{0}")]
    InvalidName(String),
    /// No such change (message lists the available ones).
    #[error("{0}")]
    NotFound(String),
    /// The change directory is a symlink.
    #[error("Change '{0}' is a symbolic link. Replace it with a real directory before archiving.")]
    Symlink(String),
    /// The change is a folder wrapping nested changes.
    #[error("Cannot archive '{name}': {message}")]
    NestedChange {
        /// Change id.
        name: String,
        /// Description of the nesting.
        message: String,
    },
    /// The delta specs have errors.
    #[error("Validation failed for change '{change}'.")]
    ValidationFailed {
        /// Change id.
        change: String,
        /// The findings (ERRORs and WARNINGs).
        issues: Vec<Issue>,
    },
    /// A step needs `--yes`.
    #[error("{0}")]
    ConfirmationRequired(String),
    /// Open tasks remain and `--yes` was not given.
    #[error("{incomplete} incomplete task(s) found for change '{change}'.")]
    TasksIncomplete {
        /// Change id.
        change: String,
        /// Number of open tasks.
        incomplete: usize,
    },
    /// The archive directory already exists.
    #[error("Archive '{0}' already exists.")]
    TargetExists(String),
    /// A delta cannot be applied (the merge's message).
    #[error("{0}")]
    SpecUpdateFailed(String),
    /// A rebuilt spec would be invalid.
    #[error("Rebuilt spec for '{spec}' failed validation. No files were changed.")]
    RebuiltSpecInvalid {
        /// Capability id.
        spec: String,
        /// The rebuilt spec's findings.
        issues: Vec<Issue>,
        /// What to do about it.
        hint: Option<String>,
    },
    /// A file operation failed (the tree was restored).
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
}

impl ArchiveError {
    /// The CLI's diagnostic code (`archive_validation_failed`, ...).
    pub fn code(&self) -> &'static str {
        match self {
            ArchiveError::InvalidName(_) => "archive_change_name_invalid",
            ArchiveError::NotFound(_) => "archive_change_not_found",
            ArchiveError::Symlink(_) => "archive_change_symlink",
            ArchiveError::NestedChange { .. } => "archive_change_is_namespace_folder",
            ArchiveError::ValidationFailed { .. } => "archive_validation_failed",
            ArchiveError::ConfirmationRequired(_) => "archive_confirmation_required",
            ArchiveError::TasksIncomplete { .. } => "archive_tasks_incomplete",
            ArchiveError::TargetExists(_) => "archive_target_exists",
            ArchiveError::SpecUpdateFailed(_) => "archive_spec_update_failed",
            ArchiveError::RebuiltSpecInvalid { .. } => "archive_spec_validation_failed",
            ArchiveError::Io { .. } => "archive_error",
        }
    }

    /// What the user can do next, when there is something specific.
    pub fn fix(&self) -> Option<String> {
        match self {
            ArchiveError::ValidationFailed { change, .. } => Some(format!(
                "Run `pipeline spec validate {change}` for details, fix the errors, or rerun with --no-validate --yes."
            )),
            ArchiveError::TasksIncomplete { .. } => Some("Complete the tasks or rerun with --yes.".into()),
            ArchiveError::SpecUpdateFailed(_) => Some("Fix the change delta specs and rerun. No files were changed.".into()),
            ArchiveError::RebuiltSpecInvalid { spec, hint, .. } => Some(
                hint.clone().unwrap_or_else(|| format!("Run `pipeline spec validate {spec}` after fixing the change deltas.")),
            ),
            ArchiveError::NestedChange { .. } => Some(
                "Rename each nested change directory to a flat name directly under openspec/changes/, then archive it."
                    .into(),
            ),
            _ => None,
        }
    }
}

/// Today's date in local time as `YYYY-MM-DD`, the archive prefix the CLI uses.
pub fn local_date_today() -> String {
    chrono::Local::now().format("%Y-%m-%d").to_string()
}

fn has_date_prefix(name: &str) -> bool {
    let b = name.as_bytes();
    b.len() >= 11
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[4] == b'-'
        && b[5..7].iter().all(u8::is_ascii_digit)
        && b[7] == b'-'
        && b[8..10].iter().all(u8::is_ascii_digit)
        && b[10] == b'-'
}

/// The CLI's folder-name rule for a change id: `None` when acceptable.
pub fn change_name_problem(name: &str) -> Option<String> {
    if name.is_empty() {
        Some("Change name must not be empty".into())
    } else if name == "." || name == ".." {
        Some(format!("Change name must not be '{name}'"))
    } else if name.contains(['/', '\\']) {
        Some("Change name must not contain path separators".into())
    } else {
        None
    }
}

/// Maps an I/O failure of `action` on `path` to [`ArchiveError::Io`].
pub(crate) fn io_err(
    action: &'static str,
    path: &Path,
) -> impl FnOnce(io::Error) -> ArchiveError + use<> {
    let path = path.to_path_buf();
    move |source| ArchiveError::Io {
        action,
        path,
        source,
    }
}

fn has_delta_specs(change_dir: &Path) -> Result<bool, ArchiveError> {
    let specs = change_dir.join("specs");
    if std::fs::metadata(specs.join("spec.md"))
        .map(|m| m.is_file())
        .unwrap_or(false)
    {
        return Ok(true);
    }
    if !find_unread_delta_files(&specs)
        .map_err(io_err("reading", &specs))?
        .is_empty()
    {
        return Ok(true);
    }
    let marker = change_metadata::read_marker(change_dir, "skip_specs");
    if marker.invalid_reason.is_some() {
        return Ok(true);
    }
    if marker.declared && has_any_file_under(&specs).unwrap_or(true) {
        return Ok(true);
    }
    for spec in discover_spec_files(&specs).map_err(io_err("reading", &specs))? {
        if let Ok(content) = read_lossy(&spec.file)
            && DELTA_HEADER_ANYWHERE.is_match(&content)
        {
            return Ok(true);
        }
    }
    Ok(false)
}

fn is_retirable(id: &str, rebuilt: &str) -> bool {
    let report = Validator::new(false).validate_spec_content(id, rebuilt);
    if report.valid {
        return false;
    }
    let errors: Vec<&Issue> = report
        .issues
        .iter()
        .filter(|i| i.level == Level::Error)
        .collect();
    !errors.is_empty() && errors.iter().all(|i| i.message == SPEC_NO_REQUIREMENTS)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Write,
    Retire,
    Skip,
}

fn decide(
    update: &SpecUpdate,
    built: &MergedSpec,
    skip_validation: bool,
    retire_declared: bool,
) -> Outcome {
    if !retire_declared {
        return Outcome::Write;
    }
    let retirable = !skip_validation
        && built.no_requirement_blocks
        && built.unaccounted_content.is_empty()
        && is_retirable(&update.id, &built.rebuilt);
    if !retirable {
        Outcome::Write
    } else if !update.exists {
        Outcome::Skip
    } else if built.counts.removed > 0 {
        Outcome::Retire
    } else {
        Outcome::Write
    }
}

fn describe_unaccounted(lines: &[String]) -> String {
    let shown: Vec<String> = lines
        .iter()
        .take(3)
        .map(|line| {
            let safe: Vec<char> = line
                .chars()
                .map(|c| {
                    if (c as u32) < 0x20 || c == '\u{7f}' {
                        '?'
                    } else {
                        c
                    }
                })
                .collect();
            let clipped: String = safe.iter().take(200).collect();
            if safe.len() > 200 {
                format!("\"{clipped}\u{2026}\"")
            } else {
                format!("\"{clipped}\"")
            }
        })
        .collect();
    let rest = if lines.len() > 3 {
        format!(", and {} more line(s)", lines.len() - 3)
    } else {
        String::new()
    };
    format!("{}{rest}", shown.join(", "))
}

/// One main spec the archive is about to change, and how.
struct Prepared {
    update: SpecUpdate,
    built: MergedSpec,
    outcome: Outcome,
}

impl Prepared {
    /// Whether archiving changes the file: a retirement, or a write that applies
    /// something (an already-synced delta rewrites nothing).
    fn mutates(&self) -> bool {
        self.outcome == Outcome::Retire
            || (self.outcome == Outcome::Write && self.built.counts.total() > 0)
    }
}

/// Archives `change` of `layout` with `options`. See the module documentation for the
/// steps and guarantees.
///
/// Errors: every [`ArchiveError`] variant; in each case no file has been changed.
pub fn archive_change(
    layout: &Layout,
    change: &str,
    options: &ArchiveOptions,
) -> Result<ArchiveResult, ArchiveError> {
    let change_dir = locate_change(layout, change)?;
    validate_deltas(&change_dir, change, options)?;
    let progress = check_tasks(&change_dir, change, options)?;
    let (archive_name, archive_path) = free_archive_name(layout, change, &options.date)?;
    let retire_marker = change_metadata::read_marker(&change_dir, "retire_capabilities");
    // The CLI creates the archive directory before the spec phase; an empty directory is
    // not a change to any file, and matching it keeps the trees identical.
    std::fs::create_dir_all(layout.archive_dir())
        .map_err(io_err("creating", &layout.archive_dir()))?;

    let (prepared, mut warnings) = if options.skip_specs {
        (Vec::new(), Vec::new())
    } else {
        prepare_spec_updates(layout, &change_dir, change, options, &retire_marker)?
    };
    let mutations: Vec<&Prepared> = prepared.iter().filter(|p| p.mutates()).collect();
    apply_and_move(layout, &mutations, &change_dir, &archive_path)?;

    warnings.extend(retirement_warnings(layout, &prepared));
    Ok(ArchiveResult {
        change: change.to_string(),
        archived_as: archive_name,
        path: archive_path,
        specs_updated: !mutations.is_empty(),
        totals: (!prepared.is_empty()).then(|| applied_totals(&mutations)),
        warnings,
        specs: prepared.iter().map(applied_spec).collect(),
        task_progress: progress,
    })
}

/// Step 1: the change directory of `change`, refused for a bad name, a missing change,
/// a symlink or a folder wrapping nested changes.
fn locate_change(layout: &Layout, change: &str) -> Result<PathBuf, ArchiveError> {
    if let Some(problem) = change_name_problem(change) {
        return Err(ArchiveError::InvalidName(problem));
    }
    let changes_dir = layout.changes_dir();
    let change_dir = changes_dir.join(change);
    match std::fs::symlink_metadata(&change_dir) {
        Ok(meta) if meta.file_type().is_symlink() => {
            return Err(ArchiveError::Symlink(change.to_string()));
        }
        Ok(meta) if meta.is_dir() => {}
        _ => {
            let available = layout.change_ids().unwrap_or_default();
            return Err(ArchiveError::NotFound(if available.is_empty() {
                format!("Change '{change}' not found. No active changes exist in this root.")
            } else {
                format!(
                    "Change '{change}' not found. Available changes: {}",
                    available.join(", ")
                )
            }));
        }
    }
    if let Some(message) = nested_change_message(&changes_dir, change) {
        return Err(ArchiveError::NestedChange {
            name: change.to_string(),
            message,
        });
    }
    Ok(change_dir)
}

/// Step 2: the delta specs must validate (when there are any), unless `--no-validate`,
/// which itself needs `--yes`.
fn validate_deltas(
    change_dir: &Path,
    change: &str,
    options: &ArchiveOptions,
) -> Result<(), ArchiveError> {
    if options.no_validate {
        return if options.yes {
            Ok(())
        } else {
            Err(ArchiveError::ConfirmationRequired(
                "Skipping validation requires confirmation: rerun with --yes.".into(),
            ))
        };
    }
    if !has_delta_specs(change_dir)? {
        return Ok(());
    }
    let report = Validator::new(false).validate_change(change_dir, ChangeContext::default());
    if report.valid {
        return Ok(());
    }
    Err(ArchiveError::ValidationFailed {
        change: change.to_string(),
        issues: without_info(report.issues),
    })
}

/// The findings an archive failure reports: errors and warnings, not notes.
fn without_info(issues: Vec<Issue>) -> Vec<Issue> {
    issues
        .into_iter()
        .filter(|i| i.level != Level::Info)
        .collect()
}

/// Step 3: the task progress, refused with open tasks unless `--yes`.
fn check_tasks(
    change_dir: &Path,
    change: &str,
    options: &ArchiveOptions,
) -> Result<TaskProgress, ArchiveError> {
    let progress = match read_lossy(&change_dir.join("tasks.md")) {
        Ok(content) => task_progress(&content),
        Err(_) => TaskProgress::default(),
    };
    let incomplete = progress.total.saturating_sub(progress.completed);
    if incomplete > 0 && !options.yes {
        return Err(ArchiveError::TasksIncomplete {
            change: change.to_string(),
            incomplete,
        });
    }
    Ok(progress)
}

/// Step 4: the archive directory's name and path (`<date>-<change>`, or the change's own
/// name when it is date-prefixed), refused when it exists.
fn free_archive_name(
    layout: &Layout,
    change: &str,
    date: &str,
) -> Result<(String, PathBuf), ArchiveError> {
    let archive_name = if has_date_prefix(change) {
        change.to_string()
    } else {
        format!("{date}-{change}")
    };
    let archive_path = layout.archive_dir().join(&archive_name);
    if std::fs::symlink_metadata(&archive_path).is_ok() {
        return Err(ArchiveError::TargetExists(archive_name));
    }
    Ok((archive_name, archive_path))
}

/// Step 5 up to writing: every main spec rebuilt in memory with its outcome, and the
/// merge's warnings. Refused without `--yes` when there is anything to update, on the
/// first delta the merge refuses, and (unless `--no-validate`) on the first rebuilt spec
/// that would be invalid.
fn prepare_spec_updates(
    layout: &Layout,
    change_dir: &Path,
    change: &str,
    options: &ArchiveOptions,
    retire_marker: &change_metadata::Marker,
) -> Result<(Vec<Prepared>, Vec<String>), ArchiveError> {
    let updates = find_spec_updates(change_dir, &layout.specs_dir())
        .map_err(io_err("reading", change_dir))?;
    let mut prepared: Vec<Prepared> = Vec::new();
    let mut warnings: Vec<String> = Vec::new();
    if updates.is_empty() {
        return Ok((prepared, warnings));
    }
    let planned = updates.len();
    let mut refusal: Option<String> = None;
    for update in updates {
        match build_updated_spec(&update, change) {
            Ok(built) => {
                let outcome = decide(&update, &built, options.no_validate, retire_marker.declared);
                warnings.extend(built.warnings.iter().cloned());
                prepared.push(Prepared {
                    update,
                    built,
                    outcome,
                });
            }
            Err(MergeError::Refused(message)) => {
                refusal = Some(message);
                break;
            }
            Err(MergeError::Io { path, source }) => {
                return Err(ArchiveError::Io {
                    action: "reading",
                    path,
                    source,
                });
            }
        }
    }
    // The CLI asks for confirmation before it reports a refused delta.
    if !options.yes {
        return Err(ArchiveError::ConfirmationRequired(format!(
            "Updating {planned} spec(s) requires confirmation: rerun with --yes."
        )));
    }
    if let Some(message) = refusal {
        return Err(ArchiveError::SpecUpdateFailed(message));
    }
    if !options.no_validate {
        validate_rebuilt_specs(&prepared, retire_marker)?;
    }
    Ok((prepared, warnings))
}

/// Refuses the first spec to be written whose rebuilt content fails validation, with a
/// hint when a retirement is what the change needed.
fn validate_rebuilt_specs(
    prepared: &[Prepared],
    retire_marker: &change_metadata::Marker,
) -> Result<(), ArchiveError> {
    for p in prepared.iter().filter(|p| p.outcome == Outcome::Write) {
        let report = Validator::new(false).validate_spec_content(&p.update.id, &p.built.rebuilt);
        if report.valid {
            continue;
        }
        return Err(ArchiveError::RebuiltSpecInvalid {
            spec: p.update.id.clone(),
            hint: rebuilt_hint(
                p,
                retire_marker.declared,
                retire_marker.invalid_reason.as_deref(),
            ),
            issues: without_info(report.issues),
        });
    }
    Ok(())
}

/// Steps 5 (writing) and 6: applies `mutations`, then moves the change directory to
/// `archive_path`; on any failure every mutation is undone before the error returns.
fn apply_and_move(
    layout: &Layout,
    mutations: &[&Prepared],
    change_dir: &Path,
    archive_path: &Path,
) -> Result<(), ArchiveError> {
    let changes: Vec<SpecMutation<'_>> = mutations
        .iter()
        .map(|p| match p.outcome {
            Outcome::Retire => SpecMutation::Retire {
                target: &p.update.target,
            },
            _ => SpecMutation::Write {
                target: &p.update.target,
                content: &p.built.rebuilt,
            },
        })
        .collect();
    let mut journal = Journal::default();
    let applied = journal.apply(&changes).and_then(|()| {
        std::fs::create_dir_all(layout.archive_dir()).map_err(io_err("creating", archive_path))?;
        std::fs::rename(change_dir, archive_path)
            .map_err(io_err("moving the change to", archive_path))
    });
    if let Err(err) = applied {
        journal.roll_back();
        return Err(err);
    }
    journal.commit(&layout.specs_dir());
    Ok(())
}

/// The operations applied over every changed spec.
fn applied_totals(mutations: &[&Prepared]) -> MergeCounts {
    let mut totals = MergeCounts::default();
    for p in mutations {
        totals.added += p.built.counts.added;
        totals.modified += p.built.counts.modified;
        totals.removed += p.built.counts.removed;
        totals.renamed += p.built.counts.renamed;
    }
    totals
}

/// What happened to one prepared spec, for the result.
fn applied_spec(p: &Prepared) -> AppliedSpec {
    AppliedSpec {
        id: p.update.id.clone(),
        action: if p.update.exists { "update" } else { "create" },
        outcome: match p.outcome {
            Outcome::Retire => "retire",
            Outcome::Write if p.built.counts.total() > 0 => "write",
            _ => "skip",
        },
        counts: p.built.counts,
    }
}

/// One warning per retired capability: which file went and how to get it back.
fn retirement_warnings(layout: &Layout, prepared: &[Prepared]) -> Vec<String> {
    let mut warnings = Vec::new();
    for p in prepared.iter().filter(|p| p.outcome == Outcome::Retire) {
        let relative = p
            .update
            .target
            .strip_prefix(&layout.root)
            .map(crate::layout::posix_path);
        let recovery = match &relative {
            Ok(rel) => format!(
                "If it was committed, restore it with: git checkout HEAD -- \":(top){rel}\""
            ),
            Err(_) => format!(
                "It was deleted from {}; if it was committed, restore it from that checkout's history.",
                p.update.target.display()
            ),
        };
        let shown = relative.unwrap_or_else(|_| p.update.target.display().to_string());
        warnings.push(format!(
            "{} - capability retired; deleted the main spec (all requirements removed, declared by retire_capabilities) at {shown}. Its section(s) went with it: Purpose. {recovery}",
            p.update.id
        ));
    }
    warnings
}

fn rebuilt_hint(p: &Prepared, declared: bool, invalid_reason: Option<&str>) -> Option<String> {
    let emptied = p.update.exists
        && p.built.counts.removed > 0
        && p.built.no_requirement_blocks
        && is_retirable(&p.update.id, &p.built.rebuilt);
    let spec = &p.update.id;
    let reason = invalid_reason
        .map(|r| format!(" The marker present now cannot be honored ({r})."))
        .unwrap_or_default();
    let unaccounted = &p.built.unaccounted_content;
    if declared && !unaccounted.is_empty() && is_retirable(spec, &p.built.rebuilt) {
        return Some(format!(
            "'{spec}' declares retire_capabilities, but the spec holds content the merge cannot safely account for and deleting the file would take with it: {}. Move it into `## Purpose` or a canonical requirement, or delete the spec by hand.",
            describe_unaccounted(unaccounted)
        ));
    }
    if !declared && emptied && unaccounted.is_empty() {
        return Some(format!(
            "This change removes the last requirement '{spec}' has. To retire the capability and delete its spec, add `retire_capabilities: true` to the change's {METADATA_FILENAME} (alongside its `schema:`, which that file requires), then rerun.{reason}"
        ));
    }
    if !declared && emptied {
        return Some(format!(
            "This change removes the last requirement '{spec}' has, so the rebuilt spec has none left and cannot be written. Retiring the capability is what archive does instead, and it is refused while the spec holds content the merge cannot safely account for and deleting the file would take with it: {}. Move it into `## Purpose` or a canonical requirement, or delete the spec by hand, then rerun.{reason}",
            describe_unaccounted(unaccounted)
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_prefixed_names_are_kept() {
        assert!(has_date_prefix("2024-01-02-add-x"));
        assert!(!has_date_prefix("add-x"));
        assert!(!has_date_prefix("2024-01-02"));
    }
}
