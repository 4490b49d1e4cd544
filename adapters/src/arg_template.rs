//! Argument templates of custom tool profiles.
//!
//! A profile argument such as `--message-file={prompt_file}` is parsed once, when the
//! profile is loaded, into literal text and placeholders, so that a typo is reported
//! with the profile's file before any step runs. At invocation the placeholders are
//! replaced by the step's values. An argument that is exactly `{files}` becomes one
//! argument per file (none when the step has no files); inside a longer argument the
//! files are joined with single spaces. `{{` and `}}` stand for literal braces, in the
//! manner of Rust's `format!`.

use std::ffi::OsString;
use std::path::Path;

/// Placeholder names, in the order they are listed in error messages.
const PLACEHOLDERS: [(&str, Placeholder); 7] = [
    ("prompt", Placeholder::Prompt),
    ("prompt_file", Placeholder::PromptFile),
    ("worktree", Placeholder::Worktree),
    ("step_id", Placeholder::StepId),
    ("files", Placeholder::Files),
    ("model", Placeholder::Model),
    ("api_base", Placeholder::ApiBase),
];

/// A value the engine or the profile supplies to an argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Placeholder {
    /// The step's prompt text.
    Prompt,
    /// Path of the file holding the prompt (outside the worktree).
    PromptFile,
    /// The step's worktree directory.
    Worktree,
    /// The step's id.
    StepId,
    /// The step's `files_scope`, repository-relative.
    Files,
    /// The profile's `model`.
    Model,
    /// The profile's `api_base`.
    ApiBase,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Value(Placeholder),
}

/// One parsed argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ArgTemplate {
    segments: Vec<Segment>,
}

/// The values placeholders expand to for one invocation.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PlaceholderValues<'a> {
    pub(crate) prompt: &'a str,
    pub(crate) prompt_file: &'a Path,
    pub(crate) worktree: &'a Path,
    pub(crate) step_id: &'a str,
    pub(crate) files: &'a [String],
    pub(crate) model: Option<&'a str>,
    pub(crate) api_base: Option<&'a str>,
}

impl ArgTemplate {
    /// Parses `argument`. The error is a message saying what is wrong and how to write
    /// it instead (unknown placeholder, unclosed `{`, unmatched `}`).
    pub(crate) fn parse(argument: &str) -> Result<Self, String> {
        let mut segments = Vec::new();
        let mut literal = String::new();
        let mut rest = argument;
        while let Some(position) = rest.find(['{', '}']) {
            literal.push_str(&rest[..position]);
            let brace = &rest[position..];
            if brace.starts_with("{{") || brace.starts_with("}}") {
                literal.push_str(&brace[..1]);
                rest = &brace[2..];
            } else if brace.starts_with('}') {
                return Err("unmatched `}`; write `}}` for a literal brace".to_owned());
            } else {
                let Some(close) = brace.find('}') else {
                    return Err("unclosed `{`; write `{{` for a literal brace".to_owned());
                };
                let name = &brace[1..close];
                let Some((_, placeholder)) = PLACEHOLDERS.iter().find(|(known, _)| *known == name)
                else {
                    let known = PLACEHOLDERS
                        .iter()
                        .map(|(known, _)| format!("{{{known}}}"))
                        .collect::<Vec<_>>()
                        .join(", ");
                    return Err(format!(
                        "unknown placeholder `{{{name}}}`; known placeholders are {known} (write `{{{{` and `}}}}` for literal braces)"
                    ));
                };
                if !literal.is_empty() {
                    segments.push(Segment::Literal(std::mem::take(&mut literal)));
                }
                segments.push(Segment::Value(*placeholder));
                rest = &brace[close + 1..];
            }
        }
        literal.push_str(rest);
        if !literal.is_empty() || segments.is_empty() {
            segments.push(Segment::Literal(literal));
        }
        Ok(ArgTemplate { segments })
    }

    /// An argument taken literally, braces included.
    pub(crate) fn literal(text: &str) -> Self {
        ArgTemplate {
            segments: vec![Segment::Literal(text.to_owned())],
        }
    }

    /// True when the argument uses `placeholder`.
    pub(crate) fn uses(&self, placeholder: Placeholder) -> bool {
        self.segments.contains(&Segment::Value(placeholder))
    }

    /// Appends the expanded argument(s) to `out`: none or several for a bare `{files}`,
    /// exactly one otherwise. An unset `{model}` or `{api_base}` expands to nothing
    /// (the registry rejects profiles using them unset).
    pub(crate) fn expand(&self, values: &PlaceholderValues<'_>, out: &mut Vec<OsString>) {
        if let [Segment::Value(Placeholder::Files)] = self.segments.as_slice() {
            out.extend(values.files.iter().map(OsString::from));
            return;
        }
        let mut argument = OsString::new();
        for segment in &self.segments {
            match segment {
                Segment::Literal(text) => argument.push(text),
                Segment::Value(Placeholder::Prompt) => argument.push(values.prompt),
                Segment::Value(Placeholder::PromptFile) => argument.push(values.prompt_file),
                Segment::Value(Placeholder::Worktree) => argument.push(values.worktree),
                Segment::Value(Placeholder::StepId) => argument.push(values.step_id),
                Segment::Value(Placeholder::Files) => argument.push(values.files.join(" ")),
                Segment::Value(Placeholder::Model) => {
                    argument.push(values.model.unwrap_or_default());
                }
                Segment::Value(Placeholder::ApiBase) => {
                    argument.push(values.api_base.unwrap_or_default());
                }
            }
        }
        out.push(argument);
    }
}

/// `text` with every `{` and `}` doubled, so that [`ArgTemplate::parse`] reads it back
/// literally.
pub(crate) fn escape_braces(text: &str) -> String {
    text.replace('{', "{{").replace('}', "}}")
}

#[cfg(test)]
mod tests;
