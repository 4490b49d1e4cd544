//! One module per command; `dispatch` runs the chosen one and returns the exit code.

mod clean;
mod errors;
mod logs;
mod plan;
mod run;
pub mod spec;
mod status;
mod tools;
mod validate;

use pipeline_core::engine::EngineError;

use crate::cli::{Cli, Command};

/// Exit codes (issue #2): 0 success, 1 a step or the run failed, 2 invalid input or
/// usage, 3 internal or state error, 130 interrupted.
pub mod exit {
    pub const OK: i32 = 0;
    pub const FAILED: i32 = 1;
    pub const INVALID: i32 = 2;
    pub const INTERRUPTED: i32 = 130;
}

/// Runs the command and returns the process exit code.
pub fn dispatch(cli: Cli) -> i32 {
    let result = match cli.command {
        Command::Run(args) => run::run(args),
        Command::Resume(args) => run::resume(args),
        Command::Status { run, json, repo } => status::status(run.as_deref(), json, &repo),
        Command::Runs { json, repo } => status::runs(json, &repo),
        Command::Plan {
            paths,
            format,
            repo,
        } => plan::plan(&paths, format, &repo),
        Command::Validate { paths, json, repo } => validate::validate(&paths, json, &repo),
        Command::Logs {
            run,
            step,
            attempt,
            paths,
            repo,
        } => logs::logs(&run, &step, attempt, paths, &repo),
        Command::Tools { json, repo } => tools::tools(json, &repo),
        Command::Clean { run, json, repo } => clean::clean(run.as_deref(), json, &repo),
        Command::Errors { run, json, repo } => errors::errors(run.as_deref(), json, &repo),
        Command::Breakers { reset, json, repo } => {
            errors::breakers_cmd(reset.as_deref(), json, &repo)
        }
        Command::Plugins { json, repo } => errors::plugins_cmd(json, &repo),
        Command::Diagnose {
            log,
            tool,
            exit_code,
            json,
            repo,
        } => errors::diagnose_cmd(&log, tool.as_deref(), exit_code, json, &repo),
        Command::Spec(args) => Ok(spec::run(args)),
    };
    match result {
        Ok(code) => code,
        Err(e) => report_error(&e),
    }
}

/// Prints an error once, without a backtrace, and gives its exit code.
pub fn report_error(e: &EngineError) -> i32 {
    match e {
        EngineError::Invalid(load) => {
            for d in &load.diagnostics {
                eprintln!("{d}");
            }
            let n = load.errors().count();
            eprintln!(
                "{n} error{} found; nothing was run",
                if n == 1 { "" } else { "s" }
            );
        }
        other => eprintln!("error: {other}"),
    }
    e.exit_code()
}

/// Prints `value` as pretty JSON on stdout.
pub fn print_json<T: serde::Serialize>(value: &T) {
    match serde_json::to_string_pretty(value) {
        Ok(s) => println!("{s}"),
        Err(e) => eprintln!("error: cannot render JSON: {e}"),
    }
}
