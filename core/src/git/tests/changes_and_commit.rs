//! `changed_paths` and `commit_worktree`.

use std::fs;

use super::fixture::{Fixture, commit_all, status, tree_paths, write};
use crate::git::{ChangeKind, ChangedPath, GitError, WorktreePool, changed_paths, commit_worktree};

fn change(path: &str, change: ChangeKind) -> ChangedPath {
    ChangedPath {
        path: path.to_string(),
        change,
    }
}

#[test]
fn changed_paths_reports_additions_modifications_and_deletions() {
    let fixture = Fixture::new();
    let pool = WorktreePool::new(fixture.repo.clone(), "run-1");
    let worktree = pool
        .acquire("a", "pipeline-steps/run-1/a", fixture.base)
        .expect("acquire");
    let path = worktree.path();
    assert_eq!(changed_paths(path, fixture.base).expect("clean"), vec![]);

    write(path, "src/a.txt", "modified\n");
    fs::remove_file(path.join("README.md")).expect("delete");
    write(path, "docs/new.md", "new\n");
    write(path, "target/out.bin", "ignored\n");
    write(path, "trace.log", "ignored\n");
    fs::rename(path.join("src/b.txt"), path.join("src/renamed.txt")).expect("rename");
    assert_eq!(
        changed_paths(path, fixture.base).expect("changes"),
        vec![
            change("README.md", ChangeKind::Deleted),
            change("docs/new.md", ChangeKind::Added),
            change("src/a.txt", ChangeKind::Modified),
            change("src/b.txt", ChangeKind::Deleted),
            change("src/renamed.txt", ChangeKind::Added),
        ]
    );
    // Listing changes does not stage anything on disk.
    assert!(status(path).contains("?? docs/new.md"), "{}", status(path));
}

#[test]
fn changed_paths_sees_mode_changes_and_commits_made_by_the_tool() {
    let fixture = Fixture::new();
    let pool = WorktreePool::new(fixture.repo.clone(), "run-1");
    let worktree = pool
        .acquire("a", "pipeline-steps/run-1/a", fixture.base)
        .expect("acquire");
    super::fixture::set_executable(&worktree.path().join("run.sh"), false);
    write(worktree.path(), "committed-by-tool.txt", "tool\n");
    let tool_repo = git2::Repository::open(worktree.path()).expect("open worktree");
    commit_all(&tool_repo, "tool's own commit");
    assert_eq!(
        changed_paths(worktree.path(), fixture.base).expect("changes"),
        vec![
            change("committed-by-tool.txt", ChangeKind::Added),
            change("run.sh", ChangeKind::Modified),
        ]
    );
}

#[test]
fn changed_paths_of_a_non_worktree_is_an_error() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let error = changed_paths(dir.path(), git2::Oid::ZERO_SHA1).expect_err("not a worktree");
    assert!(
        matches!(error, GitError::NotARepository { .. }),
        "{error:?}"
    );
}

#[test]
fn commit_without_changes_returns_the_parent() {
    let fixture = Fixture::new();
    let pool = WorktreePool::new(fixture.repo.clone(), "run-1");
    let worktree = pool
        .acquire("a", "pipeline-steps/run-1/a", fixture.base)
        .expect("acquire");
    write(worktree.path(), "target/ignored.bin", "ignored\n");
    let result = commit_worktree(worktree.path(), fixture.base, "nothing").expect("commit");
    assert_eq!(result, fixture.base);
    assert_eq!(
        fixture
            .repo
            .branch_target("pipeline-steps/run-1/a")
            .expect("read"),
        Some(fixture.base)
    );
}

#[test]
fn commit_records_additions_modifications_and_deletions() {
    let fixture = Fixture::new();
    let pool = WorktreePool::new(fixture.repo.clone(), "run-1");
    let worktree = pool
        .acquire("a", "pipeline-steps/run-1/a", fixture.base)
        .expect("acquire");
    let path = worktree.path();
    fs::remove_file(path.join("src/b.txt")).expect("delete");
    write(path, "src/a.txt", "modified\n");
    write(path, "new/file.txt", "new\n");
    write(path, "build.log", "ignored\n");
    let result = commit_worktree(path, fixture.base, "step a: did things").expect("commit");
    assert_ne!(result, fixture.base);

    let git = fixture.git2();
    let commit = git.find_commit(result).expect("commit");
    assert_eq!(commit.parent_ids().collect::<Vec<_>>(), vec![fixture.base]);
    assert_eq!(commit.message().ok(), Some("step a: did things"));
    assert_eq!(
        commit.author().name().ok(),
        Some("Test User"),
        "repository config is used"
    );
    assert_eq!(
        tree_paths(&git, result),
        vec![
            ".gitignore",
            "README.md",
            "new/file.txt",
            "run.sh",
            "src/a.txt"
        ]
    );
    assert_eq!(
        fixture
            .repo
            .branch_target("pipeline-steps/run-1/a")
            .expect("read"),
        Some(result)
    );
    assert_eq!(
        status(path),
        "!! build.log\n",
        "only the ignored file is left outside the commit"
    );
}

#[test]
fn commit_folds_the_tool_own_commits_onto_the_parent() {
    let fixture = Fixture::new();
    let pool = WorktreePool::new(fixture.repo.clone(), "run-1");
    let worktree = pool
        .acquire("a", "pipeline-steps/run-1/a", fixture.base)
        .expect("acquire");
    write(worktree.path(), "one.txt", "1\n");
    let tool_repo = git2::Repository::open(worktree.path()).expect("open worktree");
    commit_all(&tool_repo, "tool commit 1");
    write(worktree.path(), "two.txt", "2\n");
    let result = commit_worktree(worktree.path(), fixture.base, "step a").expect("commit");
    let git = fixture.git2();
    let commit = git.find_commit(result).expect("commit");
    assert_eq!(commit.parent_ids().collect::<Vec<_>>(), vec![fixture.base]);
    let paths = tree_paths(&git, result);
    assert!(paths.contains(&"one.txt".to_string()) && paths.contains(&"two.txt".to_string()));
    assert_eq!(status(worktree.path()), "");
}

#[test]
fn commit_uses_the_default_signature_without_user_config() {
    let fixture = Fixture::new();
    {
        let mut config = fixture.git2().config().expect("config");
        let mut local = config
            .open_level(git2::ConfigLevel::Local)
            .expect("local config");
        local.remove("user.name").expect("unset user.name");
        local.remove("user.email").expect("unset user.email");
        drop(local);
        // Shadow any global identity of the machine running the tests.
        config.set_str("user.name", "").expect("blank user.name");
        config.set_str("user.email", "").expect("blank user.email");
    }
    let pool = WorktreePool::new(fixture.repo.clone(), "run-1");
    let worktree = pool
        .acquire("a", "pipeline-steps/run-1/a", fixture.base)
        .expect("acquire");
    write(worktree.path(), "x.txt", "x\n");
    let result = commit_worktree(worktree.path(), fixture.base, "x").expect("commit");
    let git = fixture.git2();
    let commit = git.find_commit(result).expect("commit");
    assert_eq!(commit.author().name().ok(), Some("pipeline"));
    assert_eq!(commit.author().email().ok(), Some("pipeline@localhost"));
}

#[test]
fn commit_on_a_detached_head_is_refused() {
    let fixture = Fixture::new();
    let pool = WorktreePool::new(fixture.repo.clone(), "run-1");
    let worktree = pool
        .acquire("a", "pipeline-steps/run-1/a", fixture.base)
        .expect("acquire");
    let repo = git2::Repository::open(worktree.path()).expect("open");
    repo.set_head_detached(fixture.base).expect("detach");
    write(worktree.path(), "x.txt", "x\n");
    let error = commit_worktree(worktree.path(), fixture.base, "x").expect_err("detached");
    assert!(matches!(error, GitError::DetachedHead { .. }), "{error:?}");
}

#[test]
fn untracked_nested_repositories_are_neither_reported_nor_committed() {
    let fixture = Fixture::new();
    let pool = WorktreePool::new(fixture.repo.clone(), "run-1");
    let worktree = pool
        .acquire("a", "pipeline-steps/run-1/a", fixture.base)
        .expect("acquire");
    let nested = worktree.path().join("vendor/clone");
    let nested_repo = git2::Repository::init(&nested).expect("nested git init");
    write(&nested, "lib.txt", "vendored\n");
    commit_all(&nested_repo, "nested commit");
    write(worktree.path(), "plain.txt", "plain\n");
    assert_eq!(
        changed_paths(worktree.path(), fixture.base).expect("changes"),
        vec![change("plain.txt", ChangeKind::Added)]
    );
    let result = commit_worktree(worktree.path(), fixture.base, "a").expect("commit");
    let paths = tree_paths(&fixture.git2(), result);
    assert!(paths.contains(&"plain.txt".to_string()), "{paths:?}");
    assert!(
        !paths.iter().any(|path| path.starts_with("vendor")),
        "{paths:?}"
    );
}

#[test]
fn staging_once_commits_the_same_tree_as_commit_worktree() {
    let fixture = Fixture::new();
    let pool = WorktreePool::new(fixture.repo.clone(), "run-1");
    let a = pool
        .acquire("a", "pipeline-steps/run-1/a", fixture.base)
        .expect("acquire a");
    let b = pool
        .acquire("b", "pipeline-steps/run-1/b", fixture.base)
        .expect("acquire b");
    for wt in [a.path(), b.path()] {
        write(wt, "src/a.txt", "modified\n");
        fs::remove_file(wt.join("README.md")).expect("delete");
        write(wt, "docs/new.md", "new\n");
        write(wt, "target/out.bin", "ignored\n");
    }
    let staged = crate::git::stage_changes(a.path(), fixture.base).expect("stage");
    assert_eq!(
        staged.changes,
        vec![
            change("README.md", ChangeKind::Deleted),
            change("docs/new.md", ChangeKind::Added),
            change("src/a.txt", ChangeKind::Modified),
        ]
    );
    let via_staged =
        crate::git::commit_staged(a.path(), fixture.base, &staged, "a").expect("commit staged");
    let via_worktree = commit_worktree(b.path(), fixture.base, "b").expect("commit worktree");
    let repo = git2::Repository::open(fixture.repo.workdir()).expect("open");
    let tree = |oid| repo.find_commit(oid).expect("commit").tree_id();
    assert_eq!(tree(via_staged), tree(via_worktree));
    assert_eq!(
        status(a.path()),
        status(b.path()),
        "the same state as after commit_worktree"
    );
    assert!(
        !status(a.path()).lines().any(|l| !l.starts_with("!!")),
        "only ignored files remain"
    );
    // Nothing changed: the parent is the result, as with commit_worktree.
    let c = pool
        .acquire("c", "pipeline-steps/run-1/c", fixture.base)
        .expect("acquire c");
    let empty = crate::git::stage_changes(c.path(), fixture.base).expect("stage nothing");
    assert!(empty.changes.is_empty());
    assert_eq!(
        crate::git::commit_staged(c.path(), fixture.base, &empty, "c").expect("commit"),
        fixture.base
    );
}
