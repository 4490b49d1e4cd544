//! Unit tests of `redactor`.

use super::{REDACTED, Redactor, redact as redact_text};

fn redact(secrets: &[&str], chunks: &[&[u8]]) -> String {
    let secrets: Vec<String> = secrets.iter().map(|s| (*s).to_owned()).collect();
    let mut redactor = Redactor::new(&secrets);
    let mut out = Vec::new();
    for chunk in chunks {
        out.extend(redactor.push(chunk));
    }
    out.extend(redactor.finish());
    String::from_utf8(out).unwrap()
}

#[test]
fn replaces_every_occurrence_within_a_chunk() {
    assert_eq!(
        redact(&["sk-secret"], &[b"key sk-secret and sk-secret."]),
        format!("key {REDACTED} and {REDACTED}.")
    );
}

#[test]
fn replaces_secrets_split_across_chunks() {
    assert_eq!(
        redact(&["sk-secret-123"], &[b"key=sk-se", b"cret", b"-123 done"]),
        format!("key={REDACTED} done")
    );
    // Split one byte at a time.
    let text = b"a sk-secret-123 b";
    let chunks: Vec<&[u8]> = text.chunks(1).collect();
    assert_eq!(
        redact(&["sk-secret-123"], &chunks),
        format!("a {REDACTED} b")
    );
}

#[test]
fn keeps_short_and_empty_values_and_partial_matches() {
    assert_eq!(redact(&["abc", ""], &[b"abc abc"]), "abc abc");
    // 7 bytes: below MIN_SECRET_BYTES, left alone.
    assert_eq!(redact(&["pass123"], &[b"pass123"]), "pass123");
    assert_eq!(redact(&["pass1234"], &[b"pass1234"]), REDACTED.to_owned());
    assert_eq!(
        redact(&["sk-secret"], &[b"sk-secr", b"et?"]),
        "sk-secret?".replace("sk-secret", REDACTED)
    );
    assert_eq!(redact(&["sk-secret"], &[b"sk-sec", b"X"]), "sk-secX");
}

#[test]
fn longer_secret_wins_over_its_prefix() {
    assert_eq!(
        redact(
            &["token-12", "token-12-long-value"],
            &[b"[token-12-long-value] [token-12]"]
        ),
        format!("[{REDACTED}] [{REDACTED}]")
    );
}

#[test]
fn redacts_text_longest_secret_first_and_keeps_short_values() {
    let secrets = vec![
        "token-12".to_owned(),
        "token-12-long-value".to_owned(),
        "abc".to_owned(),
    ];
    assert_eq!(
        redact_text("[token-12-long-value] [token-12] abc", &secrets),
        format!("[{REDACTED}] [{REDACTED}] abc")
    );
    assert_eq!(redact_text("nothing to hide", &[]), "nothing to hide");
}
