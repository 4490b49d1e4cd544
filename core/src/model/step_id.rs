//! Typed step identifiers.

use std::fmt;

/// Identifier of a step within a run: `<workstream-id>` for a workstream without `steps`,
/// `<workstream-id>/<step-id>` for a step inside a workstream (the issue #2 interface
/// contract). Validated once by the loader; ids are `[A-Za-z0-9][A-Za-z0-9._-]*` per part,
/// so a step id is always a safe relative path and a valid git ref component.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct StepId(String);

impl StepId {
    /// Id of a single-step workstream.
    pub fn workstream(ws: &str) -> StepId {
        StepId(ws.to_string())
    }

    /// Id of step `step` inside workstream `ws`.
    pub fn nested(ws: &str, step: &str) -> StepId {
        StepId(format!("{ws}/{step}"))
    }

    /// Wraps an id read back from the state database, already validated when recorded.
    pub fn from_recorded(id: String) -> StepId {
        StepId(id)
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for StepId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for StepId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}
