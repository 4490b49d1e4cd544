//! Tests of the price table: the built-in file, overrides, name matching, costs.

use super::*;

fn write_config(text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.yaml");
    std::fs::write(&path, text).unwrap();
    (dir, path)
}

#[test]
fn every_built_in_price_names_its_source_and_date() {
    let table = PriceTable::builtin().unwrap();
    assert!(table.models().count() >= 5);
    for (model, price) in table.models() {
        let source = price.source.as_deref().unwrap_or_default();
        assert!(source.starts_with("https://"), "{model}: source {source:?}");
        let date = price.date.as_deref().unwrap_or_default();
        assert!(is_iso_date(date), "{model}: date {date:?}");
        assert!(price.output >= price.input, "{model}: output below input");
        assert!(
            price.cached_input <= price.input,
            "{model}: cache dearer than input"
        );
        assert_eq!(price.origin, "built-in config/prices.yaml");
    }
}

#[test]
fn names_match_with_provider_prefix_date_suffix_and_any_case() {
    let table = PriceTable::builtin().unwrap();
    for (reported, expected) in [
        ("gpt-5.5", "gpt-5.5"),
        ("openai/gpt-5.5", "gpt-5.5"),
        ("GPT-5.4-Mini", "gpt-5.4-mini"),
        ("claude-sonnet-4-20250514", "claude-sonnet-4"),
        ("anthropic/claude-3-5-haiku-20241022", "claude-3-5-haiku"),
        ("gpt-5.4-2026-03-05", "gpt-5.4"),
    ] {
        let found = table.price_of(reported).map(|(name, _)| name);
        assert_eq!(found, Some(expected), "{reported}");
    }
    assert_eq!(table.price_of("fake-model").map(|(n, _)| n), None);
    assert_eq!(table.price_of("openai/fake-model").map(|(n, _)| n), None);
}

#[test]
fn cost_counts_cached_tokens_at_their_own_price() {
    let price = ModelPrice {
        input: 5.0,
        cached_input: 0.5,
        output: 30.0,
        source: None,
        date: None,
        origin: String::new(),
    };
    // 240 uncached * 5 + 60 cached * 0.5 + 21 output * 30, per million.
    let cost = price.cost(300, 60, 21);
    assert!((cost - 0.00186).abs() < 1e-12, "{cost}");
    // More cached than input tokens: all input is cached.
    let all_cached = price.cost(10, 20, 0);
    assert!(
        (all_cached - 10.0 * 0.5 / 1e6).abs() < 1e-15,
        "{all_cached}"
    );
}

#[test]
fn the_configuration_overrides_a_model_as_a_whole_and_adds_models() {
    let (_dir, path) = write_config(
        "prices:\n  gpt-5.5:\n    input: 1\n    output: 2\n  fake-model:\n    input: 10\n    cached_input: 1\n    output: 20\n    source: https://example.com/prices\n    date: 2026-01-31\n",
    );
    let table = PriceTable::load(&path).unwrap();
    let (_, gpt) = table.price_of("gpt-5.5").unwrap();
    assert_eq!((gpt.input, gpt.cached_input, gpt.output), (1.0, 1.0, 2.0));
    assert_eq!(
        gpt.source, None,
        "the built-in entry is replaced as a whole"
    );
    assert_eq!(gpt.origin, path.display().to_string());
    let (name, fake) = table.price_of("openai/fake-model").unwrap();
    assert_eq!(name, "fake-model");
    assert_eq!(fake.date.as_deref(), Some("2026-01-31"));
    assert!(
        table.price_of("claude-sonnet-4").is_some(),
        "built-ins stay"
    );
}

#[test]
fn a_missing_configuration_file_gives_the_built_in_table() {
    let dir = tempfile::tempdir().unwrap();
    let table = PriceTable::load(&dir.path().join("config.yaml")).unwrap();
    assert_eq!(table, PriceTable::builtin().unwrap());
}

#[test]
fn bad_prices_are_errors_naming_the_key() {
    let (_dir, path) = write_config("prices:\n  m:\n    input: -1\n    output: 2\n");
    let error = PriceTable::load(&path).unwrap_err().to_string();
    assert!(error.contains("`prices.m.input`"), "{error}");
    assert!(error.contains("0 or more"), "{error}");

    let (_dir, path) =
        write_config("prices:\n  m:\n    input: 1\n    output: 2\n    date: yesterday\n");
    let error = PriceTable::load(&path).unwrap_err().to_string();
    assert!(error.contains("`prices.m.date`"), "{error}");
    assert!(error.contains("YYYY-MM-DD"), "{error}");

    let (_dir, path) = write_config("prices:\n  m:\n    input: 1\n    ouput: 2\n");
    let error = PriceTable::load(&path).unwrap_err().to_string();
    assert!(error.contains("unknown key `prices.m.ouput`"), "{error}");
    assert!(error.contains("did you mean `prices.m.output`"), "{error}");

    let (_dir, path) = write_config("prices:\n  m:\n    input: cheap\n    output: 2\n");
    let error = PriceTable::load(&path).unwrap_err().to_string();
    assert!(error.contains("prices"), "{error}");
}

#[test]
fn dates_are_stripped_only_when_they_are_dates() {
    assert_eq!(without_date("claude-sonnet-4-20250514"), "claude-sonnet-4");
    assert_eq!(without_date("gpt-4.1-2025-04-14"), "gpt-4.1");
    assert_eq!(without_date("gpt-5.5"), "gpt-5.5");
    assert_eq!(without_date("model-1234567"), "model-1234567");
    assert_eq!(without_date("x-2025-4-14"), "x-2025-4-14");
}
