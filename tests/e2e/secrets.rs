//! Secrets (issue #10, point 4): a secret a step prints, in clear or split across
//! writes, on stdout or stderr, from its command, an acceptance test, a failing command
//! or a compensation, appears nowhere: not in the attempt logs, any file under
//! `.pipeline/`, any text of the state database, `status --json`, `logs`, `errors`, the
//! `--json` NDJSON stream or the run's own output. A 7-byte secret is left alone (below
//! `MIN_SECRET_BYTES`) and `pipeline tools` names it.

use std::path::Path;

use crate::support::{Run, Test};

/// Matches the default `*_API_KEY` pattern.
const OPENAI_KEY: &str = "sk-test-0123456789abcdef";
/// The `api_key_env` of a tool profile no step uses; its name matches no pattern.
const BOT_KEY: &str = "bot-key-0123456789";
/// Matches the default `*_TOKEN` pattern.
const FOO_TOKEN: &str = "foo-token-value-42";
/// 7 bytes: too short to redact.
const SHORT_TOKEN: &str = "abc1234";

const SECRETS: [&str; 3] = [OPENAI_KEY, BOT_KEY, FOO_TOKEN];

/// Prints every secret on stdout and stderr, and the OpenAI key split across two writes
/// on each.
const PRINT: &str = "echo out $OPENAI_API_KEY $BOT_KEY $FOO_TOKEN $SHORT_TOKEN; echo err $OPENAI_API_KEY $BOT_KEY $FOO_TOKEN >&2; printf 'key=sk-test-0123'; sleep 0.1; printf '456789abcdef\\\\n'; printf 'key=sk-test-0123' >&2; sleep 0.1; printf '456789abcdef\\\\n' >&2";

fn with_secrets(t: &Test, args: &[&str]) -> Run {
    let output = t
        .cmd()
        .args(args)
        .env("OPENAI_API_KEY", OPENAI_KEY)
        .env("BOT_KEY", BOT_KEY)
        .env("FOO_TOKEN", FOO_TOKEN)
        .env("SHORT_TOKEN", SHORT_TOKEN)
        .output()
        .expect("pipeline runs");
    Run { output }
}

/// Fails naming `what` when `text` holds any of the secrets.
fn assert_clean(what: &str, text: &str) {
    for secret in SECRETS {
        assert!(!text.contains(secret), "{what} leaks {secret}:\n{text}");
    }
    // The split key's halves are not enough to rebuild it either.
    assert!(
        !text.contains("sk-test-0123456789"),
        "{what} leaks the split key:\n{text}"
    );
}

/// Every file under `dir`, recursively, as (path, bytes).
fn files(dir: &Path, found: &mut Vec<(String, Vec<u8>)>) {
    for entry in std::fs::read_dir(dir).expect("read dir") {
        let path = entry.expect("dir entry").path();
        let meta = std::fs::symlink_metadata(&path).expect("metadata");
        if meta.is_dir() {
            files(&path, found);
        } else if meta.is_file() {
            let bytes = std::fs::read(&path).expect("read file");
            found.push((path.display().to_string(), bytes));
        }
    }
}

/// Every text and blob value of every table of the state database, one per line.
fn database_dump(db: &Path) -> String {
    let c = rusqlite::Connection::open(db).expect("open state db");
    let tables: Vec<String> = c
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(|t| t.unwrap())
        .collect();
    assert!(tables.iter().any(|t| t == "events"), "{tables:?}");
    let mut dump = String::new();
    for table in tables {
        let mut stmt = c.prepare(&format!("SELECT * FROM \"{table}\"")).unwrap();
        let columns = stmt.column_count();
        let mut rows = stmt.query([]).unwrap();
        while let Some(row) = rows.next().unwrap() {
            for i in 0..columns {
                match row.get_ref(i).unwrap() {
                    rusqlite::types::ValueRef::Text(b) | rusqlite::types::ValueRef::Blob(b) => {
                        dump.push_str(&String::from_utf8_lossy(b));
                        dump.push('\n');
                    }
                    _ => {}
                }
            }
        }
    }
    dump
}

#[test]
fn a_printed_secret_appears_in_no_log_database_event_or_output() {
    let t = Test::new();
    t.config("tools:\n  bot:\n    kind: custom\n    command: bot-cli\n    api_key_env: BOT_KEY\n");
    let comp = t.out_path("compensated");
    let ws = t.workstream(
        "ws.json",
        &format!(
            r#"[{{"id": "leak", "command": "{PRINT}; echo x > leak.txt",
                  "acceptance_tests": ["{PRINT}; test -f leak.txt"]}},
                {{"id": "fail", "command": "{PRINT}; exit 3",
                  "compensation": ["{PRINT}; touch {comp}"]}},
                {{"id": "bad_test", "command": "echo y > bad.txt",
                  "acceptance_tests": ["{PRINT}; exit 4"]}}]"#
        ),
    );
    let run = with_secrets(
        &t,
        &["run", ws.to_str().unwrap(), "--run-id", "sec", "--json"],
    )
    .assert_code(1);
    assert_clean("the NDJSON stream", &run.stdout());
    assert_clean("the run's stderr", &run.stderr());
    let status = t.status("sec");
    assert_eq!(crate::support::step_state(&status, "leak"), "completed");
    assert_eq!(crate::support::step_state(&status, "fail"), "failed");
    assert_eq!(crate::support::step_state(&status, "bad_test"), "failed");
    assert!(Path::new(&comp).exists(), "the compensation ran");
    assert_clean("status --json", &status.to_string());
    // The failed steps' errors quote their output, redacted.
    for step in ["fail", "bad_test"] {
        let error = t.step_status("sec", step)["error"].to_string();
        assert!(error.contains("[REDACTED]"), "{step}: {error}");
    }

    let mut logs = String::new();
    for step in ["leak", "fail", "bad_test"] {
        let log = t.pipeline(&["logs", "sec", step]).assert_ok().stdout();
        assert_clean(&format!("pipeline logs sec {step}"), &log);
        assert!(log.contains("[REDACTED]"), "{step}: {log}");
        logs.push_str(&log);
    }
    // A secret shorter than 8 bytes is left alone (documented in docs/SECURITY.md).
    assert!(logs.contains(SHORT_TOKEN), "{logs}");
    let errors = t.pipeline(&["errors", "sec", "--json"]).assert_ok();
    assert_clean("pipeline errors --json", &errors.stdout());

    let mut found = Vec::new();
    files(&t.repo.join(".pipeline"), &mut found);
    assert!(
        found.iter().any(|(p, _)| p.ends_with(".log")) && found.len() > 5,
        "{:?}",
        found.iter().map(|(p, _)| p).collect::<Vec<_>>()
    );
    for (path, bytes) in &found {
        assert_clean(path, &String::from_utf8_lossy(bytes));
    }
    let dump = database_dump(&t.repo.join(".pipeline/state.db"));
    assert_clean("the state database", &dump);
    assert!(
        dump.contains("[REDACTED]"),
        "the database holds the redacted errors"
    );
}

#[test]
fn tools_counts_redacted_secrets_and_names_those_too_short() {
    let t = Test::new();
    t.config("tools:\n  bot:\n    kind: custom\n    command: bot-cli\n    api_key_env: BOT_KEY\n");
    let r = with_secrets(&t, &["tools"]).assert_ok();
    let out = r.stdout();
    assert_clean("pipeline tools", &out);
    assert!(!out.contains(SHORT_TOKEN), "{out}");
    assert!(
        out.contains("Not redacted, shorter than 8 bytes: SHORT_TOKEN (environment)"),
        "{out}"
    );
    let count: usize = out
        .split_once("Secrets: ")
        .and_then(|(_, rest)| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no secrets count in {out}"));
    assert!(count >= SECRETS.len(), "{out}");
}

#[test]
fn a_bad_secrets_section_is_an_input_error_naming_the_file_and_key() {
    let t = Test::new();
    t.config("secrets:\n  env_patterns: [\"OPENAI API\"]\n");
    let ws = t.workstream("ws.json", r#"{"id": "a", "command": "true"}"#);
    for args in [
        vec!["run", ws.to_str().unwrap()],
        vec!["validate", ws.to_str().unwrap()],
        vec!["tools"],
    ] {
        t.pipeline(&args)
            .assert_code(2)
            .assert_stderr_contains("config.yaml: secrets.env_patterns[0]");
    }
}
