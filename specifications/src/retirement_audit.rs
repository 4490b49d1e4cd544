//! What a capability retirement could not account for (`contentTheMergeCannotName` in
//! the CLI's `core/specs-apply.ts`).
//!
//! Retiring a capability deletes its whole spec file, so archive first lists every
//! non-blank line the merge is not able to name: above the requirements section,
//! anything but the title and the `## Purpose` section (a setext or HTML heading ends
//! Purpose); every line of the section's preamble and of what follows it; inside each
//! requirement block, a foreign heading, setext headings, and after the first scenario
//! anything but scenario headings and their bullets (lazy continuation lines included).
//! The lines come trimmed, each once, in reading order.

use crate::code_fence::fence_mask;
use crate::ecma_text::{js_re, js_trim};
use crate::line_ending;
use crate::requirement_block::{RequirementBlock, RequirementsSection};
use crate::spec_merge::first_foreign_tail;

js_re!(
    INTERRUPTS_PARAGRAPH,
    r"^ {0,3}(?:>|(?:[-*_][ \t]*){3,}$|(?:[-*+]|\d{1,9}[.)])(?:[ \t]|$)|[<|])"
);
js_re!(LIST_ITEM, r"^(\s*(?:[-*+]|\d{1,9}[.)])\s+)");
js_re!(ATX_HEADING, r"^ {0,3}#{1,6}(?:[ \t]|$)");
js_re!(HTML_HEADING, r"(?i)^\s*<h[1-6]\b");
js_re!(HTML_HEADING_INDENTED, r"(?i)^ {0,3}<h[1-6]\b");
js_re!(SECTION_TITLE, r"^ {0,3}##\s+(.+?)\s*$");
js_re!(SETEXT, r"^ {0,3}(=+|-+)\s*$");
js_re!(SETEXT_IN_ITEM, r"^ {0,3}(?:=+|-+)\s*$");
js_re!(TITLE, r"^ {0,3}#\s+.+$");
js_re!(SCENARIO_HEADING, r"(?i)^ {0,3}####\s+Scenario:");
js_re!(INDENT, r"^[ \t]*");
js_re!(TABLE_OR_HTML, r"^\s*[|<]");

/// The trimmed lines of the spec split into `parts` that a retirement could not name,
/// each once, in reading order; empty when deleting the file loses nothing unnamed.
pub(crate) fn content_the_merge_cannot_name(parts: &RequirementsSection) -> Vec<String> {
    let mut leftovers = leftovers_before_requirements(&parts.before);
    for slice in [&parts.preamble, &parts.after] {
        for line in slice.split('\n') {
            if !js_trim(line).is_empty() {
                leftovers.push(js_trim(line).to_string());
            }
        }
    }
    for block in &parts.body_blocks {
        leftovers.extend(leftovers_in_block(block));
    }
    let mut unique: Vec<String> = Vec::new();
    for line in leftovers {
        if !unique.contains(&line) {
            unique.push(line);
        }
    }
    unique
}

/// Above the requirements section: everything but the first title and the Purpose
/// section's body (which a setext or HTML heading, or another `##` section, ends).
fn leftovers_before_requirements(before: &str) -> Vec<String> {
    let mut leftovers: Vec<String> = Vec::new();
    let before = line_ending::normalize(before);
    let before_lines: Vec<&str> = before.split('\n').collect();
    let before_mask = fence_mask(&before_lines);
    let mut in_purpose = false;
    let mut title_seen = false;
    let mut previous = "";
    for (index, line) in before_lines.iter().enumerate() {
        if js_trim(line).is_empty() {
            previous = "";
            continue;
        }
        if !before_mask[index] {
            if let Some(c) = SECTION_TITLE.captures(line) {
                in_purpose =
                    js_trim(c.get(1).map_or("", |m| m.as_str())).eq_ignore_ascii_case("purpose");
                if !in_purpose {
                    leftovers.push(js_trim(line).to_string());
                }
                previous = line;
                continue;
            }
            let setext = in_purpose && !js_trim(previous).is_empty() && SETEXT.is_match(line);
            let html = HTML_HEADING_INDENTED.is_match(line);
            if setext || html {
                leftovers.push(js_trim(if setext { previous } else { line }).to_string());
                in_purpose = false;
                previous = line;
                continue;
            }
            if TITLE.is_match(line) {
                if !title_seen && !in_purpose {
                    title_seen = true;
                } else {
                    leftovers.push(js_trim(line).to_string());
                    in_purpose = false;
                }
                previous = line;
                continue;
            }
        }
        previous = line;
        if in_purpose {
            continue;
        }
        leftovers.push(js_trim(line).to_string());
    }
    leftovers
}

/// Where a line-by-line read of a requirement block stands.
#[derive(Default)]
struct BlockReading {
    /// A `#### Scenario:` heading was read.
    seen_scenario: bool,
    /// Inside a scenario's bullet list.
    in_bullets: bool,
    /// The current scenario has had a bullet.
    bullets_seen: bool,
    /// The content column of the open list item.
    list_indent: Option<usize>,
    /// A paragraph (or list item text) is open, so a lazy continuation line may follow.
    paragraph_open: bool,
}

/// Inside one requirement block: its foreign heading, the text of setext headings, and
/// after the first scenario every line that is neither a scenario heading, one of its
/// bullets nor their continuation; before it, tables and HTML.
fn leftovers_in_block(block: &RequirementBlock) -> Vec<String> {
    let mut leftovers: Vec<String> = Vec::new();
    if let Some((heading, _)) = first_foreign_tail(&block.raw) {
        leftovers.push(heading);
    }
    let raw = line_ending::normalize_newlines(&block.raw);
    let lines: Vec<&str> = raw.split('\n').collect();
    let mask = fence_mask(&lines);
    let mut state = BlockReading::default();
    for (index, line) in lines.iter().enumerate() {
        if js_trim(line).is_empty() {
            if state.bullets_seen {
                state.in_bullets = false;
            }
            state.list_indent = None;
            state.paragraph_open = false;
            continue;
        }
        if index == 0 {
            continue;
        }
        let indent = content_column(INDENT.find(line).map_or("", |m| m.as_str()));
        let inside_item = state.list_indent.is_some_and(|l| indent >= l);
        let within = if inside_item {
            drop_indent(line, state.list_indent.unwrap_or(0))
        } else {
            line
        };
        let lazily =
            state.paragraph_open && state.in_bullets && !INTERRUPTS_PARAGRAPH.is_match(within);
        let continues = (inside_item || lazily) && !is_heading_line(within);
        if mask[index] {
            if !inside_item {
                state.list_indent = None;
            }
            state.paragraph_open = false;
            continue;
        }
        if index > 1 && SETEXT_IN_ITEM.is_match(within) && !js_trim(lines[index - 1]).is_empty() {
            leftovers.push(js_trim(lines[index - 1]).to_string());
            state.list_indent = None;
            state.paragraph_open = false;
            continue;
        }
        if continues {
            state.paragraph_open = !INTERRUPTS_PARAGRAPH.is_match(within);
            continue;
        }
        if state.unnameable_line_start(line) {
            leftovers.push(js_trim(line).to_string());
        }
    }
    leftovers
}

impl BlockReading {
    /// Reads a line that starts something (not blank, fenced, a setext underline or a
    /// continuation): whether the retirement cannot name it.
    fn unnameable_line_start(&mut self, line: &str) -> bool {
        let bullet = LIST_ITEM
            .captures(line)
            .and_then(|c| c.get(1))
            .map(|m| m.as_str());
        self.list_indent = bullet.map(content_column);
        self.paragraph_open = bullet.is_some();
        if SCENARIO_HEADING.is_match(line) {
            self.seen_scenario = true;
            self.in_bullets = true;
            self.bullets_seen = false;
            return false;
        }
        if bullet.is_some() {
            if self.in_bullets {
                self.bullets_seen = true;
                return false;
            }
            return self.seen_scenario;
        }
        self.seen_scenario || TABLE_OR_HTML.is_match(line)
    }
}

/// The column where text after `prefix` starts (tabs to multiples of 4).
fn content_column(prefix: &str) -> usize {
    let mut column = 0;
    for c in prefix.chars() {
        column += if c == '\t' { 4 - (column % 4) } else { 1 };
    }
    column
}

/// `line` without up to `columns` columns of leading indentation.
fn drop_indent(line: &str, columns: usize) -> &str {
    let mut column = 0;
    let mut index = 0;
    for (i, c) in line.char_indices() {
        if column >= columns {
            break;
        }
        match c {
            ' ' => column += 1,
            '\t' => column += 4 - (column % 4),
            _ => break,
        }
        index = i + c.len_utf8();
    }
    &line[index..]
}

/// An ATX or HTML heading (`isHeadingLine`).
fn is_heading_line(line: &str) -> bool {
    ATX_HEADING.is_match(line) || HTML_HEADING.is_match(line)
}
