//! Line endings and byte-order marks, as the OpenSpec CLI handles them.
//!
//! Every reader normalises CRLF and lone CR to LF (and most strip a leading UTF-8 BOM)
//! before parsing, so all parsing assumes `\n`. When a rebuilt spec is written back,
//! the dominant convention of the file it replaces is restored
//! (`utils/line-endings.ts`), so a CRLF checkout does not see every line change.

/// Strips one leading U+FEFF and turns `\r\n` and lone `\r` into `\n`.
pub fn normalize(content: &str) -> String {
    normalize_newlines(content.strip_prefix('\u{FEFF}').unwrap_or(content))
}

/// Turns `\r\n` and lone `\r` into `\n`, keeping a BOM (some CLI readers do not strip it).
pub fn normalize_newlines(content: &str) -> String {
    if !content.contains('\r') {
        return content.to_string();
    }
    let mut out = String::with_capacity(content.len());
    let mut chars = content.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\r' {
            if chars.peek() == Some(&'\n') {
                chars.next();
            }
            out.push('\n');
        } else {
            out.push(c);
        }
    }
    out
}

/// The dominant line ending of `content`: `Some("\r\n")` when CRLF is at least as
/// common as bare LF, `Some("\n")` otherwise, `None` when there is no line break.
pub fn detect(content: &str) -> Option<&'static str> {
    let crlf = content.matches("\r\n").count();
    let lf = content.matches('\n').count() - crlf;
    if crlf == 0 && lf == 0 {
        None
    } else if crlf >= lf {
        Some("\r\n")
    } else {
        Some("\n")
    }
}

/// Rewrites LF-normalised `content` with the dominant ending of `original`; `content`
/// is returned unchanged when `original` has no line break.
pub fn match_original(content: &str, original: &str) -> String {
    match detect(original) {
        None => content.to_string(),
        Some(ending) => {
            let lf = content.replace("\r\n", "\n");
            if ending == "\n" {
                lf
            } else {
                lf.replace('\n', "\r\n")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_strips_bom_and_carriage_returns() {
        assert_eq!(normalize("\u{FEFF}a\r\nb\rc\n"), "a\nb\nc\n");
    }

    #[test]
    fn crlf_wins_a_tie_and_is_restored() {
        assert_eq!(detect("a\r\nb\n"), Some("\r\n"));
        assert_eq!(match_original("x\ny\n", "a\r\nb\r\n"), "x\r\ny\r\n");
        assert_eq!(match_original("x\ny\n", "no break"), "x\ny\n");
    }
}
