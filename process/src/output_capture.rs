//! The attempt log and the in-memory tail of one supervised process.
//!
//! Both output streams of the child feed one [`OutputCapture`] in the order they are
//! read. The capture writes a short header (command line, working directory, start
//! time), then the child's output up to [`OutputLimits::max_log_bytes`], then one
//! truncation marker line, then nothing more of the output (it is still counted and
//! fed to the tail), and finally a footer (how the process ended, how long it took, how
//! much it printed). The first write error is remembered and reported when the capture
//! is finished; the child is never blocked because the log cannot be written.
//!
//! Secrets ([`ProcessSpec::secrets`]) are replaced by [`crate::REDACTED`] before output
//! reaches the log or the tail, by a [`Redactor`] that also catches a secret split
//! across two reads.

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::process_error::ProcessError;
use crate::process_outcome::Termination;
use crate::process_spec::{OutputLimits, ProcessSpec};
use crate::redactor::Redactor;
use crate::tail_buffer::TailBuffer;

/// Counters and tail handed back when the capture is finished.
#[derive(Debug)]
pub(crate) struct CaptureSummary {
    pub(crate) log_bytes: u64,
    pub(crate) output_bytes: u64,
    pub(crate) truncated: bool,
    pub(crate) tail: String,
}

/// Sink for a child's output: bounded attempt log plus tail ring buffer.
#[derive(Debug)]
pub(crate) struct OutputCapture {
    log: BufWriter<File>,
    log_path: PathBuf,
    max_log_bytes: u64,
    log_bytes: u64,
    output_bytes: u64,
    truncated: bool,
    ends_with_newline: bool,
    tail: TailBuffer,
    write_error: Option<io::Error>,
    redactor: Redactor,
}

impl OutputCapture {
    /// Creates (or truncates) the log at `log_path`, creating missing parent
    /// directories. Fails with [`ProcessError::Log`].
    pub(crate) fn create(log_path: &Path, limits: &OutputLimits) -> Result<Self, ProcessError> {
        let log_error = |source| ProcessError::Log {
            path: log_path.to_path_buf(),
            source,
        };
        if let Some(parent) = log_path.parent().filter(|p| !p.as_os_str().is_empty()) {
            fs::create_dir_all(parent).map_err(log_error)?;
        }
        let file = File::create(log_path).map_err(log_error)?;
        Ok(OutputCapture {
            log: BufWriter::with_capacity(64 * 1024, file),
            log_path: log_path.to_path_buf(),
            max_log_bytes: limits.max_log_bytes,
            log_bytes: 0,
            output_bytes: 0,
            truncated: false,
            ends_with_newline: true,
            tail: TailBuffer::new(limits.tail_bytes),
            write_error: None,
            redactor: Redactor::default(),
        })
    }

    /// Writes the header: command line, working directory, start time, timeout and stall
    /// timeout (when there is one);
    /// from now on the spec's `secrets` are redacted (in the header too).
    pub(crate) fn write_header(&mut self, spec: &ProcessSpec) {
        self.redactor = Redactor::new(&spec.secrets);
        let started = humantime::format_rfc3339_seconds(SystemTime::now());
        let timeout = match spec.timeout {
            Some(timeout) => format!("{} s", timeout.as_secs_f64()),
            None => "none".to_owned(),
        };
        // Only a watched process gets the line, so logs without one read as before.
        let stall = match spec.stall_timeout.filter(|stall| !stall.is_zero()) {
            Some(stall) => format!("[pipeline] stall timeout: {} s\n", stall.as_secs_f64()),
            None => String::new(),
        };
        let header = format!(
            "[pipeline] command: {}\n[pipeline] cwd: {}\n[pipeline] started: {started}\n[pipeline] timeout: {timeout}\n{stall}----- output (stdout and stderr) -----\n",
            command_line(spec),
            spec.cwd.display(),
        );
        let header = if self.redactor.is_active() {
            self.redactor.replace(header.as_bytes())
        } else {
            header.into_bytes()
        };
        self.write_log(&header);
        self.flush_log();
    }

    /// Records a chunk of output: counts it, keeps it in the tail, and writes what
    /// still fits under the log limit (plus the truncation marker when it stops
    /// fitting). The log is flushed after each chunk, so that a reader following it (`pipeline
    /// logs`, the API, the dashboard) sees output as it arrives; the buffer only joins
    /// the pieces of one chunk (redaction may split it).
    pub(crate) fn record(&mut self, chunk: &[u8]) {
        if chunk.is_empty() {
            return;
        }
        self.output_bytes += chunk.len() as u64;
        if self.redactor.is_active() {
            let shown = self.redactor.push(chunk);
            self.record_shown(&shown);
        } else {
            self.record_shown(chunk);
        }
        self.flush_log();
    }

    /// Flushes the log's buffer to the file (a failure is kept like a failed write).
    fn flush_log(&mut self) {
        if self.write_error.is_none()
            && let Err(error) = self.log.flush()
        {
            tracing::warn!(path = %self.log_path.display(), %error, "attempt log write failed; further output is not logged");
            self.write_error = Some(error);
        }
    }

    /// Flushes bytes the redactor held back (at the end of output).
    fn flush_redactor(&mut self) {
        if self.redactor.is_active() {
            let rest = self.redactor.finish();
            self.record_shown(&rest);
        }
    }

    /// Keeps already-redacted output in the tail and the log.
    fn record_shown(&mut self, chunk: &[u8]) {
        if chunk.is_empty() {
            return;
        }
        self.tail.push(chunk);
        if self.truncated {
            return;
        }
        let room = self.max_log_bytes - self.log_bytes;
        let fits = usize::try_from(room).map_or(chunk.len(), |room| room.min(chunk.len()));
        if fits > 0 {
            self.write_log(&chunk[..fits]);
            self.log_bytes += fits as u64;
            self.ends_with_newline = chunk[fits - 1] == b'\n';
        }
        if fits < chunk.len() {
            self.truncated = true;
            let newline = if self.ends_with_newline { "" } else { "\n" };
            let marker = format!(
                "{newline}[pipeline: output truncated at {} bytes; further output discarded]\n",
                self.max_log_bytes
            );
            self.write_log(marker.as_bytes());
            self.ends_with_newline = true;
        }
    }

    /// Notes in the log that the program could not be started, then closes it.
    pub(crate) fn finish_spawn_failure(mut self, error: &io::Error) -> Result<(), ProcessError> {
        self.flush_redactor();
        let line =
            format!("----- end of output -----\n[pipeline] result: could not start: {error}\n");
        self.write_log(line.as_bytes());
        self.close().map(|_| ())
    }

    /// Writes the footer and flushes the log. Fails with [`ProcessError::Log`] if any
    /// write to the log failed.
    /// `timeout` and `stall_timeout` are the spec's, for the footer of a stopped process.
    pub(crate) fn finish(
        mut self,
        termination: Termination,
        (timeout, stall_timeout): (Option<Duration>, Option<Duration>),
        duration: Duration,
    ) -> Result<CaptureSummary, ProcessError> {
        self.flush_redactor();
        let newline = if self.ends_with_newline { "" } else { "\n" };
        let result = match (termination, timeout, stall_timeout) {
            (Termination::TimedOut, Some(timeout), _) => format!(
                "timed out after {} s; process group terminated",
                timeout.as_secs_f64()
            ),
            (Termination::Stalled, _, Some(stall)) => format!(
                "stalled: no output and no CPU for {} s; process group terminated",
                stall.as_secs_f64()
            ),
            (Termination::Cancelled, _, _) => "cancelled; process group terminated".to_owned(),
            (other, _, _) => other.to_string(),
        };
        let footer = format!(
            "{newline}----- end of output -----\n[pipeline] result: {result}\n[pipeline] duration: {:.3} s\n[pipeline] output: {} bytes, {} written to this log{}\n",
            duration.as_secs_f64(),
            self.output_bytes,
            self.log_bytes,
            if self.truncated { " (truncated)" } else { "" },
        );
        self.write_log(footer.as_bytes());
        self.close()
    }

    fn close(mut self) -> Result<CaptureSummary, ProcessError> {
        if self.write_error.is_none()
            && let Err(error) = self.log.flush()
        {
            self.write_error = Some(error);
        }
        if let Some(source) = self.write_error {
            return Err(ProcessError::Log {
                path: self.log_path,
                source,
            });
        }
        Ok(CaptureSummary {
            log_bytes: self.log_bytes,
            output_bytes: self.output_bytes,
            truncated: self.truncated,
            tail: self.tail.to_string_lossy(),
        })
    }

    fn write_log(&mut self, bytes: &[u8]) {
        if self.write_error.is_some() {
            return;
        }
        if let Err(error) = self.log.write_all(bytes) {
            tracing::warn!(path = %self.log_path.display(), %error, "attempt log write failed; further output is not logged");
            self.write_error = Some(error);
        }
    }
}

/// The command line as a user would type it into a POSIX shell.
fn command_line(spec: &ProcessSpec) -> String {
    std::iter::once(&spec.program)
        .chain(&spec.args)
        .map(|word| {
            let word = word.to_string_lossy();
            match shlex::try_quote(&word) {
                Ok(quoted) => quoted.into_owned(),
                // Only a NUL byte makes quoting fail; such an argument cannot reach
                // exec anyway, so show it escaped.
                Err(_) => format!("{word:?}"),
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests;
