//! The Markdown section tree the OpenSpec CLI builds for main specs and proposals.
//!
//! Mirrors `MarkdownParser.parseSections`: every ATX header (`#` to `######` followed by
//! whitespace and a title) outside a fenced code block opens a section whose content
//! runs to the next header of the same or a higher level; a header nests under the
//! closest preceding header of a lower level. Section titles are trimmed; content is
//! the raw lines joined with `\n` and trimmed (JavaScript whitespace).

use crate::code_fence::fence_mask;
use crate::ecma_text::{js_re, js_trim};

js_re!(HEADER, r"^(#{1,6})\s+(.+)$");
js_re!(HEADER_START, r"^(#{1,6})\s+");

/// One header and what follows it, with nested deeper headers as `children`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    /// Header level, 1 to 6.
    pub level: usize,
    /// Header text after the `#` run, trimmed.
    pub title: String,
    /// Lines up to the next header of the same or a higher level, trimmed.
    pub content: String,
    /// Deeper sections, in document order.
    pub children: Vec<Section>,
}

/// Parses `lines` (already LF-split, BOM stripped) into the section forest.
pub fn parse_sections<S: AsRef<str>>(lines: &[S]) -> Vec<Section> {
    let mask = fence_mask(lines);
    let mut flat: Vec<(usize, String, String)> = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if mask[i] {
            continue;
        }
        let Some(caps) = HEADER.captures(line.as_ref()) else {
            continue;
        };
        let level = caps.get(1).map_or(0, |m| m.as_str().len());
        let title = js_trim(caps.get(2).map_or("", |m| m.as_str())).to_string();
        let mut content: Vec<&str> = Vec::new();
        for (j, next) in lines.iter().enumerate().skip(i + 1) {
            let next = next.as_ref();
            if !mask[j]
                && let Some(h) = HEADER_START.captures(next)
                && h.get(1).map_or(0, |m| m.as_str().len()) <= level
            {
                break;
            }
            content.push(next);
        }
        flat.push((level, title, js_trim(&content.join("\n")).to_string()));
    }
    let mut index = 0;
    let mut roots = Vec::new();
    while index < flat.len() {
        roots.push(build(&flat, &mut index));
    }
    roots
}

fn build(flat: &[(usize, String, String)], index: &mut usize) -> Section {
    let (level, title, content) = flat[*index].clone();
    *index += 1;
    let mut children = Vec::new();
    while *index < flat.len() && flat[*index].0 > level {
        children.push(build(flat, index));
    }
    Section {
        level,
        title,
        content,
        children,
    }
}

/// Depth-first search for the first section whose title equals `title` ignoring case
/// (`findSection`).
pub fn find_section<'a>(sections: &'a [Section], title: &str) -> Option<&'a Section> {
    let wanted = title.to_lowercase();
    for section in sections {
        if section.title.to_lowercase() == wanted {
            return Some(section);
        }
        if let Some(found) = find_section(&section.children, title) {
            return Some(found);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deeper_headers_nest_and_fenced_headers_are_content() {
        let text = "# T\n## A\nx\n```\n## not\n```\n### B\ny\n## C";
        let lines: Vec<&str> = text.split('\n').collect();
        let tree = parse_sections(&lines);
        assert_eq!(tree.len(), 1);
        let a = &tree[0].children[0];
        assert_eq!(a.title, "A");
        assert_eq!(a.content, "x\n```\n## not\n```\n### B\ny");
        assert_eq!(a.children[0].title, "B");
        assert_eq!(tree[0].children[1].title, "C");
        assert!(find_section(&tree, "b").is_some());
    }

    #[test]
    fn skipped_levels_attach_to_the_closest_lower_level() {
        let lines = ["## R", "#### S", "### Q"];
        let tree = parse_sections(&lines);
        assert_eq!(tree[0].children.len(), 2);
        assert_eq!(tree[0].children[1].title, "Q");
    }
}
