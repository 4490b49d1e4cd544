//! The exit-code table (`pipeline_core::exit_code`): it is what the README documents,
//! and every command, `spec` included, exits with its codes: usage errors, invalid
//! input, failed checks and internal errors.

use pipeline_core::exit_code;

use crate::support::Test;

/// The `(code, meaning)` pairs of README's "Exit codes: 0 ..., 1 ..., ..." sentence.
fn readme_exit_codes() -> Vec<(i32, String)> {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md is readable");
    let start = readme
        .find("Exit codes: ")
        .expect("README has an \"Exit codes:\" sentence");
    let paragraph = &readme[start + "Exit codes: ".len()..];
    let paragraph = &paragraph[..paragraph.find("\n\n").unwrap_or(paragraph.len())];
    let paragraph = paragraph.split_whitespace().collect::<Vec<_>>().join(" ");
    // The sentence ends at the first full stop; the paragraph may go on.
    let sentence = paragraph
        .split_once(". ")
        .map_or(paragraph.as_str(), |(first, _)| first);
    let sentence = sentence.strip_suffix('.').unwrap_or(sentence);
    let mut pairs = Vec::new();
    let mut rest = sentence;
    // Entries are separated by ", <digits> "; a comma inside a meaning is not followed by
    // a code.
    while !rest.is_empty() {
        let (code, after) = rest
            .split_once(' ')
            .unwrap_or_else(|| panic!("no meaning after {rest:?}"));
        let code: i32 = code
            .parse()
            .unwrap_or_else(|_| panic!("{code:?} is not an exit code in {sentence:?}"));
        let next = after.match_indices(", ").map(|(i, _)| i).find(|&i| {
            after[i + 2..]
                .split(' ')
                .next()
                .is_some_and(|w| w.parse::<i32>().is_ok())
        });
        let (meaning, remainder) = match next {
            Some(i) => (&after[..i], &after[i + 2..]),
            None => (after, ""),
        };
        pairs.push((code, meaning.to_string()));
        rest = remainder;
    }
    pairs
}

#[test]
fn exit_code_table_is_the_one_the_readme_documents() {
    let documented = readme_exit_codes();
    let codes: Vec<i32> = documented.iter().map(|(code, _)| *code).collect();
    let table: Vec<i32> = exit_code::ALL.iter().map(|(_, code)| *code).collect();
    assert_eq!(codes, table, "README: {documented:?}");
    // Each constant means what the README says its number means.
    for (code, needle) in [
        (exit_code::OK, "completed"),
        (exit_code::FAILED, "failed"),
        (exit_code::INVALID, "invalid input or usage"),
        (exit_code::INTERNAL, "internal"),
        (exit_code::HANGUP, "SIGHUP"),
        (exit_code::INTERRUPTED, "interrupted"),
        (exit_code::TERMINATED, "SIGTERM"),
    ] {
        let meaning = documented
            .iter()
            .find(|(c, _)| *c == code)
            .map(|(_, m)| m.as_str())
            .unwrap_or_default();
        assert!(
            meaning.contains(needle),
            "README gives {code} the meaning {meaning:?}, expected it to mention {needle:?}"
        );
    }
}

/// Subcommand names listed under "Commands:" in `pipeline <prefix> --help`.
fn subcommands(t: &Test, prefix: &[&str]) -> Vec<String> {
    let mut args = prefix.to_vec();
    args.push("--help");
    let help = t.pipeline(&args).assert_code(exit_code::OK).stdout();
    let commands = help
        .split_once("Commands:\n")
        .unwrap_or_else(|| panic!("no Commands: in {help}"))
        .1;
    commands
        .lines()
        .take_while(|line| line.starts_with("  "))
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_string)
        .collect()
}

#[test]
fn a_usage_error_of_every_command_exits_2() {
    let t = Test::new();
    let top = subcommands(&t, &[]);
    assert!(
        top.len() >= 14 && top.iter().any(|c| c == "spec"),
        "{top:?}"
    );
    let spec = subcommands(&t, &["spec"]);
    assert!(spec.len() >= 10, "{spec:?}");
    let mut invocations: Vec<Vec<String>> = top.iter().map(|c| vec![c.clone()]).collect();
    invocations.extend(spec.iter().map(|c| vec!["spec".to_string(), c.clone()]));
    for mut args in invocations {
        args.push("--no-such-option".to_string());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let r = t.pipeline(&args);
        assert_eq!(
            r.code(),
            exit_code::INVALID,
            "{args:?}: {}{}",
            r.stdout(),
            r.stderr()
        );
        assert!(
            r.stderr()
                .contains("unexpected argument '--no-such-option'"),
            "{args:?}: {}",
            r.stderr()
        );
    }
    // No subcommand, an unknown one, and a missing required argument.
    for args in [&[][..], &["frobnicate"], &["spec", "show"], &["logs", "r1"]] {
        t.pipeline(args).assert_code(exit_code::INVALID);
    }
    // Help and version are no errors.
    t.pipeline(&["--version"]).assert_code(exit_code::OK);
    t.pipeline(&["spec", "validate", "--help"])
        .assert_code(exit_code::OK);
}

#[test]
fn engine_commands_exit_with_the_documented_codes() {
    let t = Test::new();
    let ok = t.workstream("ok.json", r#"{"id": "a", "command": "true"}"#);
    t.run(&ok, "r1", 1).assert_code(exit_code::OK);
    t.pipeline(&["status", "no-such-run"])
        .assert_code(exit_code::INVALID)
        .assert_stderr_contains("no run `no-such-run`");
    let bad = t.workstream(
        "bad.json",
        r#"[{"id": "a", "command": "true", "depends_on": ["a"]}]"#,
    );
    // With --json the error is a document on stdout, not a message on stderr.
    let r = t
        .pipeline(&["validate", bad.to_str().unwrap(), "--json"])
        .assert_code(exit_code::INVALID);
    let doc: serde_json::Value = serde_json::from_str(&r.stdout()).expect("JSON on stdout");
    assert_eq!(doc["valid"], false, "{doc:#}");
    assert_eq!(r.stderr(), "");
    // Siblings are loaded with the file they were given: keep only the valid one.
    std::fs::remove_file(&bad).unwrap();
    // Outside any repository: commands that record runs refuse, file checks still work.
    let outside = t.cmd().current_dir(&t.ws_dir).arg("runs").output().unwrap();
    assert_eq!(outside.status.code(), Some(exit_code::INVALID));
    let checked = t
        .cmd()
        .current_dir(&t.ws_dir)
        .args(["validate", ok.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(
        checked.status.code(),
        Some(exit_code::OK),
        "{}",
        String::from_utf8_lossy(&checked.stderr)
    );
}

/// A small OpenSpec project: one spec, one valid change, one change without deltas
/// (invalid), one change whose delta has a requirement without a scenario (invalid).
fn openspec_project(t: &Test) {
    t.commit_file(
        "openspec/specs/notes/spec.md",
        "# Notes Specification\n\n## Purpose\nKeep short notes for the team in one place.\n\n## Requirements\n### Requirement: Add note\nThe system SHALL store a note with its author.\n\n#### Scenario: Adding a note\n- **WHEN** a note is added\n- **THEN** it is stored with its author\n",
    );
    t.commit_file(
        "openspec/changes/add-export/proposal.md",
        "## Why\nUsers want to take their notes elsewhere.\n\n## What Changes\n- Add a plain-text export of notes.\n",
    );
    t.commit_file(
        "openspec/changes/add-export/specs/notes/spec.md",
        "## ADDED Requirements\n### Requirement: Export notes\nThe system SHALL export all notes as plain text.\n\n#### Scenario: Export requested\n- **WHEN** an export is requested\n- **THEN** a text file with every note is written\n",
    );
    t.commit_file(
        "openspec/changes/no-deltas/proposal.md",
        "## Why\nA change that says nothing about specs.\n\n## What Changes\n- Nothing specific.\n",
    );
    t.commit_file(
        "openspec/changes/bad-delta/proposal.md",
        "## Why\nNotes need tags for the team.\n\n## What Changes\n- Add tags to notes.\n",
    );
    t.commit_file(
        "openspec/changes/bad-delta/specs/notes/spec.md",
        "## ADDED Requirements\n### Requirement: Tag notes\nThe system SHALL tag notes.\n",
    );
}

#[test]
fn spec_commands_exit_with_the_documented_codes() {
    let t = Test::new();
    openspec_project(&t);
    t.pipeline(&["spec", "validate", "add-export"])
        .assert_code(exit_code::OK);
    // Validation found errors: the check ran and failed.
    t.pipeline(&["spec", "validate", "no-deltas"])
        .assert_code(exit_code::FAILED)
        .assert_stderr_contains("no-deltas");
    let r = t
        .pipeline(&["spec", "validate", "--changes", "--json"])
        .assert_code(exit_code::FAILED);
    let report: serde_json::Value = serde_json::from_str(&r.stdout()).expect("JSON report");
    assert_eq!(report["summary"]["totals"]["failed"], 2, "{report:#}");
    // Invalid input or usage.
    t.pipeline(&["spec", "validate"])
        .assert_code(exit_code::INVALID)
        .assert_stderr_contains("Nothing to validate");
    t.pipeline(&["spec", "validate", "add-export", "--all"])
        .assert_code(exit_code::INVALID);
    let r = t
        .pipeline(&["spec", "validate", "nope", "--json"])
        .assert_code(exit_code::INVALID);
    let status: serde_json::Value = serde_json::from_str(&r.stdout()).expect("JSON status");
    assert_eq!(status["status"][0]["code"], "unknown_item", "{status:#}");
    t.pipeline(&["spec", "show", "nope"])
        .assert_code(exit_code::INVALID);
    t.pipeline(&["spec", "resolve", "spec://nope#Add note"])
        .assert_code(exit_code::INVALID)
        .assert_stderr_contains("closest: \"notes\"");
    t.pipeline(&["spec", "resolve", "not-a-reference"])
        .assert_code(exit_code::INVALID);
    t.pipeline(&["spec", "new", "Not_Kebab"])
        .assert_code(exit_code::INVALID);
    t.pipeline(&["spec", "to-workstream", "nope"])
        .assert_code(exit_code::INVALID);
    t.pipeline(&["spec", "archive", "nope", "--yes"])
        .assert_code(exit_code::INVALID)
        .assert_stderr_contains("No files were changed.");
    t.pipeline(&["spec", "list", "--root", t.ws_dir.to_str().unwrap()])
        .assert_code(exit_code::INVALID)
        .assert_stderr_contains("has no openspec/ directory");
    let outside = t
        .cmd()
        .current_dir(&t.ws_dir)
        .args(["spec", "list"])
        .output()
        .unwrap();
    assert_eq!(outside.status.code(), Some(exit_code::INVALID));
    // An archive refused for the change's content is a failed check.
    let r = t
        .pipeline(&["spec", "archive", "bad-delta", "--yes", "--json"])
        .assert_code(exit_code::FAILED);
    let refused: serde_json::Value = serde_json::from_str(&r.stdout()).expect("JSON status");
    assert_eq!(refused["archive"], serde_json::Value::Null, "{refused:#}");
    assert_eq!(
        refused["status"][0]["code"], "archive_validation_failed",
        "{refused:#}"
    );
    assert!(t.repo.join("openspec/changes/bad-delta").exists());
    t.pipeline(&["spec", "archive", "bad-delta", "--yes"])
        .assert_code(exit_code::FAILED)
        .assert_stderr_contains("No files were changed.");
    // A dependency on a change that exists nowhere fails `deps`.
    t.commit_file(
        "openspec/changes/add-export/.openspec.yaml",
        "schema: spec-driven\ndepends_on: [missing-change]\n",
    );
    t.pipeline(&["spec", "deps"])
        .assert_code(exit_code::FAILED)
        .assert_stderr_contains("missing-change");
    // An OpenSpec tree that cannot be read is an internal error.
    std::fs::remove_dir_all(t.repo.join("openspec/changes")).unwrap();
    std::fs::write(t.repo.join("openspec/changes"), "not a directory").unwrap();
    t.pipeline(&["spec", "list"])
        .assert_code(exit_code::INTERNAL)
        .assert_stderr_contains("cannot list changes");
}
