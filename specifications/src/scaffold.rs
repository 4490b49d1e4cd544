//! `pipeline spec new CHANGE`: scaffolds a change proposal.
//!
//! Creates `openspec/changes/<id>/` with `.openspec.yaml` (`schema: spec-driven`,
//! `created: <date>`), `proposal.md` (Why / What Changes / Capabilities / Impact, the
//! sections of the CLI's spec-driven template), `tasks.md` (numbered groups of
//! checkboxes) and a delta spec stub `specs/<capability>/spec.md`. The stub is
//! deliberately invalid until filled in (its scenario has no steps), so an unfinished
//! proposal cannot pass `validate`; once the placeholders are replaced it validates
//! cleanly.

use std::path::PathBuf;

use crate::ecma_text::js_re;
use crate::layout::Layout;

js_re!(KEBAB, r"^[a-z0-9]+(?:-[a-z0-9]+)*$");

/// Why a change cannot be scaffolded.
#[derive(Debug, thiserror::Error)]
pub enum ScaffoldError {
    /// The id is not kebab-case.
    #[error(
        "change id '{0}' must be kebab-case (lowercase letters, digits, single hyphens), e.g. add-user-login"
    )]
    InvalidId(String),
    /// A capability path segment is not kebab-case.
    #[error(
        "capability '{0}' must be kebab-case path segments separated by '/', e.g. auth or identity/user-auth"
    )]
    InvalidCapability(String),
    /// The change already exists.
    #[error("change '{0}' already exists at {1}; pick another id or edit it")]
    Exists(String, PathBuf),
    /// A file could not be written.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// The files written by [`scaffold_change`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Scaffolded {
    /// The change directory.
    pub change_dir: PathBuf,
    /// Every file created.
    pub files: Vec<PathBuf>,
}

/// Creates the change `id` with a delta stub for `capability` (defaults to `id`), dated
/// `date` (`YYYY-MM-DD`).
///
/// Errors: invalid id or capability, an existing change, a write failure (files
/// written before the failure are removed again).
pub fn scaffold_change(
    layout: &Layout,
    id: &str,
    capability: Option<&str>,
    date: &str,
) -> Result<Scaffolded, ScaffoldError> {
    if !KEBAB.is_match(id) {
        return Err(ScaffoldError::InvalidId(id.to_string()));
    }
    let capability = capability.unwrap_or(id);
    if !capability.split('/').all(|segment| KEBAB.is_match(segment)) {
        return Err(ScaffoldError::InvalidCapability(capability.to_string()));
    }
    let dir = layout.change_dir(id);
    if dir.exists() {
        return Err(ScaffoldError::Exists(id.to_string(), dir));
    }
    let mut spec_path = dir.join("specs");
    for segment in capability.split('/') {
        spec_path.push(segment);
    }
    spec_path.push("spec.md");
    let files: Vec<(PathBuf, String)> = vec![
        (
            dir.join(".openspec.yaml"),
            format!("schema: spec-driven\ncreated: {date}\n"),
        ),
        (dir.join("proposal.md"), proposal(id, capability)),
        (dir.join("tasks.md"), TASKS.to_string()),
        (spec_path, DELTA_STUB.to_string()),
    ];
    let mut written = Vec::new();
    for (path, content) in files {
        let result = path
            .parent()
            .map(std::fs::create_dir_all)
            .transpose()
            .and_then(|_| std::fs::write(&path, content));
        if let Err(source) = result {
            let _ = std::fs::remove_dir_all(&dir);
            return Err(ScaffoldError::Io { path, source });
        }
        written.push(path);
    }
    Ok(Scaffolded {
        change_dir: dir,
        files: written,
    })
}

fn proposal(id: &str, capability: &str) -> String {
    format!(
        "# Change: {id}\n\n## Why\n\n<!-- Explain the motivation for this change (at least 50 characters). What problem does this solve? Why now? -->\n\n## What Changes\n\n- **{capability}:** <!-- what changes for this capability -->\n\n## Capabilities\n\n### New Capabilities\n<!-- Capabilities being introduced; each creates specs/<capability-path>/spec.md. -->\n\n### Modified Capabilities\n- `{capability}`: <!-- which requirements change -->\n\n## Impact\n\n<!-- Affected code, APIs, dependencies, systems -->\n"
    )
}

const TASKS: &str = "# Tasks\n\n## 1. <!-- Task group name -->\n\n- [ ] 1.1 <!-- Task description -->\n- [ ] 1.2 <!-- Task description -->\n\n## 2. <!-- Task group name -->\n\n- [ ] 2.1 <!-- Task description -->\n";

const DELTA_STUB: &str = "## ADDED Requirements\n\n### Requirement: <!-- Requirement name -->\n<!-- State the behaviour as one normative sentence (RFC 2119 keyword), then give the scenario its WHEN/THEN steps. -->\n\n#### Scenario: <!-- Scenario name -->\n";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_bad_ids_and_existing_changes() {
        let dir = tempfile::tempdir().expect("temp dir");
        let layout = Layout::new(dir.path());
        assert!(matches!(
            scaffold_change(&layout, "Bad_Id", None, "2025-01-01"),
            Err(ScaffoldError::InvalidId(_))
        ));
        assert!(scaffold_change(&layout, "add-x", None, "2025-01-01").is_ok());
        assert!(matches!(
            scaffold_change(&layout, "add-x", None, "2025-01-01"),
            Err(ScaffoldError::Exists(..))
        ));
    }
}
