//! Checks on values the JSON Schema cannot bound well enough for the engine: durations
//! (a timeout of `1e20` seconds is valid JSON Schema but no `Duration`), NUL bytes in
//! what becomes a process argument or environment value (no C string can hold one), and
//! ids against git's rules for the branch names they become.
//!
//! Each object (workstream or step) is checked for its own fields, so a field inherited
//! by a step is reported once, where it is written.

use std::path::Path;

use serde_json::Value;

use super::ValidationDiagnostic;
use super::raw_workstream::{RawAcceptanceTest, RawFields};

/// The longest duration a workstream may give, in seconds: one year (365 days). Long
/// enough for any step, short enough that every deadline computed from it
/// (`Instant + Duration`, a timestamp) stays far from overflowing.
pub const MAX_DURATION_SEC: f64 = 365.0 * 24.0 * 3600.0;

/// Where findings about one object go and how they name it.
pub(crate) struct ObjectSite<'a> {
    pub file: &'a Path,
    /// JSON pointer of the object.
    pub pointer: &'a str,
    /// Id of the step or workstream it is (or defines).
    pub step: &'a str,
}

impl ObjectSite<'_> {
    fn error(&self, field: &str, message: String, hint: &str) -> ValidationDiagnostic {
        ValidationDiagnostic::error(self.file, format!("{}/{field}", self.pointer), message)
            .with_step(self.step)
            .with_hint(hint)
    }
}

/// Checks the durations and texts of one workstream or step object: `timeout_sec`,
/// `stall_timeout_sec` (0 or a duration), each
/// acceptance test's `timeout_sec` and command, each compensation's `timeout_sec` (or
/// `timeout`) and command, `command`, `tasks`, `prompt` and `env` values.
pub(crate) fn check_object_limits(
    fields: &RawFields,
    site: &ObjectSite<'_>,
    diags: &mut Vec<ValidationDiagnostic>,
) {
    if let Some(t) = fields.timeout_sec {
        check_duration(t, "timeout_sec", site, diags);
    }
    // 0 is allowed here: it turns the tool profile's stall detection off.
    if let Some(t) = fields.stall_timeout_sec
        && t != 0.0
    {
        check_duration(t, "stall_timeout_sec", site, diags);
    }
    if let Some(c) = &fields.command {
        check_text(c, "command", site, diags);
    }
    if let Some(p) = &fields.prompt {
        check_text(p, "prompt", site, diags);
    }
    for (i, task) in fields.tasks.iter().flat_map(|t| t.0.iter()).enumerate() {
        let field = match &fields.tasks {
            Some(t) if t.0.len() == 1 => "tasks".to_string(),
            _ => format!("tasks/{i}"),
        };
        check_text(task, &field, site, diags);
    }
    for (key, value) in fields.env.iter().flatten() {
        check_text(value, &format!("env/{key}"), site, diags);
    }
    for (i, test) in fields.acceptance_tests.iter().enumerate() {
        match test {
            RawAcceptanceTest::Command(c) => {
                check_text(c, &format!("acceptance_tests/{i}"), site, diags);
            }
            RawAcceptanceTest::Named {
                command,
                timeout_sec,
                ..
            } => {
                check_text(
                    command,
                    &format!("acceptance_tests/{i}/command"),
                    site,
                    diags,
                );
                if let Some(t) = timeout_sec {
                    check_duration(
                        *t,
                        &format!("acceptance_tests/{i}/timeout_sec"),
                        site,
                        diags,
                    );
                }
            }
        }
    }
    match &fields.compensation {
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                check_compensation(item, &format!("compensation/{i}"), site, diags);
            }
        }
        Some(item) => check_compensation(item, "compensation", site, diags),
        None => {}
    }
}

/// A compensation entry: a command string, or an object with `command` and a timeout.
fn check_compensation(
    item: &Value,
    field: &str,
    site: &ObjectSite<'_>,
    diags: &mut Vec<ValidationDiagnostic>,
) {
    match item {
        Value::String(c) => check_text(c, field, site, diags),
        Value::Object(o) => {
            if let Some(c) = o.get("command").and_then(Value::as_str) {
                check_text(c, &format!("{field}/command"), site, diags);
            }
            for key in ["timeout_sec", "timeout"] {
                match o.get(key) {
                    None | Some(Value::Null) => {}
                    Some(Value::Number(n)) => match n.as_f64() {
                        Some(t) => check_duration(t, &format!("{field}/{key}"), site, diags),
                        None => diags.push(site.error(
                            &format!("{field}/{key}"),
                            format!("`{key}` {n} is not a usable number of seconds"),
                            "give seconds, e.g. 60",
                        )),
                    },
                    Some(other) => diags.push(site.error(
                        &format!("{field}/{key}"),
                        format!("`{key}` must be a number of seconds, got {other}"),
                        "give seconds, e.g. 60",
                    )),
                }
            }
        }
        _ => {}
    }
}

/// A number of seconds as written in a message: `1e20`, not twenty-one digits.
fn shown(seconds: f64) -> String {
    if seconds.abs() >= 1e10 {
        format!("{seconds:e}")
    } else {
        seconds.to_string()
    }
}

/// A duration in seconds must be finite, above 0 and at most [`MAX_DURATION_SEC`].
fn check_duration(
    seconds: f64,
    field: &str,
    site: &ObjectSite<'_>,
    diags: &mut Vec<ValidationDiagnostic>,
) {
    if !seconds.is_finite() || seconds <= 0.0 || seconds > MAX_DURATION_SEC {
        let name = field.rsplit('/').next().unwrap_or(field);
        diags.push(site.error(
            field,
            format!(
                "`{name}` is {} seconds: out of range (more than 0, at most {MAX_DURATION_SEC} = one year)",
                shown(seconds)
            ),
            "give the duration in seconds, e.g. 600 for ten minutes",
        ));
    }
}

/// Text that becomes a process argument, a prompt or an environment value must not hold
/// a NUL byte: the operating system cannot pass one (C strings end at NUL).
fn check_text(
    text: &str,
    field: &str,
    site: &ObjectSite<'_>,
    diags: &mut Vec<ValidationDiagnostic>,
) {
    if let Some(at) = text.find('\0') {
        diags.push(site.error(
            field,
            format!("`{field}` holds a NUL byte (\\u0000) at byte {at}: a command, prompt or environment value cannot carry one"),
            "remove the \\u0000 escape from the text",
        ));
    }
}

/// Whether one component of a branch name breaks a rule of `git check-ref-format` (see
/// `man git-check-ref-format`), and which: workstream and step ids become components of
/// the branch `pipeline-steps/<run>/<workstream>/<step>`, so each must be a valid
/// component on its own. The rules that concern a single component:
///
/// 1. it must not begin with `.` nor end with `.lock` (rule 1);
/// 2. it must not contain `..` (rule 3);
/// 3. it must not contain ASCII control characters (below 0x20, or 0x7F), space, `~`,
///    `^` or `:` (rule 4), nor `?`, `*` or `[` (rule 5), nor `\` (rule 10);
/// 4. it must not contain `/` (a component; rule 6 forbids empty components);
/// 5. it must not end with `.` (rule 7: an id can be the branch's last component),
///    nor contain `@{` (rule 8);
/// 6. it must not be empty.
///
/// Returns the broken rule in words, or `None` for a valid component.
pub(crate) fn ref_component_problem(id: &str) -> Option<&'static str> {
    if id.is_empty() {
        Some("must not be empty")
    } else if id.starts_with('.') {
        Some("must not begin with `.` (git check-ref-format rule 1)")
    } else if id.ends_with(".lock") {
        Some("must not end with `.lock` (git check-ref-format rule 1)")
    } else if id.contains("..") {
        Some("must not contain `..` (git check-ref-format rule 3)")
    } else if id.chars().any(|c| c.is_ascii_control()) {
        Some("must not contain control characters (git check-ref-format rule 4)")
    } else if id.contains([' ', '~', '^', ':']) {
        Some("must not contain a space, `~`, `^` or `:` (git check-ref-format rule 4)")
    } else if id.contains(['?', '*', '[']) {
        Some("must not contain `?`, `*` or `[` (git check-ref-format rule 5)")
    } else if id.contains('/') {
        Some("must not contain `/` (one component of a branch name; git check-ref-format rule 6)")
    } else if id.ends_with('.') {
        Some("must not end with `.` (git check-ref-format rule 7)")
    } else if id.contains("@{") {
        Some("must not contain `@{` (git check-ref-format rule 8)")
    } else if id.contains('\\') {
        Some("must not contain `\\` (git check-ref-format rule 10)")
    } else {
        None
    }
}

/// An error for an id (at `pointer`/id) that cannot be a branch name component.
pub(crate) fn check_id(
    id: &str,
    kind: &str,
    site: &ObjectSite<'_>,
    diags: &mut Vec<ValidationDiagnostic>,
) {
    if let Some(rule) = ref_component_problem(id) {
        diags.push(site.error(
            "id",
            format!("{kind} id `{id}` cannot name a git branch: it {rule}"),
            "choose an id of letters, digits, '-' and '_' with single dots inside, e.g. `build-api`",
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_follow_git_check_ref_format_and_agree_with_libgit2() {
        for bad in [
            "x.lock", "a.", "a..b", ".a", "a@{b", "a b", "a~", "a^", "a:b", "a?", "a*", "a[",
            "a\\b", "a\u{1}", "a\u{7f}", "",
        ] {
            assert!(ref_component_problem(bad).is_some(), "{bad:?} accepted");
            // The id of a single-step workstream or of a step is the branch's last
            // component, where rule 7 (no trailing `.`) applies too.
            let name = format!("refs/heads/pipeline-steps/r/{bad}");
            assert!(
                !git2::Reference::is_valid_name(&name),
                "{bad:?} refused but git accepts {name}"
            );
        }
        assert!(ref_component_problem("a/b").is_some());
        for good in [
            "a",
            "a.b",
            "build-api",
            "x_lock",
            "a.lockx",
            "A1",
            "é",
            "a@b",
            "@",
        ] {
            assert_eq!(ref_component_problem(good), None, "{good:?}");
            let name = format!("refs/heads/pipeline-steps/r/w/{good}");
            assert!(git2::Reference::is_valid_name(&name), "{name}");
        }
    }
}
