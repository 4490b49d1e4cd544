//! `pipeline completions` and `pipeline man`: generated from the clap command tree
//! (`crate::cli::Cli`), so they always list exactly the commands and flags there are.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::CommandFactory;

use crate::cli::Cli;
use crate::command_error::CommandError;
use crate::commands::exit;

/// Prints the completion script for `shell` on stdout (clap_complete). Exit 0.
pub fn completions(shell: clap_complete::Shell) -> Result<i32, CommandError> {
    let mut cmd = Cli::command();
    let mut out = std::io::stdout().lock();
    clap_complete::generate(shell, &mut cmd, "pipeline", &mut out);
    out.flush()
        .map_err(|e| CommandError::internal(format!("cannot write the script: {e}")))?;
    Ok(exit::OK)
}

/// Prints the man page of `pipeline` (roff, section 1) on stdout, or, with `out_dir`,
/// writes one page per command and subcommand into it (`pipeline.1`, `pipeline-run.1`,
/// `pipeline-spec-validate.1`, ...), creating the directory, and lists the files. Exit 0.
///
/// Errors: internal when the directory or a page cannot be written.
pub fn man(out_dir: Option<&Path>) -> Result<i32, CommandError> {
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    let Some(dir) = out_dir else {
        let mut out = std::io::stdout().lock();
        page(cmd)
            .render(&mut out)
            .and_then(|()| out.flush())
            .map_err(|e| CommandError::internal(format!("cannot write the man page: {e}")))?;
        return Ok(exit::OK);
    };
    std::fs::create_dir_all(dir)
        .map_err(|e| CommandError::internal(format!("cannot create {}: {e}", dir.display())))?;
    let mut written = Vec::new();
    write_pages(&cmd, dir, &mut written)?;
    for path in &written {
        println!("{}", path.display());
    }
    Ok(exit::OK)
}

/// The page of one (built) command, titled with its full name in capitals
/// (`.TH PIPELINE-RUN 1`), as man pages are.
fn page(cmd: clap::Command) -> clap_mangen::Man {
    let title = cmd
        .get_display_name()
        .unwrap_or_else(|| cmd.get_name())
        .to_uppercase();
    clap_mangen::Man::new(cmd).title(title)
}

/// Writes the page of `cmd` and, depth first, of each of its visible subcommands.
fn write_pages(
    cmd: &clap::Command,
    dir: &Path,
    written: &mut Vec<PathBuf>,
) -> Result<(), CommandError> {
    let man = page(cmd.clone());
    let path = man.generate_to(dir).map_err(|e| {
        CommandError::internal(format!("cannot write a page into {}: {e}", dir.display()))
    })?;
    written.push(path);
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        write_pages(sub, dir, written)?;
    }
    Ok(())
}
