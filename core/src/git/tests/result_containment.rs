//! What staging reports about a result that may not be committed as it is: symlinks
//! resolving outside the repository and nested git repositories, whether the worktree
//! is walked or only its touched paths are looked at.

use std::os::unix::fs::symlink;
use std::path::Path;

use super::fixture::{Fixture, git_cli, write};
use crate::git::{
    EscapingLink, LinkEscape, StagedChanges, WorktreePool, stage_changes, stage_worktree_changes,
};

/// A fixture repository (`.pipeline/` excluded) and the pool of its run `run-1`.
fn pooled() -> (Fixture, WorktreePool) {
    let fixture = Fixture::new();
    fixture.repo.ensure_excluded(".pipeline/").expect("exclude");
    let pool = WorktreePool::new(fixture.repo.clone(), "run-1");
    (fixture, pool)
}

/// Stages `worktree` both ways (walk, touched paths) and checks they agree on what they
/// report; returns the staging by touched paths.
fn stage_both(worktree: &crate::git::Worktree, base: git2::Oid) -> StagedChanges {
    let walked = stage_changes(worktree.path(), base).expect("stage by a walk");
    let tracked = stage_worktree_changes(worktree.path(), worktree.tracker(), base)
        .expect("stage the touched paths");
    assert_eq!(tracked.nested_repositories, walked.nested_repositories);
    assert_eq!(tracked.escaping_links, walked.escaping_links);
    assert_eq!(tracked.tree, walked.tree);
    tracked
}

fn escaping(path: &str, target: &str, reason: LinkEscape) -> EscapingLink {
    EscapingLink {
        path: path.into(),
        target: target.into(),
        reason,
    }
}

#[test]
fn symlinks_that_leave_the_repository_are_reported_with_their_targets() {
    let (fixture, pool) = pooled();
    let worktree = pool
        .acquire("a", "pipeline-steps/run-1/a", fixture.base)
        .expect("acquire");
    let wt = worktree.path();
    let outside = fixture.path.parent().expect("parent").join("outside.txt");
    std::fs::create_dir_all(wt.join("s")).expect("mkdir");
    symlink(&outside, wt.join("s/outfile")).expect("link");
    symlink("/etc/passwd", wt.join("passwd")).expect("link");
    symlink("../.git/config", wt.join("s/config")).expect("link");
    symlink("../../up", wt.join("s/up")).expect("link");
    symlink(".git/hooks/post-checkout", wt.join("hook")).expect("link");
    // Inside: fine, whether or not the target exists.
    symlink("src/a.txt", wt.join("a-link")).expect("link");
    symlink("b/c", wt.join("dangling")).expect("link");
    symlink("../README.md", wt.join("s/readme")).expect("link");

    let staged = stage_both(&worktree, fixture.base);
    assert_eq!(
        staged.escaping_links,
        vec![
            escaping("hook", ".git/hooks/post-checkout", LinkEscape::IntoGitDir),
            escaping("passwd", "/etc/passwd", LinkEscape::Absolute),
            escaping("s/config", "../.git/config", LinkEscape::IntoGitDir),
            escaping(
                "s/outfile",
                &outside.to_string_lossy(),
                LinkEscape::Absolute
            ),
            escaping("s/up", "../../up", LinkEscape::LeavesRepository),
        ]
    );
    // The links are staged all the same: the engine decides.
    assert!(
        staged.changes.iter().any(|c| c.path == "s/outfile"),
        "{:?}",
        staged.changes
    );
    let text = staged.violations(|p| p == "s/outfile").expect("violations");
    assert!(!text.contains("s/outfile"), "{text}");
    assert!(
        text.contains("passwd -> /etc/passwd (absolute target)"),
        "{text}"
    );
}

#[test]
fn a_link_escaping_through_another_link_of_the_result_is_reported() {
    let (fixture, pool) = pooled();
    let worktree = pool
        .acquire("a", "pipeline-steps/run-1/a", fixture.base)
        .expect("acquire");
    let wt = worktree.path();
    std::fs::create_dir_all(wt.join("x/y")).expect("mkdir");
    std::fs::create_dir_all(wt.join("z")).expect("mkdir");
    symlink("../../z", wt.join("x/y/d")).expect("link");
    symlink("d/../../../etc", wt.join("x/y/e")).expect("link");
    let staged = stage_both(&worktree, fixture.base);
    assert_eq!(
        staged.escaping_links,
        vec![escaping(
            "x/y/e",
            "d/../../../etc",
            LinkEscape::LeavesRepository
        )]
    );
}

#[test]
fn a_nested_repository_the_step_created_is_reported_and_not_staged() {
    let (fixture, pool) = pooled();
    let worktree = pool
        .acquire("a", "pipeline-steps/run-1/a", fixture.base)
        .expect("acquire");
    let wt = worktree.path();
    git_cli(wt, &["init", "--quiet", "nested"]);
    write(&wt.join("nested"), "inner.txt", "inner\n");
    std::fs::create_dir_all(wt.join("vendor")).expect("mkdir");
    git2::Repository::init(wt.join("vendor/clone")).expect("git init");
    write(&wt.join("vendor/clone"), "lib.txt", "vendored\n");
    // A repository with no files at all holds nothing to lose: like an empty
    // directory, it is not in the result and not reported.
    git2::Repository::init(wt.join("empty")).expect("git init");
    write(wt, "plain.txt", "plain\n");
    let staged = stage_both(&worktree, fixture.base);
    let mut nested = staged.nested_repositories.clone();
    nested.sort();
    assert_eq!(nested, vec!["nested", "vendor/clone"]);
    let paths: Vec<&str> = staged.changes.iter().map(|c| c.path.as_str()).collect();
    assert_eq!(paths, vec!["plain.txt"]);
    let text = staged.violations(|_| true).expect("violations");
    assert!(text.starts_with("nested git repositories: "), "{text}");
}

#[test]
fn a_submodule_of_the_base_is_not_a_new_nested_repository() {
    let fixture = Fixture::new();
    fixture.repo.ensure_excluded(".pipeline/").expect("exclude");
    // A base commit with a gitlink `sub` (a submodule entry; its repository is not
    // needed for the tree).
    let git = fixture.git2();
    let mut index = git.index().expect("index");
    let entry = git2::IndexEntry {
        ctime: git2::IndexTime::new(0, 0),
        mtime: git2::IndexTime::new(0, 0),
        dev: 0,
        ino: 0,
        mode: 0o160000,
        uid: 0,
        gid: 0,
        file_size: 0,
        id: fixture.base,
        flags: 0,
        flags_extended: 0,
        path: b"sub".to_vec(),
    };
    index.add(&entry).expect("add the gitlink");
    index.write().expect("write index");
    let tree = git
        .find_tree(index.write_tree().expect("tree"))
        .expect("tree");
    let parent = git.find_commit(fixture.base).expect("base");
    let signature = git2::Signature::now("Test User", "test@example.com").expect("sig");
    let base = git
        .commit(
            Some("HEAD"),
            &signature,
            &signature,
            "submodule",
            &tree,
            &[&parent],
        )
        .expect("commit");
    let pool = WorktreePool::new(fixture.repo.clone(), "run-1");
    let worktree = pool
        .acquire("a", "pipeline-steps/run-1/a", base)
        .expect("acquire");
    let wt = worktree.path();
    // What `git submodule update` would leave: a repository in the submodule's place.
    git2::Repository::init(wt.join("sub")).expect("git init in the submodule");
    write(&wt.join("sub"), "inside.txt", "x\n");
    let staged = stage_both(&worktree, base);
    assert_eq!(staged.nested_repositories, Vec::<String>::new());
    assert_eq!(staged.violations(|_| false), None);
    assert!(Path::new(&wt.join("sub/.git")).exists());
}
