//! One module per command; `dispatch` runs the chosen one and returns the exit code.
//!
//! A command returns `Ok(code)` for an outcome it reported itself and `Err` when it could
//! not do its job; `dispatch` is the one place that prints such an error (through
//! [`CommandError::report`]) and turns it into its exit code. `run`, `plan` and
//! `validate` given no path get the repository's `workstreams/` here
//! ([`workstream_paths`]), before the command runs.

pub(crate) mod approve;
mod cache;
mod clean;
mod diff;
pub(crate) mod errors;
mod export;
mod export_workflow;
mod init;
mod init_config;
mod logs;
mod manual;
mod plan;
mod run;
mod schema;
pub mod spec;
mod status;
mod step_exec;
mod temporal_attach;
mod temporal_mirror;
mod temporal_run;
pub(crate) mod temporal_target;
pub(crate) mod tools;
mod usage;
pub(crate) mod validate;
mod webhooks;
mod why;
mod worker;
mod workstream_paths;

use pipeline_core::engine::EngineError;
/// The exit-code table (`pipeline_core::exit_code`): `exit::OK`, `exit::FAILED`,
/// `exit::INVALID`, `exit::INTERNAL`, `exit::HANGUP`, `exit::INTERRUPTED`,
/// `exit::TERMINATED`.
pub use pipeline_core::exit_code as exit;

use crate::cli::{Cli, Command};
use crate::command_error::{CommandError, report_engine_error};
use workstream_paths::workstream_paths;

/// Runs the command and returns the process exit code.
pub fn dispatch(cli: Cli) -> i32 {
    let result: Result<i32, CommandError> = match cli.command {
        Command::Init(args) => init::init(&args),
        Command::Schema { kind } => schema::schema(kind),
        Command::Completions { shell } => manual::completions(shell),
        Command::Man { out_dir } => manual::man(out_dir.as_deref()),
        Command::Run(mut args) => {
            match workstream_paths(std::mem::take(&mut args.paths), args.repo.repo.as_deref()) {
                Ok(paths) => {
                    args.paths = paths;
                    match temporal_target::engine_is_temporal(
                        args.engine,
                        args.repo.repo.as_deref(),
                    ) {
                        Ok(true) => temporal_run::run(args),
                        Ok(false) => run::run(args).map_err(CommandError::from),
                        Err(e) => Err(e),
                    }
                }
                Err(e) => Err(e),
            }
        }
        Command::Resume(args) => resume(args),
        Command::Status {
            run,
            json,
            repo,
            remote,
        } => status::status(run.as_deref(), json, &repo, &remote),
        Command::Cancel { run, repo, remote } => temporal_attach::cancel(&run, &remote, &repo),
        Command::Runs { json, repo } => status::runs(json, &repo),
        Command::Usage {
            run,
            by,
            json,
            repo,
        } => usage::usage(run.as_deref(), by, json, &repo),
        Command::Diff {
            run,
            step,
            stat,
            name_only,
            repo,
        } => diff::diff(
            &run,
            step.as_deref(),
            diff::DiffView::of(stat, name_only),
            &repo,
        ),
        Command::Plan {
            paths,
            format,
            repo,
        } => workstream_paths(paths, repo.repo.as_deref())
            .and_then(|paths| plan::plan(&paths, format, &repo.with_default_db())),
        Command::Validate {
            paths,
            strict,
            json,
            repo,
        } => workstream_paths(paths, repo.repo.as_deref())
            .and_then(|paths| validate::validate(&paths, strict, json, &repo.with_default_db())),
        Command::Logs {
            run,
            step,
            attempt,
            paths,
            repo,
            remote,
        } => logs(&run, &step, attempt, paths, &repo, &remote),
        Command::Tools { json, repo } => tools::tools(json, &repo),
        Command::Clean {
            run,
            dry_run,
            json,
            repo,
        } => clean::clean(run.as_deref(), dry_run, json, &repo),
        Command::Errors { run, json, repo } => errors::errors(run.as_deref(), json, &repo),
        Command::Breakers { reset, json, repo } => {
            errors::breakers_cmd(reset.as_deref(), json, &repo)
        }
        Command::Plugins { json, repo } => errors::plugins_cmd(json, &repo.with_default_db()),
        Command::Diagnose {
            log,
            tool,
            exit_code,
            json,
            repo,
        } => errors::diagnose_cmd(
            &log,
            tool.as_deref(),
            exit_code,
            json,
            &repo.with_default_db(),
        ),
        Command::Spec(args) => spec::run(args),
        Command::Approve(args) => approve::approve(&args),
        Command::Reject(args) => approve::reject(&args),
        Command::Serve(args) => crate::serve::serve(args),
        Command::Mcp { repo } => crate::mcp::mcp(&repo),
        Command::Cache { action, json, repo } => cache::cache(action, json, &repo),
        Command::Why {
            run,
            step,
            json,
            repo,
        } => why::why(&run, &step, json, &repo),
        Command::Webhooks { run, json, repo } => webhooks::webhooks(run.as_deref(), json, &repo),
        Command::Step(crate::cli::StepArgs {
            command: crate::cli::StepCommand::Exec(mut args),
        }) => match workstream_paths(std::mem::take(&mut args.files), args.repo.repo.as_deref()) {
            Ok(paths) => step_exec::step_exec(args, paths).map_err(CommandError::from),
            Err(e) => Err(e),
        },
        Command::Export(args) => export::export(&args),
        Command::Worker(args) => worker::worker(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            e.report();
            e.exit_code()
        }
    }
}

/// `pipeline resume`: a Temporal run is followed to its end from here (its workflow goes
/// on by itself; see docs/TEMPORAL.md), a local run is continued by this process.
fn resume(args: crate::cli::ResumeArgs) -> Result<i32, CommandError> {
    match temporal_attach::find(&args.repo, &args.remote, args.run.as_deref())? {
        Some(found) => {
            let connection = found.connection(&args.remote)?;
            eprintln!(
                "attaching to run {} (workflow {} on {})",
                found.run_id, found.engine.workflow_id, connection.address
            );
            let remote = found.remote(&args.remote);
            temporal_attach::follow_run(&found, connection, remote, args.report.json)
        }
        None => run::resume(args).map_err(CommandError::from),
    }
}

/// `pipeline logs`: a Temporal run's step record from the shared remote, a local run's
/// log files.
fn logs(
    run: &str,
    step: &str,
    attempt: Option<u32>,
    paths: bool,
    repo: &crate::cli::RepoArgs,
    remote: &crate::cli::RemoteRunArgs,
) -> Result<i32, CommandError> {
    match temporal_attach::find(repo, remote, Some(run))? {
        Some(found) => {
            if attempt.is_some() {
                return Err(CommandError::invalid(
                    "--attempt is not available for a Temporal run: its worker pushes one \
                     record per step, with every attempt's output",
                ));
            }
            temporal_attach::logs(&found, remote, step, paths)
        }
        None => logs::logs(run, step, attempt, paths, repo),
    }
}

/// Prints an engine error once, without a backtrace, and gives its exit code (for
/// commands that report an error in the middle of their own output).
pub fn report_error(e: &EngineError) -> i32 {
    report_engine_error(e);
    e.exit_code()
}
