//! Retry settings, backoff delays and the retry decision.

use backon::{BackoffBuilder, Retryable};
use pipeline_error::{
    Decision, ErrorClass, ErrorReport, GiveUpReason, History, PastAttempt, RetryPolicy,
    RetrySettings, WorkstreamErrorBlocks, decide,
};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use crate::support::t0;

fn report(class: ErrorClass, signature: &str, fingerprint: &str) -> ErrorReport {
    ErrorReport {
        class,
        plugin: "test".into(),
        signature: signature.into(),
        normalized: String::new(),
        summary: "failed".into(),
        diagnostics: Vec::new(),
        output_hash: fingerprint.into(),
        diff_hash: None,
        plugin_failures: Vec::new(),
    }
}

fn no_jitter(settings: RetrySettings) -> RetryPolicy {
    RetryPolicy::from_settings(&RetrySettings {
        jitter: Some(false),
        ..settings
    })
    .expect("valid settings")
}

fn history(entries: &[(&str, &str)]) -> History {
    History {
        attempts: entries
            .iter()
            .map(|(signature, fingerprint)| PastAttempt {
                signature: (*signature).into(),
                fingerprint: (*fingerprint).into(),
            })
            .collect(),
    }
}

#[test]
fn original_blocks_of_example_03_are_honoured() {
    // A copy of conformance/caidp-workstreams/examples/03_error_handling.json.
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/workstreams/03_error_handling.json"
    ))
    .expect("example 03");
    let workstream: serde_json::Value = serde_json::from_str(&text).expect("json");
    let blocks = WorkstreamErrorBlocks::from_json(
        workstream.get("retry"),
        workstream.get("circuit_breaker"),
    )
    .expect("valid blocks");
    assert_eq!(blocks.retry.enabled, Some(true));
    assert_eq!(blocks.retry.initial_delay, Some(1.0));
    assert_eq!(blocks.retry.max_delay, Some(60.0));
    assert_eq!(blocks.retry.jitter, Some(true));
    assert_eq!(blocks.retry.max_attempts, Some(5));
    assert_eq!(blocks.retry.max_error_repeats, Some(3));
    assert_eq!(blocks.cooldown, Some(Duration::from_secs(30)));
    assert_eq!(
        blocks.not_interpreted,
        [
            "circuit_breaker.error_patterns",
            "circuit_breaker.escalation_strategy"
        ]
    );
    let policy = RetryPolicy::from_settings(&blocks.retry).expect("valid policy");
    assert_eq!(policy.max_attempts(), 5);
    assert_eq!(policy.max_error_repeats(), Some(3));
    assert!(policy.jitter());
}

#[test]
fn bad_blocks_name_the_field() {
    let cases = [
        (
            serde_json::json!({"initial_delay": -1}),
            "retry.initial_delay",
            "negative",
        ),
        (
            serde_json::json!({"max_delay": "soon"}),
            "retry.max_delay",
            "number of seconds",
        ),
        (
            serde_json::json!({"strategy": "linear"}),
            "retry.strategy",
            "exponential",
        ),
        (
            serde_json::json!({"enabled": "yes"}),
            "retry.enabled",
            "true or false",
        ),
    ];
    for (retry, field, words) in cases {
        let error = WorkstreamErrorBlocks::from_json(Some(&retry), None).expect_err("invalid");
        assert_eq!(error.field, field);
        assert!(error.to_string().contains(words), "{error}");
    }
    let error =
        WorkstreamErrorBlocks::from_json(None, Some(&serde_json::json!({"max_attempts": 0})))
            .expect_err("invalid");
    assert_eq!(error.field, "circuit_breaker.max_attempts");
}

#[test]
fn invalid_settings_name_the_field() {
    let cases = [
        (
            RetrySettings {
                initial_delay: Some(-0.5),
                ..Default::default()
            },
            "initial_delay",
        ),
        (
            RetrySettings {
                initial_delay: Some(10.0),
                max_delay: Some(5.0),
                ..Default::default()
            },
            "max_delay",
        ),
        (
            RetrySettings {
                max_attempts: Some(0),
                ..Default::default()
            },
            "max_attempts",
        ),
        (
            RetrySettings {
                multiplier: Some(0.5),
                ..Default::default()
            },
            "multiplier",
        ),
        (
            RetrySettings {
                oscillation_window: Some(1),
                ..Default::default()
            },
            "oscillation_window",
        ),
    ];
    for (settings, field) in cases {
        let error = RetryPolicy::from_settings(&settings).expect_err("invalid");
        assert_eq!(error.field, field, "{error}");
    }
}

#[test]
fn step_settings_override_tool_settings_field_by_field() {
    let tool = RetrySettings {
        max_attempts: Some(6),
        initial_delay: Some(2.0),
        ..Default::default()
    };
    let step = RetrySettings {
        max_attempts: Some(2),
        ..Default::default()
    };
    let merged = tool.overlay(&step);
    assert_eq!(merged.max_attempts, Some(2));
    assert_eq!(merged.initial_delay, Some(2.0));
    let yaml: RetrySettings =
        serde_norway::from_str("max_attempts: 4\ninitial_delay: 0.5\njitter: false\n")
            .expect("yaml");
    assert_eq!(yaml.max_attempts, Some(4));
    assert!(
        serde_norway::from_str::<RetrySettings>("max_atempts: 4\n").is_err(),
        "unknown fields are rejected"
    );
}

#[test]
fn exponential_delays_grow_and_are_capped() {
    let policy = no_jitter(RetrySettings {
        initial_delay: Some(1.0),
        max_delay: Some(10.0),
        ..Default::default()
    });
    let delays: Vec<u64> = (1..=6).map(|n| policy.delay_for(n).as_secs()).collect();
    assert_eq!(delays, [1, 2, 4, 8, 10, 10]);
    let fixed = no_jitter(RetrySettings {
        multiplier: Some(1.0),
        initial_delay: Some(3.0),
        ..Default::default()
    });
    assert_eq!(fixed.delay_for(4), Duration::from_secs(3));
}

#[test]
fn jitter_stays_within_one_delay_and_is_reproducible_with_a_seed() {
    let policy = RetryPolicy::from_settings(&RetrySettings {
        initial_delay: Some(2.0),
        ..Default::default()
    })
    .expect("valid")
    .with_jitter_seed(42);
    for attempt in 1..=4 {
        let base = Duration::from_secs(2u64 << (attempt - 1));
        let delay = policy.delay_for(attempt);
        assert!(
            delay >= base && delay < base * 2,
            "attempt {attempt}: {delay:?}"
        );
        assert_eq!(delay, policy.delay_for(attempt));
    }
}

#[tokio::test(start_paused = true)]
async fn backoff_builder_drives_backon_on_the_paused_clock() {
    let policy = no_jitter(RetrySettings {
        initial_delay: Some(1.0),
        ..Default::default()
    });
    let calls = AtomicU32::new(0);
    let start = tokio::time::Instant::now();
    let result = (|| async {
        if calls.fetch_add(1, Ordering::SeqCst) < 2 {
            Err("transient")
        } else {
            Ok("done")
        }
    })
    .retry(policy.backoff_builder().with_max_times(5))
    .sleep(tokio::time::sleep)
    .await;
    assert_eq!(result, Ok("done"));
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    // 1 s then 2 s of virtual time: two growing delays, no real sleeping.
    assert_eq!(start.elapsed(), Duration::from_secs(3));
    let _ = policy.backoff_builder().build();
}

#[test]
fn transient_failures_retry_with_growing_delays_until_max_attempts() {
    let policy = no_jitter(RetrySettings {
        max_attempts: Some(3),
        max_error_repeats: Some(0),
        ..Default::default()
    });
    let failure = report(ErrorClass::Transient, "sig", "out");
    assert_eq!(
        decide(&policy, &History::new(), &failure, t0()),
        Decision::Retry {
            after: Duration::from_secs(1)
        }
    );
    assert_eq!(
        decide(&policy, &history(&[("sig", "out")]), &failure, t0()),
        Decision::Retry {
            after: Duration::from_secs(2)
        }
    );
    assert_eq!(
        decide(
            &policy,
            &history(&[("sig", "out"), ("sig", "out")]),
            &failure,
            t0()
        ),
        Decision::GiveUp {
            reason: GiveUpReason::AttemptsExhausted { attempts: 3 }
        }
    );
}

#[test]
fn permanent_and_conflict_never_retry() {
    let policy = RetryPolicy::default();
    for class in [ErrorClass::Permanent, ErrorClass::Conflict] {
        let decision = decide(
            &policy,
            &History::new(),
            &report(class.clone(), "s", "o"),
            t0(),
        );
        assert_eq!(
            decision,
            Decision::GiveUp {
                reason: GiveUpReason::NotRetryable {
                    class: class.name().into()
                }
            }
        );
    }
    for class in [
        ErrorClass::Timeout,
        ErrorClass::Infrastructure,
        ErrorClass::rate_limited(),
    ] {
        assert!(matches!(
            decide(&policy, &History::new(), &report(class, "s", "o"), t0()),
            Decision::Retry { .. }
        ));
    }
}

#[test]
fn disabled_retries_give_up() {
    let policy = RetryPolicy::from_settings(&RetrySettings {
        enabled: Some(false),
        ..Default::default()
    })
    .expect("valid");
    assert_eq!(
        decide(
            &policy,
            &History::new(),
            &report(ErrorClass::Transient, "s", "o"),
            t0()
        ),
        Decision::GiveUp {
            reason: GiveUpReason::RetriesDisabled
        }
    );
}

#[test]
fn rate_limits_wait_for_the_reset_when_known() {
    let policy = no_jitter(RetrySettings::default());
    let reset = t0() + Duration::from_secs(20);
    let limited = report(
        ErrorClass::RateLimited {
            reset_at: Some(reset),
            retry_after: Some(Duration::from_secs(20)),
        },
        "s",
        "o",
    );
    assert_eq!(
        decide(&policy, &History::new(), &limited, t0()),
        Decision::WaitUntil(reset)
    );
    // A reset already past: back off normally.
    assert_eq!(
        decide(
            &policy,
            &History::new(),
            &limited,
            reset + Duration::from_secs(1)
        ),
        Decision::Retry {
            after: Duration::from_secs(1)
        }
    );
}

#[test]
fn the_same_signature_repeated_stops_retrying() {
    let policy = no_jitter(RetrySettings {
        max_attempts: Some(10),
        max_error_repeats: Some(3),
        ..Default::default()
    });
    let failure = report(ErrorClass::Transient, "same", "o3");
    assert!(matches!(
        decide(
            &policy,
            &history(&[("same", "o1"), ("other", "o2")]),
            &failure,
            t0()
        ),
        Decision::Retry { .. }
    ));
    assert_eq!(
        decide(
            &policy,
            &history(&[("same", "o1"), ("other", "o2"), ("same", "o4")]),
            &failure,
            t0()
        ),
        Decision::GiveUp {
            reason: GiveUpReason::ErrorRepeated {
                signature: "same".into(),
                times: 3
            }
        }
    );
}

#[test]
fn oscillation_is_a_fingerprint_coming_back_after_a_change() {
    let policy = no_jitter(RetrySettings {
        max_attempts: Some(10),
        max_error_repeats: Some(0),
        oscillation_threshold: Some(2),
        oscillation_window: Some(4),
        ..Default::default()
    });
    // A B A: oscillation.
    let mut current = report(ErrorClass::Transient, "s", "A");
    assert_eq!(
        decide(&policy, &history(&[("s", "A"), ("s", "B")]), &current, t0()),
        Decision::GiveUp {
            reason: GiveUpReason::Oscillation {
                fingerprint: "A".into(),
                times: 2,
                window: 4
            }
        }
    );
    // A A: a plain repeat, left to max_error_repeats.
    assert!(matches!(
        decide(&policy, &history(&[("s", "A")]), &current, t0()),
        Decision::Retry { .. }
    ));
    // A B C D A: the first A has left the window of 4.
    assert!(matches!(
        decide(
            &policy,
            &history(&[("s", "A"), ("s", "B"), ("s", "C"), ("s", "D")]),
            &current,
            t0()
        ),
        Decision::Retry { .. }
    ));
    // The executor's diff hash takes precedence over the output hash.
    current.diff_hash = Some("B".into());
    assert!(matches!(
        decide(&policy, &history(&[("s", "B"), ("s", "C")]), &current, t0()),
        Decision::GiveUp { .. }
    ));
    // Threshold 0 turns detection off.
    let off = no_jitter(RetrySettings {
        max_attempts: Some(10),
        max_error_repeats: Some(0),
        oscillation_threshold: Some(0),
        ..Default::default()
    });
    assert!(matches!(
        decide(&off, &history(&[("s", "B"), ("s", "C")]), &current, t0()),
        Decision::Retry { .. }
    ));
}

#[test]
fn decisions_serialise_for_the_event_log() {
    let json = serde_json::to_value(Decision::Retry {
        after: Duration::from_millis(1500),
    })
    .expect("serialise");
    assert_eq!(
        json,
        serde_json::json!({"kind": "retry", "value": {"after": 1.5}})
    );
    let json = serde_json::to_value(Decision::WaitUntil(t0())).expect("serialise");
    assert_eq!(
        json,
        serde_json::json!({"kind": "wait_until", "value": "2026-11-21T05:00:00.000Z"})
    );
}
