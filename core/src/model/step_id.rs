//! Typed step identifiers.

use std::fmt;
use std::sync::Arc;

/// Identifier of a step within a run: `<workstream-id>` for a workstream without `steps`,
/// `<workstream-id>/<step-id>` for a step inside a workstream (the issue #2 interface
/// contract). Validated once by the loader; ids are `[A-Za-z0-9][A-Za-z0-9._-]*` per part,
/// so a step id is always a safe relative path and a valid git ref component.
///
/// The text is shared: a step's id is referenced from its dependents' `depends_on`, its
/// workstream's step lists and the set's index, and a clone costs a reference count, not
/// an allocation. Serialises as a plain string.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StepId(Arc<str>);

impl StepId {
    /// Id of a single-step workstream.
    pub fn workstream(ws: &str) -> StepId {
        StepId(Arc::from(ws))
    }

    /// Id of step `step` inside workstream `ws`.
    pub fn nested(ws: &str, step: &str) -> StepId {
        StepId(Arc::from(format!("{ws}/{step}")))
    }

    /// Wraps an id read back from the state database, already validated when recorded.
    pub fn from_recorded(id: String) -> StepId {
        StepId(Arc::from(id))
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

impl serde::Serialize for StepId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}
