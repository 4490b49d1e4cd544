//! End-to-end tests of the parts of pipeline-specs the OpenSpec CLI does not have:
//! scaffolding, the workstream bridge (OpenSpec and CCPM), references, dependency
//! cycles, conflicting changes and the spec index, on real temporary project trees.

use std::path::{Path, PathBuf};

use pipeline_specs::catalog::find_conflicts;
use pipeline_specs::change_graph::dependency_report;
use pipeline_specs::resolver::{ReferenceError, resolve};
use pipeline_specs::scaffold::scaffold_change;
use pipeline_specs::spec_index::SpecIndex;
use pipeline_specs::validation_run::validate_item;
use pipeline_specs::workstream_bridge::{
    BridgeOptions, ccpm_epic_to_workstream, change_to_workstream,
};
use pipeline_specs::{Layout, tick_tasks};

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read dir").flatten() {
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

fn bridge_project() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let from = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bridge/project");
    copy_tree(&from, dir.path());
    let root = dir.path().to_path_buf();
    (dir, root)
}

fn is_step_id(id: &str) -> bool {
    let mut chars = id.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

#[test]
fn a_scaffolded_change_is_invalid_until_filled_in_then_validates() {
    let (_dir, root) = bridge_project();
    let layout = Layout::new(&root);
    scaffold_change(&layout, "add-export", Some("reports"), "2025-02-03").expect("scaffold");
    let change = layout.change_dir("add-export");
    let meta = std::fs::read_to_string(change.join(".openspec.yaml")).expect("metadata");
    assert_eq!(meta, "schema: spec-driven\ncreated: 2025-02-03\n");
    let run = validate_item(&layout, "add-export", None, false).expect("validate");
    assert!(
        !run.items[0].valid,
        "an unfilled stub must not validate: {:?}",
        run.items[0].issues
    );
    std::fs::write(
        change.join("specs/reports/spec.md"),
        "## ADDED Requirements\n\n### Requirement: Export\nThe system SHALL export reports as CSV.\n\n#### Scenario: manager exports\n- **WHEN** a manager asks for the weekly report\n- **THEN** a CSV file is downloaded\n",
    )
    .expect("fill delta");
    std::fs::write(
        change.join("tasks.md"),
        "# Tasks\n\n## 1. Export\n\n- [ ] 1.1 Write the CSV exporter\n",
    )
    .expect("fill tasks");
    let run = validate_item(&layout, "add-export", None, true).expect("validate");
    assert!(
        run.items[0].valid,
        "filled-in change must validate strictly: {:?}",
        run.items[0].issues
    );
}

#[test]
fn a_change_becomes_a_workstream_with_groups_dependencies_specs_and_tests() {
    let (_dir, root) = bridge_project();
    let layout = Layout::new(&root);
    let options = BridgeOptions {
        default_acceptance_tests: vec!["make check".into()],
        ..BridgeOptions::default()
    };
    let ws = change_to_workstream(&layout, "add-sso", &options).expect("bridge");
    assert_eq!(ws.id, "ws-add-sso");
    assert_eq!(ws.openspec_change.as_deref(), Some("add-sso"));
    assert_eq!(ws.description, "Single sign-on");
    let ids: Vec<&str> = ws.steps.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "1-identity-provider-client",
            "2-sso-login-flow",
            "3-documentation"
        ]
    );
    assert!(ids.iter().all(|id| is_step_id(id)));
    assert_eq!(
        ws.steps[0].tasks,
        ["1.1 Add the OIDC client", "1.2 Configure the provider"]
    );
    assert_eq!(ws.steps[0].openspec_tasks, ["1.1", "1.2"]);
    assert!(ws.steps[0].depends_on.is_empty());
    assert_eq!(
        ws.steps[1].depends_on,
        ["1-identity-provider-client"],
        "group order"
    );
    assert_eq!(
        ws.steps[2].depends_on,
        ["1-identity-provider-client"],
        "explicit reference"
    );
    assert_eq!(
        ws.steps[1].specs,
        ["spec://auth#SSO login", "spec://auth#Login"],
        "group 2 names both"
    );
    assert_eq!(
        ws.steps[0].specs,
        ["spec://auth#SSO login", "spec://auth#Login"],
        "no mention: all"
    );
    assert_eq!(
        ws.steps[0].acceptance_tests,
        ["cargo test -p auth"],
        "block before the first group"
    );
    assert_eq!(
        ws.steps[2].acceptance_tests,
        ["mdbook build docs"],
        "the group's own block"
    );
    assert_eq!(ws.steps[0].tool.as_deref(), Some("aider"));
    let json = serde_json::to_value(&ws).expect("json");
    assert_eq!(
        json["steps"][0]["openspec_tasks"],
        serde_json::json!(["1.1", "1.2"])
    );
    // Every spec:// reference the bridge emits resolves.
    for step in &ws.steps {
        for reference in &step.specs {
            let resolved = resolve(&layout, reference).expect("bridge references resolve");
            assert!(resolved.text.starts_with("### Requirement: "));
        }
    }
    let with_capability = BridgeOptions {
        capability: Some("code_generation".into()),
        ..BridgeOptions::default()
    };
    let ws = change_to_workstream(&layout, "add-sso", &with_capability).expect("bridge");
    assert_eq!(ws.steps[0].capability.as_deref(), Some("code_generation"));
    assert_eq!(ws.steps[0].tool, None);
}

#[test]
fn completing_a_step_ticks_exactly_its_tasks() {
    let (_dir, root) = bridge_project();
    let layout = Layout::new(&root);
    let ws = change_to_workstream(&layout, "add-sso", &BridgeOptions::default()).expect("bridge");
    let tasks_path = layout.change_dir("add-sso").join("tasks.md");
    let before = std::fs::read_to_string(&tasks_path).expect("tasks");
    let after = tick_tasks(&before, &ws.steps[1].openspec_tasks);
    assert_eq!(
        after,
        before
            .replace("- [ ] 2.1", "- [x] 2.1")
            .replace("- [ ] 2.2", "- [x] 2.2")
    );
}

#[test]
fn a_ccpm_epic_becomes_a_workstream() {
    let (_dir, root) = bridge_project();
    let ws = ccpm_epic_to_workstream(&root, "billing", &BridgeOptions::default()).expect("bridge");
    assert_eq!(ws.id, "ws-billing");
    assert_eq!(ws.description, "Billing v2");
    let ids: Vec<&str> = ws.steps.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["1-invoice-model", "2-invoice-api", "3-migrations"]);
    assert_eq!(ws.steps[1].depends_on, ["1-invoice-model"]);
    assert_eq!(ws.steps[1].parallel_ok, Some(false));
    assert_eq!(ws.steps[1].acceptance_tests, ["cargo test -p billing api"]);
    assert_eq!(
        ws.steps[0].conflict_group.as_deref(),
        Some("ccpm-billing-1")
    );
    assert_eq!(ws.steps[2].conflict_group, ws.steps[0].conflict_group);
    assert_eq!(ws.steps[1].conflict_group, None);
    assert_eq!(ws.steps[0].tasks, ["Create the invoice tables."]);
    let err = ccpm_epic_to_workstream(&root, "nope", &BridgeOptions::default())
        .expect_err("unknown epic");
    assert!(err.to_string().contains(".claude/epics/nope"));
}

#[test]
fn references_resolve_or_name_the_closest_match() {
    let (_dir, root) = bridge_project();
    let layout = Layout::new(&root);
    let login = resolve(&layout, "spec://auth#Login").expect("main spec requirement");
    assert_eq!(login.source, "openspec/specs/auth/spec.md");
    assert!(login.text.contains("#### Scenario: valid password"));
    let task = resolve(&layout, "change://add-sso/tasks#1.2").expect("task");
    assert_eq!(task.text, "- [x] 1.2 Configure the provider");
    let change = resolve(&layout, "change://add-sso").expect("change");
    assert!(
        change.text.contains("## Why") && change.text.contains("- [ ] 2.1 Implement SSO login")
    );
    match resolve(&layout, "spec://auth#Logn") {
        Err(ReferenceError::UnknownRequirement { closest, .. }) => {
            assert_eq!(closest.as_deref(), Some("Login"))
        }
        other => panic!("expected an unknown requirement, got {other:?}"),
    }
    match resolve(&layout, "spec://auht#Login") {
        Err(ReferenceError::UnknownCapability { closest, .. }) => {
            assert_eq!(closest.as_deref(), Some("auth"))
        }
        other => panic!("expected an unknown capability, got {other:?}"),
    }
    match resolve(&layout, "change://add-sso/tasks#9.9") {
        Err(err @ ReferenceError::UnknownTask { .. }) => {
            assert!(err.to_string().contains("has no task 9.9"))
        }
        other => panic!("expected an unknown task, got {other:?}"),
    }
}

#[test]
fn dependency_cycles_and_conflicting_changes_are_reported() {
    let (_dir, root) = bridge_project();
    let layout = Layout::new(&root);
    let report = dependency_report(&layout).expect("deps");
    assert_eq!(report.cycle_lines(), ["add-audit -> add-sso -> add-audit"]);
    assert!(report.order.is_empty());
    let conflicts = find_conflicts(&layout).expect("conflicts");
    assert_eq!(conflicts.len(), 1);
    assert_eq!(conflicts[0].requirement, "Login");
    assert_eq!(
        conflicts[0].changes,
        ["add-audit (MODIFIED)", "add-sso (MODIFIED)"]
    );
}

#[test]
fn the_index_lives_in_spec_tables_of_the_state_database() {
    let (_dir, root) = bridge_project();
    let layout = Layout::new(&root);
    let db = root.join(".pipeline/state.db");
    // A table the core crate owns must survive untouched.
    {
        std::fs::create_dir_all(root.join(".pipeline")).expect("state dir");
        let conn = rusqlite::Connection::open(&db).expect("open");
        conn.execute_batch(
            "CREATE TABLE runs (id TEXT); INSERT INTO runs VALUES ('r1'); PRAGMA user_version = 7;",
        )
        .expect("core table");
    }
    let mut index = SpecIndex::open(&db).expect("open index");
    let stats = index.refresh(&layout).expect("refresh");
    assert_eq!(stats.requirements, 1);
    assert_eq!(stats.touches, 3);
    let hits = index.find("identity provider").expect("find");
    assert_eq!(hits[0].reference, "spec://auth#SSO login");
    assert_eq!(hits[0].source, "change:add-sso");
    assert_eq!(index.conflicts().expect("conflicts").len(), 1);
    drop(index);
    let conn = rusqlite::Connection::open(&db).expect("open");
    let runs: String = conn
        .query_row("SELECT id FROM runs", [], |r| r.get(0))
        .expect("runs row");
    assert_eq!(runs, "r1");
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .expect("user_version");
    assert_eq!(version, 7);
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .expect("journal mode");
    assert_eq!(mode, "wal");
}

#[test]
fn a_rename_line_the_cli_would_drop_is_an_error() {
    let (_dir, root) = bridge_project();
    let layout = Layout::new(&root);
    let delta = layout.change_dir("add-audit").join("specs/auth/spec.md");
    let mut text = std::fs::read_to_string(&delta).expect("delta");
    text.push_str("\n## RENAMED Requirements\n- FROM: Login\n- TO: Sign in\n");
    std::fs::write(&delta, text).expect("write");
    let run = validate_item(&layout, "add-audit", None, false).expect("validate");
    let item = &run.items[0];
    assert!(!item.valid);
    let lines: Vec<Option<usize>> = item
        .issues
        .iter()
        .filter(|i| i.message.starts_with("RENAMED line"))
        .map(|i| i.line)
        .collect();
    assert_eq!(lines, [Some(10), Some(11)]);
}
