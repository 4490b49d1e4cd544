//! `Repository::merge_commits`: dependency results merged into a step's start.

use super::fixture::{Fixture, read, run_step};
use crate::git::{GitError, WorktreePool};

#[test]
fn merging_two_step_commits_gives_a_worktree_with_both_changes() {
    let fixture = Fixture::new();
    let pool = WorktreePool::new(fixture.repo.clone(), "run-1");
    let a = run_step(
        &pool,
        "ws-a",
        fixture.base,
        &[
            ("src/a.txt", Some("a1\nA2\na3\n")),
            ("new-a.txt", Some("from a\n")),
        ],
    );
    let b = run_step(
        &pool,
        "ws-b",
        fixture.base,
        &[("src/b.txt", Some("b1\nb2\nB3\n")), ("README.md", None)],
    );

    let merged = fixture
        .repo
        .merge_commits(&[a, b], "merge a and b")
        .expect("merge");
    let git = fixture.git2();
    let commit = git.find_commit(merged).expect("merge commit");
    assert_eq!(
        commit.parent_ids().collect::<Vec<_>>(),
        vec![a, b],
        "parents in given order"
    );
    assert_eq!(commit.message().ok(), Some("merge a and b"));

    let worktree = pool
        .acquire("ws-c", "pipeline-steps/test/ws-c", merged)
        .expect("acquire");
    assert_eq!(
        read(worktree.path(), "src/a.txt").as_deref(),
        Some("a1\nA2\na3\n")
    );
    assert_eq!(
        read(worktree.path(), "src/b.txt").as_deref(),
        Some("b1\nb2\nB3\n")
    );
    assert_eq!(
        read(worktree.path(), "new-a.txt").as_deref(),
        Some("from a\n")
    );
    assert_eq!(read(worktree.path(), "README.md"), None);
}

#[test]
fn merging_three_commits_makes_one_octopus_merge() {
    let fixture = Fixture::new();
    let pool = WorktreePool::new(fixture.repo.clone(), "run-1");
    let a = run_step(&pool, "a", fixture.base, &[("a.txt", Some("a\n"))]);
    let b = run_step(&pool, "b", fixture.base, &[("b.txt", Some("b\n"))]);
    let c = run_step(
        &pool,
        "c",
        fixture.base,
        &[("src/a.txt", Some("changed\n"))],
    );
    let merged = fixture
        .repo
        .merge_commits(&[c, a, b], "merge")
        .expect("merge");
    let git = fixture.git2();
    let commit = git.find_commit(merged).expect("commit");
    assert_eq!(commit.parent_ids().collect::<Vec<_>>(), vec![c, a, b]);
    let paths = super::fixture::tree_paths(&git, merged);
    assert!(
        paths.contains(&"a.txt".to_string()) && paths.contains(&"b.txt".to_string()),
        "{paths:?}"
    );
    let blob = commit
        .tree()
        .expect("tree")
        .get_path(std::path::Path::new("src/a.txt"))
        .expect("entry")
        .id();
    assert_eq!(git.find_blob(blob).expect("blob").content(), b"changed\n");
}

#[test]
fn conflicting_edits_report_the_conflicting_paths() {
    let fixture = Fixture::new();
    let pool = WorktreePool::new(fixture.repo.clone(), "run-1");
    let a = run_step(
        &pool,
        "a",
        fixture.base,
        &[
            ("src/a.txt", Some("a1\nfrom a\na3\n")),
            ("only-a.txt", Some("a\n")),
        ],
    );
    let b = run_step(
        &pool,
        "b",
        fixture.base,
        &[
            ("src/a.txt", Some("a1\nfrom b\na3\n")),
            ("README.md", Some("b's readme\n")),
        ],
    );
    let c = run_step(
        &pool,
        "c",
        fixture.base,
        &[("README.md", Some("c's readme\n"))],
    );
    let error = fixture
        .repo
        .merge_commits(&[a, b], "merge")
        .expect_err("conflict");
    match &error {
        GitError::MergeConflict { paths } => assert_eq!(paths, &vec!["src/a.txt".to_string()]),
        other => panic!("expected a merge conflict, got {other:?}"),
    }
    assert!(error.to_string().contains("src/a.txt"));

    // With three commits, the conflict between b and c in the second pair is found too.
    let error = fixture
        .repo
        .merge_commits(&[a, c, b], "merge")
        .expect_err("conflict");
    match &error {
        GitError::MergeConflict { paths } => {
            assert_eq!(
                paths,
                &vec!["README.md".to_string(), "src/a.txt".to_string()]
            );
        }
        other => panic!("expected a merge conflict, got {other:?}"),
    }
}

#[test]
fn ancestors_and_duplicates_are_dropped() {
    let fixture = Fixture::new();
    let pool = WorktreePool::new(fixture.repo.clone(), "run-1");
    let a = run_step(&pool, "a", fixture.base, &[("a.txt", Some("a\n"))]);
    let descendant = run_step(&pool, "b", a, &[("b.txt", Some("b\n"))]);
    let repo = &fixture.repo;
    assert_eq!(
        repo.merge_commits(&[a, descendant], "m").expect("merge"),
        descendant
    );
    assert_eq!(
        repo.merge_commits(&[descendant, a], "m").expect("merge"),
        descendant
    );
    assert_eq!(repo.merge_commits(&[a], "m").expect("merge"), a);
    assert_eq!(repo.merge_commits(&[a, a], "m").expect("merge"), a);
    assert_eq!(
        repo.merge_commits(&[fixture.base, a, descendant], "m")
            .expect("merge"),
        descendant
    );
    assert!(matches!(
        repo.merge_commits(&[], "m"),
        Err(GitError::NothingToMerge)
    ));
}

#[test]
fn merging_an_unknown_commit_names_it() {
    let fixture = Fixture::new();
    let missing = git2::Oid::from_str(&"1".repeat(40)).expect("oid");
    let error = fixture
        .repo
        .merge_commits(&[fixture.base, missing], "m")
        .expect_err("unknown");
    assert!(
        matches!(error, GitError::UnknownRevision { ref rev, .. } if *rev == missing.to_string()),
        "{error:?}"
    );
}
