//! What the end-to-end tests of the AI tool adapters (`ai_aider`, `ai_codex`, `ai_claude`,
//! `ai_registry`) share: a tool profile that points a real CLI at the fake model server,
//! the one-step workstream they run, the attempt log and error report they read, and the
//! assertions every adapter must pass in the same shape (a retried rate limit, a
//! permanent failure after one attempt, a stalled response killed at the timeout).

use std::path::{Path, PathBuf};

use fake_model_server::RecordedRequest;
use serde_json::Value;

use crate::support::Test;

/// The id of the one step the AI tests run.
pub const STEP: &str = "edit";

/// Extra workstream fields: three attempts with a short, fixed backoff.
pub const QUICK_RETRY: &str =
    r#", "retry": {"initial_delay": 0.2, "max_attempts": 3, "jitter": false}"#;

/// A tool profile (`.pipeline/config.yaml`) running a real AI CLI against a fake server.
pub struct CliProfile {
    name: String,
    bin: PathBuf,
    model: String,
    api_base: String,
    key_env: Option<String>,
    args: Vec<String>,
    env: Vec<(String, String)>,
    extra: String,
}

impl CliProfile {
    /// Profile `name` (also its adapter kind) running `bin` with `model` against
    /// `api_base`.
    pub fn new(name: &str, bin: &Path, model: &str, api_base: String) -> CliProfile {
        CliProfile {
            name: name.to_owned(),
            bin: bin.to_owned(),
            model: model.to_owned(),
            api_base,
            key_env: None,
            args: Vec::new(),
            env: Vec::new(),
            extra: String::new(),
        }
    }

    /// The API key: `api_key_env: VAR`, and `VAR: key` in the profile's `env`.
    pub fn key(self, var: &str, key: &str) -> CliProfile {
        self.key_env(var).env(var, key)
    }

    /// `api_key_env: VAR` without giving the variable a value.
    pub fn key_env(mut self, var: &str) -> CliProfile {
        self.key_env = Some(var.to_owned());
        self
    }

    /// Extra arguments for the CLI (`args`).
    pub fn args(mut self, args: &[&str]) -> CliProfile {
        self.args = args.iter().map(|a| (*a).to_owned()).collect();
        self
    }

    /// One variable of the profile's `env`.
    pub fn env(mut self, name: &str, value: &str) -> CliProfile {
        self.env.push((name.to_owned(), value.to_owned()));
        self
    }

    /// YAML lines appended after the profile (more keys of it, indented four spaces, or
    /// further profiles, indented two).
    pub fn extra(mut self, yaml: &str) -> CliProfile {
        self.extra.push_str(yaml);
        self
    }

    /// The configuration file's text.
    pub fn yaml(&self) -> String {
        let quote = |s: &str| serde_json::to_string(s).expect("a JSON string");
        let mut yaml = format!(
            "tools:\n  {name}:\n    command: {bin}\n    model: {model}\n    api_base: {base}\n",
            name = self.name,
            bin = quote(&self.bin.display().to_string()),
            model = self.model,
            base = quote(&self.api_base),
        );
        if let Some(var) = &self.key_env {
            yaml.push_str(&format!("    api_key_env: {var}\n"));
        }
        if !self.args.is_empty() {
            let args = serde_json::to_string(&self.args).expect("args as JSON");
            yaml.push_str(&format!("    args: {args}\n"));
        }
        if !self.env.is_empty() {
            yaml.push_str("    env:\n");
            for (name, value) in &self.env {
                yaml.push_str(&format!("      {name}: {}\n", quote(value)));
            }
        }
        yaml.push_str(&self.extra);
        yaml
    }

    /// A new test repository configured with this profile.
    pub fn test(&self) -> Test {
        let t = Test::new();
        t.config(&self.yaml());
        t
    }
}

/// Writes the workstream of the one step [`STEP`], run by `tool`, with its description,
/// tasks and `files_scope`, plus `extra` JSON fields (each starting with a comma).
pub fn edit_step(
    t: &Test,
    tool: &str,
    description: &str,
    tasks: &[&str],
    scope: &[&str],
    extra: &str,
) -> PathBuf {
    let json = |v: &[&str]| serde_json::to_string(v).expect("JSON array");
    t.workstream(
        "ws.json",
        &format!(
            r#"{{"id": "{STEP}", "tool": "{tool}", "description": "{description}",
                "tasks": {tasks}, "files_scope": {scope}{extra}}}"#,
            tasks = json(tasks),
            scope = json(scope),
        ),
    )
}

/// The log of attempt `attempt` of [`STEP`] in `run` ("" when there is none).
pub fn attempt_log(t: &Test, run: &str, attempt: u32) -> String {
    std::fs::read_to_string(
        t.repo
            .join(format!(".pipeline/logs/{run}/{STEP}/{attempt}.log")),
    )
    .unwrap_or_default()
}

/// The tool's output section of an attempt log (between the supervisor's header and
/// footer), or None when the log has no such section.
pub fn log_output(log: &str) -> Option<&str> {
    log.split_once("----- output (stdout and stderr) -----\n")
        .and_then(|(_, rest)| rest.split_once("----- end of output -----"))
        .map(|(output, _)| output)
}

/// The exit code an attempt log's footer records for a tool that exited by itself.
pub fn log_exit_code(log: &str) -> Option<i32> {
    log.split_once("[pipeline] result: exited with code ")
        .and_then(|(_, rest)| rest.lines().next())
        .and_then(|code| code.trim().parse().ok())
}

/// The `attempt_finished` events of [`STEP`] in `run` that carry the tool's token usage
/// (in their `usage` field).
pub fn usage_events(t: &Test, run: &str) -> Vec<Value> {
    t.events(run, STEP, "attempt_finished")
        .into_iter()
        .filter(|e| !e["usage"].is_null())
        .collect()
}

/// `pipeline errors RUN --json`.
pub fn errors(t: &Test, run: &str) -> Value {
    serde_json::from_str(&t.pipeline(&["errors", run, "--json"]).assert_ok().stdout())
        .expect("errors --json is JSON")
}

/// The value of header `name` (any case) of a request the fake server recorded.
pub fn header<'a>(request: &'a RecordedRequest, name: &str) -> Option<&'a str> {
    request
        .headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Asserts that [`STEP`] of `run` completed on its second attempt after one wait (a
/// backoff or a rate limit's reset), its one error classified `class`.
pub fn assert_retried_once(t: &Test, run: &str, class: &str) {
    let step = t.step_status(run, STEP);
    assert_eq!(step["status"], "completed", "{step:#}");
    assert_eq!(step["attempts"], 2, "{step:#}");
    let waits = t.events(run, STEP, "step_waiting").len();
    assert_eq!(waits, 1, "one wait before the second attempt");
    let errors = errors(t, run);
    let error = &errors["errors"][0];
    assert_eq!(error["class"], class, "{errors:#}");
    assert_eq!(error["occurrences"], 1, "{errors:#}");
}

/// Asserts that [`STEP`] of `run` failed after one attempt, classified `permanent`, with
/// `key` nowhere in its error; returns the error.
pub fn assert_failed_permanently(t: &Test, run: &str, key: &str) -> String {
    let step = t.step_status(run, STEP);
    assert_eq!(step["status"], "failed", "{step:#}");
    assert_eq!(
        step["attempts"], 1,
        "permanent errors are not retried: {step:#}"
    );
    let error = step["error"].as_str().unwrap_or_default().to_owned();
    assert!(
        !error.contains(key),
        "the API key leaked into the step's error: {error}"
    );
    let errors = errors(t, run);
    assert_eq!(errors["errors"][0]["class"], "permanent", "{errors:#}");
    error
}

/// Asserts that [`STEP`] of `run` failed after one attempt that timed out, and that the
/// attempt log's footer says so; returns the log.
pub fn assert_timed_out(t: &Test, run: &str) -> String {
    let step = t.step_status(run, STEP);
    assert_eq!(step["status"], "failed", "{step:#}");
    assert_eq!(step["attempts"], 1, "{step:#}");
    let error = step["error"].as_str().unwrap_or_default();
    assert!(error.contains("timed out"), "{error}");
    let log = attempt_log(t, run, 1);
    assert!(
        log.contains("timed out"),
        "the log footer records the timeout:\n{log}"
    );
    log
}
