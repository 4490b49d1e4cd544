//! No input panics: property tests feeding the loader, the validator and the planner
//! (what `pipeline validate` and `pipeline plan` run: [`load_workstreams`], then
//! [`Plan::build`], the exclusions `validate` reports and every plan format) with
//!
//! - JSON values shaped like workstreams: objects whose keys come from the real field set
//!   (plus comments and unknown keys), with values of any type: numbers such as `1e20`,
//!   `-1`, `0`, `1e308` and `u64::MAX`, ids such as `x.lock`, `a..b`, `a.`, unicode and
//!   NUL, nested steps and phases whose `depends_on` name each other (cycles included);
//!   the text is sometimes cut short or given a repeated key;
//! - arbitrary bytes.
//!
//! Each case must end in a [`WorkstreamSet`] or a [`LoadError`], never a panic (a panic
//! fails the test with the input that caused it, shrunk).
//!
//! Case count: 1,000 per property by default (about 5 s each in a debug build); set
//! `PROPTEST_CASES` to run longer, e.g. `PROPTEST_CASES=100000 cargo nextest run -p
//! pipeline-core loader_properties`.

use std::path::PathBuf;

use proptest::prelude::*;
use serde_json::{Map, Value};

use super::loader_tests::catalog;
use super::other_fields::{
    INFORMATIONAL, INTERPRETED, ORIGINAL_PHASE, ORIGINAL_WORKSTREAM, PHASE_FIELDS, WORKSTREAM_ONLY,
};
use super::{LoadOptions, WorkstreamSet, load_workstreams};
use crate::planning::{Plan, PlanFormat, write_plan};

/// Keys drawn from: every field a workstream, step or phase has (the loader's own lists),
/// a comment, an unknown field and the fields of `retry` / `circuit_breaker` blocks.
fn keys() -> Vec<&'static str> {
    let extra = [
        "_comment",
        "unknown_field",
        "initial_delay",
        "max_delay",
        "multiplier",
        "max_attempts",
        "cooldown_seconds",
        "timeout",
        "enabled",
        "strategy",
    ];
    INTERPRETED
        .iter()
        .chain(WORKSTREAM_ONLY)
        .chain(INFORMATIONAL)
        .chain(PHASE_FIELDS)
        .chain(ORIGINAL_WORKSTREAM)
        .chain(ORIGINAL_PHASE)
        .copied()
        .chain(extra)
        .collect()
}

/// Ids and other strings: valid ones (so that references resolve and cycles form) and
/// every kind of invalid one.
const TEXTS: &[&str] = &[
    "a",
    "b",
    "c",
    "w",
    "s",
    "x.lock",
    "a..b",
    "a.",
    ".a",
    "a/b",
    "@",
    "a@{b",
    "é",
    "日本",
    "a\0b",
    "",
    " ",
    "true",
    "aider",
    "shell",
    "code_generation",
    "exponential",
    "worktree",
    "none",
    "/etc/passwd",
    "../x",
    "src/**",
    "*",
    ".",
    "echo hi",
    "_acceptance",
];

/// Numbers: mostly small positive ones, else every kind of extreme.
fn number() -> impl Strategy<Value = Value> {
    prop_oneof![
        3 => (1u32..100).prop_map(Value::from),
        2 => extreme_number(),
    ]
}

fn extreme_number() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(serde_json::json!(1e20)),
        Just(serde_json::json!(-1)),
        Just(serde_json::json!(0)),
        Just(serde_json::json!(1e308)),
        Just(serde_json::json!(u64::MAX)),
        Just(serde_json::json!(i64::MIN)),
        Just(serde_json::json!(2.5)),
        Just(serde_json::json!(1e-300)),
        Just(serde_json::json!(31_536_001)),
        any::<i32>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
    ]
}

/// Ids of objects: mostly valid ones, so references resolve and cycles form.
fn id() -> impl Strategy<Value = String> {
    prop_oneof![
        16 => proptest::sample::select(&["a", "b", "c", "s", "w", "p"][..]).prop_map(str::to_string),
        1 => proptest::sample::select(&["x.lock", "a..b", "a."][..]).prop_map(str::to_string),
        1 => text(),
    ]
}

/// Texts: mostly harmless ones (so that many inputs load and reach the planner), else one
/// of [`TEXTS`] or any string.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => proptest::sample::select(&["a", "b", "src", "docs/a.md", "echo hi", "true"][..])
            .prop_map(str::to_string),
        3 => proptest::sample::select(TEXTS).prop_map(str::to_string),
        1 => ".{0,12}",
    ]
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => proptest::sample::select(keys()).prop_map(str::to_string),
        1 => ".{0,6}",
    ]
}

/// Any JSON value, objects keyed from the field set.
fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        number(),
        text().prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::vec((key(), inner), 0..4)
                .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// A value of the type the field `key` has, with random contents (numbers out of range,
/// ids git refuses, NUL bytes): most inputs get past the schema, so the semantic checks
/// and the planner see them.
fn typed(key: &str) -> BoxedStrategy<Value> {
    let texts =
        || proptest::collection::vec(text().prop_map(Value::String), 0..3).prop_map(Value::Array);
    let num = || number();
    match key {
        "tool" => proptest::sample::select(&["aider", "codex", "claude", "shell", "nope"][..])
            .prop_map(Value::from)
            .boxed(),
        "tasks" => prop_oneof![text().prop_map(Value::String), texts()].boxed(),
        "depends_on" | "specs" | "openspec_tasks" | "escalation" | "files_scope"
        | "files_create" | "context_files" => texts().boxed(),
        "timeout_sec" | "fix_attempts" => num().boxed(),
        "isolation" => proptest::sample::select(&["worktree", "none"][..])
            .prop_map(Value::from)
            .boxed(),
        "parallel_ok" => any::<bool>().prop_map(Value::Bool).boxed(),
        "env" => proptest::collection::btree_map("[A-Z_]{1,3}", text(), 0..3)
            .prop_map(|m| serde_json::json!(m))
            .boxed(),
        "acceptance_tests" => proptest::collection::vec(
            prop_oneof![
                text().prop_map(Value::String),
                (text(), num()).prop_map(|(c, t)| serde_json::json!({"command": c, "timeout_sec": t})),
            ],
            0..3,
        )
        .prop_map(Value::Array)
        .boxed(),
        "retry" => (num(), num(), num(), num())
            .prop_map(|(a, b, c, d)| {
                serde_json::json!({"initial_delay": a, "max_delay": b, "multiplier": c, "max_attempts": d})
            })
            .boxed(),
        "circuit_breaker" => (num(), num())
            .prop_map(|(a, b)| serde_json::json!({"cooldown_seconds": a, "max_attempts": b}))
            .boxed(),
        "compensation" => prop_oneof![
            text().prop_map(Value::String),
            (text(), num()).prop_map(|(c, t)| serde_json::json!({"command": c, "timeout": t})),
            (text(), num()).prop_map(|(c, t)| serde_json::json!([{"command": c, "timeout_sec": t}])),
        ]
        .boxed(),
        "id" => id().prop_map(Value::String).boxed(),
        _ => text().prop_map(Value::String).boxed(),
    }
}

/// A field of the field set: usually with a value of its type, sometimes any value.
fn field() -> impl Strategy<Value = (String, Value)> {
    proptest::sample::select(keys()).prop_flat_map(|k| {
        let any_value = value().prop_map(move |v| (k.to_string(), v));
        let typed_value = typed(k).prop_map(move |v| (k.to_string(), v));
        prop_oneof![9 => typed_value, 1 => any_value]
    })
}

/// An object with an `id` (usually) and some fields of the field set with random values.
fn object(extra: BoxedStrategy<Vec<(String, Value)>>) -> impl Strategy<Value = Value> {
    (
        proptest::option::weighted(0.99, id()),
        proptest::collection::vec(field(), 0..4),
        proptest::collection::vec(id(), 0..3),
        extra,
    )
        .prop_map(|(id, fields, deps, extra)| {
            let mut o = Map::new();
            if let Some(id) = id {
                o.insert("id".into(), Value::String(id));
            }
            o.insert("command".into(), Value::String("true".into()));
            if !deps.is_empty() {
                o.insert(
                    "depends_on".into(),
                    Value::Array(deps.into_iter().map(Value::String).collect()),
                );
            }
            o.extend(fields);
            o.extend(extra);
            Value::Object(o)
        })
}

fn step() -> BoxedStrategy<Value> {
    object(Just(Vec::new()).boxed()).boxed()
}

/// A workstream: an object, sometimes with `steps` and `phases` of step objects.
fn workstream() -> impl Strategy<Value = Value> {
    let phase = (
        id(),
        proptest::collection::vec(step(), 1..3),
        proptest::collection::vec(id(), 0..2),
    )
        .prop_map(
            |(id, steps, deps)| serde_json::json!({"id": id, "steps": steps, "depends_on": deps}),
        );
    let extra = (
        proptest::option::weighted(0.5, proptest::collection::vec(step(), 1..6)),
        proptest::option::weighted(0.2, proptest::collection::vec(phase, 1..3)),
    )
        .prop_map(|(steps, phases)| {
            let mut extra = Vec::new();
            if let Some(s) = steps {
                extra.push(("steps".to_string(), Value::Array(s)));
            }
            if let Some(p) = phases {
                extra.push(("phases".to_string(), Value::Array(p)));
            }
            extra
        })
        .boxed();
    object(extra)
}

/// The text of a workstream file: one workstream or an array of them, sometimes cut short
/// or with a key repeated.
fn file_text() -> impl Strategy<Value = Vec<u8>> {
    (
        proptest::collection::vec(workstream(), 1..4),
        any::<bool>(),
        0u8..10,
        any::<proptest::sample::Index>(),
    )
        .prop_map(|(mut ws, array, mutation, at)| {
            let mut text = if array || ws.len() > 1 {
                serde_json::to_string_pretty(&ws).unwrap_or_default()
            } else {
                serde_json::to_string_pretty(&ws.remove(0)).unwrap_or_default()
            };
            if mutation == 1 {
                text = text.replacen("\"id\":", "\"id\": \"dup\", \"id\":", 1);
            }
            let mut bytes = text.into_bytes();
            if mutation == 0 {
                // Anywhere, even inside a multi-byte character.
                bytes.truncate(at.index(bytes.len() + 1));
            }
            bytes
        })
}

/// Loads `bytes` as a workstream file and, when it loads, plans it and renders the plan in
/// every format, as `pipeline validate` and `pipeline plan` do.
fn load_and_plan(bytes: &[u8]) -> Result<(), TestCaseError> {
    load_and_plan_as(bytes, "w.json")
}

/// [`load_and_plan`] with the file named `name` (`.yaml` reads it as YAML).
fn load_and_plan_as(bytes: &[u8], name: &str) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().map_err(|e| TestCaseError::fail(e.to_string()))?;
    let path: PathBuf = dir.path().join(name);
    std::fs::write(&path, bytes).map_err(|e| TestCaseError::fail(e.to_string()))?;
    let cat = catalog();
    let Ok(set) = load_workstreams(&[path], &LoadOptions { catalog: &cat }) else {
        return Ok(());
    };
    plan_everything(&set);
    Ok(())
}

fn plan_everything(set: &WorkstreamSet) {
    // Validation checks what planning needs: a loaded set must plan.
    let plan = match Plan::build(set) {
        Ok(p) => p,
        Err(e) => panic!("a validated set does not plan: {e}"),
    };
    let _exclusions = plan.exclusions(set);
    for format in [PlanFormat::Text, PlanFormat::Json, PlanFormat::Dot] {
        if let Err(e) = write_plan(set, &plan, format, &mut std::io::sink()) {
            panic!("rendering a plan into a sink failed: {e}");
        }
    }
}

/// `PROPTEST_CASES`, or `default`.
fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(1000), ..ProptestConfig::default() })]

    /// Workstream-shaped JSON never panics the loader, the validator or the planner.
    #[test]
    fn workstream_shaped_json_never_panics(bytes in file_text()) {
        load_and_plan(&bytes)?;
    }

    /// Arbitrary bytes never panic them either.
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        load_and_plan(&bytes)?;
    }

    /// The same inputs read as YAML (JSON is nearly a subset of YAML, so the shaped ones
    /// reach the same checks through the YAML parser) never panic either.
    #[test]
    fn yaml_files_never_panic(bytes in prop_oneof![file_text(), proptest::collection::vec(any::<u8>(), 0..400)]) {
        load_and_plan_as(&bytes, "w.yaml")?;
    }
}
