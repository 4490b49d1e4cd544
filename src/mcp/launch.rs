//! The `run` tool's run: a detached `pipeline run` process that outlives the MCP session.
//!
//! An MCP client starts a server per session and ends it when the session ends (the
//! agent quits, the editor closes). A run takes minutes to hours, so it cannot live in
//! the server's process: the tool starts `pipeline run PATHS --run-id ID` from the
//! current executable in a session of its own (`setsid`: no controlling terminal, not in
//! the client's process group, so neither the client's exit nor a closed terminal's
//! SIGHUP reaches it), with stdin from `/dev/null` and stdout and stderr appended to
//! `.pipeline/logs/<run-id>/mcp-run.log` (the run's logs directory: `pipeline clean`
//! removes it with the rest). It is then an ordinary `pipeline run`: it holds the
//! run lock, journals to the state database, and `status`, `logs`, `pipeline resume`
//! and `pipeline serve` see it like any other.
//!
//! The tool answers once the run is recorded in the state database (so the id it
//! returns is one `status` knows), or once the process has ended: a run refused before
//! it starts (an unfinished run of the same workstreams, a bad base, a taken run id)
//! gives the process's own error message.

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use pipeline_core::engine::run_status;

/// What a client asked to run, already checked: canonical paths inside the repository.
pub struct RunRequest {
    /// Workstream files or directories.
    pub paths: Vec<PathBuf>,
    /// The run id (given or generated).
    pub run_id: String,
    /// `--jobs`.
    pub jobs: Option<u32>,
    /// `--base`.
    pub base: Option<String>,
    /// `--include-uncommitted`.
    pub include_uncommitted: bool,
}

/// A run process started and recorded.
pub struct Started {
    /// Where its output goes.
    pub log: PathBuf,
    /// The recorded status (`running`, or already `completed`/`failed` for a short run);
    /// `None` when the run was not recorded yet within [`RECORD_WAIT`].
    pub status: Option<serde_json::Value>,
}

/// How long the tool waits for the run to be recorded before it answers anyway (the run
/// goes on; `status` shows it once recorded). Preparing a run only loads and plans its
/// files and records it, which takes well under a second for ordinary workstreams.
const RECORD_WAIT: Duration = Duration::from_secs(60);

/// How often the tool looks at the process and the database while it waits.
const POLL: Duration = Duration::from_millis(50);

/// At most this much of the log's end is quoted in the error of a run refused at start.
const ERROR_TAIL: u64 = 8 * 1024;

/// Starts `request` as a detached `pipeline run` in `root` (the repository) with the
/// state database `db`, and waits until it is recorded or has ended.
///
/// Errors (a message for the client): the log cannot be created, the process cannot be
/// started, or it ended before recording the run (its output, which says why).
pub fn start_run(root: &Path, db: Option<&Path>, request: &RunRequest) -> Result<Started, String> {
    // The run's own logs directory, so `pipeline clean` removes it with the run's logs.
    let dir = root.join(".pipeline").join("logs").join(&request.run_id);
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let log = dir.join("mcp-run.log");
    let open_log = || {
        OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .map_err(|e| format!("cannot open the run's log {}: {e}", log.display()))
    };
    let start_len = std::fs::metadata(&log).map(|m| m.len()).unwrap_or(0);
    let exe = std::env::current_exe()
        .map_err(|e| format!("cannot find the pipeline executable to start the run: {e}"))?;
    let mut command = Command::new(exe);
    command.arg("run").arg("--repo").arg(root);
    if let Some(db) = db {
        command.arg("--db").arg(db);
    }
    command.args(["--run-id", &request.run_id]);
    if let Some(jobs) = request.jobs {
        command.args(["--jobs", &jobs.to_string()]);
    }
    if let Some(base) = &request.base {
        command.args(["--base", base]);
    }
    if request.include_uncommitted {
        command.arg("--include-uncommitted");
    }
    // After `--`, a file whose name starts with `-` is still a path.
    command.arg("--").args(&request.paths);
    command
        .current_dir(root)
        .stdin(Stdio::null())
        .stdout(open_log()?)
        .stderr(open_log()?);
    new_session(&mut command);
    let mut child = command
        .spawn()
        .map_err(|e| format!("cannot start `pipeline run`: {e}"))?;
    let started = wait_recorded(root, db, &request.run_id, &mut child);
    // Reap the process when it ends, so it never lingers as a zombie of this server;
    // if the server ends first, init adopts and reaps it.
    std::thread::spawn(move || {
        let _ = child.wait();
    });
    match started {
        Ok(status) => Ok(Started { log, status }),
        Err(code) => {
            let output = read_from(&log, start_len);
            Err(format!(
                "the run did not start (`pipeline run` exited with {code}):\n{}",
                output.trim_end()
            ))
        }
    }
}

/// Waits until run `run_id` is recorded (`Ok(Some(status))`), the wait runs out
/// (`Ok(None)`), or the process ends without having recorded it (`Err(exit status)`).
fn wait_recorded(
    root: &Path,
    db: Option<&Path>,
    run_id: &str,
    child: &mut Child,
) -> Result<Option<serde_json::Value>, String> {
    let deadline = Instant::now() + RECORD_WAIT;
    loop {
        // Looked at before the database: a process that ended after recording the run
        // (a run that finished at once) still counts as started.
        let exited = child.try_wait().ok().flatten();
        if let Ok(report) = run_status(Some(root), db, Some(run_id)) {
            return Ok(serde_json::to_value(report).ok());
        }
        if let Some(status) = exited {
            return Err(status.to_string());
        }
        if Instant::now() >= deadline {
            return Ok(None);
        }
        std::thread::sleep(POLL);
    }
}

/// The end of `log` written since it was `from` bytes long (at most [`ERROR_TAIL`]).
fn read_from(log: &Path, from: u64) -> String {
    let Ok(bytes) = std::fs::read(log) else {
        return String::new();
    };
    let len = bytes.len() as u64;
    let start = from.max(len.saturating_sub(ERROR_TAIL));
    let start = usize::try_from(start).unwrap_or(0).min(bytes.len());
    String::from_utf8_lossy(&bytes[start..]).into_owned()
}

/// Makes the process start in a new session (`setsid`), detached from the MCP client's
/// process group and controlling terminal.
#[allow(unsafe_code, reason = "CommandExt::pre_exec is unsafe")]
fn new_session(command: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: the closure runs in the child between fork and exec; it only calls
    // setsid(2), which is async-signal-safe, and allocates nothing.
    unsafe {
        command.pre_exec(|| {
            nix::unistd::setsid()
                .map(drop)
                .map_err(std::io::Error::from)
        });
    }
}
