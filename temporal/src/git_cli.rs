//! The few git commands a worker and the submitter run against the shared remote, through
//! the `git` CLI (it speaks every transport and uses the user's credential helpers, which
//! libgit2 does not).

use std::path::Path;
use std::process::Stdio;

use crate::temporal_error::TemporalError;

/// Runs `git -C dir args...`; returns its stdout (trimmed). Errors:
/// [`TemporalError::Git`] with the command and git's stderr when git fails or cannot be
/// started.
pub async fn git(dir: &Path, args: &[&str]) -> Result<String, TemporalError> {
    let output = tokio::process::Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .stdin(Stdio::null())
        .env("GIT_TERMINAL_PROMPT", "0")
        .output()
        .await
        .map_err(|e| TemporalError::Git {
            command: format!("git {}", args.join(" ")),
            dir: dir.to_path_buf(),
            message: format!("cannot start git: {e}"),
        })?;
    if !output.status.success() {
        return Err(TemporalError::Git {
            command: format!("git {}", args.join(" ")),
            dir: dir.to_path_buf(),
            message: String::from_utf8_lossy(&output.stderr).trim().to_string(),
        });
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
}

/// The commit `refname` points at on `remote` (`git ls-remote`), or `None` when the
/// remote has no such ref.
pub async fn remote_ref(
    dir: &Path,
    remote: &str,
    refname: &str,
) -> Result<Option<String>, TemporalError> {
    let out = git(dir, &["ls-remote", "--", remote, refname]).await?;
    Ok(out.lines().find_map(|line| {
        let (oid, name) = line.split_once('\t')?;
        (name == refname).then(|| oid.to_string())
    }))
}

/// Checks that `dir` is a git repository with a remote named `remote`; returns the
/// remote's URL. Errors: [`TemporalError::Invalid`] naming the directory or the remote.
pub async fn check_remote(dir: &Path, remote: &str) -> Result<String, TemporalError> {
    if git(dir, &["rev-parse", "--git-dir"]).await.is_err() {
        return Err(TemporalError::Invalid(format!(
            "{} is not a git repository: give --repo the worker's clone of the shared \
             repository",
            dir.display()
        )));
    }
    git(dir, &["remote", "get-url", "--", remote])
        .await
        .map_err(|_| {
            TemporalError::Invalid(format!(
                "the repository {} has no remote named `{remote}`: add it (git remote add \
                 {remote} URL) or pass --remote NAME",
                dir.display()
            ))
        })
}
