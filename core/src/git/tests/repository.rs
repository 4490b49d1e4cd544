//! `Repository`: opening, resolving revisions, excludes, branches.

use std::fs;

use super::fixture::{Fixture, write};
use crate::git::{GitError, Repository};

#[test]
fn open_discovers_the_repository_from_a_subdirectory() {
    let fixture = Fixture::new();
    let repo = Repository::open(&fixture.path.join("src")).expect("open from src/");
    assert_eq!(repo.workdir(), fixture.path);
    assert_eq!(repo.commondir(), fixture.path.join(".git"));
}

#[test]
fn open_outside_a_repository_suggests_git_init() {
    let dir = tempfile::tempdir().expect("temporary directory");
    // A ceiling is not settable through Repository::open; a fresh temporary directory
    // is not inside a repository on any sane test machine.
    let error = Repository::open(dir.path()).expect_err("not a repository");
    assert!(
        matches!(error, GitError::NotARepository { .. }),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(message.contains("git init"), "{message}");
    assert!(
        message.contains(&dir.path().display().to_string()),
        "{message}"
    );
}

#[test]
fn open_refuses_a_bare_repository() {
    let dir = tempfile::tempdir().expect("temporary directory");
    git2::Repository::init_bare(dir.path()).expect("git init --bare");
    let error = Repository::open(dir.path()).expect_err("bare");
    assert!(
        matches!(error, GitError::BareRepository { .. }),
        "{error:?}"
    );
}

#[test]
fn resolve_commit_accepts_head_branches_and_hex() {
    let fixture = Fixture::new();
    let repo = &fixture.repo;
    assert_eq!(repo.resolve_commit("HEAD").expect("HEAD"), fixture.base);
    let head_branch = fixture
        .git2()
        .head()
        .expect("head")
        .shorthand()
        .expect("branch name")
        .to_string();
    assert_eq!(
        repo.resolve_commit(&head_branch).expect("branch"),
        fixture.base
    );
    let hex = fixture.base.to_string();
    assert_eq!(repo.resolve_commit(&hex).expect("full hex"), fixture.base);
    assert_eq!(
        repo.resolve_commit(&hex[..10]).expect("short hex"),
        fixture.base
    );
}

#[test]
fn resolve_commit_names_an_unknown_revision() {
    let fixture = Fixture::new();
    let error = fixture
        .repo
        .resolve_commit("no-such-branch")
        .expect_err("unknown");
    assert!(matches!(error, GitError::UnknownRevision { ref rev, .. } if rev == "no-such-branch"));
    assert!(error.to_string().contains("no-such-branch"));
}

#[test]
fn resolve_commit_refuses_a_blob() {
    let fixture = Fixture::new();
    let error = fixture
        .repo
        .resolve_commit("HEAD:README.md")
        .expect_err("a blob is not a commit");
    assert!(
        matches!(error, GitError::NotACommit { ref kind, .. } if kind == "blob"),
        "{error:?}"
    );
}

#[test]
fn resolve_commit_in_an_empty_repository_asks_for_an_initial_commit() {
    let dir = tempfile::tempdir().expect("temporary directory");
    git2::Repository::init(dir.path()).expect("git init");
    let repo = Repository::open(dir.path()).expect("open");
    let error = repo.resolve_commit("HEAD").expect_err("no commits");
    assert!(matches!(error, GitError::NoCommits { .. }), "{error:?}");
    assert!(error.to_string().contains("initial commit"));
}

#[test]
fn ensure_excluded_appends_once() {
    let fixture = Fixture::new();
    let exclude = fixture.path.join(".git/info/exclude");
    fs::write(&exclude, "# comment without newline").expect("seed exclude");
    fixture.repo.ensure_excluded(".pipeline/").expect("first");
    fixture.repo.ensure_excluded(".pipeline/").expect("second");
    let text = fs::read_to_string(&exclude).expect("read exclude");
    assert_eq!(text, "# comment without newline\n.pipeline/\n");
    // And git honours it.
    write(&fixture.path, ".pipeline/state.db", "x");
    let status = super::fixture::git_cli(&fixture.path, &["status", "--porcelain"]);
    assert!(!status.contains(".pipeline"), "{status}");
}

#[test]
fn branches_are_created_moved_read_and_deleted() {
    let fixture = Fixture::new();
    let repo = &fixture.repo;
    assert_eq!(repo.branch_target("pipeline/run-1").expect("read"), None);
    repo.set_branch("pipeline/run-1", fixture.base)
        .expect("create");
    assert_eq!(
        repo.branch_target("pipeline/run-1").expect("read"),
        Some(fixture.base)
    );

    let git = fixture.git2();
    write(&fixture.path, "new.txt", "new\n");
    let second = super::fixture::commit_all(&git, "second");
    repo.set_branch("pipeline/run-1", second)
        .expect("force-move");
    assert_eq!(
        repo.branch_target("pipeline/run-1").expect("read"),
        Some(second)
    );

    repo.delete_branch("pipeline/run-1").expect("delete");
    assert_eq!(repo.branch_target("pipeline/run-1").expect("read"), None);
    repo.delete_branch("pipeline/run-1")
        .expect("deleting an absent branch is fine");

    let error = repo
        .set_branch("bad..name", fixture.base)
        .expect_err("invalid");
    assert!(
        matches!(error, GitError::InvalidBranchName { .. }),
        "{error:?}"
    );
}

#[test]
fn delete_branch_refuses_a_checked_out_branch() {
    let fixture = Fixture::new();
    let head = fixture
        .git2()
        .head()
        .expect("head")
        .shorthand()
        .expect("name")
        .to_string();
    let error = fixture.repo.delete_branch(&head).expect_err("checked out");
    assert!(
        matches!(error, GitError::BranchCheckedOut { .. }),
        "{error:?}"
    );
    assert_eq!(
        fixture.repo.branch_target(&head).expect("read"),
        Some(fixture.base)
    );
}

#[test]
fn commit_exists_checks_full_ids_only() {
    let fixture = Fixture::new();
    let hex = fixture.base.to_string();
    assert!(fixture.repo.commit_exists(&hex));
    assert!(!fixture.repo.commit_exists(&hex[..12]));
    assert!(!fixture.repo.commit_exists(&"0".repeat(40)));
    assert!(!fixture.repo.commit_exists("not hex at all"));
    let tree = fixture
        .git2()
        .find_commit(fixture.base)
        .expect("commit")
        .tree_id();
    assert!(
        !fixture.repo.commit_exists(&tree.to_string()),
        "a tree is not a commit"
    );
}

#[test]
fn stale_ref_locks_of_a_run_are_removed_and_others_kept() {
    let fixture = Fixture::new();
    let heads = fixture.repo.commondir().join("refs/heads");
    let mine = [
        heads.join("pipeline-steps/r1/ws/step.lock"),
        heads.join("pipeline/r1.lock"),
    ];
    let other = heads.join("pipeline-steps/r2/x.lock");
    for f in mine.iter().chain([&other]) {
        fs::create_dir_all(f.parent().unwrap()).unwrap();
        fs::write(f, "").unwrap();
    }
    assert_eq!(fixture.repo.remove_stale_ref_locks("r1").unwrap(), 2);
    assert!(mine.iter().all(|f| !f.exists()));
    assert!(other.exists(), "another run's lock is not touched");
    // The branch can be written again.
    fixture
        .repo
        .set_branch("pipeline-steps/r1/ws/step", fixture.base)
        .unwrap();
    assert_eq!(fixture.repo.remove_stale_ref_locks("r1").unwrap(), 0);
}
