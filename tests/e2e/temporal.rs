//! The Temporal engine end to end (issue #16): a real dev server, a bare git repository as
//! the shared remote, `pipeline worker` processes with their own clones, and
//! `pipeline run --engine temporal` submitting from the test's repository. Results are
//! compared with a local `pipeline run` of the same workstream at the same base.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::handshake::await_file;
use crate::support::{Test, git_in};
use crate::temporal_support::{DevServer, WorkerProcess, wait_until};

/// A test repository with a bare remote, clones for workers, and a dev server.
pub(crate) struct Cluster {
    pub(crate) t: Test,
    pub(crate) server: DevServer,
    pub(crate) remote: PathBuf,
    pub(crate) scratch: tempfile::TempDir,
    pub(crate) workers: Vec<WorkerProcess>,
}

impl Cluster {
    /// Starts a dev server and sets up the remote; `None` when the Temporal CLI is
    /// missing outside CI.
    pub(crate) fn new() -> Option<Cluster> {
        let server = DevServer::start()?;
        let t = Test::new();
        let scratch = tempfile::tempdir().expect("tempdir");
        let remote = scratch.path().join("remote.git");
        git_in(
            scratch.path(),
            &["init", "-q", "--bare", "-b", "main", "remote.git"],
        );
        t.git(&[
            "remote",
            "add",
            "origin",
            remote.to_str().expect("utf-8 path"),
        ]);
        Some(Cluster {
            t,
            server,
            remote,
            scratch,
            workers: Vec::new(),
        })
    }

    /// Commits `json` as `workstreams/<name>` (workers read it from the base commit)
    /// and pushes `main`.
    pub(crate) fn workstream(&self, name: &str, json: &str) -> String {
        let rel = format!("workstreams/{name}");
        self.t.commit_file(&rel, json);
        self.t.git(&["push", "-q", "origin", "main"]);
        rel
    }

    /// A fresh clone of the remote named `name` (its path names it, so a step that
    /// records `pwd` tells which worker ran it).
    pub(crate) fn clone(&self, name: &str) -> PathBuf {
        let dir = self.scratch.path().join(name);
        git_in(
            self.scratch.path(),
            &["clone", "-q", self.remote.to_str().expect("utf-8"), name],
        );
        git_in(&dir, &["config", "user.name", "pipeline worker"]);
        git_in(&dir, &["config", "user.email", "worker@localhost"]);
        dir
    }

    /// Starts a worker on a new clone `name` with `extra` options.
    pub(crate) fn worker(&mut self, name: &str, extra: &[&str]) -> usize {
        let clone = self.clone(name);
        let log = self.scratch.path().join(format!("{name}.log"));
        // Steps may write their side effects to `out` (outside the clone).
        let env = [("PIPELINE_WRITABLE_PATHS", self.t.out.as_path())];
        let w = WorkerProcess::start(&self.server.address, &clone, log, extra, &env);
        self.workers.push(w);
        self.workers.len() - 1
    }

    /// `pipeline run <ws> --engine temporal --temporal <server> --run-id <run> <extra>`.
    pub(crate) fn submit_args<'a>(
        &'a self,
        ws: &'a str,
        run: &'a str,
        extra: &[&'a str],
    ) -> Vec<&'a str> {
        let mut args = vec![
            "run",
            ws,
            "--engine",
            "temporal",
            "--temporal",
            &self.server.address,
            "--run-id",
            run,
        ];
        args.extend_from_slice(extra);
        args
    }

    /// `pipeline run <ws> --engine temporal ...` from the test repository, to its end.
    pub(crate) fn submit(&self, ws: &str, run: &str, extra: &[&str]) -> crate::support::Run {
        self.t.pipeline(&self.submit_args(ws, run, extra))
    }

    /// The same in the background, its output in `<scratch>/<run>.out`.
    pub(crate) fn spawn_submit(&self, ws: &str, run: &str, extra: &[&str]) -> Submitted {
        let out = self.scratch.path().join(format!("{run}.out"));
        let file = std::fs::File::create(&out).expect("submitter output");
        let child = self
            .t
            .process(&self.submit_args(ws, run, extra))
            .env("NO_COLOR", "1")
            .stdout(file.try_clone().expect("file"))
            .stderr(file)
            .stdin(std::process::Stdio::null())
            .spawn()
            .expect("pipeline run starts");
        Submitted { child, out }
    }

    /// The tree of `pipeline/<run>` on the remote.
    pub(crate) fn remote_result_tree(&self, run: &str) -> String {
        git_in(
            &self.remote,
            &["rev-parse", &format!("refs/heads/pipeline/{run}^{{tree}}")],
        )
    }

    /// The tree of the local run's result branch `pipeline/<run>` in the test repo.
    pub(crate) fn local_result_tree(&self, run: &str) -> String {
        self.t
            .git(&["rev-parse", &format!("pipeline/{run}^{{tree}}")])
    }

    /// Fetches the history of run `run`'s workflow and replays it through the workflow
    /// code with the SDK's replayer (determinism); returns the history JSON.
    pub(crate) fn replay_history(&self, run: &str) -> Vec<u8> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async {
            let id = format!("pipeline-run/{run}");
            let history = pipeline_temporal::history::fetch_history_json(
                &self.server.address,
                "default",
                &id,
            )
            .await
            .expect("history");
            pipeline_temporal::history::replay_history_json(&history)
                .await
                .unwrap_or_else(|e| panic!("the history of {id} does not replay: {e}"));
            history
        })
    }

    pub(crate) fn worker_logs(&self) -> String {
        self.workers
            .iter()
            .map(|w| format!("--- {}\n{}", w.log.display(), w.output()))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// How long a submitter may take to end once it should.
pub(crate) const WITHIN: Duration = Duration::from_secs(180);

/// A submitter running in the background (killed when dropped).
pub(crate) struct Submitted {
    pub(crate) child: std::process::Child,
    out: PathBuf,
}

impl Submitted {
    /// Waits for it to exit; its code (-1 for a signal) and output (stdout and stderr).
    pub(crate) fn finish(mut self) -> (i32, String) {
        let mut code = None;
        wait_until("the submitter to exit", WITHIN, || {
            code = self.child.try_wait().expect("try_wait").map(|s| s.code());
            code.is_some()
        });
        let out = std::fs::read_to_string(&self.out).unwrap_or_default();
        (code.flatten().unwrap_or(-1), out)
    }

    /// SIGKILL, as a laptop that disappears.
    pub(crate) fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Sends SIGINT, as Ctrl-C in its terminal.
    pub(crate) fn interrupt(&self) {
        let sent = std::process::Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(sent.success());
    }
}

impl Drop for Submitted {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A step that holds until the test releases it: it appends its working directory to
/// `<out>/<id>.runs`, creates `<out>/<id>.started`, waits for `<out>/<id>.release`, then
/// writes `<id>.txt`. The release file's path is in its command line (`pgrep -f`).
pub(crate) struct HeldStep {
    /// The step's JSON.
    pub(crate) json: String,
    /// Created when the step started.
    pub(crate) started: String,
    /// The file that lets it finish.
    pub(crate) release: String,
}

impl HeldStep {
    pub(crate) fn new(t: &Test, id: &str, deps: &[&str]) -> HeldStep {
        let started = t.out_path(&format!("{id}.started"));
        let release = t.out_path(&format!("{id}.release"));
        let deps: Vec<String> = deps.iter().map(|d| format!("\"{d}\"")).collect();
        let json = format!(
            r#"{{"id": "{id}", "depends_on": [{deps}], "command": "pwd >> {runs}; touch {started}; {wait}; echo {id} > {id}.txt"}}"#,
            deps = deps.join(", "),
            runs = t.out_path(&format!("{id}.runs")),
            wait = await_file(&release),
        );
        HeldStep {
            json,
            started,
            release,
        }
    }

    /// Waits until the step started (again, after [`HeldStep::rearm`]).
    pub(crate) fn wait_started(&self) {
        wait_until("the held step to start", Duration::from_secs(120), || {
            Path::new(&self.started).exists()
        });
    }

    /// Forgets that it started, to see it start again.
    pub(crate) fn rearm(&self) {
        std::fs::remove_file(&self.started).expect("reset the start marker");
    }

    /// Lets it finish.
    pub(crate) fn release(&self) {
        std::fs::write(&self.release, "go").expect("release");
    }
}

/// A step that appends its working directory to `<out>/<name>.runs` and writes `file`.
pub(crate) fn counted_step(t: &Test, id: &str, deps: &[&str], file: &str, extra: &str) -> String {
    let deps: Vec<String> = deps.iter().map(|d| format!("\"{d}\"")).collect();
    format!(
        r#"{{"id": "{id}", "depends_on": [{deps}], "command": "pwd >> {runs}; {extra} cat *.txt 2>/dev/null | wc -l > {file}; echo {id} >> {file}"}}"#,
        deps = deps.join(", "),
        runs = t.out_path(&format!("{id}.runs")),
    )
}

/// 20 steps: a root, six branches of three steps each, a join.
fn twenty_step_dag(t: &Test) -> String {
    let mut steps = vec![counted_step(t, "root", &[], "root.txt", "")];
    let mut lasts = Vec::new();
    for b in 1..=6 {
        let mut prev = "root".to_string();
        for k in 1..=3 {
            let id = format!("b{b}s{k}");
            steps.push(counted_step(t, &id, &[&prev], &format!("{id}.txt"), ""));
            prev = id;
        }
        lasts.push(prev);
    }
    let lasts: Vec<&str> = lasts.iter().map(String::as_str).collect();
    steps.push(counted_step(t, "join", &lasts, "join.txt", ""));
    format!(r#"{{"id": "dag", "steps": [{}]}}"#, steps.join(", "))
}

pub(crate) fn runs_of(t: &Test, id: &str) -> Vec<String> {
    t.out_lines(&format!("{id}.runs"))
}

#[test]
fn a_twenty_step_dag_on_two_workers_equals_the_local_run() {
    let Some(mut c) = Cluster::new() else { return };
    let ws = c.workstream("dag.json", &twenty_step_dag(&c.t));
    c.worker("clone-alpha", &["--jobs", "3"]);
    c.worker("clone-beta", &["--jobs", "3"]);
    let r = c.submit(&ws, "t20", &["--jobs", "4"]);
    assert_eq!(
        r.code(),
        0,
        "stdout:\n{}\nstderr:\n{}\nworkers:\n{}",
        r.stdout(),
        r.stderr(),
        c.worker_logs()
    );
    assert!(
        r.stdout().contains("step dag/join: completed"),
        "{}",
        r.stdout()
    );
    for id in ["root", "b1s1", "b6s3", "join"] {
        assert_eq!(runs_of(&c.t, id).len(), 1, "{id} ran once");
    }
    // Both workers ran steps (three jobs each, four at once across the cluster).
    let all: Vec<String> = ["root", "b1s1", "b2s1", "b3s1", "b4s1", "b5s1", "b6s1"]
        .iter()
        .flat_map(|id| runs_of(&c.t, id))
        .collect();
    assert!(all.iter().any(|p| p.contains("clone-alpha")), "{all:?}");
    assert!(all.iter().any(|p| p.contains("clone-beta")), "{all:?}");

    let temporal_tree = c.remote_result_tree("t20");
    std::fs::remove_dir_all(&c.t.out).ok();
    std::fs::create_dir_all(&c.t.out).expect("out");
    c.t.pipeline(&["run", &ws, "--run-id", "l20", "--jobs", "4"])
        .assert_ok();
    assert_eq!(temporal_tree, c.local_result_tree("l20"));
    // The submitter fetched the result branch into the local repository.
    assert_eq!(c.local_result_tree("t20"), temporal_tree);

    let history = c.replay_history("t20");
    if std::env::var_os("PIPELINE_RECORD_TEMPORAL_HISTORY").is_some() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/temporal");
        std::fs::create_dir_all(&dir).expect("fixture dir");
        std::fs::write(dir.join("twenty-step-dag.history.json"), history).expect("write");
    }
}

#[test]
fn a_worker_killed_mid_step_makes_the_step_run_again_on_the_other_worker() {
    let Some(mut c) = Cluster::new() else { return };
    let slow = HeldStep::new(&c.t, "slow", &["first"]);
    let json = format!(
        r#"{{"id": "k", "steps": [{first}, {slow}, {after}]}}"#,
        first = counted_step(&c.t, "first", &[], "first.txt", ""),
        slow = slow.json,
        after = counted_step(&c.t, "after", &["slow"], "after.txt", ""),
    );
    let ws = c.workstream("kill.json", &json);
    c.worker("clone-alpha", &[]);
    c.worker("clone-beta", &[]);
    let submitter = c.spawn_submit(&ws, "tk", &["--heartbeat-timeout", "5"]);
    slow.wait_started();
    let first_runner = runs_of(&c.t, "slow")[0].clone();
    let victim = usize::from(!first_runner.contains("clone-alpha"));
    slow.rearm();
    c.workers[victim].kill();
    slow.wait_started();
    slow.release();
    let (code, stdout) = submitter.finish();
    assert_eq!(code, 0, "output:\n{stdout}\nworkers:\n{}", c.worker_logs());
    let slow_runs = runs_of(&c.t, "slow");
    assert_eq!(slow_runs.len(), 2, "{slow_runs:?}");
    let survivor = if victim == 0 {
        "clone-beta"
    } else {
        "clone-alpha"
    };
    assert!(slow_runs[1].contains(survivor), "{slow_runs:?}");
    assert_eq!(
        runs_of(&c.t, "first").len(),
        1,
        "a completed step is not run again"
    );
    assert_eq!(runs_of(&c.t, "after").len(), 1);
    assert!(stdout.contains("worker lost 1 time(s)"), "{stdout}");
    c.replay_history("tk");

    let temporal_tree = c.remote_result_tree("tk");
    c.t.pipeline(&["run", &ws, "--run-id", "lk"]).assert_ok();
    assert_eq!(temporal_tree, c.local_result_tree("lk"));
}

#[test]
fn a_permanent_failure_skips_its_dependents_and_the_rest_completes() {
    let Some(mut c) = Cluster::new() else { return };
    let json = format!(
        r#"{{"id": "f", "steps": [
            {{"id": "bad", "command": "echo broken >&2; exit 1", "retry": {{"max_attempts": 1}}}},
            {child},
            {grandchild},
            {ok}
        ]}}"#,
        child = counted_step(&c.t, "child", &["bad"], "child.txt", ""),
        grandchild = counted_step(&c.t, "grandchild", &["child"], "grandchild.txt", ""),
        ok = counted_step(&c.t, "ok", &[], "ok.txt", ""),
    );
    let ws = c.workstream("fail.json", &json);
    c.worker("clone-alpha", &[]);
    c.worker("clone-beta", &[]);
    let r = c.submit(&ws, "tf", &[]);
    let stdout = r.stdout();
    assert_eq!(r.code(), 1, "stdout:\n{stdout}\nstderr:\n{}", r.stderr());
    assert!(stdout.contains("step f/bad: failed"), "{stdout}");
    assert!(
        stdout.contains("step f/child: skipped (dependency f/bad did not complete)"),
        "{stdout}"
    );
    assert!(stdout.contains("step f/grandchild: skipped"), "{stdout}");
    assert!(stdout.contains("step f/ok: completed"), "{stdout}");
    assert!(runs_of(&c.t, "child").is_empty());
    assert_eq!(runs_of(&c.t, "ok").len(), 1);
    // As a local run: the completed steps' results are merged into pipeline/<run>.
    let temporal_tree = c.remote_result_tree("tf");
    c.t.pipeline(&["run", &ws, "--run-id", "lf"]).assert_code(1);
    assert_eq!(temporal_tree, c.local_result_tree("lf"));
}

#[test]
fn a_step_needing_a_capability_runs_only_on_the_worker_that_has_it() {
    let Some(mut c) = Cluster::new() else { return };
    let runs = c.t.out_path("gpu.runs");
    c.t.config(&format!(
        "tools:\n  gpu-tool:\n    command: sh\n    args: [\"-c\", \"pwd >> {runs}; echo gpu > gpu.txt\"]\n    capabilities: [gpu]\n"
    ));
    c.t.git(&["add", "-f", ".pipeline/config.yaml"]);
    c.t.git(&["commit", "-q", "-m", "gpu tool"]);
    let json = format!(
        r#"{{"id": "cap", "steps": [
            {{"id": "train", "capability": "gpu", "tasks": ["train"], "retry": {{"max_attempts": 1}}}},
            {plain}
        ]}}"#,
        plain = counted_step(&c.t, "plain", &[], "plain.txt", ""),
    );
    let ws = c.workstream("cap.json", &json);
    c.worker("clone-plain", &["--jobs", "2"]);
    c.worker("clone-gpu", &["--capability", "gpu"]);
    let r = c.submit(&ws, "tc", &[]);
    assert_eq!(
        r.code(),
        0,
        "stdout:\n{}\nstderr:\n{}\nworkers:\n{}",
        r.stdout(),
        r.stderr(),
        c.worker_logs()
    );
    let gpu_runs = c.t.out_lines("gpu.runs");
    assert_eq!(gpu_runs.len(), 1, "{gpu_runs:?}");
    assert!(gpu_runs[0].contains("clone-gpu"), "{gpu_runs:?}");
    assert_eq!(
        c.t.show("pipeline/tc", "gpu.txt").as_deref(),
        Some("gpu\n"),
        "the capability step's result is in the run's result"
    );
}

#[test]
fn an_unreachable_server_is_an_input_error_naming_the_address() {
    let t = Test::new();
    t.commit_file(
        "workstreams/one.json",
        r#"{"id": "one", "command": "true"}"#,
    );
    let port = crate::temporal_support::free_port();
    let address = format!("127.0.0.1:{port}");
    t.git(&["remote", "add", "origin", t.repo.to_str().expect("utf-8")]);
    let r = t.pipeline(&[
        "run",
        "workstreams/one.json",
        "--engine",
        "temporal",
        "--temporal",
        &address,
    ]);
    assert_eq!(r.code(), 2, "{}", r.stderr());
    assert!(
        r.stderr()
            .contains(&format!("cannot reach the Temporal server at {address}"))
    );
    let r = t.pipeline(&["run", "workstreams/one.json", "--engine", "temporal"]);
    assert_eq!(r.code(), 2);
    assert!(
        r.stderr().contains("--temporal HOST:PORT"),
        "{}",
        r.stderr()
    );
    let r = t.pipeline(&[
        "run",
        "workstreams/one.json",
        "--engine",
        "temporal",
        "--temporal",
        &address,
        "--resume",
    ]);
    assert_eq!(r.code(), 2);
    assert!(
        r.stderr()
            .contains("--resume is not supported with --engine temporal"),
        "{}",
        r.stderr()
    );
    t.commit_file(
        "workstreams/one.json",
        r#"{"id": "one", "command": "false"}"#,
    );
    std::fs::write(
        t.repo.join("workstreams/one.json"),
        r#"{"id": "one", "command": "true"}"#,
    )
    .expect("write");
    let r = t.pipeline(&[
        "run",
        "workstreams/one.json",
        "--engine",
        "temporal",
        "--temporal",
        &address,
    ]);
    assert_eq!(r.code(), 2);
    assert!(
        r.stderr()
            .contains("workstreams/one.json: the workstream file has uncommitted changes"),
        "{}",
        r.stderr()
    );
    let r = t.pipeline(&["worker", "--temporal", &address, "--remote", "nowhere"]);
    assert_eq!(r.code(), 2);
    assert!(
        r.stderr().contains("no remote named `nowhere`"),
        "{}",
        r.stderr()
    );
}

#[test]
fn ctrl_c_cancels_the_workflow_and_stops_the_running_step_on_its_worker() {
    let Some(mut c) = Cluster::new() else { return };
    let hang = HeldStep::new(&c.t, "hang", &[]);
    let json = format!(
        r#"{{"id": "x", "steps": [{hang}, {after}]}}"#,
        hang = hang.json,
        after = counted_step(&c.t, "after", &["hang"], "after.txt", ""),
    );
    let ws = c.workstream("cancel.json", &json);
    c.worker("clone-alpha", &[]);
    let submitter = c.spawn_submit(&ws, "tx", &[]);
    hang.wait_started();
    submitter.interrupt();
    let (code, stdout) = submitter.finish();
    assert_eq!(code, 130, "{stdout}\nworkers:\n{}", c.worker_logs());
    assert!(stdout.contains("run tx cancelled"), "{stdout}");
    assert!(stdout.contains("step x/hang: cancelled"), "{stdout}");
    // The workflow ended only after the worker stopped the step's processes.
    let left = std::process::Command::new("pgrep")
        .args(["-f", &hang.release])
        .output()
        .expect("pgrep runs");
    assert!(
        String::from_utf8_lossy(&left.stdout).trim().is_empty(),
        "the step's process still runs"
    );
    assert!(
        runs_of(&c.t, "after").is_empty(),
        "a cancelled run starts nothing more"
    );
    let branches = git_in(&c.remote, &["branch", "--list", "pipeline/tx"]);
    assert!(branches.is_empty(), "no result branch for a cancelled run");
}

#[test]
fn a_server_restart_mid_run_loses_nothing() {
    let Some(mut c) = Cluster::new() else { return };
    let wait = HeldStep::new(&c.t, "wait", &["first"]);
    let json = format!(
        r#"{{"id": "r", "steps": [{first}, {wait}, {after}]}}"#,
        first = counted_step(&c.t, "first", &[], "first.txt", ""),
        wait = wait.json,
        after = counted_step(&c.t, "after", &["wait"], "after.txt", ""),
    );
    let ws = c.workstream("restart.json", &json);
    c.worker("clone-alpha", &[]);
    let submitter = c.spawn_submit(&ws, "tr", &[]);
    wait.wait_started();
    c.server.restart();
    wait.release();
    let (code, out) = submitter.finish();
    assert_eq!(
        code,
        0,
        "output:\n{out}\nworkers:\n{}\nserver:\n{}",
        c.worker_logs(),
        c.server.log()
    );
    assert_eq!(
        runs_of(&c.t, "first").len(),
        1,
        "a completed step is not run again"
    );
    assert_eq!(
        runs_of(&c.t, "wait").len(),
        1,
        "the running step was not lost"
    );
    assert_eq!(runs_of(&c.t, "after").len(), 1);
    c.replay_history("tr");
    let temporal_tree = c.remote_result_tree("tr");
    c.t.pipeline(&["run", &ws, "--run-id", "lr"]).assert_ok();
    assert_eq!(temporal_tree, c.local_result_tree("lr"));
}

#[test]
fn the_run_goes_on_when_the_submitter_is_killed() {
    let Some(mut c) = Cluster::new() else { return };
    let wait = HeldStep::new(&c.t, "wait", &[]);
    let json = format!(
        r#"{{"id": "s", "steps": [{wait}, {after}]}}"#,
        wait = wait.json,
        after = counted_step(&c.t, "after", &["wait"], "after.txt", ""),
    );
    let ws = c.workstream("submitter.json", &json);
    c.worker("clone-alpha", &[]);
    let mut submitter = c.spawn_submit(&ws, "ts", &[]);
    wait.wait_started();
    submitter.kill();
    wait.release();
    let remote = c.remote.clone();
    wait_until(
        "pipeline/ts on the remote",
        Duration::from_secs(120),
        || !git_in(&remote, &["branch", "--list", "pipeline/ts"]).is_empty(),
    );
    assert_eq!(runs_of(&c.t, "after").len(), 1);
    c.replay_history("ts");
    let temporal_tree = c.remote_result_tree("ts");
    c.t.pipeline(&["run", &ws, "--run-id", "ls"]).assert_ok();
    assert_eq!(temporal_tree, c.local_result_tree("ls"));
}
