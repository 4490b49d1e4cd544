//! Lints of a change's task files that the CLI reports as warnings.
//!
//! Two checks (CLI `validation/task-numbering.ts`, `task-checkboxes.ts`): inside
//! `## N.` groups a task numbered `M.x` must belong to group `M`, and a task number may
//! be declared once; and a tracked task set with list items but no checkbox at all
//! counts as zero tasks, which hides unfinished work from `list` and `archive`.

use std::collections::HashMap;

use crate::ecma_text::js_re;
use crate::task_list::{parse_task_line, parse_task_lines};

js_re!(LEVEL_TWO, r"^ {0,3}##(?:[ \t]+|[ \t]*\r?$)");
js_re!(NUMBERED_GROUP, r"^ {0,3}##[ \t]+(\d+)\.(?:[ \t]|\r?$)");
js_re!(LIST_ITEM, r"^\s*(?:[-*+]|\d{1,9}[.)])\s+\S");
js_re!(FENCE, r"^ {0,3}(`{3,}|~{3,})(.*)");
js_re!(FRONT_MATTER, r"^-{3}\s*$");

/// A task document: its path relative to the change and its content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskDocument {
    /// `/`-separated path relative to the change directory (`tasks.md`).
    pub path: String,
    /// File content as read.
    pub content: String,
}

/// One lint finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskLint {
    /// Document path.
    pub path: String,
    /// 1-based line.
    pub line: usize,
    /// The CLI's message.
    pub message: String,
}

fn strip_leading_zeros(s: &str) -> &str {
    let trimmed = s.trim_start_matches('0');
    if trimmed.is_empty() || !trimmed.starts_with(|c: char| c.is_ascii_digit()) {
        &s[s.len() - 1..]
    } else {
        trimmed
    }
}

/// Ambiguous task numbering across `documents` (`findTaskNumberingIssues`).
pub fn task_numbering_issues(documents: &[TaskDocument]) -> Vec<TaskLint> {
    let mut issues = Vec::new();
    let mut first: HashMap<String, (String, usize)> = HashMap::new();
    for document in documents {
        let lines: Vec<&str> = document.content.split('\n').collect();
        if !lines.iter().any(|l| NUMBERED_GROUP.is_match(l)) {
            continue;
        }
        let mut group: Option<String> = None;
        for (index, line) in lines.iter().enumerate() {
            if LEVEL_TWO.is_match(line) {
                group = NUMBERED_GROUP
                    .captures(line)
                    .and_then(|c| c.get(1))
                    .map(|m| m.as_str().to_string());
            }
            let Some(current) = &group else { continue };
            let Some(id) = parse_task_line(line).and_then(|t| t.number) else {
                continue;
            };
            let line_number = index + 1;
            let task_group = id.split('.').next().unwrap_or_default().to_string();
            if strip_leading_zeros(&task_group) != strip_leading_zeros(current) {
                issues.push(TaskLint {
                    path: document.path.clone(),
                    line: line_number,
                    message: format!(
                        "Task \"{id}\" is under group {current}, but its leading number points to group {task_group}. Move it to group {task_group} or renumber it."
                    ),
                });
            }
            match first.get(&id) {
                Some((path, line)) => {
                    let where_ = if *path == document.path {
                        format!("on line {line}")
                    } else {
                        format!("in {path} on line {line}")
                    };
                    issues.push(TaskLint {
                        path: document.path.clone(),
                        line: line_number,
                        message: format!(
                            "Task ID \"{id}\" is duplicated; it was first declared {where_}."
                        ),
                    });
                }
                None => {
                    first.insert(id, (document.path.clone(), line_number));
                }
            }
        }
    }
    issues
}

/// Task files with list items but no checkbox in the whole set
/// (`findMissingTaskCheckboxIssues`).
pub fn missing_checkbox_issues(documents: &[TaskDocument]) -> Vec<TaskLint> {
    if documents.is_empty()
        || documents
            .iter()
            .any(|d| !parse_task_lines(&d.content).is_empty())
    {
        return Vec::new();
    }
    documents
        .iter()
        .filter_map(|d| {
            first_list_item_line(&d.content).map(|line| TaskLint {
                path: d.path.clone(),
                line,
                message: "This change counts as 0 tasks: no line in its tracked task files is a checkbox, so \"openspec list\" and \"openspec status\" report no work and \"openspec archive\" has nothing to flag as incomplete. Write each task as \"- [ ] 1.1 Description\".".to_string(),
            })
        })
        .collect()
}

fn indent_columns(line: &str) -> usize {
    let mut column = 0;
    for c in line.chars() {
        match c {
            ' ' => column += 1,
            '\t' => column += 4 - (column % 4),
            _ => break,
        }
    }
    column
}

fn skip_front_matter(lines: &[&str]) -> usize {
    let Some(first) = lines.first() else { return 0 };
    let first = first.strip_prefix('\u{FEFF}').unwrap_or(first);
    if !FRONT_MATTER.is_match(crate::ecma_text::js_trim_end(first)) {
        return 0;
    }
    for (index, line) in lines.iter().enumerate().skip(1) {
        if FRONT_MATTER.is_match(crate::ecma_text::js_trim_end(line)) {
            return index + 1;
        }
    }
    0
}

fn first_list_item_line(content: &str) -> Option<usize> {
    let lines: Vec<&str> = content.split('\n').collect();
    let mut open: Option<(char, usize)> = None;
    let mut in_comment = false;
    for (index, line) in lines.iter().enumerate().skip(skip_front_matter(&lines)) {
        if in_comment {
            if line.contains("-->") {
                in_comment = false;
            }
            continue;
        }
        if let Some(c) = FENCE.captures(line) {
            let run = c.get(1).map_or("", |m| m.as_str());
            let marker = run.chars().next().unwrap_or('`');
            let length = run.chars().count();
            let info = c.get(2).map_or("", |m| m.as_str());
            match open {
                None => open = Some((marker, length)),
                Some((m, l))
                    if marker == m && length >= l && crate::ecma_text::js_trim(info).is_empty() =>
                {
                    open = None
                }
                Some(_) => {}
            }
            continue;
        }
        if open.is_some() {
            continue;
        }
        let start = line.trim_start_matches(crate::ecma_text::is_js_space);
        if start.starts_with("<!--") {
            let at = line.find("<!--").unwrap_or(0) + 4;
            if !line[at..].contains("-->") {
                in_comment = true;
            }
            continue;
        }
        if LIST_ITEM.is_match(line) && indent_columns(line) < 4 {
            return Some(index + 1);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(content: &str) -> Vec<TaskDocument> {
        vec![TaskDocument {
            path: "tasks.md".into(),
            content: content.into(),
        }]
    }

    #[test]
    fn numbering_must_follow_groups_and_be_unique() {
        let issues = task_numbering_issues(&doc(
            "## 1. A\n- [ ] 1.1 a\n- [ ] 2.1 b\n## 2. B\n- [ ] 1.1 c\n",
        ));
        let lines: Vec<_> = issues.iter().map(|i| i.line).collect();
        assert_eq!(lines, [3, 5, 5]);
        assert!(issues[2].message.contains("first declared on line 2"));
    }

    #[test]
    fn bare_lists_are_flagged_only_without_any_checkbox() {
        let flagged = missing_checkbox_issues(&doc(
            "---\ntags:\n- x\n---\n```\n- code\n```\n    - indented\n- real item\n",
        ));
        assert_eq!(flagged.len(), 1);
        assert_eq!(flagged[0].line, 9);
        assert!(missing_checkbox_issues(&doc("- item\n- [ ] 1.1 task\n")).is_empty());
    }
}
