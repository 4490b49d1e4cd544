//! Fenced code block detection shared by every Markdown reader in this crate.
//!
//! Headers, requirement blocks, scenarios and delta sections shown inside a fenced code
//! block are examples, not structure. The rules mirror the OpenSpec CLI
//! (`parsers/code-fence.ts`): an opener is a line whose first non-whitespace run is
//! three or more backticks or tildes (anything may follow); a closer is a line holding
//! only a run of the same character at least as long as the opener's. Opening and
//! closing lines are part of the block.

use crate::ecma_text::js_re;

js_re!(OPENER, r"^\s*(`{3,}|~{3,})");
js_re!(CLOSER, r"^\s*(`{3,}|~{3,})\s*$");

/// One flag per line: `true` when the line belongs to a fenced code block (fence lines
/// included). An unclosed fence runs to the end of the document.
pub fn fence_mask<S: AsRef<str>>(lines: &[S]) -> Vec<bool> {
    let mut mask = vec![false; lines.len()];
    let mut active: Option<(char, usize)> = None;
    for (i, line) in lines.iter().enumerate() {
        let line = line.as_ref();
        match active {
            None => {
                if let Some(m) = OPENER.captures(line).and_then(|c| c.get(1)) {
                    let run = m.as_str();
                    let marker = run.chars().next().unwrap_or('`');
                    active = Some((marker, run.chars().count()));
                    mask[i] = true;
                }
            }
            Some((marker, length)) => {
                mask[i] = true;
                if let Some(m) = CLOSER.captures(line).and_then(|c| c.get(1)) {
                    let run = m.as_str();
                    if run.starts_with(marker) && run.chars().count() >= length {
                        active = None;
                    }
                }
            }
        }
    }
    mask
}

#[cfg(test)]
mod tests {
    use super::fence_mask;

    #[test]
    fn a_shorter_or_different_run_does_not_close_the_fence() {
        let lines = ["````md", "```", "~~~~", "## inside", "````", "## outside"];
        assert_eq!(
            fence_mask(&lines),
            vec![true, true, true, true, true, false]
        );
    }

    #[test]
    fn a_closer_with_an_info_string_is_content() {
        let lines = ["~~~", "~~~ rust", "x", "~~~", "y"];
        assert_eq!(fence_mask(&lines), vec![true, true, true, true, false]);
    }
}
