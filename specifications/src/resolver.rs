//! References to specs and changes, as workstream steps write them.
//!
//! - `spec://<capability>#<requirement>`: a requirement of a main spec, or, when the
//!   main spec does not have it (yet), a requirement an active change adds or modifies;
//! - `change://<id>`: a change proposal (its proposal and tasks);
//! - `change://<id>/tasks#1.2`: one task of a change's `tasks.md`.
//!
//! Names may be written raw (`spec://auth#User login`) or percent-encoded
//! (`User%20login`). Resolution returns the Markdown that goes into the AI tool's
//! prompt (the requirement block with its scenarios, the proposal, the task line). An
//! unresolvable reference is an error naming the closest existing match.

use serde::Serialize;

use crate::catalog::{CatalogRequirement, catalog_requirement, change_touches, spec_requirements};
use crate::layout::{Layout, read_lossy};
use crate::task_list::parse_task_lines;
use crate::validation_run::nearest_matches;

/// A parsed reference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Reference {
    /// `spec://capability#requirement`.
    Requirement {
        /// Capability id.
        capability: String,
        /// Requirement name.
        requirement: String,
    },
    /// `change://id`.
    Change {
        /// Change id.
        change: String,
    },
    /// `change://id/tasks#N.M`.
    ChangeTask {
        /// Change id.
        change: String,
        /// Task number.
        task: String,
    },
}

/// Why a reference does not resolve.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReferenceError {
    /// Not a `spec://` or `change://` reference of a known shape.
    #[error(
        "'{0}' is not a reference; write spec://<capability>#<requirement>, change://<id> or change://<id>/tasks#<N.M>"
    )]
    Malformed(String),
    /// The capability does not exist.
    #[error("'{reference}': no capability '{capability}'{}", closest_note(.closest))]
    UnknownCapability {
        /// The reference.
        reference: String,
        /// The capability.
        capability: String,
        /// Closest existing capability.
        closest: Option<String>,
    },
    /// The requirement does not exist.
    #[error("'{reference}': capability '{capability}' has no requirement \"{requirement}\"{}", closest_note(.closest))]
    UnknownRequirement {
        /// The reference.
        reference: String,
        /// The capability.
        capability: String,
        /// The requirement.
        requirement: String,
        /// Closest existing requirement name.
        closest: Option<String>,
    },
    /// The change does not exist.
    #[error("'{reference}': no active change '{change}'{}", closest_note(.closest))]
    UnknownChange {
        /// The reference.
        reference: String,
        /// The change.
        change: String,
        /// Closest existing change id.
        closest: Option<String>,
    },
    /// The task does not exist.
    #[error("'{reference}': change '{change}' has no task {task} in tasks.md{}", closest_note(.closest))]
    UnknownTask {
        /// The reference.
        reference: String,
        /// The change.
        change: String,
        /// The task number.
        task: String,
        /// Closest existing task number.
        closest: Option<String>,
    },
    /// The tree could not be read.
    #[error("'{reference}': cannot read {what}: {message}")]
    Io {
        /// The reference.
        reference: String,
        /// What was being read.
        what: String,
        /// The cause.
        message: String,
    },
}

fn closest_note(c: &Option<String>) -> String {
    c.as_ref()
        .map(|c| format!(" (closest: \"{c}\")"))
        .unwrap_or_default()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && s.is_char_boundary(i + 3)
            && let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16)
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).unwrap_or_else(|_| s.to_string())
}

/// Parses a reference string.
///
/// Errors: [`ReferenceError::Malformed`].
pub fn parse_reference(text: &str) -> Result<Reference, ReferenceError> {
    let malformed = || ReferenceError::Malformed(text.to_string());
    if let Some(rest) = text.strip_prefix("spec://") {
        let (capability, requirement) = rest.split_once('#').ok_or_else(malformed)?;
        let (capability, requirement) = (percent_decode(capability), percent_decode(requirement));
        if capability.is_empty() || requirement.trim().is_empty() {
            return Err(malformed());
        }
        return Ok(Reference::Requirement {
            capability,
            requirement: requirement.trim().to_string(),
        });
    }
    if let Some(rest) = text.strip_prefix("change://") {
        if let Some((change, task)) = rest.split_once("/tasks#") {
            if change.is_empty() || task.is_empty() {
                return Err(malformed());
            }
            return Ok(Reference::ChangeTask {
                change: percent_decode(change),
                task: task.to_string(),
            });
        }
        if rest.is_empty() || rest.contains(['/', '#']) {
            return Err(malformed());
        }
        return Ok(Reference::Change {
            change: percent_decode(rest),
        });
    }
    Err(malformed())
}

/// A resolved reference and the prompt text it stands for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Resolved {
    /// The reference as written.
    pub reference: String,
    /// What it points at.
    pub target: Reference,
    /// Where the text came from (`openspec/specs/auth/spec.md`, or a change's delta).
    pub source: String,
    /// Markdown for the prompt.
    pub text: String,
    /// The requirement, for `spec://` references.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requirement: Option<CatalogRequirement>,
}

fn pick(input: &str, names: &[String]) -> Option<String> {
    nearest_matches(input, names, 1).into_iter().next()
}

/// Resolves `reference` against `layout`.
///
/// Errors: malformed reference, unknown capability/requirement/change/task (each with
/// the closest existing name), unreadable files.
pub fn resolve(layout: &Layout, reference: &str) -> Result<Resolved, ReferenceError> {
    let target = parse_reference(reference)?;
    match &target {
        Reference::Requirement {
            capability,
            requirement,
        } => resolve_requirement(layout, reference, &target, capability, requirement),
        Reference::Change { change } | Reference::ChangeTask { change, .. } => {
            let changes = layout
                .change_ids()
                .map_err(io_error(reference, "openspec/changes"))?;
            if !changes.contains(change) {
                return Err(ReferenceError::UnknownChange {
                    reference: reference.into(),
                    change: change.clone(),
                    closest: pick(change, &changes),
                });
            }
            let dir = layout.change_dir(change);
            let tasks = read_lossy(&dir.join("tasks.md")).unwrap_or_default();
            if let Reference::ChangeTask { task, .. } = &target {
                return resolve_task(reference, &target, change, task, &tasks);
            }
            let proposal = read_lossy(&dir.join("proposal.md")).unwrap_or_default();
            let mut text = proposal.trim_end().to_string();
            if !tasks.trim().is_empty() {
                text.push_str("\n\n");
                text.push_str(tasks.trim_end());
            }
            Ok(Resolved {
                reference: reference.into(),
                target: target.clone(),
                source: format!("openspec/changes/{change}/"),
                text,
                requirement: None,
            })
        }
    }
}

/// Maps a read failure of `what` while resolving `reference` to [`ReferenceError::Io`].
fn io_error<'a>(
    reference: &'a str,
    what: &'a str,
) -> impl FnOnce(std::io::Error) -> ReferenceError + 'a {
    move |err| ReferenceError::Io {
        reference: reference.to_string(),
        what: what.to_string(),
        message: err.to_string(),
    }
}

/// A `spec://<capability>#<requirement>`: the main spec's requirement, else one an
/// active change adds or rewrites; errors name the closest capability or requirement.
fn resolve_requirement(
    layout: &Layout,
    reference: &str,
    target: &Reference,
    capability: &String,
    requirement: &String,
) -> Result<Resolved, ReferenceError> {
    let specs = layout
        .spec_ids()
        .map_err(io_error(reference, "openspec/specs"))?;
    let mut candidates: Vec<CatalogRequirement> = Vec::new();
    let mut source = String::new();
    if specs.contains(capability) {
        let content = read_lossy(&layout.spec_file(capability))
            .map_err(io_error(reference, "the main spec"))?;
        candidates = spec_requirements(capability, &content);
        source = format!("openspec/specs/{capability}/spec.md");
    }
    if let Some(found) = candidates.iter().find(|r| &r.name == requirement) {
        return Ok(Resolved {
            reference: reference.into(),
            target: target.clone(),
            source,
            text: found.raw.clone(),
            requirement: Some(found.clone()),
        });
    }
    // Not in the main spec: a requirement an active change introduces or rewrites.
    let mut delta_names: Vec<String> = Vec::new();
    let mut capability_known = specs.contains(capability);
    for change in layout
        .change_ids()
        .map_err(io_error(reference, "openspec/changes"))?
    {
        for touch in change_touches(layout, &change).map_err(io_error(reference, "a change"))? {
            if &touch.capability != capability {
                continue;
            }
            capability_known = true;
            if let Some(block) = &touch.block {
                if &touch.requirement == requirement {
                    let req = catalog_requirement(capability, block);
                    return Ok(Resolved {
                        reference: reference.into(),
                        target: target.clone(),
                        source: format!(
                            "openspec/changes/{change}/specs/{capability}/spec.md ({})",
                            touch.operation
                        ),
                        text: req.raw.clone(),
                        requirement: Some(req),
                    });
                }
                delta_names.push(touch.requirement.clone());
            }
        }
    }
    if !capability_known {
        return Err(ReferenceError::UnknownCapability {
            reference: reference.into(),
            capability: capability.clone(),
            closest: pick(capability, &specs),
        });
    }
    let mut names: Vec<String> = candidates.iter().map(|r| r.name.clone()).collect();
    names.extend(delta_names);
    Err(ReferenceError::UnknownRequirement {
        reference: reference.into(),
        capability: capability.clone(),
        requirement: requirement.clone(),
        closest: pick(requirement, &names),
    })
}

/// A `change://<change>/tasks#<N.M>`: the task line of `tasks` with that number.
fn resolve_task(
    reference: &str,
    target: &Reference,
    change: &str,
    task: &str,
    tasks: &str,
) -> Result<Resolved, ReferenceError> {
    let lines = parse_task_lines(tasks);
    let numbers: Vec<String> = lines.iter().filter_map(|t| t.number.clone()).collect();
    match lines.iter().find(|t| t.number.as_deref() == Some(task)) {
        Some(line) => Ok(Resolved {
            reference: reference.into(),
            target: target.clone(),
            source: format!("openspec/changes/{change}/tasks.md"),
            text: format!(
                "- [{}] {}",
                if line.done { "x" } else { " " },
                line.description
            ),
            requirement: None,
        }),
        None => Err(ReferenceError::UnknownTask {
            reference: reference.into(),
            change: change.to_string(),
            task: task.to_string(),
            closest: pick(task, &numbers),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_three_shapes() {
        assert_eq!(
            parse_reference("spec://auth#User%20login"),
            Ok(Reference::Requirement {
                capability: "auth".into(),
                requirement: "User login".into()
            })
        );
        assert_eq!(
            parse_reference("change://add-x"),
            Ok(Reference::Change {
                change: "add-x".into()
            })
        );
        assert_eq!(
            parse_reference("change://add-x/tasks#1.2"),
            Ok(Reference::ChangeTask {
                change: "add-x".into(),
                task: "1.2".into()
            })
        );
        assert!(parse_reference("http://x").is_err());
        assert!(parse_reference("spec://auth").is_err());
    }
}
