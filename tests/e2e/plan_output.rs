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
            ["api", "docs"],
            ["web"],
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
            "web",
            "release/build",
            "release/notes",
            "release/_acceptance"
        ])
    );
    // api and web declare overlapping scopes: web starts from api's result (an implicit
    // edge), so they no longer merely exclude each other.
    let excl = v["exclusions"].as_array().unwrap();
    assert!(!excl.iter().any(|e| e["a"] == "api"), "{excl:?}");
    let edges = v["edges"].as_array().unwrap();
    assert!(
        edges.iter().any(|e| e["from"] == "api"
            && e["to"] == "web"
            && e["implicit"] == true
            && e["reason"] == "overlapping files_scope src/api/ and src/"),
        "{edges:?}"
    );
    assert_eq!(api["tool"], "aider");
}

/// A small workstream with an implicit edge: `b`'s scope overlaps `a`'s and nothing
/// orders them.
const OVERLAP: &str = r#"[
  {"id": "setup", "command": "true"},
  {"id": "a", "depends_on": ["setup"], "tool": "aider", "tasks": ["Edit x"], "files_scope": ["src/x.py"]},
  {"id": "b", "depends_on": ["setup"], "command": "echo \"b\" > src/x.py", "files_scope": ["src/"]}
]"#;

/// `pipeline plan OVERLAP` in `format`, with the temporary directory replaced by `[TMP]`.
fn overlap_plan(format: &str) -> String {
    let t = Test::new();
    let f = t.workstream("overlap.json", OVERLAP);
    let out = t
        .pipeline(&["plan", f.to_str().unwrap(), "--format", format])
        .assert_ok()
        .stdout();
    let root = t.repo.parent().unwrap().to_string_lossy().into_owned();
    out.replace(&root, "[TMP]")
}

#[test]
fn implicit_edge_text() {
    insta::assert_snapshot!("implicit_edge_text", overlap_plan("text"));
}

#[test]
fn implicit_edge_json() {
    insta::assert_snapshot!("implicit_edge_json", overlap_plan("json"));
}

#[test]
fn implicit_edge_dot() {
    let dot = overlap_plan("dot");
    // A real DOT line break inside the label, not an escaped backslash.
    assert!(dot.contains(r#"[label="a\ntool aider""#), "{dot}");
    assert!(!dot.contains(r#"\\n"#), "{dot}");
    insta::assert_snapshot!("implicit_edge_dot", dot);
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
    assert!(out.contains(r#""setup" -> "docs";"#), "{out}");
    assert!(
        out.contains(r#""api" -> "web" [style=dashed, label="implicit: overlapping files_scope src/api/ and src/"];"#),
        "{out}"
    );
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
