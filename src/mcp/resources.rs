//! The MCP resources: recorded runs and the OpenSpec project's specs and changes.
//!
//! | URI | content (`application/json`) |
//! | --- | --- |
//! | `pipeline://runs` | the runs, newest first (`pipeline runs --json`) |
//! | `pipeline://runs/{run}` | a run's status (`pipeline status RUN --json`; `latest` works) |
//! | `pipeline://specs` | the specs (`pipeline spec list --specs --json`) |
//! | `pipeline://specs/{spec}` | a spec (`pipeline spec show SPEC --type spec --json`) |
//! | `pipeline://changes` | the active change proposals (`pipeline spec list --json`) |
//! | `pipeline://changes/{change}` | a change (`pipeline spec show CHANGE --type change --json`) |
//!
//! `resources/list` gives the four lists and one entry per recorded run, spec and
//! change; `resources/templates/list` gives the three `{...}` forms. A resource that
//! does not exist (an unknown run, no OpenSpec project) is the protocol error
//! `-32002` (resource not found) with the CLI's message; a failure reading one is
//! `-32603` (internal error).

use pipeline_core::engine::{EngineError, Workspace, list_runs, run_status};
use pipeline_core::openspec::{
    Layout, ShowError, list_changes, list_specs, locate_project, show_change, show_spec,
};
use rmcp::ErrorData;
use rmcp::model::{Resource, ResourceContents, ResourceTemplate};

use super::PipelineMcp;
use crate::command_error::engine_error_text;

/// The scheme of every resource.
const SCHEME: &str = "pipeline://";

/// The MIME type of every resource.
const JSON: &str = "application/json";

/// How many runs `resources/list` names one by one (the newest); `pipeline://runs` lists
/// them all.
const LISTED_RUNS: usize = 100;

impl PipelineMcp {
    /// Every resource: the lists, then each run (newest first, at most [`LISTED_RUNS`]),
    /// spec and change. Parts that do not exist yet (no database, no OpenSpec project)
    /// have no entries.
    pub(super) fn resources(&self) -> Vec<Resource> {
        let mut out = vec![
            Resource::new("pipeline://runs", "runs")
                .with_description("Recorded runs, newest first, as `pipeline runs --json` lists them")
                .with_mime_type(JSON),
            Resource::new("pipeline://specs", "specs")
                .with_description("Specs of the OpenSpec project, as `pipeline spec list --specs --json` lists them")
                .with_mime_type(JSON),
            Resource::new("pipeline://changes", "changes")
                .with_description("Active change proposals of the OpenSpec project, as `pipeline spec list --json` lists them")
                .with_mime_type(JSON),
        ];
        if self.database_exists()
            && let Ok(runs) = list_runs(Some(&self.root), self.db.as_deref())
        {
            out.extend(runs.iter().take(LISTED_RUNS).map(|r| {
                Resource::new(
                    format!("pipeline://runs/{}", r.run_id),
                    format!("run {}", r.run_id),
                )
                .with_description(format!(
                    "Status of run {} ({})",
                    r.run_id,
                    r.status.as_str()
                ))
                .with_mime_type(JSON)
            }));
        }
        if let Ok(layout) = locate_project(Some(&self.root)) {
            for id in layout.spec_ids().unwrap_or_default() {
                out.push(
                    Resource::new(format!("pipeline://specs/{id}"), format!("spec {id}"))
                        .with_description(format!("The spec of capability {id}"))
                        .with_mime_type(JSON),
                );
            }
            for id in layout.change_ids().unwrap_or_default() {
                out.push(
                    Resource::new(format!("pipeline://changes/{id}"), format!("change {id}"))
                        .with_description(format!("The change proposal {id}"))
                        .with_mime_type(JSON),
                );
            }
        }
        out
    }

    /// The resource templates.
    pub(super) fn resource_templates() -> Vec<ResourceTemplate> {
        vec![
            ResourceTemplate::new("pipeline://runs/{run}", "run status")
                .with_description("A run's status, as `pipeline status RUN --json` gives it (`latest`: the newest run)")
                .with_mime_type(JSON),
            ResourceTemplate::new("pipeline://specs/{spec}", "spec")
                .with_description("A spec of the OpenSpec project, as `pipeline spec show SPEC --type spec --json` gives it")
                .with_mime_type(JSON),
            ResourceTemplate::new("pipeline://changes/{change}", "change proposal")
                .with_description("A change proposal of the OpenSpec project, as `pipeline spec show CHANGE --type change --json` gives it")
                .with_mime_type(JSON),
        ]
    }

    /// The contents of the resource at `uri`. Errors: see the module docs.
    pub(super) fn read(&self, uri: &str) -> Result<ResourceContents, ErrorData> {
        let not_found = |message: String| ErrorData::resource_not_found(message, None);
        let Some(rest) = uri.strip_prefix(SCHEME) else {
            return Err(not_found(format!(
                "unknown resource `{uri}`: pipeline's resources start with {SCHEME} (resources/list names them)"
            )));
        };
        let (kind, id) = match rest.split_once('/') {
            Some((kind, id)) => (kind, Some(id)),
            None => (rest, None),
        };
        let value = match (kind, id) {
            ("runs", None) => {
                if self.database_exists() {
                    to_value(list_runs(Some(&self.root), self.db.as_deref()).map_err(engine)?)?
                } else {
                    serde_json::Value::Array(Vec::new())
                }
            }
            ("runs", Some(run)) if !run.is_empty() => to_value(
                run_status(Some(&self.root), self.db.as_deref(), Some(run)).map_err(engine)?,
            )?,
            ("specs", None) => {
                let layout = self.project()?;
                let specs = list_specs(&layout).map_err(|e| {
                    ErrorData::internal_error(format!("cannot list specs: {e}"), None)
                })?;
                serde_json::json!({ "specs": to_value(specs)? })
            }
            ("specs", Some(spec)) if !spec.is_empty() => {
                let layout = self.project()?;
                to_value(show_spec(&layout, spec).map_err(show_error)?)?
            }
            ("changes", None) => {
                let layout = self.project()?;
                let changes = list_changes(&layout).map_err(|e| {
                    ErrorData::internal_error(format!("cannot list changes: {e}"), None)
                })?;
                serde_json::json!({ "changes": to_value(changes)? })
            }
            ("changes", Some(change)) if !change.is_empty() => {
                let layout = self.project()?;
                to_value(show_change(&layout, change).map_err(show_error)?)?
            }
            _ => {
                return Err(not_found(format!(
                    "unknown resource `{uri}`: pipeline has pipeline://runs, pipeline://runs/{{run}}, pipeline://specs, pipeline://specs/{{spec}}, pipeline://changes and pipeline://changes/{{change}}"
                )));
            }
        };
        let text = serde_json::to_string_pretty(&value)
            .map_err(|e| ErrorData::internal_error(format!("cannot render {uri}: {e}"), None))?;
        Ok(ResourceContents::text(text, uri).with_mime_type(JSON))
    }

    /// Whether the state database exists (before the first run it does not, and there
    /// are no runs rather than an error).
    fn database_exists(&self) -> bool {
        Workspace::new(&self.root, self.db.as_deref())
            .db_path
            .exists()
    }

    /// The repository's OpenSpec project. Errors: resource not found, with the message
    /// of `pipeline spec` when there is no `openspec/`.
    fn project(&self) -> Result<Layout, ErrorData> {
        locate_project(Some(&self.root)).map_err(engine)
    }
}

/// An engine error as a protocol error: not found for bad input (an unknown run, no
/// OpenSpec project), internal otherwise.
fn engine(e: EngineError) -> ErrorData {
    let message = engine_error_text(&e);
    if e.exit_code() == pipeline_core::exit_code::INVALID {
        ErrorData::resource_not_found(message, None)
    } else {
        ErrorData::internal_error(message, None)
    }
}

/// A spec or change that cannot be shown: not found when unknown, internal when a file
/// cannot be read.
fn show_error(e: ShowError) -> ErrorData {
    match e {
        ShowError::Io { .. } => ErrorData::internal_error(format!("error: {e}"), None),
        e => ErrorData::resource_not_found(format!("error: {e}"), None),
    }
}

fn to_value(value: impl serde::Serialize) -> Result<serde_json::Value, ErrorData> {
    serde_json::to_value(value)
        .map_err(|e| ErrorData::internal_error(format!("cannot render the resource: {e}"), None))
}
