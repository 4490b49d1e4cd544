//! The tool registry with a real AI CLI (the Codex CLI against the fake model server):
//! `max_concurrent: 1` keeps two steps' tool runs from overlapping, and a capability
//! request falls back past a profile whose command is not installed.

use fake_model_server::{Api, FakeModelServer, Scripted};
use serde_json::json;

use crate::ai_codex::{codex_bin, codex_profile};
use crate::support::Test;

const KEY: &str = "sk-pipeline-test-registry-0123456789";

/// A test repository whose `codex` profile runs `bin` against `server`, with `extra`
/// YAML lines after the profile.
fn setup(bin: &std::path::Path, server: &FakeModelServer, extra: &str) -> Test {
    codex_profile(bin, server)
        .key("PIPELINE_TEST_REGISTRY_KEY", KEY)
        .extra(extra)
        .test()
}

fn answer(text: &str) -> Scripted {
    Scripted::Reply(json!({"text": text, "usage": {"input_tokens": 10, "output_tokens": 2}}))
}

#[test]
fn max_concurrent_one_serialises_real_codex_runs() {
    let Some(bin) = codex_bin() else { return };
    let server = FakeModelServer::start().unwrap();
    // Each run makes two model requests (a shell call, then its answer), so interleaved
    // runs would show as alternating requests.
    let shell = || {
        Scripted::Reply(
            json!({"exec_command": "true", "usage": {"input_tokens": 10, "output_tokens": 2}}),
        )
    };
    server.script(
        Api::OpenAiResponses,
        [shell(), answer("done"), shell(), answer("done")],
    );
    let t = setup(&bin, &server, "    max_concurrent: 1\n");
    let ws = t.workstream(
        "ws.json",
        // The tool only answers: changing nothing is the expected result.
        r#"[{"id": "alpha", "tool": "codex", "tasks": ["Say hello for ALPHA-STEP"], "allow_empty": true},
            {"id": "beta", "tool": "codex", "tasks": ["Say hello for BETA-STEP"], "allow_empty": true}]"#,
    );
    t.run(&ws, "mc", 2).assert_ok();
    // Which step each model request came from, in the order the server received them.
    let order: Vec<&str> = server
        .requests()
        .iter()
        .filter(|r| r.api == Api::OpenAiResponses)
        .map(|r| {
            let body = r.body.to_string();
            if body.contains("ALPHA-STEP") {
                "alpha"
            } else if body.contains("BETA-STEP") {
                "beta"
            } else {
                "?"
            }
        })
        .collect();
    assert!(order.len() >= 4 && !order.contains(&"?"), "{order:?}");
    let first = order[0];
    let switch = order
        .iter()
        .position(|s| *s != first)
        .unwrap_or(order.len());
    assert!(
        order[switch..].iter().all(|s| *s != first),
        "the two codex runs interleaved: {order:?}"
    );
    let waits: usize = ["alpha", "beta"]
        .iter()
        .map(|s| t.step_status("mc", s)["attempts"].as_u64().unwrap() as usize)
        .sum();
    assert_eq!(waits, 2);
}

#[test]
fn a_capability_request_falls_back_when_the_first_tool_is_missing() {
    let Some(bin) = codex_bin() else { return };
    let server = FakeModelServer::start().unwrap();
    server.script(Api::OpenAiResponses, [answer("generated")]);
    let t = setup(
        &bin,
        &server,
        "    capabilities: [code_generation]\n    priority: 50\n  codex-nightly:\n    kind: codex\n    command: /nonexistent/bin/codex-nightly\n    capabilities: [code_generation]\n    priority: 100\n",
    );
    let ws = t.workstream(
        "ws.json",
        r#"{"id": "gen", "capability": "code_generation", "tasks": ["Generate nothing"], "allow_empty": true}"#,
    );
    t.run(&ws, "capfb", 1).assert_ok();
    let sel = t.events("capfb", "gen", "tool_selected");
    assert_eq!(sel[0]["tool"], "codex", "{sel:?}");
    assert_eq!(sel[0]["requested"], "codex-nightly");
    let skipped: Vec<&str> = sel[0]["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(
        skipped
            .iter()
            .any(|s| s.starts_with("codex-nightly:") && s.contains("not installed")),
        "{skipped:?}"
    );
}
