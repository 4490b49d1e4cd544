//! What commits changed, for messages: the files a read_only step left changed, and which
//! steps' results touched the files of a merge conflict.
//!
//! Both compare whole trees with [`diff_trees`], which skips equal subtrees, so the cost
//! is the number of changed paths, not the size of the repository.

use std::collections::BTreeSet;

use super::tree_diff::diff_trees;
use super::{GitError, Repository};

/// A step's own change, as recorded in its checkpoint: the commit it started from and its
/// result commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepChange {
    /// The step id (how it is named in messages).
    pub step: String,
    /// The commit the step started from (its dependencies' merge).
    pub start: git2::Oid,
    /// Its result commit.
    pub result: git2::Oid,
}

/// One conflicting path and the steps whose own change touched it (in the order given).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ConflictingPath {
    /// Repository-relative path with `/` separators.
    pub path: String,
    /// Step ids; empty when no given step changed it (e.g. it differs from the run's
    /// base commit by a change made before the run).
    pub steps: Vec<String>,
}

impl Repository {
    /// The files that differ between commits `old` and `new`, sorted, each as
    /// `path (added)`, `path (deleted)` or `path (modified)`.
    ///
    /// Errors: [`GitError::UnknownRevision`] when either is not a commit,
    /// [`GitError::Git`] when a tree cannot be read.
    pub fn changed_between(&self, old: git2::Oid, new: git2::Oid) -> Result<Vec<String>, GitError> {
        let repo = self.git2()?;
        let old_tree = self.tree_of(&repo, old)?;
        let new_tree = self.tree_of(&repo, new)?;
        let changes = diff_trees(&repo, &old_tree, &new_tree).map_err(GitError::git(
            format!("compare {old} with {new}"),
            self.workdir(),
        ))?;
        Ok(changes
            .into_iter()
            .map(|c| {
                let how = match (c.old, c.new) {
                    (None, _) => "added",
                    (_, None) => "deleted",
                    _ => "modified",
                };
                format!("{} ({how})", c.path.to_string_lossy().replace('\\', "/"))
            })
            .collect())
    }

    /// For each of `paths`, the steps of `changes` whose own change (start -> result)
    /// touched it and whose result is one of `heads` or an ancestor of one (so only the
    /// steps whose work takes part in the merge of `heads` are named).
    ///
    /// Errors: [`GitError::Git`] when a commit or tree cannot be read.
    pub fn conflict_authors(
        &self,
        heads: &[git2::Oid],
        changes: &[StepChange],
        paths: &[String],
    ) -> Result<Vec<ConflictingPath>, GitError> {
        let repo = self.git2()?;
        let wanted: BTreeSet<&str> = paths.iter().map(String::as_str).collect();
        let mut out: Vec<ConflictingPath> = paths
            .iter()
            .map(|p| ConflictingPath {
                path: p.clone(),
                steps: Vec::new(),
            })
            .collect();
        for change in changes {
            let merged = heads.iter().any(|&h| {
                h == change.result || repo.graph_descendant_of(h, change.result).unwrap_or(false)
            });
            if !merged || change.start == change.result {
                continue;
            }
            let old = self.tree_of(&repo, change.start)?;
            let new = self.tree_of(&repo, change.result)?;
            let touched = diff_trees(&repo, &old, &new).map_err(GitError::git(
                format!("compare the result of step {}", change.step),
                self.workdir(),
            ))?;
            for t in touched {
                let path = t.path.to_string_lossy().replace('\\', "/");
                if wanted.contains(path.as_str())
                    && let Some(entry) = out.iter_mut().find(|e| e.path == path)
                    && !entry.steps.contains(&change.step)
                {
                    entry.steps.push(change.step.clone());
                }
            }
        }
        Ok(out)
    }

    fn tree_of<'r>(
        &self,
        repo: &'r git2::Repository,
        commit: git2::Oid,
    ) -> Result<git2::Tree<'r>, GitError> {
        repo.find_commit(commit)
            .and_then(|c| c.tree())
            .map_err(|cause| GitError::UnknownRevision {
                rev: commit.to_string(),
                path: self.workdir().to_path_buf(),
                cause,
            })
    }
}
