//! Per-tool circuit breakers: stop sending work to a tool that keeps failing.
//!
//! State machine (pure; the clock is an argument, the state a serialisable value persisted
//! through a `BreakerStore`):
//! - `closed`: attempts are admitted. Each failure that counts (a transient-like class, see
//!   `ErrorClass::is_retryable`) adds to `consecutive_failures`; a success resets it; at
//!   `failure_threshold` the breaker opens.
//! - `open`: attempts are rejected until `open_until` (= now + `cooldown`, or a rate
//!   limit's reset when that is later). The first admission at or after it moves to
//!   half-open.
//! - `half_open`: at most `half_open_trials` trial attempts at once; `half_open_trials`
//!   successes close the breaker, any counting failure opens it again. A trial that never
//!   reports back (its process crashed) frees its slot after `cooldown`.
//!
//! Failures that do not count (permanent, conflict: the tool worked, the step is wrong)
//! leave the counters alone and free a trial slot.

use serde::{Deserialize, Serialize};
use std::time::{Duration, SystemTime};

use crate::error_class::ErrorClass;
use crate::policy_error::PolicyError;
use crate::time_format;

/// Breaker settings as written in a tool profile (`circuit_breaker:`), all optional;
/// `cooldown` in seconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BreakerSettings {
    /// Consecutive counting failures that open the breaker (>= 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_threshold: Option<u32>,
    /// Seconds the breaker stays open (>= 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cooldown: Option<f64>,
    /// Trial attempts let through when half-open, and successes needed to close (>= 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub half_open_trials: Option<u32>,
}

/// Validated breaker configuration. Defaults: threshold 5, cooldown 30 s (the original
/// example's `cooldown_seconds`), 1 half-open trial.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct BreakerConfig {
    /// Consecutive counting failures that open the breaker.
    pub failure_threshold: u32,
    /// How long it stays open.
    #[serde(serialize_with = "time_format::seconds::serialize")]
    pub cooldown: Duration,
    /// Trials when half-open, and successes needed to close.
    pub half_open_trials: u32,
}

impl Default for BreakerConfig {
    fn default() -> BreakerConfig {
        BreakerConfig {
            failure_threshold: 5,
            cooldown: Duration::from_secs(30),
            half_open_trials: 1,
        }
    }
}

impl BreakerConfig {
    /// Validates settings; unset fields take the defaults.
    ///
    /// # Errors
    /// `PolicyError` naming `failure_threshold` or `half_open_trials` when 0, or `cooldown`
    /// when negative or not finite.
    pub fn from_settings(settings: &BreakerSettings) -> Result<BreakerConfig, PolicyError> {
        let defaults = BreakerConfig::default();
        let failure_threshold = settings
            .failure_threshold
            .unwrap_or(defaults.failure_threshold);
        if failure_threshold == 0 {
            return Err(PolicyError::new("failure_threshold", "must be at least 1"));
        }
        let half_open_trials = settings
            .half_open_trials
            .unwrap_or(defaults.half_open_trials);
        if half_open_trials == 0 {
            return Err(PolicyError::new("half_open_trials", "must be at least 1"));
        }
        let cooldown = match settings.cooldown {
            Some(seconds) if !seconds.is_finite() || seconds < 0.0 => {
                return Err(PolicyError::new(
                    "cooldown",
                    format!("must not be negative (got {seconds}); give seconds >= 0"),
                ));
            }
            // `open_until = now + cooldown` must not overflow (a panic).
            Some(seconds) if seconds > crate::retry_policy::MAX_DELAY_SECONDS => {
                return Err(PolicyError::new(
                    "cooldown",
                    format!(
                        "is longer than one year; give at most {} seconds",
                        crate::retry_policy::MAX_DELAY_SECONDS
                    ),
                ));
            }
            Some(seconds) => Duration::from_secs_f64(seconds),
            None => defaults.cooldown,
        };
        Ok(BreakerConfig {
            failure_threshold,
            cooldown,
            half_open_trials,
        })
    }
}

/// The three states. Serialised `closed`, `open`, `half_open`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakerStatus {
    /// Admitting.
    Closed,
    /// Rejecting until `open_until`.
    Open,
    /// Admitting a few trials.
    HalfOpen,
}

impl BreakerStatus {
    /// `closed`, `open` or `half_open`.
    pub fn name(self) -> &'static str {
        match self {
            BreakerStatus::Closed => "closed",
            BreakerStatus::Open => "open",
            BreakerStatus::HalfOpen => "half_open",
        }
    }
}

/// The persisted state of one tool's breaker (a row of `circuit_breakers`, or JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BreakerState {
    /// Tool profile name.
    pub tool: String,
    /// Current state.
    pub status: BreakerStatus,
    /// Counting failures since the last success or reset.
    pub consecutive_failures: u32,
    /// While open: when it may go half-open.
    #[serde(default, with = "time_format::optional_timestamp")]
    pub open_until: Option<SystemTime>,
    /// While half-open: trials admitted and not yet reported.
    pub trials_in_flight: u32,
    /// While half-open: successful trials.
    pub trial_successes: u32,
    /// While half-open: when the latest trial was admitted.
    #[serde(default, with = "time_format::optional_timestamp")]
    pub last_trial_at: Option<SystemTime>,
    /// How many times it has opened.
    pub times_opened: u32,
    /// Summary of the failure that last opened it.
    #[serde(default)]
    pub last_error: Option<String>,
    /// When the status last changed.
    #[serde(with = "time_format::timestamp")]
    pub changed_at: SystemTime,
}

impl BreakerState {
    /// A closed breaker for `tool`.
    pub fn new(tool: impl Into<String>, now: SystemTime) -> BreakerState {
        BreakerState {
            tool: tool.into(),
            status: BreakerStatus::Closed,
            consecutive_failures: 0,
            open_until: None,
            trials_in_flight: 0,
            trial_successes: 0,
            last_trial_at: None,
            times_opened: 0,
            last_error: None,
            changed_at: now,
        }
    }
}

/// Whether an attempt may use the tool now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Admission {
    /// Closed: go.
    Allowed,
    /// Half-open: go, as a trial; report the outcome.
    Trial,
    /// Open (or no trial slot): wait until this instant, or take a fallback tool.
    Rejected {
        /// When to ask again.
        #[serde(with = "time_format::timestamp")]
        until: SystemTime,
    },
}

/// The breaker logic for one configuration (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CircuitBreaker {
    /// Its configuration.
    pub config: BreakerConfig,
}

impl CircuitBreaker {
    /// A breaker with this configuration.
    pub fn new(config: BreakerConfig) -> CircuitBreaker {
        CircuitBreaker { config }
    }

    /// Asks to run an attempt; updates `state` (open -> half-open, trial slots).
    pub fn admit(&self, state: &mut BreakerState, now: SystemTime) -> Admission {
        match state.status {
            BreakerStatus::Closed => return Admission::Allowed,
            BreakerStatus::Open => {
                let until = state.open_until.unwrap_or(now);
                if now < until {
                    return Admission::Rejected { until };
                }
                state.status = BreakerStatus::HalfOpen;
                state.trials_in_flight = 0;
                state.trial_successes = 0;
                state.last_trial_at = None;
                state.open_until = None;
                state.changed_at = now;
            }
            BreakerStatus::HalfOpen => {}
        }
        if state.trials_in_flight >= self.config.half_open_trials {
            let lease_end = state.last_trial_at.unwrap_or(now) + self.config.cooldown;
            if now < lease_end {
                return Admission::Rejected { until: lease_end };
            }
            // The earlier trials never reported back (crash): free their slots.
            state.trials_in_flight = 0;
        }
        state.trials_in_flight += 1;
        state.last_trial_at = Some(now);
        Admission::Trial
    }

    /// Records a successful attempt.
    pub fn record_success(&self, state: &mut BreakerState, now: SystemTime) {
        match state.status {
            BreakerStatus::Closed => state.consecutive_failures = 0,
            BreakerStatus::HalfOpen => {
                state.trials_in_flight = state.trials_in_flight.saturating_sub(1);
                state.trial_successes += 1;
                if state.trial_successes >= self.config.half_open_trials {
                    self.close(state, now);
                }
            }
            // A success of an attempt admitted before the breaker opened proves little;
            // the cooldown still runs.
            BreakerStatus::Open => {}
        }
    }

    /// Records a failed attempt of class `class` (`summary` is kept as `last_error` when the
    /// breaker opens). Only transient-like classes count (see the module doc).
    pub fn record_failure(
        &self,
        state: &mut BreakerState,
        class: &ErrorClass,
        summary: &str,
        now: SystemTime,
    ) {
        if !class.is_retryable() {
            if state.status == BreakerStatus::HalfOpen {
                state.trials_in_flight = state.trials_in_flight.saturating_sub(1);
            }
            return;
        }
        state.consecutive_failures = state.consecutive_failures.saturating_add(1);
        let reset_at = match class {
            ErrorClass::RateLimited { reset_at, .. } => *reset_at,
            _ => None,
        };
        match state.status {
            BreakerStatus::Closed
                if state.consecutive_failures >= self.config.failure_threshold =>
            {
                self.open(state, reset_at, summary, now);
            }
            BreakerStatus::Closed => {}
            BreakerStatus::HalfOpen => self.open(state, reset_at, summary, now),
            BreakerStatus::Open => {
                if let (Some(reset_at), Some(until)) = (reset_at, state.open_until) {
                    state.open_until = Some(until.max(reset_at));
                }
            }
        }
    }

    /// Closes the breaker by hand (`pipeline breakers --reset TOOL`).
    pub fn reset(&self, state: &mut BreakerState, now: SystemTime) {
        self.close(state, now);
    }

    fn open(
        &self,
        state: &mut BreakerState,
        reset_at: Option<SystemTime>,
        summary: &str,
        now: SystemTime,
    ) {
        let until = now + self.config.cooldown;
        state.status = BreakerStatus::Open;
        state.open_until = Some(reset_at.map_or(until, |reset_at| reset_at.max(until)));
        state.trials_in_flight = 0;
        state.trial_successes = 0;
        state.last_trial_at = None;
        state.times_opened = state.times_opened.saturating_add(1);
        state.last_error = Some(summary.to_string());
        state.changed_at = now;
    }

    fn close(&self, state: &mut BreakerState, now: SystemTime) {
        state.status = BreakerStatus::Closed;
        state.consecutive_failures = 0;
        state.open_until = None;
        state.trials_in_flight = 0;
        state.trial_successes = 0;
        state.last_trial_at = None;
        state.changed_at = now;
    }
}
