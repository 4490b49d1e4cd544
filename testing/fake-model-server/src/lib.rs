//! A scripted model API server for tests: listens on 127.0.0.1 on an ephemeral port and
//! answers the real AI coding CLIs (Aider, the Codex CLI, Claude Code) with replies each
//! test scripts in advance, so the adapters are tested against the real programs without
//! the internet.
//!
//! One module per wire protocol: [`openai_chat`] (OpenAI chat completions, streaming and
//! not: Aider through LiteLLM), [`openai_responses`] (OpenAI Responses API over SSE: Codex),
//! [`anthropic_messages`] (Anthropic Messages API over SSE: Claude Code). Each protocol has
//! its own queue of [`Scripted`] replies, consumed in order, one per model request; when a
//! queue is empty the server answers HTTP 500 with a message saying the script ran out.
//! Every request is recorded ([`FakeModelServer::requests`]) so tests can assert what the
//! tool sent (prompt, files, model).

pub mod anthropic_messages;
pub mod openai_chat;
pub mod openai_responses;

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::response::Response;
use futures_util::StreamExt;

/// Which wire protocol a reply or request belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Api {
    /// `POST /v1/chat/completions` (and `/chat/completions`).
    OpenAiChat,
    /// `POST /v1/responses` (and `/responses`).
    OpenAiResponses,
    /// `POST /v1/messages`.
    AnthropicMessages,
}

/// One scripted reply to one model request.
#[derive(Debug, Clone)]
pub enum Scripted {
    /// A protocol-specific reply described as JSON; each protocol module documents the
    /// shape it accepts (e.g. `{"text": "..."}`, a tool call, an `apply_patch`).
    Reply(serde_json::Value),
    /// An HTTP error: status, extra headers (e.g. `Retry-After`), body.
    Status {
        status: u16,
        headers: Vec<(String, String)>,
        body: String,
    },
    /// Accept the request and never answer (for timeouts and stall detection).
    Stall,
    /// Start the inner reply and stall in the middle: the status, the headers and the
    /// body up to the end of its first server-sent event (half the body when it is not an
    /// event stream) are sent, then nothing more, the connection kept open.
    StallMidStream(Box<Scripted>),
    /// Wait, then give the inner reply.
    Delayed(Duration, Box<Scripted>),
}

/// The head of `response` and then nothing (see [`Scripted::StallMidStream`]).
pub(crate) async fn stall_mid_stream(response: Response) -> Response {
    let (mut parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    let cut = bytes
        .windows(2)
        .position(|pair| pair == b"\n\n")
        .map_or(bytes.len() / 2, |at| at + 2);
    let head = bytes.slice(..cut);
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    let stream = futures_util::stream::once(async move { Ok::<_, std::io::Error>(head) })
        .chain(futures_util::stream::pending());
    Response::from_parts(parts, Body::from_stream(stream))
}

/// A request the server received.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    pub api: Api,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: serde_json::Value,
}

/// Shared state of a running server.
#[derive(Debug, Default)]
pub struct ServerState {
    scripts: Mutex<HashMap<Api, VecDeque<Scripted>>>,
    requests: Mutex<Vec<RecordedRequest>>,
}

impl ServerState {
    /// The next scripted reply for `api`, or `None` when its script ran out.
    pub fn next_reply(&self, api: Api) -> Option<Scripted> {
        self.scripts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get_mut(&api)
            .and_then(VecDeque::pop_front)
    }

    /// Records a request.
    pub fn record(&self, request: RecordedRequest) {
        self.requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(request);
    }
}

/// A running fake server; stops when dropped.
pub struct FakeModelServer {
    addr: SocketAddr,
    state: Arc<ServerState>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FakeModelServer {
    /// Starts a server on 127.0.0.1 with an ephemeral port, on its own thread and runtime
    /// (so blocking tests can use it).
    ///
    /// Errors: the port cannot be bound or the runtime cannot start.
    pub fn start() -> std::io::Result<FakeModelServer> {
        let state = Arc::new(ServerState::default());
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let app: Router = Router::new()
            .merge(openai_chat::routes())
            .merge(openai_responses::routes())
            .merge(anthropic_messages::routes())
            .with_state(state.clone());
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        let thread = std::thread::spawn(move || {
            runtime.block_on(async move {
                let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                    return;
                };
                let _ = axum::serve(listener, app)
                    .with_graceful_shutdown(async {
                        let _ = rx.await;
                    })
                    .await;
            });
        });
        Ok(FakeModelServer {
            addr,
            state,
            shutdown: Some(tx),
            thread: Some(thread),
        })
    }

    /// `http://127.0.0.1:<port>`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Appends replies to the script of `api`.
    pub fn script(&self, api: Api, replies: impl IntoIterator<Item = Scripted>) {
        let mut scripts = self.state.scripts.lock().unwrap_or_else(|e| e.into_inner());
        scripts.entry(api).or_default().extend(replies);
    }

    /// Requests received so far, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.state
            .requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

impl Drop for FakeModelServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
