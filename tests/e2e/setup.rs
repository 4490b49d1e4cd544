//! Per-worktree set-up (issue #14, docs/WORKTREES.md "Set-up"): `setup` commands run in
//! the step's worktree before its tool (own log section, timeout, `setup_finished`), a
//! failing one fails the attempt with its output classified, `copy_into_worktree` copies
//! an untracked `.env` whose value is redacted everywhere and never committed, and a
//! `setup` with `inputs` is not run again on a retry in the same worktree.

use crate::support::Test;

const STEP: &str = "ws";

fn branch(run: &str) -> String {
    format!("pipeline-steps/{run}/{STEP}")
}

fn attempt_log(t: &Test, run: &str, attempt: u32) -> String {
    let dir = t.repo.join(".pipeline/logs").join(run).join(STEP);
    std::fs::read_to_string(dir.join(format!("{attempt}.log")))
        .unwrap_or_else(|e| panic!("attempt log in {}: {e}", dir.display()))
}

#[test]
fn setup_runs_in_the_worktree_before_the_tool_with_its_own_log_section() {
    let t = Test::new();
    let ws = t.workstream(
        "w.json",
        r#"{"id": "ws", "command": "cat prepared.txt > seen.txt",
            "setup": ["echo prepared-by-setup > prepared.txt"]}"#,
    );
    t.run(&ws, "r1", 1).assert_ok();
    assert_eq!(
        t.show(&branch("r1"), "seen.txt").as_deref(),
        Some("prepared-by-setup\n")
    );
    let log = attempt_log(&t, "r1", 1);
    let setup_at = log
        .find("----- setup: echo prepared-by-setup > prepared.txt -----")
        .unwrap_or_else(|| panic!("no setup section:\n{log}"));
    assert!(
        log[setup_at..].contains("cat prepared.txt"),
        "the tool's section follows the setup's:\n{log}"
    );
    let events = t.events("r1", STEP, "setup_finished");
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["succeeded"], true);
    assert_eq!(
        events[0]["command"],
        "echo prepared-by-setup > prepared.txt"
    );
}

#[test]
fn a_failing_setup_fails_the_step_with_its_output_classified_and_the_tool_never_runs() {
    let t = Test::new();
    let tool_ran = t.out_path("tool-ran");
    let ws = t.workstream(
        "w.json",
        &format!(
            r#"{{"id": "ws", "command": "touch {tool_ran}",
                "retry": {{"max_attempts": 1}},
                "setup": ["echo 'error: could not find package foo-bar' >&2; exit 3"]}}"#
        ),
    );
    t.run(&ws, "r1", 1).assert_code(1);
    assert!(!std::path::Path::new(&tool_ran).exists(), "the tool ran");
    let step = t.step_status("r1", STEP);
    assert_eq!(step["status"], "failed", "{step:#}");
    let error = step["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("setup command") && error.contains("code 3"),
        "{error}"
    );
    assert!(error.contains("could not find package foo-bar"), "{error}");
    let finished = t.events("r1", STEP, "attempt_finished");
    assert!(
        finished[0]["classified"]["class"].is_string(),
        "classified by the error engine: {finished:?}"
    );
    let setup = t.events("r1", STEP, "setup_finished");
    assert_eq!(setup[0]["succeeded"], false);
    assert_eq!(setup[0]["outcome"], "exited with code 3");
    assert!(attempt_log(&t, "r1", 1).contains("could not find package foo-bar"));
}

#[test]
fn a_setup_command_is_stopped_at_its_timeout() {
    let t = Test::new();
    let ws = t.workstream(
        "w.json",
        r#"{"id": "ws", "command": "true", "retry": {"max_attempts": 1},
            "setup": [{"command": "sleep 60", "timeout_sec": 1}]}"#,
    );
    let began = std::time::Instant::now();
    t.run(&ws, "r1", 1).assert_code(1);
    assert!(began.elapsed().as_secs() < 30, "{:?}", began.elapsed());
    let setup = t.events("r1", STEP, "setup_finished");
    assert_eq!(setup[0]["succeeded"], false);
    assert_eq!(setup[0]["outcome"], "timed out", "{setup:?}");
}

const DOTENV_SECRET: &str = "dotenv-secret-value-0123456789";

#[test]
fn copy_into_worktree_copies_dotenv_redacts_its_value_and_never_commits_it() {
    let t = Test::new();
    std::fs::write(
        t.repo.join(".env"),
        format!("# local settings\nSERVICE_CREDENTIAL={DOTENV_SECRET}\n"),
    )
    .unwrap();
    let ws = t.workstream(
        "w.json",
        r#"{"id": "ws", "files_scope": ["used.txt"],
            "copy_into_worktree": [".env"],
            "setup": ["cat .env"],
            "command": "cat .env; grep -q SERVICE_CREDENTIAL= .env && echo read > used.txt"}"#,
    );
    t.run(&ws, "r1", 1).assert_ok();
    assert_eq!(t.show(&branch("r1"), "used.txt").as_deref(), Some("read\n"));
    assert_eq!(t.show(&branch("r1"), ".env"), None, ".env committed");
    let log = attempt_log(&t, "r1", 1);
    assert!(
        !log.contains(DOTENV_SECRET),
        "log leaks the .env value:\n{log}"
    );
    assert!(log.contains("SERVICE_CREDENTIAL="), "{log}");
    let status = t.pipeline(&["status", "r1", "--json"]).assert_ok().stdout();
    assert!(!status.contains(DOTENV_SECRET), "{status}");
    let db = t.repo.join(".pipeline/state.db");
    let c = rusqlite::Connection::open(db).unwrap();
    let mut stmt = c.prepare("SELECT data FROM events").unwrap();
    for data in stmt.query_map([], |r| r.get::<_, String>(0)).unwrap() {
        let data = data.unwrap();
        assert!(!data.contains(DOTENV_SECRET), "event leaks: {data}");
    }
}

#[test]
fn a_missing_copy_into_worktree_file_is_an_input_error_naming_step_and_path() {
    let t = Test::new();
    let ws = t.workstream(
        "w.json",
        r#"{"id": "ws", "command": "true", "copy_into_worktree": ["config/.env.local"]}"#,
    );
    t.run(&ws, "r1", 1)
        .assert_code(2)
        .assert_stderr_contains("step `ws`")
        .assert_stderr_contains("config/.env.local");
}

#[test]
fn setup_with_unchanged_inputs_is_not_run_again_on_a_retry_in_the_same_worktree() {
    let t = Test::new();
    t.commit_file("package-lock.json", "{\"lockfileVersion\": 3}\n");
    let runs = t.out_path("setup-runs");
    let first = t.out_path("first-attempt");
    let ws = t.workstream(
        "w.json",
        &format!(
            r#"{{"id": "ws",
                "retry": {{"initial_delay": 0.2, "max_attempts": 3, "jitter": false}},
                "setup": [{{"command": "echo run >> {runs}; mkdir -p deps && echo lib > deps/lib",
                            "inputs": ["package-lock.json"], "outputs": ["deps"]}}],
                "command": "test -f deps/lib || exit 9; if [ ! -f {first} ]; then touch {first}; echo 'Connection reset by peer' >&2; exit 1; fi; echo done > done.txt"}}"#
        ),
    );
    t.run(&ws, "r1", 1).assert_ok();
    assert_eq!(t.out_lines("setup-runs"), ["run"], "setup ran again");
    let setup = t.events("r1", STEP, "setup_finished");
    assert_eq!(setup.len(), 2, "{setup:?}");
    assert_eq!(setup[0]["cached"], serde_json::Value::Null);
    assert_eq!(setup[1]["cached"], true, "{setup:?}");
    assert_eq!(t.show(&branch("r1"), "done.txt").as_deref(), Some("done\n"));
    assert_eq!(
        t.show(&branch("r1"), "deps/lib"),
        None,
        "setup output committed"
    );
}

#[test]
fn a_copy_into_worktree_path_outside_the_repository_is_refused_by_validate() {
    let t = Test::new();
    let ws = t.workstream(
        "w.json",
        r#"{"id": "ws", "command": "true", "copy_into_worktree": ["../outside.env"]}"#,
    );
    t.pipeline(&["validate", ws.to_str().unwrap()])
        .assert_code(2)
        .assert_stderr_contains("copy_into_worktree");
}

#[test]
fn a_pooled_worktree_keeps_cached_setup_outputs_for_the_next_step_until_the_inputs_change() {
    let t = Test::new();
    t.commit_file("package-lock.json", "{\"lockfileVersion\": 3}\n");
    let runs = t.out_path("setup-runs");
    // One job: each step gets the worktree the one before released. `bump` changes the
    // set-up's input, so `c` (started on bump's result) runs the set-up again.
    let ws = t.workstream(
        "w.json",
        &format!(
            r#"{{"id": "ws",
                "setup": [{{"command": "echo run >> {runs}; mkdir -p deps && echo lib > deps/lib",
                            "inputs": ["package-lock.json"], "outputs": ["deps"]}}],
                "steps": [
                  {{"id": "a", "command": "test -f deps/lib && echo a > a.txt"}},
                  {{"id": "bump", "depends_on": ["a"],
                    "command": "test -f deps/lib && echo '{{\"lockfileVersion\": 4}}' > package-lock.json"}},
                  {{"id": "c", "depends_on": ["bump"], "command": "test -f deps/lib && echo c > c.txt"}}
                ]}}"#
        ),
    );
    t.run(&ws, "r1", 1).assert_ok();
    let cached = |step: &str| {
        let events = t.events("r1", step, "setup_finished");
        assert_eq!(events.len(), 1, "{step}: {events:?}");
        events[0]["cached"] == true
    };
    assert!(!cached("ws/a"), "the first step runs the set-up");
    assert!(
        cached("ws/bump"),
        "same inputs in the reused worktree: not run again"
    );
    assert!(!cached("ws/c"), "changed inputs: run again");
    assert_eq!(t.out_lines("setup-runs"), ["run", "run"]);
    for file in ["a.txt", "c.txt"] {
        assert!(t.show("pipeline/r1", file).is_some(), "{file} missing");
    }
    assert_eq!(
        t.show("pipeline/r1", "deps/lib"),
        None,
        "setup output committed"
    );
}
