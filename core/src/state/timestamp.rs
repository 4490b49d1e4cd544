//! The one timestamp format of the state database.
//!
//! RFC 3339 in UTC with milliseconds (`2026-01-31T12:00:00.123Z`): fixed width, so the
//! text order of a column is its time order and `ORDER BY started_at` needs no parsing.

use std::time::SystemTime;

/// The current time as RFC 3339 UTC text with milliseconds, e.g. `2026-01-31T12:00:00.123Z`.
pub fn timestamp_now() -> String {
    humantime::format_rfc3339_millis(SystemTime::now()).to_string()
}
