//! `pipeline run --ci`: GitHub Actions workflow commands from the error engine's
//! diagnostics, a log group per failed step, and the Markdown job summary (docs/CI.md).

use crate::support::Test;

/// A crate whose `src/lib.rs` has a type error on line 3, a step that "fixes" nothing and
/// whose acceptance test is `cargo check` (the real cargo, offline: the crate has no
/// dependencies), and a step that passes.
fn failing_cargo_step(t: &Test) -> std::path::PathBuf {
    t.commit_file(
        "Cargo.toml",
        "[package]\nname = \"typo\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[lib]\npath = \"src/lib.rs\"\n",
    );
    t.commit_file(
        "src/lib.rs",
        "/// Twice `x`.\npub fn double(x: u32) -> u32 {\n    let y: u32 = \"two\";\n    x * y\n}\n",
    );
    // Steps may write outside the repository only under `out` (their sandbox).
    let target = t.out.join("cargo-target");
    t.workstream(
        "ws.json",
        &format!(
            r#"[{{"id": "build", "command": "echo editing nothing",
                 "acceptance_tests": ["CARGO_TARGET_DIR={} cargo check --offline --quiet"]}},
                {{"id": "notes", "command": "echo notes > notes.txt"}}]"#,
            target.display()
        ),
    )
}

#[test]
fn github_actions_gets_annotations_a_log_group_and_a_job_summary() {
    let t = Test::new();
    let f = failing_cargo_step(&t);
    let summary = t.out.join("step-summary.md");
    std::fs::write(&summary, "# earlier step's summary\n").unwrap();
    let out = t
        .cmd()
        .args(["run", f.to_str().unwrap(), "--run-id", "ci1", "--ci"])
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_STEP_SUMMARY", &summary)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let annotation = stdout
        .lines()
        .find(|l| l.starts_with("::error file=src/lib.rs,line=3,"))
        .unwrap_or_else(|| panic!("no annotation on src/lib.rs:3 in:\n{stdout}"));
    assert!(
        annotation.contains("title=build (permanent)::") && annotation.contains("mismatched types"),
        "{annotation}"
    );
    let group = stdout
        .find("::group::build log")
        .unwrap_or_else(|| panic!("no log group in:\n{stdout}"));
    let end = stdout[group..]
        .find("::endgroup::")
        .expect("the group ends");
    assert!(
        stdout[group..group + end].contains("editing nothing"),
        "{stdout}"
    );
    assert!(
        !stdout.contains("::group::notes"),
        "only failed steps get a group"
    );

    let md = std::fs::read_to_string(&summary).unwrap();
    assert!(
        md.starts_with("# earlier step's summary\n"),
        "appended, not replaced: {md}"
    );
    assert!(md.contains("pipeline run `ci1`: failed"), "{md}");
    assert!(md.contains("| `build` | ❌ failed | 1 |"), "{md}");
    assert!(md.contains("| `notes` | ✅ completed | 1 |"), "{md}");
    assert!(md.contains("### Failures"), "{md}");
    assert!(md.contains("`src/lib.rs:3` mismatched types"), "{md}");
    assert!(md.contains("Result branch: `pipeline/ci1`"), "{md}");
}

#[test]
fn summary_file_without_github_and_no_workflow_commands() {
    let t = Test::new();
    let f = t.workstream(
        "ok.json",
        r#"{"id": "one", "command": "echo one > one.txt"}"#,
    );
    let summary = t.out.join("summary.md");
    let out = t
        .cmd()
        .args([
            "run",
            f.to_str().unwrap(),
            "--run-id",
            "ci2",
            "--ci",
            "--summary",
        ])
        .arg(&summary)
        .env_remove("GITHUB_ACTIONS")
        .env("GITHUB_STEP_SUMMARY", t.out.join("unused.md"))
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!stdout.lines().any(|l| l.starts_with("::")), "{stdout}");
    assert!(!t.out.join("unused.md").exists(), "not on GitHub Actions");
    let md = std::fs::read_to_string(&summary).unwrap();
    assert!(md.contains("pipeline run `ci2`: completed"), "{md}");
    assert!(md.contains("| `one` | ✅ completed | 1 |"), "{md}");
    assert!(!md.contains("### Failures"), "{md}");
}

#[test]
fn json_output_stays_ndjson_on_github_actions() {
    let t = Test::new();
    let f = failing_cargo_step(&t);
    let summary = t.out.join("step-summary.md");
    let out = t
        .cmd()
        .args(["run", f.to_str().unwrap(), "--run-id", "ci3", "--json"])
        .env("CI", "true")
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_STEP_SUMMARY", &summary)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        serde_json::from_str::<serde_json::Value>(line)
            .unwrap_or_else(|e| panic!("stdout line is not JSON ({e}): {line}"));
    }
    let md = std::fs::read_to_string(&summary).unwrap();
    assert!(md.contains("`src/lib.rs:3` mismatched types"), "{md}");
}
