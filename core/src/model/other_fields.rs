//! Fields of a workstream, step or phase object that the raw layer does not type.
//!
//! The format is open: fields of the original tool that this engine does not use are kept
//! as data and reported by `pipeline validate` as "not interpreted", never dropped without
//! a word (DESIGN "Workstream files"). Each raw object collects them through
//! `#[serde(flatten)]` into an [`OtherFields`] map. Keys starting with `_` are comments:
//! they are skipped while reading and never reported. Informational fields (`metadata`,
//! `ccpm_issue`, ...) land here too; they are kept and not reported, by design.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::Value;

use super::ValidationDiagnostic;

/// Fields the engine interprets, on workstreams and steps.
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
    "env",
    "isolation",
    "conflict_group",
    "parallel_ok",
    "specs",
    "openspec_tasks",
    "steps",
    "phases",
    "retry",
    "circuit_breaker",
    "compensation",
    "fix_attempts",
    "escalation",
    "sandbox",
    "writable_paths",
    "allow_symlinks",
    "read_only",
];

/// Informational fields: kept and shown, with no effect on execution by design.
pub(crate) const INFORMATIONAL: &[&str] = &[
    "openspec_change",
    "ccpm_issue",
    "gate",
    "metadata",
    "name",
    "title",
];

/// Which kind of object the fields belong to: each knows a few more fields that are not
/// worth a note.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ObjectKind {
    Workstream,
    Step,
    Phase,
}

impl ObjectKind {
    /// Fields of this kind of object that are known although not typed by the raw layer.
    fn known(self) -> &'static [&'static str] {
        match self {
            ObjectKind::Workstream => &[],
            ObjectKind::Step => &["isolation", "name", "metadata"],
            ObjectKind::Phase => &["id", "name", "description", "depends_on", "steps"],
        }
    }
}

/// The untyped fields of one object, by key (sorted, as JSON objects are read), comment
/// keys (`_...`) left out.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct OtherFields(BTreeMap<String, Value>);

impl OtherFields {
    /// Keys of the fields, sorted.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    /// One note per field the engine neither interprets nor knows as informational:
    /// `field `x` is not interpreted; kept as data`, at `pointer/x`, naming `id`.
    pub fn report(
        &self,
        kind: ObjectKind,
        file: &Path,
        pointer: &str,
        id: &str,
        diags: &mut Vec<ValidationDiagnostic>,
    ) {
        for key in self.keys() {
            if INTERPRETED.contains(&key)
                || INFORMATIONAL.contains(&key)
                || kind.known().contains(&key)
            {
                continue;
            }
            diags.push(
                ValidationDiagnostic::note(
                    file,
                    format!("{pointer}/{key}"),
                    format!("field `{key}` is not interpreted; kept as data"),
                )
                .with_step(id),
            );
        }
    }
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
                    if key.starts_with('_') {
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

    #[test]
    fn comments_are_skipped_and_informational_fields_are_not_reported() {
        let fields: OtherFields = serde_json::from_value(serde_json::json!({
            "_comment": "skipped", "saga": {"x": 1}, "metadata": {}, "ccpm_issue": 4
        }))
        .unwrap();
        assert_eq!(
            fields.keys().collect::<Vec<_>>(),
            vec!["ccpm_issue", "metadata", "saga"]
        );
        let mut diags = Vec::new();
        fields.report(
            ObjectKind::Workstream,
            Path::new("f.json"),
            "/0",
            "w",
            &mut diags,
        );
        let messages: Vec<String> = diags.iter().map(|d| d.to_string()).collect();
        assert_eq!(
            messages,
            vec!["note: f.json at /0/saga (step w): field `saga` is not interpreted; kept as data"]
        );
    }

    #[test]
    fn phases_know_their_own_fields() {
        let fields: OtherFields =
            serde_json::from_value(serde_json::json!({"name": "n", "description": "d", "x": 1}))
                .unwrap();
        let mut diags = Vec::new();
        fields.report(
            ObjectKind::Phase,
            Path::new("f.json"),
            "/phases/0",
            "w/p",
            &mut diags,
        );
        assert_eq!(diags.len(), 1);
        assert_eq!(diags[0].location, "/phases/0/x");
    }
}
