//! The `stalled` class: a tool the supervisor stopped because it printed nothing and used
//! no CPU for its stall timeout is classified `stalled` by the `exit-status` fallback,
//! named so in manifests and reports, and retried like a transient failure.

use pipeline_error::{
    AttemptFailure, Decision, ErrorClass, PluginManager, RetryPolicy, RetrySettings, Termination,
    decide,
};
use std::time::Duration;

use crate::support::t0;

fn stalled_failure(tool: &str, kind: &str, output: &str) -> AttemptFailure {
    AttemptFailure::new(tool, tool, Termination::Stalled, output)
        .with_kind(kind)
        .finished_at(t0())
}

#[test]
fn a_stalled_attempt_is_classified_stalled_by_the_fallback() {
    let manager = PluginManager::builtin();
    for (tool, kind, output) in [
        ("shell", "custom", "starting the migration\n"),
        (
            "aider",
            "aider",
            "Aider v0.86.2\nMain model: openai/fake-model\n",
        ),
        (
            "codex",
            "codex",
            "{\"type\":\"thread.started\",\"thread_id\":\"t1\"}\n",
        ),
        (
            "claude",
            "claude",
            "{\"type\":\"system\",\"subtype\":\"init\"}\n",
        ),
    ] {
        let report = manager.classify(&stalled_failure(tool, kind, output));
        assert_eq!(report.class, ErrorClass::Stalled, "{tool}: {report:?}");
        assert_eq!(report.plugin, "exit-status", "{tool}");
        assert!(report.summary.contains("stalled"), "{}", report.summary);
    }
}

#[test]
fn stalled_is_a_named_class_of_manifests_and_reports() {
    assert!(ErrorClass::NAMES.contains(&"stalled"));
    assert_eq!(ErrorClass::from_name("stalled"), Some(ErrorClass::Stalled));
    assert_eq!(ErrorClass::Stalled.name(), "stalled");
    assert_eq!(ErrorClass::Stalled.to_string(), "stalled");
    let json = serde_json::to_string(&ErrorClass::Stalled).expect("serialises");
    assert_eq!(json, r#"{"kind":"stalled"}"#);
    let back: ErrorClass = serde_json::from_str(&json).expect("parses");
    assert_eq!(back, ErrorClass::Stalled);
    assert_eq!(
        serde_json::to_string(&Termination::Stalled).expect("serialises"),
        r#"{"kind":"stalled"}"#
    );
}

#[test]
fn a_stall_is_retried_like_a_transient_failure() {
    let policy = RetryPolicy::from_settings(&RetrySettings {
        max_attempts: Some(2),
        jitter: Some(false),
        ..Default::default()
    })
    .expect("valid settings");
    let manager = PluginManager::builtin();
    let report = manager.classify(&stalled_failure("shell", "custom", ""));
    assert!(report.class.is_retryable());
    assert_eq!(
        decide(&policy, &Default::default(), &report, t0()),
        Decision::Retry {
            after: Duration::from_secs(1)
        }
    );
}

#[test]
fn a_stall_stays_stalled_whatever_a_plugin_reads_in_the_output_before_it() {
    // Codex's JSONL up to a model request that never got an answer (captured from a
    // stalled `codex exec --json` here): the codex plugin reads its `error` item as a
    // permanent failure, but the attempt ended because it stalled.
    let output = concat!(
        "{\"type\":\"thread.started\",\"thread_id\":\"01a24b55-a503-7592-8d46-a816e9d1f234\"}\n",
        "{\"type\":\"item.completed\",\"item\":{\"id\":\"item_0\",\"type\":\"error\",\"message\":\"Model metadata for `gpt-fake` not found. Defaulting to fallback metadata; this can degrade performance and cause issues.\"}}\n",
        "{\"type\":\"turn.started\"}\n",
    );
    let manager = PluginManager::builtin();
    let exited = manager.classify(
        &AttemptFailure::new("codex", "codex", Termination::Exited(1), output)
            .with_kind("codex")
            .finished_at(t0()),
    );
    assert_eq!(exited.class, ErrorClass::Permanent, "{exited:?}");
    let stalled = manager.classify(&stalled_failure("codex", "codex", output));
    assert_eq!(stalled.class, ErrorClass::Stalled, "{stalled:?}");
    assert!(
        stalled.summary.starts_with("stalled"),
        "{}",
        stalled.summary
    );
    assert!(
        stalled.summary.contains(&exited.summary),
        "the plugin's words are kept: {}",
        stalled.summary
    );
    assert_ne!(stalled.signature, exited.signature);
}
