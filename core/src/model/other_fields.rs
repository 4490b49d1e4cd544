//! The field names of workstream, step and phase objects, and the check of every key the
//! raw layer does not type.
//!
//! This module is the one place that lists the names a workstream file may use; the JSON
//! Schema (`schema/workstream.schema.json`) lists the same names, and a unit test keeps the
//! two in agreement. Each raw object collects the keys its struct does not type through
//! `#[serde(flatten)]` into an [`OtherFields`] map, and [`OtherFields::report`] sorts them:
//!
//! - known to the engine ([`INTERPRETED`], [`WORKSTREAM_ONLY`], [`PHASE_FIELDS`]) or
//!   informational ([`INFORMATIONAL`]: kept and shown, no effect by design): silent;
//! - a key of the original format that this engine does not interpret
//!   ([`ORIGINAL_WORKSTREAM`], [`ORIGINAL_PHASE`]): a note `field `x` is not interpreted;
//!   kept as data` (DESIGN "Workstream files": never dropped without a word);
//! - anything else: an error `unknown field `x` in step `w/s``, with "did you mean" when a
//!   known name of that kind of object is close by edit distance (issue #11: a typo such as
//!   `depend_on` must not silently run steps in parallel).
//!
//! Keys starting with `_` are comments and `$schema` points editors at the schema: both
//! are skipped while reading and never reported.
//!
//! The original-format lists come from the original tool's real files: every key used on
//! workstreams, steps and phases of its workstream bundles and examples, and every property
//! of its `workstream.schema.json` (the conformance corpus, `shared/conformance`).

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::Value;

use super::ValidationDiagnostic;
use super::semantic_checks::closest;

/// Fields the engine interprets on workstreams and steps alike (the schema's
/// `$defs/common`, plus `id` and `isolation`).
pub(crate) const INTERPRETED: &[&str] = &[
    "id",
    "description",
    "tool",
    "capability",
    "command",
    "tasks",
    "prompt",
    "depends_on",
    "files_scope",
    "files_create",
    "context_files",
    "acceptance_tests",
    "timeout_sec",
    "stall_timeout_sec",
    "env",
    "isolation",
    "conflict_group",
    "parallel_ok",
    "specs",
    "openspec_tasks",
    "retry",
    "circuit_breaker",
    "compensation",
    "fix_attempts",
    "escalation",
    "sandbox",
    "writable_paths",
    "allow_symlinks",
    "read_only",
    "allow_empty",
    "budget",
    "approval",
    "inputs",
    "cache",
    "setup",
    "copy_into_worktree",
    "candidates",
    "select",
];

/// Fields the engine interprets on a workstream only.
pub(crate) const WORKSTREAM_ONLY: &[&str] = &["steps", "phases"];

/// Informational fields of workstreams and steps: kept and shown, with no effect on
/// execution by design.
pub(crate) const INFORMATIONAL: &[&str] = &[
    "openspec_change",
    "ccpm_issue",
    "gate",
    "metadata",
    "name",
    "title",
];

/// Fields of a phase (all interpreted but `name` and `description`, which are shown).
pub(crate) const PHASE_FIELDS: &[&str] = &["id", "name", "description", "depends_on", "steps"];

/// Workstream fields of the original format that this engine does not interpret: kept as
/// data with a note. From the original tool's examples (`error_handling`, `execution`,
/// `resume`, `rollback_order`, `rollback_strategy`, `saga`, `state_transitions`) and its
/// workstream schema (the rest).
pub(crate) const ORIGINAL_WORKSTREAM: &[&str] = &[
    "capability_payload",
    "compensation_actions",
    "error_handling",
    "estimated_context_tokens",
    "execution",
    "kind",
    "max_cost_usd",
    "priority",
    "resume",
    "rollback_order",
    "rollback_strategy",
    "saga",
    "state_transitions",
    "test_gates",
];

/// Phase fields of the original format that this engine does not interpret (its
/// multi-phase example): kept as data with a note.
pub(crate) const ORIGINAL_PHASE: &[&str] = &["checkpoint", "resume_strategy"];

/// Keys accepted silently on any object besides `_`-prefixed comments: the JSON Schema
/// reference editors use.
pub(crate) const SCHEMA_KEY: &str = "$schema";

/// Which kind of object the fields belong to: each has its own set of field names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ObjectKind {
    Workstream,
    Step,
    Phase,
}

impl ObjectKind {
    /// The word used in messages.
    fn noun(self) -> &'static str {
        match self {
            ObjectKind::Workstream => "workstream",
            ObjectKind::Step => "step",
            ObjectKind::Phase => "phase",
        }
    }

    /// Names with a meaning on this kind of object (interpreted or informational).
    pub(crate) fn known(self) -> Vec<&'static str> {
        match self {
            ObjectKind::Workstream => [INTERPRETED, WORKSTREAM_ONLY, INFORMATIONAL].concat(),
            ObjectKind::Step => [INTERPRETED, INFORMATIONAL].concat(),
            ObjectKind::Phase => PHASE_FIELDS.to_vec(),
        }
    }

    /// Names of the original format this engine keeps without interpreting them.
    pub(crate) fn original(self) -> &'static [&'static str] {
        match self {
            ObjectKind::Workstream => ORIGINAL_WORKSTREAM,
            ObjectKind::Step => &[],
            ObjectKind::Phase => ORIGINAL_PHASE,
        }
    }

    /// Every name this kind of object may hold (besides comments and `$schema`): the
    /// candidates of "did you mean", and the schema's properties for the kind.
    pub(crate) fn all(self) -> Vec<&'static str> {
        let mut all = self.known();
        all.extend_from_slice(self.original());
        all.sort_unstable();
        all.dedup();
        all
    }
}

/// The untyped fields of one object, by key (sorted, as JSON objects are read), comment
/// keys (`_...`) and `$schema` left out.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct OtherFields(BTreeMap<String, Value>);

impl OtherFields {
    /// Keys of the fields, sorted.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    /// Reports each field at `pointer/key` of `file`, naming `id` (the workstream, the
    /// step `ws/step` or the phase `ws/phase`): nothing for a known field, a note `field
    /// `x` is not interpreted; kept as data` for a field of the original format, and an
    /// error `unknown field `x` in step `w/s`` (with "did you mean `y`?" when a field of
    /// that kind of object is close) for anything else.
    pub fn report(
        &self,
        kind: ObjectKind,
        file: &Path,
        pointer: &str,
        id: &str,
        diags: &mut Vec<ValidationDiagnostic>,
    ) {
        self.report_as(kind, kind.noun(), file, pointer, id, diags);
    }

    /// [`OtherFields::report`], calling the object `noun` in messages (a workstream
    /// without steps is the `step` its user thinks of).
    pub fn report_as(
        &self,
        kind: ObjectKind,
        noun: &str,
        file: &Path,
        pointer: &str,
        id: &str,
        diags: &mut Vec<ValidationDiagnostic>,
    ) {
        let known = kind.known();
        for key in self.keys() {
            if known.contains(&key) {
                continue;
            }
            let location = format!("{pointer}/{key}");
            if kind.original().contains(&key) {
                diags.push(
                    ValidationDiagnostic::note(
                        file,
                        location,
                        format!("field `{key}` is not interpreted; kept as data"),
                    )
                    .with_step(id),
                );
                continue;
            }
            diags.push(unknown_field(kind, noun, file, location, id, key));
        }
    }
}

/// The error for an unknown `key` of a `kind` object: with the closest known name when
/// one is close (edit distance, case ignored), else with the ways out.
fn unknown_field(
    kind: ObjectKind,
    noun: &str,
    file: &Path,
    location: String,
    id: &str,
    key: &str,
) -> ValidationDiagnostic {
    let names = kind.all();
    let lowered = key.to_lowercase();
    let suggestion = closest(&lowered, names.iter().copied());
    let mut message = format!("unknown field `{key}` in {noun} `{id}`");
    let hint = match suggestion {
        Some(name) => {
            message.push_str(&format!("; did you mean `{name}`?"));
            format!("rename it to `{name}`")
        }
        None => format!(
            "remove it, or rename it to `_{key}` to keep it as a comment; \
             `pipeline schema` lists the fields of a {noun}"
        ),
    };
    ValidationDiagnostic::error(file, location, message)
        .with_step(id)
        .with_hint(hint)
}

impl<'de> Deserialize<'de> for OtherFields {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct FieldsVisitor;
        impl<'de> Visitor<'de> for FieldsVisitor {
            type Value = OtherFields;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("the fields of a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<OtherFields, A::Error> {
                let mut out = BTreeMap::new();
                while let Some(key) = map.next_key::<String>()? {
                    if key.starts_with('_') || key == SCHEMA_KEY {
                        map.next_value::<IgnoredAny>()?;
                    } else {
                        let value = map.next_value::<Value>()?;
                        out.insert(key, value);
                    }
                }
                Ok(OtherFields(out))
            }
        }
        deserializer.deserialize_map(FieldsVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(kind: ObjectKind, json: Value, id: &str) -> Vec<ValidationDiagnostic> {
        let fields: OtherFields = serde_json::from_value(json).unwrap();
        let mut diags = Vec::new();
        fields.report(kind, Path::new("f.json"), "/0", id, &mut diags);
        diags
    }

    fn texts(diags: &[ValidationDiagnostic]) -> String {
        diags
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn comments_schema_and_informational_fields_are_silent_original_ones_noted() {
        let diags = report(
            ObjectKind::Workstream,
            serde_json::json!({
                "_comment": "skipped", "$schema": "../schema/workstream.schema.json",
                "saga": {"x": 1}, "metadata": {}, "ccpm_issue": 4
            }),
            "w",
        );
        insta::assert_snapshot!(texts(&diags), @"note: f.json at /0/saga (step w): field `saga` is not interpreted; kept as data");
    }

    #[test]
    fn typos_are_errors_with_the_closest_field_of_their_kind() {
        let step = report(
            ObjectKind::Step,
            serde_json::json!({"depend_on": ["a"], "acceptence_tests": [], "dependsOn": []}),
            "ws/a",
        );
        insta::assert_snapshot!(texts(&step), @r"
        error: f.json at /0/acceptence_tests (step ws/a): unknown field `acceptence_tests` in step `ws/a`; did you mean `acceptance_tests`?
          hint: rename it to `acceptance_tests`
        error: f.json at /0/depend_on (step ws/a): unknown field `depend_on` in step `ws/a`; did you mean `depends_on`?
          hint: rename it to `depends_on`
        error: f.json at /0/dependsOn (step ws/a): unknown field `dependsOn` in step `ws/a`; did you mean `depends_on`?
          hint: rename it to `depends_on`
        ");
        let ws = report(
            ObjectKind::Workstream,
            serde_json::json!({"phasess": [], "owner": "me"}),
            "ws",
        );
        insta::assert_snapshot!(texts(&ws), @r"
        error: f.json at /0/owner (step ws): unknown field `owner` in workstream `ws`
          hint: remove it, or rename it to `_owner` to keep it as a comment; `pipeline schema` lists the fields of a workstream
        error: f.json at /0/phasess (step ws): unknown field `phasess` in workstream `ws`; did you mean `phases`?
          hint: rename it to `phases`
        ");
        let phase = report(
            ObjectKind::Phase,
            serde_json::json!({"name": "n", "description": "d", "checkpoint": {}, "step": [], "zzz": 1}),
            "ws/p",
        );
        insta::assert_snapshot!(texts(&phase), @r"
        note: f.json at /0/checkpoint (step ws/p): field `checkpoint` is not interpreted; kept as data
        error: f.json at /0/step (step ws/p): unknown field `step` in phase `ws/p`; did you mean `steps`?
          hint: rename it to `steps`
        error: f.json at /0/zzz (step ws/p): unknown field `zzz` in phase `ws/p`
          hint: remove it, or rename it to `_zzz` to keep it as a comment; `pipeline schema` lists the fields of a phase
        ");
    }

    #[test]
    fn a_field_of_another_kind_is_unknown_here() {
        // `steps` belongs to workstreams, `checkpoint` to phases: on a step both are typos.
        let diags = report(
            ObjectKind::Step,
            serde_json::json!({"steps": [], "checkpoint": {}}),
            "w/s",
        );
        assert_eq!(diags.len(), 2, "{}", texts(&diags));
        assert!(
            diags
                .iter()
                .all(|d| d.severity == super::super::ValidationSeverity::Error)
        );
    }

    /// The schema's property names of one `$defs` entry, following its `$ref` to
    /// `$defs/common`.
    fn schema_properties(def: &str) -> Vec<String> {
        let schema: Value =
            serde_json::from_str(include_str!("../../../schema/workstream.schema.json")).unwrap();
        let defs = &schema["$defs"];
        let mut names: Vec<String> = Vec::new();
        let mut add = |object: &Value| {
            if let Some(props) = object["properties"].as_object() {
                names.extend(props.keys().cloned());
            }
        };
        add(&defs[def]);
        if defs[def]["$ref"] == "#/$defs/common" {
            add(&defs["common"]);
        }
        names.sort();
        names.dedup();
        names
    }

    #[test]
    fn the_schema_lists_exactly_the_fields_of_each_kind() {
        for (def, kind) in [
            ("workstream", ObjectKind::Workstream),
            ("step", ObjectKind::Step),
            ("phase", ObjectKind::Phase),
        ] {
            let mut rust: Vec<String> = kind.all().iter().map(|s| s.to_string()).collect();
            if kind == ObjectKind::Workstream {
                rust.push(SCHEMA_KEY.to_string());
            }
            rust.sort();
            assert_eq!(rust, schema_properties(def), "{def}");
        }
    }
}
