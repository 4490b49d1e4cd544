//! A step's cache key and its parts (docs/CACHE.md "The key").
//!
//! The key is SHA-256 (lowercase hex) over the compact JSON of [`KeyParts`]: struct fields
//! in declared order, map entries sorted by name. Parts are kept per entry so that
//! `pipeline why` can name the part that differs from an earlier entry.

use std::collections::BTreeMap;
use std::path::Path;

use git2::{ObjectType, Oid, TreeWalkMode, TreeWalkResult};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::model::{FileScope, Step, StepKind, ToolChoice};

/// Version of the key's layout; a new layout misses every older entry.
pub(crate) const KEY_VERSION: u32 = 1;

/// Placeholder of a secret `env` value: only its name enters the key.
pub(crate) const SECRET: &str = "<secret>";

/// Everything that determines a step's result.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct KeyParts {
    /// [`KEY_VERSION`].
    pub version: u32,
    /// The step's definition, field by field (not `depends_on`, `cache`, `approval`).
    pub definition: BTreeMap<String, Value>,
    /// The resolved tool.
    pub tool: ToolPart,
    /// The input tree.
    pub inputs: InputsPart,
    /// SHA-256 of the referenced OpenSpec texts; `None` without `specs`.
    pub specs: Option<String>,
}

/// The tool profile a step resolves to.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ToolPart {
    /// Profile name (`shell` for a step's command, `none` for an acceptance gate).
    pub name: String,
    /// The profile's program (`None` for `shell` and `none`: the command is in the
    /// definition).
    pub command: Option<String>,
    /// The profile's argument templates.
    pub args: Vec<String>,
    /// The profile's model.
    pub model: Option<String>,
    /// First line of `<command> --version`, as `pipeline tools` shows it.
    pub version: Option<String>,
}

/// The start commit's tree as the step can read it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct InputsPart {
    /// The step's `inputs`, `None` for the whole tree.
    pub globs: Option<Vec<String>>,
    /// SHA-256 over `<mode octal> <blob id> <path>\n` of every file read, sorted by path.
    pub tree: String,
}

impl KeyParts {
    /// The key: SHA-256 hex of the compact JSON of the parts.
    pub fn key(&self) -> String {
        sha256_hex(serde_json::to_string(self).unwrap_or_default().as_bytes())
    }
}

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// The definition part of `step`: its fields as JSON values, `env` values that are among
/// `secrets` replaced by [`SECRET`].
pub(crate) fn definition_part(step: &Step, secrets: &[String]) -> BTreeMap<String, Value> {
    let mut d = BTreeMap::new();
    let mut put = |name: &str, value: Value| {
        d.insert(name.to_owned(), value);
    };
    let json = |v: &dyn erased::Ser| v.value();
    put("id", Value::from(step.id.as_str()));
    put("kind", json(&step.kind));
    put("tool", json(&step.tool));
    put("description", json(&step.description));
    put("tasks", json(&step.tasks));
    put("prompt", json(&step.prompt));
    put("files_scope", json(&step.files_scope));
    put("acceptance_tests", json(&step.acceptance_tests));
    put("context_files", json(&step.context_files));
    put("timeout_sec", json(&step.timeout_sec));
    let env: BTreeMap<&str, &str> = step
        .env
        .iter()
        .map(|(name, value)| {
            let secret = secrets
                .iter()
                .any(|s| !s.is_empty() && value.contains(s.as_str()));
            (name.as_str(), if secret { SECRET } else { value.as_str() })
        })
        .collect();
    put("env", json(&env));
    put("isolation", json(&step.isolation));
    put("specs", json(&step.specs));
    put("openspec_tasks", json(&step.openspec_tasks));
    put("allow_symlinks", json(&step.allow_symlinks));
    put("read_only", Value::from(step.read_only));
    put("escalation", json(&step.escalation));
    put("fix_attempts", Value::from(step.fix_attempts));
    put("inputs", json(&step.inputs));
    // The worktree's set-up shapes the result too: its commands and the names (not the
    // contents: they are secrets) of the files copied in.
    let setup: Vec<Value> = step
        .setup
        .iter()
        .map(|s| {
            serde_json::json!({
                "command": s.command,
                "timeout_sec": s.timeout_sec,
                "inputs": s.inputs,
                "outputs": s.outputs,
            })
        })
        .collect();
    put("setup", Value::from(setup));
    put("copy_into_worktree", json(&step.copy_into_worktree));
    d
}

/// Serialisation to a JSON value without naming each field's type.
mod erased {
    pub(super) trait Ser {
        fn value(&self) -> serde_json::Value;
    }
    impl<T: serde::Serialize> Ser for T {
        fn value(&self) -> serde_json::Value {
            serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
        }
    }
}

/// The tool part of `step`: its profile (a capability resolves to the profile the
/// registry ranks first) with the version `version_of(name)` reports.
pub(crate) fn tool_part(
    step: &Step,
    registry: &pipeline_adapters::ToolRegistry,
    version_of: impl Fn(&str) -> Option<String>,
) -> ToolPart {
    let none = |name: &str| ToolPart {
        name: name.to_owned(),
        command: None,
        args: Vec::new(),
        model: None,
        version: None,
    };
    let name = match (&step.kind, &step.tool) {
        (StepKind::WorkstreamAcceptance, _) | (_, ToolChoice::None) => return none("none"),
        (_, ToolChoice::Shell(_)) => return none(pipeline_adapters::SHELL_TOOL),
        (_, ToolChoice::Profile(name)) => name.clone(),
        (_, ToolChoice::Capability(cap)) => match registry.with_capability(cap).first() {
            Some(name) => (*name).to_owned(),
            None => return none(&format!("capability:{cap}")),
        },
    };
    match registry.profile(&name) {
        Some(profile) => ToolPart {
            command: Some(profile.command.clone()),
            args: profile.args.clone(),
            model: profile.model.clone(),
            version: version_of(&name),
            name,
        },
        None => none(&name),
    }
}

/// Files of `commit`'s tree the step reads: every blob (and submodule link) but those
/// under `.pipeline/` and the `excluded` paths (the workstream files), narrowed to
/// `globs` when given; `(path, mode, id)` sorted by path.
pub(crate) fn input_files(
    repo: &git2::Repository,
    commit: Oid,
    globs: Option<&[String]>,
    excluded: &[String],
) -> Result<Vec<(String, i32, Oid)>, git2::Error> {
    let scope = match globs {
        Some(g) => Some(
            FileScope::new(g.iter().map(String::as_str))
                .map_err(|e| git2::Error::from_str(&format!("inputs: {e}")))?,
        ),
        None => None,
    };
    let tree = repo.find_commit(commit)?.tree()?;
    let mut files = Vec::new();
    tree.walk(TreeWalkMode::PreOrder, |dir, entry| {
        if matches!(entry.kind(), Some(ObjectType::Tree)) {
            return if dir.is_empty() && entry.name().ok() == Some(".pipeline") {
                TreeWalkResult::Skip
            } else {
                TreeWalkResult::Ok
            };
        }
        let path = format!("{dir}{}", entry.name().unwrap_or_default());
        let read =
            !excluded.iter().any(|e| e == &path) && scope.as_ref().is_none_or(|s| s.allows(&path));
        if read {
            files.push((path, entry.filemode(), entry.id()));
        }
        TreeWalkResult::Ok
    })?;
    files.sort();
    Ok(files)
}

/// SHA-256 over the listing of [`input_files`].
pub(crate) fn tree_hash(files: &[(String, i32, Oid)]) -> String {
    let mut h = Sha256::new();
    for (path, mode, id) in files {
        h.update(format!("{mode:o} {id} {path}\n").as_bytes());
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Repository-relative paths of the files defining `steps` that lie in `repo_root`.
pub(crate) fn workstream_files<'a>(
    steps: impl Iterator<Item = &'a Step>,
    repo_root: &Path,
) -> Vec<String> {
    let root = repo_root
        .canonicalize()
        .unwrap_or_else(|_| repo_root.to_path_buf());
    let mut files: Vec<String> = steps
        .filter_map(|s| {
            let file = s.file.canonicalize().ok()?;
            let rel = file.strip_prefix(&root).ok()?;
            Some(rel.to_string_lossy().replace('\\', "/"))
        })
        .collect();
    files.sort();
    files.dedup();
    files
}
