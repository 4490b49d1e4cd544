//! Command-line arguments.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Local-first DAG workstream executor for AI coding agents.
#[derive(Debug, Parser)]
#[command(name = "pipeline", version, about, propagate_version = true)]
pub struct Cli {
    /// More diagnostics on stderr (-v, -vv); RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

/// Where the repository and the state database are.
#[derive(Debug, Clone, Args)]
pub struct RepoArgs {
    /// Git repository to work in (default: the one containing the current directory).
    #[arg(long, value_name = "DIR")]
    pub repo: Option<PathBuf>,
    /// State database (default: <repo>/.pipeline/state.db).
    #[arg(long, value_name = "PATH", env = "PIPELINE_DB")]
    pub db: Option<PathBuf>,
}

/// How runs report progress and results.
#[derive(Debug, Clone, Args)]
pub struct ReportArgs {
    /// NDJSON events on stdout, one object per line.
    #[arg(long)]
    pub json: bool,
    /// Write a JUnit XML report (a test case per step and per acceptance test).
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Durability {
    /// Durable across crashes and kill -9 (SQLite WAL, synchronous=NORMAL).
    Normal,
    /// Also durable across power loss (synchronous=FULL; slower).
    Full,
}

/// `--sandbox`: whether steps run under the write sandbox (docs/SECURITY.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SandboxMode {
    /// Tools and acceptance tests may write only to their worktree, temporary directory,
    /// the git parts a commit needs and declared `writable_paths` (Linux Landlock).
    On,
    /// No write sandbox for any step of the run.
    None,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum PlanFormat {
    Text,
    Json,
    Dot,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run workstreams: plan the DAG, execute steps in parallel worktrees, merge results.
    Run(RunArgs),
    /// Continue an interrupted or crashed run (default: the newest unfinished one).
    Resume(ResumeArgs),
    /// Show a run's steps (default: the newest run).
    Status {
        /// Run id.
        run: Option<String>,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        repo: RepoArgs,
    },
    /// List recorded runs, newest first.
    Runs {
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        repo: RepoArgs,
    },
    /// Show the plan: steps, dependencies, waves, critical path.
    Plan {
        /// Workstream files or directories.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        #[arg(long, value_enum, default_value = "text")]
        format: PlanFormat,
        #[command(flatten)]
        repo: RepoArgs,
    },
    /// Check workstream files against the schema and the semantic rules.
    Validate {
        /// Workstream files or directories.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        repo: RepoArgs,
    },
    /// Print the logs of a step's attempt (default: its last attempt).
    Logs {
        run: String,
        step: String,
        #[arg(long)]
        attempt: Option<u32>,
        /// Print the log paths instead of their contents.
        #[arg(long)]
        paths: bool,
        #[command(flatten)]
        repo: RepoArgs,
    },
    /// List tool profiles, whether each command is installed, and its version.
    Tools {
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        repo: RepoArgs,
    },
    /// Classified errors of a run's steps, with occurrence counts (default: the newest run).
    Errors {
        run: Option<String>,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        repo: RepoArgs,
    },
    /// Per-tool circuit breakers (closed / open / half-open).
    Breakers {
        /// Close a tool's breaker again.
        #[arg(long, value_name = "TOOL")]
        reset: Option<String>,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        repo: RepoArgs,
    },
    /// Error plugins, in the order they are consulted.
    Plugins {
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        repo: RepoArgs,
    },
    /// Run the error engine on a saved log (to check plugin rules).
    Diagnose {
        #[arg(long, value_name = "FILE")]
        log: PathBuf,
        /// Tool that printed the log (aider, codex, claude, or a profile name).
        #[arg(long, value_name = "NAME")]
        tool: Option<String>,
        /// Exit status the tool ended with.
        #[arg(long, default_value_t = 1, allow_negative_numbers = true)]
        exit_code: i32,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        repo: RepoArgs,
    },
    /// OpenSpec: validate, archive, list, show, index and resolve specs and change proposals.
    Spec(crate::commands::spec::SpecArgs),
    /// Remove what runs left behind: worktrees, step branches, logs (history is kept).
    Clean {
        /// Run id (default: every run not driven by a live process).
        run: Option<String>,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        repo: RepoArgs,
    },
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Workstream files or directories.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    #[command(flatten)]
    pub repo: RepoArgs,
    /// Steps running at once (default: available parallelism).
    #[arg(short, long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub jobs: Option<u32>,
    /// Commit to start from.
    #[arg(long, value_name = "REF", default_value = "HEAD")]
    pub base: String,
    /// Run id (default: generated, sortable); the result branch is pipeline/<run-id>.
    #[arg(long, value_name = "ID")]
    pub run_id: Option<String>,
    /// Validate and plan only; run nothing, record nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// If these workstreams have an unfinished run, continue it.
    #[arg(long, conflicts_with = "new")]
    pub resume: bool,
    /// Start a new run even if these workstreams have an unfinished run.
    #[arg(long)]
    pub new: bool,
    #[arg(long, value_enum, default_value = "normal")]
    pub durability: Durability,
    /// Default timeout of an acceptance test, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 600)]
    pub test_timeout: u64,
    /// Start from a commit of the working tree's uncommitted changes (tracked and
    /// untracked non-ignored files) on top of HEAD, made without touching the branch,
    /// index or files.
    #[arg(long, conflicts_with = "base")]
    pub include_uncommitted: bool,
    /// `none` turns the write sandbox off for every step of the run.
    #[arg(long, value_enum, default_value = "on")]
    pub sandbox: SandboxMode,
    #[command(flatten)]
    pub report: ReportArgs,
}

#[derive(Debug, Args)]
pub struct ResumeArgs {
    /// Run id (default: the newest unfinished run).
    pub run: Option<String>,
    #[command(flatten)]
    pub repo: RepoArgs,
    #[arg(short, long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub jobs: Option<u32>,
    #[arg(long, value_enum, default_value = "normal")]
    pub durability: Durability,
    #[arg(long, value_name = "SECONDS", default_value_t = 600)]
    pub test_timeout: u64,
    /// `none` turns the write sandbox off for every step of the run.
    #[arg(long, value_enum, default_value = "on")]
    pub sandbox: SandboxMode,
    #[command(flatten)]
    pub report: ReportArgs,
}
