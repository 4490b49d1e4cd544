//! Output kept in memory, for children whose output is their answer.
//!
//! A `command` plugin of the error engine prints its diagnostics as JSON on stdout: the
//! caller needs the bytes, not an attempt log. [`crate::run_captured`] keeps each stream
//! in a [`BoundedBuffer`]: the first bytes up to its limit are kept, the rest is read
//! (so the child never blocks on a full pipe), counted and discarded.

use std::time::Duration;

use crate::process_outcome::Termination;

/// Bounds on the output [`crate::run_captured`] keeps in memory, per stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CaptureLimits {
    /// Bytes of stdout kept; default 4 MiB.
    pub max_stdout_bytes: usize,
    /// Bytes of stderr kept; default 64 KiB.
    pub max_stderr_bytes: usize,
}

impl Default for CaptureLimits {
    fn default() -> Self {
        CaptureLimits {
            max_stdout_bytes: 4 * 1024 * 1024,
            max_stderr_bytes: 64 * 1024,
        }
    }
}

/// What [`crate::run_captured`] observed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapturedOutput {
    /// How the process ended.
    pub termination: Termination,
    /// Wall-clock time from spawn until the process (group) was gone.
    pub duration: Duration,
    /// The first [`CaptureLimits::max_stdout_bytes`] bytes of stdout.
    pub stdout: Vec<u8>,
    /// True when stdout was longer than the limit (the rest was discarded).
    pub stdout_truncated: bool,
    /// The first [`CaptureLimits::max_stderr_bytes`] bytes of stderr.
    pub stderr: Vec<u8>,
    /// True when stderr was longer than the limit (the rest was discarded).
    pub stderr_truncated: bool,
}

/// The first `limit` bytes of one stream, and whether more came.
#[derive(Debug)]
pub(crate) struct BoundedBuffer {
    pub(crate) bytes: Vec<u8>,
    pub(crate) truncated: bool,
    limit: usize,
}

impl BoundedBuffer {
    /// An empty buffer keeping at most `limit` bytes.
    pub(crate) fn new(limit: usize) -> Self {
        BoundedBuffer {
            bytes: Vec::new(),
            truncated: false,
            limit,
        }
    }

    /// Keeps what still fits of `chunk`, notes whether anything did not.
    pub(crate) fn push(&mut self, chunk: &[u8]) {
        let room = self.limit - self.bytes.len();
        let fits = room.min(chunk.len());
        self.bytes.extend_from_slice(&chunk[..fits]);
        if fits < chunk.len() {
            self.truncated = true;
        }
    }
}

#[cfg(test)]
mod tests;
