//! `pipeline serve`: the REST API and its event streams, against a real server on
//! 127.0.0.1 (port 0), a real repository and state database, with a blocking reqwest
//! client. Runs are started through the API and by the CLI in another process.

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::mpsc;

use reqwest::StatusCode;
use reqwest::blocking::{Client, Response};
use serde_json::{Value, json};

use crate::handshake::{LIMIT, await_file, wait_until};
use crate::support::Test;

/// A running `pipeline serve`, stopped (SIGTERM) when dropped.
struct Server {
    child: Child,
    base: String,
    token: Option<String>,
    client: Client,
    /// Its stderr lines after `listening on`.
    log: mpsc::Receiver<String>,
}

impl Server {
    /// `pipeline serve --bind 127.0.0.1:0 ARGS` in the repository of `t`.
    fn start(t: &Test, args: &[&str]) -> Server {
        Server::start_with(t, args, None)
    }

    fn start_with(t: &Test, args: &[&str], token: Option<&str>) -> Server {
        let mut all = vec!["serve"];
        if !args.contains(&"--bind") {
            all.extend(["--bind", "127.0.0.1:0"]);
        }
        all.extend(args);
        let mut child = t
            .process(&all)
            .env_remove("PIPELINE_SERVE_TOKEN")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start pipeline serve");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut seen = Vec::new();
        let base = loop {
            match rx.recv_timeout(LIMIT) {
                Ok(line) => match line.strip_prefix("listening on ") {
                    Some(url) => break url.to_owned(),
                    None => seen.push(line),
                },
                Err(e) => panic!("pipeline serve did not start ({e}): {seen:?}"),
            }
        };
        let client = client();
        Server {
            child,
            base,
            token: token.map(str::to_owned),
            client,
            log: rx,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn with_token(
        &self,
        request: reqwest::blocking::RequestBuilder,
    ) -> reqwest::blocking::RequestBuilder {
        match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    fn get(&self, path: &str) -> Response {
        self.with_token(self.client.get(self.url(path)))
            .send()
            .expect("GET")
    }

    fn post(&self, path: &str, body: Value) -> Response {
        self.with_token(self.client.post(self.url(path)))
            .json(&body)
            .send()
            .expect("POST")
    }

    fn get_json(&self, path: &str) -> Value {
        let r = self.get(path);
        assert_eq!(r.status(), StatusCode::OK, "GET {path}");
        r.json().expect("JSON")
    }

    /// `GET path` as an event stream (`Last-Event-ID: last` when given).
    fn events(&self, path: &str, last: Option<i64>) -> EventStream {
        let mut request = self.with_token(self.client.get(self.url(path)));
        if let Some(id) = last {
            request = request.header("Last-Event-ID", id.to_string());
        }
        let response = request.send().expect("GET events");
        assert_eq!(response.status(), StatusCode::OK, "GET {path}");
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/event-stream")
        );
        EventStream {
            reader: BufReader::new(response),
        }
    }

    /// Polls `GET /api/runs/RUN` until `cond` holds.
    fn wait_for(&self, run: &str, what: &str, cond: impl Fn(&Value) -> bool) -> Value {
        wait_until(what, || {
            let r = self.get(&format!("/api/runs/{run}"));
            if r.status() != StatusCode::OK {
                return None;
            }
            let v: Value = r.json().ok()?;
            cond(&v).then_some(v)
        })
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

/// A blocking client for plain HTTP. reqwest (built with `rustls-no-provider` for the
/// webhooks) needs a process-wide crypto provider to build any client: ring, the one the
/// workspace uses.
fn client() -> Client {
    #[allow(
        deprecated,
        reason = "ring's provider lacks post-quantum key exchange; these tests use no TLS"
    )]
    let _ = rustls::crypto::ring::default_provider().install_default();
    Client::builder()
        .timeout(LIMIT)
        .build()
        .expect("an HTTP client")
}

/// One server-sent event.
#[derive(Debug, Clone)]
struct Sse {
    id: i64,
    event: String,
    data: Value,
}

struct EventStream {
    reader: BufReader<Response>,
}

impl EventStream {
    /// The next event (keep-alive comments skipped).
    fn next(&mut self) -> Sse {
        let (mut id, mut event, mut data) = (None, None, String::new());
        loop {
            let mut line = String::new();
            let n = self.reader.read_line(&mut line).expect("read the stream");
            assert!(n > 0, "the event stream ended");
            let line = line.trim_end_matches(['\r', '\n']);
            if line.is_empty() {
                if let (Some(id), Some(event)) = (id, event.take()) {
                    return Sse {
                        id,
                        event,
                        data: serde_json::from_str(&data).expect("data is JSON"),
                    };
                }
                continue;
            }
            if line.starts_with(':') {
                continue;
            }
            let (field, value) = line.split_once(':').unwrap_or((line, ""));
            let value = value.strip_prefix(' ').unwrap_or(value);
            match field {
                "id" => id = Some(value.parse().expect("numeric id")),
                "event" => event = Some(value.to_owned()),
                "data" => data.push_str(value),
                _ => {}
            }
        }
    }

    /// Events up to and including the first that `stop` accepts.
    fn until(&mut self, stop: impl Fn(&Sse) -> bool) -> Vec<Sse> {
        let mut out = Vec::new();
        loop {
            let e = self.next();
            let done = stop(&e);
            out.push(e);
            if done {
                return out;
            }
        }
    }
}

fn finished(run: &str) -> impl Fn(&Sse) -> bool + '_ {
    move |e: &Sse| e.event == "run_finished" && e.data["run_id"] == run
}

/// The journal of `run` as (id, kind), read from the state database.
fn journal_ids(t: &Test, run: &str) -> Vec<(i64, String)> {
    let c = rusqlite::Connection::open(t.repo.join(".pipeline/state.db")).expect("open db");
    let mut st = c
        .prepare("SELECT id, kind FROM events WHERE run_id = ?1 ORDER BY id")
        .unwrap();
    st.query_map([run], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

fn ids_and_kinds(events: &[Sse]) -> Vec<(i64, String)> {
    events.iter().map(|e| (e.id, e.event.clone())).collect()
}

/// Checks stream events against their data: ids increase and equal the entry's `id`,
/// the event name is its kind.
fn assert_well_formed(events: &[Sse]) {
    let mut last = 0;
    for e in events {
        assert!(e.id > last, "ids increase: {} after {last}", e.id);
        last = e.id;
        assert_eq!(e.data["id"], e.id);
        assert_eq!(e.data["event"], e.event.as_str());
    }
}

/// Validates `value` against the named schema of the server's OpenAPI document.
fn assert_matches_schema(doc: &Value, schema: &str, value: &Value) {
    let root = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$ref": format!("#/components/schemas/{schema}"),
        "components": doc["components"],
    });
    let validator = jsonschema::validator_for(&root).expect("a valid schema");
    let errors: Vec<String> = validator
        .iter_errors(value)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{schema}: {errors:?}\n{value:#}");
}

/// A workstream file inside the repository (committed), path relative to its root.
fn workstream(t: &Test, name: &str, json: &str) -> String {
    let rel = format!("workstreams/{name}");
    t.commit_file(&rel, json);
    rel
}

/// Three steps, `sv/b` after `sv/a`; `sv/a` prints to its log and writes `a.txt`.
fn simple(t: &Test) -> String {
    workstream(
        t,
        "simple.json",
        r#"{"id": "sv", "steps": [
            {"id": "a", "command": "echo 'hello from a'; echo one > a.txt", "files_scope": ["a.txt"]},
            {"id": "b", "command": "echo two > b.txt", "files_scope": ["b.txt"], "depends_on": ["a"]},
            {"id": "c", "command": "true"}
        ]}"#,
    )
}

/// `sv/hold` marks `started` in `out`, then waits for `release`; `sv/after` follows it.
fn held(t: &Test, name: &str) -> String {
    let started = t.out.join(format!("{name}.started"));
    let release = t.out.join(format!("{name}.release"));
    let command = format!(
        "touch {}; {}; echo held > held.txt",
        started.display(),
        await_file(&release.display().to_string())
    );
    workstream(
        t,
        &format!("{name}.json"),
        &format!(
            r#"{{"id": "sv", "steps": [
                {{"id": "hold", "command": {command}, "files_scope": ["held.txt"], "retry": {{"enabled": false}}}},
                {{"id": "after", "command": "true", "depends_on": ["hold"]}}
            ]}}"#,
            command = serde_json::to_string(&command).unwrap()
        ),
    )
}

#[test]
fn serve_runs_a_workstream_and_streams_its_journal() {
    let t = Test::new();
    let ws = simple(&t);
    let server = Server::start(&t, &[]);
    let doc = server.get_json("/api/openapi.json");
    assert_eq!(doc["openapi"], "3.1.0");

    let r = server.post("/api/runs", json!({"workstreams": [ws], "run_id": "s1"}));
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let accepted: Value = r.json().unwrap();
    assert_eq!(accepted["run_id"], "s1");

    let mut stream = server.events("/api/runs/s1/events", None);
    let events = stream.until(finished("s1"));
    assert_well_formed(&events);
    assert_eq!(events[0].event, "run_started");
    // The stream is the journal, which `pipeline run --json` prints.
    assert_eq!(ids_and_kinds(&events), journal_ids(&t, "s1"));

    let status = server.get_json("/api/runs/s1");
    assert_eq!(status["status"], "completed");
    assert_matches_schema(&doc, "RunStatusDocument", &status);
    let runs = server.get_json("/api/runs");
    assert_eq!(runs[0]["run_id"], "s1");
    assert_matches_schema(&doc, "RunList", &runs);
    let plan = server.get_json("/api/runs/s1/plan");
    assert!(plan.is_object(), "{plan}");

    // The step in detail, its id percent-encoded, and in the raw form.
    let detail = server.get_json("/api/runs/s1/steps/sv%2Fa");
    assert_matches_schema(&doc, "StepDetailDocument", &detail);
    assert_eq!(detail["step"]["id"], "sv/a");
    assert_eq!(detail["attempts"][0]["outcome"], "succeeded");
    assert_eq!(detail["checkpoint"]["changed"], json!(["a.txt"]));
    assert_eq!(server.get_json("/api/runs/s1/steps/sv/a"), detail);

    // Logs: whole, a range, a tail; both forms of the step id.
    let log = server.get("/api/runs/s1/steps/sv%2Fa/logs?attempt=1");
    assert_eq!(log.status(), StatusCode::OK);
    assert!(
        log.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = log.text().unwrap();
    assert!(text.contains("hello from a"), "{text}");
    assert_eq!(
        server.get("/api/runs/s1/steps/sv/a/logs").text().unwrap(),
        text
    );
    let at = text.find("hello from a").unwrap();
    let ranged = server
        .with_token(
            server
                .client
                .get(server.url("/api/runs/s1/steps/sv%2Fa/logs")),
        )
        .header("Range", format!("bytes={at}-{}", at + 4))
        .send()
        .unwrap();
    assert_eq!(ranged.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        ranged.headers()["content-range"],
        format!("bytes {at}-{}/{}", at + 4, text.len()).as_str()
    );
    assert_eq!(ranged.text().unwrap(), "hello");
    let tail = server
        .get("/api/runs/s1/steps/sv%2Fa/logs?tail=5")
        .text()
        .unwrap();
    assert_eq!(tail, text[text.len() - 5..]);
    let past = server
        .with_token(
            server
                .client
                .get(server.url("/api/runs/s1/steps/sv%2Fa/logs")),
        )
        .header("Range", format!("bytes={}-", text.len() + 10))
        .send()
        .unwrap();
    assert_eq!(past.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    let missing = server.get("/api/runs/s1/steps/sv%2Fa/logs?attempt=7");
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);

    // The diff of the step's result against its start.
    let diff = server.get("/api/runs/s1/steps/sv%2Fa/diff");
    assert_eq!(diff.status(), StatusCode::OK);
    assert!(
        diff.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/x-diff")
    );
    let patch = diff.text().unwrap();
    assert!(
        patch.contains("+++ b/a.txt") && patch.contains("+one"),
        "{patch}"
    );
    assert_eq!(
        server.get("/api/runs/s1/steps/sv/a/diff").text().unwrap(),
        patch
    );

    // Errors in the API's shape.
    let unknown = server.get("/api/runs/nope");
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    let body: Value = unknown.json().unwrap();
    assert_eq!(body["error"]["code"], "unknown_run");
    assert_matches_schema(&doc, "ErrorBody", &body);
    let no_step = server.get("/api/runs/s1/steps/sv%2Fzz");
    assert_eq!(no_step.status(), StatusCode::NOT_FOUND);
    let invalid = server.post("/api/runs", json!({"workstreams": [workstream(&t, "bad.json", r#"{"id": "x", "steps": [{"id": "s"}]}"#)]}));
    assert_eq!(invalid.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = invalid.json().unwrap();
    assert_eq!(body["error"]["code"], "invalid_workstreams");
    assert!(
        !body["error"]["diagnostics"].as_array().unwrap().is_empty(),
        "{body}"
    );
    // No live driver: nothing to cancel.
    let cancel = server.post("/api/runs/s1/cancel", json!({}));
    assert_eq!(cancel.status(), StatusCode::CONFLICT);

    // A finished run's workstreams start anew; runs come newest first, a page at a time.
    let r = server.post("/api/runs", json!({"workstreams": [ws], "run_id": "s1b"}));
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    server.wait_for("s1b", "run s1b completed", |s| s["status"] == "completed");
    let first = server.get_json("/api/runs?limit=1");
    assert_eq!(first.as_array().unwrap().len(), 1);
    assert_eq!(first[0]["run_id"], "s1b");
    let next = server.get_json("/api/runs?limit=1&before=s1b");
    assert_eq!(next[0]["run_id"], "s1");
    assert_eq!(server.get_json("/api/runs?before=s1"), json!([]));
}

#[test]
fn serve_event_streams_resume_after_the_last_event_id() {
    let t = Test::new();
    let ws = held(&t, "resume");
    let server = Server::start(&t, &[]);
    let r = server.post(
        "/api/runs",
        json!({"workstreams": [ws], "run_id": "s2", "jobs": 2}),
    );
    assert_eq!(r.status(), StatusCode::ACCEPTED);

    // Read until the held step's attempt started, then drop the connection.
    let mut first = server.events("/api/runs/s2/events", None);
    let before = first.until(|e| e.event == "attempt_started");
    drop(first);
    // A second start of the unfinished run's workstreams is refused, as by the CLI.
    let again = server.post("/api/runs", json!({"workstreams": [ws]}));
    assert_eq!(again.status(), StatusCode::CONFLICT);
    assert_eq!(
        again.json::<Value>().unwrap()["error"]["code"],
        "unfinished_run"
    );

    std::fs::write(t.out.join("resume.release"), "").unwrap();
    let last = before.last().unwrap().id;
    let mut second = server.events("/api/runs/s2/events", Some(last));
    let after = second.until(finished("s2"));
    let mut all = before.clone();
    all.extend(after);
    assert_well_formed(&all);
    assert_eq!(
        ids_and_kinds(&all),
        journal_ids(&t, "s2"),
        "no event lost or repeated"
    );

    // `?after=` resumes the same way.
    let mid = all[all.len() / 2].id;
    let mut third = server.events(&format!("/api/runs/s2/events?after={mid}"), None);
    let rest = third.until(finished("s2"));
    assert_eq!(rest.first().unwrap().id, all[all.len() / 2 + 1].id);
    assert_eq!(
        ids_and_kinds(&rest),
        ids_and_kinds(&all[all.len() / 2 + 1..])
    );
}

#[test]
fn serve_streams_a_run_the_cli_drives_in_another_process() {
    let t = Test::new();
    let ws = simple(&t);
    let server = Server::start(&t, &[]);
    // A second server on the same state database: both read the one journal.
    let second = Server::start(&t, &[]);
    let mut stream = server.events("/api/events", None);
    let mut other = second.events("/api/events", None);
    let mut cli = t.spawn(&["run", &ws, "--run-id", "cli1"]);
    let events = stream.until(finished("cli1"));
    assert!(cli.wait().unwrap().success());
    assert_well_formed(&events);
    assert!(events.iter().all(|e| e.data["run_id"] == "cli1"));
    assert_eq!(ids_and_kinds(&events), journal_ids(&t, "cli1"));
    let status = server.get_json("/api/runs/cli1");
    assert_eq!(status["status"], "completed");
    assert_eq!(
        ids_and_kinds(&other.until(finished("cli1"))),
        journal_ids(&t, "cli1")
    );

    // A run the second server drives appears in the first server's stream, live.
    let r = second.post("/api/runs", json!({"workstreams": [ws], "run_id": "srv2"}));
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let events = stream.until(finished("srv2"));
    assert_eq!(ids_and_kinds(&events), journal_ids(&t, "srv2"));
    assert_eq!(server.get_json("/api/runs/srv2")["status"], "completed");
    assert_eq!(
        server.get_json("/api/runs")[0]["run_id"],
        "srv2",
        "newest first, whichever process recorded it"
    );
}

#[test]
fn serve_cancels_and_resumes_a_run() {
    let t = Test::new();
    let ws = held(&t, "cancel");
    let server = Server::start(&t, &[]);
    let r = server.post("/api/runs", json!({"workstreams": [ws], "run_id": "s3"}));
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    crate::handshake::wait_for_file(&t.out.join("cancel.started"));
    let cancel = server.post("/api/runs/s3/cancel", json!({}));
    assert_eq!(cancel.status(), StatusCode::ACCEPTED);
    let status = server.wait_for("s3", "run s3 interrupted", |s| {
        s["status"] == "interrupted" && s["driver"].is_null()
    });
    assert_eq!(
        crate::support::step_state(&status, "sv/hold"),
        "interrupted"
    );
    // The diff of a step without a result.
    let diff = server.get("/api/runs/s3/steps/sv%2Fhold/diff");
    assert_eq!(diff.status(), StatusCode::NOT_FOUND);
    assert_eq!(diff.json::<Value>().unwrap()["error"]["code"], "no_result");

    std::fs::write(t.out.join("cancel.release"), "").unwrap();
    let resume = server.post("/api/runs/s3/resume", json!({}));
    assert_eq!(resume.status(), StatusCode::ACCEPTED);
    let status = server.wait_for("s3", "run s3 completed", |s| s["status"] == "completed");
    assert_eq!(crate::support::step_state(&status, "sv/after"), "completed");
}

#[test]
fn serve_cancels_a_run_driven_by_another_process() {
    let t = Test::new();
    let ws = held(&t, "other");
    let server = Server::start(&t, &[]);
    let mut cli = t.spawn(&["run", &ws, "--run-id", "cli2"]);
    crate::handshake::wait_for_file(&t.out.join("other.started"));
    // A live driver elsewhere: resuming here is refused.
    let resume = server.post("/api/runs/cli2/resume", json!({}));
    assert_eq!(resume.status(), StatusCode::CONFLICT);
    let cancel = server.post("/api/runs/cli2/cancel", json!({}));
    assert_eq!(cancel.status(), StatusCode::ACCEPTED);
    let code = cli.wait().unwrap().code();
    assert_eq!(code, Some(143), "the CLI run stops as on SIGTERM");
    assert_eq!(server.get_json("/api/runs/cli2")["status"], "interrupted");
}

#[test]
fn serve_refuses_a_non_loopback_address_without_a_token() {
    let t = Test::new();
    t.cmd()
        .env_remove("PIPELINE_SERVE_TOKEN")
        .args(["serve", "--bind", "0.0.0.0:0"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains(
            "refusing to listen on 0.0.0.0:0 without a token",
        ));
    let short = t.out.join("short.token");
    std::fs::write(&short, "too short\n").unwrap();
    t.cmd()
        .args(["serve", "--bind", "127.0.0.1:0", "--token-file"])
        .arg(&short)
        .assert()
        .code(2)
        .stderr(predicates::str::contains("at least 32 bytes"));
}

#[test]
fn serve_requires_the_token_and_checks_requests() {
    let t = Test::new();
    let token = "0123456789abcdef0123456789abcdef-token";
    let file = t.out.join("serve.token");
    std::fs::write(&file, format!("{token}\n")).unwrap();
    let server = Server::start_with(
        &t,
        &[
            "--bind",
            "0.0.0.0:0",
            "--token-file",
            file.to_str().unwrap(),
        ],
        Some(token),
    );
    let port = server.base.rsplit(':').next().unwrap().to_owned();
    let base = format!("http://127.0.0.1:{port}");
    let bare = client();
    let none = bare.get(format!("{base}/api/runs")).send().unwrap();
    assert_eq!(none.status(), StatusCode::UNAUTHORIZED);
    assert!(
        none.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer")
    );
    assert_eq!(
        none.json::<Value>().unwrap()["error"]["code"],
        "unauthorized"
    );
    let wrong = bare
        .get(format!("{base}/api/runs"))
        .bearer_auth("0123456789abcdef0123456789abcdef-wrong")
        .send()
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let right = bare
        .get(format!("{base}/api/runs"))
        .bearer_auth(token)
        .send()
        .unwrap();
    assert_eq!(right.status(), StatusCode::OK);
    assert_eq!(
        bare.get(format!("{base}/healthz")).send().unwrap().status(),
        StatusCode::OK
    );
    let doc = bare.get(format!("{base}/api/openapi.json")).send().unwrap();
    assert_eq!(
        doc.status(),
        StatusCode::UNAUTHORIZED,
        "the document needs the token too"
    );
    let events = bare.get(format!("{base}/api/events")).send().unwrap();
    assert_eq!(events.status(), StatusCode::UNAUTHORIZED);

    let post = |body: reqwest::blocking::Body, content_type: &str, origin: Option<&str>| {
        let mut r = bare
            .post(format!("{base}/api/validate"))
            .bearer_auth(token)
            .header("Content-Type", content_type)
            .body(body);
        if let Some(o) = origin {
            r = r.header("Origin", o);
        }
        r.send().unwrap()
    };
    let huge = vec![b' '; 2 * 1024 * 1024];
    let r = post(huge.into(), "application/json", None);
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        r.json::<Value>().unwrap()["error"]["code"],
        "body_too_large"
    );
    let r = post(r#"{"workstreams": ["x.json"]}"#.into(), "text/plain", None);
    assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let r = post(
        r#"{"workstreams": ["x.json"]}"#.into(),
        "application/json",
        Some("http://evil.example"),
    );
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(r.json::<Value>().unwrap()["error"]["code"], "cross_origin");
    let r = post(
        r#"{"workstreams": ["x.json"]}"#.into(),
        "application/json",
        Some(&format!("http://127.0.0.1:{port}")),
    );
    assert_eq!(
        r.status(),
        StatusCode::NOT_FOUND,
        "same origin passes the check (x.json does not exist)"
    );

    // Workstream paths must stay inside the repository.
    std::fs::write(t.repo.parent().unwrap().join("x.json"), "{}").unwrap();
    for path in ["../x.json", "/etc/passwd", "workstreams/../../x.json"] {
        let r = server.post("/api/runs", json!({"workstreams": [path]}));
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{path}");
        let body: Value = r.json().unwrap();
        assert_eq!(body["error"]["code"], "path_outside_repository", "{path}");
        assert!(
            body["error"]["message"].as_str().unwrap().contains(path),
            "{body}"
        );
    }
    // A symbolic link pointing out of it too.
    std::os::unix::fs::symlink(
        t.repo.parent().unwrap().join("x.json"),
        t.repo.join("link.json"),
    )
    .unwrap();
    let r = server.post("/api/validate", json!({"workstreams": ["link.json"]}));
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let _ = server.log.try_recv();
}

#[test]
fn serve_approves_and_rejects_steps() {
    let t = Test::new();
    let prompts = t.out.join("prompts.log");
    let count = t.out.join("attempts");
    t.config(&format!(
        "tools:\n  scribe:\n    kind: custom\n    command: sh\n    args: [\"-c\", \"cat \\\"$PIPELINE_PROMPT_FILE\\\" >> {p}; echo ---- >> {p}; n=$(cat {c} 2>/dev/null || echo 0); n=$((n+1)); echo $n > {c}; echo $n > r.txt\"]\n",
        p = prompts.display(),
        c = count.display()
    ));
    let ws = workstream(
        &t,
        "gate.json",
        r#"{"id": "sv", "steps": [
            {"id": "gated", "tool": "scribe", "prompt": "write r.txt", "files_scope": ["r.txt"],
             "approval": "required", "fix_attempts": 2},
            {"id": "next", "command": "true", "depends_on": ["gated"]},
            {"id": "cmd", "command": "echo c > c.txt", "files_scope": ["c.txt"], "approval": "required"},
            {"id": "late", "command": "true", "depends_on": ["cmd"]}
        ]}"#,
    );
    let server = Server::start(&t, &[]);
    let doc = server.get_json("/api/openapi.json");
    let r = server.post("/api/runs", json!({"workstreams": [ws], "run_id": "ap"}));
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let awaiting = |step: &'static str, attempts: u64| {
        move |s: &Value| {
            s["steps"].as_array().into_iter().flatten().any(|x| {
                x["id"] == step && x["status"] == "awaiting_approval" && x["attempts"] == attempts
            })
        }
    };
    server.wait_for("ap", "sv/gated awaiting approval", awaiting("sv/gated", 1));
    // Awaiting approval, the step's result can be reviewed.
    let diff = server
        .get("/api/runs/ap/steps/sv%2Fgated/diff")
        .text()
        .unwrap();
    assert!(diff.contains("+++ b/r.txt"), "{diff}");

    let no_comment = server.post("/api/runs/ap/steps/sv%2Fgated/reject", json!({}));
    assert_eq!(no_comment.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let unknown = server.post("/api/runs/ap/steps/sv%2Fnope/approve", json!({}));
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    let not_yet = server.post("/api/runs/ap/steps/sv%2Fnext/approve", json!({}));
    assert_eq!(not_yet.status(), StatusCode::CONFLICT);
    assert_eq!(
        not_yet.json::<Value>().unwrap()["error"]["code"],
        "not_awaiting_approval"
    );

    // Rejected with a comment: the AI tool gets it as its fix prompt and tries again.
    let reject = server.post(
        "/api/runs/ap/steps/sv%2Fgated/reject",
        json!({"comment": "please write the number in words", "by": "reviewer"}),
    );
    assert_eq!(reject.status(), StatusCode::OK);
    let decision: Value = reject.json().unwrap();
    assert_matches_schema(&doc, "DecisionDocument", &decision);
    assert_eq!(decision["verdict"], "reject");
    server.wait_for(
        "ap",
        "sv/gated awaiting approval again",
        awaiting("sv/gated", 2),
    );
    let log = std::fs::read_to_string(&prompts).unwrap();
    let second = log.split("----").nth(1).unwrap_or_default();
    assert!(second.contains("please write the number in words"), "{log}");

    // Approved (the raw form of the step id): it completes and its dependent runs.
    let approve = server.post(
        "/api/runs/ap/steps/sv/gated/approve",
        json!({"by": "tester"}),
    );
    assert_eq!(approve.status(), StatusCode::OK);
    assert_eq!(approve.json::<Value>().unwrap()["verdict"], "approve");

    // A command step rejected fails with the comment; its dependent is skipped.
    server.wait_for("ap", "sv/cmd awaiting approval", awaiting("sv/cmd", 1));
    let reject = server.post(
        "/api/runs/ap/steps/sv%2Fcmd/reject",
        json!({"comment": "c.txt is not wanted"}),
    );
    assert_eq!(reject.status(), StatusCode::OK);
    let status = server.wait_for("ap", "run ap finished", |s| s["status"] == "failed");
    assert_eq!(crate::support::step_state(&status, "sv/gated"), "completed");
    assert_eq!(crate::support::step_state(&status, "sv/next"), "completed");
    assert_eq!(crate::support::step_state(&status, "sv/cmd"), "failed");
    assert_eq!(crate::support::step_state(&status, "sv/late"), "skipped");
    let again = server.post("/api/runs/ap/steps/sv%2Fgated/approve", json!({}));
    assert_eq!(again.status(), StatusCode::CONFLICT);
    let approved = t.events("ap", "sv/gated", "step_approved");
    assert_eq!(approved.len(), 1, "{approved:?}");
    assert_eq!(approved[0]["by"], "tester");
    let rejected = t.events("ap", "sv/cmd", "step_rejected");
    assert_eq!(rejected[0]["by"], "api");
    assert_eq!(rejected[0]["comment"], "c.txt is not wanted");
}

#[test]
fn serve_answers_the_catalog_endpoints() {
    let t = Test::new();
    let ws = simple(&t);
    let server = Server::start(&t, &[]);
    let doc = server.get_json("/api/openapi.json");
    let valid = server.post("/api/validate", json!({"workstreams": [ws]}));
    assert_eq!(valid.status(), StatusCode::OK);
    let valid: Value = valid.json().unwrap();
    assert_eq!(valid["valid"], true);
    assert_eq!(valid["steps"], 3);
    assert_matches_schema(&doc, "ValidationDocument", &valid);
    let bad = workstream(&t, "bad.json", r#"{"id": "x", "steps": "no"}"#);
    let invalid: Value = server
        .post("/api/validate", json!({"workstreams": [bad]}))
        .json()
        .unwrap();
    assert_eq!(invalid["valid"], false);
    let tools = server.get_json("/api/tools");
    assert_matches_schema(&doc, "ToolsDocument", &tools);
    assert!(
        tools
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["name"] == "shell"),
        "{tools}"
    );
    let breakers = server.get_json("/api/breakers");
    assert_matches_schema(&doc, "BreakersDocument", &breakers);
    let reset = server.post("/api/breakers/nosuchtool/reset", json!({}));
    assert_eq!(reset.status(), StatusCode::NOT_FOUND);
    let errors = server.get("/api/errors");
    assert_eq!(errors.status(), StatusCode::NOT_FOUND, "no run yet");
    let specs = server.get("/api/specs");
    assert_eq!(specs.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        specs.json::<Value>().unwrap()["error"]["code"],
        "no_openspec"
    );
    let health = server.get_json("/healthz");
    assert_eq!(health["status"], "ok");
    let nowhere = server.get("/api/nowhere");
    assert_eq!(nowhere.status(), StatusCode::NOT_FOUND);
    let malformed = server
        .client
        .post(server.url("/api/runs"))
        .header("Content-Type", "application/json")
        .body("{not json")
        .send()
        .unwrap();
    assert_eq!(malformed.status(), StatusCode::BAD_REQUEST);
    let limit = server.get("/api/runs?limit=0");
    assert_eq!(limit.status(), StatusCode::BAD_REQUEST);
    // A method the path does not have, whatever the body.
    let wrong = server.client.post(server.url("/api/tools")).send().unwrap();
    assert_eq!(wrong.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(wrong.headers()["allow"], "GET,HEAD");
    assert_eq!(
        wrong.json::<Value>().unwrap()["error"]["code"],
        "method_not_allowed"
    );
    // Body-less actions take `{}` and nothing else.
    let extra = server.post("/api/breakers/shell/reset", json!({"force": true}));
    assert_eq!(extra.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let reset = server.post("/api/breakers/shell/reset", json!({}));
    assert_eq!(reset.status(), StatusCode::OK);
    assert_eq!(reset.json::<Value>().unwrap()["reset"]["tool"], "shell");
    let missing = server.post("/api/validate", json!({"workstreams": ["nope.json"]}));
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        missing.json::<Value>().unwrap()["error"]["code"],
        "path_not_found"
    );
}

#[test]
fn serve_interrupts_its_runs_when_it_stops() {
    let t = Test::new();
    let ws = held(&t, "stop");
    let mut server = Server::start(&t, &[]);
    let r = server.post("/api/runs", json!({"workstreams": [ws], "run_id": "s4"}));
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    crate::handshake::wait_for_file(&t.out.join("stop.started"));
    // A client following the run does not keep the server from stopping.
    let mut stream = server.events("/api/runs/s4/events", None);
    stream.until(|e| e.event == "attempt_started");
    let sent = std::process::Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let code = server.child.wait().unwrap().code();
    assert_eq!(code, Some(0), "the server stops cleanly");
    let status = t.status("s4");
    assert_eq!(status["status"], "interrupted", "{status}");
    assert_eq!(
        crate::support::step_state(&status, "sv/hold"),
        "interrupted"
    );
    // The run is resumable by the CLI.
    std::fs::write(t.out.join("stop.release"), "").unwrap();
    t.pipeline(&["resume", "s4"]).assert_ok();
    assert_eq!(t.status("s4")["status"], "completed");
}
