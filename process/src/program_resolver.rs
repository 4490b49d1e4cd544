//! Resolving a bare program name (`sh`, `aider`) to a path once, not at every spawn.
//!
//! Given a bare name, the standard library searches `PATH` at every spawn by trying to
//! execute the name in each directory in turn; every miss is a failed `exec` in the
//! forked child. A run that starts hundreds of short `sh -c` commands pays that each
//! time. The resolver looks a name up once per `PATH` value, like a shell's command hash
//! table, and the supervisor spawns the resolved path (keeping the bare name as
//! `argv[0]`, so the child sees what it would have seen).
//!
//! Rules:
//! - a program containing `/` is not looked up (it is a path already);
//! - the `PATH` searched is the one the child gets: the last `PATH` of the spec's `env`,
//!   else none when the spec clears the environment, else the supervisor's own;
//! - a `PATH` with a relative or empty entry is not resolved here (the answer would
//!   depend on the working directory): the standard library searches as before;
//! - only hits are cached, so a tool installed later is found; a cached path that fails
//!   to spawn is forgotten ([`forget`]) and the spawn retried with the bare name, so a
//!   tool moved or removed meanwhile behaves exactly as without the cache.

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::{LazyLock, Mutex, PoisonError};

/// Resolved paths by (program name, `PATH` value).
static RESOLVED: LazyLock<Mutex<HashMap<(OsString, OsString), PathBuf>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// The `PATH` a child started with `env` (applied in order, on top of the supervisor's
/// environment unless `env_clear`) searches, or `None` when it has none.
pub(crate) fn child_path(env: &[(OsString, OsString)], env_clear: bool) -> Option<OsString> {
    match env.iter().rev().find(|(name, _)| name == "PATH") {
        Some((_, value)) => Some(value.clone()),
        None if env_clear => None,
        None => std::env::var_os("PATH"),
    }
}

/// The executable `program` names on `path`: `None` when `program` holds a `/`, when no
/// directory of `path` has it, or when `path` has a relative entry.
pub(crate) fn resolve(program: &OsStr, path: Option<&OsStr>) -> Option<PathBuf> {
    let path = path?;
    if program.is_empty() || program.as_encoded_bytes().contains(&b'/') {
        return None;
    }
    let key = (program.to_os_string(), path.to_os_string());
    if let Some(found) = RESOLVED
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get(&key)
    {
        return Some(found.clone());
    }
    let found = search(program, path)?;
    RESOLVED
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(key, found.clone());
    Some(found)
}

/// Drops the cached resolution of `program` on `path` (after spawning it failed).
pub(crate) fn forget(program: &OsStr, path: Option<&OsStr>) {
    if let Some(path) = path {
        RESOLVED
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&(program.to_os_string(), path.to_os_string()));
    }
}

/// The first regular file named `program` with an execute bit in a directory of `path`.
fn search(program: &OsStr, path: &OsStr) -> Option<PathBuf> {
    let dirs: Vec<PathBuf> = std::env::split_paths(path).collect();
    if dirs
        .iter()
        .any(|dir| dir.as_os_str().is_empty() || dir.is_relative())
    {
        return None;
    }
    dirs.iter()
        .map(|dir| dir.join(program))
        .find(|candidate| is_executable_file(candidate))
}

fn is_executable_file(path: &Path) -> bool {
    path.metadata()
        .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests;
