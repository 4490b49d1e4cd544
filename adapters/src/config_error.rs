//! Errors in `.pipeline/config.yaml` (its keys, tool profiles, secrets and project
//! settings), the built-in tool profiles and `PIPELINE_TOOL_*` variables.
//!
//! Every variant names where the problem is (file or variable, profile, field or
//! argument) so that the user can fix it without guessing.

use std::io;
use std::path::PathBuf;

/// Why the tool profiles could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A configuration file exists but could not be read.
    #[error("cannot read configuration {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// A layer is not valid YAML or a value has the wrong type (unknown keys are
    /// [`ConfigError::UnknownKey`]). `message` comes from the YAML parser and names the
    /// profile path (`tools.<name>`) and field where it can.
    #[error("{source_name}: {message}")]
    Parse {
        /// Source name of the layer (a file path or `built-in config/tools.yaml`).
        source_name: String,
        /// 1-based line of the problem, when known.
        line: Option<usize>,
        /// 1-based column of the problem, when known.
        column: Option<usize>,
        /// The parser's message, including its location.
        message: String,
    },
    /// A key of `.pipeline/config.yaml` (or of a built-in layer) that no reader knows,
    /// at any depth: a top-level key, a `secrets` key, a tool profile field, a `retry` or
    /// `circuit_breaker` key (the table is `CONFIG_KEYS`, issue #11 point 1).
    /// Boxed: the details are larger than every other variant.
    #[error(transparent)]
    UnknownKey(Box<UnknownKey>),
    /// A profile name cannot be used (it must map to a `PIPELINE_TOOL_<NAME>_*` name).
    #[error(
        "{source_name}: tool profile name `{profile}` is not allowed; use letters, digits, `-` and `_`, starting with a letter or digit"
    )]
    InvalidName {
        /// Source name of the layer.
        source_name: String,
        /// The rejected name.
        profile: String,
    },
    /// An argument template is malformed (unknown placeholder, unmatched brace).
    #[error("{source_name}: tool profile `{profile}`, argument {argument:?}: {message}")]
    Placeholder {
        /// Source name of the layer that set the argument.
        source_name: String,
        /// Profile name.
        profile: String,
        /// The argument as written.
        argument: String,
        /// What is wrong and how to write it instead.
        message: String,
    },
    /// A merged profile is inconsistent (missing command, empty exit codes, ...).
    #[error("tool profile `{profile}` (from {sources}): {message}")]
    InvalidProfile {
        /// Profile name.
        profile: String,
        /// Comma-separated source names of the layers that define the profile.
        sources: String,
        /// What is wrong and how to fix it.
        message: String,
    },
    /// A profile's `fallback` names no known profile.
    #[error(
        "tool profile `{profile}` falls back to `{fallback}`, which is not a known tool profile; known: {known}"
    )]
    UnknownFallback {
        /// Profile name.
        profile: String,
        /// The unknown fallback.
        fallback: String,
        /// Comma-separated known names.
        known: String,
    },
    /// Fallbacks form a cycle, so escalation along the chain would never end.
    #[error("tool profile fallbacks form a cycle: {}", cycle.join(" -> "))]
    FallbackCycle {
        /// The profiles on the cycle, first repeated at the end.
        cycle: Vec<String>,
    },
    /// A value of `.pipeline/config.yaml` that parses but cannot be used (a webhook URL
    /// that is not http(s), an unknown event kind, a zero timeout).
    #[error("{source_name}: `{key}`: {message}")]
    InvalidValue {
        /// Source name of the file.
        source_name: String,
        /// The key as written, with list positions (`webhooks[0].events`).
        key: String,
        /// What is wrong and how to fix it.
        message: String,
    },
    /// A webhook's signing secret variable (`webhooks[i].secret_env`) is not set.
    #[error(
        "`{key}`: environment variable {variable} is not set (the signing secret of the webhook {endpoint})\n  hint: export {variable} before running pipeline, or remove the webhook from .pipeline/config.yaml"
    )]
    MissingSecret {
        /// The key naming the variable (`webhooks[0].secret_env`).
        key: String,
        /// The variable's name.
        variable: String,
        /// The webhook's URL without userinfo, query or fragment.
        endpoint: String,
    },
    /// A `PIPELINE_TOOL_<NAME>_<FIELD>` variable is malformed or has a bad value.
    #[error("environment variable {variable}: {message}")]
    EnvOverride {
        /// The variable's name.
        variable: String,
        /// What is wrong.
        message: String,
    },
}

/// A key of `.pipeline/config.yaml` that no reader knows ([`ConfigError::UnknownKey`]).
#[derive(Debug, thiserror::Error)]
#[error(
    "{source_name}: unknown key `{key}`{}{}\n  hint: {hint}",
    location(*line, *column),
    did_you_mean(suggestion.as_deref())
)]
pub struct UnknownKey {
    /// Source name of the file (a path or `built-in config/tools.yaml`).
    pub source_name: String,
    /// The key's path as written, e.g. `tools.aider.comand`.
    pub key: String,
    /// 1-based line of the key, when the parser gives it.
    pub line: Option<usize>,
    /// 1-based column of the key, when the parser gives it.
    pub column: Option<usize>,
    /// The closest known key's path, when one is close by edit distance.
    pub suggestion: Option<String>,
    /// What to do, and the known keys of the section.
    pub hint: String,
}

/// ` at line L column C`, or nothing when the parser gave no location.
fn location(line: Option<usize>, column: Option<usize>) -> String {
    match (line, column) {
        (Some(line), Some(column)) => format!(" at line {line} column {column}"),
        (Some(line), None) => format!(" at line {line}"),
        _ => String::new(),
    }
}

/// `; did you mean `x`?`, or nothing.
fn did_you_mean(suggestion: Option<&str>) -> String {
    suggestion.map_or_else(String::new, |s| format!("; did you mean `{s}`?"))
}
