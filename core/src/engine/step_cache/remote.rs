//! The shared step cache through a git remote (`cache: {remote: NAME}` in
//! `.pipeline/config.yaml`; docs/CACHE.md "The shared cache").
//!
//! An entry on the remote is one commit at `refs/pipeline-cache/<key>`:
//!
//! ```text
//!  start commit ◄── cache commit (tree = the step's result tree)
//!                     message: the result commit's message, then trailers
//!                       Pipeline-Cache-Key: <key>
//!                       Pipeline-Cache-Run: <run>     Pipeline-Cache-Step: <step>
//!                       Pipeline-Cache-Start: <start> Pipeline-Cache-Result: <result>
//!                       Pipeline-Cache-Parts: <the key's parts, compact JSON>
//! ```
//!
//! Its only parent is the step's start commit, so the cached change (the commit against its
//! parent) re-applies like a local entry's. Pushes and fetches use the git CLI (the
//! user's remotes, credentials and transports as `git push` has them), with
//! `GIT_TERMINAL_PROMPT=0` and a time limit ([`NETWORK_TIMEOUT`]); every failure is
//! returned as text for a warning, never an error of the run.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use git2::Oid;

use crate::state::CacheEntry;

/// How long one `git push`, `git fetch` or `git ls-remote` may take before it is stopped.
pub(crate) const NETWORK_TIMEOUT: Duration = Duration::from_secs(120);

/// The ref namespace of the shared cache.
pub(crate) const REF_PREFIX: &str = "refs/pipeline-cache/";

const KEY: &str = "Pipeline-Cache-Key";
const RUN: &str = "Pipeline-Cache-Run";
const STEP: &str = "Pipeline-Cache-Step";
const START: &str = "Pipeline-Cache-Start";
const RESULT: &str = "Pipeline-Cache-Result";
const PARTS: &str = "Pipeline-Cache-Parts";

/// The first words of the `reason` of an entry satisfied from the shared cache: the entry
/// reads `taken from the shared cache (remote NAME)`.
pub(crate) const SHARED_REASON: &str = "taken from the shared cache (remote ";

/// The `reason` of an entry whose result was taken from `remote`.
pub(crate) fn shared_reason(remote: &str) -> String {
    format!("{SHARED_REASON}{remote})")
}

/// The remote named by a `reason` written by [`shared_reason`].
pub(crate) fn remote_of_reason(reason: &str) -> Option<&str> {
    reason.strip_prefix(SHARED_REASON)?.strip_suffix(')')
}

/// The shared cache's remote of the repository whose state directory is `state_dir`
/// (`cache.remote` of its `config.yaml`); `Err` with the configuration error's text.
pub(crate) fn configured_remote(state_dir: &Path) -> Result<Option<String>, String> {
    pipeline_adapters::CacheSettings::load(&state_dir.join("config.yaml"))
        .map(|s| s.remote)
        .map_err(|e| e.to_string())
}

/// `git ARGS` in `repo_root` without prompts, stopped after [`NETWORK_TIMEOUT`]: its
/// stdout, or its stderr's last lines as the error.
pub(crate) fn git(repo_root: &Path, args: &[&str]) -> Result<String, String> {
    let mut child = Command::new("git")
        .args(args)
        .current_dir(repo_root)
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_ASKPASS", "true")
        .env("SSH_ASKPASS", "true")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run git: {e}"))?;
    let deadline = Instant::now() + NETWORK_TIMEOUT;
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "`git {}` took longer than {} s and was stopped",
                    args.first().copied().unwrap_or_default(),
                    NETWORK_TIMEOUT.as_secs()
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(format!("cannot wait for git: {e}")),
        }
    }
    let out = child
        .wait_with_output()
        .map_err(|e| format!("cannot read git's output: {e}"))?;
    if out.status.success() {
        return Ok(String::from_utf8_lossy(&out.stdout).into_owned());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let tail: Vec<&str> = stderr
        .lines()
        .filter(|l| !l.trim().is_empty())
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .take(3)
        .collect();
    let tail: Vec<&str> = tail.into_iter().rev().collect();
    Err(format!(
        "`git {}` failed ({}): {}",
        args.first().copied().unwrap_or_default(),
        out.status,
        tail.join(" / ")
    ))
}

/// Writes the cache commit of `entry` (a step that ran and completed, see the module docs)
/// and pushes it to `refs/pipeline-cache/<key>` on `remote`, replacing what is there.
/// Returns the cache commit.
pub(crate) fn push(repo_root: &Path, remote: &str, entry: &CacheEntry) -> Result<Oid, String> {
    let commit = cache_commit(repo_root, entry).map_err(|e| {
        format!(
            "cannot write the shared cache commit of {}: {e}",
            entry.step_id
        )
    })?;
    let refspec = format!("+{commit}:{REF_PREFIX}{}", entry.key);
    git(
        repo_root,
        &["push", "--quiet", "--no-verify", remote, &refspec],
    )?;
    Ok(commit)
}

fn cache_commit(repo_root: &Path, entry: &CacheEntry) -> Result<Oid, git2::Error> {
    let repo = git2::Repository::open(repo_root)?;
    let result = repo.find_commit(Oid::from_str(&entry.result_commit)?)?;
    let start = repo.find_commit(Oid::from_str(&entry.start_commit)?)?;
    let message = format!(
        "{}\n\n{KEY}: {}\n{RUN}: {}\n{STEP}: {}\n{START}: {}\n{RESULT}: {}\n{PARTS}: {}\n",
        result
            .message()
            .unwrap_or("pipeline: step result")
            .trim_end(),
        entry.key,
        entry.run_id,
        entry.step_id,
        entry.start_commit,
        entry.result_commit,
        entry.parts,
    );
    repo.commit(
        None,
        &result.author(),
        &result.committer(),
        &message,
        &result.tree()?,
        &[&start],
    )
}

/// Fetches `refs/pipeline-cache/<key>` from `remote` into the same local ref and reads the
/// entry it carries: `Ok(None)` when the remote has no such ref. The entry's
/// `result_commit` is the cache commit and its `start_commit` that commit's parent, so it
/// re-applies like a local entry; `run_id`, `step_id` and `parts` come from its trailers.
pub(crate) fn fetch(
    repo_root: &Path,
    remote: &str,
    key: &str,
) -> Result<Option<CacheEntry>, String> {
    let refname = format!("{REF_PREFIX}{key}");
    let refspec = format!("+{refname}:{refname}");
    match git(
        repo_root,
        &[
            "fetch",
            "--quiet",
            "--no-tags",
            "--no-write-fetch-head",
            remote,
            &refspec,
        ],
    ) {
        Ok(_) => {}
        Err(e) if e.contains("couldn't find remote ref") => return Ok(None),
        Err(e) => return Err(e),
    }
    let read = || -> Result<Option<CacheEntry>, git2::Error> {
        let repo = git2::Repository::open(repo_root)?;
        let commit = repo.find_reference(&refname)?.peel_to_commit()?;
        Ok(entry_of_commit(&commit, key))
    };
    read().map_err(|e| format!("cannot read the fetched {refname}: {e}"))
}

/// The entry a cache commit carries; `None` when it is not one for `key` (no trailers,
/// another key, not exactly one parent).
fn entry_of_commit(commit: &git2::Commit<'_>, key: &str) -> Option<CacheEntry> {
    let message = std::str::from_utf8(commit.message_bytes()).ok()?;
    let trailer = |name: &str| {
        message
            .lines()
            .rev()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(": "))
            .map(str::to_owned)
    };
    if trailer(KEY)? != key || commit.parent_count() != 1 {
        return None;
    }
    Some(CacheEntry {
        run_id: trailer(RUN)?,
        step_id: trailer(STEP)?,
        key: key.to_owned(),
        parts: trailer(PARTS).unwrap_or_default(),
        result_commit: commit.id().to_string(),
        start_commit: commit.parent_id(0).ok()?.to_string(),
        cached_from: None,
        reason: None,
        created_at: String::new(),
    })
}

/// The keys of the entries on `remote` (`git ls-remote`), sorted.
pub(crate) fn list(repo_root: &Path, remote: &str) -> Result<Vec<String>, String> {
    let pattern = format!("{REF_PREFIX}*");
    let out = git(repo_root, &["ls-remote", "--refs", remote, &pattern])?;
    let mut keys: Vec<String> = out
        .lines()
        .filter_map(|l| l.split_once('\t'))
        .filter_map(|(_, name)| name.strip_prefix(REF_PREFIX))
        .map(str::to_owned)
        .collect();
    keys.sort();
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shared_reason_names_its_remote() {
        assert_eq!(remote_of_reason(&shared_reason("origin")), Some("origin"));
        assert_eq!(remote_of_reason("--no-cache"), None);
    }
}
