//! `pipeline spec init`: creates `openspec/` (`config.yaml`, `specs/`,
//! `changes/archive/`) as the OpenSpec CLI's `openspec init --tools none` does, keeping
//! every file that is already there.

use std::path::{Path, PathBuf};

use pipeline_core::engine::repository_root_or_current_dir;
use pipeline_core::openspec::{Layout, scaffold_project};
use serde_json::json;

use crate::command_error::CommandError;
use crate::commands::exit;
use crate::json_output::print_json;

/// Creates the project skeleton in `repo` (default: the top of the git repository
/// containing the current directory, or the current directory outside any) and lists
/// each file as created or kept, then the next commands. Exit 0, also when everything
/// was there already.
///
/// Errors: invalid input when `repo` is not a directory; internal when a file cannot be
/// written or the current directory cannot be read.
pub fn init(repo: Option<&Path>, json: bool) -> Result<i32, CommandError> {
    let root = project_root(repo)?;
    let layout = Layout::new(&root);
    let files = scaffold_project(&layout).map_err(CommandError::internal)?;
    if json {
        print_json(&json!({ "root": root, "files": files }))?;
        return Ok(exit::OK);
    }
    println!("OpenSpec project in {}:", root.display());
    for file in &files {
        let verb = if file.created { "created" } else { "kept   " };
        let shown = file.path.strip_prefix(&root).unwrap_or(&file.path);
        println!("  {verb} {}", shown.display());
    }
    println!();
    println!("Next:");
    println!("  pipeline spec new add-my-feature   # scaffold a change proposal");
    println!("  pipeline spec validate --all       # check changes and specs");
    Ok(exit::OK)
}

/// `repo` when given (it must be a directory), else the repository root or current
/// directory.
fn project_root(repo: Option<&Path>) -> Result<PathBuf, CommandError> {
    match repo {
        Some(dir) if dir.is_dir() => Ok(dir.to_path_buf()),
        Some(dir) => Err(CommandError::invalid(format!(
            "--repo {}: no such directory; create it first or pass an existing project root",
            dir.display()
        ))),
        None => Ok(repository_root_or_current_dir(None)?),
    }
}
