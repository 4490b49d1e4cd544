//! The `custom` adapter: run any command described by a tool profile.
//!
//! The profile's `command` is executed with its `args` templates expanded for the step
//! (see `arg_template`), in the step's worktree, under [`run_process`]. The environment
//! is the supervisor's own, then the profile's `env`, then the step's `env` (the step
//! wins), then `PIPELINE_STEP_ID`, `PIPELINE_WORKTREE`, `PIPELINE_PROMPT_FILE` and
//! `PIPELINE_ATTEMPT`, so that a plain shell command can find its context without
//! placeholders. The prompt is written to the invocation's `prompt_file` first, since
//! `PIPELINE_PROMPT_FILE` promises it exists, unless nothing can want it: the step has
//! no prompt of its own ([`Invocation::has_prompt`]) and the arguments mention neither
//! `{prompt_file}` nor `PIPELINE_PROMPT_FILE`; then neither the file nor the variable
//! exists (a plain command step costs no file write). The built-in `shell` tool is this
//! adapter with `sh -c <step command>` (see [`crate::ToolProfile::shell`]).

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use pipeline_process::{
    DEFAULT_KILL_GRACE, LineCallback, ProcessOutcome, ProcessSpec, Termination, run_process,
};
use tokio_util::sync::CancellationToken;

use crate::adapter_error::AdapterError;
use crate::arg_template::{ArgTemplate, Placeholder, PlaceholderValues};
use crate::config_error::ConfigError;
use crate::invocation::{Invocation, ToolOutcome};
use crate::tool_adapter::ToolDriver;
use crate::tool_profile::ToolProfile;

/// Longest output excerpt, in characters, quoted in a failure summary.
const SUMMARY_EXCERPT_CHARS: usize = 200;

/// Runs a `custom` tool profile.
#[derive(Debug, Clone)]
pub struct CustomAdapter {
    name: String,
    profile: ToolProfile,
    args: Vec<ArgTemplate>,
}

impl CustomAdapter {
    /// An adapter named `name` running `profile` (whose `kind` is not checked: any
    /// profile can be run as a plain command).
    ///
    /// # Errors
    /// [`ConfigError::Placeholder`] for a malformed argument template, and
    /// [`ConfigError::InvalidProfile`] when an argument uses `{model}` or `{api_base}`
    /// that the profile does not set.
    pub fn new(name: impl Into<String>, profile: ToolProfile) -> Result<Self, ConfigError> {
        let name = name.into();
        let args = compile_args(&name, &profile, "in-memory profile")?;
        Ok(CustomAdapter {
            name,
            profile,
            args,
        })
    }

    /// An adapter from already compiled argument templates.
    pub(crate) fn from_parts(name: String, profile: ToolProfile, args: Vec<ArgTemplate>) -> Self {
        CustomAdapter {
            name,
            profile,
            args,
        }
    }

    /// The profile this adapter runs.
    pub fn profile(&self) -> &ToolProfile {
        &self.profile
    }

    /// True when a prompt file is written for `inv` (see the module documentation).
    pub fn writes_prompt_file(&self, inv: &Invocation) -> bool {
        inv.has_prompt
            || self
                .args
                .iter()
                .any(|template| template.uses(Placeholder::PromptFile))
            || self
                .profile
                .args
                .iter()
                .any(|argument| argument.contains("PIPELINE_PROMPT_FILE"))
    }

    /// The process this adapter would start for `inv`: program, expanded arguments,
    /// worktree as working directory, layered environment and effective timeout (the
    /// step's, else the profile's `timeout_sec`). A relative `command` containing a `/`
    /// is resolved against the worktree. `PIPELINE_PROMPT_FILE` is set only when the
    /// prompt file is written ([`CustomAdapter::writes_prompt_file`]).
    pub fn process_spec(&self, inv: &Invocation) -> ProcessSpec {
        let values = PlaceholderValues {
            prompt: &inv.prompt,
            prompt_file: &inv.prompt_file,
            worktree: &inv.worktree,
            step_id: &inv.step_id,
            files: &inv.files,
            model: self.profile.model.as_deref(),
            api_base: self.profile.api_base.as_deref(),
        };
        let mut args = Vec::new();
        for template in &self.args {
            template.expand(&values, &mut args);
        }
        let command = Path::new(&self.profile.command);
        let program = if command.is_relative() && command.components().count() > 1 {
            let command = command.strip_prefix(".").unwrap_or(command);
            inv.worktree.join(command).into_os_string()
        } else {
            OsString::from(&self.profile.command)
        };
        let mut env: Vec<(OsString, OsString)> = Vec::new();
        env.extend(
            self.profile
                .env
                .iter()
                .chain(&inv.env)
                .map(|(name, value)| (name.into(), value.into())),
        );
        let prompt_file = self.writes_prompt_file(inv);
        env.extend(
            inv.context_env()
                .into_iter()
                .filter(|(name, _)| prompt_file || name != "PIPELINE_PROMPT_FILE"),
        );
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
            containment: inv.containment.clone(),
        }
    }
}

impl ToolDriver for CustomAdapter {
    fn tool_name(&self) -> &str {
        &self.name
    }

    async fn run(
        &self,
        inv: &Invocation,
        on_line: Option<LineCallback>,
        cancel: CancellationToken,
    ) -> Result<ToolOutcome, AdapterError> {
        if self.writes_prompt_file(inv) {
            write_prompt_file(&inv.prompt_file, &inv.prompt).await?;
        }
        let spec = self.process_spec(inv);
        let process = run_process(&spec, &inv.log_path, &inv.limits, on_line, cancel).await?;
        let success = process
            .termination
            .exit_code()
            .is_some_and(|code| self.profile.is_success(code));
        let summary = summarize(&self.profile, &spec, &process, success);
        Ok(ToolOutcome {
            success,
            process,
            summary,
            usage: None,
        })
    }
}

/// Parses `profile.args` for profile `name`; `sources` names where they came from.
pub(crate) fn compile_args(
    name: &str,
    profile: &ToolProfile,
    sources: &str,
) -> Result<Vec<ArgTemplate>, ConfigError> {
    let mut compiled = Vec::with_capacity(profile.args.len());
    for argument in &profile.args {
        let template =
            ArgTemplate::parse(argument).map_err(|message| ConfigError::Placeholder {
                source_name: sources.to_owned(),
                profile: name.to_owned(),
                argument: argument.clone(),
                message,
            })?;
        for (placeholder, field, value) in [
            (Placeholder::Model, "model", &profile.model),
            (Placeholder::ApiBase, "api_base", &profile.api_base),
        ] {
            if template.uses(placeholder) && value.is_none() {
                return Err(ConfigError::InvalidProfile {
                    profile: name.to_owned(),
                    sources: sources.to_owned(),
                    message: format!(
                        "argument {argument:?} uses {{{field}}} but the profile sets no `{field}`; set `{field}` or remove the placeholder"
                    ),
                });
            }
        }
        compiled.push(template);
    }
    Ok(compiled)
}

async fn write_prompt_file(path: &PathBuf, prompt: &str) -> Result<(), AdapterError> {
    let prompt_error = |source| AdapterError::PromptFile {
        path: path.clone(),
        source,
    };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        tokio::fs::create_dir_all(parent)
            .await
            .map_err(prompt_error)?;
    }
    tokio::fs::write(path, prompt).await.map_err(prompt_error)
}

/// One line: `exit 0`, or why the tool failed plus its last non-empty output line.
fn summarize(
    profile: &ToolProfile,
    spec: &ProcessSpec,
    process: &ProcessOutcome,
    success: bool,
) -> String {
    let reason = match process.termination {
        Termination::Exited(code) if success => return format!("exit {code}"),
        Termination::Exited(code) => {
            let expected = profile
                .success_exit_codes
                .iter()
                .map(i32::to_string)
                .collect::<Vec<_>>()
                .join(", ");
            format!("exit {code} (success: {expected})")
        }
        Termination::TimedOut => match spec.timeout {
            Some(timeout) => format!("timed out after {} s", timeout.as_secs_f64()),
            None => "timed out".to_owned(),
        },
        Termination::Stalled => crate::stalled_text(spec),
        other => other.to_string(),
    };
    let last_line = process
        .tail
        .lines()
        .map(str::trim)
        .rfind(|line| !line.is_empty());
    match last_line {
        Some(line) => {
            let excerpt: String = line.chars().take(SUMMARY_EXCERPT_CHARS).collect();
            format!("{reason}: {excerpt}")
        }
        None => reason,
    }
}

#[cfg(test)]
mod tests;
