//! Placeholder: the driver of `aider` profiles is written by the helper owning this file.

use std::sync::Arc;

use crate::{AdapterError, ToolAdapter, ToolProfile};

/// The adapter of a `aider` profile named `name`.
pub(crate) fn build(
    name: &str,
    profile: &ToolProfile,
) -> Result<Arc<dyn ToolAdapter>, AdapterError> {
    Err(AdapterError::AdapterUnavailable {
        tool: name.to_owned(),
        kind: profile.kind,
    })
}
