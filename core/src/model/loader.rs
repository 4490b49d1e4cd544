//! Reading workstream files: discovery, JSON parsing, schema validation, selection.
//!
//! Given files are read strictly: every problem is an error. Their sibling files (the other
//! top-level `*.json` of the same directory, which the original tool also read so that
//! `depends_on` can name workstreams of other files) are read leniently: a sibling that does
//! not load is a note, and becomes an error only if a selected workstream depends on it.
//! A given directory is read strictly, every top-level `*.json` in it. JSON Schema documents
//! (an object with `$schema` and no `id`) are recognised by content and skipped with a note.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::normalize::normalize_workstreams;
use super::schema::validate_workstream;
use super::{Diagnostic, LoadError, Severity, ToolCatalog, WorkstreamSet};

/// What the loader needs besides the files.
pub struct LoadOptions<'a> {
    /// Tool profiles that `tool` and `capability` may name.
    pub catalog: &'a dyn ToolCatalog,
}

/// One workstream object read from a file, schema-valid.
pub(crate) struct RawWorkstream {
    pub id: String,
    pub file: PathBuf,
    /// JSON pointer of the object in its file: `""` for a single object, `/N` in an array.
    pub pointer: String,
    pub value: Value,
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
            Diagnostic::error(".", "", "no workstream file or directory given")
                .with_hint("pass a workstream file (.json) or a directory of them"),
        );
        return Err(LoadError { diagnostics: diags });
    }

    // Discover files: (path, strict).
    let mut files: Vec<(PathBuf, bool)> = Vec::new();
    let mut seen = HashSet::new();
    for given in paths {
        let meta = match std::fs::metadata(given) {
            Ok(m) => m,
            Err(e) => {
                diags.push(
                    Diagnostic::error(given, "", format!("cannot read: {e}"))
                        .with_hint("give a workstream file (.json) or a directory of them"),
                );
                continue;
            }
        };
        if meta.is_dir() {
            let listed = json_files_in(given, &mut diags);
            if listed.is_empty() {
                diags.push(Diagnostic::error(
                    given,
                    "",
                    "directory holds no top-level *.json workstream file",
                ));
            }
            for f in listed {
                upsert(&mut files, &mut seen, f, true);
            }
        } else {
            upsert(&mut files, &mut seen, given.clone(), true);
            let dir = given
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            for f in json_files_in(dir, &mut Vec::new()) {
                upsert(&mut files, &mut seen, f, false);
            }
        }
    }

    // Parse and schema-check every file.
    let mut raws: Vec<(RawWorkstream, bool)> = Vec::new();
    let mut sibling_problems: Vec<Diagnostic> = Vec::new();
    for (file, strict) in &files {
        let mut file_diags = Vec::new();
        let parsed = read_file(file, &mut file_diags);
        let sink = if *strict {
            &mut diags
        } else {
            &mut sibling_problems
        };
        sink.extend(file_diags);
        if let Some(list) = parsed {
            for raw in list {
                raws.push((raw, *strict));
            }
        }
    }

    // Index by id; duplicates are errors when a strict file is involved.
    let mut by_id: HashMap<String, usize> = HashMap::new();
    let mut ids_in_order = Vec::new();
    for (i, (raw, strict)) in raws.iter().enumerate() {
        if let Some(&first) = by_id.get(&raw.id) {
            let (other, other_strict) = &raws[first];
            let d = Diagnostic::error(
                &raw.file,
                format!("{}/id", raw.pointer),
                format!(
                    "duplicate workstream id `{}` (also defined in {} at {})",
                    raw.id,
                    other.file.display(),
                    pointer_or_root(&other.pointer)
                ),
            )
            .with_step(raw.id.clone())
            .with_hint("workstream ids must be unique across the files of a directory");
            if *strict || *other_strict {
                diags.push(d);
            } else {
                sibling_problems.push(d);
            }
            continue;
        }
        by_id.insert(raw.id.clone(), i);
        ids_in_order.push(i);
    }

    // Selection: workstreams of strict files plus the closure of what they depend on.
    let mut selected: Vec<bool> = vec![false; raws.len()];
    let mut queue: VecDeque<usize> = ids_in_order
        .iter()
        .copied()
        .filter(|&i| raws[i].1)
        .collect();
    while let Some(i) = queue.pop_front() {
        if selected[i] {
            continue;
        }
        selected[i] = true;
        for dep in referenced_workstreams(&raws[i].0.value) {
            if let Some(&j) = by_id.get(&dep)
                && !selected[j]
            {
                queue.push_back(j);
            }
        }
    }
    let chosen: Vec<&RawWorkstream> = ids_in_order
        .iter()
        .filter(|&&i| selected[i])
        .map(|&i| &raws[i].0)
        .collect();
    if chosen.is_empty() && diags.iter().all(|d| d.severity != Severity::Error) {
        diags.push(
            Diagnostic::error(&paths[0], "", "no workstream found").with_hint(
                "a workstream file holds one workstream object, or a non-empty array of them",
            ),
        );
    }

    let normalized = normalize_workstreams(&chosen, options.catalog);
    let unknown_dep = normalized
        .diagnostics
        .iter()
        .any(|d| d.message.starts_with("unknown dependency"));
    diags.extend(normalized.diagnostics);
    if unknown_dep {
        // The missing workstream may be in a sibling file that failed to load: say so.
        for mut d in sibling_problems
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .cloned()
        {
            d.severity = Severity::Note;
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
    if diags.iter().any(|d| d.severity == Severity::Error) {
        return Err(LoadError { diagnostics: diags });
    }
    let used_files: Vec<PathBuf> = {
        let mut v: Vec<PathBuf> = chosen.iter().map(|r| r.file.clone()).collect();
        v.dedup();
        v
    };
    Ok(WorkstreamSet::new(
        normalized.workstreams,
        normalized.steps,
        diags,
        used_files,
    ))
}

fn upsert(
    files: &mut Vec<(PathBuf, bool)>,
    seen: &mut HashSet<PathBuf>,
    path: PathBuf,
    strict: bool,
) {
    let key = std::fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
    if seen.insert(key.clone()) {
        files.push((path, strict));
    } else if strict
        && let Some(entry) = files
            .iter_mut()
            .find(|(p, _)| std::fs::canonicalize(p).unwrap_or_else(|_| p.clone()) == key)
    {
        entry.1 = true;
    }
}

fn pointer_or_root(p: &str) -> &str {
    if p.is_empty() { "the top level" } else { p }
}

/// Top-level `*.json` files of a directory, sorted by name, JSON Schema files excluded.
fn json_files_in(dir: &Path, diags: &mut Vec<Diagnostic>) -> Vec<PathBuf> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            diags.push(Diagnostic::error(
                dir,
                "",
                format!("cannot list directory: {e}"),
            ));
            return Vec::new();
        }
    };
    let mut out: Vec<PathBuf> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "json"))
        .collect();
    out.sort();
    out
}

/// Reads one file into schema-valid workstream objects. Problems go to `diags`; a file with
/// errors yields only its valid workstreams (so that later checks can still run on them).
fn read_file(file: &Path, diags: &mut Vec<Diagnostic>) -> Option<Vec<RawWorkstream>> {
    let bytes = match std::fs::read(file) {
        Ok(b) => b,
        Err(e) => {
            diags.push(Diagnostic::error(file, "", format!("cannot read: {e}")));
            return None;
        }
    };
    let text = match std::str::from_utf8(&bytes) {
        Ok(t) => t.strip_prefix('\u{feff}').unwrap_or(t),
        Err(e) => {
            diags.push(
                Diagnostic::error(
                    file,
                    format!("byte {}", e.valid_up_to()),
                    "file is not valid UTF-8",
                )
                .with_hint("save the file as UTF-8 JSON"),
            );
            return None;
        }
    };
    let value: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            let mut d = Diagnostic::error(
                file,
                format!("line {}, column {}", e.line(), e.column()),
                format!("invalid JSON: {e}"),
            );
            if e.is_eof() {
                d = d.with_hint("the file ends early: is it truncated?");
            }
            diags.push(d);
            return None;
        }
    };
    if is_json_schema(&value) {
        diags.push(Diagnostic::note(
            file,
            "",
            "skipped: a JSON Schema document, not a workstream",
        ));
        return Some(Vec::new());
    }
    let items: Vec<(String, Value)> = match value {
        Value::Array(items) => {
            if items.is_empty() {
                diags.push(
                    Diagnostic::error(file, "", "empty array: the file holds no workstream")
                        .with_hint("add at least one workstream object"),
                );
            }
            items
                .into_iter()
                .enumerate()
                .map(|(i, v)| (format!("/{i}"), v))
                .collect()
        }
        Value::Object(_) => vec![(String::new(), value)],
        other => {
            diags.push(Diagnostic::error(
                file,
                "",
                format!(
                    "expected a workstream object or an array of them, found {}",
                    json_kind(&other)
                ),
            ));
            return None;
        }
    };
    let mut out = Vec::new();
    for (pointer, v) in items {
        let violations = validate_workstream(&v);
        let id = v.get("id").and_then(Value::as_str).map(str::to_string);
        if !violations.is_empty() {
            for viol in violations {
                let mut d = Diagnostic::error(
                    file,
                    pointer_or_root(&format!("{pointer}{}", viol.pointer)).to_string(),
                    viol.message,
                );
                if let Some(step) = step_id_at(&v, &viol.pointer, id.as_deref()) {
                    d = d.with_step(step);
                }
                diags.push(d);
            }
            continue;
        }
        // The schema requires a string id; keep the check total anyway.
        let Some(id) = id else { continue };
        out.push(RawWorkstream {
            id,
            file: file.to_path_buf(),
            pointer,
            value: v,
        });
    }
    Some(out)
}

fn is_json_schema(v: &Value) -> bool {
    v.as_object()
        .is_some_and(|o| o.contains_key("$schema") && !o.contains_key("id"))
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// For a violation inside `/steps/N/...` or `/phases/N/steps/M/...`, the step's id.
fn step_id_at(ws: &Value, pointer: &str, ws_id: Option<&str>) -> Option<String> {
    let parts: Vec<&str> = pointer.split('/').skip(1).collect();
    let step = match parts.as_slice() {
        ["steps", n, ..] => ws.get("steps")?.get(n.parse::<usize>().ok()?)?,
        ["phases", p, "steps", n, ..] => ws
            .get("phases")?
            .get(p.parse::<usize>().ok()?)?
            .get("steps")?
            .get(n.parse::<usize>().ok()?)?,
        _ => return ws_id.map(str::to_string),
    };
    let sid = step.get("id").and_then(Value::as_str)?;
    Some(match ws_id {
        Some(w) => format!("{w}/{sid}"),
        None => sid.to_string(),
    })
}

/// Workstream ids a workstream refers to through `depends_on` (its own and its steps'),
/// used to pull sibling workstreams into the selection. Over-approximates: a name that is
/// a local step id is ignored later if no workstream has it.
fn referenced_workstreams(ws: &Value) -> Vec<String> {
    let mut out = BTreeMap::new();
    let mut add = |v: Option<&Value>| {
        if let Some(Value::Array(a)) = v {
            for d in a.iter().filter_map(Value::as_str) {
                let head = d.split('/').next().unwrap_or(d);
                out.insert(head.to_string(), ());
            }
        }
    };
    add(ws.get("depends_on"));
    if let Some(Value::Array(steps)) = ws.get("steps") {
        for s in steps {
            add(s.get("depends_on"));
        }
    }
    if let Some(Value::Array(phases)) = ws.get("phases") {
        for p in phases {
            if let Some(Value::Array(steps)) = p.get("steps") {
                for s in steps {
                    add(s.get("depends_on"));
                }
            }
        }
    }
    out.into_keys().collect()
}
