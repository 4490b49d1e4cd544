//! The failed attempts of one step so far: what `decide` needs to stop loops.
//!
//! The executor rebuilds it from the `attempts` / `errors` tables, so it survives a crash:
//! after `pipeline resume` the next attempt number continues from the history.

use serde::{Deserialize, Serialize};

use crate::error_report::ErrorReport;

/// One earlier failed attempt of a step, as the error engine remembers it (not the
/// state store's record of an attempt).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PastAttempt {
    /// The report's signature.
    pub signature: String,
    /// The report's fingerprint (diff hash, else output hash).
    pub fingerprint: String,
}

impl PastAttempt {
    /// The record of a classified attempt.
    pub fn from_report(report: &ErrorReport) -> PastAttempt {
        PastAttempt {
            signature: report.signature.clone(),
            fingerprint: report.fingerprint().to_string(),
        }
    }
}

/// Earlier failed attempts of a step, oldest first (the current attempt is not in it).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct History {
    /// The attempts, oldest first.
    pub attempts: Vec<PastAttempt>,
}

impl History {
    /// An empty history (the first attempt is the one that failed).
    pub fn new() -> History {
        History::default()
    }

    /// Appends an attempt.
    pub fn push(&mut self, record: PastAttempt) {
        self.attempts.push(record);
    }

    /// Number of earlier failed attempts.
    pub fn len(&self) -> usize {
        self.attempts.len()
    }

    /// True when there is none.
    pub fn is_empty(&self) -> bool {
        self.attempts.is_empty()
    }
}
