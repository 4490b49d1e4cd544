//! Retry settings as written: per-tool profile, per-step `retry`, and the original
//! workstream format's `retry` and `circuit_breaker` blocks.
//!
//! Every field is optional so that layers merge (`overlay`): defaults <- tool profile <-
//! workstream blocks <- step. `RetryPolicy::from_settings` validates the merged result once.
//!
//! The original format (see `conformance/caidp-workstreams/examples/03_error_handling.json`
//! and `original-workstream.schema.json`) has
//! `retry: {enabled, strategy, initial_delay, max_delay, jitter}` (delays in seconds,
//! strategy `exponential`; `fixed`/`constant` are accepted too) and
//! `circuit_breaker: {max_attempts, max_error_repeats, oscillation_threshold,
//! cooldown_seconds, ...}`. Keys starting with `_` are comments. Keys this engine does not
//! interpret (`error_patterns`, `escalation_strategy`, `per_step`, ...) are returned in
//! `WorkstreamErrorBlocks::not_interpreted`, never silently dropped.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::time::Duration;

use crate::policy_error::PolicyError;

/// Retry settings, all optional. Delays are in seconds.
///
/// YAML/JSON field names: `enabled`, `max_attempts` (total attempts including the first),
/// `initial_delay`, `max_delay` (seconds), `multiplier`, `jitter`, `max_error_repeats`,
/// `oscillation_threshold`, `oscillation_window`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetrySettings {
    /// Retries on or off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// Total attempts, the first included (>= 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_attempts: Option<u32>,
    /// First backoff delay, seconds (>= 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_delay: Option<f64>,
    /// Cap of the backoff delay before jitter, seconds (>= initial_delay).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_delay: Option<f64>,
    /// Growth factor between delays (>= 1; 1 = fixed delay).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multiplier: Option<f64>,
    /// Add random jitter (up to the delay again) to each delay.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jitter: Option<bool>,
    /// Stop when the same error signature has occurred this many times (0 = off).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_error_repeats: Option<u32>,
    /// Stop when a fingerprint recurs this many times within the window (0 = off).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oscillation_threshold: Option<u32>,
    /// How many of the latest attempts oscillation detection looks at (>= 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oscillation_window: Option<u32>,
}

impl RetrySettings {
    /// These settings with every field set in `higher` replaced by `higher`'s value.
    pub fn overlay(&self, higher: &RetrySettings) -> RetrySettings {
        RetrySettings {
            enabled: higher.enabled.or(self.enabled),
            max_attempts: higher.max_attempts.or(self.max_attempts),
            initial_delay: higher.initial_delay.or(self.initial_delay),
            max_delay: higher.max_delay.or(self.max_delay),
            multiplier: higher.multiplier.or(self.multiplier),
            jitter: higher.jitter.or(self.jitter),
            max_error_repeats: higher.max_error_repeats.or(self.max_error_repeats),
            oscillation_threshold: higher.oscillation_threshold.or(self.oscillation_threshold),
            oscillation_window: higher.oscillation_window.or(self.oscillation_window),
        }
    }
}

/// What the original format's `retry` and `circuit_breaker` blocks say.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WorkstreamErrorBlocks {
    /// The retry settings they define.
    pub retry: RetrySettings,
    /// `circuit_breaker.cooldown_seconds`: how long the breaker stays open.
    pub cooldown: Option<Duration>,
    /// Keys present but not interpreted by this engine, as `block.key`.
    pub not_interpreted: Vec<String>,
}

fn object<'a>(block: &'a Value, name: &str) -> Result<&'a Map<String, Value>, PolicyError> {
    block
        .as_object()
        .ok_or_else(|| PolicyError::new(name, "must be an object"))
}

fn boolean(value: &Value, field: &str) -> Result<bool, PolicyError> {
    value
        .as_bool()
        .ok_or_else(|| PolicyError::new(field, format!("must be true or false, got {value}")))
}

fn seconds(value: &Value, field: &str) -> Result<f64, PolicyError> {
    let number = value.as_f64().ok_or_else(|| {
        PolicyError::new(field, format!("must be a number of seconds, got {value}"))
    })?;
    if number < 0.0 || !number.is_finite() {
        return Err(PolicyError::new(
            field,
            format!("must not be negative (got {number}); give a delay in seconds >= 0"),
        ));
    }
    // Bounded so that `Duration::from_secs_f64` and every `now + delay` stay in range.
    let max = crate::retry_policy::MAX_DELAY_SECONDS;
    if number > max {
        return Err(PolicyError::new(
            field,
            format!("is longer than one year; give at most {max} seconds"),
        ));
    }
    Ok(number)
}

fn count(value: &Value, field: &str, min: u64) -> Result<u32, PolicyError> {
    let number = value
        .as_u64()
        .filter(|n| *n >= min)
        .and_then(|n| u32::try_from(n).ok())
        .ok_or_else(|| {
            PolicyError::new(
                field,
                format!("must be a whole number >= {min}, got {value}"),
            )
        })?;
    Ok(number)
}

impl WorkstreamErrorBlocks {
    /// Reads the blocks as they appear in a workstream (or step) JSON object.
    ///
    /// # Errors
    /// `PolicyError` naming `retry.<key>` or `circuit_breaker.<key>` for a wrong type, a
    /// negative delay, a count below its minimum, or an unknown `strategy`.
    pub fn from_json(
        retry: Option<&Value>,
        circuit_breaker: Option<&Value>,
    ) -> Result<WorkstreamErrorBlocks, PolicyError> {
        let mut blocks = WorkstreamErrorBlocks::default();
        if let Some(retry) = retry {
            for (key, value) in object(retry, "retry")? {
                let field = format!("retry.{key}");
                match key.as_str() {
                    k if k.starts_with('_') => {}
                    "enabled" => blocks.retry.enabled = Some(boolean(value, &field)?),
                    "initial_delay" => blocks.retry.initial_delay = Some(seconds(value, &field)?),
                    "max_delay" => blocks.retry.max_delay = Some(seconds(value, &field)?),
                    "jitter" => blocks.retry.jitter = Some(boolean(value, &field)?),
                    "max_attempts" => blocks.retry.max_attempts = Some(count(value, &field, 1)?),
                    "multiplier" | "backoff_multiplier" => {
                        let factor = value
                            .as_f64()
                            .filter(|f| *f >= 1.0 && f.is_finite())
                            .ok_or_else(|| {
                                PolicyError::new(
                                    &field,
                                    format!("must be a number >= 1, got {value}"),
                                )
                            })?;
                        blocks.retry.multiplier = Some(factor);
                    }
                    "strategy" => match value.as_str() {
                        Some("exponential") => {}
                        Some("fixed" | "constant") => {
                            blocks.retry.multiplier.get_or_insert(1.0);
                        }
                        _ => {
                            return Err(PolicyError::new(
                                field,
                                format!(
                                    "unknown strategy {value}; use \"exponential\" or \"fixed\""
                                ),
                            ));
                        }
                    },
                    _ => blocks.not_interpreted.push(field),
                }
            }
        }
        if let Some(breaker) = circuit_breaker {
            for (key, value) in object(breaker, "circuit_breaker")? {
                let field = format!("circuit_breaker.{key}");
                match key.as_str() {
                    k if k.starts_with('_') => {}
                    "max_attempts" => blocks.retry.max_attempts = Some(count(value, &field, 1)?),
                    "max_error_repeats" => {
                        blocks.retry.max_error_repeats = Some(count(value, &field, 0)?)
                    }
                    "oscillation_threshold" => {
                        blocks.retry.oscillation_threshold = Some(count(value, &field, 0)?)
                    }
                    "oscillation_window" => {
                        blocks.retry.oscillation_window = Some(count(value, &field, 2)?)
                    }
                    "cooldown_seconds" => {
                        blocks.cooldown = Some(Duration::from_secs_f64(seconds(value, &field)?));
                    }
                    _ => blocks.not_interpreted.push(field),
                }
            }
        }
        Ok(blocks)
    }
}
