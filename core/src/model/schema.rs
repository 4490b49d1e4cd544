//! The workstream JSON Schema (`schema/workstream.schema.json`, JSON Schema 2020-12), the
//! single source of truth for the file format, compiled once per process.
//!
//! The schema as shipped (`pipeline schema`, editors) refuses unknown keys with
//! `unevaluatedProperties: false`. The loader compiles it without those: it reports
//! unknown keys itself, with the closest field name (`other_fields`), which a schema
//! validator's "unevaluated property" message cannot say.

use std::sync::OnceLock;

use serde_json::Value;

const SCHEMA_TEXT: &str = include_str!("../../../schema/workstream.schema.json");

/// Validator for one workstream object (the schema's `$defs/workstream`). Files holding an
/// array are validated item by item so that error locations point at the item, instead of
/// the schema's top-level `oneOf` reporting "not valid under any schema".
fn workstream_validator() -> &'static jsonschema::Validator {
    static VALIDATOR: OnceLock<jsonschema::Validator> = OnceLock::new();
    VALIDATOR.get_or_init(|| {
        // The schema ships inside the binary and is covered by tests; failing to compile
        // it is a build defect, not a user error.
        let mut schema: Value =
            serde_json::from_str(SCHEMA_TEXT).expect("embedded workstream schema is valid JSON");
        if let Value::Object(map) = &mut schema {
            map.remove("oneOf");
            map.insert("$ref".into(), Value::String("#/$defs/workstream".into()));
        }
        for def in ["workstream", "step", "phase"] {
            if let Some(Value::Object(object)) = schema.pointer_mut(&format!("/$defs/{def}")) {
                object.remove("unevaluatedProperties");
            }
        }
        jsonschema::draft202012::new(&schema).expect("embedded workstream schema compiles")
    })
}

/// One schema violation: JSON pointer relative to the validated object, and message.
pub(crate) struct SchemaViolation {
    pub pointer: String,
    pub message: String,
}

/// Validates one workstream object; returns every violation, sorted by location.
pub(crate) fn validate_workstream(value: &Value) -> Vec<SchemaViolation> {
    // The common case is valid input: `is_valid` stops at the first failure and builds no
    // error values, several times cheaper than collecting every error.
    if workstream_validator().is_valid(value) {
        return Vec::new();
    }
    let mut out: Vec<SchemaViolation> = workstream_validator()
        .iter_errors(value)
        .map(|e| SchemaViolation {
            pointer: e.instance_path().as_str().to_string(),
            message: e.to_string(),
        })
        .collect();
    out.sort_by(|a, b| a.pointer.cmp(&b.pointer).then(a.message.cmp(&b.message)));
    out.dedup_by(|a, b| a.pointer == b.pointer && a.message == b.message);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_schema_compiles_and_checks_types() {
        let ok = serde_json::json!({"id": "ws-a", "tasks": ["x"], "tool": "aider"});
        assert!(validate_workstream(&ok).is_empty());
        let bad = serde_json::json!({"id": "ws/a", "tasks": 3, "steps": []});
        let v = validate_workstream(&bad);
        let pointers: Vec<_> = v.iter().map(|v| v.pointer.as_str()).collect();
        assert!(pointers.contains(&"/id"), "{pointers:?}");
        assert!(pointers.contains(&"/tasks"), "{pointers:?}");
        assert!(pointers.contains(&"/steps"), "{pointers:?}");
    }

    #[test]
    fn editors_refuse_unknown_keys_the_loader_leaves_them_to_other_fields() {
        let typo = serde_json::json!({"id": "w", "command": "true", "_c": 1,
            "$schema": "x", "steps": [{"id": "a", "command": "true", "depend_on": []}]});
        assert!(validate_workstream(&typo).is_empty());
        let shipped: Value = serde_json::from_str(SCHEMA_TEXT).unwrap();
        let editor = jsonschema::draft202012::new(&shipped).unwrap();
        assert!(!editor.is_valid(&typo));
        let mut corrected = typo.clone();
        corrected["steps"][0]
            .as_object_mut()
            .unwrap()
            .remove("depend_on");
        assert!(editor.is_valid(&corrected));
        let fixed = serde_json::json!({"id": "w", "command": "true", "_c": 1, "$schema": "x",
            "saga": {}, "phases": [{"id": "p", "checkpoint": {}, "steps": [{"id": "a", "command": "true"}]}]});
        assert!(
            editor.is_valid(&fixed),
            "{:?}",
            editor
                .iter_errors(&fixed)
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
        );
    }
}
