//! `pipeline spec ...`: OpenSpec specs and change proposals.
//!
//! `spec init` creates the project ([`init`]); every other subcommand first locates it
//! (`--repo DIR`, `--root` kept as a hidden alias, else the nearest ancestor of the
//! current directory with `openspec/`). Parses arguments, calls `pipeline_core::openspec`, renders human text or JSON
//! (`--json`). One file per subcommand; [`issue`] renders the OpenSpec CLI's issue lines
//! that `validate` and `archive` share. Exit codes (the table of
//! `pipeline_core::exit_code`): 0 ok; 1 validation found errors (as `openspec validate`
//! does), an archive was refused for the change's content, or `deps` found a cycle or a
//! missing dependency; 2 invalid input or usage (no OpenSpec project, an unknown or
//! ambiguous item, a bad name or reference; the message says what to do); 3 internal
//! error, or an OpenSpec file or the spec index that cannot be read or written.

mod archive;
mod deps;
mod index;
mod init;
mod issue;
pub(crate) mod list;
mod new;
mod resolve;
pub(crate) mod show;
mod to_workstream;
pub(crate) mod validate;

use std::path::PathBuf;

use pipeline_core::openspec::{ArchiveOptions, BridgeOptions, local_date_today, locate_project};

use crate::cli::{DB_HELP, REPO_HELP};
use crate::command_error::CommandError;
use crate::commands::exit;

/// `pipeline spec`: OpenSpec specs and change proposals.
#[derive(clap::Args, Debug)]
pub struct SpecArgs {
    /// The project root containing `openspec/` ([`REPO_HELP`]; without it the nearest
    /// ancestor of the current directory that has `openspec/`, for `spec init` the git
    /// repository containing the current directory). `--root` is a hidden alias, the
    /// name this flag had before `--repo` was used everywhere.
    #[arg(long, alias = "root", global = true, value_name = "DIR", help = REPO_HELP)]
    pub repo: Option<PathBuf>,
    /// The subcommand.
    #[command(subcommand)]
    pub command: SpecCommand,
}

/// Kind of item, for `--type`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ItemKind {
    /// A change proposal.
    Change,
    /// A main spec.
    Spec,
}

/// `pipeline spec` subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum SpecCommand {
    /// Create `openspec/` as `openspec init` does (config.yaml, specs/, changes/archive/); keeps what exists.
    Init {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Validate a change or spec, or all of them, with the OpenSpec CLI's rules.
    Validate {
        /// Change id or capability id.
        item: Option<String>,
        /// Validate every change and spec.
        #[arg(long)]
        all: bool,
        /// Validate every change (also reports conflicting changes and dependency cycles).
        #[arg(long)]
        changes: bool,
        /// Validate every spec.
        #[arg(long)]
        specs: bool,
        /// Warnings fail validation too.
        #[arg(long)]
        strict: bool,
        /// Disambiguate an item that is both a change and a spec.
        #[arg(long = "type", value_enum)]
        item_type: Option<ItemKind>,
        /// Print the report as JSON (the shape of `openspec validate --json`).
        #[arg(long)]
        json: bool,
    },
    /// Apply a change's deltas to the main specs and move it to the archive.
    Archive {
        /// Change id.
        change: String,
        /// Apply spec updates, accept incomplete tasks and skipped validation.
        #[arg(short, long)]
        yes: bool,
        /// Archive without touching the main specs.
        #[arg(long)]
        skip_specs: bool,
        /// Skip validation (needs --yes).
        #[arg(long)]
        no_validate: bool,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// List active changes (default) or specs.
    List {
        /// List specs.
        #[arg(long, conflicts_with = "changes")]
        specs: bool,
        /// List changes.
        #[arg(long)]
        changes: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show a change or a spec.
    Show {
        /// Change id or capability id.
        item: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Only the deltas of a change (the JSON shape is the same).
        #[arg(long)]
        deltas_only: bool,
        /// Disambiguate an item that is both a change and a spec.
        #[arg(long = "type", value_enum)]
        item_type: Option<ItemKind>,
    },
    /// Scaffold a change proposal (proposal.md, tasks.md, a delta spec stub).
    New {
        /// Change id (kebab-case).
        change: String,
        /// Capability the delta stub targets (default: the change id).
        #[arg(long)]
        capability: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Refresh the spec index in the state database.
    Index {
        /// The state database ([`DB_HELP`]).
        #[arg(long, value_name = "PATH", env = "PIPELINE_DB", help = DB_HELP)]
        db: Option<PathBuf>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Find requirements whose name, statement or scenarios contain TEXT.
    Find {
        /// Text to look for (case-insensitive).
        text: String,
        /// The state database ([`DB_HELP`]).
        #[arg(long, value_name = "PATH", env = "PIPELINE_DB", help = DB_HELP)]
        db: Option<PathBuf>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Resolve spec://<capability>#<requirement>, change://<id> or change://<id>/tasks#<N.M>.
    Resolve {
        /// The reference.
        reference: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show change dependencies (`depends_on` in .openspec.yaml) and their cycles.
    Deps {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Turn a change (or, with --ccpm, a CCPM epic) into a workstream file.
    ToWorkstream {
        /// Change id, or epic name with --ccpm.
        target: String,
        /// Read `.claude/epics/<TARGET>/<N>.md` task files instead of a change.
        #[arg(long)]
        ccpm: bool,
        /// Output file (default: stdout).
        #[arg(short, long)]
        output: Option<PathBuf>,
        /// Tool profile for every step (default: aider).
        #[arg(long, conflicts_with = "capability")]
        tool: Option<String>,
        /// Capability for every step instead of a tool (e.g. code_generation).
        #[arg(long)]
        capability: Option<String>,
        /// Acceptance test for steps that declare none (repeatable).
        #[arg(long = "acceptance", value_name = "COMMAND")]
        acceptance: Vec<String>,
    },
}

/// Runs a `pipeline spec` subcommand: `Ok` with the exit code of an outcome it reported
/// (0, or 1 when a check failed), `Err` when it could not do its job.
pub fn run(args: SpecArgs) -> Result<i32, CommandError> {
    if let SpecCommand::Init { json } = args.command {
        return init::init(args.repo.as_deref(), json);
    }
    let layout = locate_project(args.repo.as_deref())?;
    match args.command {
        // Handled above: it creates the project the others locate.
        SpecCommand::Init { .. } => Ok(exit::OK),
        SpecCommand::Validate {
            item,
            all,
            changes,
            specs,
            strict,
            item_type,
            json,
        } => validate::validate(
            &layout,
            &validate::ValidateRequest {
                item,
                all,
                changes,
                specs,
                strict,
                item_type,
            },
            json,
        ),
        SpecCommand::Archive {
            change,
            yes,
            skip_specs,
            no_validate,
            json,
        } => {
            let options = ArchiveOptions {
                yes,
                skip_specs,
                no_validate,
                date: local_date_today(),
            };
            archive::archive(&layout, &change, &options, json)
        }
        SpecCommand::List {
            specs,
            changes: _,
            json,
        } => list::list(&layout, specs, json),
        SpecCommand::Show {
            item,
            json,
            deltas_only: _,
            item_type,
        } => show::show(&layout, &item, item_type, json),
        SpecCommand::New {
            change,
            capability,
            json,
        } => new::new_change(&layout, &change, capability.as_deref(), json),
        SpecCommand::Index { db, json } => index::index(&layout, db, json),
        SpecCommand::Find { text, db, json } => index::find(&layout, &text, db, json),
        SpecCommand::Resolve { reference, json } => resolve::resolve(&layout, &reference, json),
        SpecCommand::Deps { json } => deps::deps(&layout, json),
        SpecCommand::ToWorkstream {
            target,
            ccpm,
            output,
            tool,
            capability,
            acceptance,
        } => {
            let options = BridgeOptions {
                tool,
                capability,
                default_acceptance_tests: acceptance,
            };
            to_workstream::to_workstream(&layout, &target, ccpm, output.as_deref(), &options)
        }
    }
}
