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
fn comments_are_ignored_original_fields_noted_and_unknown_ones_refused() {
    let d = tempfile::tempdir().unwrap();
    let ok = write(
        d.path(),
        "w.json",
        r#"{"id": "w", "_comment": "x", "$schema": "../schema/workstream.schema.json", "saga": {}, "metadata": {"k": 1}, "tool": "aider",
            "steps": [{"id": "a", "tasks": "t", "_why": "y", "name": "A"}, {"id": "b", "tasks": ["u"], "depends_on": ["a"]}]}"#,
    );
    let set = load(&[ok]).unwrap_or_else(|e| panic!("{e}"));
    let notes: Vec<(&str, &str)> = set
        .notes
        .iter()
        .map(|n| (n.location.as_str(), n.message.as_str()))
        .collect();
    assert_eq!(
        notes,
        vec![("/saga", "field `saga` is not interpreted; kept as data")]
    );
    let a = set.step(&StepId::nested("w", "a")).unwrap();
    assert_eq!(a.tool, ToolChoice::Profile("aider".into()));
    assert_eq!(a.tasks, vec!["t"]);

    let typo = write(
        d.path(),
        "typo.json",
        r#"{"id": "t", "owner": "me", "tool": "aider",
            "phases": [{"id": "p", "step": 1, "steps": [{"id": "a", "tasks": "t", "depend_on": ["b"], "acceptence_tests": ["true"]}]}],
            "steps": [{"id": "b", "tasks": "t"}]}"#,
    );
    let found: Vec<(String, String)> = errors(load(&[typo]))
        .iter()
        .map(|e| (e.location.clone(), e.message.clone()))
        .collect();
    let expected = [
        ("/owner", "unknown field `owner` in workstream `t`"),
        (
            "/phases/0/step",
            "unknown field `step` in phase `t/p`; did you mean `steps`?",
        ),
        (
            "/phases/0/steps/0/acceptence_tests",
            "unknown field `acceptence_tests` in step `t/a`; did you mean `acceptance_tests`?",
        ),
        (
            "/phases/0/steps/0/depend_on",
            "unknown field `depend_on` in step `t/a`; did you mean `depends_on`?",
        ),
    ];
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(l, m)| (l.to_string(), m.to_string()))
        .collect();
    assert_eq!(found, expected);
}

#[test]
fn a_step_with_tool_and_command_is_refused_naming_both() {
    let d = tempfile::tempdir().unwrap();
    let f = write(
        d.path(),
        "w.json",
        r#"{"id": "w", "steps": [{"id": "a", "tool": "aider", "command": "make", "tasks": "t"}]}"#,
    );
    let text: Vec<String> = errors(load(&[f])).iter().map(|e| e.to_string()).collect();
    insta::assert_snapshot!(
        "tool_and_command",
        text.join("\n")
            .replace(&d.path().display().to_string(), "<dir>")
    );
}

#[test]
fn in_place_steps_with_dependencies_must_be_read_only() {
    let d = tempfile::tempdir().unwrap();
    let f = write(
        d.path(),
        "w.json",
        r#"[{"id": "make", "command": "touch made.txt"},
            {"id": "check", "command": "test -f made.txt", "isolation": "none", "depends_on": ["make"]}]"#,
    );
    let text: Vec<String> = errors(load(&[f])).iter().map(|e| e.to_string()).collect();
    insta::assert_snapshot!(
        "isolation_none_trap",
        text.join("\n")
            .replace(&d.path().display().to_string(), "<dir>")
    );
    // Read-only: accepted. In place without dependencies: accepted.
    let ok = write(
        d.path(),
        "ok.json",
        r#"[{"id": "make", "command": "touch made.txt"},
            {"id": "check", "command": "test -f made.txt", "isolation": "none", "read_only": true, "depends_on": ["make"]},
            {"id": "lint", "command": "true", "isolation": "none"}]"#,
    );
    let set = load(&[ok]).unwrap_or_else(|e| panic!("{e}"));
    assert!(set.step(&StepId::workstream("check")).unwrap().read_only);
    // A chain of in-place steps is fine: each one's changes are in the main checkout.
    let chain = write(
        d.path(),
        "chain.json",
        r#"[{"id": "gen", "command": "touch gen.txt", "isolation": "none"},
            {"id": "use", "command": "test -f gen.txt", "isolation": "none", "depends_on": ["gen"]},
            {"id": "last", "command": "true", "isolation": "none", "depends_on": ["use"]}]"#,
    );
    load(&[chain]).unwrap_or_else(|e| panic!("{e}"));
    // Through an in-place step, a worktree step's result is still missing.
    let through = write(
        d.path(),
        "through.json",
        r#"[{"id": "make", "command": "touch made.txt"},
            {"id": "mid", "command": "true", "isolation": "none", "read_only": true, "depends_on": ["make"]},
            {"id": "end", "command": "test -f made.txt", "isolation": "none", "depends_on": ["mid"]}]"#,
    );
    let found: Vec<String> = errors(load(&[through]))
        .iter()
        .map(|e| e.step.clone().unwrap_or_default())
        .collect();
    assert_eq!(found, vec!["end"]);
    // A phase's dependency counts too; the workstream's acceptance gate is not a step to fix.
    let phased = write(
        d.path(),
        "phased.json",
        r#"{"id": "w", "command": "true", "isolation": "none", "acceptance_tests": ["true"], "phases": [
            {"id": "p1", "steps": [{"id": "a", "isolation": "worktree"}]},
            {"id": "p2", "depends_on": ["p1"], "steps": [{"id": "b"}]}]}"#,
    );
    let found: Vec<String> = errors(load(&[phased]))
        .iter()
        .map(|e| format!("{} {}", e.location, e.step.clone().unwrap_or_default()))
        .collect();
    assert_eq!(found, vec!["/phases/1/steps/0 w/b"]);
}

#[test]
fn a_read_only_step_with_a_scope_is_a_contradiction() {
    let d = tempfile::tempdir().unwrap();
    let f = write(
        d.path(),
        "w.json",
        r#"[{"id": "a", "command": "true", "read_only": true, "files_scope": ["src"]},
            {"id": "w", "read_only": true, "steps": [{"id": "b", "command": "true", "files_create": ["x"]}]}]"#,
    );
    let text: Vec<String> = errors(load(&[f])).iter().map(|e| e.to_string()).collect();
    insta::assert_snapshot!(
        "read_only_scope",
        text.join("\n")
            .replace(&d.path().display().to_string(), "<dir>")
    );
}

#[test]
fn yaml_files_load_like_json_and_depend_on_each_other() {
    let d = tempfile::tempdir().unwrap();
    write(
        d.path(),
        "base.json",
        r#"{"id": "base", "command": "true"}"#,
    );
    let y = write(
        d.path(),
        "next.yaml",
        "# a YAML workstream\nid: next\n_comment: skipped\ndepends_on: [base]\nsteps:\n  - id: a\n    command: echo a\n  - id: b\n    command: echo b\n    depends_on: [a]\n",
    );
    let set = load(&[y]).unwrap_or_else(|e| panic!("{e}"));
    let ids: Vec<&str> = set.steps.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, vec!["next/a", "next/b", "base"]);
    assert_eq!(
        set.step(&StepId::nested("next", "a")).unwrap().depends_on,
        vec![StepId::workstream("base")]
    );
    // And back: a JSON file depending on a YAML one in the same directory (`.yml`).
    write(d.path(), "other.yml", "- id: yml\n  command: 'true'\n");
    let j = write(
        d.path(),
        "after.json",
        r#"{"id": "after", "command": "true", "depends_on": ["yml"]}"#,
    );
    let set = load(&[j]).unwrap_or_else(|e| panic!("{e}"));
    assert!(set.step(&StepId::workstream("yml")).is_some());
    // A directory picks up both.
    let all = load(&[d.path().to_path_buf()]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(all.workstreams.len(), 4);
}

#[test]
fn yaml_errors_have_line_and_column_and_the_same_rules() {
    let d = tempfile::tempdir().unwrap();
    let syntax = write(d.path(), "bad.yaml", "id: a\ncommand: [true\n");
    let found = errors(load(&[syntax]));
    assert_eq!(found.len(), 1, "{found:?}");
    insta::assert_snapshot!(
        "yaml_syntax",
        found[0]
            .to_string()
            .replace(&d.path().display().to_string(), "<dir>")
    );
    let duplicate = write(
        d.path(),
        "dup.yml",
        "id: a\ncommand: 'true'\ncommand: 'false'\n",
    );
    let found = errors(load(&[duplicate]));
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].message.contains("duplicate key `command`"),
        "{}",
        found[0]
    );
    // YAML marks the object that holds the repeated key (JSON marks the key itself).
    assert_eq!(found[0].location, "line 1, column 1", "{}", found[0]);
    let typo = write(
        d.path(),
        "typo.yaml",
        "id: a\ncommand: 'true'\ndepend_on: [b]\n",
    );
    let found = errors(load(&[typo]));
    assert_eq!(
        found[0].message,
        "unknown field `depend_on` in step `a`; did you mean `depends_on`?"
    );
    let other = write(d.path(), "bundle.yaml", "bundle-id: x\nitems: []\n");
    let found = errors(load(&[other]));
    assert_eq!(found[0].message, "no workstream found", "{found:?}");
    let schema = write(d.path(), "schema.yaml", "id: a\ncommand: 3\n");
    let found = errors(load(&[schema]));
    assert_eq!(found[0].location, "/command", "{}", found[0]);
}

/// Definition hashes decide on resume whether a completed step is kept: they must not change
/// between versions for an unchanged step. These values were recorded by the loader before
/// the raw/typed rewrite (`steps.definition_hash` of a run's state database); those of `m`
/// were recorded again when in-place steps with dependencies had to become `read_only`
/// (issue #11: the earlier `m` no longer loads).
#[test]
fn definition_hashes_are_stable_across_versions() {
    let d = tempfile::tempdir().unwrap();
    let f = write(
        d.path(),
        "w.json",
        r#"[{"id": "a", "command": "true", "isolation": "none", "env": {"B": "2", "A": "1"}, "timeout_sec": 5, "files_scope": ["src"], "acceptance_tests": ["true", {"name": "n", "command": "test -d .", "timeout_sec": 2.5}]},
 {"id": "m", "depends_on": ["a"], "isolation": "none", "read_only": true, "tool": "shell", "tasks": "t", "steps": [{"id": "s1", "command": "true", "specs": []}, {"id": "s2", "command": "true", "depends_on": ["s1"], "context_files": ["README"]}], "acceptance_tests": ["true"]}]"#,
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
                "68a6985db42a9f1ad0320110f50bb126c993be4b089b8c8440667e6143ba2b4e"
            ),
            (
                "m/s2",
                "cce8bdffa1119332433109be5b4505899b2772bdfcd0ec349ecc4e776dac5e6f"
            ),
            (
                "m/_acceptance",
                "bb00668ae4174cf16e4c63fd09cb3e8adf9c3081275fab9530e385273ad3be66"
            ),
        ]
    );
}

#[test]
fn candidates_are_inherited_by_tool_steps_only_and_checked_with_their_step_and_pointer() {
    let dir = tempfile::tempdir().unwrap();
    let ok = write(
        dir.path(),
        "w.json",
        r#"{"id": "w", "tool": "aider", "candidates": 3, "select": {"command": "echo 1"},
            "steps": [{"id": "ai", "tasks": ["x"]},
                      {"id": "own", "tasks": ["y"], "candidates": 2},
                      {"id": "cmd", "command": "true"}]}"#,
    );
    let set = load(std::slice::from_ref(&ok)).unwrap_or_else(|e| panic!("{e}"));
    let step = |id: &str| set.step(&StepId::nested("w", id)).unwrap();
    assert_eq!(step("ai").candidates, 3);
    assert_eq!(
        step("ai").select.as_ref().map(|s| s.command.as_str()),
        Some("echo 1")
    );
    assert_eq!(step("own").candidates, 2);
    assert_eq!(
        step("cmd").candidates,
        1,
        "a command step does not inherit it"
    );
    assert_eq!(step("cmd").select, None);
    std::fs::remove_file(&ok).unwrap();

    let bad = write(
        dir.path(),
        "b.json",
        r#"{"id": "b", "steps": [
            {"id": "cmd", "command": "true", "candidates": 2},
            {"id": "alone", "tool": "aider", "select": {"command": "echo 1"}},
            {"id": "here", "tool": "aider", "candidates": 2, "isolation": "none", "read_only": true}]}"#,
    );
    let errs = errors(load(std::slice::from_ref(&bad)));
    let found = |step: &str, location: &str, text: &str| {
        errs.iter().any(|e| {
            e.step.as_deref() == Some(step)
                && e.location == location
                && e.file.ends_with("b.json")
                && e.message.contains(text)
                && e.hint.is_some()
        })
    };
    assert!(
        found("b/cmd", "/steps/0/candidates", "runs a command"),
        "{errs:#?}"
    );
    assert!(
        found("b/alone", "/steps/1/select", "nothing to choose between"),
        "{errs:#?}"
    );
    assert!(
        found("b/here", "/steps/2/candidates", "in place"),
        "{errs:#?}"
    );
}
