//! Where the reporters' lines go: written whole and flushed, until the first write fails.
//!
//! Output never stops a run: after the first failed write (a closed pipe, EPIPE, or a
//! hung-up terminal, EIO) nothing more is written and the run goes on
//! (`pipeline run --json ... | head -1`; SIGPIPE is ignored while a run is driven).

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

/// A line sink that closes for good at its first failed write.
#[derive(Default)]
pub(super) struct Output {
    /// Set by the first failed write: the reader is gone, nothing more is written.
    closed: AtomicBool,
}

impl Output {
    /// Writes `line` and a newline to `writer` and flushes, unless an earlier write
    /// failed; a failure (EPIPE, EIO) closes this output for good.
    pub(super) fn line(&self, mut writer: impl Write, line: &str) {
        if self.closed.load(Ordering::Relaxed) {
            return;
        }
        let written = writer
            .write_all(line.as_bytes())
            .and_then(|()| writer.write_all(b"\n"))
            .and_then(|()| writer.flush());
        if written.is_err() {
            self.closed.store(true, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Output;

    /// A writer whose reader is gone: every write fails with EPIPE.
    struct ClosedPipe {
        writes: std::rc::Rc<std::cell::Cell<usize>>,
    }

    impl std::io::Write for ClosedPipe {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            self.writes.set(self.writes.get() + 1);
            Err(std::io::ErrorKind::BrokenPipe.into())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn output_stops_writing_after_the_first_failed_write() {
        let out = Output::default();
        let mut written = Vec::new();
        out.line(&mut written, "first");
        assert_eq!(written, b"first\n");
        let writes = std::rc::Rc::new(std::cell::Cell::new(0));
        for _ in 0..3 {
            out.line(
                ClosedPipe {
                    writes: writes.clone(),
                },
                "lost",
            );
        }
        assert_eq!(writes.get(), 1, "one failed write, then none");
        out.line(&mut written, "after");
        assert_eq!(written, b"first\n", "closed for good");
    }
}
