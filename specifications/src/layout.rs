//! Where OpenSpec keeps things, and how specs and changes are discovered.
//!
//! A project root holds `openspec/specs/<capability-path>/spec.md` (capability paths
//! may nest: `specs/area/auth/spec.md` is capability `area/auth`),
//! `openspec/changes/<id>/` and `openspec/changes/archive/<YYYY-MM-DD>-<id>/`.
//! Discovery follows the CLI (`utils/spec-discovery.ts`, `item-discovery.ts`): dot
//! entries are skipped, symlinked directories are not followed, a `spec.md` directly
//! in a specs root is not a capability, and results are sorted by code point.

use std::io;
use std::path::{Path, PathBuf};

use crate::delta::parse_delta_spec;

/// The OpenSpec directories of one project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// The project root (the directory containing `openspec/`).
    pub root: PathBuf,
}

impl Layout {
    /// The layout rooted at `root` (the directory that contains `openspec/`).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Layout { root: root.into() }
    }

    /// Walks up from `start` to the nearest directory containing `openspec/`, as the CLI
    /// does when no root is given. `None` when there is none.
    pub fn discover(start: &Path) -> Option<Self> {
        start
            .ancestors()
            .find(|dir| dir.join("openspec").is_dir())
            .map(Layout::new)
    }

    /// `<root>/openspec`.
    pub fn openspec_dir(&self) -> PathBuf {
        self.root.join("openspec")
    }

    /// `<root>/openspec/specs`.
    pub fn specs_dir(&self) -> PathBuf {
        self.openspec_dir().join("specs")
    }

    /// `<root>/openspec/changes`.
    pub fn changes_dir(&self) -> PathBuf {
        self.openspec_dir().join("changes")
    }

    /// `<root>/openspec/changes/archive`.
    pub fn archive_dir(&self) -> PathBuf {
        self.changes_dir().join("archive")
    }

    /// `<root>/openspec/changes/<id>`.
    pub fn change_dir(&self, id: &str) -> PathBuf {
        self.changes_dir().join(id)
    }

    /// `<root>/openspec/specs/<capability>/spec.md`.
    pub fn spec_file(&self, capability: &str) -> PathBuf {
        let mut path = self.specs_dir();
        for segment in capability.split('/') {
            path.push(segment);
        }
        path.join("spec.md")
    }

    /// Active change ids: directories under `changes/` except `archive` and dot
    /// directories, sorted. A missing `changes/` is an empty list.
    ///
    /// Errors: any read failure other than "not found".
    pub fn change_ids(&self) -> io::Result<Vec<String>> {
        list_dirs(&self.changes_dir(), |name| name != "archive")
    }

    /// Archived change directory names, sorted.
    pub fn archived_change_ids(&self) -> io::Result<Vec<String>> {
        list_dirs(&self.archive_dir(), |_| true)
    }

    /// Capability ids of the main specs, sorted by code point.
    pub fn spec_ids(&self) -> io::Result<Vec<String>> {
        Ok(discover_spec_files(&self.specs_dir())?
            .into_iter()
            .map(|s| s.id)
            .collect())
    }
}

fn list_dirs(dir: &Path, keep: impl Fn(&str) -> bool) -> io::Result<Vec<String>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(err) => return Err(err),
    };
    let mut ids = Vec::new();
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if entry.file_type()?.is_dir() && !name.starts_with('.') && keep(&name) {
            ids.push(name);
        }
    }
    ids.sort();
    Ok(ids)
}

/// A `spec.md` found under a specs root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscoveredSpec {
    /// Capability id: the directory path below the root, `/`-separated.
    pub id: String,
    /// The file.
    pub file: PathBuf,
}

/// Every `<capability-path>/spec.md` under `specs_root`, sorted by id. A missing root is
/// an empty list; other read errors are returned (a silently skipped capability would
/// lose its delta at archive time).
pub fn discover_spec_files(specs_root: &Path) -> io::Result<Vec<DiscoveredSpec>> {
    let mut results = Vec::new();
    walk_specs(specs_root, &mut Vec::new(), &mut results)?;
    results.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(results)
}

fn walk_specs(
    dir: &Path,
    segments: &mut Vec<String>,
    out: &mut Vec<DiscoveredSpec>,
) -> io::Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(err) => return Err(err),
    };
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        let kind = entry.file_type()?;
        if kind.is_dir() {
            segments.push(name);
            walk_specs(&entry.path(), segments, out)?;
            segments.pop();
        } else if name == "spec.md" && !segments.is_empty() {
            let file = entry.path();
            let is_file = if kind.is_symlink() {
                match std::fs::metadata(&file) {
                    Ok(meta) => meta.is_file(),
                    Err(err) if err.kind() == io::ErrorKind::NotFound => false,
                    Err(err) => return Err(err),
                }
            } else {
                kind.is_file()
            };
            if is_file {
                out.push(DiscoveredSpec {
                    id: segments.join("/"),
                    file,
                });
            }
        }
    }
    Ok(())
}

/// A Markdown file under a change's `specs/` that has delta sections but is not a
/// capability's `spec.md`, so archive would never read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnreadDeltaFile {
    /// Path below `specs/`, `/`-separated.
    pub path: String,
    /// Where its requirements belong (`<capability>/spec.md`).
    pub expected: String,
}

/// Finds [`UnreadDeltaFile`]s, sorted by path (`findUnreadDeltaFiles`).
pub fn find_unread_delta_files(specs_root: &Path) -> io::Result<Vec<UnreadDeltaFile>> {
    let mut results = Vec::new();
    walk_unread(specs_root, &mut Vec::new(), &mut results)?;
    results.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(results)
}

fn walk_unread(
    dir: &Path,
    segments: &mut Vec<String>,
    out: &mut Vec<UnreadDeltaFile>,
) -> io::Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(err)
            if matches!(
                err.kind(),
                io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
            ) =>
        {
            return Ok(());
        }
        Err(err) => return Err(err),
    };
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        let kind = entry.file_type()?;
        if kind.is_dir() {
            segments.push(name);
            walk_unread(&entry.path(), segments, out)?;
            segments.pop();
            continue;
        }
        if !kind.is_file() && !kind.is_symlink() {
            continue;
        }
        if name == "spec.md" || !name.to_lowercase().ends_with(".md") {
            continue;
        }
        let path = entry.path();
        if kind.is_symlink() {
            match std::fs::metadata(&path) {
                Ok(meta) if meta.is_file() => {}
                Ok(_) => continue,
                Err(err) if err.kind() == io::ErrorKind::NotFound => continue,
                Err(err) => return Err(err),
            }
        }
        let content = read_lossy(&path)?;
        if !parse_delta_spec(&content).section_presence.any() {
            continue;
        }
        let capability = if segments.is_empty() {
            name[..name.len() - 3].to_string()
        } else {
            segments.join("/")
        };
        let mut rel = segments.clone();
        rel.push(name);
        out.push(UnreadDeltaFile {
            path: rel.join("/"),
            expected: format!("{capability}/spec.md"),
        });
    }
    Ok(())
}

/// True when any non-dot file (or symlink) exists anywhere under `dir`; `false` when
/// `dir` is missing.
pub fn has_any_file_under(dir: &Path) -> io::Result<bool> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(err) => return Err(err),
    };
    for entry in entries {
        let entry = entry?;
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let kind = entry.file_type()?;
        if kind.is_file() || kind.is_symlink() {
            return Ok(true);
        }
        if kind.is_dir() && has_any_file_under(&entry.path())? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Reads a text file as the CLI does (`readFile(..., 'utf-8')`): invalid UTF-8 becomes
/// U+FFFD instead of an error.
pub fn read_lossy(path: &Path) -> io::Result<String> {
    let bytes = std::fs::read(path)?;
    Ok(match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(err) => String::from_utf8_lossy(err.as_bytes()).into_owned(),
    })
}

/// A relative path with `/` separators.
pub fn posix_path(path: &Path) -> String {
    path.components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

/// `path` relative to `base`, `/`-separated; `path` itself when it is not below `base`.
pub fn posix_relative(base: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(base).unwrap_or(path);
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discovers_nested_capabilities_and_ignores_root_and_dot_entries() {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path();
        for rel in [
            "a/spec.md",
            "area/b/spec.md",
            ".hidden/spec.md",
            "spec.md",
            "c/notes.md",
        ] {
            let path = root.join(rel);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(&path, "## ADDED Requirements\n").expect("write");
        }
        let ids: Vec<_> = discover_spec_files(root)
            .expect("walk")
            .into_iter()
            .map(|s| s.id)
            .collect();
        assert_eq!(ids, ["a", "area/b"]);
        let unread = find_unread_delta_files(root).expect("walk");
        assert_eq!(
            unread,
            vec![UnreadDeltaFile {
                path: "c/notes.md".into(),
                expected: "c/spec.md".into()
            }]
        );
        assert!(has_any_file_under(root).expect("walk"));
        assert!(!has_any_file_under(&root.join("missing")).expect("walk"));
    }
}
