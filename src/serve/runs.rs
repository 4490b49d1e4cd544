//! Runs: list, start, status, cancel, resume, plan.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use pipeline_core::engine::{
    Driver, EngineError, RunOptions, UnfinishedPolicy, check_run_id, generate_run_id, list_runs,
    load_and_plan, resume_run, run_status, run_workstreams,
};
use pipeline_core::planning::{PlanFormat, render_plan};
use pipeline_core::state::{Durability, LockProbe, RunLock};
use serde::{Deserialize, Serialize};

use super::api_error::ApiError;
use super::app::{App, blocking};
use super::openapi::{ErrorBody, PlanDocument, RunList, RunStatusDocument};
use super::request::{JsonBody, PathParams, Query, workstream_paths};

/// The body of `POST` requests that take no fields: `{}` (an empty body with
/// `Content-Type: application/json` reads as `{}` too).
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmptyBody {}

/// Default `limit` of `GET /api/runs`.
pub const DEFAULT_LIMIT: usize = 50;
/// Largest `limit` of `GET /api/runs`.
pub const MAX_LIMIT: usize = 500;

/// `GET /api/runs` query.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// How many runs (default 50, at most 500).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<usize>,
    /// Only runs older than this run (the last run id of the previous page).
    pub before: Option<String>,
}

/// Recorded runs, newest first (`pipeline runs --json`'s entries), a page at a time.
#[utoipa::path(
    get,
    path = "/api/runs",
    tag = "runs",
    params(ListQuery),
    responses(
        (status = 200, description = "Runs, newest first.", body = RunList),
        (status = 400, description = "A bad `limit`.", body = ErrorBody),
        (status = 404, description = "`before` names no run.", body = ErrorBody),
    )
)]
pub async fn list(
    State(app): State<Arc<App>>,
    Query(q): Query<ListQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let limit = q.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::bad_request(
            "invalid_query",
            format!("`limit` must be between 1 and {MAX_LIMIT}"),
        ));
    }
    let runs = blocking(move || {
        let runs = list_runs(app.repo(), app.db())?;
        let start = match &q.before {
            Some(before) => {
                runs.iter()
                    .position(|r| &r.run_id == before)
                    .ok_or_else(|| {
                        ApiError::not_found(
                            "unknown_run",
                            format!("`before`: no run `{before}` in the state database"),
                        )
                    })?
                    + 1
            }
            None => 0,
        };
        let page: Vec<_> = runs.into_iter().skip(start).take(limit).collect();
        serde_json::to_value(page).map_err(|e| ApiError::internal(e.to_string()))
    })
    .await?;
    Ok(Json(runs))
}

/// `POST /api/runs` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartRun {
    /// Workstream files, relative to the repository root (or absolute inside it).
    #[schema(min_items = 1)]
    pub workstreams: Vec<String>,
    /// Steps running at once (default: available parallelism).
    #[schema(minimum = 1, maximum = 1024, value_type = Option<u32>)]
    #[serde(default, deserialize_with = "super::request::integral")]
    pub jobs: Option<u32>,
    /// Git revision the run starts from (default `HEAD`).
    pub base: Option<String>,
    /// The run's id (default: generated).
    pub run_id: Option<String>,
}

/// What starting, resuming or cancelling a run answers.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RunAccepted {
    /// The run.
    pub run_id: String,
    /// `started`, `resumed`, `cancelling`.
    pub action: &'static str,
    /// Where to read its status.
    pub status_url: String,
    /// Where to follow its events.
    pub events_url: String,
}

impl RunAccepted {
    fn new(run_id: String, action: &'static str) -> RunAccepted {
        RunAccepted {
            status_url: format!("/api/runs/{run_id}"),
            events_url: format!("/api/runs/{run_id}/events"),
            run_id,
            action,
        }
    }
}

fn options(app: &App) -> RunOptions {
    RunOptions {
        repo: Some(app.repo_root.clone()),
        db: app.db.clone(),
        durability: Durability::Normal,
        unfinished: UnfinishedPolicy::Refuse,
        ..RunOptions::default()
    }
}

/// Starts a run of the workstreams in this server's process (it goes on after the client
/// disconnects). The files are loaded and checked before the answer.
#[utoipa::path(
    post,
    path = "/api/runs",
    tag = "runs",
    request_body = StartRun,
    responses(
        (status = 202, description = "The run started.", body = RunAccepted),
        (status = 400, description = "Bad JSON, or a workstream path outside the repository (`path_outside_repository`).", body = ErrorBody),
        (status = 404, description = "A workstream file that does not exist (`path_not_found`).", body = ErrorBody),
        (status = 409, description = "An unfinished run of the same workstreams exists (`unfinished_run`; resume it), or the run id is taken.", body = ErrorBody),
        (status = 422, description = "Invalid workstream files (`invalid_workstreams`, with `diagnostics`), an invalid field, an unknown `base`.", body = ErrorBody),
    )
)]
pub async fn start(
    State(app): State<Arc<App>>,
    JsonBody(body): JsonBody<StartRun>,
) -> Result<(StatusCode, Json<RunAccepted>), ApiError> {
    let paths = workstream_paths(&app.repo_root, &body.workstreams)?;
    if let Some(jobs) = body.jobs
        && !(1..=1024).contains(&jobs)
    {
        return Err(ApiError::unprocessable(
            "invalid_body",
            "`jobs` must be between 1 and 1024",
        ));
    }
    let run_id = match body.run_id {
        Some(id) => {
            check_run_id(&id).map_err(|m| ApiError::unprocessable("invalid_run_id", m))?;
            id
        }
        None => generate_run_id(),
    };
    let mut options = options(&app);
    if let Some(jobs) = body.jobs {
        options.jobs = jobs as usize;
    }
    options.base = Some(body.base.unwrap_or_else(|| "HEAD".into()));
    options.run_id = Some(run_id.clone());
    app.drive(&run_id, move |reporter, cancel| {
        Box::pin(async move { run_workstreams(&paths, options, reporter, cancel).await })
    })
    .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(RunAccepted::new(run_id, "started")),
    ))
}

/// The run's status: the `pipeline status --json` document.
#[utoipa::path(
    get,
    path = "/api/runs/{run}",
    tag = "runs",
    params(("run" = String, Path, description = "Run id, or `latest`.")),
    responses(
        (status = 200, description = "The run's status.", body = RunStatusDocument),
        (status = 404, description = "No such run.", body = ErrorBody),
    )
)]
pub async fn status(
    State(app): State<Arc<App>>,
    PathParams(run): PathParams<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    blocking(move || {
        let report = run_status(app.repo(), app.db(), Some(&run))
            .map_err(|e| ApiError::input_as_not_found(e, "unknown_run"))?;
        serde_json::to_value(report)
            .map(Json)
            .map_err(|e| ApiError::internal(e.to_string()))
    })
    .await
}

/// Stops a run: this server's own through its cancel token, another process's by SIGTERM
/// to its driver (the pid in its run lock). Either way unfinished steps are recorded
/// `interrupted` and the run can be resumed. A Temporal run's workflow is cancelled on its
/// server (docs/TEMPORAL.md): its running steps stop on their workers and it ends.
#[utoipa::path(
    post,
    path = "/api/runs/{run}/cancel",
    tag = "runs",
    params(("run" = String, Path, description = "Run id, or `latest`.")),
    request_body(content = EmptyBody, description = "`{}` (or an empty body)."),
    responses(
        (status = 202, description = "The run is being stopped.", body = RunAccepted),
        (status = 404, description = "No such run.", body = ErrorBody),
        (status = 409, description = "No live process drives the run (`not_running`).", body = ErrorBody),
        (status = 422, description = "A body other than `{}`.", body = ErrorBody),
    )
)]
pub async fn cancel(
    State(app): State<Arc<App>>,
    PathParams(run): PathParams<String>,
    JsonBody(EmptyBody {}): JsonBody<EmptyBody>,
) -> Result<(StatusCode, Json<RunAccepted>), ApiError> {
    let run_id = resolve(&app, run).await?;
    if app.cancel(&run_id) {
        return Ok((
            StatusCode::ACCEPTED,
            Json(RunAccepted::new(run_id, "cancelling")),
        ));
    }
    // A Temporal run: its workflow is cancelled on its server, whoever follows it.
    let lookup = app.clone();
    let id = run_id.clone();
    let engine = blocking(move || {
        pipeline_core::engine::remote_engine_of(&lookup.state, &id).map_err(Into::into)
    })
    .await?;
    if let Some(engine) = engine {
        // TLS and API key from the repository's configuration, as the CLI's.
        let flags = crate::cli::ConnectArgs {
            temporal: Some(engine.address.clone()),
            namespace: Some(engine.namespace.clone()),
            ..Default::default()
        };
        let target = crate::commands::temporal_target::resolve(
            &flags,
            Some(&engine.remote),
            Some(&app.repo_root),
        )
        .map_err(|e| ApiError::conflict("not_running", e.text()))?
        .map_or_else(
            || {
                pipeline_temporal::connection::ConnectionSettings::plain(
                    &engine.address,
                    &engine.namespace,
                )
            },
            |t| t.connection,
        );
        pipeline_temporal::workflow_client::cancel(&target, &run_id, "cancelled through the API")
            .await
            .map_err(|e| ApiError::conflict("not_running", e.to_string()))?;
        return Ok((
            StatusCode::ACCEPTED,
            Json(RunAccepted::new(run_id, "cancelling")),
        ));
    }
    let locks = app.locks_dir.clone();
    let id = run_id.clone();
    let probe =
        blocking(move || RunLock::probe(&locks, &id).map_err(|e| EngineError::State(e).into()))
            .await?;
    match probe {
        LockProbe::Held { pid: Some(pid) } => {
            let pid = i32::try_from(pid)
                .map_err(|_| ApiError::internal(format!("run lock holds pid {pid}")))?;
            nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGTERM,
            )
            .map_err(|e| {
                ApiError::conflict(
                    "not_running",
                    format!("cannot stop the process {pid} driving run {run_id}: {e}"),
                )
            })?;
            Ok((
                StatusCode::ACCEPTED,
                Json(RunAccepted::new(run_id, "cancelling")),
            ))
        }
        LockProbe::Held { pid: None } => Err(ApiError::conflict(
            "not_running",
            format!(
                "run {run_id} is driven by a process whose pid its run lock does not name; stop it where it runs"
            ),
        )),
        LockProbe::Free => Err(ApiError::conflict(
            "not_running",
            format!(
                "no process drives run {run_id}: there is nothing to cancel\n  hint: POST /api/runs/{run_id}/resume continues it"
            ),
        )),
    }
}

/// Continues a run in this server's process (completed steps are kept; failed, skipped and
/// interrupted ones run again), as `pipeline resume RUN`.
#[utoipa::path(
    post,
    path = "/api/runs/{run}/resume",
    tag = "runs",
    params(("run" = String, Path, description = "Run id, or `latest`.")),
    request_body(content = EmptyBody, description = "`{}` (or an empty body)."),
    responses(
        (status = 202, description = "The run is being resumed.", body = RunAccepted),
        (status = 404, description = "No such run.", body = ErrorBody),
        (status = 409, description = "A live process drives the run (`run_locked`).", body = ErrorBody),
        (status = 422, description = "The run's workstream files no longer validate, or a body other than `{}`.", body = ErrorBody),
    )
)]
pub async fn resume(
    State(app): State<Arc<App>>,
    PathParams(run): PathParams<String>,
    JsonBody(EmptyBody {}): JsonBody<EmptyBody>,
) -> Result<(StatusCode, Json<RunAccepted>), ApiError> {
    let run_id = resolve(&app, run).await?;
    // A run this server was just asked to stop is recorded `interrupted` before its
    // driver has let go of it.
    app.wait_stopped(&run_id).await;
    let (a, id) = (app.clone(), run_id.clone());
    let report = blocking(move || Ok(run_status(a.repo(), a.db(), Some(&id))?)).await?;
    if report.driver == Some(Driver::Live) || app.drives(&run_id) {
        return Err(ApiError::conflict(
            "run_locked",
            format!("run {run_id} is driven by a live process; it cannot be resumed twice"),
        ));
    }
    let options = options(&app);
    let id = run_id.clone();
    app.drive(&run_id, move |reporter, cancel| {
        Box::pin(async move { resume_run(&id, options, reporter, cancel).await })
    })
    .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(RunAccepted::new(run_id, "resumed")),
    ))
}

/// The plan of the run's recorded workstream files, as `pipeline plan --format json`
/// renders it (read from the files now: it shows changes made since the run started).
#[utoipa::path(
    get,
    path = "/api/runs/{run}/plan",
    tag = "runs",
    params(("run" = String, Path, description = "Run id, or `latest`.")),
    responses(
        (status = 200, description = "The plan.", body = PlanDocument),
        (status = 404, description = "No such run.", body = ErrorBody),
        (status = 422, description = "The run's workstream files no longer validate.", body = ErrorBody),
    )
)]
pub async fn plan(
    State(app): State<Arc<App>>,
    PathParams(run): PathParams<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    blocking(move || {
        let record = app.resolve_run(&run)?;
        let paths: Vec<std::path::PathBuf> = record
            .workstream_path
            .lines()
            .map(std::path::PathBuf::from)
            .collect();
        let (set, plan) = load_and_plan(&paths, Some(std::path::Path::new(&record.repo_path)))?;
        let text = render_plan(&set, &plan, PlanFormat::Json);
        serde_json::from_str(&text)
            .map(Json)
            .map_err(|e| ApiError::internal(format!("the plan is not JSON: {e}")))
    })
    .await
}

/// The id of `run` (or `latest`). Errors: 404 for an unknown run or no runs.
pub async fn resolve(app: &Arc<App>, run: String) -> Result<String, ApiError> {
    let app = app.clone();
    blocking(move || Ok(app.resolve_run(&run)?.run_id)).await
}
