//! The classification corpus: every real output listed in `fixtures/corpus/cases.tsv`
//! (captured by `fixtures/capture-corpus.sh` and `scripts/capture-error-fixtures.sh`) goes
//! through the plugin manager the runner uses (built-ins plus the shipped plugins), and
//! every case whose class or deciding plugin differs from the table is reported, all at
//! once.

use pipeline_error::{AttemptFailure, PluginManager, shipped_plugins_dir};
use std::collections::BTreeSet;

use crate::support::{fixture, fixtures_dir};

/// One row of `cases.tsv`.
struct Case {
    fixture: String,
    class: String,
    plugin: String,
    command: String,
    why: String,
}

fn cases() -> Vec<Case> {
    let path = fixtures_dir().join("corpus/cases.tsv");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.starts_with('#') && !line.trim().is_empty())
        .map(|(index, line)| {
            let fields: Vec<&str> = line.split('\t').collect();
            assert_eq!(
                fields.len(),
                5,
                "cases.tsv line {}: expected 5 tab-separated fields, got {}: {line}",
                index + 1,
                fields.len()
            );
            Case {
                fixture: fields[0].to_string(),
                class: fields[1].to_string(),
                plugin: fields[2].to_string(),
                command: fields[3].to_string(),
                why: fields[4].to_string(),
            }
        })
        .collect()
}

/// The failure of a shell step running `case.command` that printed the fixture.
fn failure(case: &Case) -> AttemptFailure {
    fixture(&case.fixture, "shell", &case.command)
}

#[test]
fn every_corpus_output_gets_its_expected_class() {
    let manager = PluginManager::load(&[shipped_plugins_dir()]).expect("shipped plugins load");
    let cases = cases();
    let mut mismatches = Vec::new();
    for case in &cases {
        let report = manager.classify(&failure(case));
        let class_ok = report.class.name() == case.class;
        let plugin_ok = case.plugin == "-" || report.plugin == case.plugin;
        if !class_ok || !plugin_ok {
            mismatches.push(format!(
                "{}: expected {} by {}, got {} by {} ({})\n    summary: {}",
                case.fixture,
                case.class,
                case.plugin,
                report.class.name(),
                report.plugin,
                case.why,
                report.summary
            ));
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} of {} corpus cases misclassified:\n{}",
        mismatches.len(),
        cases.len(),
        mismatches.join("\n")
    );
}

#[test]
fn the_corpus_holds_at_least_60_captures_and_lists_every_one() {
    let cases = cases();
    let listed: BTreeSet<&str> = cases.iter().map(|case| case.fixture.as_str()).collect();
    assert_eq!(listed.len(), cases.len(), "a fixture is listed twice");
    let dir = fixtures_dir().join("corpus");
    let captured: BTreeSet<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|error| panic!("{}: {error}", dir.display()))
        .filter_map(|entry| entry.ok())
        .filter_map(|entry| {
            entry
                .file_name()
                .to_str()
                .and_then(|name| name.strip_suffix(".txt"))
                .map(|name| format!("corpus/{name}"))
        })
        .collect();
    let unlisted: Vec<&String> = captured
        .iter()
        .filter(|name| !listed.contains(name.as_str()))
        .collect();
    assert!(
        unlisted.is_empty(),
        "captured but not in cases.tsv: {unlisted:?}"
    );
    assert!(
        cases.len() >= 60,
        "the corpus has {} cases, fewer than 60",
        cases.len()
    );
    let near_misses = cases
        .iter()
        .filter(|case| case.why.contains("near-miss"))
        .count();
    assert!(near_misses >= 8, "only {near_misses} near-misses");
    let classes: BTreeSet<&str> = cases.iter().map(|case| case.class.as_str()).collect();
    for class in [
        "transient",
        "rate_limited",
        "timeout",
        "permanent",
        "conflict",
        "infrastructure",
    ] {
        assert!(classes.contains(class), "no corpus case of class {class}");
    }
}

#[test]
fn missing_modules_files_and_commands_have_their_own_signatures() {
    let manager = PluginManager::load(&[shipped_plugins_dir()]).expect("shipped plugins load");
    let classify = |path: &str, command: &str| manager.classify(&fixture(path, "shell", command));
    let python = classify("corpus/py-module-not-found", "python -c 'import requests'");
    let unittest = classify("unittest/import-error", "sh -c 'python app.py'");
    let dns = classify("corpus/py-dns", "python fetch.py");
    let file = classify("corpus/py-open-missing", "python app.py");
    let command = classify("corpus/bash-command-not-found", "bash -c deploy");
    assert_eq!(python.normalized, "module-not-found requests");
    assert!(
        python
            .summary
            .starts_with("module or package `requests` not found"),
        "{}",
        python.summary
    );
    assert_eq!(file.normalized, "file-not-found <PATH>");
    assert_eq!(
        command.normalized,
        "command-not-found pipeline-no-such-tool"
    );
    let signatures: BTreeSet<&str> = [&python, &dns, &file, &command]
        .iter()
        .map(|report| report.signature.as_str())
        .collect();
    assert_eq!(signatures.len(), 4, "signatures must differ");
    // The same missing module through unittest is still permanent, with a located diagnostic.
    assert_eq!(unittest.class.name(), "permanent");
    let first = &unittest.diagnostics[0];
    assert_eq!(first.code.as_deref(), Some("ModuleNotFoundError"));
    assert!(
        first
            .file
            .as_deref()
            .is_some_and(|f| f.ends_with("test_client.py"))
    );
}
