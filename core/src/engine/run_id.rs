//! Run identifiers: short, sortable, valid as git ref components and file names.

use std::time::{SystemTime, UNIX_EPOCH};

/// A new run id: `YYYYMMDD-HHMMSS-xxxx` (UTC time, then 4 hex digits from the clock's
/// nanoseconds and the process id), so ids sort by start time and two runs started in the
/// same second differ.
pub fn generate_run_id() -> String {
    let now = SystemTime::now();
    let stamp = humantime::format_rfc3339_seconds(now).to_string();
    // "2026-11-21T05:30:12Z" -> "20261121-053012"
    let digits: String = stamp.chars().filter(|c| c.is_ascii_digit()).collect();
    let (date, time) = digits.split_at(8.min(digits.len()));
    let nanos = now
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let salt = (nanos ^ std::process::id().rotate_left(16)) & 0xffff;
    format!("{date}-{time}-{salt:04x}")
}

/// Checks a user-given run id (`--run-id`): 1 to 64 characters of `[A-Za-z0-9._-]`,
/// starting with a letter or digit, not ending in `.lock` or `.`, no `..` (git ref rules,
/// since the id names the branch `pipeline/<run-id>`), and not `latest`, which every
/// command reads as "the newest run".
pub fn check_run_id(id: &str) -> Result<(), String> {
    if id == "latest" {
        return Err(
            "invalid run id `latest`: it is reserved (commands read it as the newest run); choose another id"
                .to_owned(),
        );
    }
    let ok_chars = id
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    let starts_ok = id.chars().next().is_some_and(|c| c.is_ascii_alphanumeric());
    if id.is_empty()
        || id.len() > 64
        || !ok_chars
        || !starts_ok
        || id.ends_with(".lock")
        || id.ends_with('.')
        || id.contains("..")
    {
        return Err(format!(
            "invalid run id `{id}`: use 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit (it names the branch pipeline/<run-id>)"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_are_valid_and_sortable_shape() {
        let id = generate_run_id();
        check_run_id(&id).unwrap();
        assert_eq!(id.len(), "20261121-053012-a3f9".len(), "{id}");
    }

    #[test]
    fn rejects_ids_that_are_not_ref_safe() {
        for bad in ["", "-x", "a/b", "a..b", "x.lock", "a b", "é", "latest"] {
            assert!(check_run_id(bad).is_err(), "{bad}");
        }
        check_run_id("nightly-2026.11.21_1").unwrap();
    }
}
