//! Which tool runs a step (`command`, `tool` or `capability`, in that order of precedence)
//! and whether the tool catalog knows it.

use std::path::Path;

use super::raw_workstream::RawFields;
use super::semantic_checks::closest;
use super::{ToolCatalog, ToolChoice, ValidationDiagnostic};

/// The tool an object names itself, if any: `command` (shell), else `tool` (a profile),
/// else `capability`.
pub(crate) fn tool_of(fields: &RawFields) -> Option<ToolChoice> {
    if let Some(c) = &fields.command {
        return Some(ToolChoice::Shell(c.clone()));
    }
    if let Some(t) = &fields.tool {
        return Some(ToolChoice::Profile(t.clone()));
    }
    fields
        .capability
        .as_ref()
        .map(|c| ToolChoice::Capability(c.clone()))
}

/// An error when `tool` names a profile the catalog lacks (with a "did you mean" hint) or a
/// capability no profile has. `pointer` is the object's; the error points at its field.
pub(crate) fn check_tool(
    tool: &ToolChoice,
    catalog: &dyn ToolCatalog,
    file: &Path,
    pointer: &str,
    id: &str,
    diags: &mut Vec<ValidationDiagnostic>,
) {
    match tool {
        ToolChoice::Profile(name) if !catalog.has_tool(name) => {
            let names = catalog.tool_names();
            let hint = match closest(name, names.iter().map(String::as_str)) {
                Some(c) => format!("did you mean `{c}`? Known tools: {}", names.join(", ")),
                None => format!(
                    "known tools: {}; define profiles in .pipeline/config.yaml under `tools:`",
                    names.join(", ")
                ),
            };
            diags.push(
                ValidationDiagnostic::error(
                    file,
                    format!("{pointer}/tool"),
                    format!("unknown tool `{name}`"),
                )
                .with_step(id)
                .with_hint(hint),
            );
        }
        ToolChoice::Capability(cap) if !catalog.has_capability(cap) => {
            diags.push(
                ValidationDiagnostic::error(
                    file,
                    format!("{pointer}/capability"),
                    format!("no tool profile has capability `{cap}`"),
                )
                .with_step(id)
                .with_hint(
                    "add the capability to a profile's `capabilities` in .pipeline/config.yaml",
                ),
            );
        }
        _ => {}
    }
}

/// An error when one object names both a `command` and a `tool` or `capability`: the
/// command would win silently (issue #11), so the user must say which one to remove.
/// `noun` is `step` or `workstream`; the error points at the object's `command`.
pub(crate) fn check_one_runner(
    fields: &RawFields,
    noun: &str,
    file: &Path,
    pointer: &str,
    id: &str,
    diags: &mut Vec<ValidationDiagnostic>,
) {
    let Some(command) = &fields.command else {
        return;
    };
    let (key, name) = match (&fields.tool, &fields.capability) {
        (Some(tool), _) => ("tool", tool),
        (None, Some(capability)) => ("capability", capability),
        (None, None) => return,
    };
    diags.push(
        ValidationDiagnostic::error(
            file,
            format!("{pointer}/command"),
            format!("{noun} `{id}` has both `{key}` (`{name}`) and `command` (`{command}`); it can run only one"),
        )
        .with_step(id)
        .with_hint(format!(
            "remove `{key}` to run the command with `sh -c`, or remove `command` to have {key} `{name}` work on the {noun}'s tasks"
        )),
    );
}
