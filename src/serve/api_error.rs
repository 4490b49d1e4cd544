//! The API's one error shape, `{"error": {"code", "message"}}` (plus `diagnostics` for
//! invalid workstream files), and how engine and command errors map to HTTP statuses.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use pipeline_core::engine::EngineError;
use pipeline_core::git::GitError;
use pipeline_core::state::StateError;

use crate::command_error::CommandError;

/// An error answer: its HTTP status, a stable snake_case `code` (docs/API.md lists them)
/// and a message for people.
#[derive(Debug)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// Stable, machine-readable: `unknown_run`, `unfinished_run`, `invalid_workstreams`...
    pub code: &'static str,
    /// What went wrong and what to do, in words.
    pub message: String,
    /// For `invalid_workstreams`: the loader's diagnostics (file, pointer, message).
    pub diagnostics: Option<serde_json::Value>,
}

impl ApiError {
    /// An error with `status`, `code` and `message`.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            diagnostics: None,
        }
    }

    /// 400 with `code`.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// 404 with `code`.
    pub fn not_found(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, code, message)
    }

    /// 409 with `code`.
    pub fn conflict(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::CONFLICT, code, message)
    }

    /// 422 with `code`.
    pub fn unprocessable(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
    }

    /// 500 `internal`.
    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
    }

    /// 413 `body_too_large`.
    pub fn too_large(limit: usize) -> ApiError {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!("the request body is larger than {limit} bytes"),
        )
    }

    /// The engine's [`EngineError::Input`] of a lookup as a 404 with `code` (an unknown
    /// step, logs that do not exist); every other error as [`From<EngineError>`] maps it.
    pub fn input_as_not_found(e: EngineError, code: &'static str) -> ApiError {
        match e {
            EngineError::Input(message) => ApiError::not_found(code, message),
            other => other.into(),
        }
    }
}

impl From<EngineError> for ApiError {
    /// UnknownRun 404; UnfinishedRun, NotAwaitingApproval, a locked or existing run 409;
    /// invalid workstream files, configuration, plugins, policies and git revisions 422;
    /// other input 400; a database locked by another process 503; other errors a user
    /// can fix (a repository without commits, a database that is not ours) 422; the rest
    /// (git, the database, bugs) 500.
    fn from(e: EngineError) -> ApiError {
        let message = e.to_string();
        let user_error = e.exit_code() == pipeline_core::exit_code::INVALID;
        match e {
            EngineError::UnknownRun(_) => ApiError::not_found("unknown_run", message),
            EngineError::UnfinishedRun { .. } => ApiError::conflict("unfinished_run", message),
            EngineError::NotAwaitingApproval { .. } => {
                ApiError::conflict("not_awaiting_approval", message)
            }
            EngineError::Invalid(load) => {
                let n = load.errors().count();
                ApiError {
                    diagnostics: serde_json::to_value(&load.diagnostics).ok(),
                    ..ApiError::unprocessable(
                        "invalid_workstreams",
                        format!(
                            "the workstream files are invalid: {n} error{} found; nothing was run",
                            if n == 1 { "" } else { "s" }
                        ),
                    )
                }
            }
            EngineError::Input(_) => ApiError::bad_request("invalid_input", message),
            EngineError::Config(_) | EngineError::Plugin(_) | EngineError::Policy { .. } => {
                ApiError::unprocessable("invalid_config", message)
            }
            EngineError::Git(
                GitError::UnknownRevision { .. }
                | GitError::NotACommit { .. }
                | GitError::InvalidBranchName { .. }
                | GitError::InvalidRunId { .. },
            ) => ApiError::unprocessable("invalid_revision", message),
            EngineError::State(StateError::RunLocked { .. }) => {
                ApiError::conflict("run_locked", message)
            }
            EngineError::State(StateError::RunExists { .. }) => {
                ApiError::conflict("run_exists", message)
            }
            EngineError::State(StateError::InvalidRunId { .. }) => {
                ApiError::unprocessable("invalid_run_id", message)
            }
            EngineError::State(StateError::RunNotFound { .. }) => {
                ApiError::not_found("unknown_run", message)
            }
            EngineError::State(StateError::Busy { .. }) => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "busy", message)
            }
            // The repository or database itself is not usable (no commit yet, not ours).
            _ if user_error => ApiError::unprocessable("invalid_repository", message),
            _ => ApiError::internal(message),
        }
    }
}

impl From<CommandError> for ApiError {
    /// An engine error maps as [`From<EngineError>`]; a worded message with exit code 2
    /// is a 400, anything else a 500.
    fn from(e: CommandError) -> ApiError {
        match e {
            CommandError::Engine(e) => e.into(),
            CommandError::Message { text, code } | CommandError::Document { json: text, code } => {
                let text = text.strip_prefix("error: ").unwrap_or(&text).to_owned();
                if code == pipeline_core::exit_code::INVALID {
                    ApiError::bad_request("invalid_input", text)
                } else {
                    ApiError::internal(text)
                }
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut error = serde_json::json!({"code": self.code, "message": self.message});
        if let Some(d) = self.diagnostics {
            error["diagnostics"] = d;
        }
        (self.status, Json(serde_json::json!({ "error": error }))).into_response()
    }
}
