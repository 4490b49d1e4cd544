//! The OpenAI Responses API, as the Codex CLI calls it: `POST /v1/responses` (also
//! `/responses`, for a `base_url` without `/v1`), always streaming: the answer is a stream
//! of server-sent events, each `event: <type>` plus `data: {"type": "<type>", ...}`, in the
//! order OpenAI sends them: `response.created`, then per output item
//! `response.output_item.added`, (for assistant messages) `response.output_text.delta`,
//! `response.output_item.done`, and last `response.completed` with the usage, or
//! `response.failed` with an error. The event and item shapes follow Codex's own parser
//! (openai/codex `codex-rs/codex-api/src/sse/responses.rs`, `ResponseItem` in
//! `codex-rs/protocol/src/models.rs`).
//!
//! # Reply shape ([`crate::Scripted::Reply`] for [`crate::Api::OpenAiResponses`])
//!
//! ```json
//! {
//!   "items": [{"type": "reasoning", "id": "rs_1", "summary": []}],
//!   "exec_command": "echo hi > hi.txt",
//!   "apply_patch": "*** Begin Patch\n*** Add File: a.txt\n+hello\n*** End Patch\n",
//!   "text": "Done.",
//!   "usage": {"input_tokens": 1200, "cached_tokens": 200, "output_tokens": 85, "reasoning_tokens": 0},
//!   "error": {"code": "server_error", "message": "The model crashed"}
//! }
//! ```
//!
//! Every key is optional, but a reply must produce at least one output item or an
//! `error`. The output items come in this order:
//! - `items`: raw Responses API output items, sent as they are;
//! - `exec_command`: a `function_call` of Codex's `exec_command` tool (its shell), with
//!   arguments `{"cmd": <string>}`; give an object instead of a string to send other
//!   arguments too (`{"cmd": "ls", "workdir": "src"}`). Codex runs the command and sends
//!   its output in the next request (as a `function_call_output`), so script a second
//!   reply;
//! - `apply_patch`: a `custom_tool_call` of Codex's freeform `apply_patch` tool with the
//!   patch as input (Codex offers that tool for models it knows, e.g. `gpt-5.5`); Codex
//!   applies it and sends the result in the next request (a `custom_tool_call_output`);
//! - `text`: an assistant `message` with this `output_text`, also streamed as one delta.
//!
//! `usage` defaults to a rough count (a quarter of the characters of the request's
//! `input`, resp. of the reply), no cached and no reasoning tokens. With `error`, the
//! stream ends with `response.failed` carrying that error (OpenAI's `code` and
//! `message`) instead of `response.completed`. A reply that is not such an object is
//! answered with HTTP 500 saying why, so that a broken script fails the test loudly.
//! When the script has run out, the answer is HTTP 500 too.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};

use crate::{Api, RecordedRequest, Scripted, ServerState};

/// Numbers responses, items and tool calls (`resp_fake_<n>`, `call_fake_<n>`), so that
/// every id is unique within a server process.
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// Routes of this protocol: the Responses endpoint with and without the `/v1` prefix.
pub fn routes() -> Router<Arc<ServerState>> {
    Router::new()
        .route("/v1/responses", post(responses))
        .route("/responses", post(responses))
}

fn next_id(prefix: &str) -> String {
    format!("{prefix}_fake_{}", NEXT_ID.fetch_add(1, Ordering::Relaxed))
}

async fn responses(
    State(state): State<Arc<ServerState>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request: Value = match serde_json::from_slice(&body) {
        Ok(value) => value,
        Err(error) => {
            return error_response(
                StatusCode::BAD_REQUEST,
                &format!("fake model server: request body is not JSON: {error}"),
            );
        }
    };
    state.record(RecordedRequest {
        api: Api::OpenAiResponses,
        path: uri.path().to_owned(),
        headers: headers
            .iter()
            .map(|(name, value)| {
                (
                    name.as_str().to_owned(),
                    String::from_utf8_lossy(value.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body: request.clone(),
    });
    match state.next_reply(Api::OpenAiResponses) {
        Some(scripted) => answer(scripted, &request).await,
        None => error_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            "fake model server: the script for the OpenAI Responses API ran out of replies",
        ),
    }
}

/// Turns one scripted reply into the response to `request`.
async fn answer(mut scripted: Scripted, request: &Value) -> Response {
    loop {
        match scripted {
            Scripted::Delayed(delay, inner) => {
                tokio::time::sleep(delay).await;
                scripted = *inner;
            }
            Scripted::Stall => return std::future::pending().await,
            Scripted::StallMidStream(inner) => {
                return crate::stall_mid_stream(Box::pin(answer(*inner, request)).await).await;
            }
            Scripted::Status {
                status,
                headers,
                body,
            } => return status_response(status, &headers, body),
            Scripted::Reply(reply) => {
                return match ResponsesReply::parse(&reply, request) {
                    Ok(reply) => sse_response(&reply.events()),
                    Err(message) => error_response(StatusCode::INTERNAL_SERVER_ERROR, &message),
                };
            }
        }
    }
}

fn status_response(status: u16, headers: &[(String, String)], body: String) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let content_type = if serde_json::from_str::<Value>(&body).is_ok() {
        "application/json"
    } else {
        "text/plain; charset=utf-8"
    };
    let mut response = (status, body).into_response();
    response.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        HeaderValue::from_static(content_type),
    );
    for (name, value) in headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            response.headers_mut().append(name, value);
        }
    }
    response
}

/// The parsed `Reply(json)` of this protocol.
#[derive(Debug)]
struct ResponsesReply {
    /// Output items, complete (as in `response.output_item.done`).
    items: Vec<Value>,
    input_tokens: u64,
    cached_tokens: u64,
    output_tokens: u64,
    reasoning_tokens: u64,
    /// `response.failed` with this error instead of `response.completed`.
    error: Option<Value>,
    model: String,
}

impl ResponsesReply {
    fn parse(reply: &Value, request: &Value) -> Result<ResponsesReply, String> {
        let refuse =
            |why: &str| format!("fake model server: a Responses API reply {why}, got {reply}");
        let Some(fields) = reply.as_object() else {
            return Err(refuse("must be a JSON object"));
        };
        let known = [
            "items",
            "exec_command",
            "apply_patch",
            "text",
            "usage",
            "error",
        ];
        if let Some(unknown) = fields.keys().find(|key| !known.contains(&key.as_str())) {
            return Err(refuse(&format!(
                "has unknown key {unknown:?} (known: {})",
                known.join(", ")
            )));
        }
        let mut items = Vec::new();
        match fields.get("items") {
            None => {}
            Some(Value::Array(raw)) => items.extend(raw.iter().cloned()),
            Some(_) => return Err(refuse("needs \"items\" to be an array of output items")),
        }
        match fields.get("exec_command") {
            None => {}
            Some(Value::String(cmd)) => {
                items.push(function_call("exec_command", &json!({"cmd": cmd})))
            }
            Some(arguments @ Value::Object(_)) => {
                items.push(function_call("exec_command", arguments));
            }
            Some(_) => return Err(refuse("needs \"exec_command\" to be a string or an object")),
        }
        match fields.get("apply_patch") {
            None => {}
            Some(Value::String(patch)) => items.push(json!({
                "type": "custom_tool_call",
                "id": next_id("ctc"),
                "status": "completed",
                "call_id": next_id("call"),
                "name": "apply_patch",
                "input": patch,
            })),
            Some(_) => return Err(refuse("needs \"apply_patch\" to be a string (the patch)")),
        }
        match fields.get("text") {
            None => {}
            Some(Value::String(text)) => items.push(json!({
                "type": "message",
                "id": next_id("msg"),
                "status": "completed",
                "role": "assistant",
                "content": [{"type": "output_text", "text": text, "annotations": []}],
            })),
            Some(_) => return Err(refuse("needs \"text\" to be a string")),
        }
        let error = match fields.get("error") {
            None => None,
            Some(error @ Value::Object(_)) => Some(error.clone()),
            Some(_) => {
                return Err(refuse(
                    "needs \"error\" to be an object with code and message",
                ));
            }
        };
        if items.is_empty() && error.is_none() {
            return Err(refuse("produces no output item and no error"));
        }
        let usage = fields.get("usage");
        let number = |key: &str| usage.and_then(|u| u.get(key)).and_then(Value::as_u64);
        let request_chars = request
            .get("input")
            .map_or(0, |input| input.to_string().chars().count());
        let reply_chars: usize = items
            .iter()
            .map(|item| item.to_string().chars().count())
            .sum();
        Ok(ResponsesReply {
            input_tokens: number("input_tokens").unwrap_or((request_chars / 4 + 1) as u64),
            cached_tokens: number("cached_tokens").unwrap_or(0),
            output_tokens: number("output_tokens").unwrap_or((reply_chars / 4 + 1) as u64),
            reasoning_tokens: number("reasoning_tokens").unwrap_or(0),
            items,
            error,
            model: request
                .get("model")
                .and_then(Value::as_str)
                .unwrap_or("fake-model")
                .to_owned(),
        })
    }

    /// The SSE events of this reply, in order.
    fn events(&self) -> Vec<Value> {
        let id = next_id("resp");
        let created_at = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let response = |status: &str, output: Value| {
            json!({
                "id": id,
                "object": "response",
                "created_at": created_at,
                "status": status,
                "model": self.model,
                "output": output,
            })
        };
        let mut events = vec![json!({
            "type": "response.created",
            "response": response("in_progress", json!([])),
        })];
        for (index, item) in self.items.iter().enumerate() {
            let mut added = item.clone();
            if let Some(fields) = added.as_object_mut() {
                fields.insert("status".to_owned(), json!("in_progress"));
                if fields.get("type").and_then(Value::as_str) == Some("message") {
                    fields.insert("content".to_owned(), json!([]));
                }
            }
            events.push(json!({
                "type": "response.output_item.added",
                "output_index": index,
                "item": added,
            }));
            if item.get("type").and_then(Value::as_str) == Some("message") {
                let texts = item
                    .get("content")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|part| part.get("text").and_then(Value::as_str));
                for (content_index, text) in texts.enumerate() {
                    events.push(json!({
                        "type": "response.output_text.delta",
                        "item_id": item.get("id"),
                        "output_index": index,
                        "content_index": content_index,
                        "delta": text,
                    }));
                }
            }
            events.push(json!({
                "type": "response.output_item.done",
                "output_index": index,
                "item": item,
            }));
        }
        let output = Value::Array(self.items.clone());
        match &self.error {
            Some(error) => {
                let mut failed = response("failed", output);
                failed["error"] = error.clone();
                events.push(json!({"type": "response.failed", "response": failed}));
            }
            None => {
                let mut completed = response("completed", output);
                completed["usage"] = json!({
                    "input_tokens": self.input_tokens,
                    "input_tokens_details": {"cached_tokens": self.cached_tokens},
                    "output_tokens": self.output_tokens,
                    "output_tokens_details": {"reasoning_tokens": self.reasoning_tokens},
                    "total_tokens": self.input_tokens + self.output_tokens,
                });
                events.push(json!({"type": "response.completed", "response": completed}));
            }
        }
        events
    }
}

/// A `function_call` output item of tool `name` (its `arguments` are a JSON string, as
/// in the real API).
fn function_call(name: &str, arguments: &Value) -> Value {
    json!({
        "type": "function_call",
        "id": next_id("fc"),
        "status": "completed",
        "call_id": next_id("call"),
        "name": name,
        "arguments": arguments.to_string(),
    })
}

fn sse_response(events: &[Value]) -> Response {
    let mut body = String::new();
    for event in events {
        let kind = event
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("message");
        body.push_str("event: ");
        body.push_str(kind);
        body.push_str("\ndata: ");
        body.push_str(&event.to_string());
        body.push_str("\n\n");
    }
    let mut response = (StatusCode::OK, Body::from(body)).into_response();
    let headers = response.headers_mut();
    headers.insert(
        axum::http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(
        axum::http::header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache"),
    );
    response
}

/// An error in OpenAI's shape, so that clients show `message`.
fn error_response(status: StatusCode, message: &str) -> Response {
    let mut response = (
        status,
        json!({"error": {"message": message, "type": "fake_server_error", "code": null}})
            .to_string(),
    )
        .into_response();
    response.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::ResponsesReply;
    use serde_json::{Value, json};

    fn types(events: &[Value]) -> Vec<&str> {
        events
            .iter()
            .map(|e| e["type"].as_str().unwrap_or(""))
            .collect()
    }

    #[test]
    fn tool_calls_and_text_become_items_in_order_then_completed() {
        let reply = json!({
            "exec_command": "echo hi > hi.txt",
            "apply_patch": "*** Begin Patch\n*** End Patch\n",
            "text": "Done.",
            "usage": {"input_tokens": 50, "cached_tokens": 10, "output_tokens": 7},
        });
        let events = ResponsesReply::parse(&reply, &json!({"model": "gpt-5.5"}))
            .unwrap()
            .events();
        assert_eq!(
            types(&events),
            [
                "response.created",
                "response.output_item.added",
                "response.output_item.done",
                "response.output_item.added",
                "response.output_item.done",
                "response.output_item.added",
                "response.output_text.delta",
                "response.output_item.done",
                "response.completed",
            ]
        );
        let call = &events[2]["item"];
        assert_eq!(call["type"], "function_call");
        assert_eq!(call["name"], "exec_command");
        let arguments: Value = serde_json::from_str(call["arguments"].as_str().unwrap()).unwrap();
        assert_eq!(arguments, json!({"cmd": "echo hi > hi.txt"}));
        assert_eq!(events[4]["item"]["type"], "custom_tool_call");
        assert_eq!(
            events[4]["item"]["input"],
            "*** Begin Patch\n*** End Patch\n"
        );
        assert_eq!(events[6]["delta"], "Done.");
        let usage = &events[8]["response"]["usage"];
        assert_eq!(usage["input_tokens"], 50);
        assert_eq!(usage["input_tokens_details"]["cached_tokens"], 10);
        assert_eq!(usage["total_tokens"], 57);
        assert_eq!(events[8]["response"]["model"], "gpt-5.5");
    }

    #[test]
    fn error_ends_with_response_failed() {
        let reply = json!({"error": {"code": "server_error", "message": "boom"}});
        let events = ResponsesReply::parse(&reply, &json!({})).unwrap().events();
        assert_eq!(types(&events), ["response.created", "response.failed"]);
        assert_eq!(events[1]["response"]["error"]["message"], "boom");
    }

    #[test]
    fn empty_or_misspelled_replies_are_refused() {
        let empty = ResponsesReply::parse(&json!({}), &json!({})).unwrap_err();
        assert!(empty.contains("no output item"), "{empty}");
        let typo = ResponsesReply::parse(&json!({"txt": "x"}), &json!({})).unwrap_err();
        assert!(typo.contains("unknown key \"txt\""), "{typo}");
    }
}
