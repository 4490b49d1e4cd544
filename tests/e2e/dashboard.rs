//! The web dashboard (issue #13, "How it must be shown"), tested in a real browser: each
//! `browser_*` test builds a fixture repository (real git, runs recorded by the real CLI,
//! steps that wait for release files so the test controls their progress), starts the
//! real `pipeline serve --bind 127.0.0.1:0` and runs one Playwright for Python script of
//! `tests/browser/` against it, driving Debian's Chromium (`/usr/bin/chromium`, through
//! `executable_path`; Playwright's own browser download is not used). The scripts use only
//! the selectors and routes of the dashboard's contract; `tests/browser/harness.py` says
//! what they share (console errors fail every scenario, axe-core runs in them).
//!
//! A script asks this side for what only it can do (stop the server, start it again on the
//! same port) with a line `@@ {"ask": ...}` on its stdout and reads one JSON line of answer
//! on its stdin; its other output goes to stderr, which the test's output shows.
//!
//! Prerequisites: `scripts/install-browser-tests.sh` (Chromium with apt-get, pinned
//! Playwright in `.tools/venv-browser`). Without them a browser test is skipped with a
//! message, except under `CI=true`, where it fails. `.config/nextest.toml` runs the browser
//! tests one at a time.
//!
//! Screenshots of the main views are written to `target/tmp/dashboard-screenshots/`
//! (checked: 1280x720, under 300 KB); with `PIPELINE_UPDATE_SCREENSHOTS=1` they are also
//! copied to `docs/images/`, which README.md shows.
//!
//! `dashboard_files_are_served_with_types_etags_and_csp` checks the dashboard's HTTP side
//! without a browser.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Stdio};
use std::sync::{Arc, Mutex, mpsc};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::api_fuzz::http;
use crate::handshake::{LIMIT, await_file, wait_for_file};
use crate::support::Test;

/// The policy the dashboard's files are served with (docs/API.md, src/serve/dashboard.rs).
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// Screenshots may be at most this large (bytes): they are committed.
const MAX_SCREENSHOT_BYTES: u64 = 300 * 1024;

/// A `pipeline serve` on 127.0.0.1 that can be stopped and started again on the same
/// port; stopped (SIGTERM) when dropped.
struct Server<'t> {
    t: &'t Test,
    child: Option<Child>,
    token_file: Option<PathBuf>,
    /// The port it listens on; 0 until the first start chose one.
    port: u16,
    /// Everything every start of it printed, for failure messages.
    log: Arc<Mutex<String>>,
}

impl<'t> Server<'t> {
    /// Starts `pipeline serve --bind 127.0.0.1:0 [--token-file FILE]` in `t`'s repository.
    fn start(t: &'t Test, token_file: Option<&Path>) -> Server<'t> {
        let mut server = Server {
            t,
            child: None,
            token_file: token_file.map(Path::to_path_buf),
            port: 0,
            log: Arc::default(),
        };
        server.launch();
        server
    }

    fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Spawns the server on `self.port` (0: any), reads the bound port from its
    /// `listening on` line and waits until `GET /healthz` answers.
    fn launch(&mut self) {
        let bind = format!("127.0.0.1:{}", self.port);
        let mut args = vec!["serve", "--bind", &bind];
        let token_file = self.token_file.as_ref().map(|p| p.to_string_lossy());
        if let Some(file) = &token_file {
            args.extend(["--token-file", file]);
        }
        let mut child = self
            .t
            .process(&args)
            .env("NO_COLOR", "1")
            .env_remove("PIPELINE_SERVE_TOKEN")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn pipeline serve");
        let stderr = child.stderr.take().expect("stderr piped");
        let (tx, rx) = mpsc::channel::<u16>();
        let log = self.log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(port) = line
                    .strip_prefix("listening on http://127.0.0.1:")
                    .and_then(|p| p.trim().parse().ok())
                {
                    let _ = tx.send(port);
                }
                let mut log = log.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
        let port = rx.recv_timeout(LIMIT).unwrap_or_else(|e| {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "pipeline serve --bind {bind} did not start ({e}):\n{}",
                self.log.lock().unwrap()
            )
        });
        assert!(
            self.port == 0 || self.port == port,
            "restarted on {port}, not {}",
            self.port
        );
        self.port = port;
        self.child = Some(child);
        let client = http();
        let health = format!("{}/healthz", self.base());
        crate::handshake::wait_until("pipeline serve to answer GET /healthz", || {
            (client.get(&health).send().ok()?.status() == StatusCode::OK).then_some(())
        });
    }

    /// SIGTERM, and waits until it has exited (0, as docs/API.md promises).
    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            terminate(&mut child);
            let code = child.wait().expect("wait for pipeline serve").code();
            assert_eq!(
                code,
                Some(0),
                "pipeline serve stops cleanly:\n{}",
                self.log()
            );
        }
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }
}

impl Drop for Server<'_> {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            terminate(&mut child);
            let _ = child.wait();
        }
    }
}

fn terminate(child: &mut Child) {
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
}

/// A background `pipeline run`, killed when dropped if it is still running (a failed
/// scenario must not leave it waiting for a release file).
struct CliRun(Child);

impl CliRun {
    fn spawn(t: &Test, workstream: &str, run: &str) -> CliRun {
        CliRun(t.spawn(&["run", workstream, "--run-id", run, "--jobs", "2"]))
    }

    /// Waits for the run's process to end; its exit code.
    fn wait(&mut self) -> Option<i32> {
        self.0.wait().expect("wait for pipeline run").code()
    }
}

impl Drop for CliRun {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// What runs the scripts: Python with Playwright, and Chromium.
struct Browser {
    python: PathBuf,
    chromium: PathBuf,
}

/// The browser of the tests: `$PIPELINE_TEST_BROWSER_PYTHON` (else
/// `.tools/venv-browser/bin/python`, where `scripts/install-browser-tests.sh` puts it) and
/// `$PIPELINE_TEST_CHROMIUM` (else `/usr/bin/chromium`). When either is missing: `None`
/// (the test is skipped with a message), but a failure under `CI=true`.
fn browser() -> Option<Browser> {
    let python = std::env::var_os("PIPELINE_TEST_BROWSER_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_file(".tools/venv-browser/bin/python"));
    let chromium = std::env::var_os("PIPELINE_TEST_CHROMIUM")
        .map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from);
    let missing: Vec<String> = [&python, &chromium]
        .into_iter()
        .filter(|p| !p.is_file())
        .map(|p| p.display().to_string())
        .collect();
    if missing.is_empty() {
        return Some(Browser { python, chromium });
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "the browser tests need {} (run scripts/install-browser-tests.sh); required under CI=true",
        missing.join(" and ")
    );
    eprintln!(
        "SKIP: the browser tests need {} (run scripts/install-browser-tests.sh)",
        missing.join(" and ")
    );
    None
}

/// A path in this repository's source tree.
fn repo_file(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// Where the scenarios write their screenshots.
fn screenshots_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("dashboard-screenshots")
}

/// What a scenario script may ask for, answered by the test.
type Ask<'a, 't> = dyn FnMut(&str, &mut Server<'t>) -> Result<Value, String> + 'a;

impl Browser {
    /// Runs `tests/browser/SCRIPT.py` against `server` with `fixture`, answering its asks
    /// with `ask`; panics (with the server's output) unless it exits 0. Checks the
    /// screenshots it must write (`shots`, names without `.png`).
    fn run<'t>(
        &self,
        script: &str,
        server: &mut Server<'t>,
        fixture: &Value,
        shots: &[&str],
        ask: &mut Ask<'_, 't>,
    ) {
        let shots_dir = screenshots_dir();
        std::fs::create_dir_all(&shots_dir).expect("mkdir screenshots");
        for shot in shots {
            let _ = std::fs::remove_file(shots_dir.join(format!("{shot}.png")));
        }
        let mut cmd = std::process::Command::new(&self.python);
        cmd.arg(repo_file(&format!("tests/browser/{script}.py")))
            .env("PIPELINE_DASHBOARD_URL", server.base())
            .env("PIPELINE_BROWSER", &self.chromium)
            .env("PIPELINE_SCREENSHOTS", &shots_dir)
            .env("PIPELINE_TEST_OUT", &server.t.out)
            .env("PIPELINE_TEST_FIXTURE", fixture.to_string())
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .env("PYTHONUNBUFFERED", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if let Some(file) = &server.token_file {
            let token = std::fs::read_to_string(file).expect("read the token file");
            cmd.env("PIPELINE_TEST_TOKEN", token.trim());
        } else {
            cmd.env_remove("PIPELINE_TEST_TOKEN");
        }
        let mut child = cmd.spawn().expect("start the Playwright script");
        let stdout = child.stdout.take().expect("stdout piped");
        let mut stdin = child.stdin.take().expect("stdin piped");
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            match line.strip_prefix("@@ ") {
                Some(request) => answer(request, &mut stdin, server, ask),
                None => eprintln!("{script}.py: {line}"),
            }
        }
        drop(stdin);
        let status = child.wait().expect("wait for the Playwright script");
        assert!(
            status.success(),
            "tests/browser/{script}.py failed ({status}); its output is above\n--- pipeline serve ---\n{}",
            server.log()
        );
        for shot in shots {
            check_screenshot(&shots_dir.join(format!("{shot}.png")));
        }
    }
}

/// Answers one ask of a script on its stdin.
fn answer<'t>(
    request: &str,
    stdin: &mut ChildStdin,
    server: &mut Server<'t>,
    ask: &mut Ask<'_, 't>,
) {
    let request: Value = serde_json::from_str(request).expect("an ask is JSON");
    let what = request["ask"].as_str().unwrap_or_default();
    let reply = ask(what, server).unwrap_or_else(|e| json!({"error": e}));
    writeln!(stdin, "{reply}").expect("answer the script");
    stdin.flush().expect("answer the script");
}

/// A scenario that asks for nothing.
fn no_asks(what: &str, _: &mut Server<'_>) -> Result<Value, String> {
    Err(format!("this scenario answers no ask ({what})"))
}

/// A screenshot is a 1280x720 PNG under [`MAX_SCREENSHOT_BYTES`]; with
/// `PIPELINE_UPDATE_SCREENSHOTS=1` it is copied to `docs/images/`.
fn check_screenshot(path: &Path) {
    let bytes = std::fs::read(path)
        .unwrap_or_else(|e| panic!("the scenario wrote no screenshot {}: {e}", path.display()));
    assert!(
        bytes.starts_with(b"\x89PNG\r\n\x1a\n") && bytes.len() > 24,
        "{} is not a PNG",
        path.display()
    );
    // IHDR, the first chunk: width and height, big-endian, at bytes 16..24.
    let width = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
    let height = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
    assert_eq!((width, height), (1280, 720), "{}", path.display());
    let size = bytes.len() as u64;
    assert!(
        size < MAX_SCREENSHOT_BYTES,
        "{} is {size} bytes (at most {MAX_SCREENSHOT_BYTES})",
        path.display()
    );
    if std::env::var("PIPELINE_UPDATE_SCREENSHOTS").as_deref() == Ok("1") {
        let name = path.file_name().expect("a file name");
        let target = repo_file("docs/images").join(name);
        std::fs::create_dir_all(target.parent().unwrap()).expect("mkdir docs/images");
        std::fs::copy(path, &target).expect("copy the screenshot to docs/images");
        eprintln!("updated {}", target.display());
    }
}

/// A step command that writes `OUT/NAME.started`, waits for `OUT/NAME.release`, then runs
/// `then`.
fn held_command(t: &Test, name: &str, then: &str) -> String {
    format!(
        "touch {}; {}; {then}",
        t.out_path(&format!("{name}.started")),
        await_file(&t.out_path(&format!("{name}.release")))
    )
}

/// Commits `steps` (JSON values) as `workstreams/NAME.json` with workstream id `id`;
/// returns the path relative to the repository.
fn workstream(t: &Test, name: &str, id: &str, steps: &Value) -> String {
    let rel = format!("workstreams/{name}.json");
    t.commit_file(&rel, &json!({"id": id, "steps": steps}).to_string());
    rel
}

#[test]
fn browser_runs_list_starts_runs_and_shows_tools_and_specs() {
    let Some(browser) = browser() else { return };
    let t = Test::new();
    // A tool whose failures count against its breaker (a 5xx: transient), which opens
    // after one.
    t.config(
        "tools:\n  flaky:\n    kind: custom\n    command: sh\n    args: [\"-c\", \"echo 'error: 503 Service Unavailable' >&2; exit 1\"]\n    circuit_breaker: {failure_threshold: 1, cooldown: 600}\n",
    );
    let quick = workstream(
        &t,
        "quick",
        "quick",
        &json!([
            {"id": "one", "command": "echo one > one.txt", "files_scope": ["one.txt"]},
            {"id": "two", "command": "true", "depends_on": ["one"]}
        ]),
    );
    let flaky = workstream(
        &t,
        "flaky",
        "flaky",
        &json!([{"id": "try", "tool": "flaky", "prompt": "do it", "retry": {"enabled": false}}]),
    );
    let held = workstream(
        &t,
        "held",
        "held",
        &json!([{"id": "wait", "command": held_command(&t, "runs-held", "true"), "retry": {"enabled": false}}]),
    );
    let broken = workstream(&t, "broken", "broken", &json!([{"id": "s"}]));
    crate::support::commit_notes_project(&t);
    t.pipeline(&["run", &quick, "--run-id", "done1"])
        .assert_ok();
    // The same workstream again: both steps come from the step cache.
    t.pipeline(&["run", &quick, "--run-id", "cached1"])
        .assert_ok();
    assert!(t.status("cached1")["steps"][0]["cached_from"].is_object());
    t.pipeline(&["run", &flaky, "--run-id", "bad1"]);
    assert_eq!(t.status("bad1")["status"], "failed");

    let mut server = Server::start(&t, None);
    let fixture = json!({
        "runs": {"done": "done1", "failed": "bad1", "cached": "cached1"},
        "held": held,
        "broken": broken,
        "breaker_tool": "flaky",
        "failed_step": "flaky/try",
    });
    browser.run(
        "runs",
        &mut server,
        &fixture,
        &["dashboard-runs"],
        &mut no_asks,
    );

    // The run started from the page, by the server, completed once released.
    let runs: Value = serde_json::from_str(&t.pipeline(&["runs", "--json"]).assert_ok().stdout())
        .expect("runs --json");
    let runs = runs.as_array().expect("a list");
    assert_eq!(runs.len(), 4, "{runs:#?}");
    assert_eq!(runs[0]["status"], "completed");
    assert!(
        runs[0]["workstream"].as_str().unwrap().ends_with(&held),
        "{runs:#?}"
    );
    let breakers: Value =
        serde_json::from_str(&t.pipeline(&["breakers", "--json"]).assert_ok().stdout()).unwrap();
    // Reset from the page: closed (`pipeline breakers --reset` forgets its record).
    assert!(
        breakers["breakers"]
            .as_array()
            .unwrap()
            .iter()
            .all(|b| b["tool"] != "flaky" || b["status"] == "closed"),
        "{breakers}"
    );
}

#[test]
fn browser_run_dag_follows_the_run_live_with_logs_and_diffs() {
    let Some(browser) = browser() else { return };
    let t = Test::new();
    let ws = workstream(
        &t,
        "live",
        "live",
        &json!([
            {"id": "write", "command": format!("echo 'log line one'; {}", held_command(&t, "write", "echo 'log line two'; echo 'the feature' > feature.txt")),
             "files_scope": ["feature.txt"], "retry": {"enabled": false}},
            {"id": "check", "command": "true", "depends_on": ["write"]},
            {"id": "docs", "command": "echo docs > docs.txt", "files_scope": ["docs.txt"]},
            {"id": "ship", "command": "true", "depends_on": ["check", "docs"]}
        ]),
    );
    let mut server = Server::start(&t, None);
    let mut cli = CliRun::spawn(&t, &ws, "live1");
    browser.run(
        "run_live",
        &mut server,
        &json!({"run": "live1"}),
        &["dashboard-dag", "dashboard-step-diff"],
        &mut no_asks,
    );
    assert_eq!(cli.wait(), Some(0));
    assert_eq!(t.status("live1")["status"], "completed");
}

#[test]
fn browser_approves_and_rejects_steps_from_the_page() {
    let Some(browser) = browser() else { return };
    let t = Test::new();
    let comment = "deny.txt is not wanted: keep the docs in README";
    let ws = workstream(
        &t,
        "gate",
        "gate",
        &json!([
            {"id": "review", "command": "echo reviewed > review.txt", "files_scope": ["review.txt"], "approval": "required"},
            {"id": "after", "command": format!("touch {}", t.out_path("after.ran")), "depends_on": ["review"]},
            {"id": "deny", "command": "echo denied > deny.txt", "files_scope": ["deny.txt"], "approval": "required"},
            {"id": "late", "command": format!("touch {}", t.out_path("late.ran")), "depends_on": ["deny"]}
        ]),
    );
    let mut server = Server::start(&t, None);
    let mut cli = CliRun::spawn(&t, &ws, "gate1");
    browser.run(
        "approval",
        &mut server,
        &json!({"run": "gate1", "comment": comment}),
        &["dashboard-approval"],
        &mut no_asks,
    );
    assert_ne!(cli.wait(), Some(0), "a run with a rejected step fails");
    let status = t.status("gate1");
    assert_eq!(status["status"], "failed");
    assert!(
        t.out.join("after.ran").exists(),
        "the approved step's dependent ran"
    );
    assert!(
        !t.out.join("late.ran").exists(),
        "the rejected step's dependent ran"
    );
    let approved = t.events("gate1", "gate/review", "step_approved");
    assert_eq!(approved.len(), 1, "{approved:?}");
    let rejected = t.events("gate1", "gate/deny", "step_rejected");
    assert_eq!(rejected.len(), 1, "{rejected:?}");
    assert_eq!(rejected[0]["comment"], comment);
}

#[test]
fn browser_cancels_and_resumes_a_run_from_the_page() {
    let Some(browser) = browser() else { return };
    let t = Test::new();
    let ws = workstream(
        &t,
        "stop",
        "stop",
        &json!([
            {"id": "hold", "command": held_command(&t, "stop", "true"), "retry": {"enabled": false}},
            {"id": "after", "command": "true", "depends_on": ["hold"]}
        ]),
    );
    let mut server = Server::start(&t, None);
    let mut cli = CliRun::spawn(&t, &ws, "stop1");
    browser.run(
        "cancel_resume",
        &mut server,
        &json!({"run": "stop1"}),
        &[],
        &mut no_asks,
    );
    assert_eq!(cli.wait(), Some(143), "the CLI run stops as on SIGTERM");
    let status = t.status("stop1");
    assert_eq!(
        status["status"], "completed",
        "resumed by the server: {status:#}"
    );
    assert_eq!(
        t.events("stop1", "stop/hold", "attempt_started").len(),
        2,
        "interrupted once, then run again"
    );
}

#[test]
fn browser_recovers_after_the_server_restarts_mid_run() {
    let Some(browser) = browser() else { return };
    let t = Test::new();
    let ws = workstream(
        &t,
        "restart",
        "restart",
        &json!([
            {"id": "hold", "command": held_command(&t, "hold", "true"), "retry": {"enabled": false}},
            {"id": "next", "command": "true", "depends_on": ["hold"]},
            {"id": "last", "command": "true", "depends_on": ["next"]}
        ]),
    );
    let mut server = Server::start(&t, None);
    let port = server.port;
    let mut cli = CliRun::spawn(&t, &ws, "rs1");
    wait_for_file(&t.out.join("hold.started"));
    let mut restarts = 0;
    browser.run(
        "restart",
        &mut server,
        &json!({"run": "rs1"}),
        &[],
        &mut |what, server| match what {
            "stop_server" => {
                server.stop();
                Ok(json!({}))
            }
            "start_server" => {
                // The run goes on without the server: every later change of the run
                // happens while the page has none, and must be caught up.
                let code = cli.wait();
                if code != Some(0) {
                    return Err(format!("the CLI run ended with {code:?}"));
                }
                server.launch();
                restarts += 1;
                Ok(json!({"port": server.port}))
            }
            other => Err(format!("unknown ask {other}")),
        },
    );
    assert_eq!(restarts, 1);
    assert_eq!(server.port, port, "the same port");
    assert_eq!(t.status("rs1")["status"], "completed");
}

/// 1,000 no-op steps in 20 layers of 50; a step of layer k > 0 depends on two steps of
/// layer k-1 (as tests/e2e/sse_load.rs).
fn thousand_steps() -> Value {
    let id = |k: usize, i: usize| format!("s{k:02}-{i:02}");
    let mut steps = Vec::new();
    for k in 0..20 {
        for i in 0..50 {
            let mut deps = Vec::new();
            if k > 0 {
                deps.push(id(k - 1, i));
                if (i * 7 + 3) % 50 != i {
                    deps.push(id(k - 1, (i * 7 + 3) % 50));
                }
            }
            steps.push(
                json!({"id": id(k, i), "command": "true", "isolation": "none", "depends_on": deps}),
            );
        }
    }
    Value::Array(steps)
}

#[test]
fn browser_renders_a_1000_step_dag_within_the_limit() {
    let Some(browser) = browser() else { return };
    let t = Test::new();
    let ws = workstream(&t, "big", "big", &thousand_steps());
    t.pipeline(&["run", &ws, "--run-id", "big1", "--jobs", "4"])
        .assert_ok();
    let mut server = Server::start(&t, None);
    browser.run(
        "big_dag",
        &mut server,
        &json!({"run": "big1"}),
        &[],
        &mut no_asks,
    );
}

#[test]
fn browser_asks_for_the_token_once_and_never_puts_it_in_a_url() {
    let Some(browser) = browser() else { return };
    let t = Test::new();
    let token_file = t.out.join("token");
    std::fs::write(
        &token_file,
        "dashboard-token-0123456789abcdef0123456789abcdef\n",
    )
    .unwrap();
    let ws = workstream(
        &t,
        "tok",
        "tok",
        &json!([{"id": "say", "command": "echo 'token run output'"}]),
    );
    t.pipeline(&["run", &ws, "--run-id", "tok1"]).assert_ok();
    let mut server = Server::start(&t, Some(&token_file));
    browser.run(
        "token_once",
        &mut server,
        &json!({"run": "tok1", "step": "tok/say", "steps": 1}),
        &[],
        &mut no_asks,
    );
}

/// One raw HTTP/1.1 GET of `path` exactly as written (a client library would normalise
/// `..` away); the status code and the body.
fn raw_get(base: &str, path: &str) -> (u16, String) {
    let address = base.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(address).expect("connect");
    stream.set_read_timeout(Some(LIMIT)).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("read the answer");
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line: {answer:?}"));
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

#[test]
fn dashboard_files_are_served_with_types_etags_and_csp() {
    let t = Test::new();
    t.commit_file("workstreams/a.json", r#"{"id": "a", "command": "true"}"#);
    t.commit_file(
        "workstreams/more/b.yaml",
        "id: b\nsteps:\n  - id: s\n    command: \"true\"\n",
    );
    t.commit_file("workstreams/notes.txt", "not a workstream\n");
    // A CI workflow kept with the workstreams (as in workstreams/examples/ci/) is no
    // workstream either.
    t.commit_file(
        "workstreams/ci/github-actions.yml",
        "name: ci\non: push\nenv:\n  A: b\njobs:\n  t:\n    runs-on: ubuntu-latest\n    steps:\n      - run: 'true'\n",
    );
    let token = "dashboard-http-token-0123456789abcdef0123456789";
    let token_file = t.out.join("token");
    std::fs::write(&token_file, token).unwrap();
    let server = Server::start(&t, Some(&token_file));
    let base = server.base();
    let client = http();

    // The page and its files, without the token, each with its type, no-cache, an ETag
    // and the strict CSP.
    for (path, content_type) in [
        ("/", "text/html"),
        ("/ui/index.html", "text/html"),
        ("/ui/app.css", "text/css"),
        ("/ui/js/main.mjs", "text/javascript"),
        ("/ui/vendor/cytoscape.esm.min.mjs", "text/javascript"),
        ("/ui/icon.svg", "image/svg+xml"),
    ] {
        let r = client.get(format!("{base}{path}")).send().unwrap();
        assert_eq!(r.status(), StatusCode::OK, "GET {path}");
        let headers = r.headers().clone();
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_else(|| panic!("GET {path}: no {name} header"))
                .to_owned()
        };
        assert!(
            header("content-type").starts_with(content_type),
            "GET {path}: {}",
            header("content-type")
        );
        assert_eq!(header("cache-control"), "no-cache", "GET {path}");
        assert_eq!(header("content-security-policy"), CSP, "GET {path}");
        assert_eq!(header("x-content-type-options"), "nosniff", "GET {path}");
        let etag = header("etag");
        assert!(
            etag.len() == 34 && etag.starts_with('"') && etag.ends_with('"'),
            "GET {path}: ETag {etag}"
        );
        let body = r.bytes().unwrap();
        assert!(!body.is_empty(), "GET {path}: empty");
        let again = client
            .get(format!("{base}{path}"))
            .header("If-None-Match", &etag)
            .send()
            .unwrap();
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED, "GET {path} again");
        assert_eq!(again.headers()["etag"], etag.as_str());
        assert!(again.bytes().unwrap().is_empty(), "304 without a body");
        let changed = client
            .get(format!("{base}{path}"))
            .header("If-None-Match", "\"0000\"")
            .send()
            .unwrap();
        assert_eq!(changed.status(), StatusCode::OK, "another ETag: the file");
    }
    let index = client
        .get(format!("{base}/"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert_eq!(
        index,
        std::fs::read_to_string(repo_file("dashboard/index.html")).unwrap()
    );
    // The CSP allows no inline script or style: the page has none (comments aside).
    let mut markup = String::new();
    let mut rest = index.as_str();
    while let Some(start) = rest.find("<!--") {
        markup.push_str(&rest[..start]);
        let end = rest[start..].find("-->").expect("a closed comment");
        rest = &rest[start + end + 3..];
    }
    markup.push_str(rest);
    for tag in markup.split("<script").skip(1) {
        let open = &tag[..tag.find('>').expect("a closed tag")];
        assert!(
            open.contains("src="),
            "an inline script in index.html: <script{open}>"
        );
    }
    assert!(!markup.contains(" style="), "an inline style in index.html");
    assert!(
        !markup.contains("<style"),
        "an inline style sheet in index.html"
    );

    // Nothing outside dashboard/, however the path is spelt.
    for path in [
        "/ui/../Cargo.toml",
        "/ui/%2e%2e/Cargo.toml",
        "/ui/..%2fCargo.toml",
        "/ui/vendor/../../Cargo.toml",
        "/ui/.hidden",
        "/ui/nope.css",
        "/ui/vendor/licenses",
    ] {
        let (status, body) = raw_get(&base, path);
        assert!(
            (400..500).contains(&status),
            "GET {path} answered {status}: {body}"
        );
        assert!(!body.contains("[workspace]"), "GET {path} leaked a file");
    }
    let (status, body) = raw_get(&base, "/ui/app.css");
    assert_eq!(status, 200, "the raw client reads a plain answer: {body}");

    // The API needs the token; the dashboard's files do not.
    let runs = client.get(format!("{base}/api/runs")).send().unwrap();
    assert_eq!(runs.status(), StatusCode::UNAUTHORIZED);
    let runs = client
        .get(format!("{base}/api/runs"))
        .bearer_auth(token)
        .send()
        .unwrap();
    assert_eq!(runs.status(), StatusCode::OK);
    assert_eq!(runs.json::<Value>().unwrap(), json!([]));

    // The workstream files a run can be started from.
    let listed = client
        .get(format!("{base}/api/workstreams"))
        .send()
        .unwrap();
    assert_eq!(listed.status(), StatusCode::UNAUTHORIZED);
    let listed: Value = client
        .get(format!("{base}/api/workstreams"))
        .bearer_auth(token)
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(listed["directory"], "workstreams");
    assert_eq!(listed["truncated"], false);
    let paths: Vec<&str> = listed["workstreams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["workstreams/a.json", "workstreams/more/b.yaml"]);
    assert_eq!(
        listed["workstreams"][0]["bytes"],
        std::fs::metadata(t.repo.join("workstreams/a.json"))
            .unwrap()
            .len()
    );
}
