//! The circuit breaker state machine, exhaustively, and its store.

use pipeline_error::{
    Admission, BreakerConfig, BreakerSettings, BreakerState, BreakerStatus, BreakerStore,
    CircuitBreaker, ErrorClass, InMemoryBreakerStore,
};
use std::time::Duration;

use crate::support::t0;

fn breaker(threshold: u32, cooldown_secs: u64, trials: u32) -> CircuitBreaker {
    CircuitBreaker::new(BreakerConfig {
        failure_threshold: threshold,
        cooldown: Duration::from_secs(cooldown_secs),
        half_open_trials: trials,
    })
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

#[test]
fn closed_admits_and_opens_at_the_threshold_of_consecutive_failures() {
    let cb = breaker(3, 30, 1);
    let mut state = BreakerState::new("aider", t0());
    assert_eq!(cb.admit(&mut state, t0()), Admission::Allowed);
    cb.record_failure(&mut state, &ErrorClass::Transient, "boom", t0());
    cb.record_failure(&mut state, &ErrorClass::Timeout, "slow", t0());
    assert_eq!(state.status, BreakerStatus::Closed);
    cb.record_success(&mut state, t0());
    assert_eq!(state.consecutive_failures, 0, "a success resets the count");
    for _ in 0..2 {
        cb.record_failure(&mut state, &ErrorClass::Transient, "boom", t0());
    }
    assert_eq!(state.status, BreakerStatus::Closed);
    cb.record_failure(
        &mut state,
        &ErrorClass::Infrastructure,
        "disk full",
        t0() + secs(5),
    );
    assert_eq!(state.status, BreakerStatus::Open);
    assert_eq!(state.open_until, Some(t0() + secs(35)));
    assert_eq!(state.times_opened, 1);
    assert_eq!(state.last_error.as_deref(), Some("disk full"));
}

#[test]
fn permanent_and_conflict_failures_do_not_count() {
    let cb = breaker(1, 30, 1);
    let mut state = BreakerState::new("tool", t0());
    cb.record_failure(&mut state, &ErrorClass::Permanent, "compile error", t0());
    cb.record_failure(&mut state, &ErrorClass::Conflict, "conflict", t0());
    assert_eq!(state.status, BreakerStatus::Closed);
    assert_eq!(state.consecutive_failures, 0);
}

#[test]
fn open_rejects_until_the_cooldown_then_admits_a_trial() {
    let cb = breaker(1, 30, 1);
    let mut state = BreakerState::new("tool", t0());
    cb.record_failure(&mut state, &ErrorClass::Transient, "x", t0());
    assert_eq!(
        cb.admit(&mut state, t0() + secs(29)),
        Admission::Rejected {
            until: t0() + secs(30)
        }
    );
    assert_eq!(state.status, BreakerStatus::Open);
    assert_eq!(cb.admit(&mut state, t0() + secs(30)), Admission::Trial);
    assert_eq!(state.status, BreakerStatus::HalfOpen);
    assert_eq!(state.trials_in_flight, 1);
}

#[test]
fn half_open_limits_trials_and_closes_after_enough_successes() {
    let cb = breaker(1, 30, 2);
    let mut state = BreakerState::new("tool", t0());
    cb.record_failure(&mut state, &ErrorClass::Transient, "x", t0());
    let later = t0() + secs(30);
    assert_eq!(cb.admit(&mut state, later), Admission::Trial);
    assert_eq!(cb.admit(&mut state, later), Admission::Trial);
    assert_eq!(
        cb.admit(&mut state, later + secs(1)),
        Admission::Rejected {
            until: later + secs(30)
        }
    );
    cb.record_success(&mut state, later + secs(2));
    assert_eq!(
        state.status,
        BreakerStatus::HalfOpen,
        "one of two required successes"
    );
    cb.record_success(&mut state, later + secs(3));
    assert_eq!(state.status, BreakerStatus::Closed);
    assert_eq!(state.consecutive_failures, 0);
    assert_eq!(cb.admit(&mut state, later + secs(4)), Admission::Allowed);
}

#[test]
fn a_failed_trial_opens_again() {
    let cb = breaker(3, 30, 1);
    let mut state = BreakerState::new("tool", t0());
    for _ in 0..3 {
        cb.record_failure(&mut state, &ErrorClass::Transient, "x", t0());
    }
    assert_eq!(cb.admit(&mut state, t0() + secs(30)), Admission::Trial);
    cb.record_failure(
        &mut state,
        &ErrorClass::Transient,
        "still down",
        t0() + secs(31),
    );
    assert_eq!(state.status, BreakerStatus::Open);
    assert_eq!(state.open_until, Some(t0() + secs(61)));
    assert_eq!(state.times_opened, 2);
}

#[test]
fn a_permanent_trial_result_frees_the_slot_without_closing() {
    let cb = breaker(1, 30, 1);
    let mut state = BreakerState::new("tool", t0());
    cb.record_failure(&mut state, &ErrorClass::Transient, "x", t0());
    assert_eq!(cb.admit(&mut state, t0() + secs(30)), Admission::Trial);
    cb.record_failure(
        &mut state,
        &ErrorClass::Permanent,
        "test failed",
        t0() + secs(31),
    );
    assert_eq!(state.status, BreakerStatus::HalfOpen);
    assert_eq!(cb.admit(&mut state, t0() + secs(32)), Admission::Trial);
}

#[test]
fn an_abandoned_trial_frees_its_slot_after_the_cooldown() {
    let cb = breaker(1, 30, 1);
    let mut state = BreakerState::new("tool", t0());
    cb.record_failure(&mut state, &ErrorClass::Transient, "x", t0());
    assert_eq!(cb.admit(&mut state, t0() + secs(30)), Admission::Trial);
    // The trial's process crashed and never reported.
    assert!(matches!(
        cb.admit(&mut state, t0() + secs(59)),
        Admission::Rejected { .. }
    ));
    assert_eq!(cb.admit(&mut state, t0() + secs(60)), Admission::Trial);
}

#[test]
fn rate_limit_reset_extends_the_open_period() {
    let cb = breaker(1, 30, 1);
    let mut state = BreakerState::new("tool", t0());
    let reset = t0() + secs(120);
    cb.record_failure(
        &mut state,
        &ErrorClass::RateLimited {
            reset_at: Some(reset),
            retry_after: None,
        },
        "429",
        t0(),
    );
    assert_eq!(state.open_until, Some(reset));
    let mut other = BreakerState::new("tool", t0());
    cb.record_failure(&mut other, &ErrorClass::Transient, "x", t0());
    cb.record_failure(
        &mut other,
        &ErrorClass::RateLimited {
            reset_at: Some(reset),
            retry_after: None,
        },
        "429",
        t0() + secs(1),
    );
    assert_eq!(
        other.open_until,
        Some(reset),
        "a rate limit seen while open pushes the reopening back"
    );
}

#[test]
fn success_while_open_does_not_close_and_reset_closes() {
    let cb = breaker(1, 30, 1);
    let mut state = BreakerState::new("tool", t0());
    cb.record_failure(&mut state, &ErrorClass::Transient, "x", t0());
    cb.record_success(&mut state, t0() + secs(1));
    assert_eq!(state.status, BreakerStatus::Open);
    cb.reset(&mut state, t0() + secs(2));
    assert_eq!(state.status, BreakerStatus::Closed);
    assert_eq!(state.open_until, None);
    assert_eq!(cb.admit(&mut state, t0() + secs(3)), Admission::Allowed);
}

#[test]
fn breaker_settings_are_validated() {
    assert_eq!(
        BreakerConfig::from_settings(&BreakerSettings::default()).expect("defaults"),
        BreakerConfig::default()
    );
    let cases = [
        (
            BreakerSettings {
                failure_threshold: Some(0),
                ..Default::default()
            },
            "failure_threshold",
        ),
        (
            BreakerSettings {
                half_open_trials: Some(0),
                ..Default::default()
            },
            "half_open_trials",
        ),
        (
            BreakerSettings {
                cooldown: Some(-3.0),
                ..Default::default()
            },
            "cooldown",
        ),
    ];
    for (settings, field) in cases {
        assert_eq!(
            BreakerConfig::from_settings(&settings)
                .expect_err("invalid")
                .field,
            field
        );
    }
}

#[test]
fn the_store_shares_state_between_steps_and_survives_serialisation() {
    let store = InMemoryBreakerStore::new();
    let cb = breaker(2, 30, 1);
    // Two parallel steps using the same tool.
    assert_eq!(
        cb.admit_in(&store, "aider", t0()).expect("infallible"),
        Admission::Allowed
    );
    assert_eq!(
        cb.admit_in(&store, "aider", t0()).expect("infallible"),
        Admission::Allowed
    );
    cb.record_failure_in(&store, "aider", &ErrorClass::Transient, "503", t0())
        .expect("infallible");
    let state = cb
        .record_failure_in(&store, "aider", &ErrorClass::Transient, "503", t0())
        .expect("infallible");
    assert_eq!(state.status, BreakerStatus::Open);
    // A third step must wait rather than hammer the tool.
    assert_eq!(
        cb.admit_in(&store, "aider", t0() + secs(1))
            .expect("infallible"),
        Admission::Rejected {
            until: t0() + secs(30)
        }
    );
    assert_eq!(
        cb.admit_in(&store, "codex", t0() + secs(1))
            .expect("infallible"),
        Admission::Allowed,
        "other tools unaffected"
    );

    // As persisted by the executor (JSON in SQLite) and read back after a crash.
    let saved = store.load("aider").expect("infallible").expect("saved");
    let json = serde_json::to_string(&saved).expect("serialise");
    assert!(json.contains("\"status\":\"open\""), "{json}");
    let restored: BreakerState = serde_json::from_str(&json).expect("deserialise");
    assert_eq!(restored, saved);
    let revived = InMemoryBreakerStore::new();
    revived.save(&restored).expect("infallible");
    assert_eq!(
        cb.admit_in(&revived, "aider", t0() + secs(30))
            .expect("infallible"),
        Admission::Trial
    );
    let all: Vec<String> = store
        .all()
        .expect("infallible")
        .into_iter()
        .map(|s| s.tool)
        .collect();
    assert_eq!(all, ["aider", "codex"]);
    let reset = cb
        .reset_in(&store, "aider", t0() + secs(2))
        .expect("infallible");
    assert_eq!(reset.status, BreakerStatus::Closed);
}
