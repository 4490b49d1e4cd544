//! Which workstream files `run`, `plan` and `validate` read when no path is given: the
//! repository's `workstreams/` directory (what `pipeline init` creates), so that
//! `pipeline run` alone works in a set-up repository. Decided here once, in dispatch,
//! so the three commands cannot drift apart.

use std::path::{Path, PathBuf};

use pipeline_core::engine::{current_dir, repository_root_or_current_dir};

use crate::command_error::CommandError;

/// The directory name looked for at the top of the repository.
pub const DEFAULT_DIR: &str = "workstreams";

/// `paths` when the user gave any; otherwise `[<repo>/workstreams]`, with `<repo>` the
/// top of the repository given with `--repo` or containing the current directory (the
/// current directory itself outside any repository). The default is written relative
/// (`workstreams`) when the current directory is that top, so messages stay short, and
/// absolute otherwise.
///
/// Errors: invalid input (exit 2) when the default directory does not exist, saying
/// where it was looked for and suggesting `pipeline init`; the errors of
/// [`repository_root_or_current_dir`] (a `--repo` that is not a repository, an
/// unreadable current directory).
pub fn workstream_paths(
    paths: Vec<PathBuf>,
    repo: Option<&Path>,
) -> Result<Vec<PathBuf>, CommandError> {
    if !paths.is_empty() {
        return Ok(paths);
    }
    let root = repository_root_or_current_dir(repo)?;
    let dir = root.join(DEFAULT_DIR);
    if !dir.is_dir() {
        return Err(CommandError::invalid(format!(
            "no workstream files given and {} does not exist; pass workstream files or \
             directories, or run `pipeline init` to create {DEFAULT_DIR}/example.json",
            dir.display()
        )));
    }
    let cwd = current_dir()?;
    let at_top = match (cwd.canonicalize(), root.canonicalize()) {
        (Ok(cwd), Ok(root)) => cwd == root,
        _ => false,
    };
    Ok(vec![if at_top {
        PathBuf::from(DEFAULT_DIR)
    } else {
        dir
    }])
}
