//! A real Temporal development server for the Temporal engine's tests, and worker
//! processes.
//!
//! [`DevServer::start`] runs `temporal server start-dev --headless` (the pinned CLI of
//! `scripts/install-temporal.sh`, or `$PIPELINE_TEST_TEMPORAL_BIN`) on a free port with a
//! SQLite file in a temporary directory, waits until `temporal operator namespace list`
//! answers, and kills the server when dropped; [`DevServer::restart`] kills it and starts
//! it again on the same port and SQLite file. A missing binary skips the test with a
//! loud message, or fails it under `CI=true` (as missing AI CLIs do).

use std::net::TcpListener;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::support::installed_cli;

/// How long the server may take to answer after it started.
const READY_WITHIN: Duration = Duration::from_secs(60);

/// A running dev server; killed on drop.
pub struct DevServer {
    child: Child,
    /// `127.0.0.1:<port>`.
    pub address: String,
    /// The `temporal` CLI.
    pub bin: PathBuf,
    _dir: tempfile::TempDir,
}

/// A free TCP port on 127.0.0.1 (bound and released; the server binds it right after).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl DevServer {
    /// Starts a server, or `None` when the CLI is not installed (outside CI).
    pub fn start() -> Option<DevServer> {
        let bin = installed_cli("temporal", ".tools/venv-temporal/bin/temporal")?;
        let dir = tempfile::tempdir().expect("tempdir");
        let port = free_port();
        let child = spawn_server(&bin, dir.path(), port);
        let server = DevServer {
            child,
            address: format!("127.0.0.1:{port}"),
            bin,
            _dir: dir,
        };
        server.wait_ready();
        Some(server)
    }

    /// SIGKILLs the server and starts it again on the same port and SQLite file.
    pub fn restart(&mut self) {
        self.kill();
        let port: u16 = self
            .address
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("port");
        self.child = spawn_server(&self.bin, self._dir.path(), port);
        self.wait_ready();
    }

    fn kill(&mut self) {
        // The CLI starts the server in-process; its group holds nothing else.
        if let Ok(pid) = i32::try_from(self.child.id()) {
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{pid}")])
                .status();
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Waits until `temporal operator namespace list` succeeds against the server.
    fn wait_ready(&self) {
        let started = Instant::now();
        loop {
            let ok = Command::new(&self.bin)
                .args(["operator", "namespace", "list", "--address", &self.address])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if ok {
                return;
            }
            assert!(
                started.elapsed() < READY_WITHIN,
                "the Temporal dev server at {} did not answer within {READY_WITHIN:?}; log:\n{}",
                self.address,
                self.log()
            );
            std::thread::sleep(Duration::from_millis(300));
        }
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self._dir.path().join("server.log")).unwrap_or_default()
    }
}

impl Drop for DevServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `temporal server start-dev --headless` on `port` with the SQLite file
/// `<dir>/temporal.db`, output appended to `<dir>/server.log`.
fn spawn_server(bin: &Path, dir: &Path, port: u16) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("server.log"))
        .expect("server log");
    Command::new(bin)
        .args(["server", "start-dev", "--headless", "--ip", "127.0.0.1"])
        .arg("--port")
        .arg(port.to_string())
        .arg("--db-filename")
        .arg(dir.join("temporal.db"))
        .args(["--log-level", "warn"])
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .process_group(0)
        .spawn()
        .expect("temporal server start-dev starts")
}

/// A `pipeline worker` process; SIGKILLed on drop.
pub struct WorkerProcess {
    pub child: Child,
    pub log: PathBuf,
}

impl WorkerProcess {
    /// Starts `pipeline worker --temporal <addr> --repo <clone> <extra...>` with the
    /// variables `env` added, output to `log`.
    pub fn start(
        address: &str,
        clone: &Path,
        log: PathBuf,
        extra: &[&str],
        env: &[(&str, &Path)],
    ) -> WorkerProcess {
        let bin = assert_cmd::cargo::cargo_bin("pipeline");
        let file = std::fs::File::create(&log).expect("worker log");
        let child = Command::new(bin)
            .args(["worker", "--temporal", address, "--repo"])
            .arg(clone)
            .args(extra)
            .envs(env.iter().copied())
            .env_remove("RUST_LOG")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("log"))
            .stderr(file)
            .spawn()
            .expect("pipeline worker starts");
        WorkerProcess { child, log }
    }

    /// SIGKILL, as a machine that disappears.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The worker's output so far.
    pub fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Polls `cond` every 100 ms until it holds or `within` passes; panics with `what`.
pub fn wait_until(what: &str, within: Duration, mut cond: impl FnMut() -> bool) {
    let started = Instant::now();
    while !cond() {
        assert!(started.elapsed() < within, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}
