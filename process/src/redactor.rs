//! Replacing secret values (API keys, `secret_env` values) with [`REDACTED`].
//!
//! The supervisor redacts a child's output before it reaches the attempt log or the
//! tail ([`crate::ProcessSpec::secrets`]); [`redact`] does the same for text built from
//! the output (summaries, progress lines, error messages). A secret may arrive split
//! across two reads, so a streaming [`Redactor`] holds back the last
//! `longest secret - 1` bytes of every chunk (the carry-over) until the next chunk or
//! the end of output shows whether they start a secret.

/// What a secret is replaced with in attempt logs, output tails and anything else shown.
pub const REDACTED: &str = "[REDACTED]";

/// Secrets shorter than this many bytes are not redacted: short values (`true`, `1234`,
/// a 6-letter password) occur in ordinary output, and replacing every occurrence would
/// mangle logs and error messages with false hits. API keys and tokens are much longer.
/// `pipeline tools` names the known secrets below this length (issue #10, point 4).
pub const MIN_SECRET_BYTES: usize = 8;

/// Replaces secret values in a stream of chunks, including values split across chunks.
#[derive(Debug, Default)]
pub(crate) struct Redactor {
    /// Longest first, so that a secret containing another is replaced whole.
    secrets: Vec<Vec<u8>>,
    /// Bytes held back because they may be the start of a secret.
    carry: Vec<u8>,
}

impl Redactor {
    /// A redactor of `secrets`; values shorter than [`MIN_SECRET_BYTES`] are ignored.
    pub(crate) fn new(secrets: &[String]) -> Self {
        let mut secrets: Vec<Vec<u8>> = secrets
            .iter()
            .filter(|secret| secret.len() >= MIN_SECRET_BYTES)
            .map(|secret| secret.as_bytes().to_vec())
            .collect();
        secrets.sort_by_key(|secret| std::cmp::Reverse(secret.len()));
        secrets.dedup();
        Redactor {
            secrets,
            carry: Vec::new(),
        }
    }

    /// True when there is any secret to replace.
    pub(crate) fn is_active(&self) -> bool {
        !self.secrets.is_empty()
    }

    /// Takes a chunk and returns the bytes that are safe to show now.
    pub(crate) fn push(&mut self, chunk: &[u8]) -> Vec<u8> {
        let mut buffer = std::mem::take(&mut self.carry);
        buffer.extend_from_slice(chunk);
        let redacted = self.replace(&buffer);
        let keep = self
            .secrets
            .first()
            .map_or(0, |longest| longest.len() - 1)
            .min(redacted.len());
        let (ready, carry) = redacted.split_at(redacted.len() - keep);
        self.carry = carry.to_vec();
        ready.to_vec()
    }

    /// The held-back bytes, at the end of output.
    pub(crate) fn finish(&mut self) -> Vec<u8> {
        let rest = std::mem::take(&mut self.carry);
        self.replace(&rest)
    }

    /// `bytes` with every secret replaced, longest secret first (no carry-over).
    pub(crate) fn replace(&self, bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(bytes.len());
        let mut at = 0;
        'scan: while at < bytes.len() {
            for secret in &self.secrets {
                if bytes[at..].starts_with(secret) {
                    out.extend_from_slice(REDACTED.as_bytes());
                    at += secret.len();
                    continue 'scan;
                }
            }
            out.push(bytes[at]);
            at += 1;
        }
        out
    }
}

/// `text` with every occurrence of each of `secrets` replaced by [`REDACTED`], longest
/// secret first; values shorter than [`MIN_SECRET_BYTES`] are left alone (they would
/// mangle ordinary text).
pub fn redact(text: &str, secrets: &[String]) -> String {
    let redactor = Redactor::new(secrets);
    if !redactor.is_active() {
        return text.to_owned();
    }
    // Whole secrets replace whole byte sequences of valid UTF-8 with ASCII, so the
    // result stays valid UTF-8.
    String::from_utf8_lossy(&redactor.replace(text.as_bytes())).into_owned()
}

#[cfg(test)]
mod tests;
