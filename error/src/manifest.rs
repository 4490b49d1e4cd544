//! External plugin manifests: `plugin.yaml` files that add classifiers without recompiling.
//!
//! A manifest lives at `<plugins dir>/<id>/plugin.yaml` (the shipped `error/plugins/`,
//! embedded in the binary by `shipped_plugins`, and a repository's `.pipeline/plugins/`). It declares the plugin's `id` (equal to its
//! directory name), the tools and commands it `applies_to` (globs), the plugins it
//! `requires` to run before it, and exactly one of:
//! - `rules`: regular expressions (Rust `regex` syntax) matched line by line; named
//!   capture groups `file`, `line`, `column`, `code`, `severity`, `message` fill a
//!   diagnostic, `retry_after` (seconds) fills a rate limit's wait; a rule with a `class`
//!   makes the plugin claim the failure when it matches;
//! - `command`: a program (argv list, run in the manifest's directory) that gets the output
//!   on stdin and prints JSON diagnostics on stdout (see `command_plugin`).
//!
//! Parsing (`serde_norway`, unknown fields rejected) and validation happen here, once;
//! the result is a `PluginManifest` whose regexes and globs are compiled.

use globset::{Glob, GlobMatcher};
use regex::Regex;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::diagnostic::Severity;
use crate::error_class::ErrorClass;
use crate::plugin_load_error::PluginLoadError;

/// The manifest file name inside a plugin's directory.
pub const MANIFEST_FILE: &str = "plugin.yaml";

/// Default time limit of a `command` plugin, in seconds.
pub const DEFAULT_COMMAND_TIMEOUT_SECS: u64 = 10;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawManifest {
    id: String,
    #[serde(default)]
    description: Option<String>,
    applies_to: RawAppliesTo,
    #[serde(default)]
    requires: Vec<String>,
    #[serde(default)]
    inspect_successful_exits: bool,
    #[serde(default)]
    rules: Option<Vec<RawRule>>,
    #[serde(default)]
    command: Option<Vec<String>>,
    #[serde(default)]
    timeout_secs: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAppliesTo {
    #[serde(default)]
    tools: Vec<String>,
    #[serde(default)]
    commands: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    pattern: String,
    #[serde(default)]
    class: Option<String>,
    #[serde(default)]
    severity: Option<String>,
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    summary: Option<String>,
}

/// Which failures a plugin looks at: a failure matches when its tool name matches one of
/// `tools` or its command line matches one of `commands` (globs, `*` matches any text
/// including `/`).
#[derive(Debug, Clone)]
pub struct AppliesTo {
    /// Tool globs as written.
    pub tools: Vec<String>,
    /// Command globs as written.
    pub commands: Vec<String>,
    tool_matchers: Vec<GlobMatcher>,
    command_matchers: Vec<GlobMatcher>,
}

impl AppliesTo {
    /// True when the tool name or the command line matches.
    pub fn matches(&self, tool: &str, tool_kind: &str, command: &str) -> bool {
        self.tool_matchers
            .iter()
            .any(|glob| glob.is_match(tool) || glob.is_match(tool_kind))
            || self
                .command_matchers
                .iter()
                .any(|glob| glob.is_match(command))
    }
}

/// One validated regex rule.
#[derive(Debug, Clone)]
pub struct Rule {
    /// The compiled pattern.
    pub pattern: Regex,
    /// The class the plugin claims when this rule matches; `None` = diagnostics only.
    pub class: Option<ErrorClass>,
    /// Severity when the pattern has no `severity` group (default `error`).
    pub severity: Severity,
    /// Code when the pattern has no `code` group.
    pub code: Option<String>,
    /// Summary template; `{message}` is replaced by the match's message.
    pub summary: Option<String>,
}

/// What the plugin does with the output.
#[derive(Debug, Clone)]
pub enum ManifestAction {
    /// Regex rules, tried in order on every line.
    Rules(Vec<Rule>),
    /// An external program: argv, time limit.
    Command {
        /// Program and arguments; a relative program path is resolved against the
        /// manifest's directory.
        argv: Vec<String>,
        /// Time limit; the program is killed after it.
        timeout: Duration,
    },
}

/// A validated manifest.
#[derive(Debug, Clone)]
pub struct PluginManifest {
    /// The plugin id (= its directory name).
    pub id: String,
    /// One line for `pipeline plugins`.
    pub description: String,
    /// Which failures it looks at.
    pub applies_to: AppliesTo,
    /// Plugins that must run before it.
    pub requires: Vec<String>,
    /// Whether it also looks at attempts that exited 0.
    pub inspect_successful_exits: bool,
    /// Rules or command.
    pub action: ManifestAction,
    /// The `plugin.yaml` it came from.
    pub path: PathBuf,
}

const GROUPS: [&str; 7] = [
    "file",
    "line",
    "column",
    "code",
    "severity",
    "message",
    "retry_after",
];

fn invalid(path: &Path, field: impl Into<String>, problem: impl Into<String>) -> PluginLoadError {
    PluginLoadError::InvalidField {
        path: path.to_path_buf(),
        field: field.into(),
        problem: problem.into(),
    }
}

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

fn compile_globs(
    path: &Path,
    field: &str,
    globs: &[String],
) -> Result<Vec<GlobMatcher>, PluginLoadError> {
    globs
        .iter()
        .enumerate()
        .map(|(index, glob)| {
            Glob::new(glob)
                .map(|glob| glob.compile_matcher())
                .map_err(|error| {
                    invalid(
                        path,
                        format!("{field}[{index}]"),
                        format!("invalid glob `{glob}`: {error}"),
                    )
                })
        })
        .collect()
}

impl PluginManifest {
    /// Parses and validates a manifest's text. `path` is used in errors and to resolve a
    /// relative command; `dir_name` (the plugin's directory name), when given, must equal
    /// the `id`.
    ///
    /// # Errors
    /// `Yaml` (with line and column) for malformed YAML, unknown or missing fields;
    /// `InvalidField` for a bad id, an unknown class or severity, empty `applies_to`,
    /// neither or both of `rules`/`command`, an empty command, a zero timeout, an unknown
    /// capture group; `InvalidRegex` naming the pattern.
    pub fn parse(
        text: &str,
        path: &Path,
        dir_name: Option<&str>,
    ) -> Result<PluginManifest, PluginLoadError> {
        let raw: RawManifest = serde_norway::from_str(text).map_err(|error| {
            let location = error.location();
            PluginLoadError::Yaml {
                path: path.to_path_buf(),
                line: location.as_ref().map(|l| l.line()),
                column: location.as_ref().map(|l| l.column()),
                message: error.to_string(),
            }
        })?;
        if !valid_id(&raw.id) {
            return Err(invalid(
                path,
                "id",
                format!(
                    "`{}` is not a valid id; use lowercase letters, digits, `-` and `_`",
                    raw.id
                ),
            ));
        }
        if let Some(dir_name) = dir_name
            && dir_name != raw.id
        {
            return Err(invalid(
                path,
                "id",
                format!(
                    "`{}` differs from the plugin's directory name `{dir_name}`; rename one so they match",
                    raw.id
                ),
            ));
        }
        if raw.applies_to.tools.is_empty() && raw.applies_to.commands.is_empty() {
            return Err(invalid(
                path,
                "applies_to",
                "needs at least one entry in `tools` or `commands` (use `tools: [\"*\"]` for every tool)",
            ));
        }
        let applies_to = AppliesTo {
            tool_matchers: compile_globs(path, "applies_to.tools", &raw.applies_to.tools)?,
            command_matchers: compile_globs(path, "applies_to.commands", &raw.applies_to.commands)?,
            tools: raw.applies_to.tools,
            commands: raw.applies_to.commands,
        };
        for (index, required) in raw.requires.iter().enumerate() {
            if required == &raw.id {
                return Err(invalid(
                    path,
                    format!("requires[{index}]"),
                    "a plugin cannot require itself",
                ));
            }
        }
        let action = match (raw.rules, raw.command) {
            (Some(_), Some(_)) => {
                return Err(invalid(
                    path,
                    "rules",
                    "give either `rules` or `command`, not both",
                ));
            }
            (None, None) => {
                return Err(invalid(
                    path,
                    "rules",
                    "give either `rules` (regex rules) or `command` (a program printing diagnostics JSON)",
                ));
            }
            (Some(rules), None) => {
                if rules.is_empty() {
                    return Err(invalid(path, "rules", "is empty; add at least one rule"));
                }
                ManifestAction::Rules(
                    rules
                        .into_iter()
                        .enumerate()
                        .map(|(index, rule)| compile_rule(path, index, rule))
                        .collect::<Result<_, _>>()?,
                )
            }
            (None, Some(argv)) => {
                if argv.first().is_none_or(|program| program.trim().is_empty()) {
                    return Err(invalid(
                        path,
                        "command",
                        "is empty; give the program and its arguments as a list",
                    ));
                }
                if raw.timeout_secs == Some(0) {
                    return Err(invalid(
                        path,
                        "timeout_secs",
                        "must be at least 1 (seconds)",
                    ));
                }
                let timeout =
                    Duration::from_secs(raw.timeout_secs.unwrap_or(DEFAULT_COMMAND_TIMEOUT_SECS));
                ManifestAction::Command { argv, timeout }
            }
        };
        if matches!(action, ManifestAction::Rules(_)) && raw.timeout_secs.is_some() {
            return Err(invalid(
                path,
                "timeout_secs",
                "only applies to `command` plugins; remove it",
            ));
        }
        Ok(PluginManifest {
            description: raw
                .description
                .unwrap_or_else(|| format!("external plugin {}", raw.id)),
            id: raw.id,
            applies_to,
            requires: raw.requires,
            inspect_successful_exits: raw.inspect_successful_exits,
            action,
            path: path.to_path_buf(),
        })
    }

    /// Reads and validates `<dir>/plugin.yaml`; `dir`'s name must equal the id.
    ///
    /// # Errors
    /// `Io` when the file cannot be read, else as `parse`.
    pub fn load(dir: &Path) -> Result<PluginManifest, PluginLoadError> {
        let path = dir.join(MANIFEST_FILE);
        let text = std::fs::read_to_string(&path).map_err(|source| PluginLoadError::Io {
            path: path.clone(),
            source,
        })?;
        let dir_name = dir.file_name().and_then(|name| name.to_str());
        PluginManifest::parse(&text, &path, dir_name)
    }
}

fn compile_rule(path: &Path, index: usize, rule: RawRule) -> Result<Rule, PluginLoadError> {
    let field = |name: &str| format!("rules[{index}].{name}");
    let pattern = Regex::new(&rule.pattern).map_err(|error| PluginLoadError::InvalidRegex {
        path: path.to_path_buf(),
        field: field("pattern"),
        pattern: rule.pattern.clone(),
        message: error.to_string(),
    })?;
    for name in pattern.capture_names().flatten() {
        if !GROUPS.contains(&name) {
            return Err(invalid(
                path,
                field("pattern"),
                format!("unknown capture group `{name}`; use {}", GROUPS.join(", ")),
            ));
        }
    }
    let class = rule
        .class
        .map(|name| {
            ErrorClass::from_name(&name).ok_or_else(|| {
                invalid(
                    path,
                    field("class"),
                    format!(
                        "unknown class `{name}`; use one of {}",
                        ErrorClass::NAMES.join(", ")
                    ),
                )
            })
        })
        .transpose()?;
    let severity = match rule.severity {
        Some(name) => Severity::from_name(&name).ok_or_else(|| {
            invalid(
                path,
                field("severity"),
                format!("unknown severity `{name}`; use error, warning, note, help or info"),
            )
        })?,
        None => Severity::Error,
    };
    Ok(Rule {
        pattern,
        class,
        severity,
        code: rule.code,
        summary: rule.summary,
    })
}
