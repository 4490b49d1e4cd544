//! OpenSpec change proposal -> workstream -> run (issue #5 bridge): the requirement text
//! goes into the tool's prompt, and completed steps tick their tasks in tasks.md on the
//! result branch.

use crate::support::Test;

fn openspec_project(t: &Test) {
    t.commit_file(
        "openspec/specs/notes/spec.md",
        "# Notes Specification\n\n## Purpose\nKeep short notes for the team in one place.\n\n## Requirements\n### Requirement: Add note\nThe system SHALL store a note with its author.\n\n#### Scenario: Adding a note\n- **WHEN** a note is added\n- **THEN** it is stored with its author\n",
    );
    t.commit_file("openspec/changes/add-export/proposal.md", "## Why\nUsers want to take their notes elsewhere.\n\n## What Changes\n- Add a plain-text export of notes.\n\n## Impact\n- Affected specs: notes\n");
    t.commit_file(
        "openspec/changes/add-export/specs/notes/spec.md",
        "## ADDED Requirements\n### Requirement: Export notes\nThe system SHALL export all notes as plain text.\n\n#### Scenario: Export requested\n- **WHEN** an export is requested\n- **THEN** a text file with every note is written\n",
    );
    t.commit_file("openspec/changes/add-export/tasks.md", "## 1. Exporter\n- [ ] 1.1 Write the exporter\n- [ ] 1.2 Test the exporter\n\n## 2. Documentation\n- [ ] 2.1 Document the export\n");
}

#[test]
fn a_change_proposal_runs_as_a_workstream_and_ticks_its_tasks() {
    let t = Test::new();
    openspec_project(&t);
    let prompts = t.out.join("prompts");
    std::fs::create_dir_all(&prompts).unwrap();
    t.config(&format!(
        "tools:\n  scribe:\n    kind: custom\n    command: sh\n    args: [\"-c\", \"n=$(echo $PIPELINE_STEP_ID | tr / _); cp \\\"$PIPELINE_PROMPT_FILE\\\" {}/$n.md; echo done > work-$n.txt\"]\n",
        prompts.display()
    ));
    let ws = t.ws_dir.join("export.json");
    t.pipeline(&[
        "spec",
        "to-workstream",
        "add-export",
        "--tool",
        "scribe",
        "--acceptance",
        "test -d openspec",
        "-o",
        ws.to_str().unwrap(),
    ])
    .assert_ok();
    t.pipeline(&["validate", ws.to_str().unwrap()]).assert_ok();
    t.run(&ws, "spec", 2).assert_ok();

    let tasks = t
        .show("pipeline/spec", "openspec/changes/add-export/tasks.md")
        .unwrap();
    assert_eq!(
        tasks,
        "## 1. Exporter\n- [x] 1.1 Write the exporter\n- [x] 1.2 Test the exporter\n\n## 2. Documentation\n- [x] 2.1 Document the export\n"
    );
    let first: Vec<_> = std::fs::read_dir(&prompts)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().contains("1-exporter"))
        .collect();
    let prompt = std::fs::read_to_string(&first[0]).unwrap();
    assert!(
        prompt.contains("Export notes") && prompt.contains("SHALL export all notes as plain text"),
        "{prompt}"
    );
    assert!(prompt.contains("1.1 Write the exporter"), "{prompt}");
    // The main checkout is untouched until the user merges.
    assert!(
        std::fs::read_to_string(t.repo.join("openspec/changes/add-export/tasks.md"))
            .unwrap()
            .contains("- [ ] 1.1")
    );
}

#[test]
fn an_unresolvable_spec_reference_is_a_validation_error_naming_the_closest_match() {
    let t = Test::new();
    openspec_project(&t);
    let ws = t.workstream("bad.json", r#"{"id": "w", "steps": [{"id": "s", "command": "true", "specs": ["spec://note#Add note"]}]}"#);
    let r = t
        .pipeline(&["validate", ws.to_str().unwrap()])
        .assert_code(2);
    let err = r.stderr();
    assert!(
        err.contains("/steps/0/specs/0") && err.contains("notes"),
        "{err}"
    );
}

/// The `pipeline spec` commands through the binary (the library behind them is checked
/// against the real `openspec` CLI in `specifications/tests/oracle.rs`): validate,
/// list, show, find, new and archive, with their exit codes.
#[test]
fn spec_commands_validate_list_show_find_scaffold_and_archive() {
    let t = Test::new();
    openspec_project(&t);
    let json = |args: &[&str]| -> serde_json::Value {
        let run = t.pipeline(args).assert_ok();
        serde_json::from_str(&run.stdout()).unwrap_or_else(|e| panic!("{args:?}: {e}"))
    };
    let report = json(&["spec", "validate", "--all", "--json"]);
    assert_eq!(report["summary"]["totals"]["failed"], 0, "{report:#}");
    assert_eq!(report["summary"]["totals"]["items"], 2, "{report:#}");
    let listed = json(&["spec", "list", "--json"]);
    assert_eq!(listed["changes"][0]["name"], "add-export", "{listed:#}");
    assert_eq!(listed["changes"][0]["totalTasks"], 3, "{listed:#}");
    let shown = json(&["spec", "show", "add-export", "--json"]);
    assert_eq!(shown["deltas"][0]["operation"], "ADDED", "{shown:#}");
    let found = t
        .pipeline(&["spec", "find", "plain text"])
        .assert_ok()
        .stdout();
    assert!(found.contains("Export notes"), "{found}");

    // A change without deltas is invalid: exit 1, naming the problem.
    t.pipeline(&["spec", "new", "empty-change"]).assert_ok();
    assert!(
        t.repo
            .join("openspec/changes/empty-change/proposal.md")
            .exists()
    );
    let invalid = t
        .pipeline(&["spec", "validate", "empty-change"])
        .assert_code(1);
    assert!(invalid.stdout().contains("empty-change") || invalid.stderr().contains("empty-change"));
    t.pipeline(&["spec", "show", "no-such-change"])
        .assert_code(2);

    // Archiving applies the delta to the main spec.
    t.pipeline(&["spec", "archive", "add-export", "--yes"])
        .assert_ok();
    let spec = std::fs::read_to_string(t.repo.join("openspec/specs/notes/spec.md")).unwrap();
    assert!(spec.contains("### Requirement: Export notes"), "{spec}");
    assert!(!t.repo.join("openspec/changes/add-export").exists());
}
