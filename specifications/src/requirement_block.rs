//! Requirement blocks: the unit archive moves, replaces and renames.
//!
//! A block is a canonical `### Requirement: <name>` header and every line up to the
//! next such header or the next `## ` section (fenced lines never end a block), with
//! trailing whitespace trimmed. Names are compared exactly after dropping an ATX
//! closing `#` run (`normalize_requirement_name`); the folded form (case and interior
//! whitespace ignored) is used only to detect near-miss typos. Mirrors
//! `parsers/requirement-blocks.ts` (`extractRequirementsSection`).

use crate::code_fence::fence_mask;
use crate::ecma_text::{js_re, js_trim, js_trim_end};
use crate::line_ending;

js_re!(CLOSING_HASHES, r"[ \t]+#+[ \t]*$");
js_re!(SPACE_RUN, r"\s+");
js_re!(REQUIREMENT_HEADER, r"(?i)^###\s*Requirement:\s*(.+)\s*$");
js_re!(REQUIREMENTS_SECTION, r"(?i)^##\s+Requirements\s*$");
js_re!(SECTION_HEADER, r"^##\s+");

/// A requirement block as written in a spec or delta.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequirementBlock {
    /// The header line as written.
    pub header_line: String,
    /// The normalised requirement name.
    pub name: String,
    /// Header plus body, trailing whitespace trimmed.
    pub raw: String,
}

/// Drops an ATX closing sequence (`### Requirement: Foo ###` names `Foo`; only a run
/// preceded by a space or tab closes, so `C#` keeps its `#`) and trims.
pub fn normalize_requirement_name(name: &str) -> String {
    js_trim(&CLOSING_HASHES.replace(name, "")).to_string()
}

/// Case- and whitespace-insensitive form used only for typo detection.
pub fn fold_requirement_name(name: &str) -> String {
    SPACE_RUN
        .replace_all(&normalize_requirement_name(name).to_lowercase(), " ")
        .into_owned()
}

/// The requirement name of a canonical header line, if `line` is one.
pub fn requirement_header_name(line: &str) -> Option<String> {
    REQUIREMENT_HEADER
        .captures(line)
        .and_then(|c| c.get(1))
        .map(|m| normalize_requirement_name(m.as_str()))
}

/// Whether `line` is a canonical requirement header.
pub fn is_requirement_header(line: &str) -> bool {
    REQUIREMENT_HEADER.is_match(line)
}

/// Whether `line` opens a `## ` section.
pub fn is_section_header(line: &str) -> bool {
    SECTION_HEADER.is_match(line)
}

/// A main spec split around its `## Requirements` section, so that it can be rebuilt
/// with changed blocks and everything else kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequirementsSection {
    /// Everything before the section header (ends with `\n` when non-blank).
    pub before: String,
    /// The section header line as written.
    pub header_line: String,
    /// Lines between the header and the first requirement block, trailing-trimmed.
    pub preamble: String,
    /// Requirement blocks in document order.
    pub body_blocks: Vec<RequirementBlock>,
    /// The rest of the document from the next `## ` section (starts with `\n`).
    pub after: String,
}

/// Splits a main spec around its Requirements section. A spec without one gets an
/// empty section appended after its (trimmed) content.
pub fn extract_requirements_section(content: &str) -> RequirementsSection {
    let normalized = line_ending::normalize(content);
    let lines: Vec<&str> = normalized.split('\n').collect();
    let mask = fence_mask(&lines);
    let Some(header_index) =
        (0..lines.len()).find(|&i| !mask[i] && REQUIREMENTS_SECTION.is_match(lines[i]))
    else {
        let before = js_trim_end(content);
        return RequirementsSection {
            before: if before.is_empty() {
                String::new()
            } else {
                format!("{before}\n\n")
            },
            header_line: "## Requirements".to_string(),
            preamble: String::new(),
            body_blocks: Vec::new(),
            after: "\n".to_string(),
        };
    };
    let end_index = (header_index + 1..lines.len())
        .find(|&i| !mask[i] && SECTION_HEADER.is_match(lines[i]))
        .unwrap_or(lines.len());
    let before = lines[..header_index].join("\n");
    let body = &lines[header_index + 1..end_index];
    let body_mask = &mask[header_index + 1..end_index];
    let is_req = |i: usize| !body_mask[i] && REQUIREMENT_HEADER.is_match(body[i]);
    let is_top = |i: usize| !body_mask[i] && SECTION_HEADER.is_match(body[i]);
    let mut cursor = 0;
    let mut preamble = Vec::new();
    while cursor < body.len() && !is_req(cursor) {
        preamble.push(body[cursor]);
        cursor += 1;
    }
    let mut blocks = Vec::new();
    while cursor < body.len() {
        let header = body[cursor];
        let Some(name) = requirement_header_name(header).filter(|_| is_req(cursor)) else {
            cursor += 1;
            continue;
        };
        cursor += 1;
        let mut block_lines = vec![header];
        while cursor < body.len() && !is_req(cursor) && !is_top(cursor) {
            block_lines.push(body[cursor]);
            cursor += 1;
        }
        blocks.push(RequirementBlock {
            header_line: header.to_string(),
            name,
            raw: js_trim_end(&block_lines.join("\n")).to_string(),
        });
    }
    let after = lines[end_index..].join("\n");
    RequirementsSection {
        before: if js_trim_end(&before).is_empty() {
            before
        } else {
            format!("{before}\n")
        },
        header_line: lines[header_index].to_string(),
        preamble: js_trim_end(&preamble.join("\n")).to_string(),
        body_blocks: blocks,
        after: if after.starts_with('\n') {
            after
        } else {
            format!("\n{after}")
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_drop_closing_hashes_but_keep_c_sharp() {
        assert_eq!(normalize_requirement_name("Foo ### "), "Foo");
        assert_eq!(normalize_requirement_name("C#"), "C#");
        assert_eq!(fold_requirement_name("Foo  Bar"), "foo bar");
    }

    #[test]
    fn splits_a_spec_around_its_requirements() {
        let spec = "# T\n\n## Purpose\nP\n\n## Requirements\nintro\n### Requirement: A\nx\n\n```\n### Requirement: fenced\n```\n### Requirement: B ##\ny\n\n## Notes\nn";
        let parts = extract_requirements_section(spec);
        assert_eq!(parts.before, "# T\n\n## Purpose\nP\n\n");
        assert_eq!(parts.preamble, "intro");
        let names: Vec<_> = parts.body_blocks.iter().map(|b| b.name.as_str()).collect();
        assert_eq!(names, ["A", "B"]);
        assert_eq!(
            parts.body_blocks[0].raw,
            "### Requirement: A\nx\n\n```\n### Requirement: fenced\n```"
        );
        assert_eq!(parts.after, "\n## Notes\nn");
    }
}
