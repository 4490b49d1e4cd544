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
//!
//! A lookup ([`fetch_listed`]) first consults the remote's list of keys (one
//! `git ls-remote`, kept for [`LISTING_TTL`] per repository and remote), so that a run of
//! many steps that miss costs one round trip to the remote, not one `git fetch` per step;
//! only keys the list holds are fetched. An entry pushed by another machine after the
//! list was read is seen once the list is read again.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
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

/// How long a remote's list of keys is used before it is read again.
pub(crate) const LISTING_TTL: Duration = Duration::from_secs(30);

/// A remote's keys as read at `read_at`.
struct Listing {
    read_at: Instant,
    keys: Arc<BTreeSet<String>>,
}

/// The lists of keys read in this process, by repository and remote.
static LISTINGS: Mutex<Option<HashMap<(PathBuf, String), Listing>>> = Mutex::new(None);

/// The keys on `remote`, from the list read less than [`LISTING_TTL`] ago, else read now
/// (and kept); `Err` when the remote cannot be listed.
fn listed_keys(repo_root: &Path, remote: &str) -> Result<Arc<BTreeSet<String>>, String> {
    let id = (repo_root.to_path_buf(), remote.to_owned());
    {
        let listings = LISTINGS.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(listing) = listings.as_ref().and_then(|l| l.get(&id))
            && listing.read_at.elapsed() < LISTING_TTL
        {
            return Ok(listing.keys.clone());
        }
    }
    // Read without the lock held: concurrent steps may list twice, never wait on git.
    let keys = Arc::new(
        list(repo_root, remote)?
            .into_iter()
            .collect::<BTreeSet<_>>(),
    );
    LISTINGS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get_or_insert_with(HashMap::new)
        .insert(
            id,
            Listing {
                read_at: Instant::now(),
                keys: keys.clone(),
            },
        );
    Ok(keys)
}

/// [`fetch`] for a lookup: `Ok(None)` without fetching when the remote's list of keys
/// (see the module docs) lacks `key`; when the list cannot be read, the fetch is tried
/// anyway (its error is the one to report).
pub(crate) fn fetch_listed(
    repo_root: &Path,
    remote: &str,
    key: &str,
) -> Result<Option<CacheEntry>, String> {
    match listed_keys(repo_root, remote) {
        Ok(keys) if !keys.contains(key) => Ok(None),
        _ => fetch(repo_root, remote, key),
    }
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

    fn git_ok(dir: &Path, args: &[&str]) {
        let status = Command::new("git")
            .args(args)
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "git {args:?}");
    }

    #[test]
    fn a_lookup_of_a_key_the_listing_lacks_does_not_fetch() {
        let dir = tempfile::tempdir().unwrap();
        let bare = dir.path().join("shared.git");
        let repo = dir.path().join("repo");
        std::fs::create_dir_all(&repo).unwrap();
        git_ok(
            dir.path(),
            &["init", "-q", "--bare", bare.to_str().unwrap()],
        );
        git_ok(&repo, &["init", "-q"]);
        git_ok(
            &repo,
            &[
                "-c",
                "user.name=t",
                "-c",
                "user.email=t@localhost",
                "commit",
                "-q",
                "--allow-empty",
                "-m",
                "base",
            ],
        );
        git_ok(&repo, &["remote", "add", "shared", bare.to_str().unwrap()]);
        let present = "a".repeat(64);
        git_ok(
            &repo,
            &[
                "push",
                "-q",
                "shared",
                &format!("HEAD:{REF_PREFIX}{present}"),
            ],
        );
        // The first lookup lists the remote; a key it lacks is a miss without a fetch.
        assert_eq!(fetch_listed(&repo, "shared", &"b".repeat(64)), Ok(None));
        assert!(listed_keys(&repo, "shared").unwrap().contains(&present));
        // With the remote gone, lookups within the listing's lifetime still answer
        // misses from it (no network), while a listed key's fetch reports the error.
        std::fs::remove_dir_all(&bare).unwrap();
        assert_eq!(fetch_listed(&repo, "shared", &"c".repeat(64)), Ok(None));
        assert!(fetch_listed(&repo, "shared", &present).is_err());
    }

    #[test]
    fn a_shared_reason_names_its_remote() {
        assert_eq!(remote_of_reason(&shared_reason("origin")), Some("origin"));
        assert_eq!(remote_of_reason("--no-cache"), None);
    }
}
