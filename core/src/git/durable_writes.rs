//! Making what git writes survive a power loss (`--durability full`).
//!
//! libgit2 writes loose objects, refs and index files through a temporary file that it
//! renames into place, and by default never fsyncs them: after an OS crash or a power
//! loss a ref may name an object whose file is empty or missing, so the state database
//! could say "completed, commit X" while X is gone. libgit2's process-global option
//! `GIT_OPT_ENABLE_FSYNC_GITDIR` makes every such write fsync the file before the rename
//! and its directory after it (git2 has no safe setter for it, hence the one `unsafe`
//! call below). Two gaps remain, which [`sync_new_directories`] closes after each step's
//! commit and each branch the engine sets: a new fan-out directory `objects/xy/` or a
//! new ref directory (`refs/heads/pipeline-steps/<run>/`) is itself an entry of its
//! parent, which libgit2 does not fsync.
//!
//! The option is process-wide and read when a repository's ref database is opened, so
//! the run sets it ([`set_durable_writes`]) before it opens any repository, once per
//! run (a `pipeline` process runs one run). `--durability normal` turns it off: no git
//! write is fsynced, as before.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use super::GitError;

/// Whether git writes are fsynced (mirrors the libgit2 option, which cannot be read back).
static DURABLE: AtomicBool = AtomicBool::new(false);

/// Turns fsync of every file libgit2 writes under a git directory (objects, refs,
/// index, reflogs) on or off, for the whole process; on for `--durability full`. Set it
/// before opening the repositories of a run: a repository opened earlier keeps
/// unsynced refs.
pub fn set_durable_writes(enabled: bool) {
    git2_init();
    // SAFETY: `git_libgit2_opts` with GIT_OPT_ENABLE_FSYNC_GITDIR reads exactly one `int`
    // vararg (libgit2 1.9 `settings.c`), which is what is passed; it only stores a flag
    // in a global and cannot fail. libgit2 is initialised above (git2 does it lazily).
    #[allow(unsafe_code)]
    let status = unsafe {
        libgit2_sys::git_libgit2_opts(
            libgit2_sys::GIT_OPT_ENABLE_FSYNC_GITDIR as std::ffi::c_int,
            std::ffi::c_int::from(enabled),
        )
    };
    debug_assert!(status >= 0, "git_libgit2_opts(ENABLE_FSYNC_GITDIR) failed");
    DURABLE.store(enabled, Ordering::SeqCst);
}

/// Whether [`set_durable_writes`] turned fsync on.
pub fn durable_writes() -> bool {
    DURABLE.load(Ordering::SeqCst)
}

/// libgit2's global initialisation, which git2 runs before its first call.
fn git2_init() {
    // Any git2 call initialises libgit2; this one has no other effect.
    let _version = git2::Version::get();
}

/// After a commit and a ref update under durable writes: fsyncs the directories whose
/// new entries libgit2 leaves unsynced, `objects/` (new fan-out directories) and every
/// directory from `refs/` down to the one holding `reference` (e.g.
/// `refs/heads/pipeline-steps/r1/`), all in the repository's common git directory. Does
/// nothing when durable writes are off.
///
/// Errors: [`GitError::Io`] when a directory cannot be opened or synced.
pub(crate) fn sync_new_directories(
    repo: &git2::Repository,
    reference: &str,
) -> Result<(), GitError> {
    if !durable_writes() {
        return Ok(());
    }
    let common = repo.commondir();
    sync_dir(&common.join("objects"))?;
    let mut dir = common.to_path_buf();
    let mut parts: Vec<&str> = reference.split('/').collect();
    parts.pop(); // the ref file itself, which libgit2 synced
    for part in parts {
        dir.push(part);
        sync_dir(&dir)?;
    }
    Ok(())
}

fn sync_dir(dir: &Path) -> Result<(), GitError> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|cause| GitError::Io {
            action: "fsync the directory".into(),
            path: dir.to_path_buf(),
            cause,
        })
}
