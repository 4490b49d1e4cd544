//! The administrative side of linked worktrees, read and written as git lays it out.
//!
//! A linked worktree is two halves tied by two files: the working directory holds a
//! `.git` file (`gitdir: <commondir>/worktrees/<name>`), and the admin directory
//! `<commondir>/worktrees/<name>/` holds `HEAD`, `index`, `commondir` and a `gitdir`
//! file naming `<worktree path>/.git`. `git worktree list` and `git worktree prune`
//! trust the `gitdir` file, so moving a working directory means rewriting it, exactly
//! what `git worktree move` does. libgit2 has no move, hence this file.
//!
//! The registry is small (one directory per worktree), so scanning it is cheap.

use std::fs;
use std::path::{Component, Path, PathBuf};

use super::{GitError, Repository};

/// One entry of `<commondir>/worktrees/`.
#[derive(Debug, Clone)]
pub(crate) struct RegisteredWorktree {
    /// The worktree's name: the admin directory's file name.
    pub(crate) name: String,
    /// `<commondir>/worktrees/<name>`.
    pub(crate) admin_dir: PathBuf,
    /// The working directory recorded in the admin `gitdir` file, if readable.
    pub(crate) path: Option<PathBuf>,
}

/// `<commondir>/worktrees`, where admin directories live.
pub(crate) fn admin_root(repo: &Repository) -> PathBuf {
    repo.commondir().join("worktrees")
}

/// Every registered linked worktree of the repository (not the main one).
///
/// Errors: [`GitError::Io`] when the registry exists but cannot be listed.
pub(crate) fn registered(repo: &Repository) -> Result<Vec<RegisteredWorktree>, GitError> {
    let root = admin_root(repo);
    let entries = match fs::read_dir(&root) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(GitError::io("list directory", &root)(error)),
    };
    let mut found = Vec::new();
    for entry in entries {
        let entry = entry.map_err(GitError::io("list directory", &root))?;
        let admin_dir = entry.path();
        if !admin_dir.is_dir() {
            continue;
        }
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = recorded_path(&admin_dir);
        found.push(RegisteredWorktree {
            name,
            admin_dir,
            path,
        });
    }
    Ok(found)
}

/// The working directory an admin directory's `gitdir` file names (its parent, as the
/// file names `<path>/.git`), made absolute relative to the admin directory when git
/// wrote it relative (`worktree.useRelativePaths`).
fn recorded_path(admin_dir: &Path) -> Option<PathBuf> {
    let text = fs::read_to_string(admin_dir.join("gitdir")).ok()?;
    let dotgit = PathBuf::from(text.trim_end_matches(['\n', '\r']));
    let dotgit = if dotgit.is_absolute() {
        dotgit
    } else {
        lexically_normal(&admin_dir.join(dotgit))
    };
    dotgit.parent().map(Path::to_path_buf)
}

/// The admin directory of the linked worktree whose working directory is `dir`, when
/// `dir` holds a `.git` file pointing into this repository's registry at an admin
/// directory that exists; `None` for anything else (plain directory, nested
/// repository, worktree of another repository, pruned worktree).
pub(crate) fn admin_dir_of(repo: &Repository, dir: &Path) -> Option<PathBuf> {
    let link = dir.join(".git");
    if !fs::symlink_metadata(&link).is_ok_and(|meta| meta.is_file()) {
        return None;
    }
    let text = fs::read_to_string(&link).ok()?;
    let target = text.trim_end().strip_prefix("gitdir:")?.trim();
    let target = PathBuf::from(target);
    let target = if target.is_absolute() {
        target
    } else {
        dir.join(target)
    };
    let target = fs::canonicalize(target).ok()?;
    let registry = fs::canonicalize(admin_root(repo)).ok()?;
    (target.parent() == Some(registry.as_path()) && target.is_dir()).then_some(target)
}

/// Points the admin directory's `gitdir` file at `worktree_dir` (made canonical), as
/// `git worktree move` does. Written to a temporary file and renamed, so a crash leaves
/// either the old or the new path, never a torn file.
///
/// Errors: [`GitError::Io`].
pub(crate) fn write_gitdir(admin_dir: &Path, worktree_dir: &Path) -> Result<(), GitError> {
    let worktree_dir = fs::canonicalize(worktree_dir)
        .map_err(GitError::io("resolve the path of", worktree_dir))?;
    let contents = format!("{}\n", worktree_dir.join(".git").display());
    let gitdir = admin_dir.join("gitdir");
    let temporary = admin_dir.join("gitdir.pipeline-tmp");
    fs::write(&temporary, contents).map_err(GitError::io("write", &temporary))?;
    fs::rename(&temporary, &gitdir).map_err(GitError::io("replace", &gitdir))
}

/// The working directory that has `refname` (e.g. `refs/heads/x`) checked out, if
/// any: the main worktree or a linked one, read from their `HEAD` files.
///
/// Errors: [`GitError::Io`] when the registry cannot be listed.
pub(crate) fn checked_out_at(
    repo: &Repository,
    refname: &str,
) -> Result<Option<PathBuf>, GitError> {
    let wanted = format!("ref: {refname}");
    let holds = |head_file: PathBuf| {
        fs::read_to_string(head_file).is_ok_and(|text| text.trim_end() == wanted)
    };
    if holds(repo.commondir().join("HEAD")) {
        let main = repo
            .commondir()
            .parent()
            .map_or_else(|| repo.commondir().to_path_buf(), Path::to_path_buf);
        return Ok(Some(main));
    }
    for worktree in registered(repo)? {
        if holds(worktree.admin_dir.join("HEAD")) {
            return Ok(Some(worktree.path.unwrap_or(worktree.admin_dir)));
        }
    }
    Ok(None)
}

/// Resolves `.` and `..` components without touching the file system.
pub(crate) fn lexically_normal(path: &Path) -> PathBuf {
    let mut normal = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                normal.pop();
            }
            other => normal.push(other),
        }
    }
    normal
}
