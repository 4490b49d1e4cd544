//! `pipeline plan`: steps, dependencies, waves, critical path (text, JSON or DOT).

use std::path::PathBuf;

use pipeline_core::engine::{EngineError, load_and_plan};
use pipeline_core::planning::{PlanFormat, write_plan};

use super::exit;
use crate::cli::{self, RepoArgs};
use crate::command_error::CommandError;

/// `pipeline plan`: renders the plan of `paths` as text, JSON or DOT. Errors: invalid
/// workstream files (every diagnostic) and other engine errors.
pub fn plan(
    paths: &[PathBuf],
    format: cli::PlanFormat,
    repo: &RepoArgs,
) -> Result<i32, CommandError> {
    let (set, plan) = load_and_plan(paths, repo.repo.as_deref())?;
    let format = match format {
        cli::PlanFormat::Text => PlanFormat::Text,
        cli::PlanFormat::Json => PlanFormat::Json,
        cli::PlanFormat::Dot => PlanFormat::Dot,
    };
    // Written as rendered: the text of a large plan is never held whole.
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    write_plan(&set, &plan, format, &mut out)
        .and_then(|()| std::io::Write::flush(&mut out))
        .map_err(|e| EngineError::Internal(format!("cannot write the plan: {e}")))?;
    Ok(exit::OK)
}
