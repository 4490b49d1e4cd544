//! `GET /api/events` and `GET /api/runs/{run}/events`: the journal as server-sent events.
//!
//! Each event is one journal entry: `id:` its journal id, `event:` its kind, `data:` the
//! entry's JSON exactly as `pipeline run --json` prints it. A client resumes with the
//! `Last-Event-ID` header (browsers send it when they reconnect) or `?after=ID` (the header
//! wins): it gets every entry with a greater id, none twice. Without either, a run's stream
//! starts at the run's first entry and `/api/events` at the next new entry. Streams stay
//! open (a finished run can be resumed) with a keep-alive comment every
//! [`KEEP_ALIVE`], and end when the server shuts down.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use pipeline_core::state::JournalEntry;
use serde::Deserialize;

use super::api_error::ApiError;
use super::app::{App, blocking};
use super::openapi::{ErrorBody, EventStream};
use super::request::{PathParams, Query};

/// Interval of the keep-alive comments: 15 s.
pub const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// `?after=ID`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AfterQuery {
    /// Send the entries with a journal id greater than this (`Last-Event-ID` wins).
    #[param(minimum = 0)]
    pub after: Option<i64>,
}

/// The id to resume after: `Last-Event-ID`, else `?after`. Errors: 400 for a header that
/// is not a journal id.
fn resume_point(headers: &HeaderMap, after: Option<i64>) -> Result<Option<i64>, ApiError> {
    match headers.get("last-event-id") {
        Some(v) => v
            .to_str()
            .ok()
            .and_then(|v| v.trim().parse::<i64>().ok())
            .filter(|id| *id >= 0)
            .map(Some)
            .ok_or_else(|| {
                ApiError::bad_request(
                    "invalid_last_event_id",
                    "Last-Event-ID must be a journal id (a non-negative integer)",
                )
            }),
        None => match after {
            Some(a) if a < 0 => Err(ApiError::bad_request(
                "invalid_query",
                "`after` must be a non-negative journal id",
            )),
            a => Ok(a),
        },
    }
}

/// Every run's journal entries as they are recorded.
#[utoipa::path(
    get,
    path = "/api/events",
    tag = "events",
    params(AfterQuery, ("Last-Event-ID" = Option<i64>, Header, description = "Resume after this journal id (wins over `after`).")),
    responses(
        (status = 200, description = "A stream of journal entries (`text/event-stream`): `id:` journal id, `event:` kind, `data:` the JournalEntry JSON (schema JournalEntry).", body = EventStream, content_type = "text/event-stream"),
        (status = 400, description = "A bad `after` or `Last-Event-ID`.", body = ErrorBody),
    )
)]
pub async fn all_events(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Query(q): Query<AfterQuery>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let start = match resume_point(&headers, q.after)? {
        Some(id) => id,
        None => {
            let a = app.clone();
            blocking(move || {
                a.journal
                    .latest_id()
                    .map_err(|e| ApiError::internal(format!("cannot read the journal: {e}")))
            })
            .await?
        }
    };
    Ok(stream(app, None, start))
}

/// One run's journal entries, from its first (or after `Last-Event-ID` / `after`).
#[utoipa::path(
    get,
    path = "/api/runs/{run}/events",
    tag = "events",
    params(
        ("run" = String, Path, description = "Run id, or `latest`."),
        AfterQuery,
        ("Last-Event-ID" = Option<i64>, Header, description = "Resume after this journal id (wins over `after`).")
    ),
    responses(
        (status = 200, description = "A stream of the run's journal entries (`text/event-stream`), see GET /api/events.", body = EventStream, content_type = "text/event-stream"),
        (status = 400, description = "A bad `after` or `Last-Event-ID`.", body = ErrorBody),
        (status = 404, description = "No such run.", body = ErrorBody),
    )
)]
pub async fn run_events(
    State(app): State<Arc<App>>,
    PathParams(run): PathParams<String>,
    headers: HeaderMap,
    Query(q): Query<AfterQuery>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let start = resume_point(&headers, q.after)?.unwrap_or(0);
    let a = app.clone();
    let run_id = blocking(move || Ok(a.resolve_run(&run)?.run_id)).await?;
    Ok(stream(app, Some(run_id), start))
}

/// Where one client's stream is.
struct Cursor {
    app: Arc<App>,
    run: Option<String>,
    /// The last journal id read (sent, or skipped as unreadable).
    last: i64,
    buffered: VecDeque<JournalEntry>,
    latest: tokio::sync::watch::Receiver<i64>,
}

fn stream(
    app: Arc<App>,
    run: Option<String>,
    after: i64,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let cursor = Cursor {
        latest: app.latest_event.clone(),
        app,
        run,
        last: after,
        buffered: VecDeque::new(),
    };
    let events = futures_util::stream::unfold(cursor, |mut c| async move {
        loop {
            if let Some(entry) = c.buffered.pop_front() {
                return Some((Ok(sse_event(&entry)), c));
            }
            // Mark the newest id seen before reading, so that an entry recorded after the
            // read wakes the wait below.
            c.latest.borrow_and_update();
            let (app, run, last) = (c.app.clone(), c.run.clone(), c.last);
            let page =
                tokio::task::spawn_blocking(move || app.journal.page(run.as_deref(), last)).await;
            match page {
                Ok(Ok(page)) => {
                    c.last = page.last_id;
                    if page.last_id > last {
                        c.buffered.extend(page.entries);
                        continue;
                    }
                }
                Ok(Err(e)) => tracing::warn!("event stream: cannot read the journal: {e}"),
                Err(e) => tracing::warn!("event stream: {e}"),
            }
            tokio::select! {
                changed = c.latest.changed() => {
                    if changed.is_err() {
                        return None;
                    }
                }
                () = c.app.shutdown.cancelled() => return None,
            }
        }
    });
    Sse::new(events).keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
}

/// One journal entry as an SSE event.
fn sse_event(entry: &JournalEntry) -> Event {
    let data = serde_json::to_string(entry).unwrap_or_else(|e| {
        serde_json::json!({"id": entry.id, "error": format!("cannot render the event: {e}")})
            .to_string()
    });
    Event::default()
        .id(entry.id.to_string())
        .event(entry.event.kind())
        .data(data)
}
