//! The OpenAPI 3.1 document (`GET /api/openapi.json`).
//!
//! Operations come from `#[utoipa::path]` on every handler (collected by utoipa-axum's
//! `OpenApiRouter`). The documents the CLI also prints (`status --json`, `runs --json`,
//! `tools --json`...) are engine types without OpenAPI derives; here each has a named
//! schema, written as JSON Schema (2020-12, which OpenAPI 3.1 uses) in
//! [`component_schemas`]: the marker types below only give the operations their names.
//! [`finish`] then adds what every operation can answer: 400 (malformed path or query),
//! 401 (with a token), 403/413/415 (state-changing requests, see `security.rs`), 422 (a
//! repository configuration that does not load), 500 and 503 (a locked database), all
//! with the error schema.

use std::borrow::Cow;

use serde_json::{Value, json};
use utoipa::openapi::{RefOr, schema::Schema};

macro_rules! named_schemas {
    ($($(#[$meta:meta])* $name:ident),+ $(,)?) => {$(
        $(#[$meta])*
        /// (Schema only: see [`component_schemas`].)
        pub enum $name {}

        impl utoipa::PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                RefOr::T(Schema::Object(utoipa::openapi::Object::new()))
            }
        }

        impl utoipa::ToSchema for $name {
            fn name() -> Cow<'static, str> {
                Cow::Borrowed(stringify!($name))
            }
        }
    )+};
}

named_schemas!(
    /// `{"error": {"code", "message", "diagnostics"?}}`.
    ErrorBody,
    /// A `text/event-stream` of journal entries.
    EventStream,
    /// `GET /api/runs`.
    RunList,
    /// `status --json`.
    RunStatusDocument,
    /// `plan --format json`.
    PlanDocument,
    /// `GET /api/runs/{run}/steps/{step}`.
    StepDetailDocument,
    /// A recorded approval decision.
    DecisionDocument,
    /// `breakers --json`.
    BreakersDocument,
    /// `errors --json`.
    ErrorsDocument,
    /// `GET /healthz`.
    Health,
    /// `spec show --json`.
    SpecDocument,
    /// `spec list --json`.
    SpecListDocument,
    /// `tools --json`.
    ToolsDocument,
    /// `validate --json`.
    ValidationDocument,
    /// `GET /api/workstreams`.
    WorkstreamList,
    /// `GET /api/openspec`.
    OpenSpecDocument,
);

/// The document's frame: title, version, tags, the bearer security scheme.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "pipeline",
        description = "REST API of `pipeline serve`: runs, steps, logs, diffs, approvals and the live event journal of a repository's state database. docs/API.md describes it.",
        license(name = "MIT OR Apache-2.0")
    ),
    tags(
        (name = "runs", description = "Runs: list, start, status, cancel, resume, plan, errors."),
        (name = "steps", description = "One step: detail, logs, diff, approval decisions. Step ids contain `/`: percent-encode it (`ws%2Fstep`)."),
        (name = "events", description = "The journal as server-sent events."),
        (name = "workstreams", description = "Listing and validating workstream files."),
        (name = "tools", description = "Tool profiles and circuit breakers."),
        (name = "specs", description = "OpenSpec changes and specs."),
        (name = "server", description = "Health and this document."),
    )
)]
pub struct ApiDoc;

fn nullable(t: &str) -> Value {
    json!({"type": [t, "null"]})
}

/// The JSON Schemas of the named documents.
fn component_schemas() -> Value {
    let string = json!({"type": "string"});
    let int = json!({"type": "integer", "minimum": 0});
    let step_status_view = json!({
        "type": "object",
        "description": "One step of `status --json`.",
        "required": ["id", "workstream", "status", "attempts", "commit", "started_at", "finished_at", "error", "depends_on", "worktree", "tests", "last_error", "usage", "attempt_usage"],
        "properties": {
            "id": string, "workstream": string,
            "status": {"type": "string", "description": "pending, running, validating, retrying, waiting, awaiting_approval, completed, failed, skipped, interrupted, cancelled"},
            "attempts": int,
            "commit": nullable("string"), "started_at": nullable("string"), "finished_at": nullable("string"),
            "error": nullable("string"),
            "depends_on": {"type": "array", "items": string},
            "worktree": nullable("string"),
            "tests": {"type": "array", "items": {"type": "object"}},
            "last_error": nullable("object"),
            "usage": {"$ref": "#/components/schemas/UsageTotals"},
            "attempt_usage": {"type": "array", "description": "Each attempt that reported usage, oldest first: `attempt`, `tool`, `usage` (as in the `attempt_finished` event, schema/events.schema.json).", "items": {
                "type": "object",
                "required": ["attempt", "tool", "usage"],
                "properties": {"attempt": int, "tool": nullable("string"), "usage": {"type": "object"}}
            }},
            "candidates": {"type": "array", "description": "Best-of-N steps only (docs/CANDIDATES.md): every candidate, in the order they started; `selected` marks the kept one.", "items": {
                "type": "object",
                "required": ["attempt", "candidate", "of", "branch", "outcome", "failed_tests", "diff_lines", "commit", "score", "error", "usage", "selected", "reason"],
                "properties": {
                    "attempt": int, "candidate": int, "of": int, "branch": string,
                    "outcome": {"type": ["string", "null"], "enum": ["passed", "failed", "interrupted", null]},
                    "failed_tests": {"type": ["integer", "null"], "minimum": 0},
                    "diff_lines": {"type": ["integer", "null"], "minimum": 0},
                    "commit": nullable("string"), "score": nullable("number"), "error": nullable("string"),
                    "usage": nullable("object"), "selected": {"type": "boolean"}, "reason": nullable("string")
                }
            }},
        }
    });
    let usage_totals = json!({
        "type": "object",
        "description": "Tokens, requests and cost summed over attempts (docs/COSTS.md).",
        "required": ["attempts", "input_tokens", "cached_input_tokens", "output_tokens", "requests", "cost_usd", "estimated", "unpriced_attempts"],
        "properties": {
            "attempts": int, "input_tokens": int, "cached_input_tokens": int,
            "output_tokens": int, "requests": int,
            "cost_usd": {"type": ["number", "null"], "minimum": 0, "description": "US dollars, the sum of the known costs; null when none is known."},
            "estimated": {"type": "boolean", "description": "Part of cost_usd is estimated from the price table."},
            "unpriced_attempts": int
        }
    });

    let driver = json!({"type": ["string", "null"], "enum": ["live", "gone", null], "description": "live: a process drives the run; gone: recorded running but no process drives it; null: neither."});
    let run_status =
        json!({"type": "string", "enum": ["running", "completed", "failed", "interrupted"]});
    json!({
        "ErrorBody": {
            "type": "object",
            "required": ["error"],
            "properties": {"error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": {"type": "string", "description": "Stable snake_case code (docs/API.md)."},
                    "message": {"type": "string"},
                    "diagnostics": {"type": "array", "items": {"type": "object"}, "description": "invalid_workstreams: the loader's diagnostics."}
                }
            }}
        },
        "EventStream": {
            "type": "object",
            "description": "One server-sent event (in OpenAPI 3.1 the schema of `text/event-stream` describes each event): `id:` the journal id, `event:` the kind, `data:` the journal entry as `pipeline run --json` prints it (schema/events.schema.json); `:` keep-alive comments every 15 s.",
            "required": ["id", "event", "data"],
            "properties": {
                "id": {"type": "string", "pattern": "^[0-9]+$"},
                "event": string,
                "data": {"type": "string", "contentMediaType": "application/json"}
            }
        },
        "RunList": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["run_id", "status", "driver", "workstream", "started_at", "finished_at", "duration_secs", "steps", "result_branch", "usage"],
                "properties": {
                    "run_id": string, "status": run_status, "driver": driver,
                    "workstream": {"type": "string", "description": "Workstream files, one per line."},
                    "started_at": string, "finished_at": nullable("string"),
                    "duration_secs": {"type": ["number", "null"], "minimum": 0},
                    "steps": {"type": "object", "required": ["completed", "failed", "skipped", "total"], "properties": {"completed": int, "failed": int, "skipped": int, "total": int}},
                    "result_branch": string,
                    "usage": {"$ref": "#/components/schemas/UsageTotals"}
                }
            }
        },
        "UsageTotals": usage_totals,
        "StepStatusView": step_status_view,
        "RunStatusDocument": {
            "type": "object",
            "required": ["run_id", "status", "driver", "workstream", "repo", "base_commit", "result_branch", "started_at", "finished_at", "steps", "usage"],
            "properties": {
                "run_id": string, "status": run_status, "driver": driver,
                "workstream": string, "repo": string, "base_commit": string, "result_branch": string,
                "started_at": string, "finished_at": nullable("string"),
                "steps": {"type": "array", "items": {"$ref": "#/components/schemas/StepStatusView"}},
                "usage": {"$ref": "#/components/schemas/UsageTotals"}
            }
        },
        "PlanDocument": {"type": "object", "description": "`pipeline plan --format json`: steps, edges, waves, critical path."},
        "StepDetailDocument": {
            "type": "object",
            "required": ["run_id", "step", "attempts", "errors", "checkpoint"],
            "properties": {
                "run_id": string,
                "step": {"$ref": "#/components/schemas/StepStatusView"},
                "attempts": {"type": "array", "items": {
                    "type": "object",
                    "required": ["attempt", "tool", "started_at", "finished_at", "outcome", "exit_code", "error", "duration_ms", "usage", "classified", "log"],
                    "properties": {
                        "attempt": int, "tool": nullable("string"), "started_at": string,
                        "finished_at": nullable("string"),
                        "outcome": {"type": ["string", "null"], "enum": ["succeeded", "failed", "timed_out", "cancelled", "interrupted", null]},
                        "exit_code": nullable("integer"), "error": nullable("string"),
                        "duration_ms": {"type": ["integer", "null"], "minimum": 0},
                        "usage": nullable("object"), "classified": nullable("object"),
                        "log": string
                    }
                }},
                "errors": {"type": "array", "items": {"type": "object"}},
                "checkpoint": {"type": ["object", "null"], "properties": {
                    "commit": string, "start_commit": string,
                    "inputs": {"type": "array", "items": string},
                    "changed": {"type": "array", "items": string},
                    "attempt": int, "tool": nullable("string")
                }}
            }
        },
        "DecisionDocument": {
            "type": "object",
            "required": ["run_id", "step", "attempt", "verdict", "driver_live"],
            "properties": {
                "run_id": string, "step": string, "attempt": int,
                "verdict": {"type": "string", "enum": ["approve", "reject"]},
                "driver_live": {"type": "boolean", "description": "A live process drives the run and applies the decision; otherwise resuming the run does."}
            }
        },
        "BreakersDocument": {
            "type": "object",
            "required": ["reset", "breakers"],
            "properties": {
                "reset": {"type": ["object", "null"], "properties": {"tool": string, "existed": {"type": "boolean"}}},
                "breakers": {"type": "array", "items": {"type": "object", "required": ["tool", "status"], "properties": {"tool": string, "status": string}}}
            }
        },
        "ErrorsDocument": {
            "type": "object",
            "required": ["run_id", "errors"],
            "properties": {"run_id": string, "errors": {"type": "array", "items": {"type": "object"}}}
        },
        "OpenSpecDocument": {
            "type": "object",
            "required": ["project"],
            "properties": {
                "project": {"type": "boolean", "description": "Whether the repository has an `openspec/` directory."},
                "validation": {"type": "object", "description": "`pipeline spec validate --all --json`: `items` (each with `id`, `type`, `valid`, `issues`), `summary`, `conflicts`, `dependencyCycles`. Absent without a project."}
            }
        },
        "WorkstreamList": {
            "type": "object",
            "required": ["directory", "workstreams", "truncated"],
            "properties": {
                "directory": {"type": "string", "description": "The directory searched, relative to the repository root."},
                "workstreams": {"type": "array", "items": {
                    "type": "object",
                    "required": ["path", "bytes"],
                    "properties": {
                        "path": {"type": "string", "description": "Relative to the repository root, `/`-separated."},
                        "bytes": {"type": "integer", "minimum": 0}
                    }
                }},
                "truncated": {"type": "boolean", "description": "More than 2000 files: only the first 2000 by path are listed."}
            }
        },
        "Health": {
            "type": "object",
            "required": ["status", "version"],
            "properties": {"status": {"type": "string", "enum": ["ok"]}, "version": string}
        },
        "SpecDocument": {"type": "object", "description": "`openspec show --json` of a change or a spec."},
        "SpecListDocument": {
            "type": "object",
            "properties": {
                "changes": {"type": "array", "items": {"type": "object"}},
                "specs": {"type": "array", "items": {"type": "object"}}
            }
        },
        "ToolsDocument": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name", "profile", "found", "version", "error", "breaker", "sandbox"],
                "properties": {
                    "name": string, "profile": {"type": "object"},
                    "found": nullable("string"), "version": nullable("string"), "error": nullable("string"),
                    "breaker": string, "sandbox": {"type": "object"}
                }
            }
        },
        "ValidationDocument": {
            "type": "object",
            "required": ["valid", "diagnostics"],
            "properties": {
                "valid": {"type": "boolean"},
                "workstreams": int, "steps": int,
                "files": {"type": "array", "items": string},
                "diagnostics": {"type": "array", "items": {"type": "object"}}
            }
        }
    })
}

/// The error response `description`, referencing the error schema.
fn error_response(description: &str) -> Value {
    json!({
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
    })
}

/// The final document: `api` with the named schemas, the security scheme and the
/// responses every operation can give (see the module docs).
pub fn finish(api: utoipa::openapi::OpenApi) -> Value {
    let mut doc = serde_json::to_value(&api).unwrap_or_else(|_| json!({}));
    doc["info"]["version"] = json!(env!("CARGO_PKG_VERSION"));
    if let (Some(schemas), Value::Object(named)) = (
        doc.pointer_mut("/components/schemas")
            .and_then(Value::as_object_mut),
        component_schemas(),
    ) {
        schemas.extend(named);
    }
    doc["components"]["securitySchemes"] = json!({
        "bearer": {"type": "http", "scheme": "bearer", "description": "Required when the server has a token (always on a non-loopback address)."}
    });
    // A token is optional on loopback: either no security or the bearer token.
    doc["security"] = json!([{}, {"bearer": []}]);
    // The run a start answers is where its status, plan and events are.
    if let Some(accepted) = doc.pointer_mut("/paths/~1api~1runs/post/responses/202") {
        let run = json!({"run": "$response.body#/run_id"});
        accepted["links"] = json!({
            "status": {"operationId": "status", "parameters": run},
            "plan": {"operationId": "plan", "parameters": run},
            "events": {"operationId": "run_events", "parameters": run},
        });
    }
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return doc;
    };
    for (path, item) in paths.iter_mut() {
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        for (method, op) in item.iter_mut() {
            let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) else {
                continue;
            };
            let mut add = |code: &str, description: &str| {
                responses
                    .entry(code.to_owned())
                    .or_insert_with(|| error_response(description));
            };
            if path != "/healthz" {
                add("400", "A malformed path parameter or query string.");
                add(
                    "401",
                    "The server has a token and the request does not carry it (`WWW-Authenticate: Bearer`).",
                );
            }
            if method == "post" {
                add(
                    "403",
                    "A cross-origin request (an `Origin` other than this server).",
                );
                add("413", "The body is larger than 1 MiB.");
                add(
                    "415",
                    "The request has no `Content-Type: application/json`.",
                );
            }
            add("500", "An internal error (the state database, git).");
            if path != "/healthz" && path != "/api/openapi.json" {
                add(
                    "422",
                    "The repository cannot be used as it is: an invalid `.pipeline/config.yaml` (`invalid_config`), no commit yet, a state database that is not pipeline's (`invalid_repository`).",
                );
                add(
                    "503",
                    "The state database is locked by another process for longer than 5 s (`busy`).",
                );
            }
        }
    }
    doc
}
