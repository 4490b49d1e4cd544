//! `pipeline spec validate [ITEM | --all | --changes | --specs]`: the OpenSpec CLI's
//! validation, its report (text or the JSON of `openspec validate --json`), plus the
//! conflicting changes and dependency cycles found beside it.

use pipeline_core::openspec::{
    ItemLookupError, ItemType, Layout, ValidationRun, change_relations, validate_item,
    validate_scope,
};
use serde_json::json;

use super::ItemKind;
use super::issue::issue_line;
use crate::command_error::CommandError;
use crate::commands::exit;
use crate::json_output::print_json;

/// What to validate, as given on the command line.
pub struct ValidateRequest {
    /// One change or spec by id.
    pub item: Option<String>,
    /// Every change and spec.
    pub all: bool,
    /// Every change.
    pub changes: bool,
    /// Every spec.
    pub specs: bool,
    /// Warnings fail validation too.
    pub strict: bool,
    /// Whether `item` is a change or a spec, when it is both.
    pub item_type: Option<ItemKind>,
}

/// The hint printed (exit 2) when neither an item nor a scope was given, as the OpenSpec
/// CLI words it.
const NOTHING_TO_VALIDATE: &str = "Nothing to validate. Try one of:\n  pipeline spec validate --all\n  pipeline spec validate --changes\n  pipeline spec validate --specs\n  pipeline spec validate <item-name>";

/// Validates what `request` names and prints the report. `Ok(OK)` when everything is
/// valid, `Ok(FAILED)` when validation found errors (or warnings with `--strict`).
///
/// Errors: invalid usage (an item and a scope, or neither); an unknown, ambiguous or
/// badly named item (with `--json`, as a JSON status document on stdout); an OpenSpec
/// tree that cannot be read (internal).
pub fn validate(
    layout: &Layout,
    request: &ValidateRequest,
    json: bool,
) -> Result<i32, CommandError> {
    let run = validation_run(layout, request, json)?;
    // Beyond the CLI: conflicting changes and dependency cycles, reported alongside.
    let with_changes = request.all || request.changes;
    let relations = if with_changes {
        change_relations(layout)
    } else {
        Default::default()
    };
    let (conflicts, cycles) = (relations.conflicts, relations.cycles);
    let code = if run.all_valid() {
        exit::OK
    } else {
        exit::FAILED
    };
    if json {
        print_json(&json_document(
            &run,
            with_changes.then_some((&conflicts, &cycles)),
        )?)?;
        return Ok(code);
    }
    if let (Some(name), [single]) = (&request.item, run.items.as_slice()) {
        let noun = if single.item_type == ItemType::Change {
            "Change"
        } else {
            "Specification"
        };
        if single.valid {
            println!("{noun} '{name}' is valid");
        } else {
            eprintln!("{noun} '{name}' has issues");
        }
        for issue in &single.issues {
            eprintln!("{}", issue_line("", issue));
        }
        return Ok(code);
    }
    if run.items.is_empty() {
        println!("No items found to validate.");
    }
    for res in &run.items {
        if res.valid {
            println!("✓ {}/{}", res.item_type.as_str(), res.id);
        } else {
            eprintln!("✗ {}/{}", res.item_type.as_str(), res.id);
        }
        for issue in &res.issues {
            eprintln!("{}", issue_line("  ", issue));
        }
    }
    let totals = run.summary.totals;
    println!(
        "Totals: {} passed, {} failed ({} items)",
        totals.passed, totals.failed, totals.items
    );
    for conflict in &conflicts {
        eprintln!("⚠ conflict: {}", conflict.message());
    }
    for cycle in &cycles {
        eprintln!("⚠ dependency cycle: {cycle}");
    }
    Ok(code)
}

/// `openspec validate --json` of `run`, plus `conflicts` and `dependencyCycles` when
/// changes were validated. Errors: rendering (internal).
fn json_document(
    run: &ValidationRun,
    relations: Option<(&impl serde::Serialize, &impl serde::Serialize)>,
) -> Result<serde_json::Value, CommandError> {
    let mut value = serde_json::to_value(run)
        .map_err(|err| CommandError::internal(format!("cannot render JSON: {err}")))?;
    if let Some((conflicts, cycles)) = relations {
        value["conflicts"] = json!(conflicts);
        value["dependencyCycles"] = json!(cycles);
    }
    Ok(value)
}

/// The document of `pipeline spec validate --all --json` (also `GET /api/openspec`):
/// every change and spec with `valid` and its issues, `summary` totals, `conflicts` and
/// `dependencyCycles`. Errors: an OpenSpec tree that cannot be read (internal).
pub fn all_validation_document(layout: &Layout) -> Result<serde_json::Value, CommandError> {
    let request = ValidateRequest {
        item: None,
        all: true,
        changes: false,
        specs: false,
        strict: false,
        item_type: None,
    };
    let run = validation_run(layout, &request, true)?;
    let relations = change_relations(layout);
    json_document(&run, Some((&relations.conflicts, &relations.cycles)))
}

/// Runs the OpenSpec validation `request` asks for. Errors: as [`validate`].
fn validation_run(
    layout: &Layout,
    request: &ValidateRequest,
    json: bool,
) -> Result<ValidationRun, CommandError> {
    let bulk = request.all || request.changes || request.specs;
    let unreadable = |err: &dyn std::fmt::Display| {
        CommandError::internal(format!(
            "cannot read {}: {err}",
            layout.openspec_dir().display()
        ))
    };
    match (&request.item, bulk) {
        (Some(_), true) => Err(CommandError::invalid(
            "give either an item or --all/--changes/--specs, not both",
        )),
        (None, false) => Err(CommandError::Message {
            text: NOTHING_TO_VALIDATE.to_string(),
            code: exit::INVALID,
        }),
        (Some(name), false) => {
            let kind = request.item_type.map(|k| match k {
                ItemKind::Change => ItemType::Change,
                ItemKind::Spec => ItemType::Spec,
            });
            validate_item(layout, name, kind, request.strict).map_err(|err| match err {
                ItemLookupError::Io(err) => unreadable(&err),
                err if json => {
                    let code = match err {
                        ItemLookupError::Ambiguous(_) => "ambiguous_item",
                        ItemLookupError::InvalidName(_) => "invalid_item",
                        _ => "unknown_item",
                    };
                    let status = json!({"status": [{"severity": "error", "code": code, "message": err.to_string()}]});
                    CommandError::Document {
                        json: status.to_string(),
                        code: exit::INVALID,
                    }
                }
                err => CommandError::invalid(err),
            })
        }
        (None, true) => validate_scope(
            layout,
            request.all || request.changes,
            request.all || request.specs,
            request.strict,
        )
        .map_err(|err| unreadable(&err)),
    }
}
