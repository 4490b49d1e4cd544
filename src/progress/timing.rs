//! Instants and durations of the progress view: read from the journal's `at` text
//! (RFC 3339 UTC with milliseconds, docs/EVENTS.md) and written the way the view shows
//! them (`0.4s`, `12.3s`, `2m05s`, `1h02m`).

use std::time::{Duration, SystemTime};

/// The instant an entry's `at` names, or `None` when it is not RFC 3339 (an entry of a
/// future or foreign writer: the view then keeps the previous entry's instant).
pub(super) fn parse_at(at: &str) -> Option<SystemTime> {
    humantime::parse_rfc3339_weak(at).ok()
}

/// How long after `earlier` `later` is; zero when it is not later (clock steps, entries
/// recorded in one transaction).
pub(super) fn between(earlier: SystemTime, later: SystemTime) -> Duration {
    later.duration_since(earlier).unwrap_or_default()
}

/// A duration in the view's words: tenths of a second below a minute (`4.0s`), then
/// minutes and seconds (`2m05s`), then hours and minutes (`1h02m`).
pub(super) fn human(d: Duration) -> String {
    let secs = d.as_secs();
    if secs < 60 {
        // Tenths, truncated: 59.96 s must not print as "60.0s".
        format!("{}.{}s", secs, d.subsec_millis() / 100)
    } else if secs < 3600 {
        format!("{}m{:02}s", secs / 60, secs % 60)
    } else {
        format!("{}h{:02}m", secs / 3600, (secs % 3600) / 60)
    }
}

/// A recorded `*_ms` field (milliseconds): whole milliseconds below a second (`41ms`: a
/// quick test or step is not "0.0s"), else as [`human`].
pub(super) fn human_ms(ms: u64) -> String {
    if ms < 1000 {
        format!("{ms}ms")
    } else {
        human(Duration::from_millis(ms))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_the_view_shows_them() {
        assert_eq!(human(Duration::from_millis(41)), "0.0s");
        assert_eq!(human_ms(0), "0ms");
        assert_eq!(human_ms(41), "41ms");
        assert_eq!(human_ms(1500), "1.5s");
        assert_eq!(human_ms(59_960), "59.9s");
        assert_eq!(human_ms(125_000), "2m05s");
        assert_eq!(human_ms(3_720_000), "1h02m");
    }

    #[test]
    fn journal_instants_parse_with_milliseconds() {
        let a = parse_at("2026-12-06T06:30:41.804Z");
        let b = parse_at("2026-12-06T06:30:43.304Z");
        let (Some(a), Some(b)) = (a, b) else {
            panic!("RFC 3339 with milliseconds must parse: {a:?} {b:?}");
        };
        assert_eq!(between(a, b), Duration::from_millis(1500));
        assert_eq!(between(b, a), Duration::ZERO);
        assert_eq!(parse_at("yesterday"), None);
    }
}
