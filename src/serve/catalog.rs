//! Everything but runs and steps: validation, tools, circuit breakers, errors, OpenSpec
//! specs and changes, health. Each answers the `--json` document of its CLI command,
//! built by the same function.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use pipeline_core::engine::{EngineError, breakers, run_errors};
use pipeline_core::openspec::locate_project;
use serde::Deserialize;

use super::api_error::ApiError;
use super::app::{App, blocking};
use super::openapi::{
    BreakersDocument, ErrorBody, ErrorsDocument, Health, OpenSpecDocument, SpecDocument,
    SpecListDocument, ToolsDocument, ValidationDocument, WorkstreamList,
};
use super::request::{JsonBody, PathParams, Query, workstream_paths};
use crate::cli::RepoArgs;
use crate::commands::errors::{breakers_document, errors_document};
use crate::commands::spec::ItemKind;
use crate::commands::spec::list::list_document;
use crate::commands::spec::show::show_document;
use crate::commands::spec::validate::all_validation_document;
use crate::commands::tools::tools_document;
use crate::commands::validate::validation_document;

fn repo_args(app: &App) -> RepoArgs {
    RepoArgs {
        repo: Some(app.repo_root.clone()),
        db: app.db.clone(),
    }
}

/// `POST /api/validate` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ValidateRequest {
    /// Workstream files, relative to the repository root (or absolute inside it).
    #[schema(min_items = 1)]
    pub workstreams: Vec<String>,
    /// Notes and warnings count as errors (`validate --strict`).
    #[serde(default)]
    pub strict: bool,
}

/// Checks workstream files: the `pipeline validate --json` document (`valid` says whether
/// they are; invalid files are an answer, not an error).
#[utoipa::path(
    post,
    path = "/api/validate",
    tag = "workstreams",
    request_body = ValidateRequest,
    responses(
        (status = 200, description = "The validation report.", body = ValidationDocument),
        (status = 400, description = "Bad JSON, or a path outside the repository (`path_outside_repository`).", body = ErrorBody),
        (status = 404, description = "A workstream file that does not exist (`path_not_found`).", body = ErrorBody),
        (status = 422, description = "A body of the wrong shape, or a broken repository configuration.", body = ErrorBody),
    )
)]
pub async fn validate(
    State(app): State<Arc<App>>,
    JsonBody(body): JsonBody<ValidateRequest>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let paths = workstream_paths(&app.repo_root, &body.workstreams)?;
    blocking(move || {
        Ok(Json(validation_document(
            &paths,
            body.strict,
            &repo_args(&app),
        )?))
    })
    .await
}

/// Workstream files are looked for in this directory of the repository.
pub const WORKSTREAMS_DIR: &str = "workstreams";

/// At most this many files are listed (`truncated` says when there were more).
const MAX_LISTED: usize = 2000;

/// The repository's workstream files: every `*.json`, `*.yaml` and `*.yml` under
/// `workstreams/` (any depth; hidden entries, `node_modules`, symbolic links that
/// resolve outside the repository and CI workflows ([`is_ci_workflow`]) skipped), sorted by path, at most 2000. Each is
/// `{"path", "bytes"}` with `path` relative to the repository root, as `POST /api/runs`
/// and `POST /api/validate` take it. Files are listed, not checked: validate one with
/// `POST /api/validate`.
#[utoipa::path(
    get,
    path = "/api/workstreams",
    tag = "workstreams",
    responses((status = 200, description = "The workstream files of the repository.", body = WorkstreamList))
)]
pub async fn workstreams(State(app): State<Arc<App>>) -> Result<Json<serde_json::Value>, ApiError> {
    blocking(move || {
        let root = app.repo_root.clone();
        let mut found = Vec::new();
        let truncated = list_workstream_files(&root, &root.join(WORKSTREAMS_DIR), 0, &mut found);
        found.sort();
        let files: Vec<serde_json::Value> = found
            .into_iter()
            .map(|(path, bytes)| serde_json::json!({"path": path, "bytes": bytes}))
            .collect();
        Ok(Json(serde_json::json!({
            "directory": WORKSTREAMS_DIR,
            "workstreams": files,
            "truncated": truncated,
        })))
    })
    .await
}

/// Adds the workstream files under `dir` to `out` as (path relative to `root` with `/`
/// separators, size in bytes); returns whether the listing stopped at [`MAX_LISTED`].
/// A directory that cannot be read only lists fewer files.
fn list_workstream_files(
    root: &std::path::Path,
    dir: &std::path::Path,
    depth: usize,
    out: &mut Vec<(String, u64)>,
) -> bool {
    const MAX_DEPTH: usize = 8;
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    let mut entries: Vec<_> = entries.filter_map(Result::ok).collect();
    entries.sort_by_key(std::fs::DirEntry::file_name);
    for entry in entries {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') || name == "node_modules" {
            continue;
        }
        let path = entry.path();
        // Follows symbolic links, but only to what stays inside the repository.
        let Ok(real) = std::fs::canonicalize(&path) else {
            continue;
        };
        if !real.starts_with(root) {
            continue;
        }
        let Ok(meta) = std::fs::metadata(&real) else {
            continue;
        };
        if meta.is_dir() {
            if depth < MAX_DEPTH && list_workstream_files(root, &path, depth + 1, out) {
                return true;
            }
            continue;
        }
        let workstream = matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("json" | "yaml" | "yml")
        );
        if !workstream || is_ci_workflow(&real, &meta) {
            continue;
        }
        if out.len() == MAX_LISTED {
            return true;
        }
        let Ok(relative) = path.strip_prefix(root) else {
            continue;
        };
        let relative: Vec<String> = relative
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        out.push((relative.join("/"), meta.len()));
    }
    false
}

/// Whether a YAML file is a CI workflow rather than a workstream (such as those of
/// `workstreams/examples/ci/`): a top-level `jobs:` key, which no workstream has (the
/// loader skips such a file the same way). Files over 1 MiB are not read.
fn is_ci_workflow(path: &std::path::Path, meta: &std::fs::Metadata) -> bool {
    let yaml = matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml")
    );
    yaml && meta.len() <= 1 << 20
        && std::fs::read_to_string(path)
            .is_ok_and(|text| text.lines().any(|l| l.starts_with("jobs:")))
}

/// Tool profiles, whether each is installed, its version and circuit breaker (`pipeline
/// tools --json`).
#[utoipa::path(
    get,
    path = "/api/tools",
    tag = "tools",
    responses(
        (status = 200, description = "Tool profiles.", body = ToolsDocument),
        (status = 422, description = "The repository's configuration is invalid.", body = ErrorBody),
    )
)]
pub async fn tools(State(app): State<Arc<App>>) -> Result<Json<serde_json::Value>, ApiError> {
    blocking(move || Ok(Json(tools_document(&repo_args(&app))?))).await
}

/// Every tool's circuit breaker (`pipeline breakers --json`).
#[utoipa::path(
    get,
    path = "/api/breakers",
    tag = "tools",
    responses(
        (status = 200, description = "Circuit breakers.", body = BreakersDocument),
        (status = 422, description = "The repository's configuration is invalid.", body = ErrorBody),
    )
)]
pub async fn list_breakers(
    State(app): State<Arc<App>>,
) -> Result<Json<serde_json::Value>, ApiError> {
    blocking(move || {
        let (removed, list) = breakers(app.repo(), app.db(), None)?;
        Ok(Json(breakers_document(None, removed, &list)))
    })
    .await
}

/// Closes a tool's circuit breaker (`pipeline breakers --reset TOOL --json`).
#[utoipa::path(
    post,
    path = "/api/breakers/{tool}/reset",
    tag = "tools",
    params(("tool" = String, Path, description = "Tool profile name.")),
    request_body(content = super::runs::EmptyBody, description = "`{}` (or an empty body)."),
    responses(
        (status = 200, description = "The breakers after the reset; `reset.existed` says whether the tool had breaker state.", body = BreakersDocument),
        (status = 404, description = "No such tool (`unknown_tool`).", body = ErrorBody),
        (status = 422, description = "A body other than `{}`, or the repository's configuration is invalid.", body = ErrorBody),
    )
)]
pub async fn reset_breaker(
    State(app): State<Arc<App>>,
    PathParams(tool): PathParams<String>,
    JsonBody(super::runs::EmptyBody {}): JsonBody<super::runs::EmptyBody>,
) -> Result<Json<serde_json::Value>, ApiError> {
    blocking(move || {
        let (removed, list) = breakers(app.repo(), app.db(), Some(&tool))
            .map_err(|e| ApiError::input_as_not_found(e, "unknown_tool"))?;
        Ok(Json(breakers_document(Some(&tool), removed, &list)))
    })
    .await
}

/// `GET /api/errors` query.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ErrorsQuery {
    /// Run id or `latest` (default: the newest run).
    pub run: Option<String>,
}

/// The classified errors of a run's steps (`pipeline errors --json`).
#[utoipa::path(
    get,
    path = "/api/errors",
    tag = "runs",
    params(ErrorsQuery),
    responses(
        (status = 200, description = "The run's errors.", body = ErrorsDocument),
        (status = 404, description = "No such run, or no run recorded yet.", body = ErrorBody),
    )
)]
pub async fn errors(
    State(app): State<Arc<App>>,
    Query(q): Query<ErrorsQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    blocking(move || {
        let (run_id, errors) = run_errors(app.repo(), app.db(), q.run.as_deref())
            .map_err(|e| ApiError::input_as_not_found(e, "unknown_run"))?;
        Ok(Json(errors_document(&run_id, &errors)))
    })
    .await
}

/// `GET /api/specs` query.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SpecsQuery {
    /// `changes` (default: active changes with task progress) or `specs` (specs with
    /// requirement counts).
    #[param(inline)]
    pub kind: Option<SpecKind>,
}

/// What `GET /api/specs` lists.
#[derive(Debug, Clone, Copy, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SpecKind {
    /// Active changes.
    Changes,
    /// Main specs.
    Specs,
}

/// `GET /api/specs/{item}` query.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SpecItemQuery {
    /// `change` or `spec`: needed when an item is both.
    #[serde(rename = "type")]
    #[param(inline)]
    pub item_type: Option<SpecItemType>,
}

/// `change` or `spec`.
#[derive(Debug, Clone, Copy, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SpecItemType {
    /// A change proposal.
    Change,
    /// A main spec.
    Spec,
}

fn layout(app: &App) -> Result<pipeline_core::openspec::Layout, ApiError> {
    locate_project(app.repo()).map_err(|e| match e {
        EngineError::Input(m) => ApiError::not_found("no_openspec", m),
        e => e.into(),
    })
}

/// OpenSpec changes or specs (`pipeline spec list [--specs] --json`).
#[utoipa::path(
    get,
    path = "/api/specs",
    tag = "specs",
    params(SpecsQuery),
    responses(
        (status = 200, description = "`{\"changes\": [...]}` or `{\"specs\": [...]}`.", body = SpecListDocument),
        (status = 400, description = "A bad `kind`.", body = ErrorBody),
        (status = 404, description = "The repository has no `openspec/` directory (`no_openspec`).", body = ErrorBody),
    )
)]
pub async fn specs(
    State(app): State<Arc<App>>,
    Query(q): Query<SpecsQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    blocking(move || {
        let layout = layout(&app)?;
        Ok(Json(list_document(
            &layout,
            matches!(q.kind, Some(SpecKind::Specs)),
        )?))
    })
    .await
}

/// Whether the repository has an OpenSpec project and, when it has, the validation of
/// every change and spec (`pipeline spec validate --all --json`): `{"project": false}` or
/// `{"project": true, "validation": {...}}`. Always 200, so a client learns whether to
/// ask for specs without meeting a 404.
#[utoipa::path(
    get,
    path = "/api/openspec",
    tag = "specs",
    responses((status = 200, description = "The OpenSpec project's presence and validation.", body = OpenSpecDocument))
)]
pub async fn openspec(State(app): State<Arc<App>>) -> Result<Json<serde_json::Value>, ApiError> {
    blocking(move || {
        let layout = match locate_project(app.repo()) {
            Ok(layout) => layout,
            Err(EngineError::Input(_)) => return Ok(Json(serde_json::json!({"project": false}))),
            Err(e) => return Err(e.into()),
        };
        let validation = all_validation_document(&layout)?;
        Ok(Json(
            serde_json::json!({"project": true, "validation": validation}),
        ))
    })
    .await
}

/// One OpenSpec change or spec (`pipeline spec show ITEM --json`).
#[utoipa::path(
    get,
    path = "/api/specs/{item}",
    tag = "specs",
    params(("item" = String, Path, description = "Change id or spec id."), SpecItemQuery),
    responses(
        (status = 200, description = "The change's deltas or the spec's requirements.", body = SpecDocument),
        (status = 400, description = "A bad `type`, or an item that is both a change and a spec without `type`.", body = ErrorBody),
        (status = 404, description = "No `openspec/` directory, or no such change or spec.", body = ErrorBody),
        (status = 422, description = "The item cannot be parsed.", body = ErrorBody),
    )
)]
pub async fn spec(
    State(app): State<Arc<App>>,
    PathParams(item): PathParams<String>,
    Query(q): Query<SpecItemQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    blocking(move || {
        let layout = layout(&app)?;
        let is_change = layout.change_ids().is_ok_and(|ids| ids.contains(&item));
        let is_spec = layout.spec_ids().is_ok_and(|ids| ids.contains(&item));
        let kind = q.item_type.map(|t| match t {
            SpecItemType::Change => ItemKind::Change,
            SpecItemType::Spec => ItemKind::Spec,
        });
        let exists = match kind {
            Some(ItemKind::Change) => is_change,
            Some(ItemKind::Spec) => is_spec,
            None => is_change || is_spec,
        };
        if !exists {
            return Err(ApiError::not_found(
                "unknown_item",
                format!("no OpenSpec change or spec `{item}`; GET /api/specs lists the changes, GET /api/specs?kind=specs the specs"),
            ));
        }
        show_document(&layout, &item, kind)
            .map(Json)
            .map_err(|e| match ApiError::from(e) {
                e if e.code == "invalid_input" && !(is_change && is_spec) => {
                    ApiError::unprocessable("invalid_item", e.message)
                }
                e => e,
            })
    })
    .await
}

/// Liveness: `{"status": "ok"}`. Needs no token.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "server",
    security(()),
    responses((status = 200, description = "The server is up.", body = Health))
)]
pub async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({"status": "ok", "version": env!("CARGO_PKG_VERSION")}))
}

/// This document.
#[utoipa::path(
    get,
    path = "/api/openapi.json",
    tag = "server",
    responses((status = 200, description = "The OpenAPI 3.1 document of this API.", body = Object))
)]
pub async fn openapi(State(app): State<Arc<App>>) -> axum::response::Response {
    use axum::response::IntoResponse;
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        app.openapi.clone(),
    )
        .into_response()
}
