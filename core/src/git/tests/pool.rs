//! `WorktreePool`: isolation, reuse, leftovers, concurrency, removal.

use std::collections::BTreeSet;
use std::fs;
use std::sync::Arc;

use super::fixture::{
    Fixture, git_cli, is_executable, listed_worktrees, read, run_step, set_executable, status,
    write,
};
use crate::git::{GitError, WorktreePool, commit_worktree, remove_run_worktrees};

#[test]
fn two_worktrees_from_the_same_start_do_not_see_each_other() {
    let fixture = Fixture::new();
    let pool = WorktreePool::new(fixture.repo.clone(), "run-1");
    let a = pool
        .acquire("ws-a", "pipeline-steps/run-1/ws-a", fixture.base)
        .expect("acquire a");
    let b = pool
        .acquire(
            "ws-b/step-1",
            "pipeline-steps/run-1/ws-b/step-1",
            fixture.base,
        )
        .expect("acquire b");
    assert_eq!(
        a.path(),
        fixture.path.join(".pipeline/worktrees/run-1/ws-a")
    );
    assert_eq!(
        b.path(),
        fixture.path.join(".pipeline/worktrees/run-1/ws-b/step-1")
    );
    assert_ne!(a.name(), b.name());

    write(a.path(), "from-a.txt", "a\n");
    write(b.path(), "src/a.txt", "changed by b\n");
    assert_eq!(read(b.path(), "from-a.txt"), None);
    assert_eq!(read(a.path(), "src/a.txt").as_deref(), Some("a1\na2\na3\n"));

    let commit_a = commit_worktree(a.path(), fixture.base, "a").expect("commit a");
    let commit_b = commit_worktree(b.path(), fixture.base, "b").expect("commit b");
    assert_eq!(
        fixture
            .repo
            .branch_target("pipeline-steps/run-1/ws-a")
            .expect("read"),
        Some(commit_a)
    );
    assert_eq!(
        fixture
            .repo
            .branch_target("pipeline-steps/run-1/ws-b/step-1")
            .expect("read"),
        Some(commit_b)
    );
    assert_eq!(read(b.path(), "from-a.txt"), None, "a's commit is not in b");
    assert_eq!(status(a.path()), "");
    assert_eq!(status(b.path()), "");
    // The main working tree is untouched.
    assert_eq!(
        read(&fixture.path, "src/a.txt").as_deref(),
        Some("a1\na2\na3\n")
    );
}

#[test]
fn a_released_worktree_is_reused_without_leftovers() {
    let fixture = Fixture::new();
    fixture.repo.ensure_excluded(".pipeline/").expect("exclude");
    let pool = WorktreePool::new(fixture.repo.clone(), "run-1");
    let first = pool
        .acquire("ws-a", "pipeline-steps/run-1/ws-a", fixture.base)
        .expect("acquire");
    let first_name = first.name().to_string();
    let first_path = first.path().to_path_buf();
    // Everything a tool might leave behind.
    write(&first_path, "src/a.txt", "modified\n");
    fs::remove_file(first_path.join("src/b.txt")).expect("delete tracked file");
    write(&first_path, "untracked.txt", "u\n");
    write(&first_path, "new-dir/deep/file.txt", "deep\n");
    write(&first_path, "target/debug/build.bin", "ignored\n");
    write(&first_path, "debug.log", "ignored\n");
    set_executable(&first_path.join("run.sh"), false);
    write(&first_path, "staged.txt", "staged\n");
    git_cli(&first_path, &["add", "staged.txt"]);
    pool.release(first).expect("release");

    assert!(
        !first_path.exists(),
        "nothing is left at the released step path"
    );
    let pool_dir = fixture.path.join(".pipeline/worktrees/run-1/.pool");
    assert!(
        pool_dir.join(&first_name).is_dir(),
        "the worktree waits in the pool"
    );

    let second = pool
        .acquire(
            "ws-b/step-1",
            "pipeline-steps/run-1/ws-b/step-1",
            fixture.base,
        )
        .expect("reacquire");
    assert_eq!(second.name(), first_name, "the idle worktree was reused");
    let path = second.path();
    assert_eq!(
        path,
        fixture.path.join(".pipeline/worktrees/run-1/ws-b/step-1")
    );
    assert_eq!(read(path, "src/a.txt").as_deref(), Some("a1\na2\na3\n"));
    assert_eq!(read(path, "src/b.txt").as_deref(), Some("b1\nb2\nb3\n"));
    for leftover in [
        "untracked.txt",
        "new-dir",
        "target",
        "debug.log",
        "staged.txt",
    ] {
        assert!(
            !path.join(leftover).exists(),
            "{leftover} survived the reset"
        );
    }
    assert!(
        is_executable(&path.join("run.sh")),
        "the executable bit is restored"
    );
    assert_eq!(status(path), "", "git status is clean");
    assert_eq!(
        git_cli(path, &["rev-parse", "--abbrev-ref", "HEAD"]).trim(),
        "pipeline-steps/run-1/ws-b/step-1"
    );
    assert_eq!(
        git_cli(path, &["rev-parse", "HEAD"]).trim(),
        fixture.base.to_string()
    );

    let listed = listed_worktrees(&fixture.path);
    assert!(listed.contains(&path.to_path_buf()), "{listed:?}");
    assert!(!listed.contains(&first_path), "{listed:?}");
    assert!(
        !listed.iter().any(|p| p.starts_with(&pool_dir)),
        "{listed:?}"
    );
}

#[test]
fn reuse_moves_a_worktree_between_commits_in_both_directions() {
    let fixture = Fixture::new();
    let pool = WorktreePool::new(fixture.repo.clone(), "run-1");
    let later = run_step(
        &pool,
        "a",
        fixture.base,
        &[
            ("added/by/a.txt", Some("a\n")),
            ("README.md", None),
            ("src/a.txt", Some("x\n")),
        ],
    );

    let worktree = pool
        .acquire("b", "pipeline-steps/run-1/b", later)
        .expect("forward");
    assert_eq!(
        read(worktree.path(), "added/by/a.txt").as_deref(),
        Some("a\n")
    );
    assert_eq!(read(worktree.path(), "README.md"), None);
    assert_eq!(status(worktree.path()), "");
    pool.release(worktree).expect("release");

    let worktree = pool
        .acquire("c", "pipeline-steps/run-1/c", fixture.base)
        .expect("back");
    assert!(
        !worktree.path().join("added").exists(),
        "directories emptied by the reset are removed"
    );
    assert_eq!(
        read(worktree.path(), "README.md").as_deref(),
        Some("readme\n")
    );
    assert_eq!(
        read(worktree.path(), "src/a.txt").as_deref(),
        Some("a1\na2\na3\n")
    );
    assert_eq!(status(worktree.path()), "");
}

#[test]
fn acquire_reuses_a_kept_worktree_at_the_step_path() {
    let fixture = Fixture::new();
    let pool = WorktreePool::new(fixture.repo.clone(), "run-1");
    let failed = pool
        .acquire("ws-a", "pipeline-steps/run-1/ws-a", fixture.base)
        .expect("acquire");
    let name = failed.name().to_string();
    write(failed.path(), "src/a.txt", "half-done\n");
    write(failed.path(), "scratch.txt", "scratch\n");
    let commit = commit_worktree(failed.path(), fixture.base, "partial").expect("commit");
    assert_ne!(commit, fixture.base);
    write(failed.path(), "more.txt", "uncommitted\n");
    let path = failed.path().to_path_buf();
    pool.keep(failed);
    assert_eq!(
        read(&path, "more.txt").as_deref(),
        Some("uncommitted\n"),
        "kept as is"
    );

    let retry = pool
        .acquire("ws-a", "pipeline-steps/run-1/ws-a", fixture.base)
        .expect("retry");
    assert_eq!(retry.name(), name);
    assert_eq!(retry.path(), path);
    assert_eq!(read(&path, "src/a.txt").as_deref(), Some("a1\na2\na3\n"));
    assert!(!path.join("scratch.txt").exists() && !path.join("more.txt").exists());
    assert_eq!(status(&path), "");
    assert_eq!(
        fixture
            .repo
            .branch_target("pipeline-steps/run-1/ws-a")
            .expect("read"),
        Some(fixture.base)
    );
}

#[test]
fn acquire_replaces_a_plain_directory_at_the_step_path() {
    let fixture = Fixture::new();
    let pool = WorktreePool::new(fixture.repo.clone(), "run-1");
    let leftover = fixture.path.join(".pipeline/worktrees/run-1/ws-a");
    write(&leftover, "junk/file.txt", "junk\n");
    let worktree = pool
        .acquire("ws-a", "pipeline-steps/run-1/ws-a", fixture.base)
        .expect("acquire");
    assert_eq!(worktree.path(), leftover);
    assert!(!leftover.join("junk").exists());
    assert_eq!(read(&leftover, "README.md").as_deref(), Some("readme\n"));
    assert_eq!(status(&leftover), "");
}

#[test]
fn step_worktrees_cannot_nest() {
    let fixture = Fixture::new();
    let pool = WorktreePool::new(fixture.repo.clone(), "run-1");
    let outer = pool
        .acquire("ws-a", "pipeline-steps/run-1/ws-a", fixture.base)
        .expect("acquire");
    let error = pool
        .acquire(
            "ws-a/step-1",
            "pipeline-steps/run-1/ws-a-step-1",
            fixture.base,
        )
        .expect_err("inside");
    assert!(
        matches!(error, GitError::NestedStepPath { .. }),
        "{error:?}"
    );
    pool.release(outer).expect("release");

    let inner = pool
        .acquire(
            "ws-b/step-1",
            "pipeline-steps/run-1/ws-b/step-1",
            fixture.base,
        )
        .expect("acquire");
    let error = pool
        .acquire("ws-b", "pipeline-steps/run-1/ws-b-whole", fixture.base)
        .expect_err("around");
    assert!(
        matches!(error, GitError::NestedStepPath { .. }),
        "{error:?}"
    );
    assert_eq!(
        read(inner.path(), "README.md").as_deref(),
        Some("readme\n"),
        "the inner worktree survived"
    );
}

#[test]
fn invalid_step_paths_run_ids_and_branches_are_refused() {
    let fixture = Fixture::new();
    let pool = WorktreePool::new(fixture.repo.clone(), "run-1");
    for step_path in [
        "",
        "/abs",
        "../escape",
        "a/../b",
        ".pool",
        "a//b",
        "a/",
        "a/.git",
    ] {
        let error = pool
            .acquire(step_path, "pipeline-steps/x", fixture.base)
            .expect_err(step_path);
        assert!(
            matches!(error, GitError::InvalidStepPath { .. }),
            "{step_path}: {error:?}"
        );
    }
    let error = pool
        .acquire("ok", "bad..branch", fixture.base)
        .expect_err("branch");
    assert!(
        matches!(error, GitError::InvalidBranchName { .. }),
        "{error:?}"
    );
    let missing = git2::Oid::from_str(&"2".repeat(40)).expect("oid");
    let error = pool
        .acquire("ok", "pipeline-steps/x", missing)
        .expect_err("start");
    assert!(
        matches!(error, GitError::UnknownRevision { .. }),
        "{error:?}"
    );
    assert!(!pool.root().join("ok").exists());
    let bad_run = WorktreePool::new(fixture.repo.clone(), "../elsewhere");
    let error = bad_run
        .acquire("ok", "pipeline-steps/x", fixture.base)
        .expect_err("run id");
    assert!(matches!(error, GitError::InvalidRunId { .. }), "{error:?}");
    assert!(matches!(
        bad_run.remove_all(),
        Err(GitError::InvalidRunId { .. })
    ));
}

#[test]
fn concurrent_acquires_give_distinct_worktrees() {
    let fixture = Fixture::new();
    let pool = Arc::new(WorktreePool::new(fixture.repo.clone(), "run-1"));
    let steps = ["ws-a", "ws-b/step-1", "ws-b/step-2", "ws-c"];
    let acquire_all = |pool: &Arc<WorktreePool>| {
        let handles: Vec<_> = steps
            .iter()
            .map(|step| {
                let pool = Arc::clone(pool);
                let base = fixture.base;
                let step = step.to_string();
                std::thread::spawn(move || {
                    let worktree = pool
                        .acquire(&step, &format!("pipeline-steps/run-1/{step}"), base)
                        .expect("acquire");
                    write(worktree.path(), "owner.txt", &step);
                    worktree
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|handle| handle.join().expect("thread"))
            .collect::<Vec<_>>()
    };

    let worktrees = acquire_all(&pool);
    let names: BTreeSet<String> = worktrees.iter().map(|w| w.name().to_string()).collect();
    let paths: BTreeSet<_> = worktrees.iter().map(|w| w.path().to_path_buf()).collect();
    assert_eq!(names.len(), 4);
    assert_eq!(paths.len(), 4);
    for (worktree, step) in worktrees.iter().zip(steps) {
        assert_eq!(read(worktree.path(), "owner.txt").as_deref(), Some(step));
        assert_eq!(
            read(worktree.path(), "README.md").as_deref(),
            Some("readme\n")
        );
    }
    let listed = listed_worktrees(&fixture.path);
    assert_eq!(listed.len(), 5, "main + 4: {listed:?}");

    let releases: Vec<_> = worktrees
        .into_iter()
        .map(|worktree| {
            let pool = Arc::clone(&pool);
            std::thread::spawn(move || pool.release(worktree))
        })
        .collect();
    for handle in releases {
        handle.join().expect("thread").expect("release");
    }
    assert!(
        !fixture.path.join(".pipeline/worktrees/run-1/ws-b").exists(),
        "empty parents removed"
    );

    let again = acquire_all(&pool);
    let reused: BTreeSet<String> = again.iter().map(|w| w.name().to_string()).collect();
    assert_eq!(reused, names, "the second round reused the pool");
    for (worktree, step) in again.iter().zip(steps) {
        assert_eq!(read(worktree.path(), "owner.txt").as_deref(), Some(step));
    }
    assert_eq!(listed_worktrees(&fixture.path).len(), 5);
}

#[test]
fn a_new_pool_picks_up_idle_worktrees_left_by_an_earlier_process() {
    let fixture = Fixture::new();
    let name = {
        let pool = WorktreePool::new(fixture.repo.clone(), "run-1");
        let worktree = pool
            .acquire("a", "pipeline-steps/run-1/a", fixture.base)
            .expect("acquire");
        let name = worktree.name().to_string();
        pool.release(worktree).expect("release");
        name
    };
    let pool = WorktreePool::new(fixture.repo.clone(), "run-1");
    let worktree = pool
        .acquire("b", "pipeline-steps/run-1/b", fixture.base)
        .expect("acquire");
    assert_eq!(worktree.name(), name);
    // The first step's branch is free: no idle worktree holds it.
    let again = pool
        .acquire("a", "pipeline-steps/run-1/a", fixture.base)
        .expect("acquire a again");
    assert_ne!(again.name(), name);
}

#[test]
fn remove_all_leaves_no_worktree_and_no_directory() {
    let fixture = Fixture::new();
    let pool = WorktreePool::new(fixture.repo.clone(), "run-1");
    let other_run = WorktreePool::new(fixture.repo.clone(), "run-2");
    let released = pool
        .acquire("a", "pipeline-steps/run-1/a", fixture.base)
        .expect("acquire");
    let kept = pool
        .acquire("b/step-1", "pipeline-steps/run-1/b/step-1", fixture.base)
        .expect("acquire");
    let in_use = pool
        .acquire("c", "pipeline-steps/run-1/c", fixture.base)
        .expect("acquire");
    let survivor = other_run
        .acquire("a", "pipeline-steps/run-2/a", fixture.base)
        .expect("acquire");
    pool.release(released).expect("release");
    pool.keep(kept);
    drop(in_use);
    assert_eq!(listed_worktrees(&fixture.path).len(), 5);

    pool.remove_all().expect("remove all");
    let root = fixture.path.join(".pipeline/worktrees/run-1");
    assert!(!root.exists(), "the run's directory is gone");
    let listed = listed_worktrees(&fixture.path);
    assert_eq!(
        listed,
        vec![fixture.path.clone(), survivor.path().to_path_buf()]
    );
    git_cli(&fixture.path, &["worktree", "prune", "--dry-run"]);
    assert_eq!(
        git_cli(
            &fixture.path,
            &["worktree", "prune", "--dry-run", "--verbose"]
        ),
        "",
        "nothing left for git to prune"
    );
    // Branches stay; the pool works again afterwards.
    assert!(
        fixture
            .repo
            .branch_target("pipeline-steps/run-1/a")
            .expect("read")
            .is_some()
    );
    let fresh = pool
        .acquire("a", "pipeline-steps/run-1/a", fixture.base)
        .expect("acquire after clean");
    assert_eq!(status(fresh.path()), "");
}

#[test]
fn remove_run_worktrees_cleans_a_run_without_its_pool() {
    let fixture = Fixture::new();
    {
        let pool = WorktreePool::new(fixture.repo.clone(), "crashed");
        let a = pool
            .acquire("a", "pipeline-steps/crashed/a", fixture.base)
            .expect("acquire");
        let b = pool
            .acquire("b", "pipeline-steps/crashed/b", fixture.base)
            .expect("acquire");
        pool.release(a).expect("release");
        drop(b);
    }
    let removed = remove_run_worktrees(&fixture.repo, "crashed").expect("remove");
    assert_eq!(removed, 2);
    assert_eq!(listed_worktrees(&fixture.path), vec![fixture.path.clone()]);
    assert!(!fixture.path.join(".pipeline/worktrees/crashed").exists());
    assert_eq!(
        remove_run_worktrees(&fixture.repo, "crashed").expect("again"),
        0
    );
}

#[test]
fn release_refuses_a_worktree_of_another_pool() {
    let fixture = Fixture::new();
    let pool = WorktreePool::new(fixture.repo.clone(), "run-1");
    let other = WorktreePool::new(fixture.repo.clone(), "run-2");
    let worktree = other
        .acquire("a", "pipeline-steps/run-2/a", fixture.base)
        .expect("acquire");
    let path = worktree.path().to_path_buf();
    let error = pool.release(worktree).expect_err("foreign");
    assert!(
        matches!(error, GitError::ForeignWorktree { .. }),
        "{error:?}"
    );
    assert!(path.exists());
}

#[test]
fn reset_removes_nested_repositories_empty_directories_and_operation_state() {
    // Backs the "reset" list of the module doc.
    let fixture = Fixture::new();
    let pool = WorktreePool::new(fixture.repo.clone(), "run-1");
    let worktree = pool
        .acquire("a", "pipeline-steps/run-1/a", fixture.base)
        .expect("acquire");
    let nested = worktree.path().join("vendor/nested");
    fs::create_dir_all(&nested).expect("mkdir");
    git2::Repository::init(&nested).expect("nested git init");
    write(&nested, "file.txt", "nested\n");
    fs::create_dir_all(worktree.path().join("empty/dir")).expect("mkdir");
    fs::create_dir_all(worktree.path().join("top-level-empty")).expect("mkdir");
    let tool_repo = git2::Repository::open(worktree.path()).expect("open worktree");
    fs::write(
        tool_repo.path().join("MERGE_HEAD"),
        format!("{}\n", fixture.base),
    )
    .expect("fake merge");
    assert_eq!(tool_repo.state(), git2::RepositoryState::Merge);
    pool.release(worktree).expect("release");

    let worktree = pool
        .acquire("b", "pipeline-steps/run-1/b", fixture.base)
        .expect("acquire");
    for leftover in ["vendor", "empty", "top-level-empty"] {
        assert!(
            !worktree.path().join(leftover).exists(),
            "{leftover} survived the reset"
        );
    }
    let repo = git2::Repository::open(worktree.path()).expect("open worktree");
    assert_eq!(repo.state(), git2::RepositoryState::Clean);
    assert_eq!(status(worktree.path()), "");
}

#[test]
fn a_worktree_left_in_the_pool_by_a_crash_does_not_hold_its_branch() {
    let fixture = Fixture::new();
    // As if a process died right after adding a worktree for step `a` in the pool.
    let stray = fixture.path.join(".pipeline/worktrees/run-1/.pool/stray");
    git_cli(
        &fixture.path,
        &[
            "worktree",
            "add",
            "-b",
            "pipeline-steps/run-1/a",
            stray.to_str().expect("utf-8 path"),
        ],
    );
    let pool = WorktreePool::new(fixture.repo.clone(), "run-1");
    let worktree = pool
        .acquire("a", "pipeline-steps/run-1/a", fixture.base)
        .expect("acquire");
    assert_eq!(worktree.name(), "stray", "the stray worktree was reused");
    assert_eq!(
        git_cli(worktree.path(), &["rev-parse", "--abbrev-ref", "HEAD"]).trim(),
        "pipeline-steps/run-1/a"
    );
    assert!(!stray.exists());
    assert!(listed_worktrees(&fixture.path).contains(&worktree.path().to_path_buf()));
}

#[test]
fn remove_idle_removes_pooled_worktrees_and_keeps_kept_ones() {
    let fixture = Fixture::new();
    let pool = WorktreePool::new(fixture.repo.clone(), "run-1");
    let done = pool
        .acquire("a", "pipeline-steps/run-1/a", fixture.base)
        .expect("acquire");
    let failed = pool
        .acquire("b", "pipeline-steps/run-1/b", fixture.base)
        .expect("acquire");
    let failed_path = failed.path().to_path_buf();
    pool.release(done).expect("release");
    pool.keep(failed);
    assert_eq!(pool.remove_idle().expect("remove idle"), 1);
    assert!(!pool.root().join(".pool").exists());
    assert_eq!(
        listed_worktrees(&fixture.path),
        vec![fixture.path.clone(), failed_path.clone()]
    );
    assert_eq!(status(&failed_path), "");
}

/// A run that is over: every worktree of the run goes, also those an earlier pool (a
/// crashed process) left at step paths or idle, except the failed steps' ones; then the
/// run root, once nothing is kept.
#[test]
fn remove_unkept_removes_every_worktree_of_the_run_but_the_kept_ones() {
    let fixture = Fixture::new();
    let earlier = WorktreePool::new(fixture.repo.clone(), "run-1");
    let idle = earlier
        .acquire("a", "pipeline-steps/run-1/a", fixture.base)
        .expect("acquire");
    let left = earlier
        .acquire("ws/b", "pipeline-steps/run-1/b", fixture.base)
        .expect("acquire");
    let failed = earlier
        .acquire("c", "pipeline-steps/run-1/c", fixture.base)
        .expect("acquire");
    let failed_path = failed.path().to_path_buf();
    earlier.release(idle).expect("release");
    // The process dies with `ws/b` still at its step path.
    drop((left, failed, earlier));
    let other_run = WorktreePool::new(fixture.repo.clone(), "run-2");
    let other = other_run
        .acquire("a", "pipeline-steps/run-2/a", fixture.base)
        .expect("acquire");

    let pool = WorktreePool::new(fixture.repo.clone(), "run-1");
    let sorted = |mut paths: Vec<std::path::PathBuf>| {
        paths.sort();
        paths
    };
    assert_eq!(pool.remove_unkept(&["c"]).expect("remove"), 2);
    assert_eq!(
        sorted(listed_worktrees(&fixture.path)),
        sorted(vec![
            fixture.path.clone(),
            failed_path.clone(),
            other.path().to_path_buf()
        ])
    );
    assert!(!pool.root().join(".pool").exists());
    assert!(!pool.root().join("ws").exists());

    assert_eq!(pool.remove_unkept(&[]).expect("remove"), 1);
    assert!(!pool.root().exists());
    assert_eq!(
        sorted(listed_worktrees(&fixture.path)),
        sorted(vec![fixture.path.clone(), other.path().to_path_buf()])
    );
}

#[test]
fn delete_branches_with_prefix_skips_checked_out_branches() {
    let fixture = Fixture::new();
    let pool = WorktreePool::new(fixture.repo.clone(), "run-1");
    let a = pool
        .acquire("a", "pipeline-steps/run-1/a", fixture.base)
        .expect("acquire");
    let b = pool
        .acquire("b", "pipeline-steps/run-1/b", fixture.base)
        .expect("acquire");
    fixture
        .repo
        .set_branch("pipeline-steps/run-2/a", fixture.base)
        .expect("other run's branch");
    pool.release(a).expect("release");
    let deleted = fixture
        .repo
        .delete_branches_with_prefix("pipeline-steps/run-1/")
        .expect("delete");
    assert_eq!(deleted, 1, "b is checked out in its kept worktree");
    let branch = |name: &str| fixture.repo.branch_target(name).expect("read");
    assert_eq!(branch("pipeline-steps/run-1/a"), None);
    assert_eq!(branch("pipeline-steps/run-1/b"), Some(fixture.base));
    assert_eq!(branch("pipeline-steps/run-2/a"), Some(fixture.base));
    drop(b);
}

#[test]
fn lock_files_left_by_a_killed_driver_do_not_block_reuse() {
    let fixture = Fixture::new();
    fixture.repo.ensure_excluded(".pipeline/").expect("exclude");
    let first_pool = WorktreePool::new(fixture.repo.clone(), "run-1");
    let idle = first_pool
        .acquire("idle", "pipeline-steps/run-1/idle", fixture.base)
        .expect("acquire");
    let kept = first_pool
        .acquire("kept", "pipeline-steps/run-1/kept", fixture.base)
        .expect("acquire");
    let admin = |name: &str| fixture.path.join(".git/worktrees").join(name);
    let (idle_admin, kept_admin) = (admin(idle.name()), admin(kept.name()));
    first_pool.release(idle).expect("release");
    first_pool.keep(kept);
    // The driver was killed while writing HEAD and the index of both worktrees.
    for dir in [&idle_admin, &kept_admin] {
        for lock in ["HEAD.lock", "index.lock"] {
            fs::write(dir.join(lock), "").expect("leave a lock");
        }
    }
    drop(first_pool);

    let pool = WorktreePool::new(fixture.repo.clone(), "run-1");
    let again = pool
        .acquire("kept", "pipeline-steps/run-1/kept", fixture.base)
        .expect("the kept worktree is reset despite its locks");
    let other = pool
        .acquire("other", "pipeline-steps/run-1/other", fixture.base)
        .expect("the idle worktree is reused despite its locks");
    assert_eq!(
        other.name(),
        idle_admin.file_name().unwrap().to_str().unwrap()
    );
    for dir in [&idle_admin, &kept_admin] {
        for lock in ["HEAD.lock", "index.lock"] {
            assert!(!dir.join(lock).exists(), "{lock} in {}", dir.display());
        }
    }
    assert_eq!(status(again.path()), "");
    assert_eq!(status(other.path()), "");
}
