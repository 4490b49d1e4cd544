//! Checks the keys of a `.pipeline/config.yaml` document against [`CONFIG_KEYS`](crate::CONFIG_KEYS).
//!
//! Every reader of the file calls [`check_keys`] before its typed parse, so that a key
//! that no reader knows (`jobs: 1`, `tool:` for `tools:`, `secrets.extra_envs`,
//! `tools.aider.comand`) is an error naming the file, the key path, the line and column,
//! and the closest known key by edit distance, whichever section it is in.
//!
//! The document is walked with serde (a [`DeserializeSeed`] that descends into the
//! sections of the table and skips every value), so the YAML parser attaches the line and
//! column of the offending key to the error it is given. Only keys are checked: values
//! and their types are left to the typed parse of each section.

use std::cell::RefCell;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::config_error::ConfigError;
use crate::config_keys::{MISPLACED_KEYS, NAME_SEGMENT, child_keys, config_key, last_segment};

/// Reads the configuration file at `path`, checks every key against the table
/// ([`check_keys`]) and parses it as `T`: `None` when the file does not exist or holds no
/// document. For the readers of one part of the file (project settings, webhooks).
///
/// Errors: [`ConfigError::Read`] when it exists but cannot be read,
/// [`ConfigError::UnknownKey`] for a key not in the table (with "did you mean"),
/// [`ConfigError::Parse`] naming the file, line and column for invalid YAML or a value of
/// the wrong type.
pub(crate) fn read_checked<T: de::DeserializeOwned>(
    path: &std::path::Path,
) -> Result<Option<T>, ConfigError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(ConfigError::Read {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    let source_name = path.display().to_string();
    check_keys(&source_name, &text)?;
    serde_norway::from_str(&text).map_err(|error| ConfigError::Parse {
        source_name,
        line: error.location().map(|l| l.line()),
        column: error.location().map(|l| l.column()),
        message: error.to_string(),
    })
}

/// Fails on the first key of `yaml` that [`CONFIG_KEYS`](crate::CONFIG_KEYS) does not know.
///
/// # Errors
/// - [`ConfigError::UnknownKey`] naming `source_name`, the key path (with the profile
///   name, e.g. `tools.aider.comand`), the line and column, and the closest known key;
/// - [`ConfigError::Parse`] when `yaml` is not valid YAML.
pub(crate) fn check_keys(source_name: &str, yaml: &str) -> Result<(), ConfigError> {
    let unknown = RefCell::new(None);
    let walk = Walk {
        pattern: String::new(),
        path: String::new(),
        unknown: &unknown,
    };
    let Err(error) = walk.deserialize(serde_norway::Deserializer::from_str(yaml)) else {
        return Ok(());
    };
    match unknown.into_inner() {
        Some(found) => {
            let (line, column) = error
                .location()
                .map(|at| key_location(yaml, &found.name, at.line(), at.column()))
                .unzip();
            Err(unknown_key_error(
                source_name,
                found,
                line.flatten(),
                column.flatten(),
            ))
        }
        None => Err(ConfigError::Parse {
            source_name: source_name.to_owned(),
            line: error.location().map(|location| location.line()),
            column: error.location().map(|location| location.column()),
            message: error.to_string(),
        }),
    }
}

/// The 1-based line and column of the key `name` whose value starts at `line`:`column`
/// (1-based, as the parser reports it): the last occurrence of the key's text before
/// its value, which works for block and flow mappings alike. The value's own position
/// when the key's text is not found (a key written with escapes).
fn key_location(
    yaml: &str,
    name: &str,
    line: usize,
    column: usize,
) -> (Option<usize>, Option<usize>) {
    let line_start: usize = yaml
        .split_inclusive('\n')
        .take(line.saturating_sub(1))
        .map(str::len)
        .sum();
    let value_at = yaml[line_start.min(yaml.len())..]
        .char_indices()
        .nth(column.saturating_sub(1))
        .map_or(yaml.len(), |(offset, _)| line_start + offset);
    let Some(key_at) = yaml.get(..value_at).and_then(|before| before.rfind(name)) else {
        return (Some(line), Some(column));
    };
    let key_line_start = yaml[..key_at].rfind('\n').map_or(0, |newline| newline + 1);
    let key_line = yaml[..key_at].matches('\n').count() + 1;
    let key_column = yaml[key_line_start..key_at].chars().count() + 1;
    (Some(key_line), Some(key_column))
}

/// An unknown key as found by the walk: its path as written and the pattern of its
/// section.
struct FoundKey {
    path: String,
    section: String,
    name: String,
}

fn unknown_key_error(
    source_name: &str,
    found: FoundKey,
    line: Option<usize>,
    column: Option<usize>,
) -> ConfigError {
    let siblings: Vec<&str> = child_keys(&found.section)
        .map(|key| last_segment(key.path))
        .collect();
    let suggestion = closest(&found.name, siblings.iter().copied()).map(|name| {
        match found.path.rsplit_once('.') {
            Some((parent, _)) => format!("{parent}.{name}"),
            None => name.to_owned(),
        }
    });
    let section = if found.section.is_empty() {
        "the top-level keys are".to_owned()
    } else {
        format!("the keys of `{}` are", found.section)
    };
    let mut hint = match suggestion {
        Some(_) => "rename it".to_owned(),
        None => "remove it".to_owned(),
    };
    if found.section.is_empty()
        && let Some((_, where_it_belongs)) =
            MISPLACED_KEYS.iter().find(|(name, _)| *name == found.name)
    {
        hint = format!("{where_it_belongs}, not in this file; {hint}");
    }
    ConfigError::UnknownKey(Box::new(crate::config_error::UnknownKey {
        source_name: source_name.to_owned(),
        key: found.path,
        line,
        column,
        suggestion,
        hint: format!(
            "{hint}; {section} {} (docs/CONFIG.md lists every key)",
            siblings.join(", ")
        ),
    }))
}

/// The candidate closest to `name` by edit distance, if close enough to be a typo: at
/// most a third of the longer name's length, and at least 2 edits allowed (the rule of
/// the workstream loader's "did you mean"), or a shortened form of at least 3 characters
/// (`timeout` for `timeout_sec`). Shared with the `PIPELINE_TOOL_*` variable check.
pub(crate) fn closest<'a>(
    name: &str,
    candidates: impl Iterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .map(|candidate| (strsim::levenshtein(name, candidate), candidate))
        .filter(|(distance, candidate)| {
            *distance <= (name.len().max(candidate.len()) / 3).max(2)
                || (name.len() >= 3 && candidate.starts_with(name))
        })
        .min()
        .map(|(_, candidate)| candidate)
}

/// The walk at one node: `pattern` is its path in the table (`tools.<name>`), `path`
/// the path as written (`tools.aider`).
struct Walk<'a> {
    pattern: String,
    path: String,
    unknown: &'a RefCell<Option<FoundKey>>,
}

impl Walk<'_> {
    fn is_section(&self) -> bool {
        child_keys(&self.pattern).next().is_some()
    }

    /// The walk of the value of `key` below this node, or `None` when the key is not
    /// known here.
    fn child(&self, key: &str) -> Option<Self> {
        let join = |parent: &str, segment: &str| {
            if parent.is_empty() {
                segment.to_owned()
            } else {
                format!("{parent}.{segment}")
            }
        };
        let wildcard = join(&self.pattern, NAME_SEGMENT);
        let pattern = if config_key(&wildcard).is_some() {
            wildcard
        } else {
            let pattern = join(&self.pattern, key);
            config_key(&pattern)?;
            pattern
        };
        Some(Walk {
            pattern,
            path: join(&self.path, key),
            unknown: self.unknown,
        })
    }
}

impl<'de> DeserializeSeed<'de> for Walk<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        if self.is_section() {
            deserializer.deserialize_any(self)
        } else {
            <IgnoredAny as de::Deserialize>::deserialize(deserializer).map(|_| ())
        }
    }
}

impl<'de> Visitor<'de> for Walk<'_> {
    type Value = ();

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a YAML document")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(KeyName(key)) = map.next_key()? {
            let Some(child) = self.child(&key) else {
                let path = if self.path.is_empty() {
                    key.clone()
                } else {
                    format!("{}.{key}", self.path)
                };
                *self.unknown.borrow_mut() = Some(FoundKey {
                    path,
                    section: self.pattern.clone(),
                    name: key,
                });
                // Failing inside the value makes the parser report the value's position,
                // from which `key_location` finds the key's.
                return map.next_value_seed(FailAtValue);
            };
            map.next_value_seed(child)?;
        }
        Ok(())
    }

    // A list section (`webhooks: [{url: ...}]`) has the section's keys in each of its
    // elements, named `webhooks[0].url`. A scalar element has no keys to check, and a
    // map section written as a list (`tools: [a]`) is left to the typed parse of the
    // section, which reports the wrong type.
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut index = 0usize;
        loop {
            let element = Walk {
                pattern: self.pattern.clone(),
                path: format!("{}[{index}]", self.path),
                unknown: self.unknown,
            };
            if seq.next_element_seed(element)?.is_none() {
                return Ok(());
            }
            index += 1;
        }
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        self.deserialize(deserializer)
    }

    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
}

/// Fails on the first event of a value, so that the parser's error carries its position.
struct FailAtValue;

impl<'de> DeserializeSeed<'de> for FailAtValue {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(FailAtValue)
    }
}

impl Visitor<'_> for FailAtValue {
    type Value = ();

    // Every `visit_*` keeps serde's default, an "invalid type" error at the value.
    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("no value: the key is unknown")
    }
}

/// A mapping key as text: YAML allows numbers, booleans and null as keys too.
struct KeyName(String);

impl<'de> de::Deserialize<'de> for KeyName {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(KeyNameVisitor)
    }
}

struct KeyNameVisitor;

impl Visitor<'_> for KeyNameVisitor {
    type Value = KeyName;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a key name")
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<KeyName, E> {
        Ok(KeyName(value.to_owned()))
    }

    fn visit_bool<E: de::Error>(self, value: bool) -> Result<KeyName, E> {
        Ok(KeyName(value.to_string()))
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<KeyName, E> {
        Ok(KeyName(value.to_string()))
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<KeyName, E> {
        Ok(KeyName(value.to_string()))
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<KeyName, E> {
        Ok(KeyName(value.to_string()))
    }

    fn visit_unit<E: de::Error>(self) -> Result<KeyName, E> {
        Ok(KeyName("null".to_owned()))
    }
}

#[cfg(test)]
mod tests;
