//! `pipeline spec init`: creates an OpenSpec project skeleton, as `openspec init --tools
//! none` (OpenSpec CLI 1.13.2, the version scripts/install-openspec.sh pins) does.
//!
//! That CLI writes exactly three files: `openspec/config.yaml` (`schema: spec-driven`
//! and commented examples of `context`, `rules` and `operations`),
//! `openspec/specs/.gitkeep` and `openspec/changes/archive/.gitkeep` (empty, so git keeps
//! the directories). AI-tool integration files (slash commands, skills) are left out:
//! they depend on which assistant a user picks. Nothing existing is ever overwritten:
//! each file is created with `create_new`, and one that is already there is reported as
//! kept, so running it again, or in a project made by the CLI, changes nothing.

use std::fs::OpenOptions;
use std::io::{ErrorKind, Write};
use std::path::PathBuf;

use crate::layout::Layout;

/// `openspec/config.yaml` as OpenSpec CLI 1.13.2 writes it for the `spec-driven` schema.
pub const PROJECT_CONFIG: &str = "schema: spec-driven

# Project context (optional)
# This is shown to AI when creating artifacts.
# Add your tech stack, conventions, style guides, domain knowledge, etc.
# Example:
#   context: |
#     Tech stack: TypeScript, React, Node.js
#     We use conventional commits
#     Domain: e-commerce platform

# Per-artifact rules (optional)
# Add custom rules for specific artifacts.
# Example:
#   rules:
#     proposal:
#       - Keep proposals under 500 words
#       - Always include a \"Non-goals\" section
#     tasks:
#       - Break tasks into chunks of max 2 hours

# Per-operation guidance (optional)
# Add advisory guidance for how apply and archive work should be conducted.
# This is separate from artifact rules above.
# Example:
#   operations:
#     apply:
#       guidance:
#         - Keep test summaries concise
#     archive:
#       guidance:
#         - Summarize the archive outcome before finishing
";

/// One file of the skeleton and what happened to it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ScaffoldedFile {
    /// The file.
    pub path: PathBuf,
    /// `true` when this call created it, `false` when it was already there (kept as is).
    pub created: bool,
}

/// Why the skeleton could not be created.
#[derive(Debug, thiserror::Error)]
#[error("cannot create {path}: {source}")]
pub struct ProjectScaffoldError {
    /// The file or directory.
    pub path: PathBuf,
    /// The cause.
    #[source]
    pub source: std::io::Error,
}

/// Creates the missing parts of `openspec/` under `layout.root` (which must exist):
/// `config.yaml`, `specs/.gitkeep`, `changes/archive/.gitkeep`, in that order.
///
/// Errors: [`ProjectScaffoldError`] naming the first directory or file that cannot be
/// created (what was created before it stays: every file is complete on its own).
pub fn scaffold_project(layout: &Layout) -> Result<Vec<ScaffoldedFile>, ProjectScaffoldError> {
    let files = [
        (layout.openspec_dir().join("config.yaml"), PROJECT_CONFIG),
        (layout.specs_dir().join(".gitkeep"), ""),
        (layout.archive_dir().join(".gitkeep"), ""),
    ];
    let mut done = Vec::new();
    for (path, content) in files {
        let created = create_new(&path, content)?;
        done.push(ScaffoldedFile { path, created });
    }
    Ok(done)
}

/// Writes `content` to `path` unless something is there already; `Ok(false)` then.
fn create_new(path: &std::path::Path, content: &str) -> Result<bool, ProjectScaffoldError> {
    let error = |source| ProjectScaffoldError {
        path: path.to_path_buf(),
        source,
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|source| ProjectScaffoldError {
            path: parent.to_path_buf(),
            source,
        })?;
    }
    match OpenOptions::new().write(true).create_new(true).open(path) {
        Ok(mut file) => {
            file.write_all(content.as_bytes()).map_err(error)?;
            Ok(true)
        }
        Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(error(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_the_cli_skeleton_once_and_keeps_edited_files() {
        let dir = tempfile::tempdir().expect("temp dir");
        let layout = Layout::new(dir.path());
        let first = scaffold_project(&layout).expect("scaffold");
        assert!(first.iter().all(|f| f.created), "{first:?}");
        assert_eq!(
            std::fs::read_to_string(layout.openspec_dir().join("config.yaml")).expect("read"),
            PROJECT_CONFIG
        );
        assert!(layout.archive_dir().is_dir());
        assert!(layout.specs_dir().is_dir());

        std::fs::write(layout.openspec_dir().join("config.yaml"), "schema: mine\n").expect("edit");
        let second = scaffold_project(&layout).expect("scaffold again");
        assert!(second.iter().all(|f| !f.created), "{second:?}");
        assert_eq!(
            std::fs::read_to_string(layout.openspec_dir().join("config.yaml")).expect("read"),
            "schema: mine\n"
        );
        // The new project is empty: no specs, no active or archived changes.
        assert!(layout.spec_ids().expect("specs").is_empty());
        assert!(layout.change_ids().expect("changes").is_empty());
        assert!(layout.archived_change_ids().expect("archive").is_empty());
    }
}
