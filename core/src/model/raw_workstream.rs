//! The raw layer: a workstream object as written, deserialized with serde and nothing more.
//!
//! Loading has two layers, like a command line parsed into low-level arguments and then
//! turned once into high-level ones: these structs only mirror the JSON (after it passed
//! `schema/workstream.schema.json`, so every typed field here has the type the schema
//! requires); [`super::workstream_builder`] turns them once into typed [`super::Step`]s,
//! applying inheritance and defaults and checking what the schema cannot. Fields the raw
//! layer does not type are kept in [`OtherFields`] (flattened), so `pipeline validate` can
//! name them.
//!
//! A field that is absent and one that is present matter differently in places (a step's
//! own `files_scope` replaces the workstream's; `context_files` errors point at whichever
//! object declared them), so such fields are `Option`s; lists whose absence means "empty"
//! default to empty.

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde_json::Value;

use super::other_fields::OtherFields;
use super::step::Approval;

/// One workstream object of a file: the fields only a workstream has, and the fields it
/// shares with a step.
#[derive(Debug)]
pub(crate) struct RawWorkstream {
    /// The OpenSpec change this workstream implements (informational).
    pub openspec_change: Option<String>,
    /// Steps; a workstream without `steps` and `phases` is a single step. Boxed, like
    /// phase steps: the builder consumes them one by one, and each box is freed as its
    /// step is built (an unboxed vector would hold every raw step until the last).
    #[allow(clippy::vec_box)]
    pub steps: Option<Vec<Box<RawFields>>>,
    /// Phases grouping further steps.
    pub phases: Option<Vec<RawPhase>>,
    /// The fields a workstream shares with a step (its own id, tool, tasks, ...).
    pub fields: RawFields,
}

impl RawWorkstream {
    /// Moves a workstream object into its raw struct. The workstream-only fields are taken
    /// out of the object first and the rest is deserialized as [`RawFields`] directly: the
    /// same as flattening `fields`, without serde's intermediate copy of every field.
    pub fn from_value(value: Value) -> Result<RawWorkstream, serde_json::Error> {
        let Value::Object(mut object) = value else {
            return Err(de::Error::custom("a workstream is a JSON object"));
        };
        Ok(RawWorkstream {
            openspec_change: take(&mut object, "openspec_change")?,
            steps: take(&mut object, "steps")?,
            phases: take(&mut object, "phases")?,
            fields: RawFields::deserialize(Value::Object(object))?,
        })
    }
}

/// Removes `key` from `object` and deserializes it, if present.
fn take<T: de::DeserializeOwned>(
    object: &mut serde_json::Map<String, Value>,
    key: &str,
) -> Result<Option<T>, serde_json::Error> {
    object.remove(key).map(serde_json::from_value).transpose()
}

/// A phase: a named group of steps; its `depends_on` names other phases.
#[derive(Debug, Deserialize)]
pub(crate) struct RawPhase {
    pub id: String,
    #[serde(default)]
    pub depends_on: Vec<String>,
    /// Boxed: see [`RawWorkstream::steps`].
    #[allow(clippy::vec_box)]
    pub steps: Vec<Box<RawFields>>,
    /// `name`, `description` and anything else.
    #[serde(flatten)]
    pub other: OtherFields,
}

/// The fields shared by workstream and step objects (the schema's `$defs/common`, plus
/// `id` and `isolation`). On a step, a field it lacks may be inherited from its workstream
/// (see [`super::step_draft`]).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct RawFields {
    /// Required by the schema for workstreams and steps; empty only for the acceptance
    /// gate's placeholder.
    #[serde(default)]
    pub id: String,
    pub description: Option<String>,
    pub tool: Option<String>,
    pub capability: Option<String>,
    pub command: Option<String>,
    /// A string (one task) or a list of them.
    pub tasks: Option<TextOrList>,
    pub prompt: Option<String>,
    #[serde(default)]
    pub depends_on: Vec<String>,
    pub files_scope: Option<Vec<String>>,
    pub files_create: Option<Vec<String>>,
    pub context_files: Option<Vec<String>>,
    #[serde(default)]
    pub acceptance_tests: Vec<RawAcceptanceTest>,
    /// Seconds.
    pub timeout_sec: Option<f64>,
    /// Seconds of silence (no output, no CPU) after which the tool is stopped as stalled;
    /// 0 turns the tool profile's stall timeout off.
    pub stall_timeout_sec: Option<f64>,
    pub env: Option<BTreeMap<String, String>>,
    pub isolation: Option<RawIsolation>,
    pub conflict_group: Option<String>,
    pub parallel_ok: Option<bool>,
    #[serde(default)]
    pub specs: Vec<String>,
    #[serde(default)]
    pub openspec_tasks: Vec<String>,
    /// The original format's `retry` block, read by the error engine's own parser.
    pub retry: Option<Value>,
    /// The original format's `circuit_breaker` block, likewise.
    pub circuit_breaker: Option<Value>,
    /// A command, `{command, timeout_sec}`, or a list of them (or the original format's
    /// `{enabled, action, parameters}`, which is not interpreted).
    pub compensation: Option<Value>,
    #[serde(default, deserialize_with = "count")]
    pub fix_attempts: Option<u32>,
    pub escalation: Option<Vec<String>>,
    /// Symlinks the step's result may contain although they resolve outside the
    /// repository (repository-relative paths, as in `files_scope`).
    pub allow_symlinks: Option<Vec<String>>,
    /// `sandbox`: `"none"` turns the write sandbox off for the step (default on).
    pub sandbox: Option<RawSandbox>,
    /// `writable_paths`: more paths the sandboxed step may write below.
    pub writable_paths: Option<Vec<String>>,
    /// `read_only`: the step changes no file; its result is its checks, not a commit.
    pub read_only: Option<bool>,
    /// `allow_empty`: an AI step whose tool changes nothing completes (default: it fails
    /// with reason `no_change`).
    pub allow_empty: Option<bool>,
    /// `budget`: `{usd, tokens}` the step's attempts may spend together (docs/COSTS.md
    /// "Budgets"); a workstream's applies to each of its steps without one.
    pub budget: Option<super::step::Budget>,
    /// `approval`: `required` makes the step wait for a decision once its result is
    /// committed; `none` (the default) does not.
    pub approval: Option<Approval>,
    /// `inputs`: the paths the step reads (paths, directories or globs as in
    /// `files_scope`); only they enter its cache key's input tree (docs/CACHE.md).
    pub inputs: Option<Vec<String>>,
    /// `cache`: `false` never satisfies the step from the cross-run step cache.
    pub cache: Option<bool>,
    /// `setup`: commands run in the step's worktree before the tool of each attempt that
    /// starts from a clean worktree (docs/WORKTREES.md "Set-up").
    pub setup: Option<Vec<RawSetup>>,
    /// `copy_into_worktree`: untracked files of the main checkout copied into the step's
    /// worktree before `setup` (never committed; their contents are secrets).
    pub copy_into_worktree: Option<Vec<String>>,
    /// `candidates`: how many candidate attempts of an AI step run in parallel, the best
    /// one kept (docs/CANDIDATES.md); checked by [`super::candidate_settings`].
    pub candidates: Option<u32>,
    /// `select`: `{command, timeout_sec}` scoring each passing candidate.
    pub select: Option<super::step::SelectCommand>,
    /// Everything else (informational fields, fields of other tools), comments left out.
    #[serde(flatten)]
    pub other: OtherFields,
}

/// `isolation`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum RawIsolation {
    Worktree,
    None,
}

/// `sandbox`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum RawSandbox {
    On,
    None,
}

/// One entry of `acceptance_tests`: a command, or an object naming it.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum RawAcceptanceTest {
    Command(String),
    Named {
        name: Option<String>,
        command: String,
        /// Seconds.
        timeout_sec: Option<f64>,
    },
}

/// One entry of `setup`: a command, or an object with its timeout, the input files that
/// key its cache and the outputs kept across resets.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(crate) enum RawSetup {
    Command(String),
    Full {
        command: String,
        /// Seconds.
        timeout_sec: Option<f64>,
        #[serde(default)]
        inputs: Vec<String>,
        #[serde(default)]
        outputs: Vec<String>,
    },
}

/// A string or a list of strings (`tasks`): a string is one item.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct TextOrList(pub Vec<String>);

impl<'de> Deserialize<'de> for TextOrList {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TextOrListVisitor;
        impl<'de> Visitor<'de> for TextOrListVisitor {
            type Value = TextOrList;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or a list of strings")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<TextOrList, E> {
                Ok(TextOrList(vec![v.to_string()]))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<TextOrList, E> {
                Ok(TextOrList(vec![v]))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<TextOrList, A::Error> {
                let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0));
                while let Some(item) = seq.next_element::<String>()? {
                    out.push(item);
                }
                Ok(TextOrList(out))
            }
        }
        deserializer.deserialize_any(TextOrListVisitor)
    }
}

/// A count (`fix_attempts`): a JSON integer, which JSON Schema also allows to be written
/// with a zero fraction (`2.0`).
fn count<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<u32>, D::Error> {
    let n = f64::deserialize(deserializer)?;
    if n.fract() != 0.0 || !(0.0..=f64::from(u32::MAX)).contains(&n) {
        return Err(de::Error::custom(format!(
            "expected a non-negative integer, got {n}"
        )));
    }
    // In range and integral: the conversion is exact.
    Ok(Some(n as u32))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_workstream_with_phases_lists_its_step_objects_in_order() {
        let raw = RawWorkstream::from_value(serde_json::json!({
            "id": "w", "_note": "comment", "ccpm_issue": 7,
            "steps": [{"id": "a", "tasks": "one"}],
            "phases": [{"id": "p", "name": "P", "steps": [{"id": "b", "tasks": ["x", "y"], "fix_attempts": 2.0}]}]
        }))
        .unwrap();
        assert_eq!(raw.fields.id, "w");
        assert_eq!(
            raw.fields.other.keys().collect::<Vec<_>>(),
            vec!["ccpm_issue"]
        );
        assert_eq!(raw.steps.as_ref().unwrap()[0].id, "a");
        let b = &raw.phases.as_ref().unwrap()[0].steps[0];
        assert_eq!(b.tasks, Some(TextOrList(vec!["x".into(), "y".into()])));
        assert_eq!(b.fix_attempts, Some(2));
        assert_eq!(
            raw.steps.as_ref().unwrap()[0].tasks,
            Some(TextOrList(vec!["one".into()]))
        );
    }

    #[test]
    fn a_fractional_count_is_refused() {
        let r: Result<RawFields, _> =
            serde_json::from_value(serde_json::json!({"id": "s", "fix_attempts": 1.5}));
        assert!(r.is_err());
    }
}
