//! The retry decision after a failed attempt.
//!
//! `decide` applies, in order: (1) only transient-like classes retry (`permanent` and
//! `conflict` never); (2) retries must be enabled; (3) at most `max_attempts` attempts in
//! all; (4) `max_error_repeats`: the current signature occurring that many times (earlier
//! attempts plus this one) stops; (5) oscillation: within the last `window` attempts (this
//! one included) a fingerprint occurring `threshold` times with a different fingerprint
//! between two of its occurrences (A B A) stops - an identical repeat (A A) is left to
//! `max_error_repeats`, so that a flaky network failing the same way twice still gets its
//! retries; (6) a rate limit with a known reset in the future waits until the reset;
//! (7) otherwise retry after the policy's backoff delay for this attempt number.

use serde::Serialize;
use std::collections::HashMap;
use std::fmt;
use std::time::{Duration, SystemTime};

use crate::error_class::ErrorClass;
use crate::error_report::ErrorReport;
use crate::history::History;
use crate::retry_policy::RetryPolicy;
use crate::time_format;

/// Why no further attempt is made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum GiveUpReason {
    /// The class never retries.
    NotRetryable {
        /// Its name (`permanent`, `conflict`).
        class: String,
    },
    /// The step's retry settings disable retries.
    RetriesDisabled,
    /// `max_attempts` reached.
    AttemptsExhausted {
        /// Attempts made.
        attempts: u32,
    },
    /// The same signature occurred `times` times (`max_error_repeats`).
    ErrorRepeated {
        /// The signature.
        signature: String,
        /// Occurrences, this attempt included.
        times: u32,
    },
    /// A fingerprint came back after the output had changed (`oscillation_threshold`).
    Oscillation {
        /// The recurring fingerprint.
        fingerprint: String,
        /// Its occurrences within the window.
        times: u32,
        /// The window size.
        window: u32,
    },
}

impl fmt::Display for GiveUpReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GiveUpReason::NotRetryable { class } => write!(f, "a {class} failure is not retried"),
            GiveUpReason::RetriesDisabled => write!(f, "retries are disabled for this step"),
            GiveUpReason::AttemptsExhausted { attempts } => {
                write!(f, "all {attempts} attempts failed (max_attempts)")
            }
            GiveUpReason::ErrorRepeated { signature, times } => {
                write!(
                    f,
                    "the same error (signature {signature}) occurred {times} times (max_error_repeats)"
                )
            }
            GiveUpReason::Oscillation {
                fingerprint,
                times,
                window,
            } => write!(
                f,
                "the output oscillates: {fingerprint} came back {times} times within the last {window} attempts (oscillation_threshold)"
            ),
        }
    }
}

/// What to do after a failed attempt. Serialised as
/// `{"kind":"retry","value":{"after":2.0}}`, `{"kind":"wait_until","value":"<RFC 3339>"}` or
/// `{"kind":"give_up","value":{"reason":{...}}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum Decision {
    /// Run the next attempt after this delay.
    Retry {
        /// The backoff delay.
        #[serde(serialize_with = "time_format::seconds::serialize")]
        after: Duration,
    },
    /// Run the next attempt at this instant (a rate limit's reset).
    WaitUntil(#[serde(with = "time_format::timestamp")] SystemTime),
    /// Stop: the step fails.
    GiveUp {
        /// Why.
        reason: GiveUpReason,
    },
}

fn give_up(reason: GiveUpReason) -> Decision {
    Decision::GiveUp { reason }
}

/// Decides what follows the failed attempt described by `report`, given the step's earlier
/// failed attempts (`history`, oldest first, not including this one) and the current time.
/// The attempt that just failed is number `history.len() + 1`. See the module doc for the
/// rules and their order.
pub fn decide(
    policy: &RetryPolicy,
    history: &History,
    report: &ErrorReport,
    now: SystemTime,
) -> Decision {
    if !report.class.is_retryable() {
        return give_up(GiveUpReason::NotRetryable {
            class: report.class.name().to_string(),
        });
    }
    if !policy.enabled() {
        return give_up(GiveUpReason::RetriesDisabled);
    }
    let attempt = u32::try_from(history.len())
        .unwrap_or(u32::MAX)
        .saturating_add(1);
    if attempt >= policy.max_attempts() {
        return give_up(GiveUpReason::AttemptsExhausted { attempts: attempt });
    }
    if let Some(limit) = policy.max_error_repeats() {
        let earlier = history
            .attempts
            .iter()
            .filter(|record| record.signature == report.signature)
            .count();
        let times = u32::try_from(earlier).unwrap_or(u32::MAX).saturating_add(1);
        if times >= limit {
            return give_up(GiveUpReason::ErrorRepeated {
                signature: report.signature.clone(),
                times,
            });
        }
    }
    if let Some(oscillation) = policy.oscillation() {
        let window = oscillation.window as usize;
        let mut recent: Vec<&str> = history
            .attempts
            .iter()
            .rev()
            .take(window.saturating_sub(1))
            .map(|record| record.fingerprint.as_str())
            .collect();
        recent.reverse();
        recent.push(report.fingerprint());
        if let Some((fingerprint, times)) = oscillating(&recent, oscillation.threshold) {
            return give_up(GiveUpReason::Oscillation {
                fingerprint: fingerprint.to_string(),
                times,
                window: oscillation.window,
            });
        }
    }
    if let ErrorClass::RateLimited {
        reset_at: Some(reset_at),
        ..
    } = report.class
        && reset_at > now
    {
        return Decision::WaitUntil(reset_at);
    }
    Decision::Retry {
        after: policy.delay_for(attempt),
    }
}

/// A fingerprint occurring at least `threshold` times in `window` with a different one
/// between two of its occurrences.
fn oscillating<'a>(window: &[&'a str], threshold: u32) -> Option<(&'a str, u32)> {
    let mut positions: HashMap<&str, Vec<usize>> = HashMap::new();
    for (index, fingerprint) in window.iter().enumerate() {
        positions.entry(fingerprint).or_default().push(index);
    }
    let mut found: Vec<(&str, u32)> = positions
        .into_iter()
        .filter(|(_, at)| {
            u32::try_from(at.len()).unwrap_or(u32::MAX) >= threshold
                && at.windows(2).any(|pair| pair[1] > pair[0] + 1)
        })
        .map(|(fingerprint, at)| (fingerprint, u32::try_from(at.len()).unwrap_or(u32::MAX)))
        .collect();
    found.sort();
    found.into_iter().next()
}
