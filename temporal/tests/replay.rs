//! Determinism of the `pipeline-run` workflow: recorded histories replay through the
//! current workflow code with the SDK's replayer (no server needed).
//!
//! Fixtures: `tests/fixtures/temporal/*.history.json` at the workspace root, recorded
//! from a real run by the end-to-end test `a_twenty_step_dag_on_two_workers_equals_the_
//! local_run` with `PIPELINE_RECORD_TEMPORAL_HISTORY=1` (the SDK's history JSON). A second test changes the recorded input so that the workflow decides
//! differently, and checks that the replayer reports it: the replay is a real check.

use std::path::PathBuf;

use base64::Engine as _;
use pipeline_temporal::history::replay_history_json;

fn fixtures() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/temporal");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.to_string_lossy().ends_with(".history.json"))
        .collect();
    files.sort();
    assert!(
        !files.is_empty(),
        "no recorded history in {}",
        dir.display()
    );
    files
}

#[tokio::test]
async fn recorded_histories_replay_without_nondeterminism() {
    for file in fixtures() {
        let bytes = std::fs::read(&file).expect("read fixture");
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            text.matches("run_step").count() >= 2,
            "{}: the history schedules steps",
            file.display()
        );
        replay_history_json(&bytes)
            .await
            .unwrap_or_else(|e| panic!("{} does not replay: {e}", file.display()));
    }
}

/// Sets `jobs` to 1 in the recorded input: the workflow then schedules one step at a time
/// where the history shows several at once, which the replayer must reject.
#[tokio::test]
async fn a_history_the_workflow_would_not_produce_is_rejected() {
    let file = fixtures().remove(0);
    let mut doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&file).expect("read")).expect("JSON");
    let started = &mut doc["events"][0]["attributes"]["WorkflowExecutionStartedEventAttributes"];
    let payload = &mut started["input"]["payloads"][0]["data"];
    let b64 = base64::engine::general_purpose::STANDARD;
    let raw = b64
        .decode(payload.as_str().expect("payload data is base64 text"))
        .expect("base64");
    let mut plan: serde_json::Value = serde_json::from_slice(&raw).expect("input is JSON");
    assert!(
        plan["jobs"].as_u64().expect("jobs") > 1,
        "the fixture ran with --jobs > 1"
    );
    plan["jobs"] = 1.into();
    *payload = b64.encode(serde_json::to_vec(&plan).expect("JSON")).into();
    let tampered = serde_json::to_vec(&doc).expect("JSON");
    let replayed = replay_history_json(&tampered).await;
    let error = replayed.expect_err("a changed schedule must not replay");
    assert!(
        !error.starts_with("bad history"),
        "the tampered history still decodes: {error}"
    );
}
