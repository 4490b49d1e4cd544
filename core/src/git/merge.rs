//! Merging the result commits of a step's dependencies into its start commit.
//!
//! A step with several dependencies starts at one commit that contains all their
//! results. Commits already contained in another (ancestors) add nothing and are
//! dropped, so a chain `a -> b -> c` gives `c` itself, not a merge. The rest are merged
//! one by one in the order given into the merge of those before, as git's octopus
//! strategy does. When the two sides changed disjoint paths since their single merge
//! base (the usual case for independent steps) the merged tree is one side's tree
//! updated with the other side's changes, at a cost that does not grow with the tree;
//! otherwise libgit2's three-way merge decides (rename detection on, recursive virtual
//! base for criss-cross histories). Intermediate results are commits no reference
//! points at. The final commit has all remaining commits as parents, in the order
//! given.

use std::collections::{BTreeSet, HashMap, HashSet};

use super::signature::signature;
use super::tree_diff::{Side, diff_trees, update_tree};
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
        let mut seen = HashSet::with_capacity(commits.len());
        for &oid in commits {
            if seen.insert(oid) {
                repo.find_commit(oid)
                    .map_err(|cause| GitError::UnknownRevision {
                        rev: oid.to_string(),
                        path: workdir.to_path_buf(),
                        cause,
                    })?;
                unique.push(oid);
            }
        }

        if unique.len() > 2
            && let Some(merged) = octopus_disjoint(&repo, &unique, message)?
        {
            return Ok(merged);
        }
        // One pass: each commit is compared with the merge of the heads kept so far by
        // one merge-base computation (`merge_bases_many`: the bases of the commit and a
        // hypothetical merge of the heads), instead of every pair of commits. Kept heads
        // are never ancestors of one another, so a head that is an ancestor of the new
        // commit is exactly one of those bases. The merge so far is a tree; a commit for
        // it is written only when libgit2's recursive merge needs one (no single base).
        let find = |oid: git2::Oid| {
            repo.find_commit(oid)
                .map_err(GitError::git(format!("read commit {oid}"), workdir))
        };
        let tree_of = |oid: git2::Oid| {
            find(oid)?
                .tree()
                .map_err(GitError::git(format!("read the tree of {oid}"), workdir))
        };
        // Only needed when a commit is written (a single commit is returned as is).
        let mut author: Option<git2::Signature<'static>> = None;
        let mut heads: Vec<git2::Oid> = Vec::with_capacity(unique.len());
        let mut acc: Option<git2::Tree<'_>> = None;
        for &next in &unique {
            let Some(ours) = acc.as_ref() else {
                heads.push(next);
                acc = Some(tree_of(next)?);
                continue;
            };
            let mut inputs = Vec::with_capacity(heads.len() + 1);
            inputs.push(next);
            inputs.extend(&heads);
            let bases: Vec<git2::Oid> = match repo.merge_bases_many(&inputs) {
                Ok(bases) => bases.iter().copied().collect(),
                Err(error) if error.code() == git2::ErrorCode::NotFound => Vec::new(),
                Err(error) => {
                    return Err(GitError::git(
                        format!("find the merge bases of {next} and {} commits", heads.len()),
                        workdir,
                    )(error));
                }
            };
            if bases.contains(&next) {
                // Already contained in a kept head.
                continue;
            }
            heads.retain(|head| !bases.contains(head));
            if heads.is_empty() {
                // Every kept head is an ancestor of this commit.
                heads.push(next);
                acc = Some(tree_of(next)?);
                continue;
            }
            let theirs = tree_of(next)?;
            let merged =
                match bases.as_slice() {
                    [base] => {
                        let base = tree_of(*base)?;
                        match disjoint_merge(&repo, &base, ours, &theirs)? {
                            Some(tree) => tree,
                            None => {
                                let index = repo
                                    .merge_trees(&base, ours, &theirs, None)
                                    .map_err(GitError::git(format!("merge {next}"), workdir))?;
                                write_merged(&repo, index, workdir)?
                            }
                        }
                    }
                    _ => {
                        // No single base (criss-cross history, or none): libgit2 merges the
                        // commits with a recursive virtual base, so the merge so far becomes
                        // an unreferenced commit on the kept heads.
                        let author = match &author {
                            Some(author) => author,
                            None => author.insert(signature(&repo, workdir)?),
                        };
                        let parents = heads
                            .iter()
                            .map(|&oid| find(oid))
                            .collect::<Result<Vec<_>, _>>()?;
                        let parent_refs: Vec<&git2::Commit<'_>> = parents.iter().collect();
                        let so_far = match parent_refs.as_slice() {
                            [only] => (*only).clone(),
                            _ => find(
                                repo.commit(None, author, author, message, ours, &parent_refs)
                                    .map_err(GitError::git(
                                        "write an intermediate merge commit",
                                        workdir,
                                    ))?,
                            )?,
                        };
                        let index = repo.merge_commits(&so_far, &find(next)?, None).map_err(
                            GitError::git(format!("merge {} with {next}", so_far.id()), workdir),
                        )?;
                        write_merged(&repo, index, workdir)?
                    }
                };
            heads.push(next);
            acc = Some(
                repo.find_tree(merged)
                    .map_err(GitError::git("read the merged tree", workdir))?,
            );
        }
        let (Some(tree), [_, _, ..]) = (acc, heads.as_slice()) else {
            return heads.first().copied().ok_or(GitError::NothingToMerge);
        };
        let parents = heads
            .iter()
            .map(|&oid| find(oid))
            .collect::<Result<Vec<_>, _>>()?;
        let parent_refs: Vec<&git2::Commit<'_>> = parents.iter().collect();
        let author = match author {
            Some(author) => author,
            None => signature(&repo, workdir)?,
        };
        repo.commit(None, &author, &author, message, &tree, &parent_refs)
            .map_err(GitError::git("write the merge commit", workdir))
    }
}

/// Many commits at once (the results of independent steps), in time linear in the
/// number of commits and the changes they make: the common merge base of all of them
/// (`merge_base_octopus`), one revision walk from their parents down to that base to
/// drop the commits another one contains, then, when every remaining commit changed
/// paths no other one changed since the base (or changed them identically), the base's
/// tree with all their changes applied. That is the tree the pairwise three-way merges give. `Ok(None)` when the
/// shortcut does not apply (no common base, overlapping or file/directory changes, a
/// commit with no change of its own that is not the base); the caller merges pairwise.
///
/// Errors: [`GitError::Git`] when objects cannot be read or written.
fn octopus_disjoint(
    repo: &git2::Repository,
    commits: &[git2::Oid],
    message: &str,
) -> Result<Option<git2::Oid>, GitError> {
    let workdir = repo.workdir().unwrap_or_else(|| repo.path());
    let Ok(base) = repo.merge_base_octopus(commits) else {
        return Ok(None);
    };
    let find = |oid: git2::Oid| {
        repo.find_commit(oid)
            .map_err(GitError::git(format!("read commit {oid}"), workdir))
    };
    // Commits reachable from another commit's parents (but not from the base) are
    // contained in that commit; the base itself is contained in all.
    let mut walk = repo
        .revwalk()
        .map_err(GitError::git("walk the history", workdir))?;
    for &oid in commits {
        for parent in find(oid)?.parent_ids() {
            walk.push(parent)
                .map_err(GitError::git("walk the history", workdir))?;
        }
    }
    walk.hide(base)
        .map_err(GitError::git("walk the history", workdir))?;
    let mut contained: HashSet<git2::Oid> = HashSet::new();
    contained.insert(base);
    let wanted: HashSet<git2::Oid> = commits.iter().copied().collect();
    for oid in walk {
        let oid = oid.map_err(GitError::git("walk the history", workdir))?;
        if wanted.contains(&oid) {
            contained.insert(oid);
        }
    }
    let heads: Vec<git2::Oid> = commits
        .iter()
        .copied()
        .filter(|oid| !contained.contains(oid))
        .collect();
    match heads.as_slice() {
        [] => return Ok(Some(base)),
        [only] => return Ok(Some(*only)),
        _ => {}
    }
    let base_tree = find(base)?
        .tree()
        .map_err(GitError::git(format!("read the tree of {base}"), workdir))?;
    // Path -> (first commit changing it, its new entry). Commits that share history
    // (results of steps with a common dependency) make the same change to a path: that
    // is no conflict, the three-way merge keeps it too.
    let mut owner: HashMap<std::path::PathBuf, (usize, Side)> = HashMap::new();
    let mut removals = git2::build::TreeUpdateBuilder::new();
    let mut upserts = git2::build::TreeUpdateBuilder::new();
    for (position, &head) in heads.iter().enumerate() {
        let tree = find(head)?
            .tree()
            .map_err(GitError::git(format!("read the tree of {head}"), workdir))?;
        let changes = diff_trees(repo, &base_tree, &tree)
            .map_err(GitError::git("compare trees for a merge", workdir))?;
        if changes.is_empty() {
            // Same tree as the base but not the base: leave it to the pairwise merge.
            return Ok(None);
        }
        for change in changes {
            match owner.get(&change.path) {
                Some((_, entry)) if *entry == change.new => continue,
                Some(_) => return Ok(None),
                None => {
                    owner.insert(change.path.clone(), (position, change.new));
                }
            }
            match change.new {
                None => {
                    removals.remove(&change.path);
                }
                Some((_, git2::FileMode::BlobGroupWritable)) => return Ok(None),
                Some((id, mode)) => {
                    upserts.upsert(&change.path, id, mode);
                }
            }
        }
    }
    // A path of one commit must not lie below a changed path of another (a file that
    // became a directory on one side).
    for path in owner.keys() {
        let mut ancestor = path.parent();
        while let Some(dir) = ancestor.filter(|dir| !dir.as_os_str().is_empty()) {
            if owner.contains_key(dir) {
                return Ok(None);
            }
            ancestor = dir.parent();
        }
    }
    let tree = update_tree(repo, &base_tree, &mut removals, &mut upserts)
        .and_then(|tree| repo.find_tree(tree))
        .map_err(GitError::git("write the merged tree", workdir))?;
    let parents = heads
        .iter()
        .map(|&oid| find(oid))
        .collect::<Result<Vec<_>, _>>()?;
    let parent_refs: Vec<&git2::Commit<'_>> = parents.iter().collect();
    let author = signature(repo, workdir)?;
    repo.commit(None, &author, &author, message, &tree, &parent_refs)
        .map(Some)
        .map_err(GitError::git("write the merge commit", workdir))
}

/// Writes the tree of a merge result, or reports its conflicting paths.
fn write_merged(
    repo: &git2::Repository,
    mut index: git2::Index,
    workdir: &std::path::Path,
) -> Result<git2::Oid, GitError> {
    if index.has_conflicts() {
        return Err(GitError::MergeConflict {
            paths: conflict_paths(&index, workdir)?,
        });
    }
    index
        .write_tree_to(repo)
        .map_err(GitError::git("write the merged tree", workdir))
}

/// The three-way merge of trees `ours` and `theirs` with merge base `base` when the two
/// sides changed disjoint paths, computed without building a whole-tree index: the
/// changes from `base` to `theirs` (equal subtrees skipped by id, O(changed paths))
/// applied to `ours` with tree updates, O(changed paths x depth). This is the common case
/// when merging the results of independent steps, and it gives the tree libgit2's
/// three-way merge gives (each path changed on one side keeps that side's version).
/// `None` when the shortcut does not apply and the full merge must decide: a path
/// changed on both sides (even identically), a change under a path that the other side
/// made a file, or an unusual file mode.
///
/// Errors: [`GitError::Git`] when an object cannot be read or the tree written.
fn disjoint_merge(
    repo: &git2::Repository,
    base_tree: &git2::Tree<'_>,
    ours_tree: &git2::Tree<'_>,
    theirs_tree: &git2::Tree<'_>,
) -> Result<Option<git2::Oid>, GitError> {
    let workdir = repo.workdir().unwrap_or_else(|| repo.path());
    if theirs_tree.id() == base_tree.id() {
        return Ok(Some(ours_tree.id()));
    }
    if ours_tree.id() == base_tree.id() {
        return Ok(Some(theirs_tree.id()));
    }
    let changes = diff_trees(repo, base_tree, theirs_tree)
        .map_err(GitError::git("compare trees for a merge", workdir))?;
    let mut removals = git2::build::TreeUpdateBuilder::new();
    let mut upserts = git2::build::TreeUpdateBuilder::new();
    for change in changes {
        let path = change.path.as_path();
        // Ours must not have touched the path: same entry as the base, or absent in both.
        if entry_at(ours_tree, path) != entry_at(base_tree, path) {
            return Ok(None);
        }
        // Nor turned one of its directories into something else (a file where theirs
        // has a directory).
        let mut ancestor = path.parent();
        while let Some(dir) = ancestor.filter(|dir| !dir.as_os_str().is_empty()) {
            if let Some((_, mode)) = entry_at(ours_tree, dir)
                && mode != i32::from(git2::FileMode::Tree)
            {
                return Ok(None);
            }
            ancestor = dir.parent();
        }
        match change.new {
            None => {
                removals.remove(path);
            }
            Some((id, mode)) => {
                if mode == git2::FileMode::BlobGroupWritable {
                    return Ok(None);
                }
                upserts.upsert(path, id, mode);
            }
        }
    }
    update_tree(repo, ours_tree, &mut removals, &mut upserts)
        .map(Some)
        .map_err(GitError::git("write the merged tree", workdir))
}

/// The id and file mode of the entry at `path` in `tree`, `None` when there is none.
fn entry_at(tree: &git2::Tree<'_>, path: &std::path::Path) -> Option<(git2::Oid, i32)> {
    tree.get_path(path)
        .ok()
        .map(|entry| (entry.id(), entry.filemode()))
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
