//! Usage and cost end to end (docs/COSTS.md): the real Codex CLI, Claude Code and Aider
//! run against the fake model server in one run, and what they report shows up per
//! attempt, per step and per run in `status --json`, the `attempt_finished` events,
//! `runs --json`, `pipeline usage` (totals, `--by step|tool|model`, the most expensive
//! steps), the status table and the JUnit properties. Codex reports tokens only: its
//! cost is estimated from the built-in price table (`gpt-5.5`) and marked so; Claude
//! Code reports its own cost, which is kept; Aider on a model without a price has no
//! cost and says why, until `prices:` in `.pipeline/config.yaml` gives one.
//!
//! The CLIs are found as in `ai_codex`, `ai_claude` and `ai_aider`: without them the
//! tests print a loud SKIP and pass, except under `CI=true`, where they fail.

use std::path::{Path, PathBuf};

use fake_model_server::{Api, FakeModelServer, Scripted};
use serde_json::{Value, json};

use crate::ai_cli::CliProfile;
use crate::support::Test;

/// The built-in price of `gpt-5.5` (config/prices.yaml): input, cached input, output,
/// US dollars per million tokens.
const GPT_5_5: (f64, f64, f64) = (5.0, 0.5, 30.0);

/// Codex's turn: one `apply_patch` adding `codex.txt`, then a message; each of the two
/// requests reports 100 input tokens (20 cached) and 7 output tokens.
fn codex_turn() -> Vec<Scripted> {
    let usage = json!({"input_tokens": 100, "cached_tokens": 20, "output_tokens": 7});
    vec![
        Scripted::Reply(json!({
            "apply_patch": "*** Begin Patch\n*** Add File: codex.txt\n+from codex\n*** End Patch\n",
            "usage": usage,
        })),
        Scripted::Reply(json!({"text": "Created codex.txt.", "usage": usage})),
    ]
}

/// `.pipeline/config.yaml` text: the `codex`, `claude` and `aider` profiles pointing the
/// installed CLIs at `server`, then `extra` (more top-level sections).
fn profiles(
    server: &FakeModelServer,
    codex: &Path,
    claude: &Path,
    aider: &Path,
    extra: &str,
) -> String {
    let v1 = format!("{}/v1", server.base_url());
    let codex = crate::ai_codex::codex_profile(codex, server)
        .key("PIPELINE_TEST_CODEX_KEY", crate::ai_codex::KEY)
        .yaml();
    let claude = CliProfile::new("claude", claude, crate::ai_claude::MODEL, server.base_url())
        .key("PIPELINE_TEST_CLAUDE_KEY", crate::ai_claude::KEY)
        .env("CLAUDE_CODE_MAX_RETRIES", "0")
        .yaml();
    let aider = CliProfile::new("aider", aider, "fake-model", v1)
        .key("PIPELINE_TEST_AIDER_KEY", crate::ai_aider::KEY)
        .args(&["--edit-format", "whole"])
        .yaml();
    let without_header = |yaml: String| {
        yaml.strip_prefix("tools:\n")
            .expect("a profile's YAML starts with tools:")
            .to_owned()
    };
    format!(
        "{codex}{}{}{extra}",
        without_header(claude),
        without_header(aider)
    )
}

/// The three CLIs, or `None` (after printing why) when the test must be skipped.
fn clis() -> Option<(PathBuf, PathBuf, PathBuf)> {
    Some((
        crate::ai_codex::codex_bin()?,
        crate::ai_claude::claude_bin()?,
        crate::ai_aider::aider_bin()?,
    ))
}

/// The workstream `usage` of three steps: `codex` adds `codex.txt`, `claude` writes
/// `hello.txt` and `greeting.md`, `aider` edits `hello.py`.
fn three_steps(t: &Test) -> PathBuf {
    t.commit_file("hello.py", crate::ai_aider::ORIGINAL);
    t.workstream(
        "usage.json",
        r#"{"id": "usage", "steps": [
            {"id": "codex", "tool": "codex", "description": "Add codex.txt",
             "tasks": ["Create codex.txt"], "files_scope": ["codex.txt"]},
            {"id": "claude", "tool": "claude", "description": "Greet the world",
             "tasks": ["Create hello.txt saying hello"], "files_scope": ["hello.txt", "greeting.md"]},
            {"id": "aider", "tool": "aider", "description": "Greet the whole world",
             "tasks": ["Make greet() return hello, world"], "files_scope": ["hello.py"]}
        ]}"#,
    )
}

fn step<'a>(status: &'a Value, id: &str) -> &'a Value {
    status["steps"]
        .as_array()
        .and_then(|steps| steps.iter().find(|s| s["id"] == id))
        .unwrap_or_else(|| panic!("no step {id} in {status:#}"))
}

fn cost(v: &Value) -> f64 {
    v["cost_usd"]
        .as_f64()
        .unwrap_or_else(|| panic!("no cost_usd in {v:#}"))
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

#[test]
fn usage_and_cost_per_attempt_step_and_run_from_codex_claude_and_aider() {
    let Some((codex, claude, aider)) = clis() else {
        return;
    };
    let server = FakeModelServer::start().expect("fake server starts");
    server.script(Api::OpenAiResponses, codex_turn());
    server.script(Api::AnthropicMessages, crate::ai_claude::editing_session());
    server.script(Api::OpenAiChat, [crate::ai_aider::whole_file_reply()]);
    let t = Test::new();
    t.config(&profiles(&server, &codex, &claude, &aider, ""));
    let ws = three_steps(&t);
    let junit = t.out.join("junit.xml");
    t.pipeline(&[
        "run",
        ws.to_str().expect("utf-8 path"),
        "--run-id",
        "u1",
        "--jobs",
        "1",
        "--junit",
        junit.to_str().expect("utf-8 path"),
    ])
    .assert_ok();
    let status = t.status("u1");

    // Codex: tokens only, priced from config/prices.yaml and marked estimated, in the
    // attempt (status and journal) and in the step's total.
    let (input, cached, output) = GPT_5_5;
    let codex_cost = ((200.0 - 40.0) * input + 40.0 * cached + 14.0 * output) / 1e6;
    let codex = step(&status, "usage/codex");
    let attempt = &codex["attempt_usage"][0];
    assert_eq!(attempt["attempt"], 1, "{codex:#}");
    assert_eq!(attempt["tool"], "codex", "{codex:#}");
    let usage = &attempt["usage"];
    assert_eq!(usage["model"], "gpt-5.5", "{usage}");
    assert_eq!(usage["input_tokens"], 200, "{usage}");
    assert_eq!(usage["cached_input_tokens"], 40, "{usage}");
    assert_eq!(usage["output_tokens"], 14, "{usage}");
    assert_eq!(usage["estimated"], true, "{usage}");
    assert!(close(cost(usage), codex_cost), "{usage}");
    assert_eq!(codex["usage"]["attempts"], 1, "{codex:#}");
    assert_eq!(codex["usage"]["estimated"], true, "{codex:#}");
    assert!(close(cost(&codex["usage"]), codex_cost), "{codex:#}");
    let journalled = t.events("u1", "usage/codex", "attempt_finished");
    assert_eq!(journalled.len(), 1, "{journalled:?}");
    assert_eq!(journalled[0]["usage"]["estimated"], true, "{journalled:?}");
    assert!(
        close(cost(&journalled[0]["usage"]), codex_cost),
        "{journalled:?}"
    );

    // Claude Code: its own cost, kept and not marked estimated.
    let claude = step(&status, "usage/claude");
    let usage = &claude["attempt_usage"][0]["usage"];
    assert_eq!(usage["model"], crate::ai_claude::MODEL, "{usage}");
    assert_eq!(usage["input_tokens"], 360, "{usage}");
    assert_eq!(usage["requests"], 3, "{usage}");
    assert!(usage.get("estimated").is_none(), "{usage}");
    let claude_cost = cost(usage);
    assert!(claude_cost > 0.0, "{usage}");
    assert_eq!(claude["usage"]["estimated"], false, "{claude:#}");

    // Aider on a model without a price: no cost, and the reason.
    let aider = step(&status, "usage/aider");
    let usage = &aider["attempt_usage"][0]["usage"];
    assert_eq!(usage["model"], "openai/fake-model", "{usage}");
    assert_eq!(usage["input_tokens"], 1200, "{usage}");
    assert!(usage["cost_usd"].is_null(), "{usage}");
    let why = usage["cost_unknown"].as_str().unwrap_or_default();
    assert!(
        why.contains("no price for model `openai/fake-model`"),
        "{why}"
    );
    assert!(aider["usage"]["cost_usd"].is_null(), "{aider:#}");
    assert_eq!(aider["usage"]["unpriced_attempts"], 1, "{aider:#}");

    // The run's total: every token, the known costs, one unpriced attempt.
    let total = &status["usage"];
    assert_eq!(total["attempts"], 3, "{total}");
    assert_eq!(total["input_tokens"], 200 + 360 + 1200, "{total}");
    assert_eq!(total["output_tokens"], 14 + 21 + 56, "{total}");
    assert_eq!(total["estimated"], true, "{total}");
    assert_eq!(total["unpriced_attempts"], 1, "{total}");
    assert!(close(cost(total), codex_cost + claude_cost), "{total}");

    // `runs --json` carries the same total.
    let runs: Value =
        serde_json::from_str(&t.pipeline(&["runs", "--json"]).assert_ok().stdout()).unwrap();
    assert_eq!(runs[0]["run_id"], "u1");
    assert_eq!(&runs[0]["usage"], total, "{runs:#}");

    // The status table: a cost column and the run's total.
    let text = t.pipeline(&["status", "u1"]).assert_ok().stdout();
    assert!(text.contains("COST"), "{text}");
    assert!(text.contains("(estimated)"), "{text}");
    assert!(text.contains("unpriced"), "{text}");
    assert!(
        text.contains("usage: 1,760 input tokens"),
        "the run's total under the steps:\n{text}"
    );

    // `pipeline usage`: totals, groups and the most expensive steps.
    let report: Value =
        serde_json::from_str(&t.pipeline(&["usage", "u1", "--json"]).assert_ok().stdout()).unwrap();
    assert_eq!(&report["total"], total, "{report:#}");
    assert_eq!(report["by"], "step");
    let keys = |report: &Value| -> Vec<String> {
        let mut keys: Vec<String> = report["groups"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["key"].as_str().unwrap().to_owned())
            .collect();
        keys.sort();
        keys
    };
    assert_eq!(
        keys(&report),
        ["usage/aider", "usage/claude", "usage/codex"]
    );
    let expensive = report["most_expensive"].as_array().unwrap();
    assert_eq!(
        expensive.len(),
        2,
        "the unpriced step is not listed: {report:#}"
    );
    let first = if claude_cost >= codex_cost {
        "usage/claude"
    } else {
        "usage/codex"
    };
    assert_eq!(expensive[0]["step"], first, "{report:#}");
    let by_tool: Value = serde_json::from_str(
        &t.pipeline(&["usage", "u1", "--by", "tool", "--json"])
            .assert_ok()
            .stdout(),
    )
    .unwrap();
    assert_eq!(keys(&by_tool), ["aider", "claude", "codex"]);
    let by_model: Value = serde_json::from_str(
        &t.pipeline(&["usage", "latest", "--by", "model", "--json"])
            .assert_ok()
            .stdout(),
    )
    .unwrap();
    assert_eq!(
        keys(&by_model),
        ["claude-fake-model", "gpt-5.5", "openai/fake-model"]
    );
    let text = t.pipeline(&["usage", "u1"]).assert_ok().stdout();
    assert!(text.contains("usage/codex"), "{text}");
    assert!(text.contains("most expensive steps:"), "{text}");
    assert!(text.contains("(estimated)"), "{text}");
    assert!(
        text.contains("1 attempt reported tokens for a model without a price"),
        "{text}"
    );

    // JUnit: the step's and the run's usage as properties.
    let xml = std::fs::read_to_string(&junit).expect("the JUnit report");
    assert!(
        xml.contains(r#"<property name="pipeline.usage.cost_estimated" value="true"/>"#),
        "{xml}"
    );
    assert!(
        xml.contains(r#"<property name="pipeline.run.usage.input_tokens" value="1760"/>"#),
        "{xml}"
    );
    assert!(
        xml.contains(r#"<property name="pipeline.usage.unpriced_attempts" value="1"/>"#),
        "{xml}"
    );
}

#[test]
fn a_price_in_the_configuration_estimates_the_cost_of_a_model_the_table_lacks() {
    let Some(bin) = crate::ai_aider::aider_bin() else {
        return;
    };
    let server = FakeModelServer::start().expect("fake server starts");
    server.script(Api::OpenAiChat, [crate::ai_aider::whole_file_reply()]);
    let t = CliProfile::new(
        "aider",
        &bin,
        "fake-model",
        format!("{}/v1", server.base_url()),
    )
    .key("PIPELINE_TEST_AIDER_KEY", crate::ai_aider::KEY)
    .args(&["--edit-format", "whole"])
    .extra("prices:\n  fake-model: {input: 2.0, output: 8.0, source: \"https://example.com/prices\", date: 2026-12-06}\n")
    .test();
    t.commit_file("hello.py", crate::ai_aider::ORIGINAL);
    let ws = crate::ai_cli::edit_step(
        &t,
        "aider",
        "Greet the whole world",
        &["Make greet() return hello, world"],
        &["hello.py"],
        "",
    );
    t.run(&ws, "priced", 1).assert_ok();
    let step = t.step_status("priced", "edit");
    let usage = &step["attempt_usage"][0]["usage"];
    assert_eq!(usage["estimated"], true, "{usage}");
    assert!(usage.get("cost_unknown").is_none(), "{usage}");
    // No cached tokens: 1200 input at $2 and 56 output at $8 per million.
    assert!(
        close(cost(usage), (1200.0 * 2.0 + 56.0 * 8.0) / 1e6),
        "{usage}"
    );
    let report: Value = serde_json::from_str(
        &t.pipeline(&["usage", "priced", "--json"])
            .assert_ok()
            .stdout(),
    )
    .unwrap();
    assert_eq!(report["total"]["unpriced_attempts"], 0, "{report:#}");
    assert_eq!(report["most_expensive"][0]["step"], "edit", "{report:#}");
}

#[test]
fn a_bad_price_is_refused_before_anything_runs() {
    let t = Test::new();
    t.config("prices:\n  my-model:\n    input: -1\n    output: 4\n");
    let ws = t.workstream("ws.json", r#"{"id": "a", "command": "true"}"#);
    let run = t.run(&ws, "bad", 1).assert_code(2);
    let err = run.stderr();
    assert!(err.contains("`prices.my-model.input`"), "{err}");
    assert!(err.contains("0 or more"), "{err}");
    t.pipeline(&["validate", ws.to_str().unwrap()])
        .assert_code(2)
        .assert_stderr_contains("`prices.my-model.input`");
    let typo = Test::new();
    typo.config("prices:\n  my-model: {input: 1, outptu: 4}\n");
    typo.pipeline(&["validate", ws.to_str().unwrap()])
        .assert_code(2)
        .assert_stderr_contains("did you mean `prices.my-model.output`");
}

#[test]
fn a_run_of_commands_has_no_usage_and_says_so() {
    let t = Test::new();
    let ws = t.workstream("ws.json", r#"{"id": "a", "command": "echo a > a.txt"}"#);
    t.run(&ws, "plain", 1).assert_ok();
    let status = t.status("plain");
    assert_eq!(status["usage"]["attempts"], 0, "{status:#}");
    assert!(status["usage"]["cost_usd"].is_null(), "{status:#}");
    assert_eq!(status["steps"][0]["attempt_usage"], json!([]), "{status:#}");
    let text = t.pipeline(&["usage", "plain"]).assert_ok().stdout();
    assert!(
        text.contains("no attempt of this run reported token usage"),
        "{text}"
    );
    let text = t.pipeline(&["status", "plain"]).assert_ok().stdout();
    assert!(text.contains("usage: none reported"), "{text}");
    t.pipeline(&["usage", "nosuchrun"]).assert_code(2);
}
