//! Loading: files -> raw workstreams -> selection -> typed steps -> resolved dependencies.
//!
//! Given files are read strictly: every problem is an error. A given directory is read
//! strictly, every top-level `*.json` in it. The sibling files of a given file (the other
//! top-level `*.json` of its directory, which the original tool also read so that
//! `depends_on` can name workstreams of other files) are read only when a given workstream
//! names a workstream that the given files do not define; then they are read leniently (a
//! sibling that does not load is a note, and only if a dependency stays unknown), and each
//! sibling file that supplies a workstream is reported in a note. JSON Schema documents (an
//! object with `$schema` and no `id`) are recognised by content and skipped with a note.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use super::dependency_resolution::resolve_dependencies;
use super::file_discovery::{DiscoveredFile, discover_files};
use super::workstream_builder::{Drafts, build_workstream, step_count};
use super::workstream_file::{SourcedWorkstream, read_workstream_file};
use super::workstream_selection::{Candidate, external_references, select_workstreams};
use super::{LoadError, ToolCatalog, ValidationDiagnostic, ValidationSeverity, WorkstreamSet};

/// What the loader needs besides the files.
pub struct LoadOptions<'a> {
    /// Tool profiles that `tool` and `capability` may name.
    pub catalog: &'a dyn ToolCatalog,
}

/// Loads the workstreams of `paths` (files or directories) and everything they depend on.
///
/// Errors: a [`LoadError`] holding every diagnostic when any error was found: missing
/// paths, unreadable files, invalid JSON (with line and column), schema violations (with
/// JSON pointer), duplicate ids, unknown `depends_on` targets, dependency cycles (with the
/// cycle path), unknown tools or capabilities, absolute or `..` paths in scopes, empty
/// workstreams. On success, notes are in [`WorkstreamSet::notes`].
pub fn load_workstreams(
    paths: &[PathBuf],
    options: &LoadOptions<'_>,
) -> Result<WorkstreamSet, LoadError> {
    let mut diags = Vec::new();
    if paths.is_empty() {
        diags.push(
            ValidationDiagnostic::error(".", "", "no workstream file or directory given")
                .with_hint("pass a workstream file (.json) or a directory of them"),
        );
        return Err(LoadError { diagnostics: diags });
    }

    let (candidates, mut sibling_problems) = read_files(paths, &mut diags);
    let chosen = select_workstreams(candidates, &mut diags, &mut sibling_problems);
    if chosen.is_empty()
        && diags
            .iter()
            .all(|d| d.severity != ValidationSeverity::Error)
    {
        diags.push(
            ValidationDiagnostic::error(&paths[0], "", "no workstream found").with_hint(
                "a workstream file holds one workstream object, or a non-empty array of them",
            ),
        );
    }
    let mut used_files: Vec<PathBuf> = chosen
        .iter()
        .map(|c| c.workstream.file.to_path_buf())
        .collect();
    used_files.dedup();
    report_siblings_read(&chosen, &mut diags);

    let steps = chosen.iter().map(|c| step_count(&c.workstream.raw)).sum();
    let mut drafts = Drafts::with_capacity(chosen.len(), steps);
    let built_from = diags.len();
    for c in chosen {
        build_workstream(c.workstream, options.catalog, &mut drafts, &mut diags);
    }
    let (workstreams, steps) = resolve_dependencies(drafts, &mut diags);
    let unknown_dep = diags[built_from..]
        .iter()
        .any(|d| d.message.starts_with("unknown dependency"));
    if unknown_dep {
        // The missing workstream may be in a sibling file that failed to load: say so.
        for mut d in sibling_problems
            .into_iter()
            .filter(|d| d.severity == ValidationSeverity::Error)
        {
            d.severity = ValidationSeverity::Note;
            d.message = format!("sibling file not loaded: {}", d.message);
            diags.push(d);
        }
    } else {
        // Siblings nothing depends on are none of this run's business: a workstream file
        // in a busy directory must not drown in notes about unrelated JSON files.
        for d in sibling_problems {
            tracing::debug!("sibling file skipped: {d}");
        }
    }

    // A workstream-level setting is read once per step: report each finding once.
    let mut seen = HashSet::new();
    diags.retain(|d| seen.insert((d.file.clone(), d.location.clone(), d.message.clone())));
    if diags
        .iter()
        .any(|d| d.severity == ValidationSeverity::Error)
    {
        return Err(LoadError { diagnostics: diags });
    }
    Ok(WorkstreamSet::new(workstreams, steps, diags, used_files))
}

/// Reads the given files and, if their workstreams name a workstream they do not define,
/// the siblings of the given files. Returns every workstream read, in file order, and the
/// problems of sibling files (kept apart: they matter only if a dependency stays unknown).
fn read_files(
    paths: &[PathBuf],
    diags: &mut Vec<ValidationDiagnostic>,
) -> (Vec<Candidate>, Vec<ValidationDiagnostic>) {
    let given = discover_files(paths, false, diags);
    let mut read: Vec<(DiscoveredFile, Vec<SourcedWorkstream>)> = given
        .into_iter()
        .map(|f| {
            let ws = read_workstream_file(&f.path, diags).unwrap_or_default();
            (f, ws)
        })
        .collect();
    let mut sibling_problems = Vec::new();
    if needs_siblings(read.iter().flat_map(|(_, ws)| ws).collect()) {
        let mut given: HashMap<PathBuf, Vec<SourcedWorkstream>> =
            read.into_iter().map(|(f, ws)| (f.path, ws)).collect();
        read = Vec::new();
        // Discovery errors were reported by the first pass.
        for f in discover_files(paths, true, &mut Vec::new()) {
            match given.remove(&f.path) {
                Some(ws) => read.push((f, ws)),
                // Given, but unreadable: reported by the first pass.
                None if f.given => {}
                None => {
                    let ws =
                        read_workstream_file(&f.path, &mut sibling_problems).unwrap_or_default();
                    read.push((f, ws));
                }
            }
        }
    }
    let candidates = read
        .into_iter()
        .flat_map(|(f, ws)| {
            ws.into_iter().map(move |workstream| Candidate {
                workstream,
                given: f.given,
            })
        })
        .collect();
    (candidates, sibling_problems)
}

/// Whether a workstream of `given` names, in a `depends_on`, a workstream none of `given`
/// defines.
fn needs_siblings(given: Vec<&SourcedWorkstream>) -> bool {
    let ids: HashSet<&str> = given.iter().map(|w| w.id()).collect();
    given
        .iter()
        .any(|w| external_references(&w.raw).iter().any(|r| !ids.contains(r)))
}

/// One note per sibling file that supplies selected workstreams: it was read because a
/// `depends_on` needed it.
fn report_siblings_read(chosen: &[Candidate], diags: &mut Vec<ValidationDiagnostic>) {
    let mut by_file: BTreeMap<&Path, Vec<&str>> = BTreeMap::new();
    for c in chosen.iter().filter(|c| !c.given) {
        by_file
            .entry(&c.workstream.file)
            .or_default()
            .push(c.workstream.id());
    }
    for (file, ids) in by_file {
        let list: Vec<String> = ids.iter().map(|id| format!("`{id}`")).collect();
        diags.push(ValidationDiagnostic::note(
            file,
            "",
            format!(
                "sibling file read for depends_on: it defines workstream{} {}",
                if ids.len() == 1 { "" } else { "s" },
                list.join(", ")
            ),
        ));
    }
}
