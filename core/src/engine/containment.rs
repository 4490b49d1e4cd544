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

/// The marker of the attempt's processes, `<state>/<run>/<step>/<attempt>/<kind>` (see
/// [`AttemptMarker`]); every process of the attempt carries it, so the supervisor ends
/// those that escaped its process group, and resume those of a crashed run.
fn attempt_marker(
    ctx: &RunContext,
    step: &Step,
    attempt: u32,
    kind: ProcessKind,
) -> Option<String> {
    Some(
        AttemptMarker {
            state_key: AttemptMarker::state_key(&ctx.workspace.state_dir),
            run_id: ctx.run_id.clone(),
            step_id: step.id.to_string(),
            attempt,
            kind,
        }
        .to_string(),
    )
}

/// The value of `PIPELINE_CONTAINMENT` for one process of one attempt:
/// `<state>/<run id>/<step id>/<attempt>/<kind>`, with `<kind>` one of `tool`, `test-<n>`,
/// `compensation-<n>` (1-based). `<state>` ([`AttemptMarker::state_key`]) names the state
/// directory, so that runs of other repositories with the same run id (`--run-id ci` in
/// two checkouts, on one machine) never match. Neither it nor a run id contains a `/`
/// (see `check_run_id`), nor do the attempt and kind, so the step id (which may contain
/// `/`, e.g. `ws/a`) is what lies between the second `/` and the second-to-last one;
/// `<state>/<run id>/` is the prefix of every marker of a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AttemptMarker {
    /// 16 hex digits naming the state directory ([`AttemptMarker::state_key`]).
    pub state_key: String,
    pub run_id: String,
    pub step_id: String,
    pub attempt: u32,
    pub kind: ProcessKind,
}

impl AttemptMarker {
    /// The first 16 hex digits of the SHA-256 of the state directory's canonical path
    /// (the path as given when it cannot be resolved): one value per state database,
    /// the same for every process and version of pipeline using it.
    pub(crate) fn state_key(state_dir: &Path) -> String {
        use sha2::{Digest, Sha256};
        let path = std::fs::canonicalize(state_dir).unwrap_or_else(|_| state_dir.to_owned());
        let digest = Sha256::digest(path.as_os_str().as_encoded_bytes());
        digest[..8].iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The prefix shared by the markers of every process of run `run_id` of the state
    /// directory whose key is `state_key`.
    pub(crate) fn run_prefix(state_key: &str, run_id: &str) -> String {
        format!("{state_key}/{run_id}/")
    }

    /// Reads a marker written by `Display`; `None` for anything else.
    pub(crate) fn parse(marker: &str) -> Option<AttemptMarker> {
        let (state_key, rest) = marker.split_once('/')?;
        let (run_id, rest) = rest.split_once('/')?;
        let (rest, kind) = rest.rsplit_once('/')?;
        let (step_id, attempt) = rest.rsplit_once('/')?;
        let kind = match kind {
            "tool" => ProcessKind::Tool,
            other => {
                let (name, n) = other.split_once('-')?;
                let n = n.parse().ok()?;
                match name {
                    "test" => ProcessKind::Test(n),
                    "compensation" => ProcessKind::Compensation(n),
                    _ => return None,
                }
            }
        };
        let attempt = attempt.parse().ok()?;
        (!state_key.is_empty() && !run_id.is_empty() && !step_id.is_empty()).then(|| {
            AttemptMarker {
                state_key: state_key.to_owned(),
                run_id: run_id.to_owned(),
                step_id: step_id.to_owned(),
                attempt,
                kind,
            }
        })
    }
}

impl std::fmt::Display for AttemptMarker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}/{}/{}/{}/",
            self.state_key, self.run_id, self.step_id, self.attempt
        )?;
        match self.kind {
            ProcessKind::Tool => write!(f, "tool"),
            ProcessKind::Test(n) => write!(f, "test-{n}"),
            ProcessKind::Compensation(n) => write!(f, "compensation-{n}"),
        }
    }
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
        .run_tmp_dir(&ctx.run_id)
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

#[cfg(test)]
mod marker_tests {
    use super::*;

    #[test]
    fn markers_read_back_including_step_ids_with_slashes() {
        for kind in [
            ProcessKind::Tool,
            ProcessKind::Test(2),
            ProcessKind::Compensation(11),
        ] {
            let marker = AttemptMarker {
                state_key: "0123456789abcdef".to_owned(),
                run_id: "20261206-033000-ab12".to_owned(),
                step_id: "ws/a-b.c".to_owned(),
                attempt: 3,
                kind,
            };
            let text = marker.to_string();
            assert!(text.starts_with(&AttemptMarker::run_prefix(
                "0123456789abcdef",
                "20261206-033000-ab12"
            )));
            assert_eq!(AttemptMarker::parse(&text), Some(marker));
        }
        assert_eq!(
            AttemptMarker {
                state_key: "k".to_owned(),
                run_id: "r".to_owned(),
                step_id: "ws/s".to_owned(),
                attempt: 1,
                kind: ProcessKind::Test(1),
            }
            .to_string(),
            "k/r/ws/s/1/test-1"
        );
    }

    #[test]
    fn state_keys_tell_state_directories_apart_and_do_not_change() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        let key = AttemptMarker::state_key(a.path());
        assert_eq!(key.len(), 16);
        assert!(key.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(key, AttemptMarker::state_key(a.path()));
        assert_ne!(key, AttemptMarker::state_key(b.path()));
    }

    #[test]
    fn other_values_are_not_markers() {
        for bad in [
            "",
            "k/r",
            "k/r/s/1",
            "k/r//1/tool",
            "k//s/1/tool",
            "/r/s/1/tool",
            "k/r/s/x/tool",
            "k/r/s/1/test",
            "k/r/s/1/test-x",
            "k/r/s/1/build-1",
        ] {
            assert_eq!(AttemptMarker::parse(bad), None, "{bad}");
        }
    }
}
