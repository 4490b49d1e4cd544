//! Where a command works: the root of the git repository it was pointed at, or the
//! current directory when it runs outside any repository.
//!
//! Commands that only read files (`plan`, `validate`, `plugins`, `diagnose`) work
//! outside a repository too; commands that run or record something open the repository
//! itself and fail without one. This is the one place deciding which failures to open a
//! repository mean "there is none here, use the current directory" and which are errors,
//! so that every command treats them alike.

use std::path::{Path, PathBuf};

use super::EngineError;
use crate::git::{GitError, Repository};

/// The current directory.
///
/// Errors: [`EngineError::CurrentDir`] when it cannot
/// be read (removed while the process runs in it, or no permission).
pub fn current_dir() -> Result<PathBuf, EngineError> {
    std::env::current_dir().map_err(EngineError::CurrentDir)
}

/// The top of the working tree of the repository containing `repo` (default: the
/// current directory). Without `repo`, a current directory that is in no git repository
/// gives the current directory itself.
///
/// Only "not a git repository" falls back, and only when `repo` was not given: a
/// directory the user named with `--repo` must be a repository, and every other failure
/// (a bare repository, a corrupt or unreadable `.git`) is reported rather than hidden
/// behind a directory that was never meant.
///
/// Errors: [`EngineError::Git`] from [`Repository::open`] (e.g.
/// [`GitError::NotARepository`] for a given `repo`, [`GitError::BareRepository`]);
/// [`EngineError::CurrentDir`] when the current directory cannot be read.
pub fn repository_root_or_current_dir(repo: Option<&Path>) -> Result<PathBuf, EngineError> {
    match repo {
        Some(dir) => Ok(Repository::open(dir)?.workdir().to_path_buf()),
        None => repository_root_or_dir(&current_dir()?),
    }
}

/// The top of the working tree of the repository containing `dir`, or `dir` when it is
/// in none. Errors: as [`repository_root_or_current_dir`], less the fallback.
fn repository_root_or_dir(dir: &Path) -> Result<PathBuf, EngineError> {
    match Repository::open(dir) {
        Ok(repository) => Ok(repository.workdir().to_path_buf()),
        Err(GitError::NotARepository { .. }) => Ok(dir.to_path_buf()),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use std::process::Command;

    use super::*;

    fn git(dir: &Path, args: &[&str]) {
        let out = Command::new("git")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("git runs");
        assert!(out.status.success(), "git {args:?}: {out:?}");
    }

    #[test]
    fn a_directory_in_a_repository_gives_the_top_of_its_working_tree() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let root = tmp.path().join("repo");
        let nested = root.join("a/b");
        std::fs::create_dir_all(&nested).expect("mkdir");
        git(&root, &["init", "-q"]);
        let found = repository_root_or_dir(&nested).expect("repository found");
        assert_eq!(
            found.canonicalize().expect("exists"),
            root.canonicalize().expect("exists")
        );
        let given = repository_root_or_current_dir(Some(&nested)).expect("repository found");
        assert_eq!(given, found);
    }

    #[test]
    fn outside_any_repository_the_directory_itself_is_used_unless_it_was_named() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let plain = tmp.path().join("plain");
        std::fs::create_dir_all(&plain).expect("mkdir");
        // The search walks up: a temporary directory inside some repository has no
        // "outside" to test.
        if !matches!(
            Repository::open(&plain),
            Err(GitError::NotARepository { .. })
        ) {
            eprintln!("SKIP: the temporary directory is inside a git repository");
            return;
        }
        assert_eq!(repository_root_or_dir(&plain).expect("fallback"), plain);
        let named = repository_root_or_current_dir(Some(&plain));
        assert!(
            matches!(
                named,
                Err(EngineError::Git(GitError::NotARepository { .. }))
            ),
            "{named:?}"
        );
    }

    #[test]
    fn other_git_failures_do_not_fall_back() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let bare = tmp.path().join("bare.git");
        std::fs::create_dir_all(&bare).expect("mkdir");
        git(&bare, &["init", "-q", "--bare"]);
        let found = repository_root_or_dir(&bare);
        assert!(
            matches!(
                found,
                Err(EngineError::Git(GitError::BareRepository { .. }))
            ),
            "{found:?}"
        );
    }
}
