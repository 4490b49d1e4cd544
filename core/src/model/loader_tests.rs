//! Loader tests: the conformance corpus loads (when present: an optional extra run, see
//! `conformance()`); every kind of bad input is an error that names the file, the
//! location and the step.

use std::path::{Path, PathBuf};

use super::*;

pub(crate) struct ListCatalog(pub Vec<(&'static str, &'static [&'static str])>);

impl ToolCatalog for ListCatalog {
    fn has_tool(&self, name: &str) -> bool {
        name == "shell" || self.0.iter().any(|(n, _)| *n == name)
    }
    fn has_capability(&self, capability: &str) -> bool {
        self.0.iter().any(|(_, caps)| caps.contains(&capability))
    }
    fn tool_names(&self) -> Vec<String> {
        let mut v: Vec<String> = self.0.iter().map(|(n, _)| n.to_string()).collect();
        v.push("shell".into());
        v.sort();
        v
    }
}

pub(crate) fn catalog() -> ListCatalog {
    ListCatalog(vec![
        ("aider", &["code_generation", "refactoring"]),
        ("codex", &["code_generation"]),
        ("claude", &[]),
    ])
}

/// The external conformance corpus (the original tool's workstream files), an optional
/// extra test run: `PIPELINE_CONFORMANCE_DIR` (relative paths are taken from the
/// repository root), by default `../shared/conformance/caidp-workstreams` beside the
/// repository. A fresh clone has none: then the calling test prints "skipped: conformance
/// corpus not found at ...; set PIPELINE_CONFORMANCE_DIR" and passes (`None`). The same
/// rule as `tests/e2e/conformance.rs`; the project's own original-format fixtures
/// (tests/fixtures/original-format/) are tested either way.
fn conformance() -> Option<PathBuf> {
    const VAR: &str = "PIPELINE_CONFORMANCE_DIR";
    // This crate lives in `core/` of the repository.
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let dir = match std::env::var_os(VAR) {
        Some(v) if !v.is_empty() => root.join(v),
        _ => root.join("../shared/conformance/caidp-workstreams"),
    };
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!(
            "skipped: conformance corpus not found at {}; set {VAR}",
            dir.display()
        );
        None
    }
}

fn load(paths: &[PathBuf]) -> Result<WorkstreamSet, LoadError> {
    let cat = catalog();
    load_workstreams(paths, &LoadOptions { catalog: &cat })
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn errors(r: Result<WorkstreamSet, LoadError>) -> Vec<ValidationDiagnostic> {
    match r {
        Ok(_) => panic!("expected a load error"),
        Err(e) => e.errors().cloned().collect(),
    }
}

#[test]
fn conformance_directory_loads_all_36_workstreams() {
    let Some(dir) = conformance() else {
        return;
    };
    let set = load(std::slice::from_ref(&dir)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(set.workstreams.len(), 36);
    assert!(
        set.notes.iter().any(|n| n.message.contains("JSON Schema")),
        "schema file skipped with a note"
    );
    assert!(
        !set.notes
            .iter()
            .any(|n| n.message.contains("field `circuit_breaker`")),
        "circuit_breaker is interpreted by the error engine"
    );
    let examples = load(&[dir.join("examples")]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(examples.workstreams.len(), 5);
    assert!(
        examples
            .notes
            .iter()
            .any(|n| n.message.contains("`saga` is not interpreted"))
    );
    assert!(
        examples
            .notes
            .iter()
            .any(|n| n.message.contains("`error_handling` is not interpreted"))
    );
    // Phases: step-03 of example 4 depends on step-02 (explicitly and through its phase).
    let s = examples
        .step(&StepId::nested(
            "ws-example-04-multi-phase",
            "step-03-create-reporter",
        ))
        .unwrap();
    assert_eq!(
        s.depends_on,
        vec![StepId::nested(
            "ws-example-04-multi-phase",
            "step-02-create-validator"
        )]
    );
}

#[test]
fn every_conformance_file_loads_on_its_own_with_sibling_dependencies() {
    let Some(dir) = conformance() else {
        return;
    };
    for entry in std::fs::read_dir(&dir).unwrap() {
        let p = entry.unwrap().path();
        if p.extension().is_some_and(|e| e == "json")
            && !p.to_string_lossy().ends_with(".schema.json")
        {
            let set =
                load(std::slice::from_ref(&p)).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            assert!(!set.workstreams.is_empty());
        }
    }
    // ws-18 depends on 17 workstreams of sibling files: they are pulled in.
    let set = load(&[dir.join("ws-18-update-infrastructure-scripts.json")]).unwrap();
    assert_eq!(set.workstreams.len(), 18);
}

#[test]
fn truncated_json_reports_line_and_column() {
    let d = tempfile::tempdir().unwrap();
    let f = write(
        d.path(),
        "a.json",
        "{\n  \"id\": \"ws-a\",\n  \"tasks\": [\"x\"",
    );
    let e = errors(load(std::slice::from_ref(&f)));
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].file, f);
    assert!(e[0].location.starts_with("line 3, column"), "{}", e[0]);
    assert!(e[0].hint.as_deref().unwrap_or("").contains("truncated"));
}

#[test]
fn schema_violations_name_the_json_pointer_and_step() {
    let d = tempfile::tempdir().unwrap();
    let f = write(
        d.path(),
        "a.json",
        r#"{"id": "ws-a", "tool": "aider", "steps": [{"id": "s1", "tasks": "x", "timeout_sec": -1}]}"#,
    );
    let e = errors(load(&[f]));
    assert_eq!(e[0].location, "/steps/0/timeout_sec");
    assert_eq!(e[0].step.as_deref(), Some("ws-a/s1"));
}

#[test]
fn duplicate_ids_unknown_dependencies_and_tools_are_errors() {
    let d = tempfile::tempdir().unwrap();
    let f = write(
        d.path(),
        "a.json",
        r#"[{"id": "ws-a", "command": "true"},
            {"id": "ws-a", "command": "true"},
            {"id": "ws-b", "tool": "aidr", "tasks": ["x"], "depends_on": ["ws-c"]},
            {"id": "ws-c", "steps": [{"id": "s", "command": "true"}, {"id": "s", "command": "true"}]}]"#,
    );
    let e = errors(load(&[f]));
    let text: Vec<String> = e.iter().map(|d| d.to_string()).collect();
    assert!(
        text.iter()
            .any(|t| t.contains("duplicate workstream id `ws-a`")),
        "{text:#?}"
    );
    assert!(
        text.iter()
            .any(|t| t.contains("unknown tool `aidr`") && t.contains("did you mean `aider`")),
        "{text:#?}"
    );
    assert!(
        text.iter().any(|t| t.contains("duplicate step id `s`")),
        "{text:#?}"
    );
    let f2 = write(
        d.path(),
        "b.json",
        r#"{"id": "ws-x", "command": "true", "depends_on": ["ws-nope"]}"#,
    );
    let e = errors(load(&[f2]));
    assert!(
        e[0].message.contains("unknown dependency `ws-nope`"),
        "{}",
        e[0]
    );
    assert_eq!(e[0].location, "/depends_on/0");
}

#[test]
fn cycles_print_their_path() {
    let d = tempfile::tempdir().unwrap();
    let f = write(
        d.path(),
        "a.json",
        r#"{"id": "w", "steps": [
            {"id": "a", "command": "true", "depends_on": ["c"]},
            {"id": "b", "command": "true", "depends_on": ["a"]},
            {"id": "c", "command": "true", "depends_on": ["b"]},
            {"id": "d", "command": "true", "depends_on": ["d"]}]}"#,
    );
    let e = errors(load(&[f]));
    let msgs: Vec<&str> = e.iter().map(|d| d.message.as_str()).collect();
    assert!(
        msgs.contains(
            &"dependency cycle: w/a -> w/c -> w/b -> w/a (each step depends on the next)"
        ),
        "{msgs:#?}"
    );
    assert!(
        msgs.contains(&"dependency cycle: w/d -> w/d (each step depends on the next)"),
        "{msgs:#?}"
    );
}

#[test]
fn scope_paths_must_stay_inside_the_repository() {
    let d = tempfile::tempdir().unwrap();
    let f = write(
        d.path(),
        "a.json",
        r#"{"id": "w", "command": "true", "files_scope": ["ok.txt", "/etc/passwd"], "files_create": ["../x"]}"#,
    );
    let e = errors(load(&[f]));
    let locs: Vec<&str> = e.iter().map(|d| d.location.as_str()).collect();
    assert_eq!(locs, vec!["/files_scope/1", "/files_create/0"]);
}

#[test]
fn empty_workstreams_are_errors() {
    let d = tempfile::tempdir().unwrap();
    let f = write(d.path(), "a.json", "[]");
    assert!(
        errors(load(&[f]))
            .iter()
            .any(|d| d.message.contains("empty array"))
    );
    let f = write(d.path(), "b.json", r#"{"id": "w", "tool": "aider"}"#);
    assert!(
        errors(load(&[f]))
            .iter()
            .any(|d| d.message.contains("has nothing to do"))
    );
}

#[test]
fn workstream_acceptance_gate_and_cross_workstream_dependencies() {
    let d = tempfile::tempdir().unwrap();
    write(
        d.path(),
        "base.json",
        r#"{"id": "base", "command": "true"}"#,
    );
    let f = write(
        d.path(),
        "main.json",
        r#"{"id": "m", "depends_on": ["base"], "acceptance_tests": ["test -f a"],
            "steps": [{"id": "a", "command": "touch a"}, {"id": "b", "command": "true", "depends_on": ["a"]}, {"id": "c", "command": "true"}]}"#,
    );
    let set = load(&[f]).unwrap();
    assert_eq!(set.workstreams.len(), 2, "sibling dependency pulled in");
    let gate = set.step(&StepId::nested("m", "_acceptance")).unwrap();
    assert_eq!(gate.kind, StepKind::WorkstreamAcceptance);
    assert_eq!(
        gate.depends_on,
        vec![StepId::nested("m", "b"), StepId::nested("m", "c")]
    );
    let a = set.step(&StepId::nested("m", "a")).unwrap();
    assert_eq!(a.depends_on, vec![StepId::workstream("base")]);
    let m = set.workstreams.iter().find(|w| w.id == "m").unwrap();
    assert_eq!(m.exit_steps, vec![StepId::nested("m", "_acceptance")]);
}

#[test]
fn siblings_are_read_only_for_a_dependency_outside_the_given_files() {
    let d = tempfile::tempdir().unwrap();
    write(
        d.path(),
        "broken.json",
        "{\"id\": \"broken\", \"command\": ",
    );
    // Same id as the given workstream: a conflict only if siblings are read.
    write(
        d.path(),
        "twin.json",
        r#"{"id": "alone", "command": "true"}"#,
    );
    write(
        d.path(),
        "base.json",
        r#"{"id": "base", "command": "true"}"#,
    );
    let alone = write(
        d.path(),
        "alone.json",
        r#"{"id": "alone", "steps": [{"id": "a", "command": "true"}, {"id": "b", "command": "true", "depends_on": ["a"]}]}"#,
    );
    let set = load(std::slice::from_ref(&alone)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(set.workstreams.len(), 1);
    assert_eq!(set.files, vec![alone.clone()]);
    assert!(
        !set.notes.iter().any(|n| n.message.contains("sibling")),
        "{:?}",
        set.notes
    );

    // A dependency on a sibling's workstream reads the siblings, and says which one it used.
    let user = write(
        d.path(),
        "user.json",
        r#"{"id": "user", "command": "true", "depends_on": ["base"]}"#,
    );
    let set = load(std::slice::from_ref(&user)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(set.workstreams.len(), 2);
    assert_eq!(set.files, vec![user.clone(), d.path().join("base.json")]);
    let read: Vec<String> = set
        .notes
        .iter()
        .filter(|n| n.message.starts_with("sibling file read"))
        .map(|n| n.to_string())
        .collect();
    assert_eq!(
        read,
        vec![format!(
            "note: {}: sibling file read for depends_on: it defines workstream `base`",
            d.path().join("base.json").display()
        )]
    );
    // The broken sibling was read too, but nothing needed it: no finding about it.
    assert!(!set.notes.iter().any(|n| n.file.ends_with("broken.json")));
}

#[test]
fn siblings_read_for_a_dependency_bring_their_problems_along() {
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "broken.json", "{\"id\": \"gone\", \"command\": ");
    write(
        d.path(),
        "twin.json",
        r#"{"id": "user", "command": "true"}"#,
    );
    let user = write(
        d.path(),
        "user.json",
        r#"{"id": "user", "command": "true", "depends_on": ["gone"]}"#,
    );
    let err = match load(std::slice::from_ref(&user)) {
        Ok(_) => panic!("expected a load error"),
        Err(e) => e,
    };
    let text: Vec<String> = err.diagnostics.iter().map(|d| d.to_string()).collect();
    // The sibling defining the same id as the given workstream is a conflict now...
    assert!(
        text.iter()
            .any(|t| t.contains("twin.json") && t.contains("duplicate workstream id `user`")),
        "{text:#?}"
    );
    // ...and the dependency that stays unknown points at the sibling that did not load.
    assert!(
        text.iter().any(|t| t.contains("unknown dependency `gone`")),
        "{text:#?}"
    );
    assert!(
        text.iter().any(|t| t.starts_with("note: ")
            && t.contains("broken.json")
            && t.contains("sibling file not loaded: invalid JSON")),
        "{text:#?}"
    );
}

#[test]
fn local_step_and_phase_names_do_not_pull_in_siblings() {
    let d = tempfile::tempdir().unwrap();
    // A sibling workstream named like a local step: it must not join the set.
    write(d.path(), "a.json", r#"{"id": "a", "command": "true"}"#);
    let f = write(
        d.path(),
        "w.json",
        r#"{"id": "w", "steps": [{"id": "a", "command": "true"}, {"id": "b", "command": "true", "depends_on": ["a", "p"]}],
            "phases": [{"id": "p", "steps": [{"id": "c", "command": "true"}]}]}"#,
    );
    let set = load(&[f]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(set.workstreams.len(), 1);
    let b = set.step(&StepId::nested("w", "b")).unwrap();
    assert_eq!(
        b.depends_on,
        vec![StepId::nested("w", "a"), StepId::nested("w", "c")]
    );
}

#[test]
fn comments_are_ignored_and_other_fields_are_noted_once() {
    let d = tempfile::tempdir().unwrap();
    let f = write(
        d.path(),
        "w.json",
        r#"{"id": "w", "_comment": "x", "owner": "me", "metadata": {"k": 1}, "tool": "aider",
            "steps": [{"id": "a", "tasks": "t", "_why": "y", "labels": ["x"]}, {"id": "b", "tasks": ["u"], "depends_on": ["a"]}]}"#,
    );
    let set = load(&[f]).unwrap_or_else(|e| panic!("{e}"));
    let notes: Vec<(&str, &str)> = set
        .notes
        .iter()
        .map(|n| (n.location.as_str(), n.message.as_str()))
        .collect();
    assert_eq!(
        notes,
        vec![
            ("/owner", "field `owner` is not interpreted; kept as data"),
            (
                "/steps/0/labels",
                "field `labels` is not interpreted; kept as data"
            ),
        ]
    );
    let a = set.step(&StepId::nested("w", "a")).unwrap();
    assert_eq!(a.tool, ToolChoice::Profile("aider".into()));
    assert_eq!(a.tasks, vec!["t"]);
}

/// Definition hashes decide on resume whether a completed step is kept: they must not change
/// between versions for an unchanged step. These values were recorded by the loader before
/// the raw/typed rewrite (`steps.definition_hash` of a run's state database).
#[test]
fn definition_hashes_are_stable_across_versions() {
    let d = tempfile::tempdir().unwrap();
    let f = write(
        d.path(),
        "w.json",
        r#"[{"id": "a", "command": "true", "isolation": "none", "env": {"B": "2", "A": "1"}, "timeout_sec": 5, "files_scope": ["src"], "acceptance_tests": ["true", {"name": "n", "command": "test -d .", "timeout_sec": 2.5}]},
 {"id": "m", "depends_on": ["a"], "isolation": "none", "tool": "shell", "tasks": "t", "steps": [{"id": "s1", "command": "true", "specs": []}, {"id": "s2", "command": "true", "depends_on": ["s1"], "context_files": ["README"]}], "acceptance_tests": ["true"]}]"#,
    );
    let set = load(&[f]).unwrap_or_else(|e| panic!("{e}"));
    let hashes: Vec<(&str, &str)> = set
        .steps
        .iter()
        .map(|s| (s.id.as_str(), s.definition_hash.as_str()))
        .collect();
    assert_eq!(
        hashes,
        vec![
            (
                "a",
                "ce8e4f5f4f2b02c7ef6b87b66142d467b0f9de7fafde48fee1f1f90a19013502"
            ),
            (
                "m/s1",
                "290c51a1cbde8d653d6c92a8d31054de71151abce4e9d38ce5ae0e3b352564c3"
            ),
            (
                "m/s2",
                "58dc43c92636148b78987b3b5bbab0911d80cb3ba4af76f4a4b3b69dcd470555"
            ),
            (
                "m/_acceptance",
                "92592f1f35b8c1f1387dded277db41cd9e046813e8a9d5f229c3d015c1e3a4c2"
            ),
        ]
    );
}
