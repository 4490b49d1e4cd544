//! Unit tests of `arg_template`.

use std::ffi::OsString;
use std::path::Path;

use super::{ArgTemplate, Placeholder, PlaceholderValues, escape_braces};

fn expand(template: &str, files: &[&str]) -> Vec<String> {
    let files: Vec<String> = files.iter().map(|file| (*file).to_owned()).collect();
    let values = PlaceholderValues {
        prompt: "fix the bug",
        prompt_file: Path::new("/tmp/prompts/s1.md"),
        worktree: Path::new("/repo/.pipeline/worktrees/r1/s1"),
        step_id: "s1",
        files: &files,
        model: Some("gpt-test"),
        api_base: None,
    };
    let mut out: Vec<OsString> = Vec::new();
    match ArgTemplate::parse(template) {
        Ok(parsed) => parsed.expand(&values, &mut out),
        Err(message) => panic!("template {template:?} rejected: {message}"),
    }
    out.into_iter()
        .map(|arg| arg.to_string_lossy().into_owned())
        .collect()
}

#[test]
fn expands_every_placeholder() {
    assert_eq!(expand("{prompt}", &[]), vec!["fix the bug"]);
    assert_eq!(
        expand("--file={prompt_file}", &[]),
        vec!["--file=/tmp/prompts/s1.md"]
    );
    assert_eq!(
        expand("{worktree}/src", &[]),
        vec!["/repo/.pipeline/worktrees/r1/s1/src"]
    );
    assert_eq!(
        expand("step-{step_id}-{model}", &[]),
        vec!["step-s1-gpt-test"]
    );
    assert_eq!(expand("[{api_base}]", &[]), vec!["[]"]);
}

#[test]
fn bare_files_splits_and_embedded_files_joins() {
    assert_eq!(
        expand("{files}", &["a.rs", "b c.rs"]),
        vec!["a.rs", "b c.rs"]
    );
    assert_eq!(expand("{files}", &[]), Vec::<String>::new());
    assert_eq!(
        expand("--files={files}", &["a.rs", "b.rs"]),
        vec!["--files=a.rs b.rs"]
    );
}

#[test]
fn doubled_braces_are_literal() {
    assert_eq!(
        expand("{{\"step\": \"{step_id}\"}}", &[]),
        vec!["{\"step\": \"s1\"}"]
    );
    assert_eq!(expand("{{prompt}}", &[]), vec!["{prompt}"]);
    assert_eq!(expand("", &[]), vec![""]);
}

#[test]
fn malformed_templates_are_rejected_with_a_hint() {
    let unknown = ArgTemplate::parse("--x={promt}").unwrap_err();
    assert!(
        unknown.contains("unknown placeholder `{promt}`"),
        "{unknown}"
    );
    assert!(unknown.contains("{prompt_file}"), "{unknown}");
    let unclosed = ArgTemplate::parse("{prompt").unwrap_err();
    assert!(unclosed.contains("unclosed `{`"), "{unclosed}");
    let unmatched = ArgTemplate::parse("a}b").unwrap_err();
    assert!(unmatched.contains("unmatched `}`"), "{unmatched}");
}

#[test]
fn escaped_text_round_trips_literally() {
    let command = "echo '{prompt}' && awk '{print $1}' }}";
    let parsed = ArgTemplate::parse(&escape_braces(command)).unwrap();
    assert_eq!(parsed, ArgTemplate::literal(command));
    assert!(!parsed.uses(Placeholder::Prompt));
}
