//! Detects a main spec whose Purpose is still a placeholder.
//!
//! Two shapes count (CLI `validation/purpose-placeholder.ts`): the sentence archive
//! writes into a spec it creates (`TBD - created by archiving change <id>. Update
//! Purpose after archive.`), and a Purpose opening with a `TBD`/`TODO` marker — in
//! capitals whatever follows, in any other case only when punctuation or the line end
//! follows, so Spanish "Todo el ..." is prose. Fenced lines are ignored. The finding
//! carries the line to fix when it can be located.

use crate::code_fence::fence_mask;
use crate::ecma_text::{js_re, js_trim};
use crate::line_ending;

js_re!(WORD_CONTINUES, r"^[\p{L}\p{N}\p{M}_]");
js_re!(PURPOSE_HEADER, r"(?i)^ {0,3}##[ \t]+Purpose[ \t]*$");
js_re!(TOP_LEVEL_HEADER, r"^ {0,3}#{1,2}[ \t]+");

/// Opening half of the Purpose archive writes for a capability it creates.
pub const PLACEHOLDER_PREFIX: &str = "TBD - created by archiving change ";
/// Closing half of that Purpose.
pub const PLACEHOLDER_SUFFIX: &str = ". Update Purpose after archive.";

fn unfenced_lines(text: &str) -> Vec<String> {
    let normalized = line_ending::normalize_newlines(text);
    let lines: Vec<&str> = normalized.split('\n').collect();
    let mask = fence_mask(&lines);
    lines
        .iter()
        .enumerate()
        .filter(|(i, _)| !mask[*i])
        .map(|(_, l)| l.to_string())
        .collect()
}

fn generated_prefix_index(text: &str) -> Option<usize> {
    let mut search_from = 0;
    while let Some(pos) = text[search_from..].find(PLACEHOLDER_SUFFIX) {
        let suffix_at = search_from + pos;
        // lastIndexOf(prefix, suffixAt): a prefix starting at or before the suffix.
        let window_end = (suffix_at + PLACEHOLDER_PREFIX.len()).min(text.len());
        let window_end = (0..=window_end)
            .rev()
            .find(|&i| text.is_char_boundary(i))
            .unwrap_or(0);
        if let Some(prefix_at) = text[..window_end].rfind(PLACEHOLDER_PREFIX) {
            return Some(prefix_at);
        }
        search_from = suffix_at + 1;
        while search_from < text.len() && !text.is_char_boundary(search_from) {
            search_from += 1;
        }
        if search_from >= text.len() {
            break;
        }
    }
    None
}

fn leading_marker(prose: &str) -> bool {
    for marker in ["TBD", "TODO"] {
        // Shouted: the marker in capitals, not continued by a word character.
        if let Some(rest) = prose.strip_prefix(marker)
            && !WORD_CONTINUES.is_match(rest)
        {
            return true;
        }
        // Any case: only when punctuation or the end of the line follows.
        if prose.len() >= marker.len()
            && prose.is_char_boundary(marker.len())
            && prose[..marker.len()].eq_ignore_ascii_case(marker)
        {
            let rest = &prose[marker.len()..];
            if WORD_CONTINUES.is_match(rest) {
                continue;
            }
            let after = rest.trim_start_matches([' ', '\t']);
            match after.chars().next() {
                None | Some('\n') => return true,
                Some(c) if ":-\u{2013}\u{2014}.,;()[]{}".contains(c) => return true,
                _ => {}
            }
        }
    }
    false
}

/// `Some(line)` when the Purpose `overview` is a placeholder, with the 1-based line of
/// `content` (the whole spec) carrying it when it can be located; `None` otherwise.
pub fn find_purpose_placeholder(overview: &str, content: &str) -> Option<Option<usize>> {
    let prose = unfenced_lines(overview).join("\n");
    let prose = js_trim(&prose);
    let leading = leading_marker(prose);
    if !leading && generated_prefix_index(prose).is_none() {
        return None;
    }
    Some(placeholder_line(content, leading))
}

fn placeholder_line(content: &str, leading: bool) -> Option<usize> {
    let normalized = line_ending::normalize_newlines(content);
    let lines: Vec<&str> = normalized.split('\n').collect();
    let mask = fence_mask(&lines);
    let header = (0..lines.len()).find(|&i| !mask[i] && PURPOSE_HEADER.is_match(lines[i]))?;
    let mut purpose: Vec<(usize, &str)> = Vec::new();
    for i in header + 1..lines.len() {
        if mask[i] {
            continue;
        }
        if TOP_LEVEL_HEADER.is_match(lines[i]) {
            break;
        }
        if leading && !js_trim(lines[i]).is_empty() {
            return Some(i + 1);
        }
        purpose.push((i + 1, lines[i]));
    }
    if leading {
        return None;
    }
    let text = purpose
        .iter()
        .map(|(_, t)| *t)
        .collect::<Vec<_>>()
        .join("\n");
    let prefix_at = generated_prefix_index(&text)?;
    let offset = text[..prefix_at].matches('\n').count();
    purpose.get(offset).map(|(line, _)| *line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_follow_case_and_punctuation_rules() {
        assert!(leading_marker("TODO write this"));
        assert!(leading_marker("todo - later"));
        assert!(leading_marker("tbd"));
        assert!(!leading_marker("Todo el sistema"));
        assert!(!leading_marker("TODOs remain"));
    }

    #[test]
    fn generated_sentence_is_located_on_its_line() {
        let spec = "# x\n\n## Purpose\nWritten by hand.\nTBD - created by archiving change c. Update Purpose after archive.\n\n## Requirements\n";
        let overview =
            "Written by hand.\nTBD - created by archiving change c. Update Purpose after archive.";
        assert_eq!(find_purpose_placeholder(overview, spec), Some(Some(5)));
        assert_eq!(find_purpose_placeholder("A real purpose", spec), None);
    }
}
