//! One YAML layer of tool profiles, before merging.
//!
//! A layer is a document with a top-level `tools:` map from profile name to a partial
//! profile; the other top-level sections of a repository's `.pipeline/config.yaml` are
//! read elsewhere, but every key of the document is first checked against the table of
//! known keys (`config_check`), so an unknown key or a misspelt profile field is an
//! error with a "did you mean". Every profile field is optional in a layer, so that a
//! later layer overrides only the fields it gives. `deny_unknown_fields` stays as a
//! second guard should the table and this struct ever disagree (a test compares them).

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

use crate::config_check::check_keys;
use crate::config_error::ConfigError;
use crate::tool_profile::ToolKind;

/// A partial tool profile as written in one layer; `None` means "not given here".
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ProfileLayer {
    pub(crate) kind: Option<ToolKind>,
    pub(crate) command: Option<String>,
    pub(crate) args: Option<Vec<String>>,
    #[serde(default, deserialize_with = "env_map")]
    pub(crate) env: Option<BTreeMap<String, String>>,
    pub(crate) model: Option<String>,
    pub(crate) api_base: Option<String>,
    pub(crate) api_key_env: Option<String>,
    pub(crate) timeout_sec: Option<u64>,
    pub(crate) stall_timeout_sec: Option<u64>,
    pub(crate) success_exit_codes: Option<Vec<i32>>,
    pub(crate) capabilities: Option<Vec<String>>,
    pub(crate) priority: Option<i32>,
    pub(crate) max_concurrent: Option<u32>,
    pub(crate) requests_per_minute: Option<u32>,
    pub(crate) fallback: Option<Vec<String>>,
    pub(crate) secret_env: Option<Vec<String>>,
    pub(crate) retry: Option<serde_json::Value>,
    pub(crate) circuit_breaker: Option<serde_json::Value>,
    pub(crate) sandbox: Option<SandboxSetting>,
    pub(crate) writable_paths: Option<Vec<String>>,
    pub(crate) approval: Option<ApprovalSetting>,
}

/// A profile's `sandbox`: `on` (the default) or `none` (the tool runs without the write
/// sandbox, e.g. a CLI that needs to write all over the home directory).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum SandboxSetting {
    On,
    None,
}

/// A profile's `approval`: `required` (steps using the tool wait for a decision after
/// their result is committed) or `none` (the default).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum ApprovalSetting {
    Required,
    None,
}

impl ProfileLayer {
    /// Applies `over` on top of `self`, field by field: a field given in `over`
    /// replaces this one, except `env`, which is merged variable by variable (a later
    /// layer adds or replaces variables without repeating the others).
    pub(crate) fn merge(&mut self, over: ProfileLayer) {
        fn take<T>(base: &mut Option<T>, over: Option<T>) {
            if over.is_some() {
                *base = over;
            }
        }
        take(&mut self.kind, over.kind);
        take(&mut self.command, over.command);
        take(&mut self.args, over.args);
        if let Some(env) = over.env {
            self.env.get_or_insert_with(BTreeMap::new).extend(env);
        }
        take(&mut self.model, over.model);
        take(&mut self.api_base, over.api_base);
        take(&mut self.api_key_env, over.api_key_env);
        take(&mut self.timeout_sec, over.timeout_sec);
        take(&mut self.stall_timeout_sec, over.stall_timeout_sec);
        take(&mut self.success_exit_codes, over.success_exit_codes);
        take(&mut self.capabilities, over.capabilities);
        take(&mut self.priority, over.priority);
        take(&mut self.max_concurrent, over.max_concurrent);
        take(&mut self.requests_per_minute, over.requests_per_minute);
        take(&mut self.fallback, over.fallback);
        take(&mut self.secret_env, over.secret_env);
        take(&mut self.retry, over.retry);
        take(&mut self.circuit_breaker, over.circuit_breaker);
        take(&mut self.sandbox, over.sandbox);
        take(&mut self.writable_paths, over.writable_paths);
        take(&mut self.approval, over.approval);
    }
}

#[derive(Deserialize)]
struct ConfigDocument {
    #[serde(default)]
    tools: Option<BTreeMap<String, ProfileLayer>>,
}

/// Parses one layer. An empty document, or one without `tools:`, has no profiles.
///
/// # Errors
/// [`ConfigError::UnknownKey`] for a key of the document that is not in the table of
/// known keys; [`ConfigError::Parse`] naming `source_name`, with the parser's line and
/// column, for invalid YAML or a value of the wrong type.
pub(crate) fn parse_layer(
    source_name: &str,
    yaml: &str,
) -> Result<BTreeMap<String, ProfileLayer>, ConfigError> {
    check_keys(source_name, yaml)?;
    let document: Option<ConfigDocument> =
        serde_norway::from_str(yaml).map_err(|error| ConfigError::Parse {
            source_name: source_name.to_owned(),
            line: error.location().map(|location| location.line()),
            column: error.location().map(|location| location.column()),
            message: error.to_string(),
        })?;
    Ok(document
        .and_then(|document| document.tools)
        .unwrap_or_default())
}

/// Reads an `env:` map whose values may be YAML strings, numbers or booleans
/// (`DEBUG: 1` is as natural to write as `DEBUG: "1"`); all become strings.
fn env_map<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<BTreeMap<String, String>>, D::Error> {
    let map: Option<BTreeMap<String, EnvValue>> = Option::deserialize(deserializer)?;
    Ok(map.map(|map| {
        map.into_iter()
            .map(|(name, value)| (name, value.0))
            .collect()
    }))
}

struct EnvValue(String);

impl<'de> Deserialize<'de> for EnvValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(EnvValueVisitor)
    }
}

struct EnvValueVisitor;

impl Visitor<'_> for EnvValueVisitor {
    type Value = EnvValue;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a string, number or boolean")
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<EnvValue, E> {
        Ok(EnvValue(value.to_owned()))
    }

    fn visit_bool<E: de::Error>(self, value: bool) -> Result<EnvValue, E> {
        Ok(EnvValue(value.to_string()))
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<EnvValue, E> {
        Ok(EnvValue(value.to_string()))
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<EnvValue, E> {
        Ok(EnvValue(value.to_string()))
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<EnvValue, E> {
        Ok(EnvValue(value.to_string()))
    }
}

#[cfg(test)]
mod tests;
