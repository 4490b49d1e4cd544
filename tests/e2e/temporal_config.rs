//! Temporal connection settings from `.pipeline/config.yaml` and flags (issue #16):
//! `engine: temporal` and `temporal.address` make `pipeline run` and `pipeline worker` use
//! the cluster without flags, a flag wins over the file, bad keys and missing certificate
//! files are input errors naming them, and TLS (with a CA file or an API key) really is
//! spoken on the wire. The cluster tests use a real dev server
//! (`temporal_support::DevServer`), a bare repository as the remote and a worker process.

use std::io::Read as _;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::support::{Run, Test, git_in};
use crate::temporal_support::{DevServer, WorkerProcess, free_port};

/// A test repository whose `origin` is a bare repository, with one committed
/// workstream `workstreams/one.json` (a step writing `one.txt`) pushed to it.
struct Shared {
    t: Test,
    remote: PathBuf,
    scratch: tempfile::TempDir,
}

impl Shared {
    fn new() -> Shared {
        let t = Test::new();
        let scratch = tempfile::tempdir().expect("tempdir");
        git_in(
            scratch.path(),
            &["init", "-q", "--bare", "-b", "main", "remote.git"],
        );
        let remote = scratch.path().join("remote.git");
        t.git(&["remote", "add", "origin", remote.to_str().expect("utf-8")]);
        t.commit_file(
            "workstreams/one.json",
            r#"{"id": "one", "command": "echo done > one.txt"}"#,
        );
        t.git(&["push", "-q", "origin", "main"]);
        Shared { t, remote, scratch }
    }

    /// Commits `.pipeline/config.yaml` with `yaml` (so the workers' clones have it too)
    /// and pushes it.
    fn commit_config(&self, yaml: &str) {
        self.t.config(yaml);
        self.t.git(&["add", "-f", ".pipeline/config.yaml"]);
        self.t.git(&["commit", "-q", "-m", "pipeline config"]);
        self.t.git(&["push", "-q", "origin", "main"]);
    }

    /// A fresh clone of the remote for a worker.
    fn clone(&self, name: &str) -> PathBuf {
        git_in(
            self.scratch.path(),
            &["clone", "-q", self.remote.to_str().expect("utf-8"), name],
        );
        let dir = self.scratch.path().join(name);
        git_in(&dir, &["config", "user.name", "pipeline worker"]);
        git_in(&dir, &["config", "user.email", "worker@localhost"]);
        dir
    }

    /// `pipeline <args>` in the test repository, without `PIPELINE_TEMPORAL_ADDRESS`
    /// from the test's own environment (the config file must be what decides).
    fn pipeline(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let output = self
            .t
            .cmd()
            .env_remove("PIPELINE_TEMPORAL_ADDRESS")
            .envs(env.iter().copied())
            .args(args)
            .output()
            .expect("pipeline runs");
        Run { output }
    }

    /// The commit of `pipeline/<run>` on the remote.
    fn remote_result(&self, run: &str) -> String {
        git_in(
            &self.remote,
            &["rev-parse", &format!("refs/heads/pipeline/{run}")],
        )
    }
}

/// `pipeline worker --repo <clone> <extra>` started with no `--temporal` (the clone's
/// config names the server), output to `<scratch>/<name>.log`; SIGKILLed on drop.
struct ConfiguredWorker {
    child: Child,
    log: PathBuf,
}

impl ConfiguredWorker {
    fn start(s: &Shared, name: &str) -> ConfiguredWorker {
        let clone = s.clone(name);
        let log = s.scratch.path().join(format!("{name}.log"));
        let file = std::fs::File::create(&log).expect("worker log");
        let child = Command::new(assert_cmd::cargo::cargo_bin("pipeline"))
            .args(["worker", "--repo"])
            .arg(&clone)
            .env_remove("PIPELINE_TEMPORAL_ADDRESS")
            .env_remove("RUST_LOG")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("log"))
            .stderr(file)
            .spawn()
            .expect("pipeline worker starts");
        ConfiguredWorker { child, log }
    }

    fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for ConfiguredWorker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn engine_temporal_in_the_config_file_runs_on_the_cluster_without_flags() {
    let Some(server) = DevServer::start() else {
        return;
    };
    let s = Shared::new();
    s.commit_config(&format!(
        "engine: temporal\ntemporal:\n  address: {}\n  namespace: default\n  task_queue: from-config\n",
        server.address
    ));
    // The worker reads address and task queue from its clone's config, the submitter
    // from its repository's: neither gets a flag.
    let worker = ConfiguredWorker::start(&s, "clone-config");
    let r = s.pipeline(&["run", "workstreams/one.json", "--run-id", "cfg1"], &[]);
    assert_eq!(
        r.code(),
        0,
        "stdout:\n{}\nstderr:\n{}\nworker:\n{}",
        r.stdout(),
        r.stderr(),
        worker.output()
    );
    let stdout = r.stdout();
    assert!(
        stdout.contains(&format!("on Temporal {}", server.address)),
        "{stdout}"
    );
    assert!(stdout.contains("task queue from-config"), "{stdout}");
    assert!(stdout.contains("step one: completed"), "{stdout}");
    assert!(
        worker.output().contains("polling from-config"),
        "{}",
        worker.output()
    );
    assert_eq!(
        s.t.show("pipeline/cfg1", "one.txt").as_deref(),
        Some("done\n")
    );
    assert_eq!(
        s.remote_result("cfg1"),
        s.t.git(&["rev-parse", "pipeline/cfg1"])
    );
    // `--engine local` still wins over `engine: temporal`: no Temporal line, a local
    // result branch.
    let r = s.pipeline(
        &[
            "run",
            "workstreams/one.json",
            "--engine",
            "local",
            "--run-id",
            "loc1",
        ],
        &[],
    );
    assert_eq!(r.code(), 0, "{}", r.stderr());
    assert!(!r.stdout().contains("on Temporal"), "{}", r.stdout());
    assert_eq!(
        s.t.show("pipeline/loc1", "one.txt").as_deref(),
        Some("done\n")
    );
}

#[test]
fn a_flag_overrides_the_config_files_address() {
    let Some(server) = DevServer::start() else {
        return;
    };
    let s = Shared::new();
    let dead = format!("127.0.0.1:{}", free_port());
    s.commit_config(&format!(
        "engine: temporal\ntemporal: {{address: \"{dead}\"}}\n"
    ));
    // Without the flag, the file's dead address is used: unreachable, exit 2, named.
    let r = s.pipeline(&["run", "workstreams/one.json", "--run-id", "dead1"], &[]);
    assert_eq!(r.code(), 2, "{}", r.stderr());
    assert!(
        r.stderr()
            .contains(&format!("cannot reach the Temporal server at {dead}")),
        "{}",
        r.stderr()
    );
    // The worker's --temporal wins over its clone's config too.
    let clone = s.clone("clone-flag");
    let log = s.scratch.path().join("clone-flag.log");
    let worker = WorkerProcess::start(&server.address, &clone, log, &[], &[]);
    let r = s.pipeline(
        &[
            "run",
            "workstreams/one.json",
            "--temporal",
            &server.address,
            "--run-id",
            "flag1",
        ],
        &[],
    );
    assert_eq!(
        r.code(),
        0,
        "stdout:\n{}\nstderr:\n{}\nworker:\n{}",
        r.stdout(),
        r.stderr(),
        worker.output()
    );
    assert!(
        r.stdout()
            .contains(&format!("on Temporal {}", server.address)),
        "{}",
        r.stdout()
    );
    assert_eq!(
        s.t.show("pipeline/flag1", "one.txt").as_deref(),
        Some("done\n")
    );
    // PIPELINE_TEMPORAL_ADDRESS is the flag's variable: it wins over the file as well.
    let r = s.pipeline(
        &["run", "workstreams/one.json", "--run-id", "env1"],
        &[("PIPELINE_TEMPORAL_ADDRESS", server.address.as_str())],
    );
    assert_eq!(r.code(), 0, "{}\n{}", r.stdout(), r.stderr());
    assert_eq!(
        s.t.show("pipeline/env1", "one.txt").as_deref(),
        Some("done\n")
    );
}

#[test]
fn a_bad_temporal_key_in_the_config_is_an_input_error_naming_it() {
    let s = Shared::new();
    s.t.config("engine: temporal\ntemporal: {adress: \"127.0.0.1:7233\"}\n");
    for args in [
        &["run", "workstreams/one.json"][..],
        &["run", "workstreams/one.json", "--engine", "temporal"],
        &["validate", "workstreams/one.json"],
        &["worker"],
    ] {
        let r = s.pipeline(args, &[]);
        assert_eq!(r.code(), 2, "{args:?}: {}", r.stderr());
        let stderr = r.stderr();
        assert!(
            stderr.contains(".pipeline/config.yaml"),
            "{args:?}: {stderr}"
        );
        assert!(stderr.contains("temporal.adress"), "{args:?}: {stderr}");
        assert!(stderr.contains("temporal.address"), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    for (yaml, key) in [
        ("engine: remote\n", "engine"),
        (
            "temporal: {address: \"127.0.0.1:7233\", heartbeat_timeout_sec: 0}\n",
            "temporal.heartbeat_timeout_sec",
        ),
        (
            "engine: temporal\ntemporal: {address: \"ftp://127.0.0.1:7233\"}\n",
            "temporal.address",
        ),
    ] {
        s.t.config(yaml);
        let r = s.pipeline(&["run", "workstreams/one.json"], &[]);
        assert_eq!(r.code(), 2, "{yaml}: {}", r.stderr());
        assert!(r.stderr().contains(key), "{yaml}: {}", r.stderr());
        assert!(r.stderr().contains("config.yaml"), "{yaml}: {}", r.stderr());
    }
    // `engine: temporal` without an address anywhere: the error names all three places.
    s.t.config("engine: temporal\n");
    let r = s.pipeline(&["run", "workstreams/one.json"], &[]);
    assert_eq!(r.code(), 2, "{}", r.stderr());
    for needle in [
        "--temporal",
        "PIPELINE_TEMPORAL_ADDRESS",
        "temporal.address",
    ] {
        assert!(r.stderr().contains(needle), "{}", r.stderr());
    }
}

#[test]
fn a_missing_tls_certificate_file_is_an_input_error_naming_it() {
    let s = Shared::new();
    let address = format!("127.0.0.1:{}", free_port());
    s.t.config(&format!(
        "engine: temporal\ntemporal:\n  address: \"{address}\"\n  tls: {{ca_cert: certs/missing-ca.pem}}\n"
    ));
    let r = s.pipeline(&["run", "workstreams/one.json"], &[]);
    assert_eq!(r.code(), 2, "{}", r.stderr());
    assert!(
        r.stderr().contains("temporal.tls.ca_cert"),
        "{}",
        r.stderr()
    );
    assert!(
        r.stderr()
            .contains(&s.t.repo.join("certs/missing-ca.pem").display().to_string()),
        "{}",
        r.stderr()
    );
    // A flag names its own missing file, for the worker as for run.
    std::fs::remove_file(s.t.repo.join(".pipeline/config.yaml")).expect("remove config");
    let r = s.pipeline(
        &[
            "worker",
            "--temporal",
            &address,
            "--tls-client-cert",
            "/nonexistent/client.pem",
            "--tls-client-key",
            "/nonexistent/client.key",
        ],
        &[],
    );
    assert_eq!(r.code(), 2, "{}", r.stderr());
    assert!(
        r.stderr()
            .contains("--tls-client-cert: cannot read /nonexistent/client.pem"),
        "{}",
        r.stderr()
    );
    // Half of a client certificate pair.
    let r = s.pipeline(
        &[
            "worker",
            "--temporal",
            &address,
            "--tls-client-cert",
            &ca_file().display().to_string(),
        ],
        &[],
    );
    assert_eq!(r.code(), 2, "{}", r.stderr());
    assert!(r.stderr().contains("--tls-client-key"), "{}", r.stderr());
}

/// The fixture CA certificate (self-signed, its key discarded; no server uses it).
fn ca_file() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/temporal/test-ca.pem")
}

/// A plain TCP listener on 127.0.0.1 that records the first 3 bytes each connection
/// sends, then closes it.
struct RecordingListener {
    address: String,
    seen: Arc<Mutex<Vec<Vec<u8>>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl RecordingListener {
    fn start() -> RecordingListener {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let address = listener.local_addr().expect("address").to_string();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (record, stopped) = (seen.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            while !stopped.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((mut stream, _)) => {
                        let _ = stream.set_nonblocking(false);
                        let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                        let mut first = [0u8; 3];
                        let mut got = 0;
                        while got < first.len() {
                            match stream.read(&mut first[got..]) {
                                Ok(0) | Err(_) => break,
                                Ok(n) => got += n,
                            }
                        }
                        record.lock().expect("lock").push(first[..got].to_vec());
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        });
        RecordingListener {
            address,
            seen,
            stop,
            thread: Some(thread),
        }
    }

    fn first_bytes(&self) -> Vec<Vec<u8>> {
        self.seen.lock().expect("lock").clone()
    }
}

impl Drop for RecordingListener {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Every connection the listener saw opened with a TLS handshake record (content type
/// 0x16, protocol major version 3), and there was at least one.
fn assert_client_hellos(listener: &RecordingListener, context: &str) {
    let seen = listener.first_bytes();
    assert!(
        !seen.is_empty(),
        "no connection reached the listener; {context}"
    );
    for first in &seen {
        assert!(
            first.len() == 3 && first[0] == 0x16 && first[1] == 0x03,
            "not a TLS ClientHello: {first:02x?}; {context}"
        );
    }
}

#[test]
fn tls_with_a_ca_certificate_sends_a_client_hello_and_a_failed_handshake_names_the_address() {
    let s = Shared::new();
    let listener = RecordingListener::start();
    let ca = ca_file();
    let r = s.pipeline(
        &[
            "run",
            "workstreams/one.json",
            "--engine",
            "temporal",
            "--temporal",
            &listener.address,
            "--tls-ca-cert",
            ca.to_str().expect("utf-8"),
        ],
        &[],
    );
    let context = format!("stderr: {}", r.stderr());
    assert_eq!(r.code(), 2, "{context}");
    assert!(
        r.stderr().contains(&format!(
            "cannot reach the Temporal server at {}",
            listener.address
        )),
        "{context}"
    );
    assert_client_hellos(&listener, &context);
    // The same from the config file, for the worker (paths relative to the root).
    let listener = RecordingListener::start();
    std::fs::create_dir_all(s.t.repo.join("certs")).expect("mkdir");
    std::fs::copy(&ca, s.t.repo.join("certs/ca.pem")).expect("copy");
    s.t.config(&format!(
        "temporal: {{address: \"{}\", tls: {{ca_cert: certs/ca.pem, server_name: temporal.test}}}}\n",
        listener.address
    ));
    let r = s.pipeline(&["worker"], &[]);
    let context = format!("stderr: {}", r.stderr());
    assert_eq!(r.code(), 2, "{context}");
    assert!(r.stderr().contains(&listener.address), "{context}");
    assert_client_hellos(&listener, &context);
}

#[test]
fn an_api_key_variable_implies_tls_and_an_unset_one_is_an_input_error_naming_it() {
    let s = Shared::new();
    let listener = RecordingListener::start();
    let secret = "tmprl-test-key-7f3a9c";
    let r = s.pipeline(
        &[
            "run",
            "workstreams/one.json",
            "--engine",
            "temporal",
            "--temporal",
            &listener.address,
            "--api-key-env",
            "PIPELINE_TEST_TEMPORAL_API_KEY",
        ],
        &[("PIPELINE_TEST_TEMPORAL_API_KEY", secret)],
    );
    let context = format!("stdout: {}\nstderr: {}", r.stdout(), r.stderr());
    assert_eq!(r.code(), 2, "{context}");
    assert!(r.stderr().contains(&listener.address), "{context}");
    assert!(
        !context.contains(secret),
        "the API key was printed: {context}"
    );
    assert_client_hellos(&listener, &context);

    let listener = RecordingListener::start();
    s.t.config(&format!(
        "engine: temporal\ntemporal: {{address: \"{}\", api_key_env: PIPELINE_TEST_UNSET_KEY}}\n",
        listener.address
    ));
    let r = s.pipeline(&["run", "workstreams/one.json"], &[]);
    assert_eq!(r.code(), 2, "{}", r.stderr());
    assert!(
        r.stderr().contains("PIPELINE_TEST_UNSET_KEY is not set"),
        "{}",
        r.stderr()
    );
    assert!(
        r.stderr().contains("temporal.api_key_env"),
        "{}",
        r.stderr()
    );
    assert!(
        listener.first_bytes().is_empty(),
        "no connection is attempted without the key"
    );
}
