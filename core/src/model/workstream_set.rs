//! The loaded, validated set of workstreams and their steps.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest, Sha256};

use super::id_hasher::IdMap;
use super::{Step, StepId, ValidationDiagnostic};

/// A workstream after loading: its identity and which steps it consists of.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Workstream {
    pub id: String,
    /// The file that defines it (shared with its steps).
    #[serde(serialize_with = "super::step::serialize_path")]
    pub file: Arc<Path>,
    /// JSON pointer of the workstream object in `file` (`""` or `/3`).
    pub pointer: String,
    pub openspec_change: Option<String>,
    /// All its steps, in file order (the acceptance gate last).
    pub steps: Vec<StepId>,
    /// What a dependent waits for: the acceptance gate if any, else its last steps (sinks).
    pub exit_steps: Vec<StepId>,
}

/// Workstreams selected by the paths given to the loader, plus everything they depend on
/// (from sibling files), with their steps in a stable order (file order, then step order).
#[derive(Debug, Clone)]
pub struct WorkstreamSet {
    pub workstreams: Vec<Workstream>,
    pub steps: Vec<Step>,
    /// Notes found while loading (fields not interpreted, skipped files, ...).
    pub notes: Vec<ValidationDiagnostic>,
    /// Files the workstreams came from.
    pub files: Vec<PathBuf>,
    index: IdMap<StepId, usize>,
}

impl WorkstreamSet {
    pub(crate) fn new(
        workstreams: Vec<Workstream>,
        steps: Vec<Step>,
        notes: Vec<ValidationDiagnostic>,
        files: Vec<PathBuf>,
    ) -> Self {
        let index = steps
            .iter()
            .enumerate()
            .map(|(i, s)| (s.id.clone(), i))
            .collect();
        WorkstreamSet {
            workstreams,
            steps,
            notes,
            files,
            index,
        }
    }

    /// The step with this id.
    pub fn step(&self, id: &StepId) -> Option<&Step> {
        self.index.get(id).map(|&i| &self.steps[i])
    }

    /// Position of a step in [`Self::steps`].
    pub fn position(&self, id: &StepId) -> Option<usize> {
        self.index.get(id).copied()
    }

    /// SHA-256 (hex) over every step's id and definition hash: identifies the plan.
    pub fn plan_hash(&self) -> String {
        let mut h = Sha256::new();
        for s in &self.steps {
            h.update(s.id.as_str().as_bytes());
            h.update([0]);
            h.update(s.definition_hash.as_bytes());
            h.update([0]);
        }
        hex(&h.finalize())
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 0x0f)] as char);
    }
    s
}
