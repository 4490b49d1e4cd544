//! The tool registry: every tool profile of a repository, merged and validated.
//!
//! Profiles are layered, later layers winning field by field (see
//! `ProfileLayer::merge`; `env` merges variable by variable):
//!
//! 1. the built-in `shell` tool (`sh -c`, always present);
//! 2. the built-in defaults, `config/tools.yaml`, embedded in the binary
//!    ([`BUILTIN_TOOLS_YAML`]) so that it works anywhere;
//! 3. the repository's `.pipeline/config.yaml` (`tools:` section);
//! 4. `PIPELINE_TOOL_<NAME>_<FIELD>` environment variables (see `env_override`).
//!
//! A layer may add profiles by giving a new name. After merging, each profile gets its
//! defaults and is validated once (command present, argument templates well-formed,
//! positive limits, fallbacks known and acyclic), so that a mistake surfaces when the
//! configuration is loaded, before any step runs, and adapters are built from the
//! validated profiles.

use std::collections::{BTreeMap, BTreeSet};
use std::convert::Infallible;
use std::io;
use std::path::Path;
use std::sync::Arc;

use serde::ser::{Serialize, Serializer};

use crate::adapter_error::AdapterError;
use crate::aider_adapter::AiderAdapter;
use crate::arg_template::{ArgTemplate, escape_braces};
use crate::availability::{Availability, probe_command};
use crate::claude_adapter::ClaudeAdapter;
use crate::codex_adapter::CodexAdapter;
use crate::config_error::ConfigError;
use crate::custom_adapter::{CustomAdapter, compile_args};
use crate::env_override::apply_env_overrides;
use crate::profile_layer::{ProfileLayer, parse_layer};
use crate::tool_adapter::{ToolAdapter, shared_adapter};
use crate::tool_profile::{ToolKind, ToolProfile};

/// The built-in tool profiles (`config/tools.yaml`), the first YAML layer of
/// [`ToolRegistry::load`].
pub const BUILTIN_TOOLS_YAML: &str = include_str!("../../config/tools.yaml");

/// Name of the built-in tool that runs a step's own `"command"` with `sh -c`.
pub const SHELL_TOOL: &str = "shell";

/// Source name of the embedded defaults in error messages.
const BUILTIN_SOURCE: &str = "built-in config/tools.yaml";

/// Source name of the built-in `shell` profile in error messages.
const SHELL_SOURCE: &str = "built-in shell tool";

/// Validated tool profiles and the adapters built from them.
#[derive(Debug, Clone)]
pub struct ToolRegistry {
    profiles: BTreeMap<String, ToolProfile>,
    custom: BTreeMap<String, Arc<CustomAdapter>>,
    shell_args: Vec<ArgTemplate>,
}

impl ToolRegistry {
    /// Loads the built-in profiles, then `repo_config` (normally
    /// `<repo>/.pipeline/config.yaml`; a missing file is skipped), then the
    /// `PIPELINE_TOOL_*` variables of `env` (pass `std::env::vars().collect()` in the
    /// binary, a fixed list in tests).
    ///
    /// # Errors
    /// [`ConfigError::Read`] when `repo_config` exists but cannot be read, and every
    /// error of [`ToolRegistry::from_yaml_layers`].
    pub fn load(
        repo_config: Option<&Path>,
        env: &[(String, String)],
    ) -> Result<ToolRegistry, ConfigError> {
        let mut repo_layer = None;
        if let Some(path) = repo_config {
            match std::fs::read_to_string(path) {
                Ok(text) => repo_layer = Some((path.display().to_string(), text)),
                Err(error) if error.kind() == io::ErrorKind::NotFound => {}
                Err(source) => {
                    return Err(ConfigError::Read {
                        path: path.to_path_buf(),
                        source,
                    });
                }
            }
        }
        let mut layers = vec![(BUILTIN_SOURCE, BUILTIN_TOOLS_YAML)];
        if let Some((source, text)) = &repo_layer {
            layers.push((source.as_str(), text.as_str()));
        }
        ToolRegistry::from_yaml_layers(&layers, env)
    }

    /// Builds a registry from exactly these YAML layers, in order (each a source name
    /// used in error messages, and its text), on top of the built-in `shell` tool, then
    /// applies the `PIPELINE_TOOL_*` variables of `env`. The embedded defaults are not
    /// included unless passed as a layer ([`BUILTIN_TOOLS_YAML`]).
    ///
    /// # Errors
    /// - [`ConfigError::Parse`]: invalid YAML, unknown field or bad value type, naming
    ///   the source, profile, field, line and column;
    /// - [`ConfigError::InvalidName`]: a profile name unusable in variable names;
    /// - [`ConfigError::Placeholder`]: a malformed argument template;
    /// - [`ConfigError::EnvOverride`]: a bad `PIPELINE_TOOL_*` variable;
    /// - [`ConfigError::InvalidProfile`]: missing command, empty `success_exit_codes`,
    ///   a zero limit, a malformed variable name, or `shell` given another kind;
    /// - [`ConfigError::UnknownFallback`] and [`ConfigError::FallbackCycle`].
    pub fn from_yaml_layers(
        layers: &[(&str, &str)],
        env: &[(String, String)],
    ) -> Result<ToolRegistry, ConfigError> {
        let mut merged: BTreeMap<String, (ProfileLayer, Vec<String>)> = BTreeMap::new();
        merged.insert(
            SHELL_TOOL.to_owned(),
            (shell_base_layer(), vec![SHELL_SOURCE.to_owned()]),
        );
        for (source_name, yaml) in layers {
            for (name, layer) in parse_layer(source_name, yaml)? {
                check_name(source_name, &name)?;
                // Check templates here, while the layer that wrote them is known.
                for argument in layer.args.iter().flatten() {
                    ArgTemplate::parse(argument).map_err(|message| ConfigError::Placeholder {
                        source_name: (*source_name).to_owned(),
                        profile: name.clone(),
                        argument: argument.clone(),
                        message,
                    })?;
                }
                let (merged_layer, sources) = merged.entry(name).or_default();
                merged_layer.merge(layer);
                sources.push((*source_name).to_owned());
            }
        }
        apply_env_overrides(&mut merged, env)?;

        let mut profiles = BTreeMap::new();
        let mut custom = BTreeMap::new();
        let mut shell_args = Vec::new();
        for (name, (layer, sources)) in merged {
            let sources = sources.join(", ");
            let profile = resolve(&name, layer, &sources)?;
            let args = compile_args(&name, &profile, &sources)?;
            if name == SHELL_TOOL {
                shell_args = args;
            } else if profile.kind == ToolKind::Custom {
                custom.insert(
                    name.clone(),
                    Arc::new(CustomAdapter::from_parts(
                        name.clone(),
                        profile.clone(),
                        args,
                    )),
                );
            }
            profiles.insert(name, profile);
        }
        check_fallbacks(&profiles)?;
        Ok(ToolRegistry {
            profiles,
            custom,
            shell_args,
        })
    }

    /// The merged profile named `name`.
    pub fn profile(&self, name: &str) -> Option<&ToolProfile> {
        self.profiles.get(name)
    }

    /// Every profile name, sorted (includes `shell`).
    pub fn names(&self) -> Vec<&str> {
        self.profiles.keys().map(String::as_str).collect()
    }

    /// Every profile with its name, sorted by name.
    pub fn profiles(&self) -> impl Iterator<Item = (&str, &ToolProfile)> {
        self.profiles
            .iter()
            .map(|(name, profile)| (name.as_str(), profile))
    }

    /// True when a profile named `name` exists; `shell` always does.
    pub fn contains(&self, name: &str) -> bool {
        self.profiles.contains_key(name)
    }

    /// Names of the profiles listing `capability`, highest `priority` first, then by
    /// name.
    pub fn with_capability(&self, capability: &str) -> Vec<&str> {
        let mut matching: Vec<(&str, &ToolProfile)> = self
            .profiles()
            .filter(|(_, profile)| profile.capabilities.iter().any(|c| c == capability))
            .collect();
        matching.sort_by(|(a_name, a), (b_name, b)| {
            b.priority.cmp(&a.priority).then_with(|| a_name.cmp(b_name))
        });
        matching.into_iter().map(|(name, _)| name).collect()
    }

    /// The adapter running profile `name`.
    ///
    /// # Errors
    /// - [`AdapterError::UnknownTool`] when no profile has that name;
    /// - [`AdapterError::ShellCommandRequired`] for `shell`, which needs a step's
    ///   command (use [`ToolRegistry::shell_adapter`]);
    /// - the driver's own errors for kinds `aider`, `codex` and `claude` (an invalid
    ///   profile for that driver).
    pub fn adapter(&self, name: &str) -> Result<Arc<dyn ToolAdapter>, AdapterError> {
        if name == SHELL_TOOL {
            return Err(AdapterError::ShellCommandRequired {
                tool: name.to_owned(),
            });
        }
        let Some(profile) = self.profiles.get(name) else {
            return Err(AdapterError::UnknownTool {
                tool: name.to_owned(),
                known: self.names().join(", "),
            });
        };
        if let Some(adapter) = self.custom.get(name) {
            return Ok(adapter.clone());
        }
        match profile.kind {
            ToolKind::Aider => shared_adapter(
                name,
                profile,
                Ok::<_, Infallible>(AiderAdapter::new(name, profile.clone())),
            ),
            ToolKind::Codex => {
                shared_adapter(name, profile, CodexAdapter::new(name, profile.clone()))
            }
            ToolKind::Claude => {
                shared_adapter(name, profile, ClaudeAdapter::new(name, profile.clone()))
            }
            ToolKind::Custom => Err(AdapterError::AdapterUnavailable {
                tool: name.to_owned(),
                kind: profile.kind,
            }),
        }
    }

    /// The built-in `shell` tool running a step's `command`: the `shell` profile's
    /// command and arguments (`sh -c` unless configured otherwise) followed by
    /// `command` as one literal argument, with that profile's `env`, `timeout_sec` and
    /// `success_exit_codes`. No placeholder is expanded inside `command`.
    pub fn shell_adapter(&self, command: &str) -> Arc<dyn ToolAdapter> {
        let mut profile = self
            .profiles
            .get(SHELL_TOOL)
            .cloned()
            .unwrap_or_else(shell_profile_fallback);
        profile.args.push(escape_braces(command));
        let mut args = self.shell_args.clone();
        args.push(ArgTemplate::literal(command));
        Arc::new(CustomAdapter::from_parts(
            SHELL_TOOL.to_owned(),
            profile,
            args,
        ))
    }

    /// Whether the command of profile `name` is found (on the profile's `PATH`, or as a
    /// path), without running it: cheap enough for every capability selection. Relative
    /// commands (`./x`) resolve against the worktree at run time and count as installed.
    pub fn is_installed(&self, name: &str) -> bool {
        let Some(profile) = self.profiles.get(name) else {
            return false;
        };
        profile.command.starts_with("./")
            || crate::availability::locate_command(&profile.command, &profile.env).is_some()
    }

    /// Whether profile `name` can run here: its command found on `PATH` (or at its
    /// path), its `--version` line, and otherwise why not. Blocking, up to about 5
    /// seconds per call.
    pub fn probe(&self, name: &str) -> Availability {
        let Some(profile) = self.profiles.get(name) else {
            return Availability {
                error: Some(format!(
                    "no tool profile named `{name}`; known tools: {}",
                    self.names().join(", ")
                )),
                ..Availability::default()
            };
        };
        probe_command(&profile.command, &profile.env)
    }
}

/// Serializes as a map from profile name to profile, with secret `env` values
/// redacted ([`ToolProfile::redacted`]), for `pipeline tools --json`.
impl Serialize for ToolRegistry {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(
            self.profiles
                .iter()
                .map(|(name, profile)| (name, profile.redacted())),
        )
    }
}

/// The bottom layer for `shell`: `sh -c`, the step's command appended at invocation.
fn shell_base_layer() -> ProfileLayer {
    ProfileLayer {
        kind: Some(ToolKind::Custom),
        command: Some("sh".to_owned()),
        args: Some(vec!["-c".to_owned()]),
        ..ProfileLayer::default()
    }
}

/// The `shell` profile if the registry somehow lacks one (it never does: it is the
/// first layer and no layer can remove a profile).
fn shell_profile_fallback() -> ToolProfile {
    ToolProfile::custom("sh", vec!["-c".to_owned()])
}

fn check_name(source_name: &str, name: &str) -> Result<(), ConfigError> {
    let mut chars = name.chars();
    let valid = chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if valid {
        Ok(())
    } else {
        Err(ConfigError::InvalidName {
            source_name: source_name.to_owned(),
            profile: name.to_owned(),
        })
    }
}

/// Fills in defaults and checks one merged profile.
fn resolve(name: &str, layer: ProfileLayer, sources: &str) -> Result<ToolProfile, ConfigError> {
    let invalid = |message: String| ConfigError::InvalidProfile {
        profile: name.to_owned(),
        sources: sources.to_owned(),
        message,
    };
    let kind = layer.kind.unwrap_or(ToolKind::Custom);
    if name == SHELL_TOOL && kind != ToolKind::Custom {
        return Err(invalid(format!(
            "the built-in `{SHELL_TOOL}` tool must stay of kind `custom`; give your `{kind}` profile another name"
        )));
    }
    let command = match (layer.command, kind.default_command()) {
        (Some(command), _) if command.trim().is_empty() => {
            return Err(invalid("`command` is empty".to_owned()));
        }
        (Some(command), _) => command,
        (None, Some(default)) => default.to_owned(),
        (None, None) => {
            return Err(invalid(
                "a `custom` profile needs `command` (the program to run, e.g. `command: ./scripts/agent.sh`)"
                    .to_owned(),
            ));
        }
    };
    let success_exit_codes = layer.success_exit_codes.unwrap_or_else(|| vec![0]);
    if success_exit_codes.is_empty() {
        return Err(invalid(
            "`success_exit_codes` is empty, so the tool could never succeed; omit it for [0]"
                .to_owned(),
        ));
    }
    for (field, value) in [
        ("timeout_sec", layer.timeout_sec),
        ("max_concurrent", layer.max_concurrent.map(u64::from)),
        (
            "requests_per_minute",
            layer.requests_per_minute.map(u64::from),
        ),
    ] {
        if value == Some(0) {
            return Err(invalid(format!(
                "`{field}` is 0; give a positive number or omit it for no limit"
            )));
        }
    }
    let env = layer.env.unwrap_or_default();
    let secret_env = layer.secret_env.unwrap_or_default();
    let variable_names = env
        .keys()
        .map(|key| ("env", key.as_str()))
        .chain(secret_env.iter().map(|key| ("secret_env", key.as_str())))
        .chain(
            layer
                .api_key_env
                .iter()
                .map(|key| ("api_key_env", key.as_str())),
        );
    for (field, variable) in variable_names {
        if variable.is_empty() || variable.contains(['=', '\0']) {
            return Err(invalid(format!(
                "`{field}` names the environment variable {variable:?}, which is not a valid variable name"
            )));
        }
    }
    Ok(ToolProfile {
        kind,
        command,
        args: layer.args.unwrap_or_default(),
        env,
        model: layer.model,
        api_base: layer.api_base,
        api_key_env: layer.api_key_env,
        timeout_sec: layer.timeout_sec,
        // 0 is kept: it turns the kind's default off.
        stall_timeout_sec: layer
            .stall_timeout_sec
            .or_else(|| kind.default_stall_timeout_sec()),
        success_exit_codes,
        capabilities: layer.capabilities.unwrap_or_default(),
        priority: layer.priority.unwrap_or(0),
        max_concurrent: layer.max_concurrent,
        requests_per_minute: layer.requests_per_minute,
        fallback: layer.fallback.unwrap_or_default(),
        secret_env,
        retry: layer.retry,
        circuit_breaker: layer.circuit_breaker,
        sandbox: layer.sandbox != Some(crate::profile_layer::SandboxSetting::None),
        writable_paths: layer.writable_paths.unwrap_or_default(),
        approval_required: layer.approval == Some(crate::profile_layer::ApprovalSetting::Required),
    })
}

/// Every fallback must name another known profile, and following fallbacks must never
/// come back to where it started.
fn check_fallbacks(profiles: &BTreeMap<String, ToolProfile>) -> Result<(), ConfigError> {
    for (name, profile) in profiles {
        for fallback in &profile.fallback {
            if !profiles.contains_key(fallback) {
                return Err(ConfigError::UnknownFallback {
                    profile: name.clone(),
                    fallback: fallback.clone(),
                    known: profiles.keys().cloned().collect::<Vec<_>>().join(", "),
                });
            }
        }
    }
    let mut finished: BTreeSet<&str> = BTreeSet::new();
    for start in profiles.keys() {
        let mut path: Vec<&str> = Vec::new();
        if let Some(cycle) = find_cycle(profiles, start, &mut path, &mut finished) {
            return Err(ConfigError::FallbackCycle { cycle });
        }
    }
    Ok(())
}

/// Depth-first search along fallbacks; returns the first cycle found, closed (its
/// first profile repeated at the end).
fn find_cycle<'a>(
    profiles: &'a BTreeMap<String, ToolProfile>,
    name: &'a str,
    path: &mut Vec<&'a str>,
    finished: &mut BTreeSet<&'a str>,
) -> Option<Vec<String>> {
    if let Some(position) = path.iter().position(|on_path| *on_path == name) {
        let mut cycle: Vec<String> = path[position..].iter().map(|n| (*n).to_owned()).collect();
        cycle.push(name.to_owned());
        return Some(cycle);
    }
    if finished.contains(name) {
        return None;
    }
    path.push(name);
    for fallback in profiles
        .get(name)
        .map(|p| p.fallback.as_slice())
        .unwrap_or_default()
    {
        if let Some(cycle) = find_cycle(profiles, fallback, path, finished) {
            return Some(cycle);
        }
    }
    path.pop();
    finished.insert(name);
    None
}

#[cfg(test)]
mod tests;
