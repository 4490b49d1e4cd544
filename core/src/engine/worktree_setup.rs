//! Per-worktree set-up (docs/WORKTREES.md "Set-up"): a step's `copy_into_worktree`
//! files and its `setup` commands, before the tool of each attempt that starts from a
//! clean worktree.
//!
//! - `copy_into_worktree`: repository-relative files of the main checkout (e.g. `.env`)
//!   copied into the step's worktree. They are excluded from the step's commit and scope
//!   check ([`excluded_paths`]) and their contents are secrets ([`copied_secrets`]), so
//!   they reach no log, event or database row. A missing file is an input error when the
//!   run starts (exit 2); one that disappears during the run fails the step for good.
//! - `setup`: commands run with `sh -c` in the worktree, each with its own timeout
//!   (default: the acceptance-test timeout), its own section of the attempt log
//!   (`----- setup: CMD -----`) and a `setup_finished` event. A failing one fails the
//!   attempt as a failing acceptance test does (the error engine classifies its output).
//! - Caching: an entry with `inputs` is not run again in a worktree where it succeeded
//!   with the same contents of those files (a SHA-256 kept in a marker inside the
//!   worktree's git directory, `<gitdir>/pipeline-setup/<hash of the command>`, never in
//!   the tree) while each of its `outputs` exists. Worktree resets delete untracked and
//!   ignored files, so the `outputs` of the step's entries are moved into the git
//!   directory before the step's own resets (retries, escalations) and back after
//!   ([`keep_outputs`], [`restore_outputs`]). A pooled worktree handed to another step
//!   keeps the `outputs` of that step's cached entries across its reset too
//!   ([`kept_outputs`], `WorktreePool::acquire_keeping`): when the next step has the same
//!   entry (e.g. a workstream's `npm ci` with `inputs: [package-lock.json]`) and the
//!   inputs are unchanged, the marker matches and the entry is not run again.

use std::fs;
use std::io::Write;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use pipeline_adapters::{OutputLimits, Termination, run_process};
use pipeline_error::{AttemptFailure, Termination as FailureTermination};
use sha2::{Digest, Sha256};

use super::EngineError;
use super::attempt::{AttemptFailed, Failure, shell_spec};
use super::containment::{ProcessKind, containment};
use super::next_action::Stage;
use super::run_context::RunContext;
use super::step_error_text;
use crate::model::{SetupCommand, Step, WorkstreamSet};
use crate::state::{AttemptResult, Event};

/// The worktree paths a step's commit and scope check leave out: its
/// `copy_into_worktree` files and the `outputs` of its `setup` entries.
pub(crate) fn excluded_paths(step: &Step) -> Vec<String> {
    step.copy_into_worktree
        .iter()
        .chain(step.setup.iter().flat_map(|s| s.outputs.iter()))
        .cloned()
        .collect()
}

/// The secrets in the `copy_into_worktree` files of `set`'s steps, read from the main
/// checkout at `repo_root`: of a `NAME=value` line (`export` and quotes allowed), the
/// value; of any other non-empty line that is not a `#` comment, the trimmed line.
/// Values shorter than [`super::MIN_SECRET_BYTES`] are left to the caller to drop.
///
/// Errors ([`EngineError::Input`], exit 2): a path that is absolute or contains `..`, or
/// a file that does not exist or cannot be read, naming the step and the path.
pub(crate) fn copied_secrets(
    repo_root: &Path,
    set: &WorkstreamSet,
) -> Result<Vec<String>, EngineError> {
    let mut out = Vec::new();
    for step in &set.steps {
        for path in &step.copy_into_worktree {
            let source = copy_source(repo_root, step, path).map_err(EngineError::Input)?;
            let text = fs::read(&source).map_err(|e| {
                EngineError::Input(format!(
                    "step `{}`: cannot read `copy_into_worktree` file `{path}` ({}): {e}",
                    step.id,
                    source.display()
                ))
            })?;
            out.extend(secret_values(&String::from_utf8_lossy(&text)));
        }
    }
    Ok(out)
}

/// The values [`copied_secrets`] takes from one file's text.
fn secret_values(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let assignment = line.strip_prefix("export ").unwrap_or(line);
        match assignment.split_once('=') {
            Some((name, value))
                if !name.is_empty()
                    && name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.') =>
            {
                let value = value.trim();
                let unquoted = value
                    .strip_prefix('"')
                    .and_then(|v| v.strip_suffix('"'))
                    .or_else(|| value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
                    .unwrap_or(value);
                if !unquoted.is_empty() {
                    out.push(unquoted.to_owned());
                }
            }
            _ => out.push(line.to_owned()),
        }
    }
    out
}

/// The main checkout's file for `copy_into_worktree` entry `path` of `step`: the error
/// names the step and the path.
fn copy_source(repo_root: &Path, step: &Step, path: &str) -> Result<PathBuf, String> {
    let relative = Path::new(path);
    if relative.is_absolute()
        || relative
            .components()
            .any(|c| matches!(c, Component::ParentDir))
    {
        return Err(format!(
            "step `{}`: `copy_into_worktree` path `{path}` must be relative to the repository, \
             without `..`",
            step.id
        ));
    }
    let source = repo_root.join(relative);
    if !source.is_file() {
        return Err(format!(
            "step `{}`: `copy_into_worktree` file `{path}` does not exist in the main checkout \
             ({})\n  hint: create it, or remove it from `copy_into_worktree`",
            step.id,
            source.display()
        ));
    }
    Ok(source)
}

/// Copies `step`'s `copy_into_worktree` files from the main checkout into the worktree
/// at `worktree` (missing parent directories created, the file's permissions kept).
/// Nothing to do when the step runs in the main checkout itself. Errors name the step and
/// the path (the step fails for good: the file is missing or unreadable).
pub(crate) fn copy_files(repo_root: &Path, step: &Step, worktree: &Path) -> Result<(), String> {
    if worktree == repo_root {
        return Ok(());
    }
    for path in &step.copy_into_worktree {
        let source = copy_source(repo_root, step, path)?;
        let target = worktree.join(path);
        if let Some(parent) = target.parent() {
            fs::create_dir_all(parent).map_err(|e| {
                format!(
                    "step `{}`: cannot create {} for `copy_into_worktree` file `{path}`: {e}",
                    step.id,
                    parent.display()
                )
            })?;
        }
        fs::copy(&source, &target).map_err(|e| {
            format!(
                "step `{}`: cannot copy `copy_into_worktree` file `{path}` into {}: {e}",
                step.id,
                worktree.display()
            )
        })?;
    }
    Ok(())
}

/// The log of attempt `attempt`'s set-up, merged into the attempt log by [`merge_log`].
pub(crate) fn setup_log(ctx: &RunContext, step: &Step, attempt: u32) -> PathBuf {
    ctx.workspace
        .step_logs_dir(&ctx.run_id, step.id.as_str())
        .join(format!("{attempt}.setup.log"))
}

/// Runs `step`'s `setup` entries in `cwd` in order (skipping cached ones), each journalled
/// as `setup_finished` and written to [`setup_log`] as a `----- setup: CMD -----`
/// section. The first that fails ends the attempt: its failure is classified like a
/// failing acceptance test's (stage tests; the error engine reads its output).
pub(crate) async fn run_setup(
    ctx: &Arc<RunContext>,
    step: &Step,
    cwd: &Path,
    attempt: u32,
) -> Result<(), Failure> {
    if step.setup.is_empty() {
        return Ok(());
    }
    let step_id = step.id.as_str();
    let log = setup_log(ctx, step, attempt);
    let limits = OutputLimits {
        max_log_bytes: ctx.options.max_log_bytes,
        ..OutputLimits::default()
    };
    let markers = marker_dir(cwd);
    for (k, entry) in step.setup.iter().enumerate() {
        let key = inputs_key(cwd, entry);
        if let (Some(dir), Some(key)) = (&markers, &key)
            && fs::read_to_string(dir.join(command_hash(&entry.command))).ok() == Some(key.clone())
            && entry.outputs.iter().all(|o| cwd.join(o).exists())
        {
            append_section(
                &log,
                &entry.command,
                "[pipeline] cached: already run in this worktree with the same inputs\n",
            );
            ctx.journal
                .record(Event::SetupFinished {
                    step: step_id.to_owned(),
                    attempt,
                    command: entry.command.clone(),
                    succeeded: true,
                    cached: true,
                    duration_ms: 0,
                    outcome: "cached".into(),
                })
                .map_err(Failure::Journal)?;
            continue;
        }
        if let Some(dir) = &markers {
            // Stale until this run of the command succeeds.
            let _ = fs::remove_file(dir.join(command_hash(&entry.command)));
        }
        let one_log = log.with_file_name(format!("{attempt}.setup-{}.log", k + 1));
        let spec = shell_spec(
            ctx,
            step,
            &entry.command,
            cwd,
            entry.timeout_sec,
            containment(ctx, step, attempt, ProcessKind::Test(k + 1), cwd),
        );
        let started = Instant::now();
        let cancel = ctx.cancel.child_token();
        let out = run_process(&spec, &one_log, &limits, None, cancel).await;
        let out = match out {
            Ok(out) => out,
            Err(e) => {
                let error = format!("setup command `{}` could not run: {e}", entry.command);
                append_section(&log, &entry.command, &format!("[pipeline] {error}\n"));
                return Err(setup_failure(
                    &entry.command,
                    error,
                    FailureTermination::Exited(127),
                    String::new(),
                    &log,
                    None,
                ));
            }
        };
        let text = fs::read_to_string(&one_log).unwrap_or_default();
        append_section(&log, &entry.command, &text);
        let _ = fs::remove_file(&one_log);
        if out.termination == Termination::Cancelled {
            return Err(Failure::Interrupted { usage: None });
        }
        let succeeded = out.termination == Termination::Exited(0);
        ctx.journal
            .record(Event::SetupFinished {
                step: step_id.to_owned(),
                attempt,
                command: entry.command.clone(),
                succeeded,
                cached: false,
                duration_ms: started.elapsed().as_millis() as u64,
                outcome: out.termination.to_string(),
            })
            .map_err(Failure::Journal)?;
        if !succeeded {
            let error = step_error_text(
                &format!(
                    "setup command `{}` failed ({})",
                    entry.command, out.termination
                ),
                &out.tail,
            );
            let result =
                (out.termination == Termination::TimedOut).then_some(AttemptResult::TimedOut);
            return Err(setup_failure(
                &entry.command,
                error,
                out.termination,
                out.tail,
                &log,
                result,
            ));
        }
        // Inputs read again: the command may have rewritten them (a lock file).
        if let (Some(dir), Some(key)) = (&markers, inputs_key(cwd, entry)) {
            let written = fs::create_dir_all(dir)
                .and_then(|()| fs::write(dir.join(command_hash(&entry.command)), key));
            if let Err(e) = written {
                tracing::warn!("step {step_id}: cannot record the set-up cache marker: {e}");
            }
        }
    }
    Ok(())
}

/// The failure of a setup command: stage tests (fed back to an AI tool with fix attempts
/// left, else classified by the error engine from `tail` and the log).
fn setup_failure(
    command: &str,
    error: String,
    termination: FailureTermination,
    tail: String,
    log: &Path,
    result: Option<AttemptResult>,
) -> Failure {
    let mut failure = AttemptFailure::new("setup", command, termination, tail)
        .with_kind("custom")
        .finished_at(SystemTime::now());
    failure.log_path = Some(log.to_path_buf());
    Failure::Attempt(Box::new(AttemptFailed {
        stage: Stage::Tests,
        result: result.unwrap_or(AttemptResult::Failed),
        exit_code: termination.exit_code(),
        error,
        failure,
        usage: None,
        stalled: None,
    }))
}

/// Appends a `----- setup: CMD -----` section holding `text` to the set-up log.
fn append_section(log: &Path, command: &str, text: &str) {
    let written = (|| {
        if let Some(parent) = log.parent() {
            fs::create_dir_all(parent)?;
        }
        let mut file = fs::OpenOptions::new().create(true).append(true).open(log)?;
        write!(file, "----- setup: {command} -----\n{text}")?;
        if !text.ends_with('\n') {
            writeln!(file)?;
        }
        Ok::<(), std::io::Error>(())
    })();
    if let Err(e) = written {
        tracing::warn!("cannot write the set-up log {}: {e}", log.display());
    }
}

/// Puts the set-up log of an attempt at the start of its attempt log `attempt_log` (the
/// tool's log is written after the set-up, by a writer that truncates it), or makes it
/// the attempt log when the tool never ran.
pub(crate) fn merge_log(setup_log: &Path, attempt_log: &Path) {
    let Ok(setup) = fs::read(setup_log) else {
        return;
    };
    let merged = match fs::read(attempt_log) {
        Ok(tool) => fs::write(attempt_log, [setup, tool].concat()),
        Err(_) => fs::write(attempt_log, setup),
    };
    match merged {
        Ok(()) => {
            let _ = fs::remove_file(setup_log);
        }
        Err(e) => tracing::warn!(
            "cannot merge the set-up log into {}: {e}",
            attempt_log.display()
        ),
    }
}

/// The worktree's own git directory's set-up folder (`<gitdir>/pipeline-setup`), `None`
/// when `cwd` is not a git worktree.
fn marker_dir(cwd: &Path) -> Option<PathBuf> {
    let repo = git2::Repository::open(cwd).ok()?;
    Some(repo.path().join("pipeline-setup"))
}

/// SHA-256 (hex) of the command: the name of its marker.
fn command_hash(command: &str) -> String {
    to_hex(&Sha256::digest(command.as_bytes()))
}

fn to_hex(digest: &[u8]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 (hex) over the command, its `inputs` paths and their contents (a missing
/// file counts as missing); `None` for an entry without `inputs` (never cached).
fn inputs_key(cwd: &Path, entry: &SetupCommand) -> Option<String> {
    if entry.inputs.is_empty() {
        return None;
    }
    let mut hash = Sha256::new();
    hash.update(entry.command.as_bytes());
    for input in &entry.inputs {
        hash.update(b"\0");
        hash.update(input.as_bytes());
        match fs::read(cwd.join(input)) {
            Ok(bytes) => {
                hash.update(b"\x01");
                hash.update((bytes.len() as u64).to_le_bytes());
                hash.update(&bytes);
            }
            Err(_) => hash.update(b"\x02"),
        }
    }
    Some(to_hex(&hash.finalize()))
}

/// `outputs` of cached `setup` entries moved out of a worktree before its reset.
pub(crate) struct KeptOutputs {
    /// Where each output was moved to, and its worktree-relative path.
    moved: Vec<(PathBuf, String)>,
}

/// Moves the `outputs` of `step`'s `setup` entries with `inputs` out of the worktree at
/// `cwd` into its git directory, so the reset that follows keeps them (moved back by
/// [`restore_outputs`]). Outputs that cannot be moved are left (and reset away).
pub(crate) fn keep_outputs(step: &Step, cwd: &Path) -> KeptOutputs {
    let mut moved = Vec::new();
    let Some(dir) = marker_dir(cwd) else {
        return KeptOutputs { moved };
    };
    let kept = dir.join("kept");
    let _ = fs::remove_dir_all(&kept);
    let outputs = step
        .setup
        .iter()
        .filter(|s| !s.inputs.is_empty())
        .flat_map(|s| s.outputs.iter());
    for (i, output) in outputs.enumerate() {
        let from = cwd.join(output);
        if !from.exists() {
            continue;
        }
        let to = kept.join(i.to_string());
        match fs::create_dir_all(&kept).and_then(|()| fs::rename(&from, &to)) {
            Ok(()) => moved.push((to, output.clone())),
            Err(e) => tracing::warn!(
                "step {}: cannot keep set-up output `{output}` across the reset: {e}",
                step.id
            ),
        }
    }
    KeptOutputs { moved }
}

/// The `outputs` of `step`'s set-up entries with `inputs` (the ones whose run is cached
/// per worktree): what a pooled worktree keeps across its reset for the step
/// ([`crate::git::WorktreePool::acquire_keeping`]).
pub(crate) fn kept_outputs(step: &Step) -> Vec<String> {
    step.setup
        .iter()
        .filter(|s| !s.inputs.is_empty())
        .flat_map(|s| s.outputs.iter().cloned())
        .collect()
}

/// Moves outputs kept by [`keep_outputs`] back into the worktree at `cwd`.
pub(crate) fn restore_outputs(kept: KeptOutputs, cwd: &Path) {
    for (from, output) in kept.moved {
        let to = cwd.join(&output);
        let restored = to
            .parent()
            .map_or(Ok(()), fs::create_dir_all)
            .and_then(|()| fs::rename(&from, &to));
        if let Err(e) = restored {
            tracing::warn!("cannot restore set-up output `{output}` after the reset: {e}");
            let _ = fs::remove_dir_all(&from).or_else(|_| fs::remove_file(&from));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_lines_give_their_values_and_other_lines_themselves() {
        let values = secret_values(
            "# comment\nAPI_TOKEN=abc123secret\nexport DB=\"postgres://u:p@h/db\"\n\nQUOTED='single-quoted-value'\nplain line of a key file\nEMPTY=\n",
        );
        assert_eq!(
            values,
            [
                "abc123secret",
                "postgres://u:p@h/db",
                "single-quoted-value",
                "plain line of a key file"
            ]
        );
    }
}
