//! Splits a stream of output chunks into lines for live progress.
//!
//! Chunks arrive at arbitrary boundaries; the splitter keeps the current partial line
//! (at most a bounded number of bytes, the rest of an over-long line is dropped) and
//! hands each complete line, without its `\n` or `\r\n`, to a callback.

use memchr::memchr;

/// Longest line, in bytes, handed to a line callback; longer lines are cut.
pub(crate) const MAX_LINE_BYTES: usize = 4096;

/// Assembles lines of one stream (stdout or stderr; never mix the two).
#[derive(Debug, Default)]
pub(crate) struct LineSplitter {
    current: Vec<u8>,
}

impl LineSplitter {
    /// Feeds a chunk, calling `emit` for every line it completes.
    pub(crate) fn feed(&mut self, chunk: &[u8], emit: &mut dyn FnMut(&str)) {
        let mut rest = chunk;
        while let Some(newline) = memchr(b'\n', rest) {
            self.append(&rest[..newline]);
            self.emit_current(emit);
            rest = &rest[newline + 1..];
        }
        self.append(rest);
    }

    /// Emits the unterminated last line, if any, at end of stream.
    pub(crate) fn finish(&mut self, emit: &mut dyn FnMut(&str)) {
        if !self.current.is_empty() {
            self.emit_current(emit);
        }
    }

    fn append(&mut self, bytes: &[u8]) {
        let room = MAX_LINE_BYTES.saturating_sub(self.current.len());
        self.current
            .extend_from_slice(&bytes[..bytes.len().min(room)]);
    }

    fn emit_current(&mut self, emit: &mut dyn FnMut(&str)) {
        if self.current.last() == Some(&b'\r') {
            self.current.pop();
        }
        emit(&String::from_utf8_lossy(&self.current));
        self.current.clear();
    }
}

#[cfg(test)]
mod tests;
