//! The user's repository, as the engine sees it.
//!
//! [`Repository`] holds only paths (working directory and common git directory) and
//! opens a fresh `git2::Repository` for each operation: a `git2::Repository` is not
//! `Sync`, and the engine calls in from several `spawn_blocking` threads at once.
//! Opening costs a few small file reads, which is noise next to any operation done
//! with it; libgit2 serialises concurrent writers of the same reference or index
//! with lock files, so separate handles are safe.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use git2::ErrorCode;

use super::GitError;

/// A non-bare git repository with at least a working directory; cheap to clone,
/// `Send + Sync`.
#[derive(Debug, Clone)]
pub struct Repository {
    workdir: PathBuf,
    commondir: PathBuf,
}

impl Repository {
    /// Opens the repository containing `path`, searching upward from it as `git` does
    /// (so a subdirectory works). When `path` is inside a linked worktree, that
    /// worktree is the working directory.
    ///
    /// Errors: [`GitError::NotARepository`] (no repository above `path`; the message
    /// suggests `git init`), [`GitError::BareRepository`], [`GitError::Git`] for other
    /// failures (e.g. a repository owned by another user).
    pub fn open(path: &Path) -> Result<Repository, GitError> {
        // Every object pipeline writes (trees, merge commits) references objects it just
        // read from the same repository; libgit2's default re-verification of each
        // referenced object (opening and inflating it) made writing a merged tree cost
        // O(tree size) object reads. Process-wide, set once.
        static RELAXED: std::sync::Once = std::sync::Once::new();
        RELAXED.call_once(|| git2::opts::strict_object_creation(false));
        let repo = git2::Repository::discover(path).map_err(|cause| {
            if cause.code() == ErrorCode::NotFound {
                GitError::NotARepository {
                    path: path.to_path_buf(),
                    cause,
                }
            } else {
                GitError::git("open the repository", path)(cause)
            }
        })?;
        let Some(workdir) = repo.workdir() else {
            return Err(GitError::BareRepository {
                path: repo.path().to_path_buf(),
            });
        };
        Ok(Repository {
            workdir: workdir.components().collect(),
            commondir: repo.commondir().components().collect(),
        })
    }

    /// The top of the working tree (no trailing separator), e.g. `/home/u/project`.
    pub fn workdir(&self) -> &Path {
        &self.workdir
    }

    /// The common git directory shared by all worktrees, e.g. `/home/u/project/.git`.
    pub fn commondir(&self) -> &Path {
        &self.commondir
    }

    /// Opens a libgit2 handle on the working directory (no upward search).
    pub(crate) fn git2(&self) -> Result<git2::Repository, GitError> {
        open_worktree(&self.workdir)
    }

    /// Resolves `rev` (`HEAD`, a branch or tag name, a full or abbreviated hex id,
    /// any git revision syntax) to the commit it names, peeling tags.
    ///
    /// Errors: [`GitError::NoCommits`] when the repository has no commit yet (the
    /// message says to make an initial commit), [`GitError::UnknownRevision`] naming
    /// `rev`, [`GitError::NotACommit`] when it names a blob or tree.
    pub fn resolve_commit(&self, rev: &str) -> Result<git2::Oid, GitError> {
        let repo = self.git2()?;
        match repo.revparse_single(rev) {
            Ok(object) => match object.peel_to_commit() {
                Ok(commit) => Ok(commit.id()),
                Err(_) => Err(GitError::NotACommit {
                    rev: rev.to_string(),
                    path: self.workdir.clone(),
                    kind: object
                        .kind()
                        .map_or_else(|| "object".to_string(), |kind| kind.str().to_string()),
                }),
            },
            Err(cause) => {
                if repo.is_empty().unwrap_or(false)
                    || repo
                        .head()
                        .is_err_and(|head_error| head_error.code() == ErrorCode::UnbornBranch)
                {
                    Err(GitError::NoCommits {
                        path: self.workdir.clone(),
                    })
                } else {
                    Err(GitError::UnknownRevision {
                        rev: rev.to_string(),
                        path: self.workdir.clone(),
                        cause,
                    })
                }
            }
        }
    }

    /// Appends `pattern` (e.g. `.pipeline/`) as a line of `<commondir>/info/exclude`
    /// unless a line equal to it (ignoring surrounding blanks) is already there. The
    /// exclude file applies to every worktree of the repository and is never
    /// committed, unlike `.gitignore`.
    ///
    /// Errors: [`GitError::Io`] when the file cannot be read or written.
    pub fn ensure_excluded(&self, pattern: &str) -> Result<(), GitError> {
        let info = self.commondir.join("info");
        let exclude = info.join("exclude");
        let existing = match fs::read(&exclude) {
            Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(error) => return Err(GitError::io("read", &exclude)(error)),
        };
        if existing.lines().any(|line| line.trim() == pattern.trim()) {
            return Ok(());
        }
        fs::create_dir_all(&info).map_err(GitError::io("create directory", &info))?;
        let mut line = String::new();
        if !existing.is_empty() && !existing.ends_with('\n') {
            line.push('\n');
        }
        line.push_str(pattern.trim());
        line.push('\n');
        fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&exclude)
            .and_then(|mut file| file.write_all(line.as_bytes()))
            .map_err(GitError::io("append to", &exclude))
    }

    /// Whether `oid` (a full hex object id: 40 digits, SHA-1) names a commit
    /// present in the repository. Abbreviated ids, malformed text and unreadable
    /// repositories give `false`. Used on resume to check that a checkpoint's result
    /// commit still exists; to check many, use [`Repository::commit_check`].
    pub fn commit_exists(&self, oid: &str) -> bool {
        self.commit_check().exists(oid)
    }

    /// A [`CommitCheck`]: [`commit_exists`](Repository::commit_exists) for many ids
    /// through one libgit2 handle (opening one costs ~100 us of config and directory
    /// probing), remembering each answer.
    pub fn commit_check(&self) -> CommitCheck {
        CommitCheck {
            repo: self.clone(),
            handle: None,
            known: std::collections::HashMap::new(),
        }
    }
}

/// Answers "is this a commit of the repository?" for many ids, as
/// [`Repository::commit_exists`] does, with one libgit2 handle opened on first use and
/// a memo of the answers (kept steps often share a checkpoint commit). `Send`; not meant
/// to be shared between threads. A handle sees objects written after it was opened
/// (libgit2 re-scans packs on a miss).
pub struct CommitCheck {
    repo: Repository,
    handle: Option<git2::Repository>,
    known: std::collections::HashMap<String, bool>,
}

impl CommitCheck {
    /// Whether `oid` (40 hex digits) names a commit present in the repository.
    /// Abbreviated ids, malformed text and unreadable repositories give `false`.
    pub fn exists(&mut self, oid: &str) -> bool {
        if let Some(&known) = self.known.get(oid) {
            return known;
        }
        const SHA1_HEX_DIGITS: usize = 40;
        let answer = oid.len() == SHA1_HEX_DIGITS
            && oid.bytes().all(|byte| byte.is_ascii_hexdigit())
            && git2::Oid::from_str(oid).is_ok_and(|oid| {
                if self.handle.is_none() {
                    self.handle = self.repo.git2().ok();
                }
                self.handle
                    .as_ref()
                    .is_some_and(|repo| repo.find_commit(oid).is_ok())
            });
        self.known.insert(oid.to_string(), answer);
        answer
    }
}

impl std::fmt::Debug for CommitCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CommitCheck")
            .field("workdir", &self.repo.workdir())
            .field("known", &self.known.len())
            .finish()
    }
}

/// Opens the repository whose working directory is exactly `path` (a worktree or the
/// main working tree), without searching parent directories: step worktrees live
/// inside the main working tree, so a search would silently find the main repository
/// when a worktree's `.git` link is missing.
///
/// Errors: [`GitError::NotARepository`] when `path` has no `.git`, [`GitError::Git`]
/// otherwise.
pub(crate) fn open_worktree(path: &Path) -> Result<git2::Repository, GitError> {
    git2::Repository::open(path).map_err(|cause| {
        if cause.code() == ErrorCode::NotFound {
            GitError::NotARepository {
                path: path.to_path_buf(),
                cause,
            }
        } else {
            GitError::git("open the repository", path)(cause)
        }
    })
}
