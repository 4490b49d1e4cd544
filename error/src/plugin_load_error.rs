//! Errors found while loading external plugin manifests.
//!
//! Each names the manifest file, the field and what is wrong, so `pipeline validate` can
//! print it as is (exit 2).

use std::fmt;
use std::path::PathBuf;

/// One problem with one manifest (or between manifests).
#[derive(Debug, thiserror::Error)]
pub enum PluginLoadError {
    /// The plugins directory or a manifest could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The manifest is not valid YAML or does not have the manifest's shape.
    #[error("{path}{}: {message}; see docs/ERRORS.md for the manifest format", location(*line, *column))]
    Yaml {
        /// The manifest.
        path: PathBuf,
        /// 1-based line of the problem, when known.
        line: Option<usize>,
        /// 1-based column, when known.
        column: Option<usize>,
        /// The parser's message (includes unknown and missing fields).
        message: String,
    },
    /// A field has a value the engine cannot use.
    #[error("{path}: field `{field}`: {problem}")]
    InvalidField {
        /// The manifest.
        path: PathBuf,
        /// Path of the field, e.g. `rules[1].class`.
        field: String,
        /// What is wrong and what to write instead.
        problem: String,
    },
    /// A rule's `pattern` is not a valid regular expression.
    #[error("{path}: field `{field}`: invalid regex `{pattern}`: {message}")]
    InvalidRegex {
        /// The manifest.
        path: PathBuf,
        /// e.g. `rules[0].pattern`.
        field: String,
        /// The pattern as written.
        pattern: String,
        /// The regex crate's explanation.
        message: String,
    },
    /// Two manifests in the same plugins directory declare the same id.
    #[error("plugin id `{id}` is declared twice: {first} and {second}; rename one")]
    DuplicateId {
        /// The id.
        id: String,
        /// First manifest.
        first: PathBuf,
        /// Second manifest.
        second: PathBuf,
    },
    /// `requires` names a plugin that does not exist.
    #[error("{path}: field `requires`: unknown plugin `{required}`; known plugins: {known}")]
    UnknownRequirement {
        /// The manifest.
        path: PathBuf,
        /// The unknown id.
        required: String,
        /// The ids that exist, comma-separated.
        known: String,
    },
    /// `requires` forms a cycle.
    #[error("plugins require each other in a cycle: {}; remove one of these `requires`", cycle.join(" -> "))]
    Cycle {
        /// The ids along the cycle, the first repeated at the end.
        cycle: Vec<String>,
    },
}

fn location(line: Option<usize>, column: Option<usize>) -> String {
    match (line, column) {
        (Some(line), Some(column)) => format!(" line {line} column {column}"),
        (Some(line), None) => format!(" line {line}"),
        _ => String::new(),
    }
}

/// Every problem found while loading the plugins, in file order.
#[derive(Debug)]
pub struct PluginLoadErrors(pub Vec<PluginLoadError>);

impl fmt::Display for PluginLoadErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, error) in self.0.iter().enumerate() {
            if index > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

impl std::error::Error for PluginLoadErrors {}
