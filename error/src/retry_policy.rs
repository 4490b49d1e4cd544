//! The validated retry policy of one step, and its backoff delays.
//!
//! Built once from merged `RetrySettings` (`from_settings`), then carried as a typed value.
//! Delays come from `backon`'s `ExponentialBuilder`: the delay after failed attempt `n` is
//! `initial_delay * multiplier^(n-1)`, capped at `max_delay`; with jitter, backon adds a
//! random amount in `[0, delay)` to it (so a jittered delay lies in `[delay, 2 * delay)`).
//! Defaults: 3 attempts, 1 s initial delay, 60 s max delay, multiplier 2, jitter on,
//! `max_error_repeats` 3, oscillation threshold 2 in a window of 4 (the defaults of the
//! tool this one replaces: `max_attempts_per_error_signature: 3`, `oscillation_window: 4`,
//! `oscillation_threshold: 2`).

use backon::{BackoffBuilder, ExponentialBuilder};
use serde::Serialize;
use std::time::Duration;

use crate::policy_error::PolicyError;
use crate::retry_settings::RetrySettings;

/// Oscillation detection settings: a fingerprint recurring `threshold` times within the
/// last `window` attempts (see `decide`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Oscillation {
    /// Occurrences that count as oscillation (>= 2).
    pub threshold: u32,
    /// Number of latest attempts looked at, the current one included (>= 2).
    pub window: u32,
}

/// A validated retry policy.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RetryPolicy {
    enabled: bool,
    max_attempts: u32,
    #[serde(serialize_with = "crate::time_format::seconds::serialize")]
    initial_delay: Duration,
    #[serde(serialize_with = "crate::time_format::seconds::serialize")]
    max_delay: Duration,
    multiplier: f64,
    jitter: bool,
    max_error_repeats: Option<u32>,
    oscillation: Option<Oscillation>,
    #[serde(skip)]
    jitter_seed: Option<u64>,
}

impl Default for RetryPolicy {
    fn default() -> RetryPolicy {
        RetryPolicy {
            enabled: true,
            max_attempts: 3,
            initial_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(60),
            multiplier: 2.0,
            jitter: true,
            max_error_repeats: Some(3),
            oscillation: Some(Oscillation {
                threshold: 2,
                window: 4,
            }),
            jitter_seed: None,
        }
    }
}

/// The longest delay or cooldown accepted, in seconds: one year (365 days). Every
/// deadline computed from one (`now + delay`, a `DateTime` or an `Instant`) then stays far
/// from overflowing, which would panic.
pub const MAX_DELAY_SECONDS: f64 = 365.0 * 24.0 * 3600.0;

fn delay(seconds: f64, field: &str) -> Result<Duration, PolicyError> {
    if !seconds.is_finite() || seconds < 0.0 {
        return Err(PolicyError::new(
            field,
            format!("must not be negative (got {seconds}); give a delay in seconds >= 0"),
        ));
    }
    if seconds > MAX_DELAY_SECONDS {
        return Err(PolicyError::new(
            field,
            format!("is longer than one year; give at most {MAX_DELAY_SECONDS} seconds"),
        ));
    }
    Duration::try_from_secs_f64(seconds).map_err(|error| {
        PolicyError::new(
            field,
            format!("is not a usable number of seconds ({error})"),
        )
    })
}

impl RetryPolicy {
    /// Validates settings; unset fields take the defaults (see the module doc).
    ///
    /// # Errors
    /// `PolicyError` naming the field: `max_attempts` 0, a negative or non-finite delay,
    /// `max_delay` below `initial_delay`, `multiplier` below 1, `oscillation_window` below 2.
    pub fn from_settings(settings: &RetrySettings) -> Result<RetryPolicy, PolicyError> {
        let defaults = RetryPolicy::default();
        let max_attempts = settings.max_attempts.unwrap_or(defaults.max_attempts);
        if max_attempts == 0 {
            return Err(PolicyError::new(
                "max_attempts",
                "must be at least 1 (it counts the first attempt)",
            ));
        }
        let initial_delay = match settings.initial_delay {
            Some(seconds) => delay(seconds, "initial_delay")?,
            None => defaults.initial_delay,
        };
        let max_delay = match settings.max_delay {
            Some(seconds) => delay(seconds, "max_delay")?,
            None => defaults.max_delay.max(initial_delay),
        };
        if max_delay < initial_delay {
            return Err(PolicyError::new(
                "max_delay",
                format!(
                    "({} s) is smaller than initial_delay ({} s); raise max_delay or lower initial_delay",
                    max_delay.as_secs_f64(),
                    initial_delay.as_secs_f64()
                ),
            ));
        }
        let multiplier = settings.multiplier.unwrap_or(defaults.multiplier);
        if !multiplier.is_finite() || multiplier < 1.0 {
            return Err(PolicyError::new(
                "multiplier",
                format!("must be >= 1 (got {multiplier}); 1 keeps the delay fixed"),
            ));
        }
        let window = settings.oscillation_window.unwrap_or(4);
        if window < 2 {
            return Err(PolicyError::new(
                "oscillation_window",
                format!("must be at least 2 (got {window})"),
            ));
        }
        let oscillation = match settings.oscillation_threshold {
            Some(0) => None,
            // The original counted occurrences; a recurrence needs two of them.
            Some(threshold) => Some(Oscillation {
                threshold: threshold.max(2),
                window,
            }),
            None => defaults.oscillation.map(|o| Oscillation { window, ..o }),
        };
        Ok(RetryPolicy {
            enabled: settings.enabled.unwrap_or(true),
            max_attempts,
            initial_delay,
            max_delay,
            multiplier,
            jitter: settings.jitter.unwrap_or(defaults.jitter),
            max_error_repeats: match settings.max_error_repeats {
                Some(0) => None,
                Some(limit) => Some(limit),
                None => defaults.max_error_repeats,
            },
            oscillation,
            jitter_seed: None,
        })
    }

    /// The same policy with jitter drawn from a seeded generator, so delays are
    /// reproducible (tests, replays).
    pub fn with_jitter_seed(mut self, seed: u64) -> RetryPolicy {
        self.jitter_seed = Some(seed);
        self
    }

    /// Whether retries are enabled at all.
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// Total attempts allowed, the first included.
    pub fn max_attempts(&self) -> u32 {
        self.max_attempts
    }

    /// First backoff delay.
    pub fn initial_delay(&self) -> Duration {
        self.initial_delay
    }

    /// Cap of the un-jittered delay.
    pub fn max_delay(&self) -> Duration {
        self.max_delay
    }

    /// Growth factor.
    pub fn multiplier(&self) -> f64 {
        self.multiplier
    }

    /// Whether jitter is added.
    pub fn jitter(&self) -> bool {
        self.jitter
    }

    /// Same-signature limit, `None` when off.
    pub fn max_error_repeats(&self) -> Option<u32> {
        self.max_error_repeats
    }

    /// Oscillation settings, `None` when off.
    pub fn oscillation(&self) -> Option<Oscillation> {
        self.oscillation
    }

    /// The backon builder for this policy (no limit on the number of delays; the policy's
    /// `max_attempts` is enforced by `decide`). Usable directly with backon's `Retryable`.
    pub fn backoff_builder(&self) -> ExponentialBuilder {
        // backon takes an f32 factor; factors are small numbers, so nothing is lost.
        let mut builder = ExponentialBuilder::default()
            .with_min_delay(self.initial_delay)
            .with_max_delay(self.max_delay)
            .with_factor(self.multiplier as f32)
            .without_max_times();
        if self.jitter {
            builder = builder.with_jitter();
            if let Some(seed) = self.jitter_seed {
                builder = builder.with_jitter_seed(seed);
            }
        }
        builder
    }

    /// The wait after failed attempt `attempt` (1-based) before the next one. Attempt 0 is
    /// treated as 1.
    pub fn delay_for(&self, attempt: u32) -> Duration {
        let index = attempt.max(1) as usize - 1;
        self.backoff_builder()
            .build()
            .nth(index)
            .unwrap_or(self.max_delay)
    }
}
