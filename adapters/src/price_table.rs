//! Model prices, for the cost of an attempt whose AI tool reports tokens but no cost.
//!
//! Why: Codex reports tokens only, and Aider reports no cost for a model its own table
//! does not know; a run's cost should still be known. The built-in table
//! (`config/prices.yaml`, compiled in) gives US dollars per million tokens for input,
//! cached input and output per model, with the source and date of each price; the
//! `prices:` section of `.pipeline/config.yaml` overrides or adds models, an entry there
//! replacing the built-in one as a whole. A cost computed here is an estimate, and the
//! engine marks it so (docs/COSTS.md).
//!
//! How a reported model name finds its price ([`PriceTable::price_of`]): the name as
//! reported, then without a `provider/` prefix (Aider reports `openai/gpt-5.5`), then
//! without a date suffix (`claude-sonnet-4-20250514`, `gpt-4.1-2025-04-14`), each compared
//! case-insensitively.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use crate::config_check::{check_keys, read_checked};
use crate::config_error::ConfigError;

/// `config/prices.yaml`, compiled into the binary.
pub const BUILTIN_PRICES_YAML: &str = include_str!("../../config/prices.yaml");

/// Source name of the built-in table in error messages.
const BUILTIN_SOURCE: &str = "built-in config/prices.yaml";

/// One model's prices, US dollars per million tokens.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ModelPrice {
    /// An uncached input token.
    pub input: f64,
    /// An input token read from the provider's prompt cache.
    pub cached_input: f64,
    /// An output token (reasoning tokens included).
    pub output: f64,
    /// Where the price was read (a URL), if given.
    pub source: Option<String>,
    /// When it was read (`YYYY-MM-DD`), if given.
    pub date: Option<String>,
    /// `built-in config/prices.yaml` or the configuration file that set it.
    pub origin: String,
}

impl ModelPrice {
    /// The cost in US dollars of `input` input tokens of which `cached` came from the
    /// prompt cache (as tools count them: cached ones are part of `input`), and `output`
    /// output tokens. More cached than input tokens counts them all as cached.
    pub fn cost(&self, input: u64, cached: u64, output: u64) -> f64 {
        let cached = cached.min(input);
        let uncached = input - cached;
        (uncached as f64 * self.input
            + cached as f64 * self.cached_input
            + output as f64 * self.output)
            / 1_000_000.0
    }
}

/// Every known model's price (see the module docs).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PriceTable {
    /// Lowercase model name to price.
    prices: BTreeMap<String, ModelPrice>,
}

/// One entry as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPrice {
    input: f64,
    #[serde(default)]
    cached_input: Option<f64>,
    output: f64,
    #[serde(default)]
    source: Option<String>,
    #[serde(default)]
    date: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct Document {
    #[serde(default)]
    prices: Option<BTreeMap<String, RawPrice>>,
}

impl PriceTable {
    /// The built-in table overlaid by the `prices:` section of the configuration file
    /// at `config` (absent file: the built-in table alone).
    ///
    /// # Errors
    /// [`ConfigError::Read`] when the file exists but cannot be read;
    /// [`ConfigError::UnknownKey`] for any key of the file no reader knows;
    /// [`ConfigError::Parse`] for invalid YAML or a price that is not a number;
    /// [`ConfigError::InvalidValue`] for a negative or non-finite price, or a `date` not
    /// written `YYYY-MM-DD`.
    pub fn load(config: &Path) -> Result<PriceTable, ConfigError> {
        let mut table = PriceTable::builtin()?;
        let document: Option<Document> = read_checked(config)?;
        if let Some(prices) = document.and_then(|d| d.prices) {
            table.overlay(&config.display().to_string(), prices)?;
        }
        Ok(table)
    }

    /// The built-in table only.
    ///
    /// # Errors
    /// Those of [`PriceTable::load`] for the compiled-in file (a defect caught by tests).
    pub fn builtin() -> Result<PriceTable, ConfigError> {
        check_keys(BUILTIN_SOURCE, BUILTIN_PRICES_YAML)?;
        let document: Document =
            serde_norway::from_str(BUILTIN_PRICES_YAML).map_err(|error| ConfigError::Parse {
                source_name: BUILTIN_SOURCE.to_owned(),
                line: error.location().map(|l| l.line()),
                column: error.location().map(|l| l.column()),
                message: error.to_string(),
            })?;
        let mut table = PriceTable::default();
        table.overlay(BUILTIN_SOURCE, document.prices.unwrap_or_default())?;
        Ok(table)
    }

    fn overlay(
        &mut self,
        source_name: &str,
        prices: BTreeMap<String, RawPrice>,
    ) -> Result<(), ConfigError> {
        for (model, raw) in prices {
            let invalid = |field: &str, message: String| ConfigError::InvalidValue {
                source_name: source_name.to_owned(),
                key: format!("prices.{model}.{field}"),
                message,
            };
            let cached_input = raw.cached_input.unwrap_or(raw.input);
            for (field, value) in [
                ("input", raw.input),
                ("cached_input", cached_input),
                ("output", raw.output),
            ] {
                if !value.is_finite() || value < 0.0 {
                    return Err(invalid(
                        field,
                        format!(
                            "{value} is not a price: give US dollars per million tokens, 0 or more"
                        ),
                    ));
                }
            }
            if let Some(date) = &raw.date
                && !is_iso_date(date)
            {
                return Err(invalid(
                    "date",
                    format!(
                        "`{date}` is not a date: write the day the price was read as YYYY-MM-DD"
                    ),
                ));
            }
            self.prices.insert(
                model.to_lowercase(),
                ModelPrice {
                    input: raw.input,
                    cached_input,
                    output: raw.output,
                    source: raw.source,
                    date: raw.date,
                    origin: source_name.to_owned(),
                },
            );
        }
        Ok(())
    }

    /// The price of `model` as a tool reported it, with the table's name for it (see the
    /// module docs for how names match); `None` for a model the table does not know.
    pub fn price_of(&self, model: &str) -> Option<(&str, &ModelPrice)> {
        let lower = model.trim().to_lowercase();
        let unprefixed = lower.rsplit_once('/').map_or(lower.as_str(), |(_, m)| m);
        [lower.as_str(), unprefixed]
            .into_iter()
            .flat_map(|name| [name.to_owned(), without_date(name).to_owned()])
            .find_map(|name| self.prices.get_key_value(&name))
            .map(|(name, price)| (name.as_str(), price))
    }

    /// Every model and its price, by name.
    pub fn models(&self) -> impl Iterator<Item = (&str, &ModelPrice)> {
        self.prices
            .iter()
            .map(|(name, price)| (name.as_str(), price))
    }
}

/// `name` without a trailing `-YYYYMMDD` or `-YYYY-MM-DD`.
fn without_date(name: &str) -> &str {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if let Some((head, tail)) = name.rsplit_once('-')
        && tail.len() == 8
        && digits(tail)
    {
        return head;
    }
    // `-YYYY-MM-DD`: the last 11 characters.
    if name.len() > 11 && name.is_char_boundary(name.len() - 11) {
        let (head, tail) = name.split_at(name.len() - 11);
        let parts: Vec<&str> = tail[1..].split('-').collect();
        if tail.starts_with('-')
            && parts.len() == 3
            && parts
                .iter()
                .zip([4, 2, 2])
                .all(|(p, n)| p.len() == n && digits(p))
        {
            return head;
        }
    }
    name
}

/// Whether `text` is `YYYY-MM-DD` with a plausible month and day.
fn is_iso_date(text: &str) -> bool {
    let parts: Vec<&str> = text.split('-').collect();
    let [y, m, d] = parts.as_slice() else {
        return false;
    };
    let number = |s: &str, len: usize| {
        (s.len() == len && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<u32>().ok())
            .flatten()
    };
    matches!(
        (number(y, 4), number(m, 2), number(d, 2)),
        (Some(_), Some(1..=12), Some(1..=31))
    )
}

#[cfg(test)]
mod tests;
