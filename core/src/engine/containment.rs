//! How the processes of one step attempt are contained: the attempt marker that finds
//! every process the attempt started (also those that left its process group) and the
//! sandbox that limits where they may write. See `docs/SECURITY.md`.

use std::path::Path;

use pipeline_adapters::{Containment, SandboxPolicy};

use super::run_context::RunContext;
use crate::model::Step;

/// Which process of an attempt a [`Containment`] is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ProcessKind {
    /// The step's tool (an AI CLI, a custom tool or a shell command).
    Tool,
    /// Acceptance test number `n` (1-based).
    Test(usize),
    /// Compensation number `n` (1-based).
    Compensation(usize),
}

/// The containment of process `kind` of attempt `attempt` of `step`, running in `cwd`.
pub(crate) fn containment(
    ctx: &RunContext,
    step: &Step,
    attempt: u32,
    kind: ProcessKind,
    cwd: &Path,
) -> Containment {
    Containment {
        marker: attempt_marker(ctx, step, attempt, kind),
        sandbox: sandbox_policy(ctx, step, kind, cwd),
    }
}

/// The marker of the attempt's processes; `None` leaves them unmarked.
fn attempt_marker(
    _ctx: &RunContext,
    _step: &Step,
    _attempt: u32,
    _kind: ProcessKind,
) -> Option<String> {
    None
}

/// Where the process may write; `None` runs it without a sandbox.
///
/// `None` for compensations (they run in the main checkout to undo a step's effects
/// outside its worktree, which a sandbox would forbid), for a step with `sandbox: none`,
/// for a run with `--sandbox none`, and where the machine has no sandbox (then the run
/// warns once). Otherwise the writable paths are:
/// - the step's worktree `cwd`, or for `isolation: none` (the main checkout) each
///   top-level entry of the repository except `.git` and the state directory
///   (Landlock can only allow below a directory, never deny below an allowed one);
/// - the step's temporary directory ([`step_tmp_dir`], created here; the tool and the
///   tests get it as `TMPDIR`);
/// - what a commit from that worktree writes in the git directory: the worktree's own
///   administrative directory (`.git/worktrees/<name>`), `objects/`, `refs/`, `logs/`
///   and `packed-refs`; never `hooks/` or `config`;
/// - the step's `writable_paths` ([`resolve_writable`]) and the absolute paths in
///   [`WRITABLE_PATHS_ENV`]. A tool profile's own
///   `writable_paths` and `sandbox` are applied to the tool's process by
///   [`apply_profile`].
fn sandbox_policy(
    ctx: &RunContext,
    step: &Step,
    kind: ProcessKind,
    cwd: &Path,
) -> Option<SandboxPolicy> {
    if matches!(kind, ProcessKind::Compensation(_)) || !step.sandbox || !ctx.options.sandbox {
        return None;
    }
    if !sandbox_available() {
        return None;
    }
    let mut writable = Vec::new();
    let repo_root = ctx.repo.workdir();
    let commondir = ctx.repo.commondir();
    if same_path(cwd, repo_root) {
        writable.extend(top_level_entries(
            repo_root,
            &[commondir, &ctx.workspace.state_dir],
        ));
    } else {
        writable.push(cwd.to_path_buf());
        if let Ok(repo) = git2::Repository::open(cwd)
            && !same_path(repo.path(), commondir)
        {
            writable.push(repo.path().to_path_buf());
        }
    }
    writable.extend(
        ["objects", "refs", "logs", "packed-refs"]
            .iter()
            .map(|part| commondir.join(part)),
    );
    let tmp = step_tmp_dir(ctx, step);
    match std::fs::create_dir_all(&tmp) {
        Ok(()) => writable.push(tmp),
        Err(e) => tracing::warn!(
            "cannot create the temporary directory {} of step {}: {e}",
            tmp.display(),
            step.id
        ),
    }
    writable.extend(resolve_writable(&step.writable_paths, repo_root));
    writable.extend(
        std::env::var_os(WRITABLE_PATHS_ENV)
            .map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
            .unwrap_or_default()
            .into_iter()
            .filter(|path| path.is_absolute()),
    );
    Some(SandboxPolicy { writable })
}

/// Environment variable of `pipeline` itself listing more writable paths for every
/// sandboxed step of the run, separated by `:` like `PATH` (absolute paths only; others
/// are ignored): for a machine-wide cache or a CI's output directory.
pub(crate) const WRITABLE_PATHS_ENV: &str = "PIPELINE_WRITABLE_PATHS";

/// Whether the machine can sandbox; the first time it cannot, the run warns (once per
/// process, not per step) and carries on without a sandbox.
fn sandbox_available() -> bool {
    static WARNED: std::sync::Once = std::sync::Once::new();
    let support = pipeline_adapters::sandbox_support();
    if !support.is_available() {
        WARNED.call_once(|| {
            tracing::warn!(
                "steps run without the write sandbox: {support} (see docs/SECURITY.md; \
                 `--sandbox none` silences this)"
            );
        });
    }
    support.is_available()
}

/// The per-step temporary directory of a sandboxed step:
/// `<state dir>/tmp/<run>/<step>` (`TMPDIR` of its tool and acceptance tests).
pub(crate) fn step_tmp_dir(ctx: &RunContext, step: &Step) -> std::path::PathBuf {
    ctx.workspace
        .state_dir
        .join("tmp")
        .join(&ctx.run_id)
        .join(step.id.as_str())
}

/// Applies the tool profile's `sandbox` and `writable_paths` to the containment of the
/// tool's process: `sandbox: none` drops the sandbox, `writable_paths` are added.
pub(crate) fn apply_profile(
    ctx: &RunContext,
    containment: &mut Containment,
    profile: &pipeline_adapters::ToolProfile,
) {
    if !profile.sandbox {
        containment.sandbox = None;
    } else if let Some(sandbox) = &mut containment.sandbox {
        sandbox.writable.extend(resolve_writable(
            &profile.writable_paths,
            ctx.repo.workdir(),
        ));
    }
}

/// `writable_paths` entries as absolute paths: absolute ones as written, `~` and `~/...`
/// below the user's home directory (`HOME`; left out when it is unset), anything else
/// relative to the repository's main checkout `repo_root`.
pub(crate) fn resolve_writable(paths: &[String], repo_root: &Path) -> Vec<std::path::PathBuf> {
    let home = std::env::var_os("HOME").map(std::path::PathBuf::from);
    paths
        .iter()
        .filter_map(|path| {
            if path == "~" {
                home.clone()
            } else if let Some(rest) = path.strip_prefix("~/") {
                home.as_ref().map(|home| home.join(rest))
            } else if Path::new(path).is_absolute() {
                Some(Path::new(path).to_path_buf())
            } else {
                Some(repo_root.join(path))
            }
        })
        .collect()
}

/// The top-level entries of `root` except those in `except` (compared canonically).
fn top_level_entries(root: &Path, except: &[&Path]) -> Vec<std::path::PathBuf> {
    let Ok(entries) = std::fs::read_dir(root) else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| !except.iter().any(|e| same_path(path, e)))
        .collect()
}

fn same_path(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writable_paths_resolve_absolute_home_and_repository_relative() {
        let home = std::env::var_os("HOME").map(std::path::PathBuf::from);
        let got = resolve_writable(
            &["/abs/x".into(), "rel/y".into(), "~/.cache/t".into()],
            Path::new("/repo"),
        );
        assert_eq!(got[0], Path::new("/abs/x"));
        assert_eq!(got[1], Path::new("/repo/rel/y"));
        if let Some(home) = home {
            assert_eq!(got[2], home.join(".cache/t"));
        }
    }
}
