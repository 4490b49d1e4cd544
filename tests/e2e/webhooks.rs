//! Webhooks and notify commands (issue #12): a real HTTP receiver on 127.0.0.1 verifies
//! every Standard Webhooks signature (HMAC computed here, independently of the binary);
//! deliveries match the journal's event ids for the subscribed kinds, survive kill -9,
//! keep their `webhook-id` across retries, and are listed by `pipeline webhooks`.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use hmac::{KeyInit, Mac};
use serde_json::Value;

use crate::handshake::{await_file, wait_until};
use crate::support::{Test, interrupt, step_state};

/// A `whsec_` secret (base64 of 24 bytes), as Standard Webhooks libraries generate.
const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const SECRET_ENV: &str = "PIPELINE_TEST_WEBHOOK_SECRET";

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Received {
    /// The status the receiver answered.
    status: u16,
    path: String,
    headers: HashMap<String, String>,
    body: String,
}

/// A minimal HTTP/1.1 server on 127.0.0.1: records every request and answers with the
/// next scripted status (200 once the script is empty), closing each connection.
#[derive(Clone)]
struct Receiver {
    port: u16,
    received: Arc<Mutex<Vec<Received>>>,
    script: Arc<Mutex<VecDeque<u16>>>,
    /// Status when the script is empty.
    default_status: Arc<Mutex<u16>>,
}

impl Receiver {
    fn start(script: &[u16]) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the receiver");
        let receiver = Receiver {
            port: listener.local_addr().expect("address").port(),
            received: Arc::default(),
            script: Arc::new(Mutex::new(script.iter().copied().collect())),
            default_status: Arc::new(Mutex::new(200)),
        };
        let server = receiver.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let server = server.clone();
                std::thread::spawn(move || server.serve(stream));
            }
        });
        receiver
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn set_default_status(&self, status: u16) {
        *self.default_status.lock().unwrap() = status;
    }

    fn serve(&self, stream: TcpStream) {
        let mut reader = BufReader::new(stream);
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).is_err() {
            return;
        }
        let path = request_line
            .split_whitespace()
            .nth(1)
            .unwrap_or("")
            .to_owned();
        let mut headers = HashMap::new();
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_owned());
            }
        }
        let length: usize = headers
            .get("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let status = self
            .script
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or_else(|| *self.default_status.lock().unwrap());
        self.received.lock().unwrap().push(Received {
            status,
            path,
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        });
        let mut stream = reader.into_inner();
        let _ = write!(
            stream,
            "HTTP/1.1 {status} Scripted\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
        );
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

/// Checks the Standard Webhooks headers and signature of `request`, computing the HMAC
/// here (key: the base64-decoded part of [`SECRET`] after `whsec_`); returns the body
/// as JSON.
fn verify(request: &Received) -> Value {
    let header = |name: &str| {
        request
            .headers
            .get(name)
            .unwrap_or_else(|| panic!("no {name} header in {request:?}"))
            .as_str()
    };
    assert_eq!(header("content-type"), "application/json");
    let id = header("webhook-id");
    let timestamp = header("webhook-timestamp");
    assert!(
        timestamp.parse::<u64>().is_ok(),
        "unix seconds: {timestamp}"
    );
    let key = base64::engine::general_purpose::STANDARD
        .decode(SECRET.trim_start_matches("whsec_"))
        .unwrap();
    let mut mac = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(&key).unwrap();
    mac.update(format!("{id}.{timestamp}.{}", request.body).as_bytes());
    let expected = format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    );
    assert_eq!(header("webhook-signature"), expected, "signature of {id}");
    serde_json::from_str(&request.body).expect("the body is JSON")
}

/// (id, kind) of every journalled event of `run`, oldest first.
fn journal_ids(t: &Test, run: &str) -> Vec<(i64, String)> {
    let c = rusqlite::Connection::open(t.repo.join(".pipeline/state.db")).unwrap();
    let mut stmt = c
        .prepare("SELECT id, kind FROM events WHERE run_id = ?1 ORDER BY id")
        .unwrap();
    stmt.query_map([run], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

fn webhooks_json(t: &Test, args: &[&str]) -> Value {
    let out = t
        .cmd()
        .arg("webhooks")
        .args(args)
        .arg("--json")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("webhooks --json is JSON")
}

fn run_with_secret(t: &Test, args: &[&str]) -> std::process::Output {
    t.cmd().env(SECRET_ENV, SECRET).args(args).output().unwrap()
}

#[test]
fn webhooks_receive_signed_events_of_their_kinds_and_notify_gets_the_json() {
    let t = Test::new();
    let receiver = Receiver::start(&[]);
    let notified = t.out_path("notified.json");
    t.config(&format!(
        "webhooks:\n  - url: {}\n    events: [run_started, step_completed, run_finished]\n    secret_env: {SECRET_ENV}\nnotify:\n  - command: cat > {notified}; echo notify-output-line\n    events: [run_finished]\n",
        receiver.url("/hook?token=sekrit-token-123")
    ));
    let ws = t.workstream(
        "ws.json",
        r#"[{"id": "a", "command": "echo a > a.txt"}, {"id": "b", "depends_on": ["a"], "command": "echo b > b.txt"}]"#,
    );
    let out = run_with_secret(
        &t,
        &["run", ws.to_str().unwrap(), "--run-id", "hooks", "--json"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Every journalled event of the subscribed kinds, and only those, arrived, signed.
    let wanted: BTreeSet<i64> = journal_ids(&t, "hooks")
        .into_iter()
        .filter(|(_, kind)| {
            ["run_started", "step_completed", "run_finished"].contains(&kind.as_str())
        })
        .map(|(id, _)| id)
        .collect();
    assert_eq!(
        wanted.len(),
        4,
        "run_started, 2 x step_completed, run_finished"
    );
    let received = receiver.received();
    let mut ids = BTreeSet::new();
    let mut webhook_ids = BTreeSet::new();
    // The bodies are the journal entries exactly as `--json` printed them.
    let printed: HashMap<i64, Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|v| Some((v["id"].as_i64()?, v)))
        .collect();
    for request in &received {
        assert_eq!(request.path, "/hook?token=sekrit-token-123");
        let body = verify(request);
        let id = body["id"].as_i64().expect("the body has the journal id");
        assert_eq!(body["run_id"], "hooks");
        assert_eq!(
            printed.get(&id),
            Some(&body),
            "body of event {id} = its --json line"
        );
        ids.insert(id);
        webhook_ids.insert(request.headers["webhook-id"].clone());
    }
    assert_eq!(ids, wanted);
    assert_eq!(received.len(), wanted.len(), "each delivered once");
    assert_eq!(webhook_ids.len(), wanted.len(), "one webhook-id per event");

    // The notify command got the run_finished event on stdin; its output went to the
    // notify log, not to the terminal.
    let notified: Value =
        serde_json::from_str(&std::fs::read_to_string(t.out.join("notified.json")).unwrap())
            .expect("the notify command read JSON");
    assert_eq!(notified["event"], "run_finished");
    assert_eq!(notified["run_id"], "hooks");
    let log = std::fs::read_to_string(t.repo.join(".pipeline/logs/notify.log")).unwrap();
    assert!(log.contains("notify-output-line"), "{log}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("notify-output-line"));
    assert!(!String::from_utf8_lossy(&out.stderr).contains("notify-output-line"));

    // `pipeline webhooks` lists them delivered, without the URL's token.
    let listed = webhooks_json(&t, &["--run", "hooks"]);
    assert_eq!(listed["delivered"], 5, "{listed:#}");
    assert_eq!(listed["pending"], 0);
    let text = t.pipeline(&["webhooks"]).assert_ok().stdout();
    assert!(
        text.contains(&format!("http://127.0.0.1:{}/hook", receiver.port)),
        "{text}"
    );
    assert!(!text.contains("sekrit"), "{text}");
    assert!(!listed.to_string().contains("sekrit"));
}

#[test]
fn a_receiver_answering_500_then_200_gets_the_same_webhook_id_twice() {
    let t = Test::new();
    let receiver = Receiver::start(&[500]);
    t.config(&format!(
        "webhooks:\n  - url: {}\n    events: [run_finished]\n    secret_env: {SECRET_ENV}\n",
        receiver.url("/retry")
    ));
    let ws = t.workstream("ws.json", r#"{"id": "a", "command": "true"}"#);
    let out = run_with_secret(&t, &["run", ws.to_str().unwrap(), "--run-id", "retry"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let received = receiver.received();
    assert_eq!(received.len(), 2, "{received:#?}");
    assert_eq!((received[0].status, received[1].status), (500, 200));
    assert_eq!(
        received[0].headers["webhook-id"],
        received[1].headers["webhook-id"]
    );
    assert_eq!(verify(&received[0]), verify(&received[1]), "the same event");
    let listed = webhooks_json(&t, &[]);
    let delivery = &listed["deliveries"][0];
    assert_eq!(delivery["status"], "delivered", "{listed:#}");
    assert_eq!(delivery["attempts"], 2);
    assert_eq!(
        delivery["webhook_id"],
        received[0].headers["webhook-id"].as_str()
    );
    assert!(
        delivery["last_error"]
            .as_str()
            .unwrap_or("")
            .contains("HTTP 500"),
        "{delivery:#}"
    );
}

#[test]
fn a_refused_delivery_is_failed_at_once_with_its_last_error() {
    let t = Test::new();
    let receiver = Receiver::start(&[]);
    receiver.set_default_status(404);
    t.config(&format!(
        "webhooks:\n  - url: {}\n    events: [run_finished, step_failed]\n    secret_env: {SECRET_ENV}\n",
        receiver.url("/gone?token=sekrit-token-456")
    ));
    let ws = t.workstream("ws.json", r#"{"id": "a", "command": "exit 3"}"#);
    let out = run_with_secret(&t, &["run", ws.to_str().unwrap(), "--run-id", "refused"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!stderr.contains("sekrit"), "{stderr}");

    assert_eq!(
        receiver.received().len(),
        2,
        "step_failed and run_finished, once each"
    );
    let listed = webhooks_json(&t, &["--run", "latest"]);
    assert_eq!(listed["failed"], 2, "{listed:#}");
    let kinds: Vec<&str> = listed["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["step_failed", "run_finished"]);
    let delivery = &listed["deliveries"][0];
    assert_eq!(delivery["attempts"], 1);
    assert_eq!(
        delivery["last_error"],
        format!(
            "HTTP 404 Not Found from http://127.0.0.1:{}/gone",
            receiver.port
        )
    );
    let text = t
        .pipeline(&["webhooks", "--run", "refused"])
        .assert_ok()
        .stdout();
    assert!(text.contains("failed"), "{text}");
    assert!(text.contains("last error: HTTP 404 Not Found"), "{text}");
    assert!(!text.contains("sekrit"), "{text}");
    // An unknown run is an error.
    t.pipeline(&["webhooks", "--run", "nope"]).assert_code(2);
}

#[test]
fn kill_9_mid_run_loses_no_delivery() {
    let t = Test::new();
    // The receiver is unavailable while the first process runs: its deliveries stay in
    // the outbox when it is killed.
    let receiver = Receiver::start(&[]);
    receiver.set_default_status(503);
    t.config(&format!(
        "webhooks:\n  - url: {}\n    events: [\"*\"]\n    secret_env: {SECRET_ENV}\nwebhook_delivery:\n  timeout_sec: 2\n  max_backoff_sec: 1\n  drain_sec: 60\n",
        receiver.url("/crash")
    ));
    let release = t.out_path("release");
    let hold = await_file(&release);
    let ws = t.workstream(
        "ws.json",
        &format!(
            r#"[{{"id": "fast", "command": "echo f > f.txt"}},
                {{"id": "slow", "depends_on": ["fast"], "command": "echo s > s.txt; {hold}"}}]"#
        ),
    );
    let mut child = t
        .process(&["run", ws.to_str().unwrap(), "--run-id", "crash"])
        .env(SECRET_ENV, SECRET)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    t.wait_for_status("crash", "fast completed and slow running", |v| {
        step_state(v, "fast") == "completed" && step_state(v, "slow") == "running"
    });
    // At least one attempt was made and refused before the kill.
    wait_until("a delivery attempt before the kill", || {
        (!receiver.received().is_empty()).then_some(())
    });
    child.kill().expect("SIGKILL pipeline");
    child.wait().unwrap();
    let before = journal_ids(&t, "crash");
    let pending_at_kill = webhooks_json(&t, &[])["pending"].as_u64().unwrap();
    assert!(pending_at_kill > 0, "deliveries were pending at the kill");

    receiver.set_default_status(200);
    std::fs::write(&release, "go").unwrap();
    let out = run_with_secret(&t, &["resume", "crash"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let delivered: BTreeSet<i64> = receiver
        .received()
        .iter()
        .filter(|r| r.status == 200)
        .map(|r| verify(r)["id"].as_i64().unwrap())
        .collect();
    let journal: BTreeSet<i64> = journal_ids(&t, "crash")
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    assert!(before.len() < journal.len(), "the resume journalled more");
    let missing: Vec<&i64> = journal.difference(&delivered).collect();
    assert!(missing.is_empty(), "events never delivered: {missing:?}");
    let listed = webhooks_json(&t, &["--run", "crash"]);
    assert_eq!(listed["pending"], 0, "{listed:#}");
    assert_eq!(listed["failed"], 0, "{listed:#}");
    assert_eq!(listed["delivered"], journal.len(), "one row per event");
}

#[test]
fn a_missing_secret_variable_or_unknown_kind_is_a_clear_error() {
    let t = Test::new();
    t.config(
        "webhooks:\n  - url: https://hooks.example.com/p?token=sekrit\n    events: [run_finished]\n    secret_env: PIPELINE_TEST_UNSET_SECRET\n",
    );
    let ws = t.workstream("ws.json", r#"{"id": "a", "command": "true"}"#);
    let r = t
        .pipeline(&["run", ws.to_str().unwrap(), "--run-id", "nosecret"])
        .assert_code(2);
    let stderr = r.stderr();
    assert!(stderr.contains("`webhooks[0].secret_env`"), "{stderr}");
    assert!(
        stderr.contains("PIPELINE_TEST_UNSET_SECRET is not set"),
        "{stderr}"
    );
    assert!(stderr.contains("https://hooks.example.com/p"), "{stderr}");
    assert!(!stderr.contains("sekrit"), "{stderr}");
    assert!(!t.status_exists("nosecret"), "no run was recorded");

    t.config("notify:\n  - command: 'true'\n    events: [run_finishd]\n");
    let r = t
        .pipeline(&["validate", ws.to_str().unwrap()])
        .assert_code(2);
    assert!(r.stderr().contains("`notify[0].events`"), "{}", r.stderr());
    assert!(
        r.stderr().contains("did you mean `run_finished`"),
        "{}",
        r.stderr()
    );

    t.config("webhooks:\n  - url: http://127.0.0.1:1/\n    evnts: ['*']\n    secret_env: S\n");
    let r = t
        .pipeline(&["validate", ws.to_str().unwrap()])
        .assert_code(2);
    assert!(
        r.stderr().contains("did you mean `webhooks[0].events`"),
        "{}",
        r.stderr()
    );
}

impl Test {
    /// Whether `pipeline status RUN` knows the run.
    fn status_exists(&self, run: &str) -> bool {
        self.cmd()
            .args(["status", run, "--json"])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    }
}

#[test]
fn approval_requested_is_delivered_while_the_run_waits_for_the_decision() {
    let t = Test::new();
    let receiver = Receiver::start(&[]);
    t.config(&format!(
        "webhooks:\n  - url: {}\n    events: [approval_requested, run_finished]\n    secret_env: {SECRET_ENV}\n",
        receiver.url("/review")
    ));
    let ws = t.workstream(
        "gate.json",
        r#"{"id": "rel", "steps": [
            {"id": "gate", "approval": "required", "command": "echo reviewed > r.txt"},
            {"id": "after", "depends_on": ["gate"], "command": "test -f r.txt"}]}"#,
    );
    let mut child = t
        .process(&["run", ws.to_str().unwrap(), "--run-id", "review"])
        .env(SECRET_ENV, SECRET)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // The reviewer is told while the run waits: the delivery does not wait for the run.
    let requested = wait_until("approval_requested delivered", || {
        receiver.received().first().map(verify)
    });
    assert_eq!(requested["event"], "approval_requested", "{requested:#}");
    assert_eq!(requested["step"], "rel/gate");
    assert_eq!(
        step_state(&t.status("review"), "rel/gate"),
        "awaiting_approval"
    );
    // Ctrl-C: the run stops waiting, and its interruption is delivered before it exits.
    assert_eq!(interrupt(&mut child), Some(130));
    let bodies: Vec<Value> = receiver.received().iter().map(verify).collect();
    let kinds: Vec<&str> = bodies
        .iter()
        .map(|b| b["event"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["approval_requested", "run_finished"]);
    assert_eq!(bodies[1]["status"], "interrupted");
}
