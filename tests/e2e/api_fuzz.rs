//! The OpenAPI document of `pipeline serve` is complete and true (issue #12, "How it must be
//! shown"): Schemathesis (pinned, `scripts/install-schemathesis.sh`) generates requests
//! for every operation of `GET /api/openapi.json` against a real server over a real
//! repository, and finds no 5xx and no response the document does not describe.
//!
//! The repository holds a completed run (`done`), a failed run (`broken`), a workstream
//! directory (`workstreams/fuzz/`) and an OpenSpec project, so that the fuzzer reaches the
//! success responses too, not only 404s: path parameters (`run`, `step`, `tool`, `item`)
//! and the `workstreams` of request bodies are drawn from dictionaries of real values
//! most of the time (`schemathesis.toml`, written by the test), generated values the rest.
//! State-changing operations are included: the fuzzer starts runs of the directory,
//! resumes the failed run, cancels, approves and rejects, resets breakers.
//!
//! Checks: all of Schemathesis' checks but `positive_data_acceptance`, which expects a
//! 2xx/401/403/404 for any request the schema allows, while a schema-valid request may
//! rightly be refused by the state it meets (a run already finished: 409; a workstream
//! path that does not exist: 400). The server runs with a token, so `ignored_auth`
//! checks that every operation refuses requests without it. Deterministic: seed 1, no
//! example database, one worker, a bounded number of examples per operation.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use serde_json::Value;

use crate::support::{Test, installed_cli};

/// A `pipeline serve` on 127.0.0.1 with an OS-chosen port, stopped when dropped.
pub(crate) struct Served {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// Everything the server printed so far (stdout and stderr), for failure messages.
    log: Arc<Mutex<String>>,
}

impl Served {
    /// Starts `pipeline serve --bind 127.0.0.1:0` in `t`'s repository (with `token` as
    /// `PIPELINE_SERVE_TOKEN` when given), reads the bound address from its output and
    /// waits until `GET /healthz` answers 200.
    pub fn start(t: &Test, token: Option<&str>) -> Served {
        let mut cmd = t.process(&["serve", "--bind", "127.0.0.1:0"]);
        cmd.env("NO_COLOR", "1")
            .env_remove("PIPELINE_SERVE_TOKEN")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(token) = token {
            cmd.env("PIPELINE_SERVE_TOKEN", token);
        }
        let mut child = cmd.spawn().expect("spawn pipeline serve");
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = mpsc::channel::<u16>();
        let stdout = child.stdout.take().expect("stdout piped");
        let stderr = child.stderr.take().expect("stderr piped");
        let mut readers = Vec::new();
        for stream in [
            Box::new(stdout) as Box<dyn std::io::Read + Send>,
            Box::new(stderr),
        ] {
            let log = log.clone();
            let tx = tx.clone();
            readers.push(std::thread::spawn(move || {
                for line in BufReader::new(stream).lines() {
                    let Ok(line) = line else { break };
                    if let Some(port) = bound_port(&line) {
                        let _ = tx.send(port);
                    }
                    let mut log = log.lock().unwrap();
                    log.push_str(&line);
                    log.push('\n');
                }
            }));
        }
        drop(tx);
        let port = match rx.recv_timeout(crate::handshake::LIMIT) {
            Ok(port) => port,
            Err(_) => {
                let _ = child.kill();
                let status = child.wait().ok();
                // The readers end at the end of the output: all of it is in the log.
                for r in readers {
                    let _ = r.join();
                }
                panic!(
                    "pipeline serve never printed its address 127.0.0.1:PORT (exit {status:?}):\n{}",
                    log.lock().unwrap()
                );
            }
        };
        let served = Served {
            child,
            base: format!("http://127.0.0.1:{port}"),
            log,
        };
        let client = http();
        let url = format!("{}/healthz", served.base);
        crate::handshake::wait_until("pipeline serve to answer GET /healthz", || {
            let resp = client.get(&url).send().ok()?;
            (resp.status() == 200).then_some(())
        });
        served
    }

    /// What the server printed so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The port of a `127.0.0.1:PORT` address in a line of the server's output (not port 0:
/// that is the requested bind, not the bound one).
fn bound_port(line: &str) -> Option<u16> {
    let rest = &line[line.find("127.0.0.1:")? + "127.0.0.1:".len()..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok().filter(|&p| p != 0)
}

/// A blocking HTTP client for the test's own requests (no proxy: the server is local).
pub(crate) fn http() -> reqwest::blocking::Client {
    // reqwest is built with `rustls-no-provider` (the webhooks crate's choice): it needs a
    // crypto provider installed before any client is built, even for plain HTTP.
    #[allow(deprecated)] // ring's provider lacks post-quantum key exchange; no TLS here.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::blocking::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("HTTP client")
}

/// The token of the fuzzed server: 43 bytes (at least 32 are required).
const TOKEN: &str = "api-fuzz-token-0123456789abcdefghijklmnopqr";

/// Every operation the issue names, as `METHOD path-template`: the document must
/// describe each (completeness), with these parameter names (the fuzzer's dictionaries
/// use them).
const OPERATIONS: &[&str] = &[
    "GET /api/openapi.json",
    "GET /api/runs",
    "POST /api/runs",
    "GET /api/runs/{run}",
    "POST /api/runs/{run}/cancel",
    "POST /api/runs/{run}/resume",
    "GET /api/runs/{run}/plan",
    "GET /api/runs/{run}/steps/{step}",
    "GET /api/runs/{run}/steps/{step}/logs",
    "GET /api/runs/{run}/steps/{step}/diff",
    "POST /api/runs/{run}/steps/{step}/approve",
    "POST /api/runs/{run}/steps/{step}/reject",
    "GET /api/events",
    "GET /api/runs/{run}/events",
    "POST /api/validate",
    "GET /api/tools",
    "GET /api/breakers",
    "POST /api/breakers/{tool}/reset",
    "GET /api/errors",
    "GET /api/specs",
    "GET /api/specs/{item}",
    "GET /healthz",
];

/// The repository the fuzzer works on: committed workstream files and an OpenSpec project.
fn fixtures(t: &Test) {
    t.commit_file(
        "workstreams/app.json",
        r#"{"id": "app", "steps": [
            {"id": "build", "command": "echo built > built.txt", "acceptance_tests": ["test -s built.txt"]},
            {"id": "check", "command": "grep -q built built.txt", "isolation": "none", "read_only": true, "depends_on": ["build"]}
        ]}"#,
    );
    t.commit_file(
        "workstreams/broken.json",
        r#"{"id": "flaky", "command": "echo 'the flaky step broke' >&2; exit 3"}"#,
    );
    t.commit_file(
        "workstreams/fuzz/one.json",
        r#"{"id": "one", "command": "echo one > one.txt"}"#,
    );
    t.commit_file(
        "workstreams/fuzz/two.json",
        r#"{"id": "two", "command": "test -f one.txt && echo two > two.txt", "depends_on": ["one"]}"#,
    );
    crate::support::commit_notes_project(t);
}

/// Schemathesis' configuration: the token from the environment (never on a command
/// line), and dictionaries of real values for parameters and request bodies, used with
/// the given probability (generated values otherwise).
const SCHEMATHESIS_TOML: &str = r#"
headers = { Authorization = "Bearer ${PIPELINE_FUZZ_TOKEN}" }

# A document whose references do not resolve, or a media type Schemathesis cannot read,
# is not complete: fail on those warnings, not only on failed checks.
[warnings]
fail-on = ["unresolvable_reference", "missing_deserializer"]

# Event streams stay open (a finished run can be resumed): read at most 20 events of
# each, and give up waiting for more after 2 s.
[[operations]]
include-path-regex = "/events$"
max-stream-events = 20
request-timeout = 2.0

[dictionaries.runs]
values = ["done", "broken", "latest", "no-such-run"]

[dictionaries.steps]
values = ["app/build", "app/check", "flaky", "one", "two", "app/no-such-step"]

[dictionaries.tools]
values = ["shell", "aider", "codex", "claude", "no-such-tool"]

[dictionaries.items]
values = ["notes", "add-export", "no-such-item"]

[dictionaries.workstreams]
values = ["workstreams/fuzz", "workstreams/fuzz/one.json", "workstreams/app.json", "workstreams/no-such.json", "../outside.json", "/etc/passwd"]

[parameters]
"path.run" = { dictionary = "runs", probability = 0.8 }
"query.run" = { dictionary = "runs", probability = 0.8 }
"path.step" = { dictionary = "steps", probability = 0.8 }
"path.tool" = { dictionary = "tools", probability = 0.8 }
"path.item" = { dictionary = "items", probability = 0.8 }
"body.workstreams[*]" = { dictionary = "workstreams", probability = 0.8 }
"#;

/// The document served at `/api/openapi.json` names every operation of the issue.
fn assert_complete(doc: &Value) {
    let version = doc["openapi"].as_str().unwrap_or("");
    assert!(
        version.starts_with("3."),
        "openapi.json is not an OpenAPI 3 document (openapi: {version:?})"
    );
    let paths = doc["paths"].as_object().expect("openapi.json has paths");
    let missing: Vec<&str> = OPERATIONS
        .iter()
        .copied()
        .filter(|op| {
            let (method, path) = op.split_once(' ').unwrap();
            paths
                .get(path)
                .and_then(|p| p.get(method.to_ascii_lowercase()))
                .is_none()
        })
        .collect();
    assert!(
        missing.is_empty(),
        "openapi.json lacks operations the issue names: {missing:?}; it has {:?}",
        paths.keys().collect::<Vec<_>>()
    );
}

#[test]
fn api_fuzz_schemathesis_finds_no_server_error_and_no_response_outside_the_document() {
    let Some(schemathesis) =
        installed_cli("schemathesis", ".tools/venv-schemathesis/bin/schemathesis")
    else {
        return;
    };
    let t = Test::new();
    fixtures(&t);
    t.pipeline(&[
        "run",
        "workstreams/app.json",
        "--run-id",
        "done",
        "--jobs",
        "2",
    ])
    .assert_ok();
    t.pipeline(&["run", "workstreams/broken.json", "--run-id", "broken"])
        .assert_code(1);
    let server = Served::start(&t, Some(TOKEN));

    let doc: Value = http()
        .get(format!("{}/api/openapi.json", server.base))
        .bearer_auth(TOKEN)
        .send()
        .and_then(|r| r.error_for_status())
        .and_then(|r| r.json())
        .unwrap_or_else(|e| panic!("GET /api/openapi.json failed: {e}\n{}", server.log()));
    assert_complete(&doc);

    let scratch = tempfile::tempdir().expect("tempdir");
    std::fs::write(scratch.path().join("schemathesis.toml"), SCHEMATHESIS_TOML).unwrap();
    let out = std::process::Command::new(&schemathesis)
        // Its config file, the junit report and nothing else land in the scratch directory.
        .current_dir(scratch.path())
        .env("PIPELINE_FUZZ_TOKEN", TOKEN)
        .env("NO_COLOR", "1")
        .args([
            "run",
            &format!("{}/api/openapi.json", server.base),
            "--checks",
            "all",
            "--exclude-checks",
            "positive_data_acceptance",
            "--seed",
            "1",
            "--max-examples",
            "10",
            "--generation-database",
            "none",
            "--workers",
            "1",
            "--request-timeout",
            "20",
            "--no-color",
            "--report",
            "junit",
            "--report-junit-path",
            "junit.xml",
        ])
        .output()
        .expect("run schemathesis");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "Schemathesis found problems (exit {:?}):\n{stdout}\n{stderr}\n--- server output ---\n{}",
        out.status.code(),
        server.log()
    );
    assert_every_operation_tested(&scratch.path().join("junit.xml"), &stdout);

    // The server survived the fuzzing and still serves the runs it started with.
    let run: Value = http()
        .get(format!("{}/api/runs/done", server.base))
        .bearer_auth(TOKEN)
        .send()
        .and_then(|r| r.error_for_status())
        .and_then(|r| r.json())
        .unwrap_or_else(|e| panic!("GET /api/runs/done after fuzzing: {e}\n{}", server.log()));
    assert_eq!(run["status"], "completed", "{run:#}");
}

/// Schemathesis tested every operation of the issue (its junit report has one test case
/// per operation), except the document itself, which it loads instead of testing.
fn assert_every_operation_tested(junit: &Path, stdout: &str) {
    let xml = std::fs::read_to_string(junit)
        .unwrap_or_else(|e| panic!("no junit report at {}: {e}\n{stdout}", junit.display()));
    let untested: Vec<&str> = OPERATIONS
        .iter()
        .copied()
        .filter(|&op| op != "GET /api/openapi.json")
        .filter(|op| !xml.contains(&format!("name=\"{op}\"")))
        .collect();
    assert!(
        untested.is_empty(),
        "Schemathesis did not test {untested:?}:\n{stdout}"
    );
    assert!(
        !xml.contains("<skipped"),
        "Schemathesis skipped operations:\n{xml}"
    );
}

#[test]
fn api_fuzz_server_address_is_read_from_its_output() {
    assert_eq!(
        bound_port("listening on http://127.0.0.1:40123"),
        Some(40123)
    );
    assert_eq!(bound_port("binding 127.0.0.1:0"), None);
    assert_eq!(bound_port("no address here"), None);
}
