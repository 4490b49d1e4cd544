//! The Anthropic Messages API, as Claude Code calls it: `POST /v1/messages` (Claude Code
//! adds `?beta=true`, which routing ignores), streaming (`"stream": true`: server-sent
//! events `message_start`, `content_block_start` / `content_block_delta` /
//! `content_block_stop` per content block, `message_delta` with the stop reason and the
//! output usage, `message_stop`) and not (one `message` object).
//! `POST /v1/messages/count_tokens` answers a rough count and consumes no scripted reply.
//!
//! Side calls: a request without `tools` (Claude Code asks a small model for titles and
//! summaries that way; its agent loop always sends its tools) is answered with a generic
//! text reply and consumes no scripted reply, so a script lists exactly the turns of the
//! agent loop. Such requests are still recorded.
//!
//! # Reply shape ([`crate::Scripted::Reply`] for [`crate::Api::AnthropicMessages`])
//!
//! ```json
//! {
//!   "content": [
//!     {"type": "text", "text": "I will create the file."},
//!     {"type": "tool_use", "name": "Bash", "input": {"command": "echo hi > hi.txt"}}
//!   ],
//!   "stop_reason": "tool_use",
//!   "usage": {"input_tokens": 1200, "output_tokens": 85,
//!             "cache_read_input_tokens": 0, "cache_creation_input_tokens": 0},
//!   "model": "claude-fake",
//!   "chunk_chars": 24
//! }
//! ```
//!
//! Shorthands: `{"text": "..."}` is one text block; `{"tool_use": {"name": .., "input": ..}}`
//! is one tool-use block (after the text block when both are given). A tool-use block
//! may give its `id`, else one is made up (`toolu_fake_<n>`). `stop_reason` defaults to
//! `tool_use` when the reply uses a tool, else `end_turn`; `usage` defaults to a rough count
//! (a quarter of the characters of the request's messages, resp. of the reply); `model`
//! to the request's `model`; `chunk_chars` (streaming only, default 24) to how text and
//! tool input JSON are cut into `text_delta` / `input_json_delta` pieces. After a tool use
//! Claude Code runs the tool and sends its result in the next request, so a test scripts
//! two replies: the tool use, then the closing text.
//!
//! [`text`], [`tool_use`], [`rate_limited`] and [`unauthorized`] build common scripted
//! replies. A reply in any other shape is answered with HTTP 500 saying why, so that a
//! broken script fails the test loudly instead of confusing the tool.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};

use crate::{Api, RecordedRequest, Scripted, ServerState};

/// Default characters per streamed delta.
const DEFAULT_CHUNK_CHARS: usize = 24;

/// Numbers message and tool-use ids, so every reply has its own.
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// Routes of this protocol: messages and token counting.
pub fn routes() -> Router<Arc<ServerState>> {
    Router::new()
        .route("/v1/messages", post(messages))
        .route("/v1/messages/count_tokens", post(count_tokens))
}

/// A scripted text reply ending the turn.
pub fn text(text: &str) -> Scripted {
    Scripted::Reply(json!({ "text": text }))
}

/// A scripted reply using tool `name` (`Bash`, `Write`, `Edit`, ...) with `input`, e.g.
/// `tool_use("Bash", json!({"command": "echo hi > hi.txt"}))`.
pub fn tool_use(name: &str, input: Value) -> Scripted {
    Scripted::Reply(json!({ "tool_use": { "name": name, "input": input } }))
}

/// HTTP 429 in Anthropic's shape (`rate_limit_error`) with `Retry-After: <seconds>`.
pub fn rate_limited(retry_after_secs: u64) -> Scripted {
    Scripted::Status {
        status: 429,
        headers: vec![("retry-after".to_owned(), retry_after_secs.to_string())],
        body: error_body(
            "rate_limit_error",
            "Number of request tokens has exceeded your per-minute rate limit",
        )
        .to_string(),
    }
}

/// HTTP 401 in Anthropic's shape (`authentication_error`, "invalid x-api-key").
pub fn unauthorized() -> Scripted {
    Scripted::Status {
        status: 401,
        headers: Vec::new(),
        body: error_body("authentication_error", "invalid x-api-key").to_string(),
    }
}

fn error_body(kind: &str, message: &str) -> Value {
    json!({
        "type": "error",
        "error": {"type": kind, "message": message},
        "request_id": "req_fake",
    })
}

async fn count_tokens(
    State(state): State<Arc<ServerState>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request = match parse_and_record(&state, &uri, &headers, &body) {
        Ok(request) => request,
        Err(message) => return error_response(StatusCode::BAD_REQUEST, &message),
    };
    let chars = request_chars(&request);
    json_response(StatusCode::OK, &json!({ "input_tokens": chars / 4 + 1 }))
}

async fn messages(
    State(state): State<Arc<ServerState>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request = match parse_and_record(&state, &uri, &headers, &body) {
        Ok(request) => request,
        Err(message) => return error_response(StatusCode::BAD_REQUEST, &message),
    };
    let has_tools = request
        .get("tools")
        .and_then(Value::as_array)
        .is_some_and(|tools| !tools.is_empty());
    if !has_tools {
        return reply_response(&json!({ "text": "OK" }), &request);
    }
    match state.next_reply(Api::AnthropicMessages) {
        Some(scripted) => answer(scripted, &request).await,
        None => error_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            "fake model server: the script for the Anthropic messages API ran out of replies",
        ),
    }
}

/// Parses the JSON body and records the request; the error is the message of the HTTP
/// 400 answering a body that is not JSON.
fn parse_and_record(
    state: &ServerState,
    uri: &Uri,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Value, String> {
    let request: Value = serde_json::from_slice(body)
        .map_err(|error| format!("fake model server: request body is not JSON: {error}"))?;
    state.record(RecordedRequest {
        api: Api::AnthropicMessages,
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
    Ok(request)
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
            Scripted::Reply(reply) => return reply_response(&reply, request),
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

/// Characters of the request's messages and system prompt, for rough token counts.
fn request_chars(request: &Value) -> usize {
    let messages = request
        .get("messages")
        .map_or(0, |messages| messages.to_string().chars().count());
    let system = request
        .get("system")
        .map_or(0, |system| system.to_string().chars().count());
    messages + system
}

/// The parsed `Reply(json)` of this protocol.
#[derive(Debug)]
struct MessageReply {
    /// Content blocks as the API returns them (tool-use blocks with their `id`).
    content: Vec<Value>,
    stop_reason: String,
    input_tokens: u64,
    output_tokens: u64,
    cache_read_input_tokens: u64,
    cache_creation_input_tokens: u64,
    model: String,
    chunk_chars: usize,
}

impl MessageReply {
    fn parse(reply: &Value, request: &Value) -> Result<MessageReply, String> {
        let bad = |why: &str| {
            format!("fake model server: an Anthropic messages reply {why}, got {reply}")
        };
        let mut content = Vec::new();
        if let Some(blocks) = reply.get("content") {
            let blocks = blocks
                .as_array()
                .ok_or_else(|| bad("needs \"content\" to be an array"))?;
            for block in blocks {
                content.push(content_block(block).map_err(|why| bad(&why))?);
            }
        }
        if let Some(text) = reply.get("text") {
            let text = text
                .as_str()
                .ok_or_else(|| bad("needs \"text\" to be a string"))?;
            content.push(json!({"type": "text", "text": text}));
        }
        if let Some(tool) = reply.get("tool_use") {
            let mut block = tool.clone();
            if let Some(object) = block.as_object_mut() {
                object.insert("type".to_owned(), json!("tool_use"));
            }
            content.push(content_block(&block).map_err(|why| bad(&why))?);
        }
        if content.is_empty() {
            return Err(bad("needs \"content\", \"text\" or \"tool_use\""));
        }
        let uses_tool = content.iter().any(|block| block["type"] == "tool_use");
        let reply_chars: usize = content
            .iter()
            .map(|block| block.to_string().chars().count())
            .sum();
        let usage = reply.get("usage");
        let number = |key: &str| usage.and_then(|u| u.get(key)).and_then(Value::as_u64);
        Ok(MessageReply {
            content,
            stop_reason: reply
                .get("stop_reason")
                .and_then(Value::as_str)
                .unwrap_or(if uses_tool { "tool_use" } else { "end_turn" })
                .to_owned(),
            input_tokens: number("input_tokens").unwrap_or((request_chars(request) / 4 + 1) as u64),
            output_tokens: number("output_tokens").unwrap_or((reply_chars / 4 + 1) as u64),
            cache_read_input_tokens: number("cache_read_input_tokens").unwrap_or(0),
            cache_creation_input_tokens: number("cache_creation_input_tokens").unwrap_or(0),
            model: reply
                .get("model")
                .or_else(|| request.get("model"))
                .and_then(Value::as_str)
                .unwrap_or("claude-fake")
                .to_owned(),
            chunk_chars: reply
                .get("chunk_chars")
                .and_then(Value::as_u64)
                .map_or(DEFAULT_CHUNK_CHARS, |n| (n as usize).max(1)),
        })
    }

    /// Usage as `message_start` carries it (output tokens are only known at the end).
    fn start_usage(&self) -> Value {
        json!({
            "input_tokens": self.input_tokens,
            "cache_read_input_tokens": self.cache_read_input_tokens,
            "cache_creation_input_tokens": self.cache_creation_input_tokens,
            "output_tokens": 1,
        })
    }

    fn final_usage(&self) -> Value {
        json!({
            "input_tokens": self.input_tokens,
            "cache_read_input_tokens": self.cache_read_input_tokens,
            "cache_creation_input_tokens": self.cache_creation_input_tokens,
            "output_tokens": self.output_tokens,
        })
    }
}

/// Checks one content block and gives tool uses an id.
fn content_block(block: &Value) -> Result<Value, String> {
    match block.get("type").and_then(Value::as_str) {
        Some("text") => match block.get("text").and_then(Value::as_str) {
            Some(text) => Ok(json!({"type": "text", "text": text})),
            None => Err("needs a string \"text\" in a text block".to_owned()),
        },
        Some("tool_use") => {
            let name = block
                .get("name")
                .and_then(Value::as_str)
                .ok_or("needs a string \"name\" in a tool_use block")?;
            let input = block.get("input").cloned().unwrap_or_else(|| json!({}));
            if !input.is_object() {
                return Err("needs an object \"input\" in a tool_use block".to_owned());
            }
            let id = block.get("id").and_then(Value::as_str).map_or_else(
                || format!("toolu_fake_{}", NEXT_ID.fetch_add(1, Ordering::Relaxed)),
                str::to_owned,
            );
            Ok(json!({"type": "tool_use", "id": id, "name": name, "input": input}))
        }
        _ => Err("needs content blocks of type \"text\" or \"tool_use\"".to_owned()),
    }
}

fn reply_response(reply: &Value, request: &Value) -> Response {
    let reply = match MessageReply::parse(reply, request) {
        Ok(reply) => reply,
        Err(message) => return error_response(StatusCode::INTERNAL_SERVER_ERROR, &message),
    };
    let id = format!("msg_fake_{}", NEXT_ID.fetch_add(1, Ordering::Relaxed));
    let streaming = request.get("stream").and_then(Value::as_bool) == Some(true);
    if !streaming {
        return json_response(
            StatusCode::OK,
            &json!({
                "id": id,
                "type": "message",
                "role": "assistant",
                "model": reply.model,
                "content": reply.content,
                "stop_reason": reply.stop_reason,
                "stop_sequence": null,
                "usage": reply.final_usage(),
            }),
        );
    }
    let mut body = String::new();
    let mut event = |name: &str, data: Value| {
        body.push_str("event: ");
        body.push_str(name);
        body.push_str("\ndata: ");
        body.push_str(&data.to_string());
        body.push_str("\n\n");
    };
    event(
        "message_start",
        json!({"type": "message_start", "message": {
            "id": id, "type": "message", "role": "assistant", "model": reply.model,
            "content": [], "stop_reason": null, "stop_sequence": null,
            "usage": reply.start_usage(),
        }}),
    );
    for (index, block) in reply.content.iter().enumerate() {
        let (start, pieces, delta_type, delta_key) = if block["type"] == "tool_use" {
            let input = block["input"].to_string();
            (
                json!({"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}),
                chunks(&input, reply.chunk_chars),
                "input_json_delta",
                "partial_json",
            )
        } else {
            let text = block["text"].as_str().unwrap_or_default();
            (
                json!({"type": "text", "text": ""}),
                chunks(text, reply.chunk_chars),
                "text_delta",
                "text",
            )
        };
        event(
            "content_block_start",
            json!({"type": "content_block_start", "index": index, "content_block": start}),
        );
        for piece in pieces {
            event(
                "content_block_delta",
                json!({"type": "content_block_delta", "index": index,
                       "delta": {"type": delta_type, delta_key: piece}}),
            );
        }
        event(
            "content_block_stop",
            json!({"type": "content_block_stop", "index": index}),
        );
    }
    event(
        "message_delta",
        json!({"type": "message_delta",
               "delta": {"stop_reason": reply.stop_reason, "stop_sequence": null},
               "usage": {"output_tokens": reply.output_tokens}}),
    );
    event("message_stop", json!({"type": "message_stop"}));
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

/// `text` cut into pieces of at most `size` characters (at least one piece).
fn chunks(text: &str, size: usize) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    if chars.is_empty() {
        return vec![String::new()];
    }
    chars
        .chunks(size)
        .map(|piece| piece.iter().collect())
        .collect()
}

fn json_response(status: StatusCode, value: &Value) -> Response {
    let mut response = (status, value.to_string()).into_response();
    response.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// An error in Anthropic's shape, so that clients show `message`.
fn error_response(status: StatusCode, message: &str) -> Response {
    json_response(status, &error_body("api_error", message))
}

#[cfg(test)]
mod tests {
    use super::{MessageReply, chunks};
    use serde_json::json;

    #[test]
    fn shorthands_become_content_blocks_with_a_tool_use_stop() {
        let request = json!({"model": "m1", "messages": [{"role": "user", "content": "abcdefgh"}]});
        let reply = MessageReply::parse(
            &json!({"text": "I will", "tool_use": {"name": "Bash", "input": {"command": "true"}}}),
            &request,
        )
        .unwrap();
        assert_eq!(reply.content.len(), 2);
        assert_eq!(reply.content[0]["type"], "text");
        assert_eq!(reply.content[1]["name"], "Bash");
        assert!(
            reply.content[1]["id"]
                .as_str()
                .unwrap()
                .starts_with("toolu_fake_")
        );
        assert_eq!(reply.stop_reason, "tool_use");
        assert_eq!(reply.model, "m1");
    }

    #[test]
    fn usage_given_in_the_reply_wins_over_the_estimate() {
        let reply = MessageReply::parse(
            &json!({"text": "done", "usage": {"input_tokens": 7, "output_tokens": 3, "cache_read_input_tokens": 2}}),
            &json!({}),
        )
        .unwrap();
        assert_eq!(
            (
                reply.input_tokens,
                reply.output_tokens,
                reply.cache_read_input_tokens
            ),
            (7, 3, 2)
        );
        assert_eq!(reply.stop_reason, "end_turn");
    }

    #[test]
    fn malformed_replies_are_refused_with_the_reason() {
        let error = MessageReply::parse(&json!({"content": "x"}), &json!({})).unwrap_err();
        assert!(error.contains("array"), "{error}");
        let error =
            MessageReply::parse(&json!({"tool_use": {"input": {}}}), &json!({})).unwrap_err();
        assert!(error.contains("\"name\""), "{error}");
        let error = MessageReply::parse(&json!({}), &json!({})).unwrap_err();
        assert!(error.contains("\"tool_use\""), "{error}");
    }

    #[test]
    fn chunks_cut_by_characters() {
        assert_eq!(chunks("héllo", 2), vec!["hé", "ll", "o"]);
        assert_eq!(chunks("", 4), vec![""]);
    }
}
