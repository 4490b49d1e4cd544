//! A change's `.openspec.yaml`: its workflow schema, markers and declared dependencies.
//!
//! The CLI validates the file against its change-metadata schema (`schema` required;
//! `created` as `YYYY-MM-DD`; `goal`, `affected_areas`, `initiative`; boolean
//! `skip_specs` and `retire_capabilities`; other keys allowed) and honours a marker
//! only when the whole file is valid and its schema exists. A marker that is set but
//! cannot be honoured yields a reason that validation reports
//! (`utils/change-metadata.ts`, `readBooleanMarker`). Messages follow the CLI's Zod 4
//! wording. `depends_on` (a list of change ids) is this project's extension, used to
//! order changes and detect dependency cycles; the CLI ignores it.

use std::path::Path;

use serde_norway::Value;

use crate::ecma_text::{js_re, js_regex};

/// File name of the change metadata.
pub const METADATA_FILENAME: &str = ".openspec.yaml";
/// The workflow schema shipped with the CLI, the only built-in one.
pub const BUILT_IN_SCHEMA: &str = "spec-driven";

js_re!(KEBAB_ID, r"^[a-z0-9]+(?:-[a-z0-9]+)*$");
js_re!(DATE, r"^\d{4}-\d{2}-\d{2}$");

/// Whether a boolean marker is set and honoured.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Marker {
    /// Set to `true` in valid metadata whose schema exists.
    pub declared: bool,
    /// Why a marker that was set cannot be honoured (control characters replaced).
    pub invalid_reason: Option<String>,
}

/// The parts of `.openspec.yaml` this crate uses.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ChangeMetadata {
    /// Workflow schema name.
    pub schema: String,
    /// `skip_specs: true`.
    pub skip_specs: bool,
    /// `retire_capabilities: true`.
    pub retire_capabilities: bool,
    /// Change ids this change depends on (project extension).
    pub depends_on: Vec<String>,
}

/// Why `.openspec.yaml` cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetadataError {
    /// The file exists but could not be read.
    #[error("{path}: cannot read change metadata ({reason})")]
    Unreadable { path: String, reason: String },
    /// The file is not YAML.
    #[error("{path}: invalid YAML in metadata file ({reason})")]
    InvalidYaml { path: String, reason: String },
    /// The file does not match the metadata schema.
    #[error("{path}: invalid metadata: {reason}")]
    Invalid { path: String, reason: String },
    /// The schema it names is not available.
    #[error("{path}: unknown schema '{schema}'. Available: {available}")]
    UnknownSchema {
        path: String,
        schema: String,
        available: String,
    },
}

/// Workflow schemas available to a project: the built-in `spec-driven` plus every
/// `openspec/schemas/<name>/schema.yaml` of the project.
pub fn available_schemas(project_root: &Path) -> Vec<String> {
    let mut names = vec![BUILT_IN_SCHEMA.to_string()];
    if let Ok(entries) = std::fs::read_dir(project_root.join("openspec").join("schemas")) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if entry.path().join("schema.yaml").is_file() && !names.contains(&name) {
                names.push(name);
            }
        }
    }
    names
}

fn type_name(value: Option<&Value>) -> &'static str {
    match value {
        None => "undefined",
        Some(Value::Null) => "null",
        Some(Value::Bool(_)) => "boolean",
        Some(Value::Number(_)) => "number",
        Some(Value::String(_)) => "string",
        Some(Value::Sequence(_)) => "array",
        Some(Value::Mapping(_)) | Some(Value::Tagged(_)) => "object",
    }
}

fn expected(path: &str, kind: &str, value: Option<&Value>) -> String {
    let message = format!(
        "Invalid input: expected {kind}, received {}",
        type_name(value)
    );
    if path.is_empty() {
        message
    } else {
        format!("{path}: {message}")
    }
}

/// The first problem Zod would report for this metadata, as `path: message`.
fn first_problem(parsed: &Value) -> Option<String> {
    let Value::Mapping(map) = parsed else {
        return Some(expected("", "object", Some(parsed)));
    };
    let get = |key: &str| map.get(Value::String(key.to_string()));
    match get("schema") {
        Some(Value::String(s)) if s.is_empty() => return Some("schema: schema is required".into()),
        Some(Value::String(_)) => {}
        other => return Some(expected("schema", "string", other)),
    }
    match get("created") {
        None => {}
        Some(Value::String(s)) if DATE.is_match(s) => {}
        Some(Value::String(_)) => return Some("created: created must be YYYY-MM-DD format".into()),
        other => return Some(expected("created", "string", other)),
    }
    match get("goal") {
        None => {}
        Some(Value::String(s)) if s.is_empty() => {
            return Some("goal: Too small: expected string to have >=1 characters".into());
        }
        Some(Value::String(_)) => {}
        other => return Some(expected("goal", "string", other)),
    }
    match get("affected_areas") {
        None => {}
        Some(Value::Sequence(items)) => {
            for (i, item) in items.iter().enumerate() {
                match item {
                    Value::String(s) if s.is_empty() => {
                        return Some(format!(
                            "affected_areas.{i}: Too small: expected string to have >=1 characters"
                        ));
                    }
                    Value::String(_) => {}
                    other => {
                        return Some(expected(
                            &format!("affected_areas.{i}"),
                            "string",
                            Some(other),
                        ));
                    }
                }
            }
        }
        other => return Some(expected("affected_areas", "array", other)),
    }
    match get("initiative") {
        None => {}
        Some(Value::Mapping(init)) => {
            for (key, label) in [("store", "Store id"), ("id", "Initiative id")] {
                match init.get(Value::String(key.to_string())) {
                    Some(Value::String(s)) if KEBAB_ID.is_match(s) => {}
                    Some(Value::String(_)) => {
                        return Some(format!(
                            "initiative.{key}: {label} must be kebab-case with lowercase letters, numbers, and single hyphen separators"
                        ));
                    }
                    other => return Some(expected(&format!("initiative.{key}"), "string", other)),
                }
            }
            let extra: Vec<String> = init
                .keys()
                .filter_map(|k| k.as_str().map(str::to_string))
                .filter(|k| k != "store" && k != "id")
                .map(|k| format!("\"{k}\""))
                .collect();
            if !extra.is_empty() {
                let plural = if extra.len() > 1 { "s" } else { "" };
                return Some(format!(
                    "initiative: Unrecognized key{plural}: {}",
                    extra.join(", ")
                ));
            }
        }
        other => return Some(expected("initiative", "object", other)),
    }
    for key in ["skip_specs", "retire_capabilities"] {
        match get(key) {
            None | Some(Value::Bool(_)) => {}
            other => return Some(expected(key, "boolean", other)),
        }
    }
    None
}

fn sanitize(reason: &str) -> String {
    reason
        .chars()
        .map(|c| {
            if (c as u32) < 0x20 || c == '\u{7f}' {
                '?'
            } else {
                c
            }
        })
        .collect()
}

fn unhonorable(reason: &str) -> Marker {
    Marker {
        declared: false,
        invalid_reason: Some(sanitize(reason)),
    }
}

/// Whether unparsable metadata `raw` still visibly sets `key` on a line of its own, so a
/// comment mentioning the key does not count: the CLI's pattern `^\s*(['"]?)KEY\1\s*:`
/// with the `m` flag, its backreference spelled out as three alternatives.
fn mentions_key(raw: &str, key: &str) -> bool {
    let key = regex::escape(key);
    js_regex(&format!(r#"(?m)^\s*(?:'{key}'|"{key}"|{key})\s*:"#)).is_match(raw)
}

/// Reads a boolean marker (`skip_specs`, `retire_capabilities`) with the CLI's rules.
/// Never fails: problems become [`Marker::invalid_reason`] when the marker was set.
pub fn read_marker(change_dir: &Path, key: &str) -> Marker {
    let path = change_dir.join(METADATA_FILENAME);
    let raw = match std::fs::read_to_string(&path) {
        Ok(raw) => raw,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Marker::default(),
        Err(err) => return unhonorable(&format!("the metadata file cannot be read ({err})")),
    };
    let parsed: Value = match serde_norway::from_str(&raw) {
        Ok(value) => value,
        Err(_) => {
            let mentioned = mentions_key(&raw, key);
            return if mentioned {
                unhonorable("the file is not valid YAML")
            } else {
                Marker::default()
            };
        }
    };
    match first_problem(&parsed) {
        None => {
            let set = matches!(parsed.get(key), Some(Value::Bool(true)));
            if !set {
                return Marker::default();
            }
            let schema = parsed
                .get("schema")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let project_root = project_root_of(change_dir);
            if !available_schemas(&project_root).iter().any(|s| s == schema) {
                return unhonorable(&format!("schema: unknown schema '{schema}'"));
            }
            Marker {
                declared: true,
                invalid_reason: None,
            }
        }
        Some(problem) => {
            let mentioned = match &parsed {
                Value::Mapping(map) => {
                    matches!(map.get(Value::String(key.to_string())), Some(v) if !matches!(v, Value::Bool(false)))
                }
                _ => false,
            };
            if mentioned {
                unhonorable(&problem)
            } else {
                Marker::default()
            }
        }
    }
}

/// `<change_dir>/../../..`, the project root for a change in `openspec/changes/<id>`.
pub fn project_root_of(change_dir: &Path) -> std::path::PathBuf {
    change_dir.join("..").join("..").join("..")
}

/// Reads `.openspec.yaml` strictly (`readChangeMetadata`): `Ok(None)` when absent.
///
/// Errors: unreadable file, invalid YAML, schema mismatch, unknown workflow schema.
pub fn read_change_metadata(
    change_dir: &Path,
    project_root: &Path,
) -> Result<Option<ChangeMetadata>, MetadataError> {
    let path = change_dir.join(METADATA_FILENAME);
    let shown = path.display().to_string();
    let raw = match std::fs::read_to_string(&path) {
        Ok(raw) => raw,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(err) => {
            return Err(MetadataError::Unreadable {
                path: shown,
                reason: err.to_string(),
            });
        }
    };
    let parsed: Value = serde_norway::from_str(&raw).map_err(|err| MetadataError::InvalidYaml {
        path: shown.clone(),
        reason: err.to_string(),
    })?;
    if let Some(problem) = first_problem(&parsed) {
        return Err(MetadataError::Invalid {
            path: shown,
            reason: problem,
        });
    }
    let schema = parsed
        .get("schema")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let available = available_schemas(project_root);
    if !available.contains(&schema) {
        return Err(MetadataError::UnknownSchema {
            path: shown,
            schema,
            available: available.join(", "),
        });
    }
    let depends_on = match parsed.get("depends_on") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Sequence(items)) => items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        Some(_) => {
            return Err(MetadataError::Invalid {
                path: shown,
                reason: "depends_on: expected a list of change ids".into(),
            });
        }
    };
    Ok(Some(ChangeMetadata {
        schema,
        skip_specs: matches!(parsed.get("skip_specs"), Some(Value::Bool(true))),
        retire_capabilities: matches!(parsed.get("retire_capabilities"), Some(Value::Bool(true))),
        depends_on,
    }))
}

/// The workflow schema of a change: `.openspec.yaml`, else `openspec/config.yaml`'s
/// `schema`, else `spec-driven` (`resolveSchemaForChange`).
pub fn resolve_schema_for_change(
    change_dir: &Path,
    project_root: &Path,
) -> Result<String, MetadataError> {
    if let Some(meta) = read_change_metadata(change_dir, project_root)? {
        return Ok(meta.schema);
    }
    let config = project_root.join("openspec").join("config.yaml");
    if let Ok(raw) = std::fs::read_to_string(config)
        && let Ok(value) = serde_norway::from_str::<Value>(&raw)
        && let Some(schema) = value.get("schema").and_then(Value::as_str)
        && !schema.is_empty()
    {
        return Ok(schema.to_string());
    }
    Ok(BUILT_IN_SCHEMA.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(yaml: &str) -> Option<String> {
        first_problem(&serde_norway::from_str::<Value>(yaml).unwrap_or(Value::Null))
    }

    #[test]
    fn reports_the_first_schema_problem_in_zod_wording() {
        assert_eq!(
            problem("skip_specs: true"),
            Some("schema: Invalid input: expected string, received undefined".into())
        );
        assert_eq!(
            problem("schema: spec-driven\nskip_specs: \"yes\""),
            Some("skip_specs: Invalid input: expected boolean, received string".into())
        );
        assert_eq!(
            problem("schema: spec-driven\ncreated: 2024-1-1"),
            Some("created: created must be YYYY-MM-DD format".into())
        );
        assert_eq!(problem("schema: spec-driven\ndepends_on: [a]"), None);
    }

    #[test]
    fn markers_are_read_from_the_change_directory() {
        let dir = tempfile::tempdir().expect("temp dir");
        let change = dir.path().join("openspec/changes/c");
        std::fs::create_dir_all(&change).expect("mkdir");
        std::fs::write(
            change.join(METADATA_FILENAME),
            "schema: spec-driven\nskip_specs: true\n",
        )
        .expect("write");
        assert!(read_marker(&change, "skip_specs").declared);
        std::fs::write(
            change.join(METADATA_FILENAME),
            "schema: nope\nskip_specs: true\n",
        )
        .expect("write");
        assert_eq!(
            read_marker(&change, "skip_specs").invalid_reason.as_deref(),
            Some("schema: unknown schema 'nope'")
        );
        std::fs::write(change.join(METADATA_FILENAME), "skip_specs: [\n").expect("write");
        assert_eq!(
            read_marker(&change, "skip_specs").invalid_reason.as_deref(),
            Some("the file is not valid YAML")
        );
    }
}
