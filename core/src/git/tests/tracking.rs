//! Change tracking of pooled worktrees (inotify feed): staging and reset that look at
//! touched paths only must give exactly what a walk of the whole worktree gives, and
//! fall back to the walk whenever the feed cannot vouch for its paths.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use super::fixture::{Fixture, git_cli, read, run_step, set_executable, status, write};
use crate::git::tree_diff::diff_trees;
use crate::git::{
    WorktreePool, changed_paths, commit_staged, stage_changes, stage_worktree_changes,
};

/// A fixture repository (`.pipeline/` excluded) and the pool of its run `run-1`.
fn pooled() -> (Fixture, WorktreePool) {
    let fixture = Fixture::new();
    fixture.repo.ensure_excluded(".pipeline/").expect("exclude");
    let pool = WorktreePool::new(fixture.repo.clone(), "run-1");
    (fixture, pool)
}

/// Acquires step `step` of run `run-1` at `start`.
fn acquire(pool: &WorktreePool, step: &str, start: git2::Oid) -> crate::git::Worktree {
    pool.acquire(step, &format!("pipeline-steps/run-1/{step}"), start)
        .expect("acquire")
}

/// Deterministic xorshift generator: the same seed gives the same operations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        (!items.is_empty()).then(|| &items[self.below(items.len())])
    }
}

/// Files (and symlinks) and directories under `dir`, relative, without `.git`.
fn listing(dir: &Path) -> (Vec<PathBuf>, Vec<PathBuf>) {
    let (mut files, mut dirs) = (Vec::new(), Vec::new());
    let mut pending = vec![PathBuf::new()];
    while let Some(relative) = pending.pop() {
        let Ok(entries) = fs::read_dir(dir.join(&relative)) else {
            continue;
        };
        for entry in entries.flatten() {
            if entry.file_name() == ".git" {
                continue;
            }
            let path = relative.join(entry.file_name());
            let kind = entry.file_type().expect("file type");
            if kind.is_dir() {
                dirs.push(path.clone());
                pending.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files.sort();
    dirs.sort();
    (files, dirs)
}

/// `name` inside the relative directory `dir` (which may be empty: the root), as a
/// relative path string; never absolute.
fn rel(dir: &Path, name: &str) -> String {
    let path = dir.join(name);
    assert!(path.is_relative(), "{}", path.display());
    path.to_string_lossy().into_owned()
}

/// `count` random operations a tool could do: add, modify, rewrite identically,
/// delete, chmod, symlink, nested directories, rename files and directories (within
/// the tree), remove directories, ignored output, and a file replaced by a directory.
fn scramble(dir: &Path, rng: &mut Rng, count: usize) {
    let names = ["x", "y", "z", "deep", "out"];
    for step in 0..count {
        let (files, dirs) = listing(dir);
        let some_dir = rng.pick(&dirs).cloned().unwrap_or_default();
        match rng.below(12) {
            0 => write(
                dir,
                &rel(&some_dir, &format!("new-{step}.txt")),
                &format!("new {step}\n"),
            ),
            1 => {
                if let Some(file) = rng.pick(&files) {
                    let _ = fs::write(dir.join(file), format!("changed {step}\n"));
                }
            }
            2 => {
                if let Some(file) = rng.pick(&files) {
                    let _ = fs::remove_file(dir.join(file));
                }
            }
            3 => {
                if let Some(file) = rng.pick(&files)
                    && fs::symlink_metadata(dir.join(file)).is_ok_and(|m| m.is_file())
                {
                    set_executable(&dir.join(file), rng.below(2) == 0);
                }
            }
            4 => {
                let link = dir.join(&some_dir).join(format!("link-{step}"));
                let _ = symlink(format!("target-{step}"), link);
            }
            5 => {
                let nested = rel(
                    &some_dir,
                    &format!(
                        "{}-{step}/{}/file.txt",
                        names[rng.below(names.len())],
                        names[rng.below(names.len())]
                    ),
                );
                write(dir, &nested, "nested\n");
            }
            6 => {
                if let Some(victim) = rng.pick(&dirs) {
                    let _ = fs::remove_dir_all(dir.join(victim));
                }
            }
            7 => {
                if let Some(file) = rng.pick(&files) {
                    let to = dir.join(&some_dir).join(format!("renamed-{step}"));
                    let _ = fs::rename(dir.join(file), to);
                }
            }
            8 => {
                if let Some(from) = rng.pick(&dirs) {
                    let to = dir.join(format!("moved-{step}"));
                    let _ = fs::rename(dir.join(from), to);
                }
            }
            9 => {
                if rng.below(2) == 0 {
                    write(dir, &format!("target/debug/out-{step}.bin"), "ignored\n");
                } else {
                    write(
                        dir,
                        &rel(&some_dir, &format!("trace-{step}.log")),
                        "ignored\n",
                    );
                }
            }
            10 => {
                if let Some(file) = rng.pick(&files)
                    && let Some(content) = read(dir, &file.to_string_lossy())
                {
                    let _ = fs::write(dir.join(file), content);
                }
            }
            _ => {
                if let Some(file) = rng.pick(&files)
                    && fs::remove_file(dir.join(file)).is_ok()
                {
                    write(dir, &rel(file, "inner.txt"), "was a file\n");
                }
            }
        }
    }
}

/// Runs `cycles` steps through one pooled worktree, each a random scramble committed
/// like the engine does, starting alternately from the previous result (a dependent
/// step) and from the base (an independent one). Checks every staging against a walk
/// and every reset against `git status --ignored`.
/// Returns how many resets (of `cycles - 1`) were path-limited.
fn cycles_agree_with_walks(seed: u64, cycles: usize) -> usize {
    let mut limited = 0;
    let (fixture, pool) = pooled();
    let mut rng = Rng(seed);
    let mut start = fixture.base;
    for cycle in 0..cycles {
        let step = format!("step-{cycle}");
        let worktree = pool
            .acquire(&step, &format!("pipeline-steps/run-1/{step}"), start)
            .expect("acquire");
        let path = worktree.path().to_path_buf();
        assert!(worktree.tracker().is_some(), "Linux worktrees are tracked");
        // A limited reset checks its result and falls back to a full one when libgit2
        // leaves a difference (it does when a tracked file became a directory or the
        // reverse); either way the worktree must be exactly at the start commit.
        limited += usize::from(worktree.limited_reset);
        assert_eq!(
            status(&path),
            "",
            "seed {seed} cycle {cycle}: clean after reset"
        );
        assert_eq!(
            git_cli(&path, &["rev-parse", "HEAD"]).trim(),
            start.to_string()
        );

        scramble(&path, &mut rng, 40);
        let walked = changed_paths(&path, start).expect("walk");
        let staged = stage_worktree_changes(&path, worktree.tracker(), start).expect("stage");
        assert!(
            !staged.walked,
            "seed {seed} cycle {cycle}: the feed was used"
        );
        let missed: Vec<_> = walked
            .iter()
            .filter(|c| !staged.changes.contains(c))
            .collect();
        let extra: Vec<_> = staged
            .changes
            .iter()
            .filter(|c| !walked.contains(c))
            .collect();
        assert!(
            missed.is_empty() && extra.is_empty(),
            "seed {seed} cycle {cycle}: tracked staging missed {missed:?} and added {extra:?}"
        );
        let result = commit_staged(&path, start, &staged, "step").expect("commit");
        // The tree is the one a walk stages (git's own view, through the CLI).
        let expected_tree = {
            let scratch = fixture.path.join(format!("scratch-index-{cycle}"));
            let index = scratch.to_string_lossy().into_owned();
            let git = |args: &[&str]| {
                let output = std::process::Command::new("git")
                    .args(args)
                    .current_dir(&path)
                    .env("GIT_INDEX_FILE", &index)
                    .output()
                    .expect("run git");
                assert!(output.status.success(), "{:?}", output);
                String::from_utf8_lossy(&output.stdout).trim().to_string()
            };
            git(&["read-tree", &start.to_string()]);
            git(&["add", "--all", "."]);
            git(&["write-tree"])
        };
        let git = fixture.git2();
        let result_tree = git.find_commit(result).expect("result").tree_id();
        assert_eq!(
            result_tree.to_string(),
            expected_tree,
            "seed {seed} cycle {cycle}: `git add --all` stages the same tree"
        );
        pool.release(worktree).expect("release");
        start = if cycle % 2 == 0 { result } else { fixture.base };
    }
    limited
}

#[test]
fn tracked_staging_and_reset_agree_with_walks_over_random_steps() {
    let (mut limited, mut resets) = (0, 0);
    for seed in [1, 2, 3, 4, 5, 6, 7, 8] {
        limited += cycles_agree_with_walks(0x9e37_79b9_7f4a_7c15 ^ seed, 5);
        resets += 4;
    }
    // Each scramble of 40 operations is far rougher than a real step; still most
    // resets must stay limited, or the tracking is not doing its job.
    assert!(
        limited * 4 >= resets * 3,
        "only {limited} of {resets} resets were path-limited"
    );
}

#[test]
fn tree_diff_lists_what_libgit2_lists() {
    let fixture = Fixture::new();
    let pool = WorktreePool::new(fixture.repo.clone(), "run-1");
    let mut rng = Rng(42);
    let git = fixture.git2();
    for round in 0..6 {
        let step = format!("s{round}");
        let worktree = pool
            .acquire(&step, &format!("pipeline-steps/test/{step}"), fixture.base)
            .expect("acquire");
        scramble(worktree.path(), &mut rng, 30);
        let result =
            crate::git::commit_worktree(worktree.path(), fixture.base, "step").expect("commit");
        pool.release(worktree).expect("release");
        let old = git.find_commit(fixture.base).unwrap().tree().unwrap();
        let new = git.find_commit(result).unwrap().tree().unwrap();
        let ours: Vec<(String, bool, bool)> = diff_trees(&git, &old, &new)
            .expect("diff")
            .into_iter()
            .map(|c| {
                (
                    c.path.to_string_lossy().into_owned(),
                    c.old.is_some(),
                    c.new.is_some(),
                )
            })
            .collect();
        let diff = git
            .diff_tree_to_tree(Some(&old), Some(&new), None)
            .expect("libgit2 diff");
        let mut theirs: Vec<(String, bool, bool)> = Vec::new();
        for delta in diff.deltas() {
            let path = delta
                .new_file()
                .path()
                .or(delta.old_file().path())
                .unwrap()
                .to_string_lossy()
                .into_owned();
            let (old_side, new_side) = match delta.status() {
                git2::Delta::Added => (false, true),
                git2::Delta::Deleted => (true, false),
                _ => (true, true),
            };
            theirs.push((path, old_side, new_side));
        }
        theirs.sort();
        let mut ours_sorted = ours.clone();
        ours_sorted.sort();
        assert_eq!(ours_sorted, theirs, "round {round}");
    }
}

#[test]
fn a_foreign_index_write_makes_staging_walk_and_the_next_reset_full() {
    let (fixture, pool) = pooled();
    let first = acquire(&pool, "a", fixture.base);
    let path = first.path().to_path_buf();
    write(&path, "tool.txt", "tool output\n");
    // The tool unstages a file it never touched: only the index knows.
    git_cli(&path, &["rm", "--cached", "--quiet", "src/a.txt"]);
    let walked = changed_paths(&path, fixture.base).expect("walk");
    let staged = stage_worktree_changes(&path, first.tracker(), fixture.base).expect("stage");
    assert!(
        staged.walked,
        "the feed cannot vouch for an index it did not see written"
    );
    assert_eq!(staged.changes, walked);
    commit_staged(&path, fixture.base, &staged, "a").expect("commit");
    pool.release(first).expect("release");

    let second = acquire(&pool, "b", fixture.base);
    assert!(!second.limited_reset, "a tainted tracker resets in full");
    assert_eq!(status(second.path()), "");
    write(second.path(), "b.txt", "b\n");
    let staged =
        stage_worktree_changes(second.path(), second.tracker(), fixture.base).expect("stage");
    assert!(
        !staged.walked,
        "the full reset made the tracker trustworthy again"
    );
    commit_staged(second.path(), fixture.base, &staged, "b").expect("commit");
    pool.release(second).expect("release");
    let third = acquire(&pool, "c", fixture.base);
    assert!(third.limited_reset);
    assert_eq!(status(third.path()), "");
}

#[test]
fn an_overflowing_feed_falls_back_to_walks_and_is_replaced() {
    let max_events: usize = fs::read_to_string("/proc/sys/fs/inotify/max_queued_events")
        .ok()
        .and_then(|text| text.trim().parse().ok())
        .unwrap_or(16_384);
    let (fixture, pool) = pooled();
    let first = acquire(&pool, "a", fixture.base);
    let path = first.path().to_path_buf();
    // More events than the kernel queues, in a directory watched from the start.
    for n in 0..(max_events / 2 + 100) {
        fs::write(path.join(format!("src/gen-{n}.txt")), "g\n").expect("write");
    }
    let walked = changed_paths(&path, fixture.base).expect("walk");
    let staged = stage_worktree_changes(&path, first.tracker(), fixture.base).expect("stage");
    assert!(staged.walked, "an overflowed feed is not trusted");
    assert_eq!(staged.changes, walked);
    assert_eq!(walked.len(), max_events / 2 + 100);
    commit_staged(&path, fixture.base, &staged, "a").expect("commit");
    pool.release(first).expect("release");

    let second = acquire(&pool, "b", fixture.base);
    assert!(!second.limited_reset, "a lost feed means a full reset");
    assert_eq!(status(second.path()), "");
    assert!(!second.path().join("src/gen-0.txt").exists());
    write(second.path(), "src/b.txt", "after overflow\n");
    let staged =
        stage_worktree_changes(second.path(), second.tracker(), fixture.base).expect("stage");
    assert!(!staged.walked, "a new feed replaced the lost one");
    assert_eq!(staged.changes.len(), 1);
}

#[test]
fn reset_of_a_kept_failed_worktree_is_limited_and_complete() {
    let (fixture, pool) = pooled();
    let other = run_step(&pool, "other", fixture.base, &[("other.txt", Some("o\n"))]);
    let first = acquire(&pool, "a", fixture.base);
    let path = first.path().to_path_buf();
    write(&path, "src/a.txt", "half done\n");
    write(&path, "target/cache.bin", "ignored\n");
    fs::remove_file(path.join("README.md")).expect("delete");
    // Staged (in memory) but never committed: the attempt failed its scope check.
    let staged = stage_worktree_changes(&path, first.tracker(), fixture.base).expect("stage");
    assert!(!staged.walked);
    pool.keep(first);
    // The retry starts elsewhere (its dependencies changed meanwhile).
    let retry = acquire(&pool, "a", other);
    assert!(retry.limited_reset);
    assert_eq!(status(retry.path()), "");
    assert_eq!(
        read(retry.path(), "src/a.txt").as_deref(),
        Some("a1\na2\na3\n")
    );
    assert_eq!(read(retry.path(), "other.txt").as_deref(), Some("o\n"));
    assert!(retry.path().join("README.md").exists());
    assert!(!retry.path().join("target").exists());
}

#[test]
fn staging_a_worktree_without_a_tracker_walks() {
    let (fixture, pool) = pooled();
    let worktree = acquire(&pool, "a", fixture.base);
    write(worktree.path(), "new.txt", "n\n");
    let staged = stage_worktree_changes(worktree.path(), None, fixture.base).expect("stage");
    assert!(staged.walked);
    assert_eq!(
        staged.changes,
        stage_changes(worktree.path(), fixture.base)
            .expect("stage")
            .changes
    );
}

#[test]
fn a_git_status_of_the_tool_refreshing_the_index_keeps_the_feed_in_use() {
    let (fixture, pool) = pooled();
    let worktree = acquire(&pool, "a", fixture.base);
    let path = worktree.path().to_path_buf();
    let index_file = fixture
        .path
        .join(".git/worktrees")
        .join(worktree.name())
        .join("index");
    let before = fs::read(&index_file).expect("index");
    // New stat data for an unchanged file: `git status` rewrites the index with it.
    let a = fs::File::options()
        .append(true)
        .open(path.join("src/a.txt"))
        .expect("open");
    a.set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(5))
        .expect("set mtime");
    drop(a);
    write(&path, "tool.txt", "t\n");
    git_cli(&path, &["status", "--porcelain"]);
    assert_ne!(
        fs::read(&index_file).expect("index"),
        before,
        "git refreshed the index"
    );
    let staged = stage_worktree_changes(&path, worktree.tracker(), fixture.base).expect("stage");
    assert!(
        !staged.walked,
        "the same entries with new stat data are not a foreign change"
    );
    assert_eq!(
        staged.changes,
        changed_paths(&path, fixture.base).expect("walk")
    );
    assert_eq!(staged.changes.len(), 1, "{:?}", staged.changes);
}

/// `chattr +i` on a file for the life of the guard (so that even root cannot replace
/// it); `None` where the file system or the user cannot. On drop the flag is cleared at
/// every place the file may have moved to (the pool moves worktrees).
struct Immutable(Vec<PathBuf>);

impl Immutable {
    fn set(path: &Path, may_move_to: &Path) -> Option<Immutable> {
        let done = std::process::Command::new("chattr")
            .arg("+i")
            .arg(path)
            .output()
            .is_ok_and(|out| out.status.success());
        done.then(|| Immutable(vec![path.to_path_buf(), may_move_to.to_path_buf()]))
    }
}

impl Drop for Immutable {
    fn drop(&mut self) {
        for path in &self.0 {
            let _ = std::process::Command::new("chattr")
                .arg("-i")
                .arg(path)
                .output();
        }
    }
}

#[test]
fn a_reset_that_fails_half_way_is_followed_by_a_full_one() {
    let (fixture, pool) = pooled();
    run_step(
        &pool,
        "other",
        fixture.base,
        &[("src/b.txt", Some("other\n"))],
    );
    let idle = fixture.path.join(".pipeline/worktrees/run-1/.pool");
    let name = fs::read_dir(&idle)
        .expect("pool")
        .next()
        .expect("one idle worktree")
        .expect("entry")
        .file_name();
    let step_dir = fixture.path.join(".pipeline/worktrees/run-1/a");
    let Some(guard) = Immutable::set(
        &idle.join(&name).join("src/b.txt"),
        &step_dir.join("src/b.txt"),
    ) else {
        eprintln!("skipped: chattr +i is not available here");
        return;
    };
    let error = pool
        .acquire("a", "pipeline-steps/run-1/a", fixture.base)
        .expect_err("src/b.txt cannot be restored");
    assert!(error.to_string().contains("b.txt"), "{error}");
    drop(guard);
    // The retry of the same step reuses the directory left at its path.
    let worktree = acquire(&pool, "a", fixture.base);
    assert!(
        !worktree.limited_reset,
        "after a failed reset only a full one is trusted"
    );
    assert_eq!(status(worktree.path()), "");
    assert_eq!(
        read(worktree.path(), "src/b.txt").as_deref(),
        Some("b1\nb2\nb3\n")
    );
}
