//! Reading a requirement's statement and scenarios out of its block.
//!
//! One implementation for main specs, delta specs, validation and archive, as in the
//! CLI's `parsers/requirement-text.ts`: the statement is every non-blank, non-fenced
//! line before the first header, trimmed, `**Key**:` metadata lines skipped unless
//! they are all there is; a scenario is any `#### ` header outside a fence whose body
//! (up to the next header of level 1 to 4) is not blank; `SHALL`/`MUST` must appear
//! as whole words.

use crate::code_fence::fence_mask;
use crate::ecma_text::{js_re, js_trim};

js_re!(METADATA_LINE, r"^\*\*[^*]+\*\*:");
js_re!(HEADER_LINE, r"^#{1,6}\s");
js_re!(SCENARIO_HEADER, r"^####\s+");
js_re!(SCENARIO_BODY_END, r"^#{1,4}\s");

/// Whether `line` is a level-4 header, the only thing that opens a scenario.
pub fn is_scenario_header(line: &str) -> bool {
    SCENARIO_HEADER.is_match(line)
}

/// Strips the leading `####` and whitespace of a scenario header.
pub fn strip_scenario_header(line: &str) -> &str {
    match SCENARIO_HEADER.find(line) {
        Some(m) => &line[m.end()..],
        None => line,
    }
}

/// Whether a scenario body holds anything but whitespace (`hasScenarioBody`).
pub fn has_scenario_body(body: &str) -> bool {
    !js_trim(body).is_empty()
}

/// Whether `text` contains `SHALL` or `MUST` as a whole word (ASCII word boundaries,
/// as JavaScript's `\b`). Mirrors `containsShallOrMust`.
pub fn contains_shall_or_must(text: &str) -> bool {
    let bytes = text.as_bytes();
    let is_word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    for keyword in ["SHALL", "MUST"] {
        let mut from = 0;
        while let Some(pos) = text[from..].find(keyword) {
            let start = from + pos;
            let end = start + keyword.len();
            let before_ok = start == 0 || !is_word(bytes[start - 1]);
            let after_ok = end == bytes.len() || !is_word(bytes[end]);
            if before_ok && after_ok {
                return true;
            }
            from = start + 1;
        }
    }
    false
}

/// The requirement statement from the lines after its header; empty when there is none
/// (`extractRequirementBody`).
pub fn extract_requirement_body<S: AsRef<str>>(body_lines: &[S]) -> String {
    let mask = fence_mask(body_lines);
    let mut captured: Vec<&str> = Vec::new();
    let mut metadata: Vec<&str> = Vec::new();
    for (i, line) in body_lines.iter().enumerate() {
        if mask[i] {
            continue;
        }
        let line = line.as_ref();
        if HEADER_LINE.is_match(line) {
            break;
        }
        let trimmed = js_trim(line);
        if trimmed.is_empty() {
            continue;
        }
        if METADATA_LINE.is_match(trimmed) {
            metadata.push(trimmed);
            continue;
        }
        captured.push(trimmed);
    }
    if captured.is_empty() {
        metadata.join("\n")
    } else {
        captured.join("\n")
    }
}

/// The statement, falling back to the header title when the body has none
/// (`extractRequirementText`, used by `show` and spec parsing).
pub fn extract_requirement_text<S: AsRef<str>>(header_title: &str, body_lines: &[S]) -> String {
    let body = extract_requirement_body(body_lines);
    if body.is_empty() {
        js_trim(header_title).to_string()
    } else {
        body
    }
}

fn scenario_bodies<S: AsRef<str>>(body_lines: &[S]) -> Vec<String> {
    let mask = fence_mask(body_lines);
    let mut bodies = Vec::new();
    for i in 0..body_lines.len() {
        if mask[i] || !SCENARIO_HEADER.is_match(body_lines[i].as_ref()) {
            continue;
        }
        let mut end = i + 1;
        while end < body_lines.len()
            && (mask[end] || !SCENARIO_BODY_END.is_match(body_lines[end].as_ref()))
        {
            end += 1;
        }
        let body: Vec<&str> = body_lines[i + 1..end].iter().map(AsRef::as_ref).collect();
        bodies.push(body.join("\n"));
    }
    bodies
}

/// Number of scenarios with a body in a requirement block's lines (header excluded).
pub fn count_scenarios<S: AsRef<str>>(body_lines: &[S]) -> usize {
    scenario_bodies(body_lines)
        .iter()
        .filter(|b| has_scenario_body(b))
        .count()
}

/// Number of `####` headers with an empty body.
pub fn count_empty_scenarios<S: AsRef<str>>(body_lines: &[S]) -> usize {
    scenario_bodies(body_lines)
        .iter()
        .filter(|b| !has_scenario_body(b))
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statement_spans_lines_and_skips_fences_and_metadata() {
        let lines = [
            "",
            "**ID**: R1",
            "The system",
            "```",
            "x",
            "```",
            "SHALL work.",
            "#### Scenario: a",
            "- x",
        ];
        assert_eq!(extract_requirement_body(&lines), "The system\nSHALL work.");
        assert_eq!(
            extract_requirement_body(&["**Constraint**: MUST"]),
            "**Constraint**: MUST"
        );
    }

    #[test]
    fn keywords_need_word_boundaries() {
        assert!(contains_shall_or_must("it SHALL."));
        assert!(!contains_shall_or_must("MUSTARD and SHALLOW"));
        assert!(contains_shall_or_must("MUSTARD MUST"));
    }

    #[test]
    fn empty_scenarios_are_not_counted() {
        let lines = [
            "x",
            "#### Scenario: a",
            "",
            "#### Scenario: b",
            "- ok",
            "```",
            "#### c",
            "```",
        ];
        assert_eq!(count_scenarios(&lines), 1);
        assert_eq!(count_empty_scenarios(&lines), 1);
    }
}
