//! The write sandbox of a child process: on Linux, a Landlock ruleset built from a
//! [`SandboxPolicy`](crate::SandboxPolicy) and enforced on the child just before it
//! executes its program.
//!
//! # What the ruleset says
//!
//! The ruleset *handles* (that is, denies unless a rule allows) every write-ish file
//! system right of Landlock ABI 8 (`WriteFile`, `RemoveDir`, `RemoveFile`, `Make*`,
//! `Refer`, `Truncate`, `IoctlDev`), with [`CompatLevel::BestEffort`]: on an older kernel
//! the rights it does not know are left out (ABI 1 lacks `Refer`, ABI 1-2 `Truncate`,
//! ABI 1-4 `IoctlDev`). Read and execute rights are not handled, so the child reads and
//! executes everything it could before. Rules then allow all those write rights below
//! each writable path of the policy, plus below what every program needs to write:
//! [`SYSTEM_WRITABLE`] (`/dev/null`, terminals, `/dev/shm`). The ABI-9 right
//! `ResolveUnix` (connecting to a Unix socket by path) is deliberately not handled: it
//! is not a write to the file system, and agents talk to local daemons that way.
//!
//! A writable path that does not exist when the child starts is left out (nothing can
//! be created there either, since its parent is not writable); one that is a file gets
//! the rights that apply to files.
//!
//! # Where it is enforced
//!
//! The ruleset is created before the spawn ([`prepare`]), with every path opened there;
//! a short-lived thread then calls `prctl(PR_SET_NO_NEW_PRIVS)` and
//! `landlock_restrict_self(ruleset_fd)` on itself ([`PreparedSandbox::enforce`]; both
//! apply to the calling thread only) and spawns the child, which inherits the thread's
//! domain (`spawn_contained` in the supervisor). A Landlock domain is inherited by every
//! descendant and can only be narrowed, never widened, so nothing the tool starts can
//! write outside either.

use std::io;

use crate::SandboxPolicy;

/// Whether this machine can sandbox steps, as [`sandbox_support`] reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SandboxSupport {
    /// Landlock is available; `abi` is the ABI version in use (the kernel's, capped at
    /// the newest the `landlock` crate knows).
    Available {
        /// Landlock ABI version, 1 or more.
        abi: u32,
    },
    /// No sandbox can be enforced; `reason` says why in one sentence (other platform,
    /// kernel without Landlock, Landlock not enabled at boot).
    Unavailable {
        /// Why, for `pipeline tools` and the run's warning.
        reason: String,
    },
}

impl SandboxSupport {
    /// Whether a sandbox can be enforced.
    pub fn is_available(&self) -> bool {
        matches!(self, SandboxSupport::Available { .. })
    }
}

impl std::fmt::Display for SandboxSupport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SandboxSupport::Available { abi } => write!(f, "available (Landlock ABI {abi})"),
            SandboxSupport::Unavailable { reason } => write!(f, "unavailable: {reason}"),
        }
    }
}

/// Whether this machine can sandbox a child's writes (probed once per process, then
/// remembered). On Linux this asks the kernel for its Landlock ABI version without
/// restricting anything; on other platforms it is always unavailable.
pub fn sandbox_support() -> SandboxSupport {
    static SUPPORT: std::sync::OnceLock<SandboxSupport> = std::sync::OnceLock::new();
    SUPPORT.get_or_init(imp::probe).clone()
}

/// A sandbox ready to be enforced on a child: built in the parent by [`prepare`].
pub(crate) struct PreparedSandbox {
    #[cfg(target_os = "linux")]
    ruleset: Option<landlock::RulesetCreated>,
}

/// Builds the ruleset of `policy` in the calling (parent) process: opens each writable
/// path and creates the Landlock ruleset file descriptor. `Ok(None)` when the machine
/// cannot sandbox ([`sandbox_support`] says why; the run warns once).
///
/// # Errors
/// The kernel refuses to create the ruleset or to add a rule (not expected once Landlock
/// is available).
pub(crate) fn prepare(policy: &SandboxPolicy) -> io::Result<Option<PreparedSandbox>> {
    if !sandbox_support().is_available() {
        return Ok(None);
    }
    imp::prepare(policy)
}

/// Paths every sandboxed process may write below, whatever the policy: the null and
/// zero devices, terminals (a tool may open `/dev/tty` for prompts or colours), and POSIX
/// shared memory (`/dev/shm`, used by Python's multiprocessing and by browsers).
pub const SYSTEM_WRITABLE: &[&str] = &[
    "/dev/null",
    "/dev/zero",
    "/dev/full",
    "/dev/tty",
    "/dev/ptmx",
    "/dev/pts",
    "/dev/shm",
];

#[cfg(target_os = "linux")]
mod imp {
    use std::io;
    use std::path::Path;

    use landlock::{
        ABI, AccessFs, BitFlags, CompatLevel, Compatible, LandlockStatus, PathBeneath, PathFd,
        RestrictSelf, Ruleset, RulesetAttr, RulesetCreatedAttr,
    };

    use super::{PreparedSandbox, SYSTEM_WRITABLE, SandboxSupport};
    use crate::SandboxPolicy;

    /// The ABI whose write rights the ruleset handles (see the module documentation).
    const TARGET_ABI: ABI = ABI::V8;

    pub(super) fn probe() -> SandboxSupport {
        // With no flags and no `no_new_privs`, `apply` only asks the kernel for its ABI
        // version (`landlock_create_ruleset(NULL, 0, VERSION)`) and restricts nothing.
        match RestrictSelf::default().no_new_privs(false).apply() {
            Ok(status) => match status.landlock {
                LandlockStatus::Available { effective_abi, .. } => SandboxSupport::Available {
                    abi: effective_abi as u32,
                },
                LandlockStatus::NotEnabled => SandboxSupport::Unavailable {
                    reason: "the kernel has Landlock but it is not enabled (add `landlock` to \
                             the `lsm=` boot parameter)"
                        .to_owned(),
                },
                LandlockStatus::NotImplemented => SandboxSupport::Unavailable {
                    reason: "the kernel has no Landlock (Linux 5.13 or later built with \
                             CONFIG_SECURITY_LANDLOCK is needed)"
                        .to_owned(),
                },
            },
            Err(error) => SandboxSupport::Unavailable {
                reason: format!("probing Landlock failed: {error}"),
            },
        }
    }

    fn to_io(error: impl std::error::Error + Send + Sync + 'static) -> io::Error {
        io::Error::other(error)
    }

    pub(super) fn prepare(policy: &SandboxPolicy) -> io::Result<Option<PreparedSandbox>> {
        let write = AccessFs::from_write(TARGET_ABI);
        let file_rights = write & AccessFs::from_file(TARGET_ABI);
        let mut ruleset = Ruleset::default()
            .set_compatibility(CompatLevel::BestEffort)
            .handle_access(write)
            .map_err(to_io)?
            .create()
            .map_err(to_io)?;
        let system = SYSTEM_WRITABLE.iter().map(Path::new);
        for path in system.chain(policy.writable.iter().map(|p| p.as_path())) {
            let Some(rights) = rights_for(path, write, file_rights) else {
                tracing::debug!(path = %path.display(), "sandbox: writable path does not exist, left out");
                continue;
            };
            let Ok(fd) = PathFd::new(path) else {
                tracing::debug!(path = %path.display(), "sandbox: writable path cannot be opened, left out");
                continue;
            };
            ruleset = ruleset
                .add_rule(PathBeneath::new(fd, rights))
                .map_err(to_io)?;
        }
        Ok(Some(PreparedSandbox {
            ruleset: Some(ruleset),
        }))
    }

    /// The rights to grant below `path`: all write rights for a directory, the file
    /// subset for anything else; `None` when it does not exist.
    fn rights_for(
        path: &Path,
        dir: BitFlags<AccessFs>,
        file: BitFlags<AccessFs>,
    ) -> Option<BitFlags<AccessFs>> {
        let metadata = std::fs::metadata(path).ok()?;
        Some(if metadata.is_dir() { dir } else { file })
    }

    impl PreparedSandbox {
        /// Restricts the calling thread, for good: `prctl(PR_SET_NO_NEW_PRIVS, 1)` then
        /// `landlock_restrict_self(fd, 0)` (both per thread), and closes the ruleset fd.
        /// Meant for a thread that only spawns the sandboxed child and ends. The
        /// `landlock` crate's `RulesetCreated::restrict_self` (0.4.8, read for this) makes
        /// exactly those two system calls and closes the fd on drop; it neither allocates
        /// nor takes a lock, so it would also be safe between `fork` and `exec`. A second
        /// call does nothing.
        ///
        /// # Errors
        /// The error of the failed system call (`errno`), which makes the spawn fail.
        pub(crate) fn enforce(&mut self) -> io::Result<()> {
            let Some(ruleset) = self.ruleset.take() else {
                return Ok(());
            };
            match ruleset.restrict_self() {
                Ok(_) => Ok(()),
                // Not `to_io(error)`: that would allocate. errno still names the cause.
                Err(_) => Err(io::Error::last_os_error()),
            }
        }
    }
}

#[cfg(not(target_os = "linux"))]
mod imp {
    use std::io;

    use super::{PreparedSandbox, SandboxSupport};
    use crate::SandboxPolicy;

    pub(super) fn probe() -> SandboxSupport {
        SandboxSupport::Unavailable {
            reason: "the write sandbox needs Linux Landlock; this platform has none".to_owned(),
        }
    }

    pub(super) fn prepare(_policy: &SandboxPolicy) -> io::Result<Option<PreparedSandbox>> {
        Ok(None)
    }

    impl PreparedSandbox {
        pub(crate) fn enforce(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use std::path::PathBuf;

    use tokio_util::sync::CancellationToken;

    use super::*;
    use crate::{Containment, OutputLimits, ProcessSpec, Termination, run_process};

    /// Skips (with a message) where Landlock is missing, except under CI, where the
    /// machines have it and a missing sandbox is a failure.
    fn landlock_or_skip() -> bool {
        let support = sandbox_support();
        if support.is_available() {
            return true;
        }
        assert!(
            std::env::var_os("CI").is_none(),
            "CI machines have Landlock, but the sandbox is {support}"
        );
        eprintln!("skipped: sandbox {support}");
        false
    }

    async fn sandboxed_sh(
        script: &str,
        cwd: &std::path::Path,
        writable: Vec<PathBuf>,
    ) -> (i32, String) {
        let mut spec = ProcessSpec::new("sh", ["-c", script], cwd);
        spec.containment = Containment {
            marker: None,
            sandbox: Some(SandboxPolicy { writable }),
        };
        let log = tempfile::tempdir().unwrap();
        let outcome = run_process(
            &spec,
            &log.path().join("attempt.log"),
            &OutputLimits::default(),
            None,
            CancellationToken::new(),
        )
        .await
        .unwrap();
        let code = match outcome.termination {
            Termination::Exited(code) => code,
            other => panic!("unexpected termination {other:?}"),
        };
        (code, outcome.tail)
    }

    #[tokio::test]
    async fn a_write_outside_the_writable_paths_is_denied_with_eacces() {
        if !landlock_or_skip() {
            return;
        }
        let inside = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let target = outside.path().join("outside.txt");
        let (code, tail) = sandboxed_sh(
            &format!("echo x > '{}'", target.display()),
            inside.path(),
            vec![inside.path().to_path_buf()],
        )
        .await;
        assert_ne!(code, 0, "the write must fail: {tail}");
        assert!(tail.contains("Permission denied"), "{tail}");
        assert!(!target.exists());
    }

    #[tokio::test]
    async fn writes_inside_and_to_dev_null_work() {
        if !landlock_or_skip() {
            return;
        }
        let inside = tempfile::tempdir().unwrap();
        let (code, tail) = sandboxed_sh(
            "mkdir -p d/e && echo x > d/e/f && mv d/e/f d/g && rm d/g && echo y > /dev/null \
             && echo z > /dev/stderr && cat /etc/hostname >/dev/null && printf ok",
            inside.path(),
            vec![inside.path().to_path_buf()],
        )
        .await;
        assert_eq!(code, 0, "{tail}");
        assert!(tail.contains("ok"), "{tail}");
    }

    #[tokio::test]
    async fn the_restriction_is_inherited_and_cannot_be_lifted_by_descendants() {
        if !landlock_or_skip() {
            return;
        }
        let inside = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let target = outside.path().join("late.txt");
        let (code, tail) = sandboxed_sh(
            &format!("setsid sh -c \"echo x > '{}'\"", target.display()),
            inside.path(),
            vec![inside.path().to_path_buf()],
        )
        .await;
        assert_ne!(code, 0, "{tail}");
        assert!(!target.exists());
    }

    #[tokio::test]
    async fn a_missing_writable_path_is_left_out_not_an_error() {
        if !landlock_or_skip() {
            return;
        }
        let inside = tempfile::tempdir().unwrap();
        let (code, tail) = sandboxed_sh(
            "echo x > f && printf ok",
            inside.path(),
            vec![
                inside.path().to_path_buf(),
                inside.path().join("missing/dir"),
            ],
        )
        .await;
        assert_eq!(code, 0, "{tail}");
    }
}
