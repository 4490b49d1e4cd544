//! Unit tests of `output_capture`.

use super::{OutputCapture, REDACTED, Redactor};
use crate::process_outcome::Termination;
use crate::process_spec::{OutputLimits, ProcessSpec};
use std::time::Duration;

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
            &["token", "token-long-value"],
            &[b"[token-long-value] [token]"]
        ),
        format!("[{REDACTED}] [{REDACTED}]")
    );
}

#[test]
fn log_and_tail_never_show_the_secret() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("attempt.log");
    let mut spec = ProcessSpec::new("tool", ["--key", "sk-live-9876"], dir.path());
    spec.secrets = vec!["sk-live-9876".to_owned()];
    let mut capture = OutputCapture::create(&log, &OutputLimits::default()).unwrap();
    capture.write_header(&spec);
    capture.record(b"Incorrect API key provided: sk-li");
    capture.record(b"ve-9876. Check it.\n");
    let summary = capture
        .finish(Termination::Exited(0), None, Duration::ZERO)
        .unwrap();
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(!text.contains("sk-live-9876"), "{text}");
    assert!(
        text.contains(&format!("provided: {REDACTED}. Check it.")),
        "{text}"
    );
    assert!(text.contains(&format!("--key {REDACTED}")), "{text}");
    assert!(!summary.tail.contains("sk-live"), "{}", summary.tail);
    assert!(summary.tail.contains(REDACTED), "{}", summary.tail);
}
