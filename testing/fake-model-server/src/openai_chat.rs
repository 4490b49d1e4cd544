//! The OpenAI chat-completions API, as Aider (through LiteLLM and the `openai` Python
//! client) calls it: `POST /v1/chat/completions` (also `/chat/completions`, for an
//! `api_base` without `/v1`), streaming (`"stream": true`: server-sent events, one
//! `data: {chat.completion.chunk}` line per piece of the reply, then `data: [DONE]`) and
//! not (one `chat.completion` object). `GET /v1/models` (and `/models`) lists no models;
//! it consumes no scripted reply.
//!
//! # Reply shape ([`crate::Scripted::Reply`] for [`crate::Api::OpenAiChat`])
//!
//! ```json
//! {
//!   "content": "assistant text (e.g. an Aider whole-file or SEARCH/REPLACE edit)",
//!   "usage": {"prompt_tokens": 1200, "completion_tokens": 85, "cached_tokens": 0},
//!   "finish_reason": "stop",
//!   "model": "fake-model",
//!   "chunk_chars": 24
//! }
//! ```
//!
//! Only `content` is required. `usage` defaults to a rough count (a quarter of the
//! characters of the request's messages, resp. of `content`); `finish_reason` defaults to
//! `stop`; `model` to the request's `model`; `chunk_chars` (streaming only, characters per
//! chunk, default 24) to how the content is cut into chunks. Streaming replies carry the
//! usage in a last chunk with no choices when the request asks for it with
//! `"stream_options": {"include_usage": true}`, as OpenAI does. A reply that is not an
//! object with a string `content` is answered with HTTP 500 saying so, so that a broken
//! script fails the test loudly instead of confusing the tool.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use crate::{Api, RecordedRequest, Scripted, ServerState};

/// Default characters per streamed chunk.
const DEFAULT_CHUNK_CHARS: usize = 24;

/// Numbers the completion ids (`chatcmpl-fake-<n>`), so every reply has its own.
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// Routes of this protocol: chat completions with and without the `/v1` prefix, and
/// the model list.
pub fn routes() -> Router<Arc<ServerState>> {
    Router::new()
        .route("/v1/chat/completions", post(chat_completions))
        .route("/chat/completions", post(chat_completions))
        .route("/v1/models", get(models))
        .route("/models", get(models))
}

async fn models() -> Response {
    json_response(StatusCode::OK, &json!({"object": "list", "data": []}))
}

async fn chat_completions(
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
        api: Api::OpenAiChat,
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
    match state.next_reply(Api::OpenAiChat) {
        Some(scripted) => answer(scripted, &request).await,
        None => error_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            "fake model server: the script for the OpenAI chat API ran out of replies",
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
            Scripted::Reply(reply) => return reply_response(&reply, request),
        }
    }
}

fn status_response(status: u16, headers: &[(String, String)], body: String) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let is_json = serde_json::from_str::<Value>(&body).is_ok();
    let mut response = (status, body).into_response();
    let content_type = if is_json {
        "application/json"
    } else {
        "text/plain; charset=utf-8"
    };
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
struct ChatReply {
    content: String,
    prompt_tokens: u64,
    completion_tokens: u64,
    cached_tokens: u64,
    finish_reason: String,
    model: String,
    chunk_chars: usize,
}

impl ChatReply {
    fn parse(reply: &Value, request: &Value) -> Result<ChatReply, String> {
        let content = reply
            .get("content")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                format!("fake model server: an OpenAI chat reply needs a string \"content\", got {reply}")
            })?
            .to_owned();
        let usage = reply.get("usage");
        let number = |key: &str| usage.and_then(|u| u.get(key)).and_then(Value::as_u64);
        let request_chars: usize = request
            .get("messages")
            .and_then(Value::as_array)
            .map(|messages| {
                messages
                    .iter()
                    .map(|m| match m.get("content") {
                        Some(Value::String(text)) => text.chars().count(),
                        Some(other) => other.to_string().chars().count(),
                        None => 0,
                    })
                    .sum()
            })
            .unwrap_or(0);
        Ok(ChatReply {
            prompt_tokens: number("prompt_tokens").unwrap_or((request_chars / 4 + 1) as u64),
            completion_tokens: number("completion_tokens")
                .unwrap_or((content.chars().count() / 4 + 1) as u64),
            cached_tokens: number("cached_tokens").unwrap_or(0),
            content,
            finish_reason: reply
                .get("finish_reason")
                .and_then(Value::as_str)
                .unwrap_or("stop")
                .to_owned(),
            model: reply
                .get("model")
                .or_else(|| request.get("model"))
                .and_then(Value::as_str)
                .unwrap_or("fake-model")
                .to_owned(),
            chunk_chars: reply
                .get("chunk_chars")
                .and_then(Value::as_u64)
                .map_or(DEFAULT_CHUNK_CHARS, |n| (n as usize).max(1)),
        })
    }

    fn usage(&self) -> Value {
        json!({
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
            "prompt_tokens_details": {"cached_tokens": self.cached_tokens},
        })
    }
}

fn reply_response(reply: &Value, request: &Value) -> Response {
    let reply = match ChatReply::parse(reply, request) {
        Ok(reply) => reply,
        Err(message) => return error_response(StatusCode::INTERNAL_SERVER_ERROR, &message),
    };
    let id = format!("chatcmpl-fake-{}", NEXT_ID.fetch_add(1, Ordering::Relaxed));
    let created = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let streaming = request.get("stream").and_then(Value::as_bool) == Some(true);
    if !streaming {
        return json_response(
            StatusCode::OK,
            &json!({
                "id": id,
                "object": "chat.completion",
                "created": created,
                "model": reply.model,
                "choices": [{
                    "index": 0,
                    "message": {"role": "assistant", "content": reply.content},
                    "finish_reason": reply.finish_reason,
                }],
                "usage": reply.usage(),
            }),
        );
    }
    let include_usage = request
        .pointer("/stream_options/include_usage")
        .and_then(Value::as_bool)
        == Some(true);
    let chunk = |delta: Value, finish_reason: Value| {
        json!({
            "id": id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": reply.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
        })
    };
    let mut events = vec![chunk(
        json!({"role": "assistant", "content": ""}),
        Value::Null,
    )];
    let chars: Vec<char> = reply.content.chars().collect();
    for piece in chars.chunks(reply.chunk_chars) {
        let text: String = piece.iter().collect();
        events.push(chunk(json!({"content": text}), Value::Null));
    }
    events.push(chunk(json!({}), json!(reply.finish_reason)));
    if include_usage {
        events.push(json!({
            "id": id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": reply.model,
            "choices": [],
            "usage": reply.usage(),
        }));
    }
    let mut body = String::new();
    for event in events {
        body.push_str("data: ");
        body.push_str(&event.to_string());
        body.push_str("\n\n");
    }
    body.push_str("data: [DONE]\n\n");
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

fn json_response(status: StatusCode, value: &Value) -> Response {
    let mut response = (status, value.to_string()).into_response();
    response.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// An error in OpenAI's shape, so that clients show `message`.
fn error_response(status: StatusCode, message: &str) -> Response {
    json_response(
        status,
        &json!({"error": {"message": message, "type": "fake_server_error", "code": null}}),
    )
}

#[cfg(test)]
mod tests {
    use super::ChatReply;
    use serde_json::json;

    #[test]
    fn reply_defaults_come_from_the_request() {
        let request = json!({"model": "m1", "messages": [{"role": "user", "content": "abcdefgh"}]});
        let reply = ChatReply::parse(&json!({"content": "hello"}), &request).unwrap();
        assert_eq!(reply.model, "m1");
        assert_eq!(reply.prompt_tokens, 3);
        assert_eq!(reply.completion_tokens, 2);
        assert_eq!(reply.finish_reason, "stop");
    }

    #[test]
    fn reply_without_content_is_refused() {
        let error = ChatReply::parse(&json!({"text": "x"}), &json!({}))
            .err()
            .unwrap();
        assert!(error.contains("\"content\""), "{error}");
    }
}
