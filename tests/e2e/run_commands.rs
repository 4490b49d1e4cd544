//! The commands that look at and act on recorded runs (issue #11, points 3 and 6):
//! `resume` without an id (also of a failed run), the driver-gone hint of `status` and
//! `runs`, the `latest` alias, the `runs` table, `logs` after `clean`, `clean --dry-run`,
//! `breakers --reset` of an unknown tool and the `plugins` table.

use serde_json::Value;

use crate::handshake::await_file;
use crate::support::{Test, step_state};

/// `text` with `[WS]`, `[OUT]` and `[REPO]` for the test's directories.
fn paths(t: &Test, text: &str) -> String {
    text.replace(&t.ws_dir.to_string_lossy().into_owned(), "[WS]")
        .replace(&t.out.to_string_lossy().into_owned(), "[OUT]")
        .replace(&t.repo.to_string_lossy().into_owned(), "[REPO]")
}

/// Replaces each whitespace-separated token of `line` that `matches` with `label`,
/// keeping the token and the spaces after it as wide as they were (so tables stay
/// aligned in snapshots).
fn mask(line: &str, matches: impl Fn(&str) -> bool, label: &str) -> String {
    let mut out = String::new();
    let mut rest = line;
    while !rest.is_empty() {
        let spaces = rest.len() - rest.trim_start_matches(' ').len();
        out.push_str(&rest[..spaces]);
        rest = &rest[spaces..];
        let token_len = rest.find(' ').unwrap_or(rest.len());
        let token = &rest[..token_len];
        rest = &rest[token_len..];
        if matches(token) {
            let room = token_len + rest.len() - rest.trim_start_matches(' ').len();
            let trailing = rest.len() - rest.trim_start_matches(' ').len();
            rest = &rest[trailing..];
            let pad = if rest.is_empty() {
                0
            } else {
                room.saturating_sub(label.len()).max(1)
            };
            out.push_str(label);
            out.push_str(&" ".repeat(pad));
        } else {
            out.push_str(token);
        }
    }
    out
}

/// `2026-01-31T12:00:00.123Z`: a timestamp of the state database.
fn is_timestamp(token: &str) -> bool {
    let b = token.as_bytes();
    b.len() == 24 && b[4] == b'-' && b[10] == b'T' && b[23] == b'Z'
}

/// `0.4s`, `12.3s`, `4m05s`, `2h03m`: a duration of the `runs` table.
fn is_duration(token: &str) -> bool {
    let digits = token.trim_end_matches(['s', 'm', 'h']);
    token.len() > digits.len()
        && !digits.is_empty()
        && digits
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'm' | 'h'))
        && digits.starts_with(|c: char| c.is_ascii_digit())
}

/// The `runs` table with paths, start times and durations replaced.
fn runs_table(t: &Test) -> String {
    let r = t.pipeline(&["runs"]).assert_ok();
    paths(t, &r.stdout())
        .lines()
        .map(|l| mask(&mask(l, is_timestamp, "[TIME]"), is_duration, "[DUR]"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// A failed run (one failing step, one skipped after it, one that completes) and a
/// completed run after it: `resume` without an id skips the newer completed run, says
/// which run it resumes and why, re-runs only the failed and skipped steps once the
/// cause is fixed, and afterwards finds no run to resume (exit 2).
#[test]
fn resume_without_an_id_takes_the_newest_failed_run_after_the_cause_is_fixed() {
    let t = Test::new();
    let fixed = t.out_path("fixed");
    let ran = t.out_path("ran");
    let ws = t.workstream(
        "broken.json",
        &format!(
            r#"[{{"id": "needs-fix", "command": "echo needs-fix >> {ran}; test -f {fixed} && echo ok > fixed.txt"}},
                {{"id": "after", "depends_on": ["needs-fix"], "command": "echo after >> {ran}; echo a > after.txt"}},
                {{"id": "fine", "command": "echo fine >> {ran}; echo f > fine.txt"}}]"#
        ),
    );
    t.run(&ws, "broken", 2).assert_code(1);
    let ok = t.workstream("ok.json", r#"{"id": "ok", "command": "echo ok > ok.txt"}"#);
    t.run(&ok, "newer-ok", 1).assert_ok();

    std::fs::write(&fixed, "yes").unwrap();
    let r = t.pipeline(&["resume"]).assert_ok();
    let said = r
        .stderr()
        .lines()
        .find(|l| l.starts_with("resuming run"))
        .unwrap_or_default()
        .to_string();
    insta::assert_snapshot!(said, @"resuming run broken (failed: 1 step failed, 1 skipped)");
    assert_eq!(t.status("broken")["status"], "completed");
    assert_eq!(t.status("newer-ok")["status"], "completed");
    let runs: Vec<String> = t.out_lines("ran");
    let count = |id: &str| runs.iter().filter(|l| l.as_str() == id).count();
    assert_eq!(count("needs-fix"), 2, "{runs:?}");
    assert_eq!(count("after"), 1, "{runs:?}");
    assert_eq!(count("fine"), 1, "the completed step is kept: {runs:?}");
    for f in ["fixed.txt", "after.txt", "fine.txt"] {
        assert!(t.show("pipeline/broken", f).is_some(), "{f} on the result");
    }

    let r = t.pipeline(&["resume"]).assert_code(2);
    insta::assert_snapshot!(r.stderr(), @r"
    error: no run to resume: every recorded run (2 runs) completed or is driven by a live process
      hint: `pipeline runs` lists the runs; start a new one with `pipeline run <workstream.json>`
    ");
}

/// A run whose driving process is killed with SIGKILL stays recorded `running`;
/// `status` says no process drives it and prints the resume command, `status --json`
/// says `"driver": "gone"` (`"live"` while it ran), `runs` marks it, and `resume`
/// without an id continues it.
#[test]
fn a_run_killed_with_sigkill_shows_the_driver_gone_hint_and_resumes_without_an_id() {
    let t = Test::new();
    let release = t.out_path("release");
    let hold = await_file(&release);
    let ws = t.workstream(
        "hold.json",
        &format!(
            r#"[{{"id": "quick", "command": "echo q > quick.txt"}},
                {{"id": "hold", "depends_on": ["quick"], "command": "echo h > hold.txt; {hold}"}}]"#
        ),
    );
    let mut child = t.spawn(&[
        "run",
        ws.to_str().unwrap(),
        "--run-id",
        "killed",
        "--jobs",
        "1",
    ]);
    let live = t.wait_for_status("killed", "step hold running", |v| {
        step_state(v, "hold") == "running"
    });
    assert_eq!(live["driver"], "live", "{live:#}");
    let text = t.pipeline(&["status", "killed"]).assert_ok().stdout();
    assert!(!text.contains("no process is driving"), "{text}");

    child.kill().expect("SIGKILL pipeline");
    child.wait().expect("reap pipeline");
    let gone = t.status("killed");
    assert_eq!(gone["status"], "running");
    assert_eq!(gone["driver"], "gone", "{gone:#}");
    let text = t.pipeline(&["status", "killed"]).assert_ok().stdout();
    let head: Vec<&str> = text.lines().take(3).collect();
    insta::assert_snapshot!(head.join("\n"), @r"
    Run killed  running
      no process is driving this run (it was stopped: a closed terminal, kill -9, a crash)
      continue it with: pipeline resume killed
    ");
    insta::assert_snapshot!("runs_table_driver_gone", runs_table(&t));
    let listed = json(&t.pipeline(&["runs", "--json"]).assert_ok().stdout());
    assert_eq!(listed[0]["driver"], "gone", "{listed:#}");

    std::fs::write(&release, "go").unwrap();
    let r = t.pipeline(&["resume"]).assert_ok();
    assert!(
        r.stderr().contains(
            "resuming run killed (running, but no process drives it: 1 of 2 steps completed)"
        ),
        "{}",
        r.stderr()
    );
    let done = t.status("killed");
    assert_eq!(done["status"], "completed");
    assert_eq!(done["driver"], Value::Null, "{done:#}");
}

/// `latest` names the newest run for `status`, `logs`, `errors`, `clean` and `resume`.
#[test]
fn latest_names_the_newest_run_on_every_command() {
    let t = Test::new();
    let first = t.workstream("first.json", r#"{"id": "one", "command": "echo one"}"#);
    t.run(&first, "first", 1).assert_ok();
    let flag = t.out_path("flag");
    let second = t.workstream(
        "second.json",
        &format!(r#"{{"id": "two", "command": "echo two-output; test -f {flag}"}}"#),
    );
    t.run(&second, "second", 1).assert_code(1);

    let status = json(
        &t.pipeline(&["status", "latest", "--json"])
            .assert_ok()
            .stdout(),
    );
    assert_eq!(status["run_id"], "second");
    let logs = t.pipeline(&["logs", "latest", "two"]).assert_ok().stdout();
    assert!(logs.contains("two-output"), "{logs}");
    let errors = json(
        &t.pipeline(&["errors", "latest", "--json"])
            .assert_ok()
            .stdout(),
    );
    assert_eq!(errors["run_id"], "second");
    let dry = json(
        &t.pipeline(&["clean", "latest", "--dry-run", "--json"])
            .assert_ok()
            .stdout(),
    );
    assert_eq!(dry["runs"], serde_json::json!(["second"]), "{dry:#}");
    std::fs::write(&flag, "set").unwrap();
    t.pipeline(&["resume", "latest"])
        .assert_ok()
        .assert_stderr_contains("resuming run second (failed: 1 step failed)");
    assert_eq!(t.status("second")["status"], "completed");
    assert_eq!(t.status("first")["status"], "completed");
}

/// `runs`: a header, duration and step counts per run; `--json` has the same fields.
#[test]
fn runs_is_a_table_with_header_duration_and_step_counts() {
    let t = Test::new();
    let ws = t.workstream(
        "mixed.json",
        r#"[{"id": "good", "command": "echo g > g.txt"},
            {"id": "bad", "command": "exit 3"},
            {"id": "later", "depends_on": ["bad"], "command": "true"}]"#,
    );
    t.run(&ws, "mixed", 2).assert_code(1);
    let ok = t.workstream("ok.json", r#"{"id": "ok", "command": "true"}"#);
    t.run(&ok, "fine", 1).assert_ok();
    insta::assert_snapshot!("runs_table", runs_table(&t));
    let runs = json(&t.pipeline(&["runs", "--json"]).assert_ok().stdout());
    let mixed = &runs[1];
    assert_eq!(mixed["run_id"], "mixed");
    assert_eq!(
        mixed["steps"],
        serde_json::json!({"completed": 1, "failed": 1, "skipped": 1, "total": 3})
    );
    assert!(
        mixed["duration_secs"].as_f64().is_some_and(|d| d >= 0.0),
        "{mixed:#}"
    );
    assert!(mixed["started_at"].is_string() && mixed["finished_at"].is_string());
    assert_eq!(runs[0]["steps"]["total"], 1);
}

/// `clean --dry-run` lists what a real clean then removes, and removes nothing; `logs`
/// of the cleaned run then exits 2 naming the removed directory; an unknown step or run
/// exits 2 naming it.
#[test]
fn clean_dry_run_lists_what_clean_removes_and_logs_after_clean_exit_2() {
    let t = Test::new();
    let ws = t.workstream(
        "two.json",
        r#"[{"id": "alpha", "command": "echo a > a.txt"},
            {"id": "beta", "command": "echo b > b.txt; exit 1"}]"#,
    );
    t.run(&ws, "gone", 2).assert_code(1);
    let logs_dir = t.repo.join(".pipeline/logs/gone");
    assert!(logs_dir.is_dir());
    let branches_before = t.git(&["branch", "--list", "pipeline-steps/gone/*"]);

    let r = t.pipeline(&["clean", "--dry-run"]).assert_ok();
    insta::assert_snapshot!("clean_dry_run", paths(&t, &r.stdout()));
    let dry = json(
        &t.pipeline(&["clean", "--dry-run", "--json"])
            .assert_ok()
            .stdout(),
    );
    assert_eq!(dry["dry_run"], true);
    assert!(logs_dir.is_dir(), "a dry run removes nothing");
    assert_eq!(
        t.git(&["branch", "--list", "pipeline-steps/gone/*"]),
        branches_before
    );

    let real = json(&t.pipeline(&["clean", "--json"]).assert_ok().stdout());
    assert_eq!(real["dry_run"], false);
    for field in ["runs", "worktrees", "branches", "log_dirs", "tmp_dirs"] {
        assert_eq!(
            dry[field], real[field],
            "{field}: dry {dry:#} real {real:#}"
        );
    }
    assert!(!logs_dir.exists());
    assert_eq!(t.git(&["branch", "--list", "pipeline-steps/gone/*"]), "");
    for w in real["worktrees"].as_array().unwrap() {
        assert!(!std::path::Path::new(w.as_str().unwrap()).exists(), "{w}");
    }

    let r = t.pipeline(&["logs", "gone", "beta"]).assert_code(2);
    insta::assert_snapshot!(paths(&t, &r.stderr()), @r"
    error: the logs of run gone were removed by `pipeline clean`: [REPO]/.pipeline/logs/gone no longer exists
      hint: `pipeline status gone` and `pipeline errors gone` still show what happened
    ");
    let r = t.pipeline(&["logs", "gone", "bta"]).assert_code(2);
    insta::assert_snapshot!(r.stderr(), @r"
    error: run gone has no step `bta`; did you mean `beta`?
      its steps: alpha, beta
    ");
    let r = t.pipeline(&["logs", "nope", "beta"]).assert_code(2);
    insta::assert_snapshot!(r.stderr(), @r"
    error: no run `nope` in the state database
      hint: `pipeline runs` lists the runs
    ");
}

/// `breakers --reset` of a tool that is neither a profile nor has breaker state exits 2
/// naming the known tools; of a known tool it succeeds.
#[test]
fn breakers_reset_of_an_unknown_tool_exits_2_naming_the_known_tools() {
    let t = Test::new();
    t.config("tools:\n  flaky:\n    command: sh\n");
    let r = t
        .pipeline(&["breakers", "--reset", "flakey"])
        .assert_code(2);
    let message = r.stderr();
    assert!(
        message.starts_with(
            "error: no tool `flakey` to reset the circuit breaker of; did you mean `flaky`?"
        ),
        "{message}"
    );
    assert!(
        message.contains("known tools: ") && message.contains("flaky"),
        "{message}"
    );
    t.pipeline(&["breakers", "--reset", "flaky"]).assert_ok();
}

/// `plugins` prints a table (order, id, kind, source, what it matches); `--json` keeps
/// the JSON objects.
#[test]
fn plugins_prints_a_table_and_json_on_request() {
    let t = Test::new();
    let plugin = t.repo.join(".pipeline/plugins/npm-reset");
    std::fs::create_dir_all(&plugin).unwrap();
    std::fs::write(
        plugin.join("plugin.yaml"),
        "id: npm-reset\ndescription: npm connection resets\napplies_to:\n  tools: [npm]\nrules:\n  - pattern: \"ECONNRESET\"\n    class: transient\n",
    )
    .unwrap();
    let r = t.pipeline(&["plugins"]).assert_ok();
    insta::assert_snapshot!("plugins_table", paths(&t, &r.stdout()));
    let list = json(&t.pipeline(&["plugins", "--json"]).assert_ok().stdout());
    let ids: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["id"].as_str())
        .collect();
    assert!(ids.contains(&"npm-reset"), "{ids:?}");
    assert_eq!(
        ids.last(),
        Some(&"exit-status"),
        "the fallback comes last: {ids:?}"
    );
}
