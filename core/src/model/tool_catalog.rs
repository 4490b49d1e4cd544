//! What the loader needs to know about tools, without depending on the registry's types.

/// The set of tool profiles and capabilities a workstream may name. Implemented by the
/// tool registry of `pipeline-adapters`; tests use a plain list.
pub trait ToolCatalog {
    /// Whether a profile named `name` exists (`shell` is always built in).
    fn has_tool(&self, name: &str) -> bool;
    /// Whether at least one profile declares capability `capability`.
    fn has_capability(&self, capability: &str) -> bool;
    /// All profile names, sorted, for "did you mean" hints.
    fn tool_names(&self) -> Vec<String>;
}

impl ToolCatalog for pipeline_adapters::ToolRegistry {
    fn has_tool(&self, name: &str) -> bool {
        self.contains(name)
    }

    fn has_capability(&self, capability: &str) -> bool {
        !self.with_capability(capability).is_empty()
    }

    fn tool_names(&self) -> Vec<String> {
        self.names().into_iter().map(str::to_string).collect()
    }
}
