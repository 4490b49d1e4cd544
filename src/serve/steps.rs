//! One step of a run: detail, logs, diff, approval decisions.
//!
//! Step ids contain `/` (`workstream/step`). In a path the step id is one segment with
//! its `/` percent-encoded (`/api/runs/R/steps/ws%2Fbuild/logs`); the raw form
//! (`/api/runs/R/steps/ws/build/logs`) is accepted too: there the step id is the first
//! two segments after `steps/` and a third one is the action.

use std::io::{Read, Seek, SeekFrom};
use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use pipeline_core::engine::{
    ApprovalDecision, EngineError, Verdict, decide_approval, step_detail, step_diff, step_logs,
};
use serde::Deserialize;

use super::api_error::ApiError;
use super::app::{App, blocking};
use super::openapi::{DecisionDocument, ErrorBody, StepDetailDocument};
use super::request::{JsonBody, PathParams, Query};

/// `GET .../logs` query.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LogsQuery {
    /// Attempt number (default: the last).
    #[param(minimum = 1)]
    pub attempt: Option<u32>,
    /// Only the last this many bytes (ignored with a `Range` header).
    #[param(minimum = 0)]
    pub tail: Option<u64>,
    /// Only the bytes from this offset on (ignored with a `Range` header or `tail`): 200
    /// with an empty body when nothing is past it yet, so a client following a growing
    /// log asks with the `X-Pipeline-Log-Length` it was last told.
    #[param(minimum = 0)]
    pub from: Option<u64>,
}

/// `POST .../approve` body.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApproveBody {
    /// Why (recorded in the journal).
    pub comment: Option<String>,
    /// Who decides (default `api`).
    pub by: Option<String>,
}

/// `POST .../reject` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RejectBody {
    /// What is wrong: the fix prompt of a rejected AI step, the error of any other.
    #[schema(min_length = 1, pattern = "\\S")]
    pub comment: String,
    /// Who decides (default `api`).
    pub by: Option<String>,
}

/// The step in detail: its status, every attempt (tool, outcome, usage, classified
/// error), its errors, its checkpoint and acceptance tests.
#[utoipa::path(
    get,
    path = "/api/runs/{run}/steps/{step}",
    tag = "steps",
    params(
        ("run" = String, Path, description = "Run id, or `latest`."),
        ("step" = String, Path, description = "Step id with `/` percent-encoded (`ws%2Fstep`)."),
    ),
    responses(
        (status = 200, description = "The step.", body = StepDetailDocument),
        (status = 404, description = "No such run or step.", body = ErrorBody),
    )
)]
pub async fn detail(
    State(app): State<Arc<App>>,
    PathParams((run, step)): PathParams<(String, String)>,
) -> Result<Json<serde_json::Value>, ApiError> {
    detail_of(app, run, step).await
}

async fn detail_of(
    app: Arc<App>,
    run: String,
    step: String,
) -> Result<Json<serde_json::Value>, ApiError> {
    blocking(move || {
        let detail = step_detail(app.repo(), app.db(), &run, &step)
            .map_err(|e| ApiError::input_as_not_found(e, "unknown_step"))?;
        serde_json::to_value(detail)
            .map(Json)
            .map_err(|e| ApiError::internal(e.to_string()))
    })
    .await
}

/// The log of one attempt of the step (its tool's output), as text. `Range: bytes=...`
/// (one range) answers 206 with `Content-Range`; `?tail=N` the last N bytes; `?from=N`
/// the bytes from offset N on. Every answer says the log's whole length in
/// `X-Pipeline-Log-Length`.
#[utoipa::path(
    get,
    path = "/api/runs/{run}/steps/{step}/logs",
    tag = "steps",
    params(
        ("run" = String, Path, description = "Run id, or `latest`."),
        ("step" = String, Path, description = "Step id with `/` percent-encoded (`ws%2Fstep`)."),
        LogsQuery,
        ("Range" = Option<String>, Header, description = "One byte range: `bytes=FIRST-LAST`, `bytes=FIRST-` or `bytes=-SUFFIX` (anything else is ignored)."),
    ),
    responses(
        (status = 200, description = "The whole log (or its tail).", body = String, content_type = "text/plain"),
        (status = 206, description = "The requested byte range.", body = String, content_type = "text/plain"),
        (status = 400, description = "A bad query.", body = ErrorBody),
        (status = 404, description = "No such run, step or attempt, or no logs (not run yet, removed by `pipeline clean`).", body = ErrorBody),
        (status = 416, description = "The range starts past the end of the log.", body = ErrorBody),
    )
)]
pub async fn logs(
    State(app): State<Arc<App>>,
    PathParams((run, step)): PathParams<(String, String)>,
    Query(q): Query<LogsQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    logs_of(app, run, step, q, headers).await
}

async fn logs_of(
    app: Arc<App>,
    run: String,
    step: String,
    q: LogsQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    // A Range header that is not one byte range is ignored, as RFC 9110 (14.2) allows:
    // the answer is the whole log (or its tail).
    let range = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_range);
    blocking(move || {
        let logs =
            step_logs(app.repo(), app.db(), &run, &step, q.attempt).map_err(|e| match e {
                EngineError::UnknownRun(_) => e.into(),
                e => ApiError::input_as_not_found(e, "no_logs"),
            })?;
        let mut file = std::fs::File::open(&logs.tool_log).map_err(|e| {
            ApiError::not_found(
                "no_logs",
                format!("cannot read {}: {e}", logs.tool_log.display()),
            )
        })?;
        let len = file
            .metadata()
            .map_err(|e| ApiError::internal(e.to_string()))?
            .len();
        let (first, last, partial) = match range {
            Some(r) => {
                let (first, last) = r.resolve(len).ok_or_else(|| ApiError {
                    status: StatusCode::RANGE_NOT_SATISFIABLE,
                    code: "range_not_satisfiable",
                    message: format!("the log is {len} bytes long"),
                    diagnostics: None,
                })?;
                (first, last, true)
            }
            None => match (q.tail, q.from) {
                (Some(n), _) => (len.saturating_sub(n), len.saturating_sub(1), false),
                (None, Some(from)) => (from, len.saturating_sub(1), false),
                (None, None) => (0, len.saturating_sub(1), false),
            },
        };
        let mut bytes = Vec::new();
        if len > 0 && first <= last {
            file.seek(SeekFrom::Start(first))
                .and_then(|_| file.take(last - first + 1).read_to_end(&mut bytes))
                .map_err(|e| ApiError::internal(format!("cannot read the log: {e}")))?;
        }
        let mut response = Response::new(Body::from(bytes));
        let h = response.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
        if let Ok(v) = HeaderValue::from_str(&logs.attempt.to_string()) {
            h.insert("x-pipeline-attempt", v);
        }
        if let Ok(v) = HeaderValue::from_str(&len.to_string()) {
            h.insert("x-pipeline-log-length", v);
        }
        if partial {
            *response.status_mut() = StatusCode::PARTIAL_CONTENT;
            if let Ok(v) = HeaderValue::from_str(&format!("bytes {first}-{last}/{len}")) {
                response.headers_mut().insert(header::CONTENT_RANGE, v);
            }
        }
        Ok(response)
    })
    .await
}

/// One byte range of a `Range` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ByteRange {
    /// `bytes=FIRST-LAST` or `bytes=FIRST-` (`None`: to the end).
    From(u64, Option<u64>),
    /// `bytes=-N`: the last N bytes.
    Suffix(u64),
}

impl ByteRange {
    /// The first and last byte (inclusive) of a file of `len` bytes, or `None` when the
    /// range is not satisfiable (RFC 9110, 14.1.2).
    fn resolve(self, len: u64) -> Option<(u64, u64)> {
        match self {
            ByteRange::From(first, last) if first < len => {
                Some((first, last.map_or(len - 1, |l| l.min(len - 1))))
            }
            ByteRange::Suffix(n) if n > 0 && len > 0 => Some((len.saturating_sub(n), len - 1)),
            _ => None,
        }
    }
}

/// `bytes=A-B`, `bytes=A-`, `bytes=-N`; `None` for anything else (several ranges too).
fn parse_range(value: &str) -> Option<ByteRange> {
    let spec = value.trim().strip_prefix("bytes=")?.trim();
    if spec.contains(',') {
        return None;
    }
    let (a, b) = spec.split_once('-')?;
    let (a, b) = (a.trim(), b.trim());
    if a.is_empty() {
        return b.parse().ok().map(ByteRange::Suffix);
    }
    let first: u64 = a.parse().ok()?;
    if b.is_empty() {
        return Some(ByteRange::From(first, None));
    }
    let last: u64 = b.parse().ok()?;
    (last >= first).then_some(ByteRange::From(first, Some(last)))
}

/// The step's changes: a unified diff of its result commit against the commit it started
/// at (`git diff START RESULT`).
#[utoipa::path(
    get,
    path = "/api/runs/{run}/steps/{step}/diff",
    tag = "steps",
    params(
        ("run" = String, Path, description = "Run id, or `latest`."),
        ("step" = String, Path, description = "Step id with `/` percent-encoded (`ws%2Fstep`)."),
    ),
    responses(
        (status = 200, description = "The diff (empty when the step changed nothing); headers `X-Pipeline-From` and `X-Pipeline-To` name the commits.", body = String, content_type = "text/x-diff"),
        (status = 404, description = "No such run or step, or the step has no result commit yet (`no_result`).", body = ErrorBody),
    )
)]
pub async fn diff(
    State(app): State<Arc<App>>,
    PathParams((run, step)): PathParams<(String, String)>,
) -> Result<Response, ApiError> {
    diff_of(app, run, step).await
}

async fn diff_of(app: Arc<App>, run: String, step: String) -> Result<Response, ApiError> {
    blocking(move || {
        let diff = step_diff(app.repo(), app.db(), &run, &step)
            .map_err(|e| ApiError::input_as_not_found(e, "unknown_step"))?
            .ok_or_else(|| {
                ApiError::not_found(
                    "no_result",
                    format!("step `{step}` of run {run} has no result commit yet: it has not completed (or is not awaiting approval)"),
                )
            })?;
        let mut response = Response::new(Body::from(diff.patch));
        let h = response.headers_mut();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/x-diff; charset=utf-8"));
        for (name, value) in [("x-pipeline-from", &diff.from), ("x-pipeline-to", &diff.to)] {
            if let Ok(v) = HeaderValue::from_str(value) {
                h.insert(name, v);
            }
        }
        Ok(response)
    })
    .await
}

/// Approves a step awaiting approval: it completes and its dependents start.
#[utoipa::path(
    post,
    path = "/api/runs/{run}/steps/{step}/approve",
    tag = "steps",
    params(
        ("run" = String, Path, description = "Run id, or `latest`."),
        ("step" = String, Path, description = "Step id with `/` percent-encoded (`ws%2Fstep`)."),
    ),
    request_body(content = ApproveBody, description = "`{}` (or an empty body) is enough."),
    responses(
        (status = 200, description = "The decision is recorded; the run's driver applies it.", body = DecisionDocument),
        (status = 400, description = "Bad JSON.", body = ErrorBody),
        (status = 404, description = "No such run or step.", body = ErrorBody),
        (status = 409, description = "The step is not awaiting approval (`not_awaiting_approval`).", body = ErrorBody),
        (status = 422, description = "A field of the wrong type.", body = ErrorBody),
    )
)]
pub async fn approve(
    State(app): State<Arc<App>>,
    PathParams((run, step)): PathParams<(String, String)>,
    JsonBody(body): JsonBody<ApproveBody>,
) -> Result<Json<serde_json::Value>, ApiError> {
    decide(app, run, step, Verdict::Approve, body.comment, body.by).await
}

/// Rejects a step awaiting approval: an AI step with fix attempts left runs again with the
/// comment as its fix prompt; otherwise the step fails (class `rejected`).
#[utoipa::path(
    post,
    path = "/api/runs/{run}/steps/{step}/reject",
    tag = "steps",
    params(
        ("run" = String, Path, description = "Run id, or `latest`."),
        ("step" = String, Path, description = "Step id with `/` percent-encoded (`ws%2Fstep`)."),
    ),
    request_body(content = RejectBody, description = "`comment` is required."),
    responses(
        (status = 200, description = "The decision is recorded; the run's driver applies it.", body = DecisionDocument),
        (status = 400, description = "Bad JSON.", body = ErrorBody),
        (status = 404, description = "No such run or step.", body = ErrorBody),
        (status = 409, description = "The step is not awaiting approval (`not_awaiting_approval`).", body = ErrorBody),
        (status = 422, description = "No `comment` (or only blanks), or a field of the wrong type.", body = ErrorBody),
    )
)]
pub async fn reject(
    State(app): State<Arc<App>>,
    PathParams((run, step)): PathParams<(String, String)>,
    JsonBody(body): JsonBody<RejectBody>,
) -> Result<Json<serde_json::Value>, ApiError> {
    decide(app, run, step, Verdict::Reject, Some(body.comment), body.by).await
}

async fn decide(
    app: Arc<App>,
    run: String,
    step: String,
    verdict: Verdict,
    comment: Option<String>,
    by: Option<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let comment = comment.filter(|c| !c.trim().is_empty());
    if verdict == Verdict::Reject && comment.is_none() {
        return Err(ApiError::unprocessable(
            "invalid_body",
            "rejecting needs a `comment`: it says what is wrong (an AI step gets it as its fix prompt)",
        ));
    }
    let by = by
        .filter(|b| !b.trim().is_empty())
        .unwrap_or_else(|| "api".into());
    blocking(move || {
        // An unknown run or step is a 404 before anything is recorded.
        step_detail(app.repo(), app.db(), &run, &step)
            .map_err(|e| ApiError::input_as_not_found(e, "unknown_step"))?;
        let recorded = decide_approval(
            app.repo(),
            app.db(),
            &run,
            &step,
            ApprovalDecision {
                verdict,
                by,
                comment,
            },
        )?;
        serde_json::to_value(recorded)
            .map(Json)
            .map_err(|e| ApiError::internal(e.to_string()))
    })
    .await
}

/// The raw form of the step routes, `/api/runs/{run}/steps/{ws}/{*rest}`: the step id
/// is `ws` and the first segment of `rest`, a second one is the action (`logs`, `diff`,
/// `approve`, `reject`).
pub async fn raw(
    State(app): State<Arc<App>>,
    PathParams((run, ws, rest)): PathParams<(String, String, String)>,
    Query(q): Query<LogsQuery>,
    request: Request,
) -> Result<Response, ApiError> {
    let segments: Vec<&str> = rest.split('/').collect();
    let (step, action) = match segments.as_slice() {
        [name] => (format!("{ws}/{name}"), None),
        [name, action] => (format!("{ws}/{name}"), Some(*action)),
        _ => {
            return Err(ApiError::not_found(
                "not_found",
                format!(
                    "no such endpoint: a step id is `workstream/step` (or `workstream%2Fstep`), followed by nothing, /logs, /diff, /approve or /reject; got `{ws}/{rest}`"
                ),
            ));
        }
    };
    let method = request.method().clone();
    let headers = request.headers().clone();
    let wrong_method = || {
        ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            format!("{method} is not allowed here"),
        )
    };
    match (action, &method) {
        (None, &Method::GET) => Ok(detail_of(app, run, step).await?.into_response()),
        (Some("logs"), &Method::GET) => logs_of(app, run, step, q, headers).await,
        (Some("diff"), &Method::GET) => diff_of(app, run, step).await,
        (Some("approve"), &Method::POST) => {
            let JsonBody(body) =
                <JsonBody<ApproveBody> as axum::extract::FromRequest<()>>::from_request(
                    request,
                    &(),
                )
                .await?;
            let decided = decide(app, run, step, Verdict::Approve, body.comment, body.by);
            Ok(decided.await?.into_response())
        }
        (Some("reject"), &Method::POST) => {
            let JsonBody(body) =
                <JsonBody<RejectBody> as axum::extract::FromRequest<()>>::from_request(
                    request,
                    &(),
                )
                .await?;
            let decided = decide(app, run, step, Verdict::Reject, Some(body.comment), body.by);
            Ok(decided.await?.into_response())
        }
        (None | Some("logs" | "diff" | "approve" | "reject"), _) => Err(wrong_method()),
        (Some(other), _) => Err(ApiError::not_found(
            "not_found",
            format!("no step action `{other}`: use logs, diff, approve or reject"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_parse_and_resolve() {
        assert_eq!(parse_range("bytes=0-9"), Some(ByteRange::From(0, Some(9))));
        assert_eq!(parse_range("bytes=5-"), Some(ByteRange::From(5, None)));
        assert_eq!(parse_range("bytes=-3"), Some(ByteRange::Suffix(3)));
        assert_eq!(parse_range("bytes=9-5"), None);
        assert_eq!(parse_range("bytes=0-1,3-4"), None);
        assert_eq!(parse_range("items=0-1"), None);
        assert_eq!(ByteRange::From(0, Some(99)).resolve(10), Some((0, 9)));
        assert_eq!(ByteRange::From(10, None).resolve(10), None);
        assert_eq!(ByteRange::Suffix(3).resolve(10), Some((7, 9)));
        assert_eq!(ByteRange::Suffix(30).resolve(10), Some((0, 9)));
        assert_eq!(ByteRange::Suffix(0).resolve(10), None);
    }
}
