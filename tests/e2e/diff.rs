//! What changed, end to end: `pipeline diff RUN [STEP] [--stat | --name-only]` on real
//! runs (a step against its start commit, a whole run against its base), the diffstat
//! lines of the run summary, and `no_change`: an AI step whose tool changes nothing fails
//! (a fix prompt saying so while `fix_attempts` last) unless it sets `allow_empty`, while
//! commands may change nothing. `no_change` is shown with custom AI profiles and with the
//! real Codex CLI, Claude Code and Aider against the fake model server (skipped loudly
//! without them, failing under `CI=true`).

use fake_model_server::{Api, FakeModelServer, Scripted};
use serde_json::{Value, json};

use crate::ai_cli::{CliProfile, edit_step};
use crate::support::Test;

/// Two steps: `ws/a` changes `README.md` and adds a three-line `a.txt`; `ws/b` (after it)
/// adds `b.txt`.
fn two_steps(t: &Test) -> std::path::PathBuf {
    t.workstream(
        "ws.json",
        r#"{"id": "ws", "steps": [
            {"id": "a", "command": "printf 'one\ntwo\nthree\n' > a.txt && echo 'test repository, changed' > README.md"},
            {"id": "b", "command": "echo bee > b.txt", "depends_on": ["a"]}
        ]}"#,
    )
}

#[test]
fn a_steps_diff_its_stat_and_its_names() {
    let t = Test::new();
    let ws = two_steps(&t);
    let run = t.run(&ws, "d1", 1).assert_ok();

    // The run summary has one diffstat line per completed step.
    let summary = run.stdout();
    assert!(
        summary.contains("Changes (pipeline diff d1 STEP shows one):"),
        "{summary}"
    );
    assert!(
        summary.contains("ws/a  2 files changed, 4 insertions(+), 1 deletion(-)"),
        "{summary}"
    );
    assert!(
        summary.contains("ws/b  1 file changed, 1 insertion(+), 0 deletions(-)"),
        "{summary}"
    );

    let patch = t.pipeline(&["diff", "d1", "ws/a"]).assert_ok().stdout();
    assert!(
        patch.contains("diff --git a/README.md b/README.md"),
        "{patch}"
    );
    assert!(patch.contains("+test repository, changed"), "{patch}");
    assert!(patch.contains("-test repository"), "{patch}");
    assert!(patch.contains("+++ b/a.txt"), "{patch}");
    assert!(
        !patch.contains("b.txt"),
        "ws/b's change is not ws/a's: {patch}"
    );
    // The patch is what git would apply to the base: it applies to main's checkout.
    let file = t.out.join("a.patch");
    std::fs::write(&file, &patch).unwrap();
    t.git(&["apply", "--check", file.to_str().unwrap()]);

    let stat = t
        .pipeline(&["diff", "d1", "ws/a", "--stat"])
        .assert_ok()
        .stdout();
    assert_eq!(
        stat,
        " README.md | 2 +-\n a.txt     | 3 +++\n 2 files changed, 4 insertions(+), 1 deletion(-)\n"
    );
    let names = t
        .pipeline(&["diff", "latest", "ws/b", "--name-only"])
        .assert_ok()
        .stdout();
    assert_eq!(names, "b.txt\n");
}

#[test]
fn a_whole_runs_diff_is_its_result_against_its_base() {
    let t = Test::new();
    let ws = two_steps(&t);
    t.run(&ws, "d2", 2).assert_ok();
    let names = t
        .pipeline(&["diff", "d2", "--name-only"])
        .assert_ok()
        .stdout();
    assert_eq!(names, "README.md\na.txt\nb.txt\n");
    let stat = t.pipeline(&["diff", "d2", "--stat"]).assert_ok().stdout();
    assert!(
        stat.ends_with(" 3 files changed, 5 insertions(+), 1 deletion(-)\n"),
        "{stat}"
    );
    let patch = t.pipeline(&["diff", "d2"]).assert_ok().stdout();
    let file = t.out.join("run.patch");
    std::fs::write(&file, &patch).unwrap();
    t.git(&["apply", file.to_str().unwrap()]);
    assert_eq!(
        std::fs::read_to_string(t.repo.join("b.txt")).unwrap(),
        "bee\n",
        "the run's patch applied to main gives the run's result"
    );
}

#[test]
fn diffs_of_what_has_no_result_are_input_errors() {
    let t = Test::new();
    let ws = t.workstream(
        "ws.json",
        r#"{"id": "ws", "steps": [
            {"id": "broken", "command": "exit 3", "retry": {"max_attempts": 1}},
            {"id": "after", "command": "true", "depends_on": ["broken"]}
        ]}"#,
    );
    t.run(&ws, "d3", 1).assert_code(1);
    t.pipeline(&["diff", "d3", "ws/broken"])
        .assert_code(2)
        .assert_stderr_contains("has no result commit yet");
    t.pipeline(&["diff", "d3"])
        .assert_code(2)
        .assert_stderr_contains("has no result branch");
    t.pipeline(&["diff", "d3", "ws/brokn"])
        .assert_code(2)
        .assert_stderr_contains("did you mean `ws/broken`?");
    t.pipeline(&["diff", "nosuchrun", "ws/broken"])
        .assert_code(2);
    t.pipeline(&["diff", "d3", "ws/broken", "--stat", "--name-only"])
        .assert_code(2);
}

/// `.pipeline/config.yaml` with the custom AI profile `agent` (capability
/// `code_generation`) running `script` with `sh -c`, and the non-AI profile `lint`.
fn agent_config(t: &Test, script: &str) {
    let script = serde_json::to_string(script).unwrap();
    t.config(&format!(
        "tools:\n  agent:\n    kind: custom\n    command: sh\n    args: [\"-c\", {script}, \"agent\", \"{{prompt_file}}\"]\n    capabilities: [code_generation]\n  lint:\n    kind: custom\n    command: sh\n    args: [\"-c\", \"true\"]\n    capabilities: [linting]\n"
    ));
}

#[test]
fn an_ai_step_that_changes_nothing_fails_with_reason_no_change() {
    let t = Test::new();
    agent_config(&t, "echo thinking hard");
    let ws = t.workstream(
        "ws.json",
        r#"{"id": "lazy", "tool": "agent", "tasks": ["Write notes.txt"], "retry": {"max_attempts": 3}}"#,
    );
    t.run(&ws, "nc1", 1).assert_code(1);
    let step = t.step_status("nc1", "lazy");
    assert_eq!(step["status"], "failed", "{step:#}");
    assert_eq!(step["attempts"], 1, "permanent: not retried: {step:#}");
    let error = step["error"].as_str().unwrap_or_default();
    assert!(
        error.starts_with("no_change: tool `agent` finished without changing any file"),
        "{error}"
    );
    assert!(error.contains("\"allow_empty\": true"), "{error}");
    assert!(error.contains("class permanent"), "{error}");
    assert_eq!(step["last_error"]["class"], "permanent", "{step:#}");
    assert_eq!(step["last_error"]["plugin"], "no_change", "{step:#}");
    let finished = t.events("nc1", "lazy", "attempt_finished");
    assert_eq!(
        finished[0]["classified"]["plugin"], "no_change",
        "{finished:?}"
    );
    assert!(
        finished[0]["classified"]["summary"]
            .as_str()
            .unwrap_or_default()
            .starts_with("no_change:"),
        "{finished:?}"
    );
}

#[test]
fn no_change_asks_for_a_fix_saying_nothing_changed() {
    let t = Test::new();
    // Changes something only once its prompt says the last attempt changed nothing.
    agent_config(
        &t,
        "if grep -q 'The previous attempt changed nothing' \"$1\"; then echo done > notes.txt; fi",
    );
    let ws = t.workstream(
        "ws.json",
        r#"{"id": "slow", "tool": "agent", "tasks": ["Write notes.txt"], "fix_attempts": 1}"#,
    );
    t.run(&ws, "nc2", 1).assert_ok();
    let step = t.step_status("nc2", "slow");
    assert_eq!(step["status"], "completed", "{step:#}");
    assert_eq!(step["attempts"], 2, "{step:#}");
    let fixes = t.events("nc2", "slow", "fix_requested");
    assert_eq!(fixes.len(), 1, "{fixes:?}");
    assert_eq!(fixes[0]["class"], "permanent", "{fixes:?}");
    assert!(
        fixes[0]["reason"]
            .as_str()
            .unwrap_or_default()
            .starts_with("no_change:"),
        "{fixes:?}"
    );
    let prompt =
        std::fs::read_to_string(t.repo.join(".pipeline/logs/nc2/slow/2.prompt.md")).unwrap();
    assert!(prompt.contains("Write notes.txt"), "{prompt}");
    assert!(
        prompt.contains("## The previous attempt changed nothing"),
        "{prompt}"
    );
    assert_eq!(
        t.show("pipeline/nc2", "notes.txt").as_deref(),
        Some("done\n")
    );
}

#[test]
fn allow_empty_commands_and_other_tools_may_change_nothing() {
    let t = Test::new();
    agent_config(&t, "true");
    let ws = t.workstream(
        "ws.json",
        r#"{"id": "ws", "steps": [
            {"id": "review", "tool": "agent", "tasks": ["Review the code"], "allow_empty": true},
            {"id": "check", "command": "test -f README.md"},
            {"id": "lint", "tool": "lint", "tasks": ["Lint"]}
        ]}"#,
    );
    t.run(&ws, "nc3", 1).assert_ok();
    let status = t.status("nc3");
    let base = t.git(&["rev-parse", "main"]);
    for s in status["steps"].as_array().unwrap() {
        assert_eq!(s["status"], "completed", "{s:#}");
        assert_eq!(s["attempts"], 1, "{s:#}");
    }
    // Nothing changed: no step has a diff.
    for step in ["ws/review", "ws/check", "ws/lint"] {
        let names = t
            .pipeline(&["diff", "nc3", step, "--name-only"])
            .assert_ok()
            .stdout();
        assert_eq!(names, "", "{step}");
    }
    assert_eq!(
        t.git(&["rev-parse", "pipeline/nc3^{tree}"]),
        t.git(&["rev-parse", &format!("{base}^{{tree}}")])
    );
    // `allow_empty` is part of the format.
    t.pipeline(&["validate", ws.to_str().unwrap(), "--strict"])
        .assert_ok();
    let bad = t.workstream(
        "bad.json",
        r#"{"id": "x", "command": "true", "allow_empty": "yes"}"#,
    );
    t.pipeline(&["validate", bad.to_str().unwrap()])
        .assert_code(2);
}

/// A text-only reply: the tool answers and changes nothing.
fn says_only(api: Api) -> Scripted {
    match api {
        Api::OpenAiResponses => Scripted::Reply(json!({"text": "Nothing needs to change.",
            "usage": {"input_tokens": 50, "cached_tokens": 0, "output_tokens": 5}})),
        Api::AnthropicMessages => Scripted::Reply(json!({"text": "Nothing needs to change.",
            "usage": {"input_tokens": 50, "output_tokens": 5}})),
        Api::OpenAiChat => Scripted::Reply(json!({"content": "Nothing needs to change.",
            "usage": {"prompt_tokens": 500, "completion_tokens": 5}})),
    }
}

#[test]
fn codex_changing_nothing_gets_a_fix_prompt_then_its_patch_lands() {
    let Some(bin) = crate::ai_codex::codex_bin() else {
        return;
    };
    let server = FakeModelServer::start().expect("fake server starts");
    server.script(
        Api::OpenAiResponses,
        [
            says_only(Api::OpenAiResponses),
            Scripted::Reply(json!({"apply_patch": "*** Begin Patch\n*** Add File: hello.txt\n+hello from codex\n*** End Patch\n"})),
            Scripted::Reply(json!({"text": "Created hello.txt."})),
        ],
    );
    let t = crate::ai_codex::codex_profile(&bin, &server)
        .key("PIPELINE_TEST_CODEX_KEY", crate::ai_codex::KEY)
        .test();
    let ws = edit_step(
        &t,
        "codex",
        "Greet",
        &["Create hello.txt saying hello"],
        &["hello.txt"],
        r#", "fix_attempts": 1"#,
    );
    t.run(&ws, "cxn", 1).assert_ok();
    let step = t.step_status("cxn", "edit");
    assert_eq!(step["status"], "completed", "{step:#}");
    assert_eq!(step["attempts"], 2, "{step:#}");
    let fixes = t.events("cxn", "edit", "fix_requested");
    assert_eq!(fixes.len(), 1, "{fixes:?}");
    assert!(
        fixes[0]["reason"]
            .as_str()
            .unwrap_or_default()
            .starts_with("no_change: tool `codex`"),
        "{fixes:?}"
    );
    // The second attempt's request carried the fix prompt.
    let requests = server.requests();
    let second = requests[1].body["input"].to_string();
    assert!(
        second.contains("The previous attempt changed nothing"),
        "{second}"
    );
    assert_eq!(
        t.show("pipeline/cxn", "hello.txt").as_deref(),
        Some("hello from codex\n")
    );
    // The attempt that changed nothing still counts its tokens.
    assert_eq!(
        step["attempt_usage"][0]["usage"]["input_tokens"], 50,
        "{step:#}"
    );
}

#[test]
fn claude_changing_nothing_fails_with_no_change() {
    let Some(bin) = crate::ai_claude::claude_bin() else {
        return;
    };
    let server = FakeModelServer::start().expect("fake server starts");
    server.script(Api::AnthropicMessages, [says_only(Api::AnthropicMessages)]);
    let t = CliProfile::new("claude", &bin, crate::ai_claude::MODEL, server.base_url())
        .key("PIPELINE_TEST_CLAUDE_KEY", crate::ai_claude::KEY)
        .env("CLAUDE_CODE_MAX_RETRIES", "0")
        .test();
    let ws = edit_step(
        &t,
        "claude",
        "Greet",
        &["Create hello.txt saying hello"],
        &["hello.txt"],
        "",
    );
    t.run(&ws, "cln", 1).assert_code(1);
    let step = t.step_status("cln", "edit");
    assert_eq!(step["status"], "failed", "{step:#}");
    assert_eq!(step["attempts"], 1, "{step:#}");
    assert_eq!(step["last_error"]["plugin"], "no_change", "{step:#}");
    let error = step["error"].as_str().unwrap_or_default();
    assert!(error.starts_with("no_change: tool `claude`"), "{error}");
}

#[test]
fn aider_changing_nothing_completes_with_allow_empty() {
    let Some(bin) = crate::ai_aider::aider_bin() else {
        return;
    };
    let server = FakeModelServer::start().expect("fake server starts");
    server.script(Api::OpenAiChat, [says_only(Api::OpenAiChat)]);
    let t = CliProfile::new(
        "aider",
        &bin,
        "fake-model",
        format!("{}/v1", server.base_url()),
    )
    .key("PIPELINE_TEST_AIDER_KEY", crate::ai_aider::KEY)
    .test();
    t.commit_file("hello.py", crate::ai_aider::ORIGINAL);
    let ws = edit_step(
        &t,
        "aider",
        "Review",
        &["Check greet()"],
        &["hello.py"],
        r#", "allow_empty": true"#,
    );
    t.run(&ws, "adn", 1).assert_ok();
    let step: Value = t.step_status("adn", "edit");
    assert_eq!(step["status"], "completed", "{step:#}");
    assert_eq!(step["attempts"], 1, "{step:#}");
    let names = t
        .pipeline(&["diff", "adn", "edit", "--name-only"])
        .assert_ok()
        .stdout();
    assert_eq!(names, "");
}
