//! Branches the engine owns: step branches (`pipeline-steps/<run>/<step>`) and the
//! run's result branch (`pipeline/<run>`).
//!
//! Names are taken as given (the engine decides them); this file only checks that git
//! accepts them. Branches are written as plain references, which unlike
//! `git branch -f` does not refuse to move a branch that some worktree has checked
//! out; callers that care check [`checked_out_at`](super::worktree_admin::checked_out_at)
//! first, as the worktree pool does.

use git2::ErrorCode;

use super::{GitError, Repository};

impl Repository {
    /// Creates branch `name` at `target`, or moves it there if it exists (force).
    ///
    /// Errors: [`GitError::InvalidBranchName`], [`GitError::Git`] (e.g. `target` is not
    /// in the repository, or a lock file is held by another process).
    pub fn set_branch(&self, name: &str, target: git2::Oid) -> Result<(), GitError> {
        let refname = branch_refname(name)?;
        let repo = self.git2()?;
        repo.reference(&refname, target, true, "pipeline: set branch")
            .map_err(GitError::git(
                format!("set branch `{name}` to {target}"),
                self.workdir(),
            ))?;
        // The run's result branch under `--durability full`: its new directories too.
        super::durable_writes::sync_new_directories(&repo, &refname)?;
        Ok(())
    }

    /// Deletes branch `name`; a branch that does not exist is not an error.
    ///
    /// Errors: [`GitError::InvalidBranchName`], [`GitError::BranchCheckedOut`] when a
    /// worktree has it checked out, [`GitError::Git`].
    pub fn delete_branch(&self, name: &str) -> Result<(), GitError> {
        let refname = branch_refname(name)?;
        if let Some(path) = super::worktree_admin::checked_out_at(self, &refname)? {
            return Err(GitError::BranchCheckedOut {
                branch: name.to_string(),
                path,
            });
        }
        let repo = self.git2()?;
        let mut reference = match repo.find_reference(&refname) {
            Ok(reference) => reference,
            Err(cause) if cause.code() == ErrorCode::NotFound => return Ok(()),
            Err(cause) => {
                return Err(GitError::git(
                    format!("read branch `{name}`"),
                    self.workdir(),
                )(cause));
            }
        };
        reference.delete().map_err(GitError::git(
            format!("delete branch `{name}`"),
            self.workdir(),
        ))
    }

    /// The names (without `refs/heads/`) of the branches whose name starts with `prefix`
    /// (e.g. `pipeline-steps/<run>/`), sorted.
    ///
    /// Errors: [`GitError::Git`].
    pub fn branches_with_prefix(&self, prefix: &str) -> Result<Vec<String>, GitError> {
        let repo = self.git2()?;
        let glob = format!("refs/heads/{prefix}*");
        let mut names: Vec<String> = repo
            .references_glob(&glob)
            .map_err(GitError::git(
                format!("list branches `{prefix}*`"),
                self.workdir(),
            ))?
            .filter_map(Result::ok)
            .filter_map(|r| {
                r.name()
                    .ok()
                    .and_then(|n| n.strip_prefix("refs/heads/"))
                    .map(str::to_string)
            })
            .collect();
        names.sort();
        Ok(names)
    }

    /// Deletes every branch whose name starts with `prefix` (e.g. `pipeline-steps/<run>/`)
    /// and returns how many. Branches checked out in a worktree are skipped.
    ///
    /// Errors: [`GitError::Git`].
    pub fn delete_branches_with_prefix(&self, prefix: &str) -> Result<usize, GitError> {
        let names = self.branches_with_prefix(prefix)?;
        let mut deleted = 0;
        for name in names {
            match self.delete_branch(&name) {
                Ok(()) => deleted += 1,
                Err(GitError::BranchCheckedOut { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(deleted)
    }

    /// Removes `.lock` files left beside run `run_id`'s branches (`pipeline-steps/<run>/...`
    /// and `pipeline/<run>`) by a process killed while updating them; git and libgit2
    /// refuse to update a ref whose lock file exists. Only call this while holding the
    /// run's lock (no other process may be writing these refs). Returns how many were
    /// removed.
    ///
    /// Errors: [`GitError::Io`] when a lock file cannot be removed.
    pub fn remove_stale_ref_locks(&self, run_id: &str) -> Result<usize, GitError> {
        let heads = self.commondir().join("refs").join("heads");
        let mut removed = 0;
        let mut pending = vec![heads.join("pipeline-steps").join(run_id)];
        let mut locks = vec![heads.join("pipeline").join(format!("{run_id}.lock"))];
        while let Some(dir) = pending.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                if path.is_dir() {
                    pending.push(path);
                } else if path.extension().is_some_and(|e| e == "lock") {
                    locks.push(path);
                }
            }
        }
        for lock in locks {
            match std::fs::remove_file(&lock) {
                Ok(()) => {
                    tracing::warn!(path = %lock.display(), "removed a stale ref lock left by a killed process");
                    removed += 1;
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(GitError::io("remove", &lock)(e)),
            }
        }
        Ok(removed)
    }

    /// The commit branch `name` points at, or `None` when there is no such branch.
    ///
    /// Errors: [`GitError::InvalidBranchName`], [`GitError::Git`].
    pub fn branch_target(&self, name: &str) -> Result<Option<git2::Oid>, GitError> {
        let refname = branch_refname(name)?;
        let repo = self.git2()?;
        let reference = match repo.find_reference(&refname) {
            Ok(reference) => reference,
            Err(cause) if cause.code() == ErrorCode::NotFound => return Ok(None),
            Err(cause) => {
                return Err(GitError::git(
                    format!("read branch `{name}`"),
                    self.workdir(),
                )(cause));
            }
        };
        let resolved = reference.resolve().map_err(GitError::git(
            format!("resolve branch `{name}`"),
            self.workdir(),
        ))?;
        Ok(resolved.target())
    }
}

/// `refs/heads/<name>`, after checking that git accepts it as a branch reference.
///
/// Errors: [`GitError::InvalidBranchName`].
pub(crate) fn branch_refname(name: &str) -> Result<String, GitError> {
    let refname = format!("refs/heads/{name}");
    if name.is_empty() || !git2::Reference::is_valid_name(&refname) {
        return Err(GitError::InvalidBranchName {
            name: name.to_string(),
        });
    }
    Ok(refname)
}
