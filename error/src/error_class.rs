//! The class of a failed attempt: the one fact the retry policy and the circuit breakers
//! act on.
//!
//! A plugin decides the class (see `plugin_manager`); the policy then retries only the
//! transient-like classes (`transient`, `rate_limited`, `timeout`, `stalled`,
//! `infrastructure`) and never `permanent`, `conflict` or `budget_exceeded`. The names are the ones used in plugin manifests, in the
//! `errors` table and in `pipeline errors --json`.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::time::{Duration, SystemTime};

use crate::time_format;

/// Why an attempt failed, as far as reacting to it goes.
///
/// Serialised as an object tagged by `kind`, e.g. `{"kind":"transient"}` or
/// `{"kind":"rate_limited","reset_at":"2026-11-21T05:14:23.000Z","retry_after":20.0}`
/// (`reset_at` RFC 3339, `retry_after` in seconds).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ErrorClass {
    /// A passing problem (network blip, 5xx, connection reset): retry after a backoff.
    Transient,
    /// The provider throttled us (HTTP 429, "rate limit", quota). Wait for `reset_at` when it
    /// is known, else back off.
    RateLimited {
        /// When the limit resets (absolute), computed from `Retry-After` or reset headers.
        #[serde(default, with = "time_format::optional_timestamp")]
        reset_at: Option<SystemTime>,
        /// The wait the tool asked for, relative to the end of the attempt.
        #[serde(default, with = "time_format::optional_seconds")]
        retry_after: Option<Duration>,
    },
    /// The attempt ran out of time (the executor's timeout or a tool's own).
    Timeout,
    /// The tool wrote no output and used no CPU for its stall timeout, and was stopped
    /// (`stall_timeout_sec`; see `pipeline_process::stall_watch`). Retried like
    /// `transient`: a stalled model request usually goes through the next time.
    Stalled,
    /// Retrying the same thing cannot help: wrong code, failing test, bad credentials,
    /// unknown model, missing command.
    Permanent,
    /// A merge or edit conflict between steps' changes.
    Conflict,
    /// The machine, not the step: disk full, out of memory, a git lock file, a killed process.
    Infrastructure,
    /// The step's attempts together spent more than its budget (`budget: {usd, tokens}`
    /// of the step or its workstream; docs/COSTS.md "Budgets"). Decided by the engine
    /// from the attempts' usage, not by a plugin. Permanent: another attempt would only
    /// spend more, so there is no retry and no fix prompt.
    BudgetExceeded,
}

impl ErrorClass {
    /// The class names accepted in plugin manifests and shown to users.
    pub const NAMES: [&'static str; 8] = [
        "transient",
        "rate_limited",
        "timeout",
        "stalled",
        "permanent",
        "conflict",
        "infrastructure",
        "budget_exceeded",
    ];

    /// A rate limit with nothing known about its reset.
    pub fn rate_limited() -> ErrorClass {
        ErrorClass::RateLimited {
            reset_at: None,
            retry_after: None,
        }
    }

    /// The snake_case name of the class (`"rate_limited"`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            ErrorClass::Transient => "transient",
            ErrorClass::RateLimited { .. } => "rate_limited",
            ErrorClass::Timeout => "timeout",
            ErrorClass::Stalled => "stalled",
            ErrorClass::Permanent => "permanent",
            ErrorClass::Conflict => "conflict",
            ErrorClass::Infrastructure => "infrastructure",
            ErrorClass::BudgetExceeded => "budget_exceeded",
        }
    }

    /// Parses a class name as written in a manifest; `None` for an unknown name.
    /// A `rate_limited` parsed this way has no reset time.
    pub fn from_name(name: &str) -> Option<ErrorClass> {
        Some(match name {
            "transient" => ErrorClass::Transient,
            "rate_limited" => ErrorClass::rate_limited(),
            "timeout" => ErrorClass::Timeout,
            "stalled" => ErrorClass::Stalled,
            "permanent" => ErrorClass::Permanent,
            "conflict" => ErrorClass::Conflict,
            "infrastructure" => ErrorClass::Infrastructure,
            "budget_exceeded" => ErrorClass::BudgetExceeded,
            _ => return None,
        })
    }

    /// True for the transient-like classes that a retry can cure (issue 3: "Only
    /// transient-like classes retry; `permanent` never does"). These are also the failures
    /// that count against a tool's circuit breaker.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            ErrorClass::Transient
                | ErrorClass::RateLimited { .. }
                | ErrorClass::Timeout
                | ErrorClass::Stalled
                | ErrorClass::Infrastructure
        )
    }
}

impl fmt::Display for ErrorClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorClass::RateLimited {
                reset_at: Some(reset_at),
                ..
            } => write!(
                f,
                "rate_limited (resets at {})",
                humantime::format_rfc3339_seconds(*reset_at)
            ),
            ErrorClass::RateLimited {
                reset_at: None,
                retry_after: Some(after),
            } => write!(f, "rate_limited (retry after {} s)", after.as_secs_f64()),
            other => f.write_str(other.name()),
        }
    }
}
