//! Merging the result commits of a step's dependencies into its start commit.
//!
//! A step with several dependencies starts at one commit that contains all their
//! results. Commits already contained in another (ancestors) add nothing and are
//! dropped, so a chain `a -> b -> c` gives `c` itself, not a merge. The rest are merged
//! pairwise in the order given, as git's octopus strategy does, each pair by libgit2's
//! three-way merge (rename detection on, recursive virtual base for criss-cross
//! histories); intermediate results are commits no reference points at. The final
//! commit has all remaining commits as parents, in the order given.

use std::collections::BTreeSet;

use super::signature::signature;
use super::{GitError, Repository};

impl Repository {
    /// The commit to start from when building on all of `commits`:
    /// * duplicates and commits that are ancestors of another commit in the set are
    ///   dropped (first occurrence order kept);
    /// * one commit left: that commit, nothing is written;
    /// * else a new merge commit (message `message`, signature as in
    ///   [`commit_worktree`](super::commit_worktree)) whose tree merges them all and whose
    ///   parents are the remaining commits in the order given. No branch is moved.
    ///
    /// Errors: [`GitError::NothingToMerge`] for an empty slice,
    /// [`GitError::UnknownRevision`] for an id that is not a commit,
    /// [`GitError::MergeConflict`] with the conflicting paths (sorted, unique) of the
    /// first pair that conflicts, [`GitError::Git`].
    pub fn merge_commits(
        &self,
        commits: &[git2::Oid],
        message: &str,
    ) -> Result<git2::Oid, GitError> {
        let repo = self.git2()?;
        let workdir = self.workdir();
        let mut unique: Vec<git2::Oid> = Vec::with_capacity(commits.len());
        for &oid in commits {
            if !unique.contains(&oid) {
                repo.find_commit(oid)
                    .map_err(|cause| GitError::UnknownRevision {
                        rev: oid.to_string(),
                        path: workdir.to_path_buf(),
                        cause,
                    })?;
                unique.push(oid);
            }
        }

        let mut heads = Vec::with_capacity(unique.len());
        for &candidate in &unique {
            let mut contained = false;
            for &other in &unique {
                if other != candidate
                    && repo
                        .graph_descendant_of(other, candidate)
                        .map_err(GitError::git(
                            format!("compare the histories of {other} and {candidate}"),
                            workdir,
                        ))?
                {
                    contained = true;
                    break;
                }
            }
            if !contained {
                heads.push(candidate);
            }
        }

        let (first, rest) = match heads.as_slice() {
            [] => return Err(GitError::NothingToMerge),
            [only] => return Ok(*only),
            [first, rest @ ..] => (*first, rest),
        };
        let find = |oid: git2::Oid| {
            repo.find_commit(oid)
                .map_err(GitError::git(format!("read commit {oid}"), workdir))
        };
        let author = signature(&repo, workdir)?;
        let mut ours = find(first)?;
        let mut merged_tree = None;
        for (position, &next) in rest.iter().enumerate() {
            let theirs = find(next)?;
            let mut index = repo
                .merge_commits(&ours, &theirs, None)
                .map_err(GitError::git(
                    format!("merge {} with {next}", ours.id()),
                    workdir,
                ))?;
            if index.has_conflicts() {
                return Err(GitError::MergeConflict {
                    paths: conflict_paths(&index, workdir)?,
                });
            }
            let tree_id = index
                .write_tree_to(&repo)
                .map_err(GitError::git("write the merged tree", workdir))?;
            let tree = repo
                .find_tree(tree_id)
                .map_err(GitError::git("read the merged tree", workdir))?;
            if position + 1 < rest.len() {
                // An unreferenced intermediate commit, so the next pair's merge base
                // is computed over the real history.
                let intermediate = repo
                    .commit(None, &author, &author, message, &tree, &[&ours, &theirs])
                    .map_err(GitError::git("write an intermediate merge commit", workdir))?;
                ours = find(intermediate)?;
            }
            merged_tree = Some(tree);
        }
        let Some(tree) = merged_tree else {
            return Err(GitError::NothingToMerge);
        };
        let parents = heads
            .iter()
            .map(|&oid| find(oid))
            .collect::<Result<Vec<_>, _>>()?;
        let parent_refs: Vec<&git2::Commit<'_>> = parents.iter().collect();
        repo.commit(None, &author, &author, message, &tree, &parent_refs)
            .map_err(GitError::git("write the merge commit", workdir))
    }
}

/// Paths with a conflict entry in a merge index, `/`-separated, sorted and unique.
fn conflict_paths(index: &git2::Index, workdir: &std::path::Path) -> Result<Vec<String>, GitError> {
    let mut paths = BTreeSet::new();
    let conflicts = index
        .conflicts()
        .map_err(GitError::git("list merge conflicts", workdir))?;
    for conflict in conflicts {
        let conflict = conflict.map_err(GitError::git("read a merge conflict", workdir))?;
        for entry in [conflict.ancestor, conflict.our, conflict.their]
            .into_iter()
            .flatten()
        {
            paths.insert(String::from_utf8_lossy(&entry.path).into_owned());
        }
    }
    Ok(paths.into_iter().collect())
}
