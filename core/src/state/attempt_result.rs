//! How one attempt of a step ended, as stored in `attempts.outcome`.

use super::text_enum::text_enum;

text_enum! {
    /// How an attempt ended. Stored, serialised and parsed as its lowercase snake_case name.
    pub enum AttemptResult ("attempt result") {
        /// The tool and the acceptance tests succeeded.
        Succeeded => "succeeded",
        /// The tool or an acceptance test failed.
        Failed => "failed",
        /// The step's timeout expired and its process group was killed.
        TimedOut => "timed_out",
        /// Stopped by the user.
        Cancelled => "cancelled",
        /// The driving process stopped before the attempt ended.
        Interrupted => "interrupted",
    }
}
