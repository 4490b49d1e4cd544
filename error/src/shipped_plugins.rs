//! The external plugins shipped with pipeline (`error/plugins/`), compiled into the binary.
//!
//! An installed binary has no source tree, so the manifests of `error/plugins/<id>/` are
//! embedded with `include_str!` and loaded from memory. They keep their place in the
//! loading order: the engine passes [`shipped_plugins_dir`] among its plugin directories
//! (first, before the repository's `.pipeline/plugins/`), and
//! [`crate::PluginManager::load`] reads the embedded copy for that one entry, never the
//! disk. A shipped plugin is a manifest only (rules, or a `command` found on `PATH`): a
//! file beside its `plugin.yaml` could not be run from memory, and a test fails if
//! `error/plugins/` holds any file that is not embedded here.

use std::path::PathBuf;

/// The name under which the embedded plugins are listed, as if they were a directory:
/// a shipped manifest's origin is `<shipped with pipeline>/<id>/plugin.yaml`.
pub const SHIPPED_PLUGINS_DIR: &str = "<shipped with pipeline>";

/// One shipped plugin: its id (= its directory under `error/plugins/`) and manifest text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShippedPlugin {
    /// The plugin's id and directory name.
    pub id: &'static str,
    /// The text of its `plugin.yaml`.
    pub manifest: &'static str,
}

/// Every plugin of `error/plugins/`, sorted by id (the order in which a directory's
/// plugins are loaded).
pub const SHIPPED_PLUGINS: &[ShippedPlugin] = &[ShippedPlugin {
    id: "npm",
    manifest: include_str!("../plugins/npm/plugin.yaml"),
}];

/// The plugin directory entry that stands for the embedded plugins (see the module
/// documentation); pass it to [`crate::PluginManager::load`] where the shipped plugins
/// belong in the order.
pub fn shipped_plugins_dir() -> PathBuf {
    PathBuf::from(SHIPPED_PLUGINS_DIR)
}
