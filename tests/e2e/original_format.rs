//! The project's own fixtures in the original workstream format (the format of the tool
//! pipeline replaces), in tests/fixtures/original-format/: a single workstream object
//! (`ws-single-greeter.json`, an AI-tool workstream), an array of workstreams
//! (`ws-array-release.json`), a workstream with `steps` (`ws-ledger-steps.json`) and one
//! with `phases` (`ws-phases-migration.json`); `_comment*` keys everywhere; `depends_on`
//! across files (`ws-release-changelog` and `ws-single-greeter` wait for
//! `ws-ledger-steps`); and the original format's fields pipeline keeps but does not
//! interpret. They are written for this project, modelled on the original tool's files
//! (the external conformance corpus, tested only when present: see `conformance.rs`).
//!
//! Everything but `ws-single-greeter` runs with `sh` commands, so `pipeline run` of the
//! array and phases files (which pull in `ws-ledger-steps` from their sibling) completes
//! without an AI tool.

use std::path::PathBuf;

use serde_json::{Value, json};

use crate::support::Test;

/// tests/fixtures/original-format/ of this repository.
fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/original-format")
}

fn fixture(name: &str) -> String {
    fixtures().join(name).to_string_lossy().into_owned()
}

/// The notes the original format's uninterpreted fields must produce: file, JSON pointer,
/// the workstream, step or phase named, and the field.
const UNINTERPRETED: &[(&str, &str, &str, &str)] = &[
    (
        "ws-array-release.json",
        "/0/saga",
        "ws-release-version",
        "saga",
    ),
    (
        "ws-array-release.json",
        "/0/rollback_order",
        "ws-release-version",
        "rollback_order",
    ),
    (
        "ws-array-release.json",
        "/0/rollback_strategy",
        "ws-release-version",
        "rollback_strategy",
    ),
    (
        "ws-ledger-steps.json",
        "/execution",
        "ws-ledger-steps",
        "execution",
    ),
    (
        "ws-ledger-steps.json",
        "/error_handling",
        "ws-ledger-steps",
        "error_handling",
    ),
    (
        "ws-phases-migration.json",
        "/state_transitions",
        "ws-phases-migration",
        "state_transitions",
    ),
    (
        "ws-phases-migration.json",
        "/resume",
        "ws-phases-migration",
        "resume",
    ),
    (
        "ws-phases-migration.json",
        "/phases/0/checkpoint",
        "ws-phases-migration/phase-01-schema",
        "checkpoint",
    ),
    (
        "ws-phases-migration.json",
        "/phases/1/checkpoint",
        "ws-phases-migration/phase-02-seed",
        "checkpoint",
    ),
    (
        "ws-phases-migration.json",
        "/phases/1/resume_strategy",
        "ws-phases-migration/phase-02-seed",
        "resume_strategy",
    ),
];

#[test]
fn validate_accepts_the_fixtures_with_a_note_per_uninterpreted_field() {
    let t = Test::new();
    let dir = fixtures();
    let r = t.pipeline(&["validate", dir.to_str().unwrap()]).assert_ok();
    let out = r.stdout();
    assert!(
        out.contains("valid: 6 workstreams, 10 steps in 4 files"),
        "{out}"
    );
    for (file, pointer, id, field) in UNINTERPRETED {
        let note = format!(
            "{} at {pointer} (step {id}): field `{field}` is not interpreted; kept as data",
            dir.join(file).display()
        );
        assert!(out.contains(&note), "missing note {note:?}:\n{out}");
    }
    // Keys inside the error blocks the error engine does not use, and a compensation
    // that names a method instead of a command, are named too.
    for note in [
        "(step ws-single-greeter): `circuit_breaker.error_patterns` is not interpreted",
        "(step ws-single-greeter): `circuit_breaker.escalation_strategy` is not interpreted",
        "at /steps/0/compensation (step ws-ledger-steps/step-01-accounts): compensation without `command`",
    ] {
        assert!(out.contains(note), "missing note {note:?}:\n{out}");
    }
    // `_comment*` keys are comments: never reported, at any depth.
    assert!(!out.contains("_comment"), "{out}");
    // The error engine reads `retry` and the breaker's attempts and cooldown.
    assert!(
        !out.contains("field `retry`")
            && !out.contains("`circuit_breaker.cooldown_seconds`")
            && !out.contains("`circuit_breaker.max_attempts`"),
        "{out}"
    );
}

#[test]
fn a_fixture_file_validates_alone_and_pulls_in_the_sibling_it_depends_on() {
    let t = Test::new();
    // The array file's ws-release-changelog depends on ws-ledger-steps of a sibling file.
    let out = t
        .pipeline(&["validate", &fixture("ws-array-release.json")])
        .assert_ok()
        .stdout();
    assert!(
        out.contains("valid: 4 workstreams, 7 steps in 2 files"),
        "{out}"
    );
    // The single object depends on the same sibling.
    let out = t
        .pipeline(&["validate", &fixture("ws-single-greeter.json")])
        .assert_ok()
        .stdout();
    assert!(
        out.contains("valid: 2 workstreams, 5 steps in 2 files"),
        "{out}"
    );
    // A file with no dependency stands alone.
    let out = t
        .pipeline(&["validate", &fixture("ws-phases-migration.json")])
        .assert_ok()
        .stdout();
    assert!(
        out.contains("valid: 1 workstream, 2 steps in 1 file"),
        "{out}"
    );
}

#[test]
fn plan_json_shows_steps_dependencies_across_files_and_waves() {
    let t = Test::new();
    let dir = fixtures();
    let r = t
        .pipeline(&["plan", dir.to_str().unwrap(), "--format", "json"])
        .assert_ok();
    let v: Value = serde_json::from_str(&r.stdout()).unwrap();
    let deps: Vec<(String, Value)> = v["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["id"].as_str().unwrap().to_string(),
                s["depends_on"].clone(),
            )
        })
        .collect();
    let expected = [
        // The array file, in file order.
        ("ws-release-version", json!([])),
        (
            "ws-release-changelog",
            json!(["ws-ledger-steps/_acceptance", "ws-release-version"]),
        ),
        ("ws-release-manifest", json!(["ws-release-version"])),
        // `steps`: two in parallel, one joining them, then the workstream's acceptance
        // tests; a dependent of the workstream waits for those.
        ("ws-ledger-steps/step-01-accounts", json!([])),
        ("ws-ledger-steps/step-02-entries", json!([])),
        (
            "ws-ledger-steps/step-03-balance",
            json!([
                "ws-ledger-steps/step-01-accounts",
                "ws-ledger-steps/step-02-entries"
            ]),
        ),
        (
            "ws-ledger-steps/_acceptance",
            json!(["ws-ledger-steps/step-03-balance"]),
        ),
        // `phases`: phase-02-seed's `depends_on` orders its step after phase-01's.
        ("ws-phases-migration/step-01-tables", json!([])),
        (
            "ws-phases-migration/step-02-rows",
            json!(["ws-phases-migration/step-01-tables"]),
        ),
        // The single object, depending on the sibling file's workstream.
        ("ws-single-greeter", json!(["ws-ledger-steps/_acceptance"])),
    ];
    let expected: Vec<(String, Value)> = expected
        .into_iter()
        .map(|(id, d)| (id.to_string(), d))
        .collect();
    assert_eq!(deps, expected);
    assert_eq!(
        v["waves"],
        json!([
            [
                "ws-release-version",
                "ws-ledger-steps/step-01-accounts",
                "ws-ledger-steps/step-02-entries",
                "ws-phases-migration/step-01-tables"
            ],
            [
                "ws-release-manifest",
                "ws-ledger-steps/step-03-balance",
                "ws-phases-migration/step-02-rows"
            ],
            ["ws-ledger-steps/_acceptance"],
            ["ws-release-changelog", "ws-single-greeter"]
        ])
    );
    // The steps' declared scopes are disjoint: nothing excludes anything.
    assert_eq!(v["exclusions"], json!([]), "{v:#}");
    // Each workstream is listed with the file that defines it and its steps.
    let workstreams: Vec<(&str, String, Value)> = v["workstreams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| {
            let file = PathBuf::from(w["file"].as_str().unwrap());
            let name = file.file_name().unwrap().to_string_lossy().into_owned();
            (w["id"].as_str().unwrap(), name, w["steps"].clone())
        })
        .collect();
    assert_eq!(workstreams.len(), 6, "{workstreams:?}");
    for (id, file, steps) in [
        (
            "ws-release-changelog",
            "ws-array-release.json",
            json!(["ws-release-changelog"]),
        ),
        (
            "ws-phases-migration",
            "ws-phases-migration.json",
            json!([
                "ws-phases-migration/step-01-tables",
                "ws-phases-migration/step-02-rows"
            ]),
        ),
        (
            "ws-single-greeter",
            "ws-single-greeter.json",
            json!(["ws-single-greeter"]),
        ),
    ] {
        assert!(
            workstreams.contains(&(id, file.to_string(), steps)),
            "{id}: {workstreams:?}"
        );
    }
}

#[test]
fn run_of_the_runnable_fixtures_completes_with_their_results_merged() {
    let t = Test::new();
    let r = t.pipeline(&[
        "run",
        &fixture("ws-array-release.json"),
        &fixture("ws-phases-migration.json"),
        "--run-id",
        "orig",
        "--jobs",
        "2",
    ]);
    r.assert_ok();
    let status = t.status("orig");
    assert_eq!(status["status"], "completed", "{status:#}");
    let mut ids: Vec<&str> = status["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            assert_eq!(s["status"], "completed", "{s:#}");
            assert_eq!(s["attempts"], 1, "{s:#}");
            s["id"].as_str().unwrap()
        })
        .collect();
    ids.sort_unstable();
    // The sibling ws-ledger-steps is pulled in; ws-single-greeter (not asked for, and
    // nothing asked for needs it) is not.
    assert_eq!(
        ids,
        [
            "ws-ledger-steps/_acceptance",
            "ws-ledger-steps/step-01-accounts",
            "ws-ledger-steps/step-02-entries",
            "ws-ledger-steps/step-03-balance",
            "ws-phases-migration/step-01-tables",
            "ws-phases-migration/step-02-rows",
            "ws-release-changelog",
            "ws-release-manifest",
            "ws-release-version",
        ]
    );
    // The changelog step saw the results of its own workstream's dependency and of the
    // sibling file's workstream, and its acceptance tests ran and passed.
    let branch = "pipeline/orig";
    assert_eq!(
        t.show(branch, "release/CHANGELOG.md").as_deref(),
        Some("# 2.4.0\n\nbalance: 100\n")
    );
    assert_eq!(
        t.show(branch, "release/MANIFEST").as_deref(),
        Some("pipeline-fixture 2.4.0\n")
    );
    assert_eq!(
        t.show(branch, "ledger/balance.txt").as_deref(),
        Some("balance: 100\n")
    );
    assert_eq!(
        t.show(branch, "db/002_seed.sql").as_deref(),
        Some("INSERT INTO account VALUES ('cash');\n")
    );
    let changelog = t.step_status("orig", "ws-release-changelog");
    let tests: Vec<(&str, bool)> = changelog["tests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            (
                x["command"].as_str().unwrap(),
                x["passed"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        tests,
        [
            ("grep -qx '# 2.4.0' release/CHANGELOG.md", true),
            ("grep -qx 'balance: 100' release/CHANGELOG.md", true),
        ]
    );
}
