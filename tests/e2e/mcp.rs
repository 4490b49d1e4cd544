//! `pipeline mcp` (issue #12, "MCP server") driven by a real MCP client: the official
//! `mcp` Python SDK's stdio client (pinned, installed by scripts/install-mcp-client.sh
//! into .tools/venv-mcp), through testing/mcp-client/client.py, which starts the real
//! `pipeline mcp` on a real repository and answers one JSON line per request. Without
//! the SDK the tests are skipped with a message, and fail under `CI=true`.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};

use serde_json::{Value, json};

use crate::handshake::{LIMIT, await_file, wait_until};
use crate::support::{Test, step_state};

/// The interpreter of the venv holding the pinned SDK: `$PIPELINE_TEST_MCP_PYTHON`, else
/// `.tools/venv-mcp/bin/python`. `None` (with a message) when it is missing, except under
/// `CI=true`, where that fails the test.
fn mcp_python() -> Option<PathBuf> {
    let python = std::env::var_os("PIPELINE_TEST_MCP_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".tools/venv-mcp/bin/python")
        });
    if python.is_file() {
        return Some(python);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "the mcp Python SDK is not installed at {} (run scripts/install-mcp-client.sh); required under CI=true",
        python.display()
    );
    eprintln!(
        "SKIP: the mcp Python SDK is not installed (run scripts/install-mcp-client.sh); looked at {}",
        python.display()
    );
    None
}

/// One MCP session: the Python client, which runs `pipeline mcp --repo <repo>`.
struct Session {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    /// What the client saw at `initialize`: protocol version, server info, capabilities,
    /// instructions.
    info: Value,
}

impl Session {
    /// Starts a session on `t`'s repository with the `initialize` handshake, or `None`
    /// when the SDK is missing.
    fn start(t: &Test) -> Option<Session> {
        Session::start_in_mode(t, "legacy")
    }

    /// Starts a session negotiating the protocol as `mode` says (`legacy`: `initialize`;
    /// `auto`: `server/discover` first, see client.py).
    fn start_in_mode(t: &Test, mode: &str) -> Option<Session> {
        let python = mcp_python()?;
        let client = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testing/mcp-client/client.py");
        let pipeline = assert_cmd::cargo::cargo_bin("pipeline");
        let mut child = Command::new(python)
            .arg(client)
            .args(["--mode", mode, "--"])
            .arg(pipeline)
            .args(["mcp", "--repo"])
            .arg(&t.repo)
            // Not the repository: the server must serve the repository it was given.
            .current_dir(&t.out)
            .env_remove("RUST_LOG")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the MCP client");
        let stdout = child.stdout.take().expect("client stdout");
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stdin = child.stdin.take();
        let mut session = Session {
            child,
            stdin,
            lines,
            info: Value::Null,
        };
        session.info = session.next_line("the initialize handshake");
        Some(session)
    }

    /// The client's next line, as JSON; panics naming `what` when the client ends or
    /// says nothing within [`LIMIT`].
    fn next_line(&mut self, what: &str) -> Value {
        match self.lines.recv_timeout(LIMIT) {
            Ok(line) => serde_json::from_str(&line)
                .unwrap_or_else(|e| panic!("client line for {what} is not JSON ({e}): {line}")),
            Err(RecvTimeoutError::Timeout) => panic!("no answer from the MCP client for {what}"),
            Err(RecvTimeoutError::Disconnected) => {
                let status = self.child.wait().expect("wait for the client");
                panic!(
                    "the MCP client ended ({status}) before answering {what} (its stderr is above)"
                )
            }
        }
    }

    /// Sends `request` and returns the client's answer (`{"result"}` or `{"error"}`).
    fn request(&mut self, request: Value) -> Value {
        let stdin = self.stdin.as_mut().expect("session open");
        writeln!(stdin, "{request}").expect("write to the MCP client");
        stdin.flush().expect("flush");
        self.next_line(&request.to_string())
    }

    /// The result of a request that must succeed at the protocol level.
    fn result(&mut self, request: Value) -> Value {
        let answer = self.request(request.clone());
        assert!(
            answer.get("error").is_none(),
            "protocol error for {request}: {answer:#}"
        );
        answer["result"].clone()
    }

    /// Calls tool `name` with `arguments`: the `CallToolResult`.
    fn call(&mut self, name: &str, arguments: Value) -> Value {
        self.result(json!({"op": "call_tool", "name": name, "arguments": arguments}))
    }

    /// Calls tool `name`, asserts it succeeded, and returns its structured content.
    fn call_ok(&mut self, name: &str, arguments: Value) -> Value {
        let result = self.call(name, arguments.clone());
        assert_ne!(
            result["isError"], true,
            "tool {name} {arguments} failed: {result:#}"
        );
        result["structuredContent"].clone()
    }

    /// Calls tool `name`, asserts it answered a tool error, and returns its text.
    fn call_err(&mut self, name: &str, arguments: Value) -> String {
        let result = self.call(name, arguments.clone());
        assert_eq!(
            result["isError"], true,
            "tool {name} {arguments} should fail: {result:#}"
        );
        text_of(&result)
    }

    /// Reads resource `uri`: its one content's text, parsed as JSON.
    fn read(&mut self, uri: &str) -> Value {
        let result = self.result(json!({"op": "read_resource", "uri": uri}));
        let contents = result["contents"].as_array().expect("contents");
        assert_eq!(contents.len(), 1, "{result:#}");
        assert_eq!(contents[0]["uri"], uri);
        assert_eq!(contents[0]["mimeType"], "application/json");
        serde_json::from_str(contents[0]["text"].as_str().expect("text"))
            .expect("resource text is JSON")
    }

    /// Ends the session (end of the client's stdin) and waits for the client, which
    /// closes the server's stdin and waits for it; the client must exit 0.
    fn close(mut self) {
        drop(self.stdin.take());
        let status = self.child.wait().expect("wait for the client");
        assert!(status.success(), "the MCP client exited with {status}");
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        // A failed assertion must not leave the client (and its server) running.
        if self.stdin.is_some() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The text of a tool result's content blocks, joined.
fn text_of(result: &Value) -> String {
    result["content"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["text"].as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

/// A workstream of two steps, `build/make` then `build/check`, committed in the
/// repository at `workstreams/build.json`.
fn build_workstream(t: &Test) {
    t.commit_file(
        "workstreams/build.json",
        r#"{"id": "build", "steps": [
            {"id": "make", "command": "echo making the file; echo made > made.txt"},
            {"id": "check", "depends_on": ["make"], "command": "grep -q made made.txt && echo checked"}
        ]}"#,
    );
}

#[test]
fn mcp_session_lists_validates_plans_runs_and_follows_a_run() {
    let t = Test::new();
    build_workstream(&t);
    t.commit_file(
        "workstreams/broken.json",
        r#"{"id": "broken", "steps": [{"id": "a", "command": "true", "depends_on": ["nowhere"]}]}"#,
    );
    let Some(mut s) = Session::start(&t) else {
        return;
    };

    // initialize
    assert_eq!(s.info["server_info"]["name"], "pipeline", "{:#}", s.info);
    assert!(s.info["capabilities"]["tools"].is_object(), "{:#}", s.info);
    assert!(
        s.info["capabilities"]["resources"].is_object(),
        "{:#}",
        s.info
    );
    assert!(
        s.info["instructions"]
            .as_str()
            .unwrap_or("")
            .contains("run id"),
        "{:#}",
        s.info
    );

    // tools/list: every tool, each with a description and an object input schema.
    let tools = s.result(json!({"op": "list_tools"}));
    let mut names: Vec<&str> = tools["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .map(|tool| {
            assert!(
                tool["description"].as_str().is_some_and(|d| !d.is_empty()),
                "{tool:#}"
            );
            assert_eq!(tool["inputSchema"]["type"], "object", "{tool:#}");
            tool["name"].as_str().expect("name")
        })
        .collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "approve", "logs", "plan", "reject", "run", "status", "validate"
        ]
    );
    let logs_tool = &tools["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "logs")
        .unwrap()["inputSchema"];
    let mut read_only: Vec<&str> = tools["tools"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["annotations"]["readOnlyHint"] == true)
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    read_only.sort_unstable();
    assert_eq!(read_only, ["logs", "plan", "status", "validate"]);
    assert_eq!(
        logs_tool["required"],
        json!(["run", "step"]),
        "{logs_tool:#}"
    );

    // resources/list and resources/templates/list before any run.
    let resources = s.result(json!({"op": "list_resources"}));
    let uris: Vec<&str> = resources["resources"]
        .as_array()
        .expect("resources")
        .iter()
        .map(|r| r["uri"].as_str().expect("uri"))
        .collect();
    assert_eq!(
        uris,
        ["pipeline://runs", "pipeline://specs", "pipeline://changes"]
    );
    let templates = s.result(json!({"op": "list_resource_templates"}));
    let templates: Vec<&str> = templates["resourceTemplates"]
        .as_array()
        .expect("templates")
        .iter()
        .map(|r| r["uriTemplate"].as_str().expect("uriTemplate"))
        .collect();
    assert_eq!(
        templates,
        [
            "pipeline://runs/{run}",
            "pipeline://specs/{spec}",
            "pipeline://changes/{change}"
        ]
    );
    assert_eq!(s.read("pipeline://runs"), json!([]));

    // validate: a valid file gives the `validate --json` document...
    let valid = s.call_ok("validate", json!({"paths": ["workstreams/build.json"]}));
    let cli = t
        .pipeline(&["validate", "workstreams/build.json", "--json"])
        .assert_ok();
    let cli: Value = serde_json::from_str(&cli.stdout()).expect("validate --json");
    assert_eq!(valid, cli, "the tool answers what the CLI prints");
    assert_eq!(valid["valid"], true);
    assert_eq!(valid["steps"], 2);
    // ...an invalid one the `{"valid": false}` document, as a tool error.
    let invalid = s.call("validate", json!({"paths": ["workstreams/broken.json"]}));
    assert_eq!(invalid["isError"], true, "{invalid:#}");
    assert_eq!(invalid["structuredContent"]["valid"], false, "{invalid:#}");
    let diagnostics = invalid["structuredContent"]["diagnostics"].to_string();
    assert!(
        diagnostics.contains("broken.json") && diagnostics.contains("nowhere"),
        "{diagnostics}"
    );

    // plan: the `plan --format json` document.
    let plan = s.call_ok("plan", json!({"paths": ["workstreams/build.json"]}));
    let cli = t
        .pipeline(&["plan", "workstreams/build.json", "--format", "json"])
        .assert_ok();
    let cli: Value = serde_json::from_str(&cli.stdout()).expect("plan json");
    assert_eq!(plan, cli);
    let plan_text = plan.to_string();
    assert!(
        plan_text.contains("build/make") && plan_text.contains("build/check"),
        "{plan:#}"
    );

    // Paths outside the repository are refused, naming the path, by every tool that
    // takes paths; nothing is run.
    for tool in ["validate", "plan", "run"] {
        for path in ["../workstreams/x.json", "/etc/passwd"] {
            let err = s.call_err(tool, json!({"paths": [path]}));
            assert!(
                err.contains(&format!("`{path}`")) && err.contains("outside the repository"),
                "{tool} {path}: {err}"
            );
        }
    }

    // run: returns the run id at once; the run completes on its own.
    let started = s.call_ok(
        "run",
        json!({"paths": ["workstreams/build.json"], "run_id": "mcp-1", "jobs": 2}),
    );
    assert_eq!(started["run_id"], "mcp-1", "{started:#}");
    assert_eq!(started["result_branch"], "pipeline/mcp-1", "{started:#}");
    let log = PathBuf::from(started["log"].as_str().expect("log path"));
    assert!(
        log.starts_with(t.repo.canonicalize().unwrap().join(".pipeline")),
        "{}",
        log.display()
    );
    // Finished, and its driving process gone (it releases the run's lock just after
    // recording the end, so `driver` reads "live" for a moment after the status).
    let status = wait_until("run mcp-1 to finish, seen through the status tool", || {
        let status = s.call_ok("status", json!({"run": "mcp-1"}));
        (matches!(status["status"].as_str(), Some("completed" | "failed"))
            && status["driver"] != "live")
            .then_some(status)
    });
    assert_eq!(
        status["status"],
        "completed",
        "{status:#}\nlog:\n{}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    assert_eq!(step_state(&status, "build/make"), "completed");
    assert_eq!(step_state(&status, "build/check"), "completed");
    assert_eq!(
        t.show("pipeline/mcp-1", "made.txt").as_deref(),
        Some("made\n")
    );
    // The status tool answers what `status --json` prints (the driver has gone since).
    assert_eq!(
        s.call_ok("status", json!({"run": "mcp-1"})),
        t.status("mcp-1")
    );
    // Without a run: the newest.
    assert_eq!(s.call_ok("status", json!({}))["run_id"], "mcp-1");

    // logs: the step's output, as `pipeline logs` prints it; `tail` keeps the end.
    let logs = s.call("logs", json!({"run": "mcp-1", "step": "build/make"}));
    assert_ne!(logs["isError"], true, "{logs:#}");
    let text = text_of(&logs);
    assert!(
        text.contains("making the file") && text.contains("==> "),
        "{text}"
    );
    let cli = t.pipeline(&["logs", "mcp-1", "build/make"]).assert_ok();
    assert_eq!(text.trim_end(), cli.stdout().trim_end());
    let tail = text_of(&s.call(
        "logs",
        json!({"run": "latest", "step": "build/make", "tail": 8}),
    ));
    assert!(tail.starts_with("... ("), "{tail}");
    assert!(tail.ends_with(&text[text.len() - 8..]), "{tail:?}");
    let err = s.call_err("logs", json!({"run": "mcp-1", "step": "build/nope"}));
    assert!(err.contains("build/nope"), "{err}");
    let err = s.call_err(
        "logs",
        json!({"run": "mcp-1", "step": "build/make", "attempt": 7}),
    );
    assert!(err.contains("no attempt 7"), "{err}");

    // status of an unknown run: a tool error with the CLI's message.
    let err = s.call_err("status", json!({"run": "no-such-run"}));
    let cli = t.pipeline(&["status", "no-such-run"]).assert_code(2);
    assert_eq!(err.trim_end(), cli.stderr().trim_end());

    // Resources: the run is listed and readable, as `runs --json` and `status --json`.
    let resources = s.result(json!({"op": "list_resources"}));
    assert!(
        resources["resources"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["uri"] == "pipeline://runs/mcp-1"),
        "{resources:#}"
    );
    assert_eq!(s.read("pipeline://runs/mcp-1"), t.status("mcp-1"));
    let runs = s.read("pipeline://runs");
    assert_eq!(runs[0]["run_id"], "mcp-1", "{runs:#}");
    let unknown = s.request(json!({"op": "read_resource", "uri": "pipeline://runs/no-such-run"}));
    assert_eq!(unknown["error"]["code"], -32002, "{unknown:#}");
    assert!(
        unknown["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no-such-run"),
        "{unknown:#}"
    );

    // Arguments that do not fit the tool's input schema are a tool error naming the
    // field (the MCP specification's input validation errors, which the model can
    // correct); a call the server cannot route (no such tool) is a protocol error.
    let err = s.call_err("logs", json!({"run": "mcp-1"}));
    assert!(err.contains("missing field `step`"), "{err}");
    let err = s.call_err(
        "logs",
        json!({"run": "mcp-1", "step": "build/make", "attempt": "two"}),
    );
    assert!(
        err.contains("attempt") || err.contains("invalid type"),
        "{err}"
    );
    let unknown = s.request(json!({"op": "call_tool", "name": "deploy", "arguments": {}}));
    assert_eq!(unknown["error"]["code"], -32602, "{unknown:#}");

    s.close();
    // The detached run's output is in the run's logs directory: `clean` removes it.
    assert!(log.is_file(), "{}", log.display());
    t.pipeline(&["clean", "mcp-1"]).assert_code(0);
    assert!(!log.exists(), "{} outlived `pipeline clean`", log.display());
}

#[test]
fn mcp_run_outlives_the_session_and_a_refused_run_says_why() {
    let t = Test::new();
    let release = t.out_path("release");
    t.commit_file(
        "workstreams/slow.json",
        &format!(
            r#"{{"id": "slow", "steps": [{{"id": "wait", "command": "{}; echo waited > waited.txt"}}]}}"#,
            await_file(&release)
        ),
    );
    let Some(mut s) = Session::start(&t) else {
        return;
    };
    // A bad base: `pipeline run` refuses it before recording anything; the tool says why.
    let err = s.call_err(
        "run",
        json!({"paths": ["workstreams/slow.json"], "base": "no-such-ref"}),
    );
    assert!(
        err.contains("did not start") && err.contains("no-such-ref"),
        "{err}"
    );
    let err = s.call_err(
        "run",
        json!({"paths": ["workstreams/slow.json"], "run_id": "latest"}),
    );
    assert!(err.contains("reserved"), "{err}");
    let err = s.call_err(
        "run",
        json!({"paths": ["workstreams/slow.json"], "jobs": 0}),
    );
    assert!(err.contains("`jobs`"), "{err}");

    let err = s.call_err(
        "run",
        json!({"paths": ["workstreams/slow.json"], "base": "HEAD", "include_uncommitted": true}),
    );
    assert!(
        err.contains("either `base` or `include_uncommitted`"),
        "{err}"
    );

    // Changes the run will not see are named, as `pipeline run` warns of them.
    std::fs::write(t.repo.join("notes.txt"), "not committed\n").unwrap();
    let started = s.call_ok(
        "run",
        json!({"paths": ["workstreams/slow.json"], "run_id": "long"}),
    );
    assert_eq!(started["status"], "running", "{started:#}");
    assert_eq!(
        started["warning"]["warning"], "uncommitted_changes",
        "{started:#}"
    );
    assert_eq!(
        started["warning"]["paths"],
        json!(["notes.txt"]),
        "{started:#}"
    );
    // A second start of the same unfinished workstreams is refused, as the CLI does.
    let err = s.call_err(
        "run",
        json!({"paths": ["workstreams/slow.json"], "run_id": "again"}),
    );
    assert!(err.contains("long"), "{err}");
    // The session ends (the agent quits) while the step still waits...
    s.close();
    assert_eq!(step_state(&t.status("long"), "slow/wait"), "running");
    // ...and the run goes on without it.
    std::fs::write(&release, "").unwrap();
    let status = t.wait_for_status(
        "long",
        "run long to finish after its MCP session ended",
        |st| st["status"] != "running",
    );
    assert_eq!(status["status"], "completed", "{status:#}");
    assert_eq!(
        t.show("pipeline/long", "waited.txt").as_deref(),
        Some("waited\n")
    );
}

#[test]
fn mcp_resources_serve_the_openspec_project() {
    let t = Test::new();
    t.pipeline(&["spec", "init"]).assert_ok();
    crate::support::commit_notes_project(&t);
    let Some(mut s) = Session::start(&t) else {
        return;
    };
    let resources = s.result(json!({"op": "list_resources"}));
    let uris: Vec<&str> = resources["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["uri"].as_str().unwrap())
        .collect();
    assert!(
        uris.contains(&"pipeline://specs/notes") && uris.contains(&"pipeline://changes/add-export"),
        "{uris:?}"
    );
    let cli = |args: &[&str]| -> Value {
        serde_json::from_str(&t.pipeline(args).assert_ok().stdout()).expect("spec --json")
    };
    assert_eq!(
        s.read("pipeline://specs"),
        cli(&["spec", "list", "--specs", "--json"])
    );
    assert_eq!(
        s.read("pipeline://changes"),
        cli(&["spec", "list", "--json"])
    );
    let spec = s.read("pipeline://specs/notes");
    assert_eq!(spec, cli(&["spec", "show", "notes", "--json"]));
    assert!(spec.to_string().contains("SHALL store a note"), "{spec:#}");
    let change = s.read("pipeline://changes/add-export");
    assert_eq!(change, cli(&["spec", "show", "add-export", "--json"]));
    assert!(
        change.to_string().contains("SHALL export all notes"),
        "{change:#}"
    );
    for uri in [
        "pipeline://specs/nope",
        "pipeline://changes/nope",
        "pipeline://other",
        "file:///etc/passwd",
    ] {
        let answer = s.request(json!({"op": "read_resource", "uri": uri}));
        assert_eq!(answer["error"]["code"], -32002, "{uri}: {answer:#}");
    }
    s.close();
}

#[test]
fn mcp_serves_clients_of_the_discover_protocol_revision_too() {
    let t = Test::new();
    build_workstream(&t);
    let Some(mut s) = Session::start_in_mode(&t, "auto") else {
        return;
    };
    let legacy = Session::start(&t).expect("the SDK is there");
    assert_ne!(
        s.info["protocol_version"], legacy.info["protocol_version"],
        "auto negotiates the newer revision: {:#} vs {:#}",
        s.info, legacy.info
    );
    legacy.close();
    let tools = s.result(json!({"op": "list_tools"}));
    assert_eq!(
        tools["tools"].as_array().map(Vec::len),
        Some(7),
        "{tools:#}"
    );
    let valid = s.call_ok("validate", json!({"paths": ["workstreams/build.json"]}));
    assert_eq!(valid["valid"], true, "{valid:#}");
    let err = s.call_err("status", json!({}));
    assert!(err.contains("no state database"), "{err}");
    assert_eq!(s.read("pipeline://runs"), json!([]));
    s.close();
}

#[test]
fn mcp_outside_a_repository_exits_2_before_speaking_the_protocol() {
    let t = Test::new();
    let r = t
        .pipeline(&["mcp", "--repo", t.out.to_str().unwrap()])
        .assert_code(2);
    assert!(
        r.stdout().is_empty(),
        "stdout is for the protocol only: {}",
        r.stdout()
    );
    assert!(
        r.stderr().contains("pipeline mcp serves a git repository")
            && r.stderr().contains("--repo"),
        "{}",
        r.stderr()
    );
}

/// A workstream with one gated step, `<id>/gate`, and a step after it, committed at
/// `workstreams/<id>.json`.
fn gated_workstream(t: &Test, id: &str) {
    t.commit_file(
        &format!("workstreams/{id}.json"),
        &format!(
            r#"{{"id": "{id}", "steps": [
                {{"id": "gate", "approval": "required", "command": "echo reviewed > {id}.txt"}},
                {{"id": "after", "depends_on": ["gate"], "command": "test -f {id}.txt && echo after > {id}-after.txt"}}
            ]}}"#
        ),
    );
}

#[test]
fn mcp_approve_and_reject_decide_a_step_awaiting_approval() {
    let t = Test::new();
    gated_workstream(&t, "yes");
    gated_workstream(&t, "no");
    let Some(mut s) = Session::start(&t) else {
        return;
    };
    s.call_ok(
        "run",
        json!({"paths": ["workstreams/yes.json"], "run_id": "yes"}),
    );
    s.call_ok(
        "run",
        json!({"paths": ["workstreams/no.json"], "run_id": "no"}),
    );
    for run in ["yes", "no"] {
        wait_until(
            &format!("{run}/gate of run {run} to await approval"),
            || {
                let status = s.call_ok("status", json!({"run": run}));
                (step_state(&status, &format!("{run}/gate")) == "awaiting_approval").then_some(())
            },
        );
    }

    // Only a step awaiting approval can be decided: `after` still waits for `gate`.
    let err = s.call_err("approve", json!({"run": "yes", "step": "yes/after"}));
    assert!(
        err.contains("yes/after") && err.contains("not awaiting approval"),
        "{err}"
    );
    let err = s.call_err("approve", json!({"run": "yes", "step": "yes/nope"}));
    assert!(err.contains("yes/nope"), "{err}");
    let err = s.call_err("approve", json!({"run": "no-such-run", "step": "yes/gate"}));
    assert!(err.contains("no-such-run"), "{err}");

    // Approve: the gated step completes and the step after it runs.
    let decided = s.call_ok(
        "approve",
        json!({"run": "yes", "step": "yes/gate", "comment": "looks right", "by": "reviewer"}),
    );
    assert_eq!(decided["verdict"], "approve", "{decided:#}");
    assert_eq!(decided["step"], "yes/gate", "{decided:#}");
    let status = wait_until("run yes to finish after the approval", || {
        let status = s.call_ok("status", json!({"run": "yes"}));
        (status["status"] != "running").then_some(status)
    });
    assert_eq!(status["status"], "completed", "{status:#}");
    assert_eq!(
        t.show("pipeline/yes", "yes-after.txt").as_deref(),
        Some("after\n")
    );
    let approved = t.events("yes", "yes/gate", "step_approved");
    assert_eq!(approved.len(), 1, "{approved:#?}");
    assert_eq!(approved[0]["by"], "reviewer");
    assert_eq!(approved[0]["comment"], "looks right");
    // Decided once: a second decision is refused.
    let err = s.call_err("approve", json!({"run": "yes", "step": "yes/gate"}));
    assert!(err.contains("not awaiting approval"), "{err}");

    // Reject needs a comment; with one, a shell step fails with it and the step after
    // it is skipped.
    let err = s.call_err("reject", json!({"run": "no", "step": "no/gate"}));
    assert!(err.contains("`reject` needs a `comment`"), "{err}");
    let decided = s.call_ok(
        "reject",
        json!({"run": "no", "step": "no/gate", "comment": "wrong file name"}),
    );
    assert_eq!(decided["verdict"], "reject", "{decided:#}");
    let status = wait_until("run no to finish after the rejection", || {
        let status = s.call_ok("status", json!({"run": "no"}));
        (status["status"] != "running").then_some(status)
    });
    assert_eq!(status["status"], "failed", "{status:#}");
    assert_eq!(step_state(&status, "no/gate"), "failed");
    assert_eq!(step_state(&status, "no/after"), "skipped");
    let gate = t.step_status("no", "no/gate");
    assert!(
        gate["error"]
            .as_str()
            .unwrap_or("")
            .contains("wrong file name"),
        "{gate:#}"
    );
    let rejected = t.events("no", "no/gate", "step_rejected");
    assert_eq!(rejected.len(), 1, "{rejected:#?}");
    assert_eq!(rejected[0]["comment"], "wrong file name");
    assert!(
        rejected[0]["by"].as_str().is_some_and(|by| !by.is_empty()),
        "who rejected is recorded: {rejected:#?}"
    );
    s.close();
}

#[test]
fn mcp_reject_feeds_the_comment_to_an_ai_step_as_its_fix_prompt() {
    let t = Test::new();
    // A tool that takes prompts (a tool profile): it keeps the prompt it was given in
    // the result, so the test can read what the second attempt was told.
    t.config(
        "tools:\n  scribe:\n    kind: custom\n    command: sh\n    args: [\"-c\", \"cp \\\"$PIPELINE_PROMPT_FILE\\\" prompt.md\"]\n",
    );
    t.commit_file(
        "workstreams/notes.json",
        r#"{"id": "notes", "steps": [{"id": "draft", "tool": "scribe", "prompt": "Write the release notes.", "approval": "required", "fix_attempts": 1}]}"#,
    );
    let Some(mut s) = Session::start(&t) else {
        return;
    };
    s.call_ok(
        "run",
        json!({"paths": ["workstreams/notes.json"], "run_id": "notes"}),
    );
    let awaiting = |s: &mut Session, attempts: u64| {
        wait_until(
            &format!("notes/draft to await approval after attempt {attempts}"),
            || {
                let status = s.call_ok("status", json!({"run": "notes"}));
                let step = status["steps"]
                    .as_array()?
                    .iter()
                    .find(|st| st["id"] == "notes/draft")?
                    .clone();
                (step["status"] == "awaiting_approval" && step["attempts"] == attempts)
                    .then_some(())
            },
        )
    };
    awaiting(&mut s, 1);
    let decided = s.call_ok(
        "reject",
        json!({"run": "notes", "step": "notes/draft", "comment": "Use bullet points.", "by": "reviewer"}),
    );
    assert_eq!(decided["verdict"], "reject", "{decided:#}");
    // The tool runs again with the comment in its prompt, and waits for approval again.
    awaiting(&mut s, 2);
    s.call_ok("approve", json!({"run": "notes", "step": "notes/draft"}));
    let status = wait_until("run notes to finish after the approval", || {
        let status = s.call_ok("status", json!({"run": "notes"}));
        (status["status"] != "running").then_some(status)
    });
    assert_eq!(status["status"], "completed", "{status:#}");
    let prompt = t
        .show("pipeline/notes", "prompt.md")
        .expect("prompt.md in the result");
    assert!(
        prompt.contains("Write the release notes.")
            && prompt.contains("reviewer")
            && prompt.contains("Use bullet points."),
        "{prompt}"
    );
    s.close();
}
