//! Detects a "change" directory that is only a folder around real changes.
//!
//! `openspec/changes/<group>/<id>/` is invisible to OpenSpec: a change must sit
//! directly under `changes/`. A directory with no change marker of its own
//! (`.openspec.yaml`, `proposal.md`, `tasks.md`, `design.md`, a file under `specs/`)
//! and no own files, wrapping directories that have one (up to three levels deep), is
//! reported instead of being validated or archived as an empty change
//! (`utils/nested-change.ts`).

use std::path::Path;

use crate::layout::has_any_file_under;

const MARKERS: [&str; 4] = [".openspec.yaml", "proposal.md", "tasks.md", "design.md"];
const MAX_DEPTH: usize = 3;

/// Marker in the message, so callers can recognise the finding.
pub const NESTED_CHANGE_MARKER: &str = "is not a change: it is a folder wrapping";

fn looks_like_change(dir: &Path) -> bool {
    MARKERS.iter().any(|m| dir.join(m).is_file())
        || has_any_file_under(&dir.join("specs")).unwrap_or(false)
}

fn subdirectories(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .filter(|e| e.file_type().map(|t| t.is_dir()).unwrap_or(false))
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| !n.starts_with('.'))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

fn collect(dir: &Path, prefix: &str, depth: usize, found: &mut Vec<String>) {
    if depth > MAX_DEPTH {
        return;
    }
    for child in subdirectories(dir) {
        let path = dir.join(&child);
        let id = format!("{prefix}/{child}");
        if looks_like_change(&path) {
            found.push(id);
        } else {
            collect(&path, &id, depth + 1, found);
        }
    }
}

/// The message describing `name` as a wrapper folder, or `None` for an ordinary change.
pub fn nested_change_message(changes_dir: &Path, name: &str) -> Option<String> {
    if name == "archive" || name.starts_with('.') {
        return None;
    }
    let dir = changes_dir.join(name);
    if looks_like_change(&dir) {
        return None;
    }
    let has_own_file = std::fs::read_dir(&dir)
        .map(|entries| {
            entries.flatten().any(|e| {
                !e.file_name().to_string_lossy().starts_with('.')
                    && !e.file_type().map(|t| t.is_dir()).unwrap_or(false)
            })
        })
        .unwrap_or(false);
    if has_own_file {
        return None;
    }
    let mut nested = Vec::new();
    collect(&dir, name, 1, &mut nested);
    if nested.is_empty() {
        return None;
    }
    nested.sort();
    let list = nested
        .iter()
        .map(|id| format!("openspec/changes/{id}/"))
        .collect::<Vec<_>>()
        .join(", ");
    let example = nested[0].replace('/', "-");
    Some(format!(
        "\"{name}\" {NESTED_CHANGE_MARKER} {list}. A change must be a directory directly under openspec/changes/, so those nested directories are invisible to OpenSpec while the folder around them is reported as a change. Nested paths are supported under openspec/specs/ only. Rename each nested change to a flat name (for example \"{example}\")."
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_of_changes_is_reported() {
        let dir = tempfile::tempdir().expect("temp dir");
        let inner = dir.path().join("group/one");
        std::fs::create_dir_all(&inner).expect("mkdir");
        std::fs::write(inner.join("proposal.md"), "x").expect("write");
        let message = nested_change_message(dir.path(), "group").expect("nested");
        assert!(message.contains("openspec/changes/group/one/"));
        assert!(message.contains("\"group-one\""));
        assert_eq!(nested_change_message(dir.path(), "group/one"), None);
    }
}
