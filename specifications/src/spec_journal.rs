//! The undo journal that makes an archive's spec changes all-or-nothing.
//!
//! Every rebuilt spec is first written to a temporary file next to its target; only
//! when all are staged are they renamed into place, then retired specs are moved aside
//! (not deleted). The journal records each file's previous content, each backup and
//! each directory it created, so a failure at any point — including the final move of
//! the change into the archive — can put the tree back as it was; committing deletes
//! the backups and prunes the directories retirement left empty.

use std::path::{Path, PathBuf};

use crate::archive::{ArchiveError, io_err};
use crate::line_ending;

/// One change to a main spec.
#[derive(Debug, Clone, Copy)]
pub(crate) enum SpecMutation<'a> {
    /// Replace (or create) `target` with `content` (LF line endings; the file's own
    /// line endings are kept when it exists).
    Write {
        /// The spec file (a symlink is written through).
        target: &'a Path,
        /// The rebuilt spec.
        content: &'a str,
    },
    /// Delete `target` (moved aside until [`Journal::commit`]).
    Retire {
        /// The spec file.
        target: &'a Path,
    },
}

/// Undo log of the spec mutations of one archive.
#[derive(Default)]
pub(crate) struct Journal {
    /// (target, previous content or None when it did not exist) for replaced files.
    replaced: Vec<(PathBuf, Option<Vec<u8>>)>,
    /// (target, backup path) for retired specs, moved aside until the archive commits.
    retired: Vec<(PathBuf, PathBuf)>,
    /// Directories created for new capabilities.
    created_dirs: Vec<PathBuf>,
}

impl Journal {
    /// Puts every file and directory this journal changed back as it was.
    pub(crate) fn roll_back(&mut self) {
        for (target, previous) in self.replaced.drain(..).rev() {
            // Best effort: the original error is what the user needs to see.
            let _ = match previous {
                Some(bytes) => std::fs::write(&target, bytes),
                None => std::fs::remove_file(&target),
            };
        }
        for (target, backup) in self.retired.drain(..).rev() {
            let _ = std::fs::rename(&backup, &target);
        }
        for dir in self.created_dirs.drain(..).rev() {
            let _ = std::fs::remove_dir(&dir);
        }
    }

    /// Makes the changes final: retired specs' backups are deleted and the directories
    /// they leave empty (up to `specs_root`) removed.
    pub(crate) fn commit(&mut self, specs_root: &Path) {
        for (target, backup) in self.retired.drain(..) {
            let _ = std::fs::remove_file(&backup);
            prune_empty_dirs(target.parent(), specs_root);
        }
    }
}

/// Removes `start` and its ancestors while they are empty, stopping at `boundary`.
fn prune_empty_dirs(start: Option<&Path>, boundary: &Path) {
    let Ok(boundary) = boundary.canonicalize() else {
        return;
    };
    let mut dir = start.map(Path::to_path_buf);
    while let Some(current) = dir {
        let Ok(real) = current.canonicalize() else {
            return;
        };
        if real == boundary || !real.starts_with(&boundary) {
            return;
        }
        if std::fs::remove_dir(&current).is_err() {
            return;
        }
        dir = current.parent().map(Path::to_path_buf);
    }
}

/// The file a write to `target` goes to: a symlinked spec stays a symlink, so the
/// write goes through it.
fn write_target(target: &Path) -> PathBuf {
    match std::fs::symlink_metadata(target) {
        Ok(meta) if meta.file_type().is_symlink() => target
            .canonicalize()
            .unwrap_or_else(|_| target.to_path_buf()),
        _ => target.to_path_buf(),
    }
}

impl Journal {
    /// Applies `mutations`, recording how to undo each: every write is staged next to
    /// its target first (so a full disk or a permission problem is found before any
    /// spec changes), then the staged files are renamed into place, then retired specs
    /// are moved aside. On error the caller rolls back with [`Journal::roll_back`].
    pub(crate) fn apply(&mut self, mutations: &[SpecMutation<'_>]) -> Result<(), ArchiveError> {
        let mut staged: Vec<(PathBuf, PathBuf)> = Vec::new();
        for mutation in mutations {
            if let SpecMutation::Write { target, content } = *mutation {
                match self.stage(target, content) {
                    Ok(pair) => staged.push(pair),
                    Err(err) => {
                        remove_staged(&staged);
                        return Err(err);
                    }
                }
            }
        }
        swap_into_place(staged)?;
        for mutation in mutations {
            if let SpecMutation::Retire { target } = *mutation {
                let backup = target
                    .with_file_name(format!(".spec.md.pipeline-retired-{}", std::process::id()));
                std::fs::rename(target, &backup).map_err(io_err("retiring", target))?;
                self.retired.push((target.to_path_buf(), backup));
            }
        }
        Ok(())
    }

    /// Writes `content` to a temporary file next to `target` (creating missing parent
    /// directories) and records the target's previous content: `(temporary, target)`.
    fn stage(&mut self, target: &Path, content: &str) -> Result<(PathBuf, PathBuf), ArchiveError> {
        let target = write_target(target);
        let previous = std::fs::read(&target).ok();
        let content = match &previous {
            Some(bytes) => line_ending::match_original(content, &String::from_utf8_lossy(bytes)),
            None => content.to_string(),
        };
        if let Some(parent) = target.parent()
            && !parent.exists()
        {
            self.create_dirs(parent)?;
        }
        let tmp = target.with_file_name(format!(
            ".{}.pipeline-archive-{}",
            target
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            std::process::id()
        ));
        std::fs::write(&tmp, content.as_bytes()).map_err(io_err("writing", &tmp))?;
        if let Ok(meta) = std::fs::metadata(&target) {
            let _ = std::fs::set_permissions(&tmp, meta.permissions());
        }
        self.replaced.push((target.clone(), previous));
        Ok((tmp, target))
    }

    /// Creates `dir` and its missing ancestors, recording each for the roll-back.
    fn create_dirs(&mut self, dir: &Path) -> Result<(), ArchiveError> {
        let mut missing = Vec::new();
        let mut cursor = Some(dir);
        while let Some(d) = cursor.filter(|d| !d.exists()) {
            missing.push(d.to_path_buf());
            cursor = d.parent();
        }
        std::fs::create_dir_all(dir).map_err(io_err("creating", dir))?;
        self.created_dirs.extend(missing.into_iter().rev());
        Ok(())
    }
}

/// Renames each staged `(temporary, target)` onto its target, in order; on a failure
/// the temporary files not yet renamed are removed.
fn swap_into_place(staged: Vec<(PathBuf, PathBuf)>) -> Result<(), ArchiveError> {
    let mut remaining = staged;
    while !remaining.is_empty() {
        let (tmp, target) = remaining.remove(0);
        if let Err(source) = std::fs::rename(&tmp, &target) {
            remove_staged(&remaining);
            let _ = std::fs::remove_file(&tmp);
            return Err(ArchiveError::Io {
                action: "replacing",
                path: target,
                source,
            });
        }
    }
    Ok(())
}

/// Best-effort removal of staged temporary files (the original error is what matters).
fn remove_staged(staged: &[(PathBuf, PathBuf)]) {
    for (tmp, _) in staged {
        let _ = std::fs::remove_file(tmp);
    }
}
