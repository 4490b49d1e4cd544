//! `PIPELINE_TOOL_<NAME>_<FIELD>` environment overrides, the last configuration layer.
//!
//! `NAME` is the profile name uppercased with `-` turned into `_` (profile `my-tool` is
//! `MY_TOOL`); `FIELD` is one of `COMMAND`, `TIMEOUT_SEC`, `MODEL`, `API_BASE` (the keys
//! with an `env_field` in `CONFIG_KEYS`; a test keeps the two lists equal). Such a
//! variable overrides one field of an existing profile, so that a CI job can point a
//! tool at another binary, model or API without editing files. A variable with this
//! prefix that names no profile or no supported field, or carries a bad value, is an
//! error naming the variable: a silently ignored typo would run the wrong tool.

use std::collections::BTreeMap;

use crate::config_check::closest;
use crate::config_error::ConfigError;
use crate::profile_layer::ProfileLayer;

/// Prefix of the override variables.
pub(crate) const PREFIX: &str = "PIPELINE_TOOL_";

/// A profile field that a variable can override.
#[derive(Debug, Clone, Copy)]
enum Field {
    Command,
    TimeoutSec,
    Model,
    ApiBase,
}

/// The supported fields, as they appear at the end of a variable name; the same as the
/// `env_field`s of `CONFIG_KEYS`, in the same order.
const FIELDS: [(&str, Field); 4] = [
    ("COMMAND", Field::Command),
    ("TIMEOUT_SEC", Field::TimeoutSec),
    ("MODEL", Field::Model),
    ("API_BASE", Field::ApiBase),
];

/// The `NAME` part of the variables for profile `profile`.
pub(crate) fn env_name(profile: &str) -> String {
    profile.to_ascii_uppercase().replace('-', "_")
}

/// Applies every `PIPELINE_TOOL_*` variable of `env` (in order, so a later duplicate
/// wins) to `profiles`, appending `environment variable <NAME>` to the sources of each
/// profile it changes.
///
/// # Errors
/// [`ConfigError::EnvOverride`] for an unknown profile or field (with the closest
/// supported field when the variable starts with a known profile's `NAME`), an empty value, or a
/// `TIMEOUT_SEC` that is not a whole number of seconds greater than zero.
pub(crate) fn apply_env_overrides(
    profiles: &mut BTreeMap<String, (ProfileLayer, Vec<String>)>,
    env: &[(String, String)],
) -> Result<(), ConfigError> {
    for (variable, value) in env {
        let Some(rest) = variable.strip_prefix(PREFIX) else {
            continue;
        };
        let error = |message: String| ConfigError::EnvOverride {
            variable: variable.clone(),
            message,
        };
        let Some((name, field)) = FIELDS.iter().find_map(|(suffix, field)| {
            rest.strip_suffix(suffix)
                .and_then(|name| name.strip_suffix('_'))
                .filter(|name| !name.is_empty())
                .map(|name| (name, *field))
        }) else {
            return Err(error(unknown_field_message(profiles, rest)));
        };
        let mut matched = false;
        for (profile, (layer, sources)) in profiles.iter_mut() {
            if env_name(profile) != name {
                continue;
            }
            matched = true;
            apply_field(layer, field, value).map_err(&error)?;
            sources.push(format!("environment variable {variable}"));
        }
        if !matched {
            let known = profiles
                .keys()
                .map(|profile| format!("{} ({profile})", env_name(profile)))
                .collect::<Vec<_>>()
                .join(", ");
            return Err(error(format!(
                "`{name}` names no tool profile; known NAMEs: {known}"
            )));
        }
    }
    Ok(())
}

/// Why `PIPELINE_TOOL_<rest>` names no supported field: when `rest` starts with a known
/// profile's `NAME_`, the unknown `FIELD` and the closest supported one; else the form.
fn unknown_field_message(
    profiles: &BTreeMap<String, (ProfileLayer, Vec<String>)>,
    rest: &str,
) -> String {
    let fields: Vec<&str> = FIELDS.iter().map(|(suffix, _)| *suffix).collect();
    let hint = format!(
        "\n  hint: variables are {PREFIX}<NAME>_<FIELD> with FIELD one of {}; other fields are set in .pipeline/config.yaml (docs/CONFIG.md)",
        fields.join(", ")
    );
    // The longest profile NAME that prefixes `rest` (profile `my_tool` before `my`).
    let Some((profile, name, field)) = profiles
        .keys()
        .filter_map(|profile| {
            let name = env_name(profile);
            let field = rest.strip_prefix(&name)?.strip_prefix('_')?;
            Some((profile, name, field))
        })
        .max_by_key(|(_, name, _)| name.len())
    else {
        return format!("expected {PREFIX}<NAME>_<FIELD>{hint}");
    };
    let suggestion = closest(field, fields.iter().copied()).map_or_else(String::new, |candidate| {
        format!("; did you mean {PREFIX}{name}_{candidate}?")
    });
    format!("unknown FIELD `{field}` for tool profile `{profile}`{suggestion}{hint}")
}

fn apply_field(layer: &mut ProfileLayer, field: Field, value: &str) -> Result<(), String> {
    if value.trim().is_empty() {
        return Err("value is empty; unset the variable to keep the configured value".to_owned());
    }
    match field {
        Field::Command => layer.command = Some(value.to_owned()),
        Field::Model => layer.model = Some(value.to_owned()),
        Field::ApiBase => layer.api_base = Some(value.to_owned()),
        Field::TimeoutSec => {
            let seconds = value
                .trim()
                .parse::<u64>()
                .ok()
                .filter(|seconds| *seconds > 0)
                .ok_or_else(|| {
                    format!("expected a whole number of seconds greater than 0, got {value:?}")
                })?;
            layer.timeout_sec = Some(seconds);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
