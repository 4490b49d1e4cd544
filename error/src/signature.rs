//! Error signatures: the same error gives the same signature across attempts and runs.
//!
//! A signature is the SHA-256 (first 16 hex digits) of the error's key text after
//! normalisation: ANSI escapes removed, timestamps, UUIDs, hex addresses and long hex
//! hashes, paths and numbers masked (`<TS>`, `<UUID>`, `<HEX>`, `<PATH>`, `<N>`), whitespace
//! collapsed. So `src/a.rs:3:5 expected i32` and `src/b.rs:9:1 expected i32` share a
//! signature while `E0308` and `E0425` do not (digits inside a word are kept). The retry
//! policy's `max_error_repeats` counts attempts with the same signature, and the `errors`
//! table counts occurrences per signature.

use regex::Regex;
use sha2::{Digest, Sha256};
use std::sync::LazyLock;

use crate::attempt_failure::strip_ansi;

/// The normalised text is cut to this many bytes before hashing (on a char boundary).
pub const MAX_NORMALIZED_BYTES: usize = 4096;

static TIMESTAMP: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        // ISO 8601 / RFC 3339 date-times and dates.
        r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?",
        // HTTP dates: `Sat, 21 Nov 2026 05:14:03 GMT`.
        r"|(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{1,2} (?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} GMT",
        // Times of day.
        r"|\b\d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?\b",
    ))
    .expect("static regex")
});
static UUID: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b")
        .expect("static regex")
});
static HEX_ADDRESS: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\b0x[0-9a-fA-F]+\b").expect("static regex"));
/// Commit ids and build hashes (`failing-55b08702f42bedb7`): 12 or more hex digits.
static HEX_HASH: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\b[0-9a-fA-F]{12,}\b").expect("static regex"));
/// Anything with a slash or backslash between path characters, or a URL.
static PATH: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:[A-Za-z][A-Za-z0-9+.-]*://|[A-Za-z]:\\|~)?(?:[\w.@%+~-]*[/\\])+[\w.@%+~-]*")
        .expect("static regex")
});
/// A number not glued to a word on its left (`E0308` and `x86_64` stay).
static NUMBER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(^|[^A-Za-z_\d<])\d+(?:\.\d+)?(?:e[+-]?\d+)?").expect("static regex")
});
static SPACES: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"[ \t]+").expect("static regex"));

/// Normalises error text for hashing (see the module doc). Lines are kept, blank lines
/// dropped; the result is at most `MAX_NORMALIZED_BYTES` long.
pub fn normalize(text: &str) -> String {
    let text = strip_ansi(text);
    let text = TIMESTAMP.replace_all(&text, "<TS>");
    let text = UUID.replace_all(&text, "<UUID>");
    let text = HEX_ADDRESS.replace_all(&text, "<HEX>");
    let text = HEX_HASH.replace_all(&text, |caps: &regex::Captures<'_>| {
        let word = &caps[0];
        if word.bytes().any(|byte| byte.is_ascii_alphabetic()) {
            "<HEX>".to_string()
        } else {
            word.to_string()
        }
    });
    let text = PATH.replace_all(&text, "<PATH>");
    let text = NUMBER.replace_all(&text, "${1}<N>");
    let mut out = String::new();
    for line in text.lines() {
        let line = SPACES.replace_all(line.trim(), " ");
        if line.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(&line);
    }
    truncate(out, MAX_NORMALIZED_BYTES)
}

fn truncate(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut cut = max;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
    }
    text
}

/// The signature of already normalised text: the first 16 hex digits of its SHA-256.
pub fn signature_of(normalized: &str) -> String {
    fingerprint(normalized.as_bytes())
}

/// A short content hash (first 16 hex digits of SHA-256) of any bytes, e.g. a step's diff
/// for oscillation detection.
pub fn fingerprint(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    digest
        .iter()
        .take(8)
        .map(|byte| format!("{byte:02x}"))
        .collect()
}
