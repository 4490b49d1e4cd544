//! Text primitives with the semantics of JavaScript strings and regular expressions.
//!
//! The OpenSpec CLI is written in TypeScript; its parser is a set of JavaScript regular
//! expressions over UTF-16 strings. To accept and reject exactly the same Markdown, this
//! crate reads text with the same notion of whitespace (`\s`, `String.prototype.trim`),
//! the same `.` (anything but a line terminator) and the same lengths (UTF-16 code
//! units). [`js_regex`] translates a JavaScript pattern written with `\s`, `\S` and `.`
//! into an equivalent `regex` crate pattern, so the patterns below read like the CLI's.

use regex::Regex;

/// The characters JavaScript's `\s` and `trim()` treat as whitespace (ECMA-262
/// WhiteSpace + LineTerminator). Differs from Rust's `char::is_whitespace` on U+0085
/// (not JS whitespace) and U+FEFF (JS whitespace).
pub fn is_js_space(c: char) -> bool {
    matches!(
        c,
        '\t' | '\n' | '\u{0B}' | '\u{0C}' | '\r' | ' ' | '\u{A0}' | '\u{1680}' | '\u{2000}'
            ..='\u{200A}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{202F}'
                | '\u{205F}'
                | '\u{3000}'
                | '\u{FEFF}'
    )
}

/// `String.prototype.trim`.
pub fn js_trim(s: &str) -> &str {
    s.trim_matches(is_js_space)
}

/// `String.prototype.trimEnd`.
pub fn js_trim_end(s: &str) -> &str {
    s.trim_end_matches(is_js_space)
}

/// `String.prototype.length`: the number of UTF-16 code units, which is what every
/// length threshold of the CLI (Purpose 50, Why 50..1000, requirement text 500) counts.
pub fn utf16_len(s: &str) -> usize {
    s.encode_utf16().count()
}

const JS_SPACE_CLASS_BODY: &str = r"\t\n\x0B\x0C\r \x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}\x{FEFF}";

/// Compiles a JavaScript regular-expression source (without the slashes) into a
/// `regex::Regex` with the same meaning for `\s`, `\S` and `.`; `(?i)` may be
/// prepended for the `i` flag (ASCII patterns only, where both engines agree).
///
/// Panics when the translated pattern does not compile: every call site passes a
/// constant pattern, so a failure is a bug in this crate, never an input problem.
pub fn js_regex(pattern: &str) -> Regex {
    let mut out = String::with_capacity(pattern.len() * 2);
    let mut chars = pattern.chars().peekable();
    let mut in_class = false;
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                let Some(next) = chars.next() else {
                    out.push('\\');
                    break;
                };
                match (next, in_class) {
                    ('s', false) => {
                        out.push('[');
                        out.push_str(JS_SPACE_CLASS_BODY);
                        out.push(']');
                    }
                    ('s', true) => out.push_str(JS_SPACE_CLASS_BODY),
                    ('S', false) => {
                        out.push_str("[^");
                        out.push_str(JS_SPACE_CLASS_BODY);
                        out.push(']');
                    }
                    _ => {
                        out.push('\\');
                        out.push(next);
                    }
                }
            }
            '[' if !in_class => {
                in_class = true;
                out.push('[');
                if chars.peek() == Some(&'^') {
                    chars.next();
                    out.push('^');
                }
                // A `]` right after `[` or `[^` is a literal in JS only when escaped;
                // the CLI's patterns never rely on anything else.
            }
            ']' if in_class => {
                in_class = false;
                out.push(']');
            }
            '.' if !in_class => out.push_str(r"[^\n\r\x{2028}\x{2029}]"),
            _ => out.push(c),
        }
    }
    match Regex::new(&out) {
        Ok(re) => re,
        Err(err) => panic!("constant pattern {pattern:?} does not compile ({out:?}): {err}"),
    }
}

/// Declares a lazily compiled JavaScript-semantics regex.
macro_rules! js_re {
    ($name:ident, $pattern:expr) => {
        static $name: std::sync::LazyLock<regex::Regex> =
            std::sync::LazyLock::new(|| $crate::ecma_text::js_regex($pattern));
    };
}
pub(crate) use js_re;

/// Orders two strings roughly as `String.prototype.localeCompare` does under ICU's root
/// collation, which the CLI uses to sort bulk validation results: punctuation before
/// digits before letters, letters compared case-insensitively first, lowercase before
/// uppercase on a tie.
pub fn locale_compare(a: &str, b: &str) -> std::cmp::Ordering {
    fn primary(c: char) -> (u8, u32) {
        if c.is_alphabetic() {
            let lower = c.to_lowercase().next().unwrap_or(c);
            (2, lower as u32)
        } else if c.is_numeric() {
            (1, c as u32)
        } else {
            (0, c as u32)
        }
    }
    let pa: Vec<_> = a.chars().map(primary).collect();
    let pb: Vec<_> = b.chars().map(primary).collect();
    pa.cmp(&pb).then_with(|| {
        // Tertiary difference: lowercase sorts first.
        let ta: Vec<bool> = a.chars().map(char::is_uppercase).collect();
        let tb: Vec<bool> = b.chars().map(char::is_uppercase).collect();
        ta.cmp(&tb)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trim_follows_javascript_whitespace() {
        assert_eq!(js_trim("\u{FEFF} a \u{3000}"), "a");
        assert_eq!(js_trim("\u{85}a"), "\u{85}a");
    }

    #[test]
    fn dot_excludes_line_separators_and_space_class_matches_nbsp() {
        let re = js_regex(r"^a.b\sc$");
        assert!(re.is_match("axb\u{A0}c"));
        assert!(!re.is_match("a\u{2028}b c"));
        let class = js_regex(r"^[\s-]+$");
        assert!(class.is_match(" -\u{FEFF}"));
    }

    #[test]
    fn utf16_length_counts_surrogate_pairs_twice() {
        assert_eq!(utf16_len("a😀"), 3);
    }

    #[test]
    fn locale_order_puts_hyphen_before_letters_and_ignores_case_first() {
        use std::cmp::Ordering::Less;
        assert_eq!(locale_compare("a-b", "ab"), Less);
        assert_eq!(locale_compare("a", "B"), Less);
        assert_eq!(locale_compare("a", "A"), Less);
    }
}
