//! Redacting secret values (API keys, `secret_env` values) from text an adapter shows:
//! summaries, progress lines, error messages. The supervisor redacts the attempt log and
//! the output tail itself ([`crate::ProcessSpec::secrets`]); this covers what adapters
//! build from the output.

/// The marker that replaces a secret, the same as in attempt logs.
pub(crate) const REDACTED: &str = "[REDACTED]";

/// `text` with every occurrence of each secret of at least 4 bytes replaced by
/// [`REDACTED`] (shorter values would mangle ordinary text).
pub(crate) fn redact(text: &str, secrets: &[String]) -> String {
    let mut redacted = text.to_owned();
    for secret in secrets.iter().filter(|s| s.len() >= 4) {
        redacted = redacted.replace(secret.as_str(), REDACTED);
    }
    redacted
}
