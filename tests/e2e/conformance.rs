//! The external conformance corpus: the original tool's own workstream files, an optional
//! extra test run on top of the project's own fixtures (tests/fixtures/original-format/,
//! tested by `original_format.rs`).
//!
//! The corpus is not part of the repository, so a fresh clone has none. Tests that use it
//! call [`corpus`]: the directory is `PIPELINE_CONFORMANCE_DIR` (relative paths are taken
//! from the repository root), by default `../shared/conformance/caidp-workstreams`; when it
//! is not a directory the test prints "skipped: conformance corpus not found at ...; set
//! PIPELINE_CONFORMANCE_DIR" and passes (nextest shows it with `--no-capture` or
//! `--success-output immediate`).

use std::path::{Path, PathBuf};

/// The environment variable naming the corpus directory (`caidp-workstreams`).
pub const VAR: &str = "PIPELINE_CONFORMANCE_DIR";

/// Where the corpus is looked for when [`VAR`] is unset, relative to the repository root.
pub const DEFAULT: &str = "../shared/conformance/caidp-workstreams";

/// The corpus directory, or `None` (after printing why the calling test is skipped) when
/// it does not exist.
pub fn corpus() -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = match std::env::var_os(VAR) {
        Some(v) if !v.is_empty() => root.join(v),
        _ => root.join(DEFAULT),
    };
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!(
            "skipped: conformance corpus not found at {}; set {VAR}",
            dir.display()
        );
        None
    }
}
