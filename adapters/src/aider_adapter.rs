//! The `aider` adapter: drives the real Aider CLI (PyPI `aider-chat`, tested with 0.86.2)
//! non-interactively in the step's worktree.
//!
//! # How an attempt runs
//! 1. The prompt goes to `inv.prompt_file` (outside the worktree), read by Aider through
//!    `--message-file`; Aider answers that one message and exits.
//! 2. Aider gets an isolated home, `<log dir>/<attempt>.aider-home/`: `HOME` points there
//!    (so `~/.aider.conf.yml`, `~/.env`, analytics and caches of the user are never read
//!    or written), the environment is cleared except for a few system variables
//!    ([`PASSED_THROUGH_ENV`]; so no stray `AIDER_*` or `OPENAI_*` reaches it), and its
//!    chat and input histories are written there instead of into the worktree.
//! 3. Nothing phones home: `--no-check-update --no-show-release-notes
//!    --analytics-disable --no-detect-urls`, `LITELLM_LOCAL_MODEL_COST_MAP=True`, and a
//!    generated `--model-metadata-file` describing the profile's model (unless the
//!    profile's `args` give their own), without which Aider downloads LiteLLM's model
//!    list from the internet.
//! 4. Aider never commits (`--no-auto-commits --no-dirty-commits`) nor touches
//!    `.gitignore` (`--no-gitignore`): the pipeline commits. It never prompts
//!    (`--yes-always`, stdin is `/dev/null`) and prints plain, unwrapped lines
//!    (`--no-pretty`, `COLUMNS`), by default without streaming (`--no-stream`; a
//!    profile's `args: ["--stream"]` turns streaming on, since later flags win).
//! 5. `--model` is the profile's `model`, prefixed `openai/` when the profile has an
//!    `api_base` and the model names no LiteLLM provider (an `api_base` is an
//!    OpenAI-compatible endpoint); `--openai-api-base` is the `api_base`. The key is read
//!    from the variable `api_key_env` names and passed as `OPENAI_API_KEY` (and under
//!    its own name); it and every `secret_env` value are redacted from the log.
//! 6. The edit format is Aider's own choice for the model unless the profile's `args`
//!    give `--edit-format` (Aider knows which format each model handles best).
//! 7. Editable files are the step's `files_scope` entries that are files or do not
//!    exist yet (Aider creates them); directories and glob patterns expand to the files
//!    git tracks under them.
//!
//! # Success
//! Aider exits 0 even when every model call failed, so an attempt succeeds only when it
//! exits with a success code and printed no decisive failure line (see `aider_report`).
//! Whether it changed anything is the engine's question, the same for every AI tool: an
//! AI step whose tool changed no file fails with reason `no_change` unless the step sets
//! `allow_empty` (docs/COSTS.md); the summary only says `no edits`.
//! When Aider starts retrying a model API error by itself (`Retrying in N seconds...`,
//! for up to a minute, ignoring `Retry-After`), the adapter stops it at once and
//! reports the failure, so that the engine's retry policy, rate-limit waits and circuit
//! breakers decide; the outcome's termination is then `Signaled(SIGTERM)` and its
//! summary says the adapter stopped Aider.
//! Aider's repository-map cache (`.aider.tags.cache.v*`), which it writes into the
//! worktree, is removed after the attempt when it was not there before.

mod aider_report;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use nix::sys::signal::Signal;
use pipeline_process::{
    CaptureLimits, CapturedOutput, DEFAULT_KILL_GRACE, LineCallback, ProcessError, ProcessOutcome,
    ProcessSpec, Termination, redact, run_captured, run_process,
};
use tokio_util::sync::CancellationToken;

use crate::adapter_error::AdapterError;
use crate::invocation::{Invocation, ToolOutcome};
use crate::tool_adapter::ToolDriver;
use crate::tool_profile::ToolProfile;

use aider_report::AiderReport;

/// Variables of the pipeline's own environment that reach Aider; everything else is
/// dropped so that the user's `AIDER_*`, `OPENAI_*` or `LITELLM_*` settings cannot change
/// what a step does. The profile's and the step's `env` are added on top.
pub const PASSED_THROUGH_ENV: &[&str] = &[
    "PATH",
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
    "TZ",
    "TMPDIR",
    "USER",
    "LOGNAME",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "REQUESTS_CA_BUNDLE",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "GIT_AUTHOR_NAME",
    "GIT_AUTHOR_EMAIL",
    "GIT_COMMITTER_NAME",
    "GIT_COMMITTER_EMAIL",
];

/// Longest output excerpt, in characters, quoted in a failure summary.
const SUMMARY_EXCERPT_CHARS: usize = 300;

/// Runs Aider for one tool profile (see the module documentation).
#[derive(Debug, Clone)]
pub struct AiderAdapter {
    name: String,
    profile: ToolProfile,
}

impl AiderAdapter {
    /// An adapter named `name` running `profile` (its `kind` is not checked).
    pub fn new(name: impl Into<String>, profile: ToolProfile) -> Self {
        AiderAdapter {
            name: name.into(),
            profile,
        }
    }

    /// The model name given to Aider: the profile's `model`, prefixed `openai/` when the
    /// profile has an `api_base` and the name has no provider prefix.
    pub fn model(&self) -> Option<String> {
        let model = self.profile.model.as_deref()?;
        if self.profile.api_base.is_some() && !model.contains('/') {
            Some(format!("openai/{model}"))
        } else {
            Some(model.to_owned())
        }
    }

    /// The attempt's isolated home directory: `<log dir>/<log stem>.aider-home`.
    pub fn home_dir(inv: &Invocation) -> PathBuf {
        let stem = inv
            .log_path
            .file_stem()
            .map_or_else(|| OsString::from("attempt"), ToOwned::to_owned);
        let mut name = stem;
        name.push(".aider-home");
        inv.log_path.with_file_name(name)
    }

    /// True when the profile's own `args` contain `flag` (as `--flag` or `--flag=...`).
    fn profile_has_flag(&self, flag: &str) -> bool {
        self.profile
            .args
            .iter()
            .any(|arg| arg == flag || arg.starts_with(&format!("{flag}=")))
    }

    /// Aider's command line for `inv`: the adapter's flags, the editable `files`
    /// (already expanded, repository-relative), then the profile's `args`.
    pub fn arguments(&self, inv: &Invocation, home: &Path, files: &[String]) -> Vec<OsString> {
        let mut args: Vec<OsString> = Vec::new();
        let mut push = |values: &[&str]| args.extend(values.iter().map(OsString::from));
        if let Some(model) = self.model() {
            push(&["--model", &model]);
        }
        if let Some(api_base) = &self.profile.api_base {
            push(&["--openai-api-base", api_base]);
        }
        push(&[
            "--yes-always",
            "--no-auto-commits",
            "--no-dirty-commits",
            "--no-gitignore",
            "--no-pretty",
            "--no-fancy-input",
            "--no-stream",
            "--no-check-update",
            "--no-show-release-notes",
            "--analytics-disable",
            "--no-browser",
            "--no-detect-urls",
            "--no-suggest-shell-commands",
            "--no-show-model-warnings",
            "--no-restore-chat-history",
            "--no-notifications",
        ]);
        args.push("--chat-history-file".into());
        args.push(home.join("chat-history.md").into());
        args.push("--input-history-file".into());
        args.push(home.join("input-history").into());
        if !self.profile_has_flag("--model-metadata-file") {
            args.push("--model-metadata-file".into());
            args.push(home.join("model-metadata.json").into());
        }
        args.push("--message-file".into());
        args.push(inv.prompt_file.clone().into());
        for file in &inv.context_files {
            args.push("--read".into());
            args.push(file.into());
        }
        args.extend(files.iter().map(OsString::from));
        args.extend(self.profile.args.iter().map(OsString::from));
        args
    }

    /// Aider's environment (see [`PASSED_THROUGH_ENV`]), in order, later pairs winning;
    /// `lookup` reads the pipeline's own environment.
    pub fn environment(
        &self,
        inv: &Invocation,
        home: &Path,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Vec<(OsString, OsString)> {
        let mut env: Vec<(OsString, OsString)> = Vec::new();
        for name in PASSED_THROUGH_ENV {
            if let Some(value) = lookup(name) {
                env.push(((*name).into(), value.into()));
            }
        }
        for name in &self.profile.secret_env {
            if let Some(value) = lookup(name) {
                env.push((name.into(), value.into()));
            }
        }
        for (name, value) in [
            ("HOME", home.as_os_str().to_owned()),
            ("LITELLM_LOCAL_MODEL_COST_MAP", "True".into()),
            ("COLUMNS", "4096".into()),
            ("NO_COLOR", "1".into()),
            ("PYTHONUNBUFFERED", "1".into()),
            ("PYTHONIOENCODING", "utf-8".into()),
        ] {
            env.push((name.into(), value));
        }
        if let Some(key) = self.api_key(inv, lookup) {
            if let Some(name) = &self.profile.api_key_env {
                env.push((name.into(), key.clone().into()));
            }
            env.push(("OPENAI_API_KEY".into(), key.into()));
        }
        env.extend(
            self.profile
                .env
                .iter()
                .chain(&inv.env)
                .map(|(name, value)| (name.into(), value.into())),
        );
        env.extend(inv.context_env());
        env
    }

    /// The API key: the variable `api_key_env` names, from the step's or profile's `env`
    /// first, else from the pipeline's environment.
    fn api_key(&self, inv: &Invocation, lookup: &dyn Fn(&str) -> Option<String>) -> Option<String> {
        let name = self.profile.api_key_env.as_deref()?;
        inv.env
            .get(name)
            .or_else(|| self.profile.env.get(name))
            .cloned()
            .or_else(|| lookup(name))
    }

    /// Values redacted from the log: the API key and every `secret_env` value.
    pub fn secret_values(
        &self,
        inv: &Invocation,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Vec<String> {
        let mut secrets = self.profile.secret_values(&inv.env, lookup);
        // The key may come from a default variable the profile does not name.
        if let Some(key) = self.api_key(inv, lookup)
            && key.chars().count() >= 4
            && !secrets.contains(&key)
        {
            secrets.push(key);
        }
        secrets.sort();
        secrets
    }

    /// The process for `inv` with `files` as editable files and `home` as Aider's home.
    pub fn process_spec(
        &self,
        inv: &Invocation,
        home: &Path,
        files: &[String],
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> ProcessSpec {
        let mut spec = ProcessSpec::new(
            &self.profile.command,
            self.arguments(inv, home, files),
            &inv.worktree,
        );
        spec.env = self.environment(inv, home, lookup);
        spec.env_clear = true;
        spec.timeout = inv.timeout.or_else(|| self.profile.timeout());
        spec.stall_timeout = self.profile.stall_timeout(inv.stall_timeout);
        spec.kill_grace = DEFAULT_KILL_GRACE;
        spec.secrets = inv.with_run_secrets(self.secret_values(inv, lookup));
        spec.containment = inv.containment_with(&[home]);
        spec
    }

    /// The generated model metadata file: context limits for the model so that Aider
    /// never downloads LiteLLM's model list. No prices: Aider then reports tokens only,
    /// unless LiteLLM knows the model's prices locally.
    fn model_metadata(&self) -> serde_json::Value {
        let mut entries = serde_json::Map::new();
        if let Some(model) = self.model() {
            let provider = model
                .split_once('/')
                .map_or("openai", |(provider, _)| provider);
            entries.insert(
                model.clone(),
                serde_json::json!({
                    "max_tokens": 8192,
                    "max_input_tokens": 128000,
                    "max_output_tokens": 8192,
                    "litellm_provider": provider,
                    "mode": "chat",
                }),
            );
        }
        serde_json::Value::Object(entries)
    }

    /// Success and the one-line summary (see the module documentation).
    fn judge(
        &self,
        spec: &ProcessSpec,
        process: &ProcessOutcome,
        report: &AiderReport,
        stopped_by_adapter: bool,
        changed: bool,
    ) -> (bool, String) {
        let excerpt = |line: &str| line.chars().take(SUMMARY_EXCERPT_CHARS).collect::<String>();
        if stopped_by_adapter {
            let line = report.failure.as_deref().unwrap_or("a model API error");
            return (
                false,
                format!(
                    "stopped by the aider adapter when Aider began retrying by itself: {}",
                    excerpt(line)
                ),
            );
        }
        match process.termination {
            Termination::Exited(code) if self.profile.is_success(code) => {}
            Termination::Exited(code) => {
                let last = last_line(&process.tail);
                return (false, format!("exit {code}: {}", excerpt(&last)));
            }
            Termination::TimedOut => {
                let limit = spec
                    .timeout
                    .map_or_else(String::new, |t| format!(" after {} s", t.as_secs_f64()));
                return (false, format!("timed out{limit}"));
            }
            Termination::Stalled => return (false, crate::stalled_text(spec)),
            other => return (false, other.to_string()),
        }
        if let Some(line) = &report.failure {
            return (
                false,
                format!("Aider reported a failure: {}", excerpt(line)),
            );
        }
        let edits = if report.applied.is_empty() && !changed {
            // Not a failure here: the engine decides (`no_change`, or `allow_empty`).
            "; no edits".to_owned()
        } else if report.applied.is_empty() {
            String::new()
        } else {
            format!("; edited {}", report.applied.join(", "))
        };
        (true, format!("exit 0{edits}"))
    }
}

impl ToolDriver for AiderAdapter {
    fn tool_name(&self) -> &str {
        &self.name
    }

    async fn run(
        &self,
        inv: &Invocation,
        on_line: Option<LineCallback>,
        cancel: CancellationToken,
    ) -> Result<ToolOutcome, AdapterError> {
        let home = Self::home_dir(inv);
        prepare_home(&home, &self.model_metadata()).await?;
        write_file(&inv.prompt_file, inv.prompt.as_bytes()).await?;
        let files = editable_files(&inv.worktree, &inv.files).await;
        let lookup = |name: &str| std::env::var(name).ok();
        let spec = self.process_spec(inv, &home, &files, &lookup);
        let caches_before = tag_caches(&inv.worktree);

        let report = Arc::new(Mutex::new(AiderReport::default()));
        let stop = cancel.child_token();
        let callback: LineCallback = {
            let report = Arc::clone(&report);
            let stop = stop.clone();
            let secrets = spec.secrets.clone();
            Arc::new(move |line: &str| {
                let line = redact(line, &secrets);
                let mut report = report.lock().unwrap_or_else(PoisonError::into_inner);
                report.observe(&line);
                if report.retrying {
                    stop.cancel();
                }
                drop(report);
                if let Some(on_line) = &on_line {
                    on_line(&line);
                }
            })
        };
        let mut process =
            run_process(&spec, &inv.log_path, &inv.limits, Some(callback), stop).await?;
        remove_new_tag_caches(&inv.worktree, &caches_before);

        let report = report
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let stopped_by_adapter =
            process.termination == Termination::Cancelled && !cancel.is_cancelled();
        if stopped_by_adapter {
            process.termination = Termination::Signaled(Signal::SIGTERM as i32);
        }
        let changed = worktree_changed(&inv.worktree).await;
        let (success, summary) = self.judge(&spec, &process, &report, stopped_by_adapter, changed);
        Ok(ToolOutcome {
            success,
            process,
            summary,
            usage: report.usage(self.model().as_deref()),
        })
    }
}

fn last_line(tail: &str) -> String {
    tail.lines()
        .map(str::trim)
        .rfind(|line| !line.is_empty())
        .unwrap_or("")
        .to_owned()
}

/// Creates a fresh home for the attempt with the model metadata file in it.
async fn prepare_home(home: &Path, metadata: &serde_json::Value) -> Result<(), AdapterError> {
    let home_error = |source| AdapterError::PromptFile {
        path: home.to_path_buf(),
        source,
    };
    if tokio::fs::metadata(home).await.is_ok() {
        tokio::fs::remove_dir_all(home).await.map_err(home_error)?;
    }
    tokio::fs::create_dir_all(home).await.map_err(home_error)?;
    write_file(
        &home.join("model-metadata.json"),
        metadata.to_string().as_bytes(),
    )
    .await
}

async fn write_file(path: &Path, contents: &[u8]) -> Result<(), AdapterError> {
    let error = |source| AdapterError::PromptFile {
        path: path.to_path_buf(),
        source,
    };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        tokio::fs::create_dir_all(parent).await.map_err(error)?;
    }
    tokio::fs::write(path, contents).await.map_err(error)
}

/// The step's `files_scope` as Aider's editable files: files and not-yet-existing paths
/// as given; directories and glob patterns expanded to the files git tracks there.
async fn editable_files(worktree: &Path, scope: &[String]) -> Vec<String> {
    let mut files = Vec::new();
    for entry in scope {
        let is_glob = entry.contains(['*', '?', '[']);
        let path = worktree.join(entry);
        if !is_glob && !path.is_dir() {
            files.push(entry.clone());
            continue;
        }
        let pathspec = if is_glob {
            format!(":(glob){entry}")
        } else {
            entry.clone()
        };
        let output = git(worktree, &["ls-files", "-z", "--", &pathspec]).await;
        match output {
            Ok(output) if output.termination.is_success() && !output.stdout_truncated => files
                .extend(
                    output
                        .stdout
                        .split(|byte| *byte == 0)
                        .filter(|name| !name.is_empty())
                        .map(|name| String::from_utf8_lossy(name).into_owned()),
                ),
            // Without git the scope cannot be expanded; Aider then gets no file for
            // this entry and may still create or edit files the prompt names.
            _ => tracing::warn!(
                entry,
                "cannot list tracked files of a files_scope entry for Aider"
            ),
        }
    }
    files.sort();
    files.dedup();
    files
}

/// True when `git status` shows any change in the worktree (or cannot tell).
async fn worktree_changed(worktree: &Path) -> bool {
    match git(
        worktree,
        &["status", "--porcelain", "--untracked-files=all"],
    )
    .await
    {
        Ok(output) if output.termination.is_success() => !output.stdout.is_empty(),
        _ => true,
    }
}

/// Runs `git <args>` in `worktree` under the process supervisor, keeping up to 64 MiB
/// of its stdout (a file list of a large repository).
async fn git(worktree: &Path, args: &[&str]) -> Result<CapturedOutput, ProcessError> {
    let spec = ProcessSpec::new("git", args, worktree);
    let limits = CaptureLimits {
        max_stdout_bytes: 64 * 1024 * 1024,
        ..CaptureLimits::default()
    };
    run_captured(&spec, &[], &limits, CancellationToken::new()).await
}

/// Aider's repository-map caches at the top of the worktree.
fn tag_caches(worktree: &Path) -> BTreeMap<OsString, ()> {
    std::fs::read_dir(worktree)
        .map(|entries| {
            entries
                .flatten()
                .map(|entry| entry.file_name())
                .filter(|name| name.to_string_lossy().starts_with(".aider.tags.cache"))
                .map(|name| (name, ()))
                .collect()
        })
        .unwrap_or_default()
}

fn remove_new_tag_caches(worktree: &Path, before: &BTreeMap<OsString, ()>) {
    for name in tag_caches(worktree).into_keys() {
        if !before.contains_key(&name)
            && let Err(error) = std::fs::remove_dir_all(worktree.join(&name))
        {
            tracing::warn!(%error, cache = %name.to_string_lossy(), "cannot remove Aider's repository-map cache from the worktree");
        }
    }
}

#[cfg(test)]
mod tests;
