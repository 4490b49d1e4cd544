//! A step's definition hash: SHA-256 over what changes the step's effect, deciding on
//! resume whether a completed step is still valid.
//!
//! The bytes hashed are the JSON serialisation of [`Definition`] (field order as declared),
//! so the hash of an unchanged step stays the same across versions as long as these fields
//! and their serialisation do; a test pins one value.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

use super::workstream_set::hex;
use super::{AcceptanceTest, Isolation, Step, StepId, StepKind, ToolChoice};

/// Only what changes the step's effect: not its file, pointer or informational fields.
#[derive(serde::Serialize)]
struct Definition<'a> {
    kind: &'a StepKind,
    tool: &'a ToolChoice,
    description: &'a Option<String>,
    tasks: &'a [String],
    prompt: &'a Option<String>,
    depends_on: &'a [StepId],
    files_scope: &'a [String],
    acceptance_tests: &'a [AcceptanceTest],
    context_files: &'a [String],
    timeout_sec: &'a Option<f64>,
    env: &'a BTreeMap<String, String>,
    isolation: &'a Isolation,
    specs: &'a [String],
    openspec_tasks: &'a [String],
    /// Left out when empty, so the hash of a step without it is unchanged.
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    allow_symlinks: &'a [String],
    /// Left out when false, so the hash of a step without it is unchanged.
    #[serde(skip_serializing_if = "is_false")]
    read_only: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// Feeds serialised bytes straight into the hash, without an intermediate buffer.
struct HashWriter(Sha256);

impl std::io::Write for HashWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// SHA-256 (lowercase hex, 64 characters) of the step's definition, its resolved
/// `depends_on` included.
pub(crate) fn definition_hash(step: &Step) -> String {
    let definition = Definition {
        kind: &step.kind,
        tool: &step.tool,
        description: &step.description,
        tasks: &step.tasks,
        prompt: &step.prompt,
        depends_on: &step.depends_on,
        files_scope: &step.files_scope,
        acceptance_tests: &step.acceptance_tests,
        context_files: &step.context_files,
        timeout_sec: &step.timeout_sec,
        env: &step.env,
        isolation: &step.isolation,
        specs: &step.specs,
        openspec_tasks: &step.openspec_tasks,
        allow_symlinks: &step.allow_symlinks,
        read_only: step.read_only,
    };
    let mut w = HashWriter(Sha256::new());
    // Serialising plain data into an infallible writer cannot fail.
    let _ = serde_json::to_writer(&mut w, &definition);
    hex(&w.0.finalize())
}
