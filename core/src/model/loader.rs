//! Loading: files -> (per workstream object: raw workstream -> typed steps) -> selection
//! -> resolved dependencies.
//!
//! Each workstream object is built into its steps as soon as it is read, so the raw form
//! of a whole file never sits in memory; the findings of building it are kept aside and
//! reported only if the workstream is selected, in file order, so the output is the same
//! as if selection had come first.
//!
//! Given files are read strictly: every problem is an error. A given directory is read
//! strictly, every top-level `*.json`, `*.yaml` and `*.yml` in it. The sibling files of a
//! given file (the other top-level workstream files of its directory, which the original tool also read so that
//! `depends_on` can name workstreams of other files) are read only when a given workstream
//! names a workstream that the given files do not define; then they are read leniently (a
//! sibling that does not load is a note, and only if a dependency stays unknown), and each
//! sibling file that supplies a workstream is reported in a note. JSON Schema documents (an
//! object with `$schema` and no `id`) are recognised by content and skipped with a note.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use super::dependency_resolution::resolve_dependencies;
use super::file_discovery::{DiscoveredFile, discover_files};
use super::id_hasher::IdSet;
use super::workstream_builder::{Drafts, build_workstream};
use super::workstream_file::read_workstream_file;
use super::workstream_selection::{external_references, select_workstreams};
use super::{LoadError, ToolCatalog, ValidationDiagnostic, ValidationSeverity, WorkstreamSet};

/// What the loader needs besides the files.
pub struct LoadOptions<'a> {
    /// Tool profiles that `tool` and `capability` may name.
    pub catalog: &'a dyn ToolCatalog,
}

/// Loads the workstreams of `paths` (files or directories) and everything they depend on.
///
/// Errors: a [`LoadError`] holding every diagnostic when any error was found: missing
/// paths, unreadable files, invalid JSON or YAML (with line and column), schema violations
/// (with JSON pointer), unknown fields (with the closest known one), a step with both
/// `tool` and `command`, an in-place step with dependencies that is not `read_only`, a
/// `read_only` step with a scope, duplicate ids, unknown `depends_on` targets, dependency cycles (with the
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
                .with_hint("pass a workstream file (.json, .yaml, .yml) or a directory of them"),
        );
        return Err(LoadError { diagnostics: diags });
    }

    let mut read = read_files(paths, options.catalog, &mut diags);
    let chosen = select_workstreams(
        &read.drafts,
        &read.candidates,
        &|w| read.given[w],
        &mut diags,
        &mut read.sibling_problems,
    );
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
        .map(|&w| read.drafts.workstreams[w].file.to_path_buf())
        .collect();
    used_files.dedup();
    report_siblings_read(&read, &chosen, &mut diags);

    let built_from = diags.len();
    for &w in &chosen {
        diags.append(&mut read.findings[w]);
    }
    let ReadWorkstreams {
        drafts,
        sibling_problems,
        ..
    } = read;
    let drafts = drafts.select(&chosen);
    drop(chosen);
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
    let r = WorkstreamSet::new(workstreams, steps, diags, used_files);
    Ok(r)
}

/// Every workstream read, built as it was read (so that no file's raw workstreams are
/// ever all in memory at once).
struct ReadWorkstreams {
    drafts: Drafts,
    /// Per workstream: the findings of building it, reported only if it is selected.
    findings: Vec<Vec<ValidationDiagnostic>>,
    /// Per workstream: whether its file was given.
    given: Vec<bool>,
    /// Per workstream: the position of its file among the files read.
    file_position: Vec<usize>,
    /// Workstream indices in file order (given files and siblings interleaved as
    /// discovered; within a file, in file order).
    candidates: Vec<usize>,
    /// Problems of sibling files: they matter only if a dependency stays unknown.
    sibling_problems: Vec<ValidationDiagnostic>,
}

impl ReadWorkstreams {
    /// Reads one file, building each of its workstreams; a file that does not parse
    /// contributes nothing (its one error is in `diags`).
    fn read(
        &mut self,
        file: &DiscoveredFile,
        position: usize,
        catalog: &dyn ToolCatalog,
        diags: &mut Vec<ValidationDiagnostic>,
    ) {
        let mark = self.drafts.workstreams.len();
        let drafts = &mut self.drafts;
        let (findings, given, positions) =
            (&mut self.findings, &mut self.given, &mut self.file_position);
        let parsed = read_workstream_file(&file.path, diags, &mut |w| {
            let mut found = Vec::new();
            build_workstream(w, catalog, drafts, &mut found);
            findings.push(found);
            given.push(file.given);
            positions.push(position);
        });
        if !parsed {
            self.drafts.truncate(mark);
            self.findings.truncate(mark);
            self.given.truncate(mark);
            self.file_position.truncate(mark);
        }
    }
}

/// Reads the given files and, if their workstreams name a workstream they do not define,
/// the siblings of the given files.
fn read_files(
    paths: &[PathBuf],
    catalog: &dyn ToolCatalog,
    diags: &mut Vec<ValidationDiagnostic>,
) -> ReadWorkstreams {
    let mut read = ReadWorkstreams {
        drafts: Drafts::default(),
        findings: Vec::new(),
        given: Vec::new(),
        file_position: Vec::new(),
        candidates: Vec::new(),
        sibling_problems: Vec::new(),
    };
    let given = discover_files(paths, false, diags);
    for (position, f) in given.iter().enumerate() {
        read.read(f, position, catalog, diags);
    }
    if needs_siblings(&read.drafts) {
        // Discovery errors were reported by the first pass.
        let all = discover_files(paths, true, &mut Vec::new());
        let position_of: HashMap<&Path, usize> = all
            .iter()
            .enumerate()
            .map(|(i, f)| (f.path.as_path(), i))
            .collect();
        // Given files keep their place among the siblings.
        for p in read.file_position.iter_mut() {
            *p = position_of
                .get(given[*p].path.as_path())
                .copied()
                .unwrap_or(*p);
        }
        let mut problems = Vec::new();
        for (position, f) in all.iter().enumerate().filter(|(_, f)| !f.given) {
            read.read(f, position, catalog, &mut problems);
        }
        read.sibling_problems = problems;
    }
    let mut candidates: Vec<usize> = (0..read.drafts.workstreams.len()).collect();
    candidates.sort_by_key(|&w| read.file_position[w]);
    read.candidates = candidates;
    read
}

/// Whether a workstream read names, in a `depends_on`, a workstream none of them defines.
fn needs_siblings(drafts: &Drafts) -> bool {
    let ids: IdSet<&str> = drafts.workstreams.iter().map(|w| w.id.as_str()).collect();
    drafts.workstreams.iter().any(|w| {
        external_references(w, drafts)
            .iter()
            .any(|r| !ids.contains(r))
    })
}

/// One note per sibling file that supplies selected workstreams: it was read because a
/// `depends_on` needed it.
fn report_siblings_read(
    read: &ReadWorkstreams,
    chosen: &[usize],
    diags: &mut Vec<ValidationDiagnostic>,
) {
    let mut by_file: BTreeMap<&Path, Vec<&str>> = BTreeMap::new();
    for &w in chosen.iter().filter(|&&w| !read.given[w]) {
        let draft = &read.drafts.workstreams[w];
        by_file.entry(&draft.file).or_default().push(&draft.id);
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
