//! Text primitives with the semantics of JavaScript strings and regular expressions.
//!
//! The OpenSpec CLI is written in TypeScript; its parser is a set of JavaScript regular
//! expressions over UTF-16 strings. To accept and reject exactly the same Markdown, this
//! crate reads text with the same notion of whitespace (`\s`, `String.prototype.trim`),
//! the same `.` (anything but a line terminator) and the same lengths (UTF-16 code
//! units). [`js_regex`] translates a JavaScript pattern written with `\s`, `\S` and `.`
//! into an equivalent `regex` crate pattern, so the patterns below read like the CLI's.

use std::iter::Peekable;
use std::str::Chars;

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
/// JavaScript's `\d` without the `u` flag: ASCII digits only (Rust's `\d` is Unicode).
const JS_DIGIT_CLASS_BODY: &str = "0-9";
/// JavaScript's `\w` without the `u` flag: ASCII word characters only.
const JS_WORD_CLASS_BODY: &str = "0-9A-Za-z_";

/// The JavaScript flags a pattern may carry, written as a leading `(?flags)` group.
#[derive(Debug, Clone, Copy, Default)]
struct JsFlags {
    /// `i`: case-insensitive with the non-Unicode canonicalisation (see [`js_canonicalize`]).
    ignore_case: bool,
    /// `m`: `^` and `$` also match at line terminators.
    multiline: bool,
}

/// Splits a leading `(?flags)` group (JavaScript flags `i` and `m`) off `pattern`.
fn split_flags(pattern: &str) -> (JsFlags, &str) {
    let mut flags = JsFlags::default();
    let Some(rest) = pattern.strip_prefix("(?") else {
        return (flags, pattern);
    };
    let Some(close) = rest.find(')') else {
        return (flags, pattern);
    };
    let letters = &rest[..close];
    if letters.is_empty() || !letters.chars().all(|c| matches!(c, 'i' | 'm')) {
        return (flags, pattern);
    }
    flags.ignore_case = letters.contains('i');
    flags.multiline = letters.contains('m');
    (flags, &rest[close + 1..])
}

/// ECMA-262 `Canonicalize` for a case-insensitive pattern without the `u` flag: a UTF-16
/// code unit maps to its `toUpperCase()` when that is a single code unit, except that a
/// non-ASCII character never maps onto an ASCII one (so `ſ` U+017F stays apart from `s`
/// and `K` U+212A from `k`, unlike Unicode case folding). Characters outside the BMP are
/// surrogate pairs there and never fold.
fn js_canonicalize(c: char) -> char {
    if u32::from(c) > 0xFFFF {
        return c;
    }
    let mut upper = c.to_uppercase();
    match (upper.next(), upper.next()) {
        (Some(u), None) if u32::from(u) <= 0xFFFF && (c.is_ascii() || !u.is_ascii()) => u,
        _ => c,
    }
}

/// Every character that matches `c` under JavaScript's non-Unicode `i` flag (those with
/// the same canonical form), `c` first.
fn js_case_variants(c: char) -> Vec<char> {
    let mut variants = vec![c];
    if c.is_ascii() {
        for other in [c.to_ascii_lowercase(), c.to_ascii_uppercase()] {
            if !variants.contains(&other) {
                variants.push(other);
            }
        }
        return variants;
    }
    let canonical = js_canonicalize(c);
    if canonical == c
        && c.to_lowercase().eq(std::iter::once(c))
        && c.to_uppercase().eq(std::iter::once(c))
    {
        return variants;
    }
    // Rare (no constant pattern of this crate has a non-ASCII letter): scan the BMP.
    variants.extend(
        (0u32..=0xFFFF)
            .filter_map(char::from_u32)
            .filter(|&d| d != c && js_canonicalize(d) == canonical),
    );
    variants
}

/// `c` written so that it is a literal both inside and outside a `regex` class.
fn push_literal(out: &mut String, c: char) {
    if c.is_ascii_alphanumeric() || c == '_' || c == ' ' {
        out.push(c);
    } else {
        out.push_str(&format!(r"\x{{{:X}}}", u32::from(c)));
    }
}

/// Compiles a JavaScript regular-expression source (without the slashes, and without
/// the `u` flag, as the CLI writes them) into a `regex::Regex` that accepts and rejects
/// the same strings. A leading `(?i)`, `(?m)` or `(?im)` stands for the JavaScript flags.
///
/// What differs between the engines, and how it is translated:
/// - `\s` / `\S`: JavaScript's whitespace set ([`is_js_space`]), not Rust's.
/// - `\d` `\D` `\w` `\W` `\b` `\B`: ASCII only in JavaScript, Unicode in Rust by default.
/// - `.`: anything but `\n`, `\r`, U+2028 and U+2029.
/// - `i`: JavaScript folds case by `toUpperCase` and never maps a non-ASCII character to
///   an ASCII one (`ſ` is not `s`, the Kelvin sign is not `k`); Rust's `(?i)` uses Unicode
///   simple case folding. Letters are therefore expanded into explicit classes and Rust's
///   `(?i)` is never used.
/// - `m`: `^` and `$` also match next to `\r` (Rust's CRLF mode `R`); U+2028 and U+2029,
///   line terminators for JavaScript too, are not treated as line ends (no CLI pattern
///   with the `m` flag is applied to text where that matters).
///
/// Inside a character class under `i`, only literal characters, ranges of literal
/// characters and escaped punctuation may appear.
///
/// Panics when the translated pattern does not compile: every call site passes a
/// constant pattern, so a failure is a bug in this crate, never an input problem.
pub fn js_regex(pattern: &str) -> Regex {
    let (flags, body) = split_flags(pattern);
    let mut out = String::with_capacity(body.len() * 2);
    if flags.multiline {
        out.push_str("(?mR)");
    }
    let mut chars = body.chars().peekable();
    let mut in_class = false;
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                let Some(next) = chars.next() else {
                    out.push('\\');
                    break;
                };
                push_escape(&mut out, next, &mut chars, in_class, pattern);
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
            _ if flags.ignore_case && in_class => {
                let high = take_range_end(&mut chars, pattern).unwrap_or(c);
                push_class_members_any_case(&mut out, c, high);
            }
            _ if flags.ignore_case && c.is_alphabetic() => push_letter_any_case(&mut out, c),
            _ => out.push(c),
        }
    }
    match Regex::new(&out) {
        Ok(re) => re,
        Err(err) => panic!("constant pattern {pattern:?} does not compile ({out:?}): {err}"),
    }
}

/// Consumes `-x` when it follows a class member and `x` is not the closing `]`: the end
/// of a range.
fn take_range_end(chars: &mut Peekable<Chars<'_>>, pattern: &str) -> Option<char> {
    let mut lookahead = chars.clone();
    match (lookahead.next(), lookahead.next()) {
        (Some('-'), Some(high)) if high != ']' => {
            assert!(
                high != '\\',
                "pattern {pattern:?}: escaped range end under the i flag"
            );
            chars.next();
            chars.next();
            Some(high)
        }
        _ => None,
    }
}

/// Writes the letter `c` outside a class under the `i` flag: a class of its variants.
fn push_letter_any_case(out: &mut String, c: char) {
    let variants = js_case_variants(c);
    if variants.len() > 1 {
        out.push('[');
        variants.iter().for_each(|&v| push_literal(out, v));
        out.push(']');
    } else {
        out.push(c);
    }
}

/// Writes the class members `low..=high` (one character when equal) and every character
/// that matches one of them under the `i` flag.
fn push_class_members_any_case(out: &mut String, low: char, high: char) {
    push_literal(out, low);
    if high != low {
        out.push('-');
        push_literal(out, high);
    }
    for member in low..=high {
        for variant in js_case_variants(member).into_iter().skip(1) {
            if !(low..=high).contains(&variant) {
                push_literal(out, variant);
            }
        }
    }
}

/// Translates the escape `\next` (see [`js_regex`]); `rest` follows it.
fn push_escape(
    out: &mut String,
    next: char,
    rest: &mut Peekable<Chars<'_>>,
    in_class: bool,
    pattern: &str,
) {
    if matches!(next, 'p' | 'P') {
        // A Unicode property (`u`-flag patterns): same meaning in both engines; its
        // name is copied verbatim, never case-expanded.
        out.push('\\');
        out.push(next);
        for name_char in rest.by_ref() {
            out.push(name_char);
            if name_char == '}' {
                break;
            }
        }
        return;
    }
    let class_body = match next {
        's' | 'S' => Some(JS_SPACE_CLASS_BODY),
        'd' | 'D' => Some(JS_DIGIT_CLASS_BODY),
        'w' | 'W' => Some(JS_WORD_CLASS_BODY),
        _ => None,
    };
    match (next, class_body) {
        (_, Some(body)) => {
            let negated = next.is_ascii_uppercase();
            // Inside a class a positive set is spliced in; a negated one is nested.
            if in_class && !negated {
                out.push_str(body);
            } else {
                out.push_str(if negated { "[^" } else { "[" });
                out.push_str(body);
                out.push(']');
            }
        }
        ('b', _) if in_class => out.push_str(r"\x08"),
        ('b', _) => out.push_str(r"(?-u:\b)"),
        ('B', _) if !in_class => out.push_str(r"(?-u:\B)"),
        (c, _) if c.is_ascii_alphanumeric() && !matches!(c, 't' | 'n' | 'r' | 'f' | 'v') => {
            panic!("pattern {pattern:?}: escape \\{c} has no translation")
        }
        ('v', _) => out.push_str(r"\x0B"),
        (c, _) => {
            out.push('\\');
            out.push(c);
        }
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
    fn digit_class_is_ascii_only() {
        let date = js_regex(r"^\d{4}-\d{2}-\d{2}$");
        assert!(date.is_match("2024-01-01"));
        assert!(!date.is_match("\u{662}\u{660}\u{662}\u{664}-\u{660}\u{661}-\u{660}\u{661}"));
        assert!(js_regex(r"^\D$").is_match("\u{662}"));
        assert!(js_regex(r"^[\d.]+$").is_match("1.2"));
        assert!(!js_regex(r"^[\d.]+$").is_match("\u{661}"));
    }

    #[test]
    fn word_class_and_boundary_are_ascii_only() {
        assert!(js_regex(r"^\w+$").is_match("a_Z9"));
        assert!(!js_regex(r"^\w+$").is_match("\u{E9}"));
        assert!(js_regex(r"^\W$").is_match("\u{E9}"));
        // `<h1é>`: for JavaScript `é` is not a word character, so `1` ends a word.
        let heading = js_regex(r"(?i)^\s*<h[1-6]\b");
        assert!(heading.is_match("<h1\u{E9}>"));
        assert!(heading.is_match("<H2>"));
        assert!(!heading.is_match("<h1a>"));
        assert!(js_regex(r"\bnew\b").is_match("\u{E9}new\u{E9}"));
        assert!(js_regex(r"a\Bb").is_match("ab"));
        assert!(!js_regex("a\\B\u{E9}").is_match("a\u{E9}"));
    }

    #[test]
    fn ignore_case_never_folds_non_ascii_onto_ascii() {
        let purpose = js_regex(r"(?i)^##\s+Purpose\s*$");
        assert!(purpose.is_match("## PURPOSE"));
        assert!(purpose.is_match("##\u{A0}purpose "));
        assert!(!purpose.is_match("## PURPO\u{17F}E"));
        let kind = js_regex(r"(?i)^kind$");
        assert!(kind.is_match("KIND"));
        assert!(!kind.is_match("\u{212A}ind"));
        let range = js_regex(r"(?i)^[a-z]+$");
        assert!(range.is_match("AbC"));
        assert!(!range.is_match("\u{17F}"));
        assert!(!range.is_match("\u{212A}"));
        // A Unicode property's name is not a letter to fold.
        let property = js_regex(r"(?i)^\p{Lu}x$");
        assert!(property.is_match("\u{C9}X"));
        assert!(!property.is_match("\u{E9}x"));
    }

    #[test]
    fn ignore_case_folds_non_ascii_letters_among_themselves() {
        let accented = js_regex("(?i)^\u{E9}t\u{E9}$");
        assert!(accented.is_match("\u{C9}T\u{E9}"));
        // Both sigmas upper-case to the same letter.
        assert!(js_regex("(?i)^\u{3C3}$").is_match("\u{3C2}"));
        // The long s upper-cases to ASCII `S`, so it only matches itself.
        let long_s = js_regex("(?i)^\u{17F}$");
        assert!(long_s.is_match("\u{17F}"));
        assert!(!long_s.is_match("s"));
        assert!(!long_s.is_match("S"));
    }

    #[test]
    fn multiline_anchors_also_stop_at_carriage_returns() {
        let title = js_regex(r"(?im)^#\s+(?:Change:\s+)?(.+)$");
        let caps = title.captures("intro\r\n# Change: Add it\r\nmore");
        assert_eq!(
            caps.and_then(|c| c.get(1)).map(|m| m.as_str()),
            Some("Add it")
        );
        assert!(js_regex(r"(?m)^b").is_match("a\rb"));
    }

    #[test]
    fn negated_space_class_nests_inside_a_class() {
        let re = js_regex(r"^[\S]+$");
        assert!(re.is_match("ab"));
        assert!(!re.is_match("a\u{FEFF}b"));
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
