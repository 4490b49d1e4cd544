//! Tests of the key table: it matches the structs that read each section, and
//! docs/CONFIG.md matches it.

use std::collections::BTreeSet;
use std::path::PathBuf;

use serde::de::DeserializeOwned;

use super::{CONFIG_KEYS, ConfigKey, NAME_SEGMENT, child_keys, last_segment};
use crate::profile_layer::ProfileLayer;
use crate::secret_settings::Section;
use crate::{ProjectSettings, SecretSettings, ToolRegistry};

/// The field names a `deny_unknown_fields` struct accepts, from serde's own message for
/// an unknown field ("unknown field `x`, expected one of `a`, `b`").
fn serde_fields<T: DeserializeOwned + std::fmt::Debug>() -> BTreeSet<String> {
    let error = serde_json::from_str::<T>(r#"{"no such field": 0}"#).unwrap_err();
    let message = error.to_string();
    let expected = message
        .split_once("expected one of ")
        .or_else(|| message.split_once("expected "))
        .unwrap_or_else(|| panic!("not an unknown-field message: {message}"))
        .1;
    expected
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

fn table_fields(parent: &str) -> BTreeSet<String> {
    child_keys(parent)
        .map(|key| last_segment(key.path).to_owned())
        .collect()
}

#[test]
fn the_top_level_keys_are_the_sections_of_the_three_readers() {
    // `tools` (ToolRegistry), `secrets` (SecretSettings), `scope_overlap`
    // (ProjectSettings), `cache` (CacheSettings), `prices` (PriceTable), `webhooks`, `notify` and `webhook_delivery` (WebhookSettings), `engine` and `temporal`
    // (EngineSettings):
    // the only readers of the file (see the module docs).
    let top: Vec<&str> = child_keys("").map(|key| key.path).collect();
    assert_eq!(
        top,
        [
            "tools",
            "secrets",
            "scope_overlap",
            "cache",
            "prices",
            "webhooks",
            "notify",
            "webhook_delivery",
            "engine",
            "temporal"
        ]
    );
    let tools: Vec<&str> = child_keys("tools").map(|key| key.path).collect();
    assert_eq!(tools, [format!("tools.{NAME_SEGMENT}")]);
}

#[test]
fn profile_fields_are_the_fields_of_a_profile_layer() {
    assert_eq!(table_fields("tools.<name>"), serde_fields::<ProfileLayer>());
}

#[test]
fn cache_keys_are_the_fields_of_the_cache_section() {
    assert_eq!(
        table_fields("cache"),
        serde_fields::<crate::cache_settings::Section>()
    );
}

#[test]
fn temporal_keys_are_the_fields_of_the_temporal_section() {
    assert_eq!(
        table_fields("temporal"),
        serde_fields::<crate::engine_settings::Section>()
    );
    assert_eq!(
        table_fields("temporal.tls"),
        serde_fields::<crate::engine_settings::TlsFiles>()
    );
}

#[test]
fn secrets_keys_are_the_fields_of_the_secrets_section() {
    assert_eq!(table_fields("secrets"), serde_fields::<Section>());
}

#[test]
fn webhook_keys_are_the_fields_of_the_webhook_sections() {
    use crate::{DeliverySettings, NotifyCommand, WebhookEndpoint};
    assert_eq!(table_fields("webhooks"), serde_fields::<WebhookEndpoint>());
    assert_eq!(table_fields("notify"), serde_fields::<NotifyCommand>());
    assert_eq!(
        table_fields("webhook_delivery"),
        serde_fields::<DeliverySettings>()
    );
}

#[test]
fn price_keys_are_the_fields_of_a_price_entry() {
    assert_eq!(
        table_fields("prices.<name>"),
        serde_fields::<crate::price_table::RawPrice>()
    );
}

#[test]
fn retry_and_breaker_keys_are_those_of_the_engine_settings() {
    assert_eq!(
        table_fields("tools.<name>.retry"),
        serde_fields::<pipeline_error::RetrySettings>()
    );
    assert_eq!(
        table_fields("tools.<name>.circuit_breaker"),
        serde_fields::<pipeline_error::BreakerSettings>()
    );
}

#[test]
fn every_key_is_documented_once_and_paths_are_unique() {
    let mut seen = BTreeSet::new();
    for key in CONFIG_KEYS {
        assert!(seen.insert(key.path), "{} is listed twice", key.path);
        for (name, text) in [
            ("type", key.value_type),
            ("default", key.default),
            ("example", key.example),
            ("description", key.description),
        ] {
            assert!(!text.trim().is_empty(), "{}: empty {name}", key.path);
        }
        if let Some((parent, _)) = key.path.rsplit_once('.') {
            assert!(
                seen.contains(parent),
                "{} comes before its section",
                key.path
            );
        }
    }
}

const BEGIN: &str =
    "<!-- BEGIN KEYS: generated from adapters/src/config_keys.rs, checked by its tests -->";
const END: &str = "<!-- END KEYS -->";

fn doc_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/CONFIG.md")
}

/// One table row; `|` inside a cell is escaped for Markdown.
fn row(key: &ConfigKey) -> String {
    let cell = |text: &str| text.replace('|', "\\|");
    let description = match key.env_field {
        Some(field) => format!(
            "{} Overridden by `PIPELINE_TOOL_<NAME>_{field}`.",
            key.description
        ),
        None => key.description.to_owned(),
    };
    format!(
        "| `{}` | {} | {} | {} | {} |",
        key.path,
        cell(key.value_type),
        cell(key.default),
        cell(key.example),
        cell(&description)
    )
}

fn generated_table() -> String {
    let mut lines = vec![
        "| Key | Type | Default | Example | Description |".to_owned(),
        "|-----|------|---------|---------|-------------|".to_owned(),
    ];
    lines.extend(CONFIG_KEYS.iter().map(row));
    lines.join("\n")
}

/// The key column of every row between the markers.
fn documented_keys(table: &str) -> BTreeSet<String> {
    table
        .lines()
        .filter_map(|line| line.strip_prefix("| `"))
        .filter_map(|rest| rest.split_once('`'))
        .map(|(key, _)| key.to_owned())
        .collect()
}

/// docs/CONFIG.md lists exactly the keys of the table, with their type, default and
/// example. `UPDATE_CONFIG_DOC=1` rewrites the table in the document instead.
#[test]
fn docs_config_md_lists_exactly_the_keys_of_the_code() {
    let path = doc_path();
    let doc = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let (before, rest) = doc
        .split_once(BEGIN)
        .unwrap_or_else(|| panic!("docs/CONFIG.md lacks the line {BEGIN}"));
    let (table, after) = rest
        .split_once(END)
        .unwrap_or_else(|| panic!("docs/CONFIG.md lacks the line {END}"));
    let expected = generated_table();
    if std::env::var_os("UPDATE_CONFIG_DOC").is_some() {
        let doc = format!("{before}{BEGIN}\n{expected}\n{END}{after}");
        std::fs::write(&path, doc).unwrap();
        return;
    }
    let code: BTreeSet<String> = CONFIG_KEYS.iter().map(|k| k.path.to_owned()).collect();
    let documented = documented_keys(table);
    let missing: Vec<&String> = code.difference(&documented).collect();
    let unknown: Vec<&String> = documented.difference(&code).collect();
    assert!(
        missing.is_empty(),
        "docs/CONFIG.md lacks keys of the code: {missing:?}"
    );
    assert!(
        unknown.is_empty(),
        "docs/CONFIG.md lists keys the code does not know: {unknown:?}"
    );
    assert_eq!(
        table.trim(),
        expected,
        "docs/CONFIG.md's table differs from adapters/src/config_keys.rs; run the test with UPDATE_CONFIG_DOC=1 to regenerate it"
    );
}

#[test]
fn the_document_key_check_sees_a_missing_and_an_unknown_key() {
    let table = generated_table();
    let mut documented = documented_keys(&table);
    assert_eq!(documented.len(), CONFIG_KEYS.len());
    documented.remove("scope_overlap");
    documented.insert("jobs".to_owned());
    let code: BTreeSet<String> = CONFIG_KEYS.iter().map(|k| k.path.to_owned()).collect();
    assert_eq!(
        code.difference(&documented).collect::<Vec<_>>(),
        ["scope_overlap"]
    );
    assert_eq!(documented.difference(&code).collect::<Vec<_>>(), ["jobs"]);
}

/// The example configuration in docs/CONFIG.md loads with every reader.
#[test]
fn the_documented_example_loads() {
    let doc = std::fs::read_to_string(doc_path()).unwrap();
    let example = doc
        .split_once("```yaml\n")
        .and_then(|(_, rest)| rest.split_once("```"))
        .map(|(yaml, _)| yaml)
        .expect("docs/CONFIG.md has a ```yaml example");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.yaml");
    std::fs::write(&path, example).unwrap();
    let registry = ToolRegistry::load(Some(&path), &[]).unwrap();
    assert!(registry.contains("my-agent"), "{example}");
    let secrets = SecretSettings::load(&path).unwrap();
    assert!(secrets.is_secret_name("DATABASE_URL"));
    let project = ProjectSettings::load(&path).unwrap();
    assert_eq!(project.scope_overlap, crate::ScopeOverlap::Error);
    let webhooks = crate::WebhookSettings::load(&path, &["run_finished", "step_failed"]).unwrap();
    assert_eq!(webhooks.webhooks.len(), 1);
    assert_eq!(webhooks.notify.len(), 1);
    assert_eq!(webhooks.delivery.give_up_after_sec, 3600);
    let engine = crate::EngineSettings::load(&path).unwrap();
    assert_eq!(engine.engine, Some(crate::EngineKind::Temporal));
    assert_eq!(
        engine.temporal.address.as_deref(),
        Some("temporal.internal:7233")
    );
}
