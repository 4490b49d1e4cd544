//! The last N bytes of a child's output, kept in memory for error messages.
//!
//! A ring of at most `capacity` bytes: pushing more drops the oldest bytes, so memory
//! stays bounded however much the child prints.

use std::collections::VecDeque;

/// Bounded ring buffer of the most recent output bytes.
#[derive(Debug)]
pub(crate) struct TailBuffer {
    bytes: VecDeque<u8>,
    capacity: usize,
}

impl TailBuffer {
    /// An empty buffer keeping at most `capacity` bytes.
    pub(crate) fn new(capacity: usize) -> Self {
        TailBuffer {
            bytes: VecDeque::with_capacity(capacity.min(64 * 1024)),
            capacity,
        }
    }

    /// Appends `chunk`, dropping the oldest bytes beyond the capacity.
    pub(crate) fn push(&mut self, chunk: &[u8]) {
        if self.capacity == 0 {
            return;
        }
        if chunk.len() >= self.capacity {
            self.bytes.clear();
            self.bytes.extend(&chunk[chunk.len() - self.capacity..]);
            return;
        }
        let overflow = (self.bytes.len() + chunk.len()).saturating_sub(self.capacity);
        self.bytes.drain(..overflow);
        self.bytes.extend(chunk);
    }

    /// The kept bytes as lossy UTF-8. A multi-byte character cut at the start by the
    /// ring is dropped rather than shown as a replacement character.
    pub(crate) fn to_string_lossy(&self) -> String {
        let (front, back) = self.bytes.as_slices();
        let mut bytes = Vec::with_capacity(self.bytes.len());
        bytes.extend_from_slice(front);
        bytes.extend_from_slice(back);
        let start = bytes
            .iter()
            .take(3)
            .take_while(|byte| (*byte & 0b1100_0000) == 0b1000_0000)
            .count();
        String::from_utf8_lossy(&bytes[start..]).into_owned()
    }
}

#[cfg(test)]
mod tests;
