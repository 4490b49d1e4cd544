//! The `claude` adapter: drives Claude Code (npm `@anthropic-ai/claude-code`, tested with
//! 2.1.329) non-interactively in a step's worktree.
//!
//! # How a step runs
//!
//! 1. The prompt is written to the invocation's `prompt_file` (kept for the record and
//!    for prompts too long for one argument, see below).
//! 2. A fresh, empty Claude configuration directory is made next to the attempt log
//!    (`<attempt>.claude-config`) and passed as `CLAUDE_CONFIG_DIR`: nothing of the
//!    user's `~/.claude` or `~/.claude.json` is read, and Claude Code's session
//!    transcript stays with the attempt's logs. `HOME` is left alone so that the
//!    commands Claude runs (cargo, npm, git) find their usual setup.
//! 3. The command line is
//!    `claude -p --output-format stream-json --verbose [--permission-mode acceptEdits] [--model <model>] <profile args> -- <prompt>`
//!    run in the worktree under [`run_process`] (stdin is `/dev/null`).
//!    `acceptEdits` lets Claude Code edit files and run the commands it considers safe
//!    without asking (nobody can answer in `-p` mode: what it would ask about is denied
//!    and listed in the result's `permission_denials`); a profile that passes its own
//!    `--permission-mode`, `--dangerously-skip-permissions` or
//!    `--allow-dangerously-skip-permissions` in `args` replaces it (Claude Code refuses
//!    `bypassPermissions` when run as root). `--model` comes from the profile's `model`.
//! 4. Environment: first the switches that keep Claude Code from phoning home
//!    ([`QUIET_ENV`]: no auto-update, telemetry, error reporting, feedback survey, plugin
//!    marketplace install or other non-essential traffic; checked with `strace` against
//!    2.1.329: its only connection is to the model API), then `CLAUDE_CONFIG_DIR`, then
//!    the profile's and the step's `env` (which may override any of those, e.g. point
//!    `CLAUDE_CONFIG_DIR` at a logged-in configuration), then `ANTHROPIC_BASE_URL` from
//!    the profile's `api_base` (a trailing `/v1` is dropped: Claude Code adds
//!    `/v1/messages` itself), `ANTHROPIC_API_KEY` from the variable the profile's
//!    `api_key_env` names (looked up in the step's, then the profile's `env`, then the
//!    pipeline's own environment), and the `PIPELINE_*` variables.
//! 5. stdout is the stream-json event stream; it goes to the attempt log as it is (the
//!    error engine's plugins read it there), each line is turned into a short progress
//!    line on the fly, and after the process ends the log is read back and folded into a
//!    [`StreamReport`] (see `claude_adapter/stream_report.rs`). The log, not the line callback, is
//!    the source because the callback cuts lines at 4 KiB and the final `result` event is
//!    often longer.
//!
//! # Verdict
//!
//! Success needs all of: an exit code in the profile's `success_exit_codes` and a final
//! `result` event with `is_error: false` and subtype `success`. A missing `result` event
//! (killed, crashed, refused its arguments) is a failure whatever the exit code. The
//! usage comes from the `result` event (tokens, `total_cost_usd`) and the `init` event
//! (model); requests are the distinct assistant messages. The summary names Claude
//! Code's own message (e.g. `API Error: Request rejected (429) ...`), tools it was not
//! allowed to use, and, when it was not logged in, the unset `api_key_env` variable; the
//! values of secret variables are redacted from it.
//!
//! Prompts longer than [`MAX_PROMPT_ARG_BYTES`] do not fit in one argument (Linux limits
//! a single argument to 128 KiB); Claude Code is then told to read the prompt file, and
//! the file's directory is added with `--add-dir` so that reading it needs no permission.

mod stream_report;

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
use crate::invocation::{Invocation, ToolOutcome, Usage};
use crate::prompt_argument::{MAX_PROMPT_ARG_BYTES, prompt_argument};
use crate::tool_adapter::ToolDriver;
use crate::tool_profile::ToolProfile;

use self::stream_report::{StreamReport, progress_line};

/// The permission mode used unless the profile's `args` choose one.
pub(crate) const DEFAULT_PERMISSION_MODE: &str = "acceptEdits";

/// Variables that stop Claude Code's background traffic (names from Claude Code's
/// settings documentation, present in 2.1.329): set before the profile's and step's
/// `env`, which may override them.
pub(crate) const QUIET_ENV: [(&str, &str); 9] = [
    ("DISABLE_AUTOUPDATER", "1"),
    ("DISABLE_UPDATES", "1"),
    ("DISABLE_TELEMETRY", "1"),
    ("DISABLE_ERROR_REPORTING", "1"),
    ("DISABLE_BUG_COMMAND", "1"),
    ("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1"),
    ("CLAUDE_CODE_DISABLE_FEEDBACK_SURVEY", "1"),
    ("CLAUDE_CODE_DISABLE_OFFICIAL_MARKETPLACE_AUTOINSTALL", "1"),
    ("CLAUDE_CODE_DISABLE_TERMINAL_TITLE", "1"),
];

/// Longest excerpt, in characters, of a message quoted in a summary.
const SUMMARY_EXCERPT_CHARS: usize = 300;

/// Runs a `claude` tool profile (see the module documentation).
#[derive(Debug, Clone)]
pub(crate) struct ClaudeAdapter {
    name: String,
    profile: ToolProfile,
    /// The profile's `args`, appended after the driver's own options.
    extra_args: Vec<ArgTemplate>,
}

impl ClaudeAdapter {
    /// An adapter named `name` for `profile`.
    ///
    /// # Errors
    /// The profile's `args` templates are malformed or use `{model}` / `{api_base}`
    /// that the profile does not set ([`crate::ConfigError`]).
    pub(crate) fn new(name: &str, profile: ToolProfile) -> Result<Self, crate::ConfigError> {
        let extra_args = compile_args(name, &profile, "tool profile")?;
        Ok(ClaudeAdapter {
            name: name.to_owned(),
            profile,
            extra_args,
        })
    }

    /// The process that runs attempt `inv` with `config_dir` as `CLAUDE_CONFIG_DIR`;
    /// `lookup` gives the pipeline's own environment variables (`std::env::var` in
    /// production). Program, arguments and environment are described in the module
    /// documentation; the timeout is the step's, else the profile's `timeout_sec`.
    pub(crate) fn process_spec(
        &self,
        inv: &Invocation,
        config_dir: &Path,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> ProcessSpec {
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
        let mut args: Vec<OsString> = ["-p", "--output-format", "stream-json", "--verbose"]
            .into_iter()
            .map(OsString::from)
            .collect();
        if !chooses_permission_mode(&extra) {
            args.push("--permission-mode".into());
            args.push(DEFAULT_PERMISSION_MODE.into());
        }
        if let Some(model) = &self.profile.model {
            args.push("--model".into());
            args.push(model.into());
        }
        let long_prompt = inv.prompt.len() > MAX_PROMPT_ARG_BYTES;
        if long_prompt
            && let Some(dir) = inv
                .prompt_file
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
        {
            args.push("--add-dir".into());
            args.push(dir.into());
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

        let mut env: Vec<(OsString, OsString)> = QUIET_ENV
            .iter()
            .map(|(name, value)| (name.into(), value.into()))
            .collect();
        env.push(("CLAUDE_CONFIG_DIR".into(), config_dir.into()));
        env.extend(
            self.profile
                .env
                .iter()
                .chain(&inv.env)
                .map(|(name, value)| (name.into(), value.into())),
        );
        if let Some(api_base) = &self.profile.api_base {
            env.push((
                "ANTHROPIC_BASE_URL".into(),
                anthropic_base_url(api_base).into(),
            ));
        }
        if let Some(key) = self.api_key(inv, lookup) {
            env.push(("ANTHROPIC_API_KEY".into(), key.into()));
        }
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
            secrets: inv.with_run_secrets(self.profile.secret_values(&inv.env, lookup)),
            containment: inv.containment_with(&[config_dir]),
        }
    }

    /// The value of the variable the profile's `api_key_env` names: from the step's
    /// `env`, the profile's `env`, else the pipeline's environment.
    fn api_key(&self, inv: &Invocation, lookup: &dyn Fn(&str) -> Option<String>) -> Option<String> {
        let name = self.profile.api_key_env.as_deref()?;
        inv.env
            .get(name)
            .or_else(|| self.profile.env.get(name))
            .cloned()
            .or_else(|| lookup(name))
    }

    /// One line for status displays: how the process ended, then what Claude Code
    /// reported (its result and usage on success, its error message otherwise).
    fn summarize(
        &self,
        spec: &ProcessSpec,
        process: &ProcessOutcome,
        report: &StreamReport,
        exit_ok: bool,
        inv: &Invocation,
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
        let Some(result) = &report.result else {
            let verdict = match report.reported_success() {
                Some(true) => "claude reported success (result event cut short)",
                Some(false) => "claude reported an error (result event cut short)",
                None => "no final result event from claude",
            };
            let last_line = process
                .tail
                .lines()
                .rev()
                .filter_map(progress_line)
                .find(|line| !line.is_empty());
            return match last_line {
                Some(line) => format!("{ended}: {verdict}; last output: {}", excerpt(&line)),
                None => format!("{ended}: {verdict}"),
            };
        };
        let mut text = if result.succeeded() {
            let mut done = format!(
                "{ended}: claude finished in {} turn(s), {} tool use(s)",
                result.turns.unwrap_or(0),
                report.tool_uses
            );
            if let Some(usage) = report.usage() {
                done.push_str(&format!(
                    ", {} tokens in ({} cached), {} out",
                    usage.input_tokens.unwrap_or(0),
                    usage.cached_input_tokens.unwrap_or(0),
                    usage.output_tokens.unwrap_or(0)
                ));
                if let Some(cost) = usage.cost_usd {
                    done.push_str(&format!(", ${cost:.4}"));
                }
            }
            done
        } else {
            // A failed API call still has subtype `success`; `terminal_reason` says more.
            let reason = match (result.subtype.as_str(), &result.terminal_reason) {
                ("success", Some(reason)) => reason.as_str(),
                (subtype, _) => subtype,
            };
            let mut why = format!("{ended}: claude reported an error ({reason}");
            if let Some(status) = result.api_error_status {
                why.push_str(&format!(", HTTP {status}"));
            }
            if let Some(kind) = &result.api_error {
                why.push_str(&format!(", {kind}"));
            }
            why.push(')');
            if let Some(message) = &result.text {
                why.push_str(": ");
                why.push_str(&excerpt(message));
            }
            if let Some(name) = self.profile.api_key_env.as_deref()
                && result
                    .text
                    .as_deref()
                    .is_some_and(|t| t.contains("Not logged in"))
                && self
                    .api_key(inv, &|name| std::env::var(name).ok())
                    .is_none()
            {
                why.push_str(&format!(
                    " (the variable {name} named by the profile's api_key_env is not set)"
                ));
            }
            why
        };
        if !result.denied_tools.is_empty() {
            let mut tools = result.denied_tools.clone();
            tools.dedup();
            text.push_str(&format!(
                "; permission mode {} denied: {}",
                report.permission_mode.as_deref().unwrap_or("?"),
                tools.join(", ")
            ));
        }
        if result.succeeded() && !exit_ok {
            text.push_str("; the exit code says it failed");
        }
        text
    }
}

impl ToolDriver for ClaudeAdapter {
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
        let config_dir = config_dir_for(&inv.log_path);
        prepare_config_dir(&config_dir).await?;
        let lookup = |name: &str| std::env::var(name).ok();
        let spec = self.process_spec(inv, &config_dir, &lookup);

        // Live progress: stream-json lines become short human-readable lines; with a
        // usage watch, each line also feeds a running report whose per-request usage
        // goes to the watch whenever it grows.
        let observer: Option<LineCallback> = match (on_line, inv.usage_watch.clone()) {
            (None, None) => None,
            (forward, watch) => {
                let running = Mutex::new((StreamReport::default(), None::<Usage>));
                Some(Arc::new(move |line: &str| {
                    if let Some(forward) = &forward
                        && let Some(text) = progress_line(line)
                    {
                        forward(&text);
                    }
                    if let Some(watch) = &watch {
                        let grown = {
                            let mut running =
                                running.lock().unwrap_or_else(PoisonError::into_inner);
                            let (report, last) = &mut *running;
                            report.feed(line);
                            let now = report.streamed_usage();
                            (now != *last).then(|| {
                                *last = now.clone();
                                now
                            })
                        };
                        if let Some(Some(usage)) = grown {
                            watch.report(&usage);
                        }
                    }
                }))
            }
        };
        let process = run_process(&spec, &inv.log_path, &inv.limits, observer, cancel).await?;
        let report = read_report(&inv.log_path, &process).await;

        let exit_ok = process
            .termination
            .exit_code()
            .is_some_and(|code| self.profile.is_success(code));
        let success = exit_ok && report.reported_success() == Some(true);
        let summary = redact(
            &self.summarize(&spec, &process, &report, exit_ok, inv),
            &spec.secrets,
        );
        Ok(ToolOutcome {
            success,
            usage: report.usage(),
            process,
            summary,
        })
    }
}

/// True when the profile's arguments choose Claude Code's permission handling.
fn chooses_permission_mode(args: &[OsString]) -> bool {
    args.iter().any(|arg| {
        let arg = arg.to_string_lossy();
        arg == "--permission-mode"
            || arg.starts_with("--permission-mode=")
            || arg == "--dangerously-skip-permissions"
            || arg == "--allow-dangerously-skip-permissions"
    })
}

/// `ANTHROPIC_BASE_URL` for a profile's `api_base`: without a trailing `/` or `/v1`,
/// since Claude Code appends `/v1/messages` itself.
fn anthropic_base_url(api_base: &str) -> &str {
    let base = api_base.trim_end_matches('/');
    base.strip_suffix("/v1").unwrap_or(base)
}

/// The attempt's Claude configuration directory: `<log dir>/<attempt>.claude-config`,
/// absolute (Claude Code runs in the worktree, so a relative path would move).
fn config_dir_for(log_path: &Path) -> PathBuf {
    let stem = log_path.file_stem().map_or_else(
        || "attempt".into(),
        |stem| stem.to_string_lossy().into_owned(),
    );
    let dir = log_path
        .parent()
        .unwrap_or_else(|| Path::new(""))
        .join(format!("{stem}.claude-config"));
    if dir.is_absolute() {
        dir
    } else {
        std::env::current_dir().map_or(dir.clone(), |cwd| cwd.join(&dir))
    }
}

/// Makes `config_dir` an empty directory (a stale one of an earlier, interrupted run of
/// the same attempt number is removed first).
async fn prepare_config_dir(config_dir: &Path) -> Result<(), AdapterError> {
    let log_error = |source| AdapterError::ToolHome {
        path: config_dir.to_path_buf(),
        source,
    };
    match tokio::fs::remove_dir_all(config_dir).await {
        Ok(()) => {}
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(source) => return Err(log_error(source)),
    }
    tokio::fs::create_dir_all(config_dir)
        .await
        .map_err(log_error)
}

/// Reads the attempt log back, line by line, and folds its stream-json lines into a
/// report. The log holds every complete line (within the log limit); when it cannot be
/// read, or the log limit cut the `result` event off, the tail kept in memory is used.
async fn read_report(log_path: &Path, process: &ProcessOutcome) -> StreamReport {
    let mut report = match read_log_report(log_path).await {
        Ok(report) => report,
        Err(error) => {
            tracing::warn!(path = %log_path.display(), %error, "cannot read the attempt log back; judging claude from the output tail");
            return StreamReport::from_text(&process.tail);
        }
    };
    if report.result.is_none() {
        let tail = StreamReport::from_text(&process.tail);
        if tail.result.is_some() || tail.truncated_result_is_error.is_some() {
            report.result = tail.result;
            report.truncated_result_is_error = tail.truncated_result_is_error;
        }
    }
    report
}

async fn read_log_report(log_path: &Path) -> std::io::Result<StreamReport> {
    use tokio::io::AsyncBufReadExt;
    let file = tokio::fs::File::open(log_path).await?;
    let mut reader = tokio::io::BufReader::new(file);
    let mut report = StreamReport::default();
    let mut line = Vec::new();
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line).await? == 0 {
            break;
        }
        report.feed(&String::from_utf8_lossy(&line));
    }
    Ok(report)
}

/// `text` cut to [`SUMMARY_EXCERPT_CHARS`] characters.
fn excerpt(text: &str) -> String {
    text.chars().take(SUMMARY_EXCERPT_CHARS).collect()
}

async fn write_file(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        tokio::fs::create_dir_all(parent).await?;
    }
    tokio::fs::write(path, contents).await
}

#[cfg(test)]
mod tests;
