//! `pipeline serve`: the REST API and server-sent events of the journal (docs/API.md).
//!
//! | file | what it holds |
//! | --- | --- |
//! | `security.rs` | the token, request checks (content type, origin, body size) |
//! | `app.rs` | shared state; driving runs in this process |
//! | `journal_reader.rs` | pages of the journal; the watcher of new entries |
//! | `events.rs` | the event streams |
//! | `runs.rs`, `steps.rs`, `catalog.rs` | the endpoints |
//! | `request.rs`, `api_error.rs` | reading requests, the error shape |
//! | `openapi.rs` | the OpenAPI document |
//!
//! Startup: read the token and refuse a non-loopback address without one (exit 2), open
//! the repository and its state database (created if missing), listen, and print
//! `listening on http://ADDR` on stderr (the real port when `--bind` asks for port 0).
//! Shutdown on SIGINT, SIGTERM or SIGHUP: no new connections, event streams end, runs
//! this server drives are cancelled as `pipeline run` cancels on a signal (unfinished
//! steps recorded `interrupted`, the run resumable), then the process exits 0 once they
//! have stopped. A second signal ends it at once.
//!
//! Webhooks: when `.pipeline/config.yaml` names webhooks or notify commands, the server
//! delivers the outbox of every run of its state database for as long as it runs
//! (docs/WEBHOOKS.md): deliveries a killed or finished `pipeline run` left pending, and
//! those of the runs it drives. Rows still pending at shutdown stay for the next process.

mod api_error;
mod app;
mod catalog;
mod dashboard;
mod events;
mod journal_reader;
mod openapi;
mod request;
mod runs;
mod security;
mod steps;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::response::IntoResponse;
use pipeline_core::engine::open_repository;
use pipeline_core::state::{Durability, StateStore};
use pipeline_webhooks::{Delivery, DeliveryConfig};
use tokio::signal::unix::{SignalKind, signal};
use tokio_util::sync::CancellationToken;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::cli::ServeArgs;
use crate::command_error::CommandError;
use crate::commands::exit;
use api_error::ApiError;
use app::App;

/// `pipeline serve [--repo DIR] [--db PATH] [--bind ADDR:PORT] [--token-file FILE]`.
///
/// Errors (exit code 2): a token that cannot be read or is too short, a non-loopback
/// address without a token, no repository, an address that cannot be bound; (exit 3) a
/// state database that cannot be opened.
pub fn serve(args: ServeArgs) -> Result<i32, CommandError> {
    let token = security::load_token(args.token_file.as_deref())?;
    security::check_bind(args.bind, token.as_ref())?;
    let (_, workspace, _) = open_repository(args.repo.repo.as_deref(), args.repo.db.as_deref())?;
    let repo_root = std::fs::canonicalize(&workspace.repo_root).map_err(|e| {
        CommandError::internal(format!(
            "cannot resolve {}: {e}",
            workspace.repo_root.display()
        ))
    })?;
    let db = match &args.repo.db {
        Some(db) if db.is_relative() => Some(
            pipeline_core::engine::current_dir()
                .map_err(CommandError::from)?
                .join(db),
        ),
        other => other.clone(),
    };
    // Created when missing (with its schema), so that streams can follow it at once.
    let state = StateStore::open(&workspace.db_path, Durability::Normal)
        .map_err(|e| CommandError::Engine(e.into()))?;
    // Writing to a client that went away must not end the server.
    crate::ignore_sigpipe();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CommandError::internal(format!("cannot start the async runtime: {e}")))?;
    runtime.block_on(run(args.bind, token, repo_root, db, workspace, state))
}

async fn run(
    bind: std::net::SocketAddr,
    token: Option<security::Token>,
    repo_root: std::path::PathBuf,
    db: Option<std::path::PathBuf>,
    workspace: pipeline_core::engine::Workspace,
    state: StateStore,
) -> Result<i32, CommandError> {
    let shutdown = CancellationToken::new();
    let journal = journal_reader::JournalReader::open(&workspace.db_path).map_err(|e| {
        CommandError::internal(format!(
            "cannot open {} to read its journal: {e}",
            workspace.db_path.display()
        ))
    })?;
    let latest = journal.latest_id().unwrap_or(0);
    let (tx, rx) = tokio::sync::watch::channel(latest);
    journal_reader::spawn_watcher(workspace.db_path.clone(), tx, shutdown.clone())
        .map_err(|e| CommandError::internal(format!("cannot start the journal watcher: {e}")))?;

    let (api_router, api) = api_routes().split_for_parts();
    let openapi = openapi::finish(api).to_string();
    let app = Arc::new(App::new(
        repo_root,
        db,
        workspace.locks_dir(),
        journal,
        state,
        rx,
        shutdown.clone(),
        openapi,
    ));
    let token = token.map(Arc::new);
    let router: Router = api_router
        .route(
            "/api/runs/{run}/steps/{step}/{*rest}",
            axum::routing::get(steps::raw).post(steps::raw),
        )
        .route("/", axum::routing::get(dashboard::index))
        .route("/ui/{*path}", axum::routing::get(dashboard::asset))
        .method_not_allowed_fallback(method_not_allowed)
        .fallback(not_found)
        .with_state(app.clone())
        .layer(axum::middleware::from_fn(security::check_length))
        .layer(DefaultBodyLimit::max(security::BODY_LIMIT))
        .layer(axum::middleware::from_fn_with_state(
            token,
            security::require_token,
        ));

    let listener = tokio::net::TcpListener::bind(bind)
        .await
        .map_err(|e| CommandError::invalid(format!("cannot listen on {bind}: {e}")))?;
    let local = listener
        .local_addr()
        .map_err(|e| CommandError::internal(format!("cannot read the bound address: {e}")))?;
    eprintln!("listening on http://{local}");
    let deliveries = start_deliveries(&workspace, shutdown.clone());

    let stop = shutdown.clone();
    let app_for_signals = app.clone();
    tokio::spawn(async move {
        let signals = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
            signal(SignalKind::hangup()),
        );
        let (Ok(mut int), Ok(mut term), Ok(mut hup)) = signals else {
            tracing::warn!("cannot handle stop signals");
            return;
        };
        let next = async |int: &mut tokio::signal::unix::Signal,
                          term: &mut tokio::signal::unix::Signal,
                          hup: &mut tokio::signal::unix::Signal| {
            tokio::select! {
                _ = int.recv() => exit::INTERRUPTED,
                _ = term.recv() => exit::TERMINATED,
                _ = hup.recv() => exit::HANGUP,
            }
        };
        next(&mut int, &mut term, &mut hup).await;
        eprintln!("shutting down: stopping the runs this server drives (again to force)");
        app_for_signals.cancel_all();
        stop.cancel();
        let code = next(&mut int, &mut term, &mut hup).await;
        std::process::exit(code);
    });

    let graceful = shutdown.clone();
    axum::serve(listener, router)
        .with_graceful_shutdown(async move { graceful.cancelled().await })
        .await
        .map_err(|e| CommandError::internal(format!("the server failed: {e}")))?;
    app.cancel_all();
    app.tasks.close();
    app.tasks.wait().await;
    if let Some(deliveries) = deliveries {
        // Deliveries in flight finish; what is still pending stays in the outbox.
        let _ = deliveries.await;
    }
    Ok(exit::OK)
}

/// Starts delivering the outbox of every run in the state database when
/// `.pipeline/config.yaml` has webhooks or notify commands, until `shutdown`. A
/// configuration that cannot be loaded (a signing secret's variable unset) is reported
/// on stderr and delivers nothing: the API still serves, and the rows stay pending for a
/// process that can sign them.
fn start_deliveries(
    workspace: &pipeline_core::engine::Workspace,
    shutdown: CancellationToken,
) -> Option<tokio::task::JoinHandle<()>> {
    let config = match DeliveryConfig::load(&workspace.repo_root, &workspace.state_dir) {
        Ok(config) if config.is_empty() => return None,
        Ok(config) => config,
        Err(e) => {
            eprintln!("warning: webhook and notify deliveries not started: {e}");
            return None;
        }
    };
    match Delivery::start(&workspace.db_path, config, shutdown) {
        Ok(task) => {
            eprintln!("delivering webhooks and notify commands (`pipeline webhooks` lists them)");
            Some(task)
        }
        Err(e) => {
            eprintln!("warning: webhook and notify deliveries not started: {e}");
            None
        }
    }
}

/// Every documented endpoint, grouped by path.
fn api_routes() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .routes(routes!(catalog::openapi))
        .routes(routes!(catalog::healthz))
        .routes(routes!(runs::list, runs::start))
        .routes(routes!(runs::status))
        .routes(routes!(runs::cancel))
        .routes(routes!(runs::resume))
        .routes(routes!(runs::plan))
        .routes(routes!(steps::detail))
        .routes(routes!(steps::logs))
        .routes(routes!(steps::diff))
        .routes(routes!(steps::approve))
        .routes(routes!(steps::reject))
        .routes(routes!(events::all_events))
        .routes(routes!(events::run_events))
        .routes(routes!(catalog::validate))
        .routes(routes!(catalog::workstreams))
        .routes(routes!(catalog::tools))
        .routes(routes!(catalog::list_breakers))
        .routes(routes!(catalog::reset_breaker))
        .routes(routes!(catalog::errors))
        .routes(routes!(catalog::openspec))
        .routes(routes!(catalog::specs))
        .routes(routes!(catalog::spec))
}

/// A method the path does not have: 405 in the API's error shape (the `Allow` header is
/// axum's).
async fn method_not_allowed(
    method: axum::http::Method,
    uri: axum::http::Uri,
) -> axum::response::Response {
    ApiError::new(
        axum::http::StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!(
            "{method} is not allowed on {}; GET /api/openapi.json lists the methods of each path",
            uri.path()
        ),
    )
    .into_response()
}

/// Any other path: 404 in the API's error shape.
async fn not_found(uri: axum::http::Uri) -> axum::response::Response {
    ApiError::not_found(
        "not_found",
        format!(
            "no endpoint {}; GET /api/openapi.json lists them",
            uri.path()
        ),
    )
    .into_response()
}

/// The OpenAPI document, for tests and `docs/API.md`.
#[cfg(test)]
pub fn openapi_document() -> serde_json::Value {
    openapi::finish(api_routes().split_for_parts().1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_documents_its_errors() {
        let doc = openapi_document();
        assert_eq!(doc["openapi"], "3.1.0");
        let paths = doc["paths"].as_object().expect("paths");
        for expected in [
            "/api/runs",
            "/api/runs/{run}",
            "/api/runs/{run}/cancel",
            "/api/runs/{run}/resume",
            "/api/runs/{run}/plan",
            "/api/runs/{run}/steps/{step}",
            "/api/runs/{run}/steps/{step}/logs",
            "/api/runs/{run}/steps/{step}/diff",
            "/api/runs/{run}/steps/{step}/approve",
            "/api/runs/{run}/steps/{step}/reject",
            "/api/events",
            "/api/runs/{run}/events",
            "/api/validate",
            "/api/tools",
            "/api/breakers",
            "/api/breakers/{tool}/reset",
            "/api/errors",
            "/api/specs",
            "/api/specs/{item}",
            "/api/openapi.json",
            "/healthz",
        ] {
            assert!(paths.contains_key(expected), "{expected} is not documented");
        }
        for (path, item) in paths {
            for (method, op) in item.as_object().expect("path item") {
                let responses = op["responses"].as_object().expect("responses");
                assert!(responses.contains_key("500"), "{method} {path}: no 500");
                if method == "post" {
                    for code in ["401", "403", "413", "415"] {
                        assert!(responses.contains_key(code), "{method} {path}: no {code}");
                    }
                }
            }
        }
        // The start of a run links to the operations on it.
        let links = &doc["paths"]["/api/runs"]["post"]["responses"]["202"]["links"];
        let ids: Vec<&str> = paths
            .values()
            .flat_map(|item| item.as_object().into_iter().flatten())
            .filter_map(|(_, op)| op["operationId"].as_str())
            .collect();
        for name in ["status", "plan", "events"] {
            let id = links[name]["operationId"].as_str().expect("a link");
            assert!(ids.contains(&id), "link {name} names no operation {id}");
        }
        // Every referenced schema exists.
        let text = doc.to_string();
        let schemas = doc["components"]["schemas"].as_object().expect("schemas");
        for part in text.split("#/components/schemas/").skip(1) {
            let name: String = part.chars().take_while(|c| *c != '"').collect();
            assert!(schemas.contains_key(&name), "schema {name} is missing");
        }
    }
}
