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

#[test]
fn a_kept_head_contained_in_a_later_commit_leaves_the_parents() {
    let fixture = Fixture::new();
    let pool = WorktreePool::new(fixture.repo.clone(), "run-1");
    let a = run_step(&pool, "a", fixture.base, &[("a.txt", Some("a\n"))]);
    let x = run_step(&pool, "x", fixture.base, &[("x.txt", Some("x\n"))]);
    let c = run_step(&pool, "c", a, &[("c.txt", Some("c\n"))]);
    let git = fixture.git2();
    for (order, parents) in [
        (vec![a, x, c], vec![x, c]),
        (vec![c, x, a], vec![c, x]),
        (vec![x, a, c, a], vec![x, c]),
    ] {
        let merged = fixture.repo.merge_commits(&order, "m").expect("merge");
        let commit = git.find_commit(merged).expect("merge commit");
        assert_eq!(
            commit.parent_ids().collect::<Vec<_>>(),
            parents,
            "{order:?}"
        );
        let tree = commit.tree().expect("tree");
        for file in ["a.txt", "x.txt", "c.txt", "README.md"] {
            assert!(tree.get_path(std::path::Path::new(file)).is_ok(), "{file}");
        }
    }
}

/// The shortcut for disjoint changes must give the tree of libgit2's three-way merge,
/// including deletions, modes, symlinks, new directories and a file that becomes a
/// directory; changes to the same file (even mergeable ones) go through the full merge.
#[test]
fn disjoint_merges_give_the_tree_of_a_three_way_merge() {
    let fixture = Fixture::new();
    let pool = WorktreePool::new(fixture.repo.clone(), "run-1");
    let git = fixture.git2();
    let step = |name: &str, edit: &dyn Fn(&std::path::Path)| {
        let worktree = pool
            .acquire(name, &format!("pipeline-steps/test/{name}"), fixture.base)
            .expect("acquire");
        edit(worktree.path());
        let result =
            crate::git::commit_worktree(worktree.path(), fixture.base, name).expect("commit");
        pool.release(worktree).expect("release");
        result
    };
    let a = step("a", &|dir| {
        super::fixture::write(dir, "src/a.txt", "A first line\na2\na3\n");
        super::fixture::write(dir, "new/deep/file.txt", "new\n");
    });
    let b = step("b", &|dir| {
        std::fs::remove_file(dir.join("README.md")).expect("delete");
        super::fixture::set_executable(&dir.join("src/b.txt"), true);
        std::os::unix::fs::symlink("src/b.txt", dir.join("link")).expect("symlink");
    });
    let c = step("c", &|dir| {
        std::fs::remove_file(dir.join("run.sh")).expect("delete");
        super::fixture::write(dir, "run.sh/inside.txt", "a directory now\n");
    });
    let d = step("d", &|dir| {
        super::fixture::write(dir, "src/a.txt", "a1\na2\nA third line\n");
    });
    let libgit2_tree = |commits: &[git2::Oid]| {
        let mut ours = git.find_commit(commits[0]).expect("commit");
        for &next in &commits[1..] {
            let theirs = git.find_commit(next).expect("commit");
            let mut index = git.merge_commits(&ours, &theirs, None).expect("merge");
            assert!(!index.has_conflicts());
            let tree = git
                .find_tree(index.write_tree_to(&git).expect("tree"))
                .expect("tree");
            let signature = git2::Signature::now("t", "t@l").expect("signature");
            let merged = git
                .commit(None, &signature, &signature, "m", &tree, &[&ours, &theirs])
                .expect("commit");
            ours = git.find_commit(merged).expect("commit");
        }
        ours.tree_id()
    };
    for commits in [
        vec![a, b],
        vec![a, b, c],
        vec![c, b, a],
        vec![a, d],
        vec![a, b, c, d],
    ] {
        let merged = fixture.repo.merge_commits(&commits, "m").expect("merge");
        let tree = git.find_commit(merged).expect("commit").tree_id();
        assert_eq!(tree, libgit2_tree(&commits), "{commits:?}");
    }
    let all = git
        .find_commit(
            fixture
                .repo
                .merge_commits(&[a, b, c, d], "m")
                .expect("merge"),
        )
        .expect("commit")
        .tree()
        .expect("tree");
    let blob = |path: &str| {
        let entry = all.get_path(std::path::Path::new(path)).expect(path);
        String::from_utf8_lossy(git.find_blob(entry.id()).expect("blob").content()).into_owned()
    };
    assert_eq!(blob("src/a.txt"), "A first line\na2\nA third line\n");
    assert_eq!(blob("run.sh/inside.txt"), "a directory now\n");
    assert!(all.get_path(std::path::Path::new("README.md")).is_err());
}

#[test]
fn many_results_sharing_a_dependency_merge_at_once_with_parents_in_order() {
    let fixture = Fixture::new();
    let pool = WorktreePool::new(fixture.repo.clone(), "run-1");
    let p = run_step(&pool, "p", fixture.base, &[("p.txt", Some("p\n"))]);
    let q = run_step(&pool, "q", p, &[("q.txt", Some("q\n"))]);
    let r = run_step(
        &pool,
        "r",
        p,
        &[("r.txt", Some("r\n")), ("README.md", None)],
    );
    let a = run_step(&pool, "a", fixture.base, &[("src/a.txt", Some("A\n"))]);
    let unchanged = run_step(&pool, "n", fixture.base, &[]);
    assert_eq!(
        unchanged, fixture.base,
        "a step without changes keeps its start"
    );
    let git = fixture.git2();
    let merged = fixture
        .repo
        .merge_commits(&[q, p, r, unchanged, a], "m")
        .expect("merge");
    let commit = git.find_commit(merged).expect("commit");
    assert_eq!(
        commit.parent_ids().collect::<Vec<_>>(),
        vec![q, r, a],
        "contained commits (p, the base) are dropped, the order is kept"
    );
    let tree = commit.tree().expect("tree");
    let has = |path: &str| tree.get_path(std::path::Path::new(path)).is_ok();
    for present in [
        "p.txt",
        "q.txt",
        "r.txt",
        "src/a.txt",
        "src/b.txt",
        "run.sh",
    ] {
        assert!(has(present), "{present}");
    }
    assert!(!has("README.md"), "r's deletion is kept");
    // Same tree as libgit2's pairwise merges.
    let signature = git2::Signature::now("t", "t@l").expect("signature");
    let mut ours = git.find_commit(q).expect("q");
    for next in [r, a] {
        let theirs = git.find_commit(next).expect("commit");
        let mut index = git.merge_commits(&ours, &theirs, None).expect("merge");
        let tree = git
            .find_tree(index.write_tree_to(&git).expect("tree"))
            .expect("tree");
        let id = git
            .commit(None, &signature, &signature, "m", &tree, &[&ours, &theirs])
            .expect("commit");
        ours = git.find_commit(id).expect("commit");
    }
    assert_eq!(commit.tree_id(), ours.tree_id());
}
