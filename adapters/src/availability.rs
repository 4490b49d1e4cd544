//! Is a tool installed, and which version? (`pipeline tools`)
//!
//! The profile's command is looked up on `PATH` (the profile's own `PATH` if its `env`
//! sets one) with the `which` crate, then run once as `<command> --version` with empty
//! stdin under the process supervisor ([`run_captured_blocking`]), for at most
//! [`VERSION_TIMEOUT`]; its process group is killed afterwards in every case so that a
//! tool that starts an interactive session instead of printing a version cannot linger.
//! This is blocking code so that it can be called from anywhere, including inside a
//! runtime's blocking section.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use pipeline_process::{CaptureLimits, ProcessError, ProcessSpec, run_captured_blocking};
use tokio_util::sync::CancellationToken;

/// Longest wait for `<command> --version`, 5 seconds.
pub(crate) const VERSION_TIMEOUT: Duration = Duration::from_secs(5);

/// Bytes of version output read at most per stream.
const VERSION_OUTPUT_LIMIT: usize = 64 * 1024;

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
            error: Some(match error {
                ProcessError::Spawn { source, .. } => {
                    format!("`{}` cannot be started: {source}", found.display())
                }
                other => format!("`{}` cannot be probed: {other}", found.display()),
            }),
            found: Some(found),
            version: None,
        },
    }
}

/// Runs `<program> --version`; `Ok(None)` when it fails, times out or prints nothing.
fn version_of(
    program: &Path,
    env: &BTreeMap<String, String>,
) -> Result<Option<String>, ProcessError> {
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
    let mut spec = ProcessSpec::new(program, ["--version"], cwd);
    spec.env = env
        .iter()
        .map(|(name, value)| (name.into(), value.into()))
        .collect();
    spec.timeout = Some(VERSION_TIMEOUT);
    // A version probe has no state to save: stop it at once.
    spec.kill_grace = Duration::ZERO;
    let limits = CaptureLimits {
        max_stdout_bytes: VERSION_OUTPUT_LIMIT,
        max_stderr_bytes: VERSION_OUTPUT_LIMIT,
    };
    let output = run_captured_blocking(&spec, &[], &limits, CancellationToken::new())?;
    if !output.termination.is_success() {
        return Ok(None);
    }
    Ok([output.stdout, output.stderr]
        .into_iter()
        .find_map(|output| first_line(&output)))
}

fn first_line(output: &[u8]) -> Option<String> {
    String::from_utf8_lossy(output)
        .lines()
        .map(str::trim)
        .find(|line| !line.is_empty())
        .map(str::to_owned)
}

#[cfg(test)]
mod tests;
