//! Is a tool installed, and which version? (`pipeline tools`)
//!
//! The profile's command is looked up on `PATH` (the profile's own `PATH` if its `env`
//! sets one) with the `which` crate, then run once as `<command> --version` with stdin
//! on `/dev/null`, in its own process group, for at most [`VERSION_TIMEOUT`]; the group
//! is killed afterwards in every case so that a tool that starts an interactive session
//! instead of printing a version cannot linger. This is blocking code (threads, no
//! runtime) so that it can be called from anywhere, including inside a runtime's
//! blocking section.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io::{self, Read};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use nix::sys::signal::Signal;

use crate::process_group::ProcessGroup;

/// Longest wait for `<command> --version`, 5 seconds.
pub(crate) const VERSION_TIMEOUT: Duration = Duration::from_secs(5);

/// How long to wait for the output pipes after the version probe's group is killed.
const PIPE_GRACE: Duration = Duration::from_secs(1);

/// Bytes of version output read at most per stream.
const VERSION_OUTPUT_LIMIT: u64 = 64 * 1024;

/// Whether a tool can be run here.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct Availability {
    /// Full path of the executable, when found.
    pub found: Option<PathBuf>,
    /// First non-empty line printed by `<command> --version` (stdout, else stderr) when
    /// it exits successfully within 5 seconds.
    pub version: Option<String>,
    /// Why the tool cannot be used (not found, cannot be started, no driver for its
    /// kind), phrased for the user.
    pub error: Option<String>,
}

/// Where `command` is found on the profile's `PATH` (or the process's), without running it.
pub(crate) fn locate_command(command: &str, env: &BTreeMap<String, String>) -> Option<PathBuf> {
    let search_path = env
        .get("PATH")
        .map(OsString::from)
        .or_else(|| std::env::var_os("PATH"));
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
    which::which_in(command, search_path, cwd).ok()
}

/// Looks up `command` and asks it for its version. `env` is the profile's environment,
/// added to the process environment for the probe.
pub(crate) fn probe_command(command: &str, env: &BTreeMap<String, String>) -> Availability {
    let search_path = env
        .get("PATH")
        .map(OsString::from)
        .or_else(|| std::env::var_os("PATH"));
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
    let found = match which::which_in(command, search_path, cwd) {
        Ok(found) => found,
        Err(error) => {
            return Availability {
                found: None,
                version: None,
                error: Some(format!(
                    "`{command}` not found ({error}); install it, add it to PATH, or set `command` in the tool profile"
                )),
            };
        }
    };
    match version_of(&found, env) {
        Ok(version) => Availability {
            found: Some(found),
            version,
            error: None,
        },
        Err(error) => Availability {
            error: Some(format!("`{}` cannot be started: {error}", found.display())),
            found: Some(found),
            version: None,
        },
    }
}

/// Runs `<program> --version`; `Ok(None)` when it fails, times out or prints nothing.
fn version_of(program: &Path, env: &BTreeMap<String, String>) -> io::Result<Option<String>> {
    let mut child = Command::new(program)
        .arg("--version")
        .envs(env)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()?;
    let mut group = ProcessGroup::led_by(child.id());
    let stdout = child.stdout.take().map(read_bounded);
    let stderr = child.stderr.take().map(read_bounded);

    let (status_sender, status_receiver) = mpsc::channel();
    thread::spawn(move || {
        // The receiver may be gone if we gave up; nothing else to do then.
        let _ = status_sender.send(child.wait());
    });
    let status = match status_receiver.recv_timeout(VERSION_TIMEOUT) {
        Ok(status) => status.ok(),
        Err(_) => {
            group.signal(Signal::SIGKILL);
            status_receiver
                .recv_timeout(PIPE_GRACE)
                .ok()
                .and_then(Result::ok);
            None
        }
    };
    // Helpers the tool started must not outlive the probe.
    group.signal(Signal::SIGKILL);
    group.disarm();
    let stdout = stdout.and_then(|output| output.recv_timeout(PIPE_GRACE).ok());
    let stderr = stderr.and_then(|output| output.recv_timeout(PIPE_GRACE).ok());
    if !status.is_some_and(|status| status.success()) {
        return Ok(None);
    }
    Ok([stdout, stderr]
        .into_iter()
        .flatten()
        .find_map(|output| first_line(&output)))
}

/// Reads a pipe to its end on a thread, keeping the first bytes; the result arrives on
/// the returned channel.
fn read_bounded(pipe: impl Read + Send + 'static) -> mpsc::Receiver<Vec<u8>> {
    let (sender, receiver) = mpsc::channel();
    thread::spawn(move || {
        let mut pipe = pipe;
        let mut kept = Vec::new();
        let _ = (&mut pipe)
            .take(VERSION_OUTPUT_LIMIT)
            .read_to_end(&mut kept);
        let _ = io::copy(&mut pipe, &mut io::sink());
        let _ = sender.send(kept);
    });
    receiver
}

fn first_line(output: &[u8]) -> Option<String> {
    String::from_utf8_lossy(output)
        .lines()
        .map(str::trim)
        .find(|line| !line.is_empty())
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::fs;
    use std::os::unix::fs::PermissionsExt;

    use super::probe_command;

    #[test]
    fn finds_a_tool_and_reads_its_version() {
        let dir = tempfile::tempdir().unwrap();
        let tool = dir.path().join("fake-tool");
        fs::write(
            &tool,
            "#!/bin/sh\necho\necho 'fake-tool 1.2.3'\necho more\n",
        )
        .unwrap();
        fs::set_permissions(&tool, fs::Permissions::from_mode(0o755)).unwrap();
        let env = BTreeMap::from([(
            "PATH".to_owned(),
            format!("{}:/usr/bin:/bin", dir.path().display()),
        )]);
        let availability = probe_command("fake-tool", &env);
        assert_eq!(availability.found.as_deref(), Some(tool.as_path()));
        assert_eq!(availability.version.as_deref(), Some("fake-tool 1.2.3"));
        assert_eq!(availability.error, None);
    }

    #[test]
    fn missing_tool_reports_not_found() {
        let availability = probe_command("pipeline-no-such-tool-xyz", &BTreeMap::new());
        assert_eq!(availability.found, None);
        let error = availability.error.unwrap();
        assert!(
            error.contains("`pipeline-no-such-tool-xyz` not found"),
            "{error}"
        );
    }

    #[test]
    fn failing_version_flag_gives_no_version() {
        let dir = tempfile::tempdir().unwrap();
        let tool = dir.path().join("no-version");
        fs::write(&tool, "#!/bin/sh\necho 'usage: no-version' >&2\nexit 2\n").unwrap();
        fs::set_permissions(&tool, fs::Permissions::from_mode(0o755)).unwrap();
        let availability = probe_command(tool.to_str().unwrap(), &BTreeMap::new());
        assert_eq!(availability.found.as_deref(), Some(tool.as_path()));
        assert_eq!(availability.version, None);
        assert_eq!(availability.error, None);
    }
}
