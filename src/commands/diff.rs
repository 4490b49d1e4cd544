//! `pipeline diff RUN [STEP] [--stat | --name-only]`: what a step changed (its result
//! commit against the commit its worktree started at), or what a whole run changed (its
//! result branch against its base commit).
//!
//! The patch goes to stdout as is, so `pipeline diff RUN STEP | git apply` works; `--stat`
//! prints one line per file (`path | 12 +++++++---`) and git's totals line,
//! `--name-only` the changed paths.

use std::io::Write;

use pipeline_core::engine::{DiffStat, EngineError, FileChange, run_diff, step_diff};

use super::exit;
use crate::cli::RepoArgs;
use crate::command_error::CommandError;

/// What `pipeline diff` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiffView {
    /// The unified diff.
    Patch,
    /// Files with line counts, and the totals.
    Stat,
    /// Changed paths only.
    NameOnly,
}

impl DiffView {
    /// The view the flags choose (clap keeps them exclusive).
    pub fn of(stat: bool, name_only: bool) -> DiffView {
        match (stat, name_only) {
            (true, _) => DiffView::Stat,
            (_, true) => DiffView::NameOnly,
            _ => DiffView::Patch,
        }
    }
}

/// `pipeline diff RUN [STEP]`. Errors (exit 2): an unknown run or step (naming the
/// closest step), a step without a result commit yet, a run without a result branch;
/// (exit 3) a commit git cannot read.
pub fn diff(
    run: &str,
    step: Option<&str>,
    view: DiffView,
    repo: &RepoArgs,
) -> Result<i32, CommandError> {
    let (repo_dir, db) = (repo.repo.as_deref(), repo.db.as_deref());
    let (patch, files) = match step {
        Some(step) => {
            let Some(d) = step_diff(repo_dir, db, run, step)? else {
                return Err(EngineError::Input(format!(
                    "step `{step}` of run {run} has no result commit yet: it has not completed (or awaited approval)\n  hint: `pipeline status {run}` shows its status"
                ))
                .into());
            };
            (d.patch, d.files)
        }
        None => {
            let d = run_diff(repo_dir, db, run)?;
            (d.patch, d.files)
        }
    };
    let text = match view {
        DiffView::Patch => patch,
        DiffView::Stat => stat_text(&files),
        DiffView::NameOnly => files.iter().map(|f| format!("{}\n", f.path)).collect(),
    };
    let mut out = std::io::stdout().lock();
    // A reader that went away (`pipeline diff ... | head`) only ends the output.
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(exit::OK),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(exit::OK),
        Err(e) => Err(CommandError::internal(format!(
            "cannot write to standard output: {e}"
        ))),
    }
}

/// Widest bar of `--stat`, in characters.
const BAR_WIDTH: usize = 40;

/// ` path | 12 +++++++---` per file (binary files: `Bin`), then git's totals line.
pub fn stat_text(files: &[FileChange]) -> String {
    let path_width = files.iter().map(|f| f.path.len()).max().unwrap_or(0);
    let most = files
        .iter()
        .map(|f| f.insertions + f.deletions)
        .max()
        .unwrap_or(0);
    let count_width = most.to_string().len();
    let mut text = String::new();
    for f in files {
        let changed = f.insertions + f.deletions;
        let cell = if f.binary {
            "Bin".to_owned()
        } else {
            // Scaled down only when the widest file does not fit.
            let scale = |n: usize| {
                if most <= BAR_WIDTH {
                    n
                } else {
                    (n * BAR_WIDTH).div_ceil(most)
                }
            };
            format!(
                "{changed:>count_width$} {}{}",
                "+".repeat(scale(f.insertions)),
                "-".repeat(scale(f.deletions))
            )
        };
        text.push_str(&format!(" {:path_width$} | {}\n", f.path, cell.trim_end()));
    }
    text.push_str(&format!(" {}\n", DiffStat::of(files)));
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str, insertions: usize, deletions: usize) -> FileChange {
        FileChange {
            path: path.into(),
            status: "modified".into(),
            insertions,
            deletions,
            binary: false,
        }
    }

    #[test]
    fn the_stat_lists_files_with_bars_and_git_totals() {
        let text = stat_text(&[file("a.txt", 2, 1), file("src/long_name.rs", 10, 0)]);
        assert_eq!(
            text,
            " a.txt            |  3 ++-\n src/long_name.rs | 10 ++++++++++\n 2 files changed, 12 insertions(+), 1 deletion(-)\n"
        );
        assert_eq!(stat_text(&[]), " no changes\n");
        let wide = stat_text(&[file("big", 400, 0)]);
        assert!(
            wide.contains(&format!("400 {}", "+".repeat(BAR_WIDTH))),
            "{wide}"
        );
    }
}
