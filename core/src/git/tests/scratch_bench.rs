use std::time::Instant;
use super::fixture::{Fixture, write, commit_all, status};
use crate::git::{WorktreePool, commit_worktree};

#[test]
fn scratch_bench() {
    let fixture = Fixture::new();
    for i in 0..5000 { write(&fixture.path, &format!("d{}/e{}/f{i}.txt", i % 50, i % 7), &format!("content {i}\n")); }
    let git = fixture.git2();
    let base = commit_all(&git, "5000 files");
    let pool = WorktreePool::new(fixture.repo.clone(), "bench");
    let t = Instant::now();
    let wt = pool.acquire("s0", "pipeline-steps/bench/s0", base).unwrap();
    eprintln!("fresh acquire: {:?}", t.elapsed());
    write(wt.path(), "d1/e1/f1.txt", "changed\n");
    let c = commit_worktree(wt.path(), base, "x").unwrap();
    pool.release(wt).unwrap();
    for i in 1..6 {
        let t = Instant::now();
        let start = if i % 2 == 0 { base } else { c };
        let wt = pool.acquire(&format!("s{i}"), &format!("pipeline-steps/bench/s{i}"), start).unwrap();
        let a = t.elapsed();
        let t = Instant::now();
        let ch = crate::git::changed_paths(wt.path(), start).unwrap();
        let b = t.elapsed();
        let t = Instant::now();
        commit_worktree(wt.path(), start, "y").unwrap();
        let cc = t.elapsed();
        let t = Instant::now();
        pool.release(wt).unwrap();
        eprintln!("reuse acquire: {a:?} changed_paths: {b:?} ({}) commit: {cc:?} release: {:?}", ch.len(), t.elapsed());
    }
    let wt = pool.acquire("z", "pipeline-steps/bench/z", base).unwrap();
    assert_eq!(status(wt.path()), "");
}
