//! Many concurrent clients of a server-sent-events stream of `pipeline serve`
//! (`GET /api/runs/{run}/events`, docs/API.md), each recording every event it receives.
//!
//! The load test `tests/e2e/sse_load.rs` and the server rows of `scripts/bench.sh` use it
//! (the latter through the `sse-load` binary): N clients connect at once, follow the stream
//! until an event of a given kind (`run_finished`), and the [`Report`] says whether every
//! client received the same events, each exactly once, in increasing id order, and, when
//! the expected ids are known (the run's journal), exactly those.
//!
//! Each event is checked on arrival against the stream's contract (docs/API.md): an `id:`
//! line with the journal id (a decimal integer), an `event:` line with the kind, and a
//! `data:` line with the event's JSON whose `id` and `event` fields are the same. Parsing
//! follows the HTML standard's event-stream format: lines end in CRLF, LF or CR; a line
//! starting with `:` is a comment (keep-alive); a field's value loses one leading space;
//! `data` lines of one event are joined with LF; a blank line ends the event.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// One event of a stream: its fields as sent (`id` only when the event carried an `id:`
/// line of its own).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    /// The `id:` field of this event, if it had one.
    pub id: Option<String>,
    /// The `event:` field (`message` when absent, as the standard says).
    pub event: String,
    /// The `data:` lines joined with LF.
    pub data: String,
}

/// An incremental parser of the `text/event-stream` format: feed it bytes as they arrive.
#[derive(Debug, Default)]
pub struct SseParser {
    buf: Vec<u8>,
    id: Option<String>,
    event: String,
    data: String,
    has_data: bool,
    /// The previous chunk ended with CR: a LF at the start of the next one belongs to it.
    skip_lf: bool,
}

impl SseParser {
    /// Parses `bytes` (any split of the stream) and appends the completed events to `out`.
    pub fn feed(&mut self, bytes: &[u8], out: &mut Vec<SseEvent>) {
        let mut bytes = bytes;
        if self.skip_lf && bytes.first() == Some(&b'\n') {
            bytes = &bytes[1..];
        }
        self.skip_lf = false;
        self.buf.extend_from_slice(bytes);
        let mut start = 0;
        while let Some(pos) = self.buf[start..]
            .iter()
            .position(|&b| b == b'\n' || b == b'\r')
        {
            let end = start + pos;
            let line = String::from_utf8_lossy(&self.buf[start..end]).into_owned();
            let mut next = end + 1;
            if self.buf[end] == b'\r' {
                match self.buf.get(next) {
                    Some(b'\n') => next += 1,
                    Some(_) => {}
                    None => self.skip_lf = true,
                }
            }
            self.line(&line, out);
            start = next;
        }
        self.buf.drain(..start);
    }

    fn line(&mut self, line: &str, out: &mut Vec<SseEvent>) {
        if line.is_empty() {
            if self.has_data {
                out.push(SseEvent {
                    id: self.id.take(),
                    event: if self.event.is_empty() {
                        "message".to_string()
                    } else {
                        std::mem::take(&mut self.event)
                    },
                    data: std::mem::take(&mut self.data),
                });
            }
            self.id = None;
            self.event.clear();
            self.data.clear();
            self.has_data = false;
            return;
        }
        if line.starts_with(':') {
            return; // a comment: keep-alive
        }
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line, ""),
        };
        match field {
            "id" if !value.contains('\0') => self.id = Some(value.to_string()),
            "event" => self.event = value.to_string(),
            "data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(value);
                self.has_data = true;
            }
            _ => {}
        }
    }
}

/// What to run: `clients` connections to `url`, each followed until an event of kind
/// `until_event` arrives or `timeout` has passed since the start.
#[derive(Debug, Clone)]
pub struct Options {
    /// The stream's full URL, e.g. `http://127.0.0.1:7878/api/runs/r1/events`.
    pub url: String,
    /// How many clients connect at once.
    pub clients: usize,
    /// Extra request headers (`Authorization`, `Last-Event-ID`, ...).
    pub headers: Vec<(String, String)>,
    /// The kind of the last event to wait for (`run_finished`).
    pub until_event: String,
    /// Limit for the whole run of every client.
    pub timeout: Duration,
}

/// What one client received.
#[derive(Debug, Clone, Default)]
pub struct ClientLog {
    /// The journal ids of the events received, in order of arrival.
    pub ids: Vec<u64>,
    /// Whether the `until_event` kind arrived.
    pub finished: bool,
    /// Why the client stopped early (connection refused, non-200 status, timeout, the
    /// server closing the stream before `until_event`).
    pub error: Option<String>,
    /// Events that broke the stream's contract (at most 5 described).
    pub problems: Vec<String>,
}

impl ClientLog {
    fn problem(&mut self, what: String) {
        if self.problems.len() < 5 {
            self.problems.push(what);
        }
    }

    /// Checks one received event and records its id.
    fn record(&mut self, ev: &SseEvent) {
        let Some(id_text) = &ev.id else {
            self.problem(format!("an event without an id: line: {:?}", ev));
            return;
        };
        let Ok(id) = id_text.parse::<u64>() else {
            self.problem(format!("id {id_text:?} is not a journal id"));
            return;
        };
        match serde_json::from_str::<serde_json::Value>(&ev.data) {
            Ok(json) => {
                if json.get("id").and_then(serde_json::Value::as_u64) != Some(id) {
                    self.problem(format!(
                        "event id {id}: data has id {}",
                        json.get("id").unwrap_or(&serde_json::Value::Null)
                    ));
                }
                if json.get("event").and_then(serde_json::Value::as_str) != Some(&ev.event) {
                    self.problem(format!(
                        "event id {id} of kind {:?}: data has event {}",
                        ev.event,
                        json.get("event").unwrap_or(&serde_json::Value::Null)
                    ));
                }
            }
            Err(e) => self.problem(format!("event id {id}: data is not JSON ({e})")),
        }
        self.ids.push(id);
    }
}

/// The logs of all clients of one [`run`], in client order.
#[derive(Debug, Clone)]
pub struct Report {
    pub clients: Vec<ClientLog>,
}

/// What a passing [`Report::check`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// Clients that passed (all of them).
    pub clients: usize,
    /// The ids every client received, in order.
    pub ids: Vec<u64>,
}

impl Report {
    /// Checks that every client finished without error or contract problem and received
    /// strictly increasing ids (each once, in order), all the same sequence, equal to
    /// `expected` when given. The error names the first failing client and how it differs.
    pub fn check(&self, expected: Option<&[u64]>) -> Result<Summary, String> {
        let first = self.clients.first().ok_or("no clients ran")?;
        let reference = expected.unwrap_or(&first.ids);
        for (n, c) in self.clients.iter().enumerate() {
            if let Some(e) = &c.error {
                return Err(format!(
                    "client {n}: {e} (after {} events, last id {:?})",
                    c.ids.len(),
                    c.ids.last()
                ));
            }
            if !c.problems.is_empty() {
                return Err(format!("client {n}: {}", c.problems.join("; ")));
            }
            if !c.finished {
                return Err(format!("client {n}: did not receive the final event"));
            }
            if let Some(w) = c.ids.windows(2).find(|w| w[0] >= w[1]) {
                return Err(format!(
                    "client {n}: id {} came after {} (repeated or out of order)",
                    w[1], w[0]
                ));
            }
            if c.ids != reference {
                return Err(format!(
                    "client {n}: received {} events, expected {}: {}",
                    c.ids.len(),
                    reference.len(),
                    first_difference(&c.ids, reference)
                ));
            }
        }
        Ok(Summary {
            clients: self.clients.len(),
            ids: reference.to_vec(),
        })
    }
}

/// Where two increasing id sequences first differ, in words.
fn first_difference(got: &[u64], want: &[u64]) -> String {
    let i = got.iter().zip(want).take_while(|(a, b)| a == b).count();
    match (got.get(i), want.get(i)) {
        (Some(g), Some(w)) => format!("at position {i} got id {g}, expected {w}"),
        (None, Some(w)) => format!("missing ids from {w} on (position {i})"),
        (Some(g), None) => format!("unexpected ids from {g} on (position {i})"),
        (None, None) => "no difference".to_string(),
    }
}

/// Runs `opts.clients` clients at once (on a 2-thread runtime of its own) and returns their
/// logs once all have stopped. `on_all_receiving` is called once, from a blocking thread,
/// as soon as every client has received its first event or stopped: the load is then
/// fully in place (`tests/e2e/sse_load.rs` opens the run's gate there).
///
/// Errors: the runtime cannot be started (no threads or file descriptors left).
pub fn run(
    opts: &Options,
    on_all_receiving: impl FnOnce() + Send + 'static,
) -> std::io::Result<Report> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    Ok(rt.block_on(run_async(opts, on_all_receiving)))
}

async fn run_async(opts: &Options, on_all_receiving: impl FnOnce() + Send + 'static) -> Report {
    let receiving = Arc::new(AtomicUsize::new(0));
    let (all_tx, all_rx) = tokio::sync::oneshot::channel::<()>();
    let all_tx = Arc::new(std::sync::Mutex::new(Some(all_tx)));
    let n = opts.clients;
    let mark = {
        let receiving = receiving.clone();
        move || {
            if receiving.fetch_add(1, Ordering::SeqCst) + 1 == n
                && let Some(tx) = all_tx
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .take()
            {
                let _ = tx.send(());
            }
        }
    };
    let mark = Arc::new(mark);
    let waiter = tokio::spawn(async move {
        if all_rx.await.is_ok() {
            let _ = tokio::task::spawn_blocking(on_all_receiving).await;
        }
    });
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let opts = opts.clone();
            let mark = mark.clone();
            tokio::spawn(async move {
                let mut log = ClientLog::default();
                let mut marked = false;
                let result = tokio::time::timeout(
                    opts.timeout,
                    follow(&opts, &mut log, &mut || {
                        if !marked {
                            marked = true;
                            mark();
                        }
                    }),
                )
                .await;
                match result {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => log.error = Some(e),
                    Err(_) => {
                        log.error = Some(format!("timed out after {:?}", opts.timeout));
                    }
                }
                if !marked {
                    mark();
                }
                log
            })
        })
        .collect();
    let mut clients = Vec::with_capacity(n);
    for t in tasks {
        clients.push(t.await.unwrap_or_else(|e| ClientLog {
            error: Some(format!("client task failed: {e}")),
            ..ClientLog::default()
        }));
    }
    let _ = waiter.await;
    Report { clients }
}

/// Follows one stream until `until_event` over its own HTTP/1.1 connection (plain HTTP:
/// the server is local; no proxy, no TLS); `first` is called on each received event.
async fn follow(
    opts: &Options,
    log: &mut ClientLog,
    first: &mut (dyn FnMut() + Send),
) -> Result<(), String> {
    use http_body_util::BodyExt;

    let uri: hyper::Uri = opts
        .url
        .parse()
        .map_err(|e| format!("bad URL {}: {e}", opts.url))?;
    if uri.scheme_str() != Some("http") {
        return Err(format!("{}: only http:// URLs are supported", opts.url));
    }
    let authority = uri
        .authority()
        .ok_or_else(|| format!("{}: no host", opts.url))?
        .clone();
    let port = authority.port_u16().unwrap_or(80);
    let stream = tokio::net::TcpStream::connect((authority.host(), port))
        .await
        .map_err(|e| format!("cannot connect to {authority}: {e}"))?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .map_err(|e| format!("HTTP handshake with {authority} failed: {e}"))?;
    // The connection is driven by its own task and closes when the response is dropped.
    tokio::spawn(connection);
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let mut req = hyper::Request::get(path)
        .header("Host", authority.as_str())
        .header("Accept", "text/event-stream");
    for (k, v) in &opts.headers {
        req = req.header(k.as_str(), v.as_str());
    }
    let req = req
        .body(http_body_util::Empty::<hyper::body::Bytes>::new())
        .map_err(|e| format!("bad request: {e}"))?;
    let resp = sender
        .send_request(req)
        .await
        .map_err(|e| format!("request failed: {e}"))?;
    let status = resp.status();
    let content_type = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let mut body = resp.into_body();
    if status != hyper::StatusCode::OK {
        let text = body
            .collect()
            .await
            .map(|b| String::from_utf8_lossy(&b.to_bytes()).into_owned())
            .unwrap_or_default();
        return Err(format!("status {status}: {text}"));
    }
    if !content_type.starts_with("text/event-stream") {
        return Err(format!(
            "content-type {content_type:?}, expected text/event-stream"
        ));
    }
    let mut parser = SseParser::default();
    let mut events = Vec::new();
    loop {
        let Some(frame) = body.frame().await else {
            return Err("the server ended the stream before the final event".to_string());
        };
        let frame = frame.map_err(|e| format!("reading the stream failed: {e}"))?;
        let Some(chunk) = frame.data_ref() else {
            continue; // trailers
        };
        parser.feed(chunk, &mut events);
        for ev in events.drain(..) {
            first();
            log.record(&ev);
            if ev.event == opts.until_event {
                log.finished = true;
                return Ok(());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_in_pieces(text: &str, piece: usize) -> Vec<SseEvent> {
        let mut p = SseParser::default();
        let mut out = Vec::new();
        for chunk in text.as_bytes().chunks(piece) {
            p.feed(chunk, &mut out);
        }
        out
    }

    #[test]
    fn parses_events_split_anywhere_with_any_line_ending() {
        let text = ": keep-alive\r\nid: 7\r\nevent: step_added\r\ndata: {\"id\":7}\r\n\r\n\
                    id:8\revent:run_finished\rdata:a\rdata: b\r\r\
                    data: no id\n\n";
        for piece in 1..text.len() {
            let events = parse_in_pieces(text, piece);
            assert_eq!(
                events,
                vec![
                    SseEvent {
                        id: Some("7".into()),
                        event: "step_added".into(),
                        data: "{\"id\":7}".into()
                    },
                    SseEvent {
                        id: Some("8".into()),
                        event: "run_finished".into(),
                        data: "a\nb".into()
                    },
                    SseEvent {
                        id: None,
                        event: "message".into(),
                        data: "no id".into()
                    },
                ],
                "split into pieces of {piece} bytes"
            );
        }
    }

    #[test]
    fn an_event_without_data_is_not_dispatched() {
        assert!(parse_in_pieces("id: 3\nevent: x\n\n", 4).is_empty());
    }

    fn log(ids: &[u64]) -> ClientLog {
        ClientLog {
            ids: ids.to_vec(),
            finished: true,
            ..ClientLog::default()
        }
    }

    #[test]
    fn check_names_missing_repeated_and_foreign_ids() {
        let ok = Report {
            clients: vec![log(&[1, 2, 5]), log(&[1, 2, 5])],
        };
        assert_eq!(ok.check(Some(&[1, 2, 5])).unwrap().ids, vec![1, 2, 5]);
        let missing = Report {
            clients: vec![log(&[1, 2, 5]), log(&[1, 5])],
        };
        let e = missing.check(None).unwrap_err();
        assert!(
            e.contains("client 1") && e.contains("got id 5, expected 2"),
            "{e}"
        );
        let repeated = Report {
            clients: vec![log(&[1, 2, 2, 5])],
        };
        let e = repeated.check(None).unwrap_err();
        assert!(e.contains("id 2 came after 2"), "{e}");
        let short = Report {
            clients: vec![log(&[1, 2])],
        };
        let e = short.check(Some(&[1, 2, 5])).unwrap_err();
        assert!(e.contains("missing ids from 5"), "{e}");
        let unfinished = Report {
            clients: vec![ClientLog {
                finished: false,
                ..log(&[1])
            }],
        };
        assert!(unfinished.check(None).is_err());
    }

    #[test]
    fn record_checks_the_data_against_id_and_kind() {
        let mut c = ClientLog::default();
        c.record(&SseEvent {
            id: Some("4".into()),
            event: "step_added".into(),
            data: r#"{"id":4,"event":"step_added"}"#.into(),
        });
        assert!(c.problems.is_empty(), "{:?}", c.problems);
        c.record(&SseEvent {
            id: Some("5".into()),
            event: "step_added".into(),
            data: r#"{"id":6,"event":"run_finished"}"#.into(),
        });
        c.record(&SseEvent {
            id: None,
            event: "x".into(),
            data: "{}".into(),
        });
        assert_eq!(c.problems.len(), 3, "{:?}", c.problems);
        assert_eq!(c.ids, vec![4, 5]);
    }
}
