//! Loading fixtures as `AttemptFailure`s.

use pipeline_error::{AttemptFailure, Termination};
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

/// A fixed instant for reproducible reset times: 2026-11-21T05:00:00Z.
pub fn t0() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_237_200)
}

pub fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// The captured output and exit status of `<tool>/<case>` as a failure of `tool_name`
/// running `command`, finished at `t0()`.
pub fn fixture(path: &str, tool_name: &str, command: &str) -> AttemptFailure {
    let base = fixtures_dir().join(path);
    let output = std::fs::read_to_string(base.with_extension("txt"))
        .unwrap_or_else(|error| panic!("fixture {path}.txt: {error}"));
    let exit = std::fs::read_to_string(base.with_extension("exit"))
        .unwrap_or_else(|error| panic!("fixture {path}.exit: {error}"));
    let code: i32 = exit
        .trim()
        .parse()
        .unwrap_or_else(|error| panic!("fixture {path}.exit: {error}"));
    AttemptFailure::new(tool_name, command, Termination::Exited(code), output)
        .with_kind(if tool_name == "aider" || tool_name == "codex" {
            tool_name
        } else {
            "custom"
        })
        .finished_at(t0())
}
