//! A main spec (`openspec/specs/<capability>/spec.md`) as the OpenSpec CLI reads it.
//!
//! Mirrors `MarkdownParser.parseSpec`: the Purpose section (any level, first match by
//! title, case-insensitive) becomes the overview; every child header of the
//! Requirements section is a requirement (whatever its title), its statement read by
//! [`crate::requirement_text`], and every child header of a requirement with a
//! non-blank body is a scenario. The serialised shape is the one `openspec show
//! <spec> --json` prints.

use serde::Serialize;

use crate::ecma_text::js_trim;
use crate::line_ending;
use crate::requirement_text::{extract_requirement_text, has_scenario_body};
use crate::section::{Section, find_section, parse_sections};

/// A scenario: the raw text under its `####` header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Scenario {
    /// Body text, trimmed, as written.
    #[serde(rename = "rawText")]
    pub raw_text: String,
}

/// A requirement: its statement and its scenarios.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Requirement {
    /// The statement (or the header title when the block has no body text).
    pub text: String,
    /// Scenarios with a body, in document order.
    pub scenarios: Vec<Scenario>,
}

/// A parsed main spec.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Spec {
    /// Capability id (`auth`, or `area/auth` for nested capabilities).
    pub name: String,
    /// The Purpose section's text, trimmed.
    pub overview: String,
    /// Requirements in document order.
    pub requirements: Vec<Requirement>,
}

/// Why a document is not a spec at all. The messages are the CLI's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecShapeError {
    /// No Purpose section, or an empty one.
    #[error("Spec must have a Purpose section")]
    MissingPurpose,
    /// No Requirements section.
    #[error("Spec must have a Requirements section")]
    MissingRequirements,
}

/// Parses a main spec. BOM and CRLF are normalised first.
///
/// Errors: [`SpecShapeError::MissingPurpose`] when the Purpose section is absent or
/// empty (checked first), [`SpecShapeError::MissingRequirements`] when there is no
/// Requirements section.
pub fn parse_spec(name: &str, content: &str) -> Result<Spec, SpecShapeError> {
    let normalized = line_ending::normalize(content);
    let lines: Vec<&str> = normalized.split('\n').collect();
    let sections = parse_sections(&lines);
    let purpose = find_section(&sections, "Purpose")
        .map(|s| s.content.as_str())
        .unwrap_or("");
    if purpose.is_empty() {
        return Err(SpecShapeError::MissingPurpose);
    }
    let requirements =
        find_section(&sections, "Requirements").ok_or(SpecShapeError::MissingRequirements)?;
    Ok(Spec {
        name: name.to_string(),
        overview: js_trim(purpose).to_string(),
        requirements: requirements
            .children
            .iter()
            .map(requirement_from_section)
            .collect(),
    })
}

/// One requirement from its header section (title + content + scenario children).
pub fn requirement_from_section(section: &Section) -> Requirement {
    let body: Vec<&str> = section.content.split('\n').collect();
    Requirement {
        text: extract_requirement_text(&section.title, &body),
        scenarios: section
            .children
            .iter()
            .filter(|s| has_scenario_body(&s.content))
            .map(|s| Scenario {
                raw_text: s.content.clone(),
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_purpose_requirements_and_scenarios() {
        let text = "\u{FEFF}# T\r\n\r\n## Purpose\r\nWhy.\r\n\r\n## Requirements\r\n### Requirement: A\r\nThe system SHALL a.\r\n\r\n#### Scenario: s\r\n- ok\r\n#### Scenario: empty\r\n";
        let spec = parse_spec("t", text).expect("valid spec");
        assert_eq!(spec.overview, "Why.");
        assert_eq!(spec.requirements.len(), 1);
        assert_eq!(spec.requirements[0].text, "The system SHALL a.");
        assert_eq!(
            spec.requirements[0].scenarios,
            vec![Scenario {
                raw_text: "- ok".into()
            }]
        );
    }

    #[test]
    fn purpose_is_checked_before_requirements() {
        assert_eq!(
            parse_spec("t", "## Requirements\n"),
            Err(SpecShapeError::MissingPurpose)
        );
        assert_eq!(
            parse_spec("t", "## Purpose\nx\n"),
            Err(SpecShapeError::MissingRequirements)
        );
    }
}
