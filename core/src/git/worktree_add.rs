//! Adding a new linked worktree, laid out exactly as `git worktree add` lays it out.
//!
//! libgit2's `git_worktree_add` is not used because it checks "is this branch checked
//! out anywhere" by opening every registered worktree, and treats any failure to open
//! one as "checked out": while another thread of the pool moves a worktree directory
//! (rename, then rewrite of its `gitdir` file) that check fails spuriously. Writing the
//! few admin files ourselves avoids the scan; the pool checks branch ownership itself
//! from the `HEAD` files, under its lock.
//!
//! Files are written so that the admin directory only becomes a complete worktree for
//! git and libgit2 (`commondir`, `gitdir` and `HEAD` all present) once `HEAD`, written
//! last, appears. Then libgit2 checks out `HEAD` into the empty directory; with no
//! index on disk yet, that is an initial checkout of the whole tree.

use std::fs;
use std::path::Path;

use git2::build::CheckoutBuilder;

use super::repository::open_worktree;
use super::worktree_admin::{admin_root, write_gitdir};
use super::worktree_removal::remove_tree;
use super::{GitError, Repository};

/// Creates worktree `name` at `dir` (which must not exist; its parent must) with
/// `HEAD` on `refname` (e.g. `refs/heads/x`, which must already point at a commit) and
/// checks that commit out. On failure, whatever was created is removed again.
///
/// Errors: [`GitError::Io`] (e.g. the admin directory or `dir` already exists),
/// [`GitError::Git`] when the checkout fails.
pub(crate) fn add_worktree(
    repo: &Repository,
    name: &str,
    dir: &Path,
    refname: &str,
) -> Result<(), GitError> {
    let registry = admin_root(repo);
    fs::create_dir_all(&registry).map_err(GitError::io("create directory", &registry))?;
    let admin = registry.join(name);
    fs::create_dir(&admin).map_err(GitError::io("create worktree admin directory", &admin))?;
    let result = write_and_check_out(&admin, dir, refname);
    if result.is_err() {
        // Best effort: the half-made worktree is garbage; the first error is what matters.
        let _ = remove_tree(dir);
        let _ = remove_tree(&admin);
    }
    result
}

fn write_and_check_out(admin: &Path, dir: &Path, refname: &str) -> Result<(), GitError> {
    fs::create_dir(dir).map_err(GitError::io("create worktree directory", dir))?;
    let commondir = admin.join("commondir");
    fs::write(&commondir, "../..\n").map_err(GitError::io("write", &commondir))?;
    write_gitdir(admin, dir)?;
    let admin_path = fs::canonicalize(admin).map_err(GitError::io("resolve the path of", admin))?;
    let link = dir.join(".git");
    fs::write(&link, format!("gitdir: {}\n", admin_path.display()))
        .map_err(GitError::io("write", &link))?;
    let head = admin.join("HEAD");
    let head_temporary = admin.join("HEAD.pipeline-tmp");
    fs::write(&head_temporary, format!("ref: {refname}\n"))
        .map_err(GitError::io("write", &head_temporary))?;
    fs::rename(&head_temporary, &head).map_err(GitError::io("replace", &head))?;

    let worktree = open_worktree(dir)?;
    let mut checkout = CheckoutBuilder::new();
    checkout.force().recreate_missing(true);
    worktree
        .checkout_head(Some(&mut checkout))
        .map_err(GitError::git(format!("check out `{refname}`"), dir))
}
