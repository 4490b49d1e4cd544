//! The `codex` adapter: drives the OpenAI Codex CLI (npm `@openai/codex`, tested with
//! codex-cli 0.169.0) non-interactively in a step's worktree.
//!
//! # How a step runs
//!
//! 1. The prompt is written to the invocation's `prompt_file` (kept for the record and
//!    for prompts too long for one argument, see below).
//! 2. A fresh `CODEX_HOME` is made next to the attempt log (`<attempt>.codex-home`) with a
//!    generated `config.toml` (see `codex_adapter/codex_home.rs`): a `pipeline` model provider
//!    on the profile's `api_base` and `api_key_env`, Responses wire API, Codex's own
//!    retries off, no update check, analytics, feedback or telemetry. Nothing of the
//!    user's `~/.codex` is read, and Codex's sessions stay with the attempt's logs.
//! 3. The command line is
//!    `codex exec --json --skip-git-repo-check -s workspace-write [-m <model>] <profile args> -- <prompt>`
//!    run in the worktree under [`run_process`] (stdin is `/dev/null`: Codex appends
//!    piped stdin to the prompt, so nothing is ever piped). `-s workspace-write` lets
//!    Codex write in the worktree only; a profile that passes its own `-s`/`--sandbox`
//!    or `--dangerously-bypass-approvals-and-sandbox` in `args` replaces it.
//!    `--skip-git-repo-check` because the pipeline, not Codex, decides where a step may
//!    run (a step with `isolation: none` runs in place). The API key reaches Codex in the
//!    variable the profile's `api_key_env` names, inherited from the pipeline's own
//!    environment or set in the profile's or step's `env`.
//! 4. stdout is Codex's JSONL event stream; it goes to the attempt log as it is (the
//!    `codex` plugin of the error engine reads it from there), and each event is also
//!    parsed on the fly (`codex_adapter/event_log.rs`) for the live progress line (a command
//!    being run, files edited, the turn's result) and for the verdict.
//!
//! # Verdict
//!
//! Success needs all of: an exit code in the profile's `success_exit_codes`, at least
//! one `turn.completed` event, no `turn.failed` and no fatal `error` event (Codex's
//! "Reconnecting..." notices are not fatal). The usage is the sum of the
//! `turn.completed` token counts, with the model the profile asked for. The summary
//! names the failing event's message, with the values of secret variables (the API key
//! and the profile's `secret_env`) redacted.
//!
//! Prompts longer than [`MAX_PROMPT_ARG_BYTES`](crate::prompt_argument::MAX_PROMPT_ARG_BYTES) do not fit in one argument (Linux limits
//! a single argument to 128 KiB); Codex is then told to read the prompt file, which is
//! outside the worktree but readable in the `workspace-write` sandbox.

mod codex_home;
mod event_log;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use pipeline_process::{
    DEFAULT_KILL_GRACE, LineCallback, ProcessOutcome, ProcessSpec, Termination, redact, run_process,
};
use tokio_util::sync::CancellationToken;

use crate::adapter_error::AdapterError;
use crate::arg_template::{ArgTemplate, PlaceholderValues};
use crate::custom_adapter::compile_args;
use crate::invocation::{Invocation, ToolOutcome};
use crate::prompt_argument::prompt_argument;
use crate::tool_adapter::ToolDriver;
use crate::tool_profile::ToolProfile;

use self::codex_home::{codex_home_for, config_toml};
use self::event_log::{CodexEventLog, LineMeaning};

/// The sandbox mode used unless the profile's `args` choose one: Codex may write in the
/// worktree (and temporary directories) only.
pub(crate) const DEFAULT_SANDBOX: &str = "workspace-write";

/// Longest excerpt, in characters, of a message quoted in a summary.
const SUMMARY_EXCERPT_CHARS: usize = 300;

/// Runs a `codex` tool profile (see the module documentation).
#[derive(Debug, Clone)]
pub(crate) struct CodexAdapter {
    name: String,
    profile: ToolProfile,
    /// The profile's `args`, appended after the driver's own options.
    extra_args: Vec<ArgTemplate>,
}

impl CodexAdapter {
    /// An adapter named `name` for `profile`.
    ///
    /// # Errors
    /// The profile's `args` templates are malformed or use `{model}` / `{api_base}`
    /// that the profile does not set ([`crate::ConfigError`]).
    pub(crate) fn new(name: &str, profile: ToolProfile) -> Result<Self, crate::ConfigError> {
        let extra_args = compile_args(name, &profile, "tool profile")?;
        Ok(CodexAdapter {
            name: name.to_owned(),
            profile,
            extra_args,
        })
    }

    /// The process that runs attempt `inv` with `codex_home` as `CODEX_HOME`: program,
    /// arguments (see the module documentation), the worktree as working directory, the
    /// profile's then the step's `env`, then `CODEX_HOME` and the `PIPELINE_*`
    /// variables, the step's timeout, else the profile's `timeout_sec`, and the values
    /// of secret variables, which the supervisor redacts from the log and the tail.
    pub(crate) fn process_spec(&self, inv: &Invocation, codex_home: &Path) -> ProcessSpec {
        let values = PlaceholderValues {
            prompt: &inv.prompt,
            prompt_file: &inv.prompt_file,
            worktree: &inv.worktree,
            step_id: &inv.step_id,
            files: &inv.files,
            model: self.profile.model.as_deref(),
            api_base: self.profile.api_base.as_deref(),
        };
        let mut extra = Vec::new();
        for template in &self.extra_args {
            template.expand(&values, &mut extra);
        }
        let mut args: Vec<OsString> = vec![
            "exec".into(),
            "--json".into(),
            "--skip-git-repo-check".into(),
        ];
        if !chooses_sandbox(&extra) {
            args.push("-s".into());
            args.push(DEFAULT_SANDBOX.into());
        }
        if let Some(model) = &self.profile.model {
            args.push("-m".into());
            args.push(model.into());
        }
        args.extend(extra);
        args.push("--".into());
        args.push(prompt_argument(&inv.prompt, &inv.prompt_file).into());

        let command = Path::new(&self.profile.command);
        let program = if command.is_relative() && command.components().count() > 1 {
            let command = command.strip_prefix(".").unwrap_or(command);
            inv.worktree.join(command).into_os_string()
        } else {
            OsString::from(&self.profile.command)
        };
        let mut env: Vec<(OsString, OsString)> = self
            .profile
            .env
            .iter()
            .chain(&inv.env)
            .map(|(name, value)| (name.into(), value.into()))
            .collect();
        env.push(("CODEX_HOME".into(), codex_home.into()));
        env.extend(inv.context_env());
        ProcessSpec {
            program,
            args,
            cwd: inv.worktree.clone(),
            env,
            env_clear: false,
            timeout: inv.timeout.or_else(|| self.profile.timeout()),
            stall_timeout: self.profile.stall_timeout(inv.stall_timeout),
            kill_grace: DEFAULT_KILL_GRACE,
            secrets: inv.with_run_secrets(
                self.profile
                    .secret_values(&inv.env, &|name| std::env::var(name).ok()),
            ),
            containment: inv.containment_with(&[codex_home]),
        }
    }

    /// One line for status displays: `exit 0: ...` with what Codex did on success, else
    /// why the attempt failed (the decisive event's message, or how the process ended),
    /// secrets redacted.
    fn summarize(
        &self,
        spec: &ProcessSpec,
        process: &ProcessOutcome,
        events: &CodexEventLog,
        exit_ok: bool,
        event_failure: Option<&str>,
    ) -> String {
        let ended = match process.termination {
            Termination::Exited(code) if exit_ok => format!("exit {code}"),
            Termination::Exited(code) => {
                let expected: Vec<String> = self
                    .profile
                    .success_exit_codes
                    .iter()
                    .map(i32::to_string)
                    .collect();
                format!("exit {code} (success: {})", expected.join(", "))
            }
            Termination::TimedOut => match spec.timeout {
                Some(timeout) => format!("timed out after {} s", timeout.as_secs_f64()),
                None => "timed out".to_owned(),
            },
            Termination::Stalled => crate::stalled_text(spec),
            other => other.to_string(),
        };
        let text = match (exit_ok, event_failure) {
            (true, None) => {
                let mut done = format!(
                    "{ended}: codex ran {} command(s), changed {} file(s)",
                    events.commands_run,
                    events.files_changed.len()
                );
                if let Some(usage) = events.usage {
                    done.push_str(&format!(
                        ", {} tokens in ({} cached), {} out",
                        usage.input_tokens, usage.cached_input_tokens, usage.output_tokens
                    ));
                }
                done
            }
            (_, Some(why)) => {
                let why: String = why.chars().take(SUMMARY_EXCERPT_CHARS).collect();
                // A process killed before any event explains itself by how it ended.
                match process.termination {
                    Termination::Exited(_) => format!("{ended}: codex {why}"),
                    _ => format!("{ended} (codex: {why})"),
                }
            }
            (false, None) => {
                let last_line = process.tail.lines().map(str::trim).rfind(|l| !l.is_empty());
                match last_line {
                    Some(line) => format!(
                        "{ended}: {}",
                        line.chars().take(SUMMARY_EXCERPT_CHARS).collect::<String>()
                    ),
                    None => ended,
                }
            }
        };
        redact(&text, &spec.secrets)
    }
}

impl ToolDriver for CodexAdapter {
    fn tool_name(&self) -> &str {
        &self.name
    }

    async fn run(
        &self,
        inv: &Invocation,
        on_line: Option<LineCallback>,
        cancel: CancellationToken,
    ) -> Result<ToolOutcome, AdapterError> {
        write_file(&inv.prompt_file, inv.prompt.as_bytes())
            .await
            .map_err(|source| AdapterError::PromptFile {
                path: inv.prompt_file.clone(),
                source,
            })?;
        let codex_home = codex_home_for(&inv.log_path);
        prepare_codex_home(
            &codex_home,
            &config_toml(&self.name, &self.profile, &inv.step_id, inv.attempt),
        )
        .await?;
        let spec = self.process_spec(inv, &codex_home);

        let events = Arc::new(Mutex::new(CodexEventLog::default()));
        // Every line feeds the event log; the live progress gets words instead of JSON,
        // with secrets redacted like the log (a server may echo a key in an error).
        let observer: LineCallback = {
            let events = events.clone();
            let secrets = spec.secrets.clone();
            let watch = inv.usage_watch.clone();
            let model = self.profile.model.clone();
            Arc::new(move |line: &str| {
                let (meaning, grown) = {
                    let mut events = events.lock().unwrap_or_else(PoisonError::into_inner);
                    let before = events.usage(model.as_deref());
                    let meaning = events.observe(line);
                    let after = events.usage(model.as_deref());
                    (meaning, after.filter(|now| Some(now) != before.as_ref()))
                };
                // Each `turn.completed` adds its usage: tell the watch the new total.
                if let (Some(watch), Some(usage)) = (&watch, grown) {
                    watch.report(&usage);
                }
                if let Some(forward) = &on_line {
                    match meaning {
                        LineMeaning::Raw => forward(&redact(line, &secrets)),
                        LineMeaning::Progress(text) => forward(&redact(&text, &secrets)),
                        LineMeaning::Quiet => {}
                    }
                }
            })
        };
        let process =
            run_process(&spec, &inv.log_path, &inv.limits, Some(observer), cancel).await?;
        let events = events
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();

        let exit_ok = process
            .termination
            .exit_code()
            .is_some_and(|code| self.profile.is_success(code));
        let event_failure = events.failure();
        let success = exit_ok && event_failure.is_none();
        let summary = self.summarize(&spec, &process, &events, exit_ok, event_failure.as_deref());
        Ok(ToolOutcome {
            success,
            usage: events.usage(self.profile.model.as_deref()),
            process,
            summary,
        })
    }
}

/// True when the profile's arguments choose Codex's sandbox themselves.
fn chooses_sandbox(args: &[OsString]) -> bool {
    let mut previous_was_config = false;
    for arg in args {
        let arg = arg.to_string_lossy();
        if arg == "-s"
            || arg == "--sandbox"
            || arg.starts_with("--sandbox=")
            || arg == "--dangerously-bypass-approvals-and-sandbox"
            || (previous_was_config && arg.trim_start().starts_with("sandbox_mode"))
        {
            return true;
        }
        previous_was_config = arg == "-c" || arg == "--config";
    }
    false
}

async fn write_file(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        tokio::fs::create_dir_all(parent).await?;
    }
    tokio::fs::write(path, contents).await
}

/// Makes `codex_home` an empty directory holding `config` as `config.toml` (a stale
/// home of an earlier, interrupted run of the same attempt number is removed first).
async fn prepare_codex_home(codex_home: &Path, config: &str) -> Result<(), AdapterError> {
    let log_error = |path: PathBuf| move |source| AdapterError::ToolHome { path, source };
    match tokio::fs::remove_dir_all(codex_home).await {
        Ok(()) => {}
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(source) => return Err(log_error(codex_home.to_path_buf())(source)),
    }
    let config_path = codex_home.join("config.toml");
    write_file(&config_path, config.as_bytes())
        .await
        .map_err(log_error(config_path))
}

#[cfg(test)]
mod tests;
