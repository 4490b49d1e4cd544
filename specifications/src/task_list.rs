//! Task checklists (`tasks.md`): reading progress and ticking tasks.
//!
//! A task line is a list item (`-`, `*`, `+`, or `1.`/`1)` with up to nine digits, at
//! any indent) carrying a checkbox with at most one non-space marker; only `x`/`X`
//! means done, any other marker (`[~]`, `[ ]`, `[]`, `[ x ]` is done) means open. A
//! one-character bracket directly followed by `(` or `[` is a link, not a task.
//! Checkboxes count anywhere in the file, fenced or not, exactly as the CLI's
//! `parseTaskLines` reads them, so progress shown by `openspec list` and by this crate
//! agree. Task numbers are `N.M` (more levels and a letter suffix allowed) at the start
//! of the description.

use crate::ecma_text::{is_js_space, js_trim};

/// One checkbox line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskLine {
    /// Checked with `x`/`X`.
    pub done: bool,
    /// Text after the checkbox, trimmed.
    pub description: String,
    /// The task number at the start of the description (`1.2`, `2.3.1a`), if any.
    pub number: Option<String>,
    /// Byte range of the checkbox interior (between `[` and `]`) within the line.
    interior: (usize, usize),
}

/// Done and total task counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct TaskProgress {
    /// Number of task lines.
    pub total: usize,
    /// Number of checked task lines.
    pub completed: usize,
}

impl TaskProgress {
    /// The CLI's status text: `No tasks`, `✓ Complete` or `N/M tasks`.
    pub fn status_text(&self) -> String {
        if self.total == 0 {
            "No tasks".to_string()
        } else if self.completed == self.total {
            "✓ Complete".to_string()
        } else {
            format!("{}/{} tasks", self.completed, self.total)
        }
    }
}

/// Parses one line (without its `\n`; a trailing `\r` is tolerated).
pub fn parse_task_line(line: &str) -> Option<TaskLine> {
    let rest = line.trim_start_matches(is_js_space);
    let offset = line.len() - rest.len();
    let marker_len = list_marker_len(rest)?;
    let after_marker = &rest[marker_len..];
    let after_space = after_marker.trim_start_matches(is_js_space);
    let open = offset + marker_len + (after_marker.len() - after_space.len());
    let inner = after_space.strip_prefix('[')?;
    let interior_start = open + 1;
    let (close_rel, marker) = checkbox(inner)?;
    let interior = (interior_start, interior_start + close_rel);
    let after_close = &inner[close_rel + 1..];
    let description_start = after_close.trim_start_matches(is_js_space);
    let end = description_start
        .find(['\n', '\r', '\u{2028}', '\u{2029}'])
        .unwrap_or(description_start.len());
    let description = js_trim(&description_start[..end]).to_string();
    let number = task_number(&description);
    Some(TaskLine {
        done: matches!(marker, Some('x' | 'X')),
        description,
        number,
        interior,
    })
}

fn list_marker_len(s: &str) -> Option<usize> {
    let first = s.chars().next()?;
    if matches!(first, '-' | '*' | '+') {
        return Some(1);
    }
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    if (1..=9).contains(&digits) && matches!(s.as_bytes().get(digits), Some(b'.' | b')')) {
        return Some(digits + 1);
    }
    None
}

/// Matches `\s*([^\]\s]?)\s*\](?![([])|\s+\]` after `[`; returns the byte offset of `]`
/// within `inner` and the marker.
fn checkbox(inner: &str) -> Option<(usize, Option<char>)> {
    let lead = inner.len() - inner.trim_start_matches(is_js_space).len();
    let after_lead = &inner[lead..];
    let not_link = |close: usize| !matches!(inner.as_bytes().get(close + 1), Some(b'(' | b'['));
    let mut chars = after_lead.chars();
    match chars.next() {
        Some(']') => {
            if not_link(lead) || lead > 0 {
                return Some((lead, None));
            }
            None
        }
        Some(c) if !is_js_space(c) => {
            let after_marker = &after_lead[c.len_utf8()..];
            let trail = after_marker.len() - after_marker.trim_start_matches(is_js_space).len();
            let close = lead + c.len_utf8() + trail;
            (inner.as_bytes().get(close) == Some(&b']') && not_link(close))
                .then_some((close, Some(c)))
        }
        _ => None,
    }
}

/// The task number at the start of a description: digits, one or more `.digits`, an
/// optional letter suffix, followed by whitespace or the end.
pub fn task_number(description: &str) -> Option<String> {
    let bytes = description.as_bytes();
    let mut i = bytes.iter().take_while(|b| b.is_ascii_digit()).count();
    if i == 0 {
        return None;
    }
    let mut groups = 0;
    while i < bytes.len() && bytes[i] == b'.' {
        let digits = bytes[i + 1..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        if digits == 0 {
            break;
        }
        i += 1 + digits;
        groups += 1;
    }
    if groups == 0 {
        return None;
    }
    i += bytes[i..]
        .iter()
        .take_while(|b| b.is_ascii_alphabetic())
        .count();
    let next = description[i..].chars().next();
    match next {
        None => Some(description[..i].to_string()),
        Some(c) if is_js_space(c) => Some(description[..i].to_string()),
        _ => None,
    }
}

/// Every task line of a document, in order (the file is split on `\n` only).
pub fn parse_task_lines(content: &str) -> Vec<TaskLine> {
    content.split('\n').filter_map(parse_task_line).collect()
}

/// Task progress of a document.
pub fn task_progress(content: &str) -> TaskProgress {
    let tasks = parse_task_lines(content);
    TaskProgress {
        total: tasks.len(),
        completed: tasks.iter().filter(|t| t.done).count(),
    }
}

/// Ticks (`[ ]` -> `[x]`) every open task whose number is in `task_numbers`, leaving
/// every other byte of `tasks_md` (line endings, indentation, text) unchanged. Tasks
/// already done, tasks without a number and numbers not found are left alone.
pub fn tick_tasks(tasks_md: &str, task_numbers: &[String]) -> String {
    let mut out = String::with_capacity(tasks_md.len());
    for (index, line) in tasks_md.split('\n').enumerate() {
        if index > 0 {
            out.push('\n');
        }
        match parse_task_line(line) {
            Some(task)
                if !task.done
                    && task
                        .number
                        .as_ref()
                        .is_some_and(|n| task_numbers.contains(n)) =>
            {
                out.push_str(&line[..task.interior.0]);
                out.push('x');
                out.push_str(&line[task.interior.1..]);
            }
            _ => out.push_str(line),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_markers_and_rejects_links() {
        let doc = "- [ ] 1.1 a\n  * [x] 1.2 b\n3) [~] c\n+ [] d\n- [A](http://x)\n- [ ](x) e\n- [WIP] f\n1234567890. [ ] g";
        let tasks = parse_task_lines(doc);
        let described: Vec<_> = tasks
            .iter()
            .map(|t| (t.done, t.description.as_str()))
            .collect();
        assert_eq!(
            described,
            [
                (false, "1.1 a"),
                (true, "1.2 b"),
                (false, "c"),
                (false, "d"),
                (false, "(x) e")
            ]
        );
        assert_eq!(
            task_progress(doc),
            TaskProgress {
                total: 5,
                completed: 1
            }
        );
    }

    #[test]
    fn numbers_need_a_dot_and_a_boundary() {
        assert_eq!(task_number("1.2 x").as_deref(), Some("1.2"));
        assert_eq!(task_number("2.3.1a").as_deref(), Some("2.3.1a"));
        assert_eq!(task_number("1. x"), None);
        assert_eq!(task_number("1.2-x"), None);
    }

    #[test]
    fn ticking_preserves_every_other_byte() {
        let doc = "# Tasks\r\n- [ ] 1.1 a\r\n  - [ ] 1.2 b\r\n- [x] 1.3 c\r\n- [  ] 2.1 d";
        let ticked = tick_tasks(
            doc,
            &["1.2".into(), "1.3".into(), "2.1".into(), "9.9".into()],
        );
        assert_eq!(
            ticked,
            "# Tasks\r\n- [ ] 1.1 a\r\n  - [x] 1.2 b\r\n- [x] 1.3 c\r\n- [x] 2.1 d"
        );
        assert_eq!(tick_tasks(doc, &[]), doc);
    }
}
