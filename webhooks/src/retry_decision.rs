//! What follows one delivery attempt: delivered, tried again after a backoff, or given
//! up. Pure functions, unit-tested without a network.
//!
//! Rules (issue #12; docs/WEBHOOKS.md): HTTP 2xx (or a notify command's exit 0) is
//! delivered. Network errors, timeouts, 5xx and 429 are transient: retried after an
//! exponential backoff with jitter (`backon`: 1 s, doubling, capped at
//! `webhook_delivery.max_backoff_sec`, plus up to the delay again as jitter), or after
//! the `Retry-After` the endpoint asked for when that is longer. Any other status (4xx,
//! a redirect, which is not followed) fails at once. A transient failure whose next
//! attempt would come later than `webhook_delivery.give_up_after_sec` after the event
//! was recorded is given up.

use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
use pipeline_adapters::DeliverySettings;
use pipeline_core::state::DeliveryOutcome;

/// First backoff delay.
pub const MIN_BACKOFF: Duration = Duration::from_secs(1);

/// How one attempt went, before the retry policy is applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptResult {
    /// The endpoint took it.
    Accepted,
    /// The endpoint refused it for good (e.g. 404, 410, 401).
    Refused {
        /// Why, without secrets.
        error: String,
    },
    /// A failure that may pass (network, timeout, 5xx, 429, a command's non-zero exit).
    Transient {
        /// Why, without secrets.
        error: String,
        /// The wait the endpoint asked for (`Retry-After`), if any.
        retry_after: Option<Duration>,
    },
}

/// The attempt result of an HTTP answer with `status` (and its `Retry-After` seconds).
pub fn classify_status(status: u16, reason: &str, retry_after: Option<Duration>) -> AttemptResult {
    let error = format!("HTTP {status} {reason}").trim_end().to_owned();
    match status {
        200..=299 => AttemptResult::Accepted,
        429 | 500..=599 => AttemptResult::Transient { error, retry_after },
        300..=399 => AttemptResult::Refused {
            error: format!("{error} (redirects are not followed; configure the final URL)"),
        },
        _ => AttemptResult::Refused { error },
    }
}

/// The backoff before attempt `failures + 1`, after `failures` (>= 1) failed attempts:
/// exponential from [`MIN_BACKOFF`], doubling, capped at `max_backoff_sec`, with jitter
/// (up to the delay again).
pub fn backoff_delay(failures: u32, settings: &DeliverySettings) -> Duration {
    let max = Duration::from_secs(settings.max_backoff_sec).max(MIN_BACKOFF);
    let index = usize::try_from(failures.saturating_sub(1)).unwrap_or(usize::MAX);
    ExponentialBuilder::default()
        .with_min_delay(MIN_BACKOFF)
        .with_max_delay(max)
        .with_factor(2.0)
        .with_jitter()
        .without_max_times()
        .build()
        .nth(index)
        .unwrap_or(max)
}

/// The outcome to record for `result`, the attempt number `attempt` (1-based) of a
/// delivery whose event was recorded `age` ago.
pub fn decide(
    result: AttemptResult,
    attempt: u32,
    age: Duration,
    settings: &DeliverySettings,
) -> DeliveryOutcome {
    match result {
        AttemptResult::Accepted => DeliveryOutcome::Delivered,
        AttemptResult::Refused { error } => DeliveryOutcome::Failed { error },
        AttemptResult::Transient { error, retry_after } => {
            let backoff = backoff_delay(attempt, settings);
            let delay = retry_after.map_or(backoff, |asked| asked.max(backoff));
            let give_up_after = Duration::from_secs(settings.give_up_after_sec);
            if age.saturating_add(delay) > give_up_after {
                DeliveryOutcome::Failed {
                    error: format!(
                        "gave up after {attempt} attempt(s) over {}s (webhook_delivery.give_up_after_sec = {}); last error: {error}",
                        age.as_secs(),
                        settings.give_up_after_sec
                    ),
                }
            } else {
                DeliveryOutcome::Retry { delay, error }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> DeliverySettings {
        DeliverySettings {
            give_up_after_sec: 3600,
            timeout_sec: 10,
            drain_sec: 10,
            max_backoff_sec: 60,
        }
    }

    #[test]
    fn statuses_are_classified_as_the_issue_says() {
        assert_eq!(classify_status(200, "OK", None), AttemptResult::Accepted);
        assert_eq!(classify_status(204, "", None), AttemptResult::Accepted);
        for status in [500, 502, 503, 429] {
            assert!(
                matches!(
                    classify_status(status, "x", None),
                    AttemptResult::Transient { .. }
                ),
                "{status}"
            );
        }
        for status in [400, 401, 403, 404, 410, 422, 301, 100] {
            assert!(
                matches!(
                    classify_status(status, "x", None),
                    AttemptResult::Refused { .. }
                ),
                "{status}"
            );
        }
        let AttemptResult::Refused { error } = classify_status(404, "Not Found", None) else {
            panic!("404 is refused");
        };
        assert_eq!(error, "HTTP 404 Not Found");
    }

    #[test]
    fn transient_failures_are_retried_and_refusals_fail_at_once() {
        let s = settings();
        let network = AttemptResult::Transient {
            error: "connection refused".into(),
            retry_after: None,
        };
        assert!(matches!(
            decide(network, 1, Duration::ZERO, &s),
            DeliveryOutcome::Retry { .. }
        ));
        let refused = AttemptResult::Refused {
            error: "HTTP 410 Gone".into(),
        };
        assert_eq!(
            decide(refused, 1, Duration::ZERO, &s),
            DeliveryOutcome::Failed {
                error: "HTTP 410 Gone".into()
            }
        );
        assert_eq!(
            decide(AttemptResult::Accepted, 3, Duration::ZERO, &s),
            DeliveryOutcome::Delivered
        );
    }

    #[test]
    fn backoff_grows_is_capped_and_has_jitter_within_bounds() {
        let s = settings();
        for (failures, base) in [(1u32, 1u64), (2, 2), (3, 4), (4, 8), (7, 60), (30, 60)] {
            let delay = backoff_delay(failures, &s);
            let base = Duration::from_secs(base);
            assert!(delay >= base && delay <= base * 2, "{failures}: {delay:?}");
        }
    }

    #[test]
    fn retry_after_is_honoured_when_longer_than_the_backoff() {
        let s = settings();
        let asked = AttemptResult::Transient {
            error: "HTTP 429 Too Many Requests".into(),
            retry_after: Some(Duration::from_secs(120)),
        };
        assert_eq!(
            decide(asked, 1, Duration::ZERO, &s),
            DeliveryOutcome::Retry {
                delay: Duration::from_secs(120),
                error: "HTTP 429 Too Many Requests".into()
            }
        );
    }

    #[test]
    fn a_retry_past_the_give_up_period_fails_with_the_last_error() {
        let s = settings();
        let late = AttemptResult::Transient {
            error: "HTTP 503 Service Unavailable".into(),
            retry_after: None,
        };
        let DeliveryOutcome::Failed { error } = decide(late, 9, Duration::from_secs(3599), &s)
        else {
            panic!("not given up");
        };
        assert!(error.contains("gave up after 9 attempt(s)"), "{error}");
        assert!(error.contains("HTTP 503 Service Unavailable"), "{error}");
        let asked_too_long = AttemptResult::Transient {
            error: "HTTP 429".into(),
            retry_after: Some(Duration::from_secs(7200)),
        };
        assert!(matches!(
            decide(asked_too_long, 1, Duration::ZERO, &s),
            DeliveryOutcome::Failed { .. }
        ));
    }
}
