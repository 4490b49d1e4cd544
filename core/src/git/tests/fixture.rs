//! A temporary repository with a known first commit, and small file and git helpers.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use tempfile::TempDir;

use crate::git::Repository;

/// A repository in a temporary directory whose first commit holds `README.md`,
/// `src/a.txt`, `src/b.txt`, `run.sh` (executable) and a `.gitignore` ignoring
/// `target/` and `*.log`.
pub(super) struct Fixture {
    _dir: TempDir,
    pub(super) path: PathBuf,
    pub(super) repo: Repository,
    pub(super) base: git2::Oid,
}

impl Fixture {
    pub(super) fn new() -> Fixture {
        let dir = tempfile::tempdir().expect("create a temporary directory");
        let path = fs::canonicalize(dir.path()).expect("canonicalize the temporary directory");
        let git = git2::Repository::init(&path).expect("git init");
        {
            let mut config = git.config().expect("open repository config");
            config
                .set_str("user.name", "Test User")
                .expect("set user.name");
            config
                .set_str("user.email", "test@example.com")
                .expect("set user.email");
        }
        write(&path, "README.md", "readme\n");
        write(&path, "src/a.txt", "a1\na2\na3\n");
        write(&path, "src/b.txt", "b1\nb2\nb3\n");
        write(&path, ".gitignore", "target/\n*.log\n");
        write(&path, "run.sh", "#!/bin/sh\necho run\n");
        set_executable(&path.join("run.sh"), true);
        let base = commit_all(&git, "initial commit");
        let repo = Repository::open(&path).expect("open the fixture repository");
        Fixture {
            _dir: dir,
            path,
            repo,
            base,
        }
    }

    pub(super) fn git2(&self) -> git2::Repository {
        git2::Repository::open(&self.path).expect("open the fixture with git2")
    }
}

/// Stages everything in the repository's working directory and commits on HEAD.
pub(super) fn commit_all(git: &git2::Repository, message: &str) -> git2::Oid {
    let mut index = git.index().expect("open index");
    index
        .add_all(["*"], git2::IndexAddOption::DEFAULT, None)
        .expect("add all");
    index.update_all(["*"], None).expect("update all");
    index.write().expect("write index");
    let tree = git
        .find_tree(index.write_tree().expect("write tree"))
        .expect("find tree");
    let signature = git2::Signature::now("Test User", "test@example.com").expect("signature");
    let parent = git.head().ok().and_then(|head| head.peel_to_commit().ok());
    let parents: Vec<&git2::Commit<'_>> = parent.iter().collect();
    git.commit(
        Some("HEAD"),
        &signature,
        &signature,
        message,
        &tree,
        &parents,
    )
    .expect("commit")
}

pub(super) fn write(dir: &Path, relative: &str, content: &str) {
    let path = dir.join(relative);
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).expect("create parent directory");
    }
    fs::write(&path, content).expect("write file");
}

pub(super) fn read(dir: &Path, relative: &str) -> Option<String> {
    fs::read_to_string(dir.join(relative)).ok()
}

pub(super) fn set_executable(path: &Path, executable: bool) {
    use std::os::unix::fs::PermissionsExt;
    let mode = if executable { 0o755 } else { 0o644 };
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).expect("chmod");
}

pub(super) fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(path).expect("stat").permissions().mode() & 0o111 != 0
}

/// Runs the real `git` CLI in `dir` and returns its standard output; panics with git's
/// standard error when it fails.
pub(super) fn git_cli(dir: &Path, args: &[&str]) -> String {
    let output = Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run the git command line (is git installed?)");
    assert!(
        output.status.success(),
        "git {args:?} failed in {}: {}",
        dir.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Paths of `git worktree list --porcelain`, in git's order (main worktree first).
pub(super) fn listed_worktrees(dir: &Path) -> Vec<PathBuf> {
    git_cli(dir, &["worktree", "list", "--porcelain"])
        .lines()
        .filter_map(|line| line.strip_prefix("worktree "))
        .map(PathBuf::from)
        .collect()
}

/// `git status --porcelain --ignored --untracked-files=all` in `dir`: empty when the
/// worktree is exactly its HEAD commit, ignored files included.
pub(super) fn status(dir: &Path) -> String {
    git_cli(
        dir,
        &[
            "status",
            "--porcelain",
            "--ignored",
            "--untracked-files=all",
        ],
    )
}

/// The paths of the tree of `commit`, sorted.
pub(super) fn tree_paths(git: &git2::Repository, commit: git2::Oid) -> Vec<String> {
    let tree = git
        .find_commit(commit)
        .and_then(|commit| commit.tree())
        .expect("read tree");
    let mut paths = Vec::new();
    tree.walk(git2::TreeWalkMode::PreOrder, |root, entry| {
        if entry.kind() == Some(git2::ObjectType::Blob) {
            paths.push(format!("{root}{}", entry.name().unwrap_or_default()));
        }
        git2::TreeWalkResult::Ok
    })
    .expect("walk tree");
    paths.sort();
    paths
}

/// Runs a step by hand: acquires `step` in `pool` at `start` on branch
/// `pipeline-steps/test/<step>`, applies `edits` (`Some(content)` writes, `None`
/// deletes), commits, releases, and returns the step's result commit.
pub(super) fn run_step(
    pool: &crate::git::WorktreePool,
    step: &str,
    start: git2::Oid,
    edits: &[(&str, Option<&str>)],
) -> git2::Oid {
    let worktree = pool
        .acquire(step, &format!("pipeline-steps/test/{step}"), start)
        .expect("acquire");
    for (path, content) in edits {
        match content {
            Some(content) => write(worktree.path(), path, content),
            None => fs::remove_file(worktree.path().join(path)).expect("delete file"),
        }
    }
    let result = crate::git::commit_worktree(worktree.path(), start, &format!("step {step}"))
        .expect("commit");
    pool.release(worktree).expect("release");
    result
}
