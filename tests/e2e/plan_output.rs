//! `pipeline plan`: text (snapshot), JSON contract, DOT; the conformance corpus plans.

use serde_json::Value;

use crate::support::Test;

const DIAMOND: &str = r#"[
  {"id": "setup", "command": "true"},
  {"id": "api", "depends_on": ["setup"], "tool": "aider", "tasks": ["Add the API"], "files_scope": ["src/api/"]},
  {"id": "web", "depends_on": ["setup"], "command": "true", "files_scope": ["src/"]},
  {"id": "docs", "depends_on": ["setup"], "command": "true", "conflict_group": "docs"},
  {"id": "release", "depends_on": ["api", "web", "docs"], "steps": [
     {"id": "build", "command": "true"},
     {"id": "notes", "depends_on": ["build"], "command": "true", "conflict_group": "docs"}],
   "acceptance_tests": ["true"]}
]"#;

#[test]
fn text_plan() {
    let t = Test::new();
    let f = t.workstream("diamond.json", DIAMOND);
    let r = t.pipeline(&["plan", f.to_str().unwrap()]).assert_ok();
    insta::assert_snapshot!("plan_text", r.stdout());
}

#[test]
fn json_plan_follows_the_interface_contract() {
    let t = Test::new();
    let f = t.workstream("diamond.json", DIAMOND);
    let r = t
        .pipeline(&["plan", f.to_str().unwrap(), "--format", "json"])
        .assert_ok();
    let v: Value = serde_json::from_str(&r.stdout()).unwrap();
    let api = v["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == "api")
        .unwrap();
    assert_eq!(api["depends_on"], serde_json::json!(["setup"]));
    assert_eq!(
        v["waves"],
        serde_json::json!([
            ["setup"],
            ["api", "web", "docs"],
            ["release/build"],
            ["release/notes"],
            ["release/_acceptance"]
        ])
    );
    assert_eq!(
        v["critical_path"],
        serde_json::json!([
            "setup",
            "api",
            "release/build",
            "release/notes",
            "release/_acceptance"
        ])
    );
    let excl = v["exclusions"].as_array().unwrap();
    assert!(
        excl.iter().any(|e| e["a"] == "api"
            && e["b"] == "web"
            && e["reason"] == "overlapping files_scope"),
        "{excl:?}"
    );
}

#[test]
fn dot_plan() {
    let t = Test::new();
    let f = t.workstream("diamond.json", DIAMOND);
    let r = t
        .pipeline(&["plan", f.to_str().unwrap(), "--format", "dot"])
        .assert_ok();
    let out = r.stdout();
    assert!(out.starts_with("digraph plan {"));
    assert!(
        out.contains(r#""setup" -> "api" [color=red, penwidth=2];"#),
        "{out}"
    );
    assert!(out.contains(r#""setup" -> "web";"#), "{out}");
}

/// Optional: needs the external conformance corpus (`PIPELINE_CONFORMANCE_DIR`, see
/// `conformance.rs`); without it the test prints "skipped: ..." and passes.
#[test]
fn the_conformance_directory_plans_all_36_workstreams() {
    let Some(dir) = crate::conformance::corpus() else {
        return;
    };
    let t = Test::new();
    let r = t
        .pipeline(&["plan", dir.to_str().unwrap(), "--format", "json"])
        .assert_ok();
    let v: Value = serde_json::from_str(&r.stdout()).unwrap();
    assert_eq!(v["workstreams"].as_array().unwrap().len(), 36);
    assert_eq!(v["steps"].as_array().unwrap().len(), 36);
    // ws-18 waits for the 17 workstreams it names.
    let ws18 = v["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == "ws-18-update-infrastructure-scripts")
        .unwrap();
    assert_eq!(ws18["depends_on"].as_array().unwrap().len(), 17);
    let text = t
        .pipeline(&["plan", dir.to_str().unwrap()])
        .assert_ok()
        .stdout();
    assert!(text.starts_with("Plan: 36 steps in"), "{text}");
}
