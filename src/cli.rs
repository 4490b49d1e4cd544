//! Command-line arguments.
//!
//! Flags shared by several commands take their help from one constant each
//! ([`REPO_HELP`], [`DB_HELP`]) so they mean the same everywhere; a unit test at the end
//! walks the whole command tree and fails on an argument or subcommand without a help
//! line, or a shared flag that differs (issue #11, point 6).

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

/// Help of `--repo` on every command (also `pipeline spec`, where the repository is the
/// OpenSpec project root).
pub const REPO_HELP: &str =
    "Repository to work in (default: the one containing the current directory)";

/// Help of `--db` on every command that reads the state database.
pub const DB_HELP: &str = "State database (default: <repo>/.pipeline/state.db)";

/// Where the repository and the state database are.
#[derive(Debug, Clone, Args)]
pub struct RepoArgs {
    /// The repository ([`REPO_HELP`]).
    #[arg(long, value_name = "DIR", help = REPO_HELP)]
    pub repo: Option<PathBuf>,
    /// The state database ([`DB_HELP`]).
    #[arg(long, value_name = "PATH", env = "PIPELINE_DB", help = DB_HELP)]
    pub db: Option<PathBuf>,
}

/// What `pipeline cache` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CacheAction {
    /// Every entry: run, step, key, result commit, where a cached result came from.
    List,
    /// Delete every entry (runs and their results stay).
    Clear,
    /// Entries, keys, hits and misses.
    Stats,
}

/// Where the repository is, for commands that read no state database.
#[derive(Debug, Clone, Args)]
pub struct RepoDirArgs {
    /// The repository ([`REPO_HELP`]).
    #[arg(long, value_name = "DIR", help = REPO_HELP)]
    pub repo: Option<PathBuf>,
}

impl RepoDirArgs {
    /// The same repository, with the default state database, for code that takes
    /// [`RepoArgs`].
    pub fn with_default_db(&self) -> RepoArgs {
        RepoArgs {
            repo: self.repo.clone(),
            db: None,
        }
    }
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
    /// CI mode (automatic when `CI` is set to anything but empty, 0 or false): plain
    /// progress lines; on GitHub Actions, diagnostics as annotations, a log group per
    /// failed step and a job summary in `$GITHUB_STEP_SUMMARY` (docs/CI.md).
    #[arg(long)]
    pub ci: bool,
    /// Write the run's Markdown summary (steps, durations, cost, failures with their
    /// diagnostics) to FILE, replacing it.
    #[arg(long, value_name = "FILE")]
    pub summary: Option<PathBuf>,
}

/// `--durability`: what a recorded state change survives.
/// `pipeline usage --by`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum UsageBy {
    /// One line per step.
    Step,
    /// One line per tool profile.
    Tool,
    /// One line per model, as the tool reported it.
    Model,
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

/// `plan --format`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum PlanFormat {
    /// Waves, dependencies and the critical path, for people.
    Text,
    /// One JSON object: steps, edges, waves, critical path.
    Json,
    /// A Graphviz digraph (`dot -Tsvg`).
    Dot,
}

/// `pipeline schema`: which JSON Schema to print.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SchemaKind {
    /// Workstream files (`$schema` of a workstream file; docs/GETTING_STARTED.md says how).
    Workstream,
    /// Journal entries as `--json` prints them (docs/EVENTS.md).
    Events,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Set up a repository: an example workstream, a commented config, the ignore entry.
    Init(InitArgs),
    /// Run workstreams: plan the DAG, execute steps in parallel worktrees, merge results.
    Run(RunArgs),
    /// Continue an interrupted, crashed or failed run (default: the newest such run).
    Resume(ResumeArgs),
    /// Show a run's steps (default: the newest run).
    Status {
        /// Run id, or `latest` (default: the newest run).
        run: Option<String>,
        /// Print JSON on stdout instead of text.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        repo: RepoArgs,
        #[command(flatten)]
        remote: RemoteRunArgs,
    },
    /// Stop a run: a Temporal run's workflow is cancelled (its running steps stop on
    /// their workers); a local run's driving process gets SIGINT, like Ctrl-C.
    Cancel {
        /// Run id, or `latest`.
        run: String,
        #[command(flatten)]
        repo: RepoArgs,
        #[command(flatten)]
        remote: RemoteRunArgs,
    },
    /// List recorded runs, newest first.
    Runs {
        /// Print JSON on stdout instead of text.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        repo: RepoArgs,
    },
    /// Tokens and cost of a run: totals, by step, tool or model, and the most expensive
    /// steps (default: the newest run; docs/COSTS.md).
    Usage {
        /// Run id, or `latest` (default: the newest run).
        run: Option<String>,
        /// Group attempts by step, tool profile or model.
        #[arg(long, value_enum, default_value = "step")]
        by: UsageBy,
        /// Print JSON on stdout instead of text.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        repo: RepoArgs,
    },
    /// What a step changed (its result against its start commit), or a whole run (its
    /// result branch against its base commit).
    Diff {
        /// Run id, or `latest`.
        run: String,
        /// Step id (`ws/step`, or `ws` for a workstream without steps); default: the run.
        step: Option<String>,
        /// Only the changed files with their added and removed line counts.
        #[arg(long, conflicts_with = "name_only")]
        stat: bool,
        /// Only the changed files' paths.
        #[arg(long)]
        name_only: bool,
        #[command(flatten)]
        repo: RepoArgs,
    },
    /// Show the plan: steps, dependencies, waves, critical path.
    Plan {
        /// Workstream files or directories (default: `workstreams/` of the repository).
        paths: Vec<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value = "text")]
        format: PlanFormat,
        #[command(flatten)]
        repo: RepoDirArgs,
    },
    /// Check workstream files against the schema and the semantic rules.
    Validate {
        /// Workstream files or directories (default: `workstreams/` of the repository).
        paths: Vec<PathBuf>,
        /// Treat notes (fields kept but not interpreted) and warnings as errors.
        #[arg(long)]
        strict: bool,
        /// Print JSON on stdout instead of text.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        repo: RepoDirArgs,
    },
    /// Print the logs of a step's attempt (default: its last attempt).
    Logs {
        /// Run id, or `latest`.
        run: String,
        /// Step id (`ws/step`, or `ws` for a workstream without steps).
        step: String,
        /// Attempt number, from 1 (default: the last attempt).
        #[arg(long, value_name = "N")]
        attempt: Option<u32>,
        /// Print the log paths instead of their contents.
        #[arg(long)]
        paths: bool,
        #[command(flatten)]
        repo: RepoArgs,
        #[command(flatten)]
        remote: RemoteRunArgs,
    },
    /// List tool profiles, whether each command is installed, and its version.
    Tools {
        /// Print JSON on stdout instead of text.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        repo: RepoArgs,
    },
    /// Classified errors of a run's steps, with occurrence counts (default: the newest run).
    Errors {
        /// Run id, or `latest` (default: the newest run).
        run: Option<String>,
        /// Print JSON on stdout instead of text.
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
        /// Print JSON on stdout instead of text.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        repo: RepoArgs,
    },
    /// Error plugins, in the order they are consulted.
    Plugins {
        /// Print JSON on stdout instead of text.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        repo: RepoDirArgs,
    },
    /// Run the error engine on a saved log (to check plugin rules).
    Diagnose {
        /// The saved log file.
        #[arg(long, value_name = "FILE")]
        log: PathBuf,
        /// Tool that printed the log (aider, codex, claude, or a profile name).
        #[arg(long, value_name = "NAME")]
        tool: Option<String>,
        /// Exit status the tool ended with.
        #[arg(long, default_value_t = 1, allow_negative_numbers = true)]
        exit_code: i32,
        /// Print JSON on stdout instead of text.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        repo: RepoDirArgs,
    },
    /// OpenSpec: create a project, validate, archive, list, show, index and resolve specs and change proposals.
    Spec(crate::commands::spec::SpecArgs),
    /// Remove what runs left behind: worktrees, step branches, logs (history is kept).
    Clean {
        /// Run id, or `latest` (default: every run not driven by a live process).
        run: Option<String>,
        /// List what would be removed; remove nothing.
        #[arg(long)]
        dry_run: bool,
        /// Print JSON on stdout instead of text.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        repo: RepoArgs,
    },
    /// Approve a step awaiting approval: it completes and its dependents start.
    Approve(DecisionArgs),
    /// Reject a step awaiting approval: an AI step gets the comment as a fix prompt, any
    /// other step fails with it.
    Reject(DecisionArgs),
    /// Serve the REST API, server-sent events and webhooks (docs/API.md).
    Serve(ServeArgs),
    /// Serve the Model Context Protocol on stdin/stdout, for coding agents (docs/API.md).
    Mcp {
        #[command(flatten)]
        repo: RepoArgs,
    },
    /// The cross-run step cache: list its entries, clear it, or count them (docs/CACHE.md).
    Cache {
        /// What to do.
        #[arg(value_enum, default_value = "list")]
        action: CacheAction,
        /// Print JSON on stdout instead of text.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        repo: RepoArgs,
    },
    /// Why a step ran (no earlier result, or which part of its cache key changed) or which
    /// run its result was taken from.
    Why {
        /// Run id, or `latest`.
        run: String,
        /// Step id (`ws/step`, or `ws` for a workstream without steps).
        step: String,
        /// Print JSON on stdout instead of text.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        repo: RepoArgs,
    },
    /// List webhook and notify deliveries with status, attempts and last error.
    Webhooks {
        /// Only deliveries of this run's events (`latest`: the newest run).
        #[arg(long, value_name = "RUN")]
        run: Option<String>,
        /// Print JSON on stdout instead of text.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        repo: RepoArgs,
    },
    /// Work with one step of a workstream: `pipeline step exec` runs it in the current
    /// checkout (a job of an exported CI workflow; docs/CI.md).
    Step(StepArgs),
    /// Write a CI workflow running the workstreams' DAG as one job per step
    /// (`--format github-actions`; docs/CI.md "Export to GitHub Actions").
    Export(ExportArgs),
    /// Print a JSON Schema: of workstream files (for editors) or of journal entries.
    Schema {
        /// Which schema.
        #[arg(value_enum, default_value = "workstream")]
        kind: SchemaKind,
    },
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    ///
    /// For example `pipeline completions bash >
    /// ~/.local/share/bash-completion/completions/pipeline` (docs/GETTING_STARTED.md).
    Completions {
        /// Shell to complete in.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff), or write one page per command into a directory.
    Man {
        /// Write `pipeline.1`, `pipeline-run.1`, ... into this directory instead.
        #[arg(long, value_name = "DIR")]
        out_dir: Option<PathBuf>,
    },
    /// Run steps of Temporal runs in this clone (docs/TEMPORAL.md): poll a Temporal
    /// cluster until SIGINT/SIGTERM.
    Worker(WorkerArgs),
}

/// `pipeline init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// The git repository to set up ([`REPO_HELP`]).
    #[arg(long, value_name = "DIR", help = REPO_HELP)]
    pub repo: Option<PathBuf>,
}

/// `pipeline run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Workstream files or directories (default: `workstreams/` of the repository).
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
    /// What a recorded state change survives.
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
    /// Approve every step that requires approval without asking (recorded in the journal).
    #[arg(long)]
    pub approve_all: bool,
    /// Run every step, even one whose cache key matches a completed step of an earlier
    /// run (docs/CACHE.md); completed steps still leave their cache entries.
    #[arg(long)]
    pub no_cache: bool,
    /// US dollars the run's attempts may spend (earlier attempts of a resumed run
    /// included): once spent, AI steps not started yet are skipped (docs/COSTS.md).
    #[arg(long, value_name = "USD", value_parser = parse_budget_usd, allow_negative_numbers = true)]
    pub budget_usd: Option<f64>,
    /// Input plus output tokens the run's attempts may spend, likewise.
    #[arg(long, value_name = "N")]
    pub budget_tokens: Option<u64>,
    /// On a cache hit, run the step's acceptance tests on the re-applied result anyway; a
    /// failing test makes it a miss and the step runs (docs/CACHE.md).
    #[arg(long)]
    pub verify_cached: bool,
    /// Keep the branches of discarded candidates of best-of-N steps
    /// (`pipeline-candidates/<run>/<step>/<n>`) when the run ends; by default only the
    /// kept candidates' branches stay (docs/CANDIDATES.md).
    #[arg(long)]
    pub keep_candidates: bool,
    /// Where the steps run: `local` (this machine) or `temporal` (workers of a Temporal
    /// cluster, docs/TEMPORAL.md; needs --temporal or `temporal.address`). Default:
    /// `engine:` of .pipeline/config.yaml, else `local`.
    #[arg(long, value_enum)]
    pub engine: Option<Engine>,
    #[command(flatten)]
    pub temporal: TemporalArgs,
    #[command(flatten)]
    pub report: ReportArgs,
}

/// `--engine`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Engine {
    /// Steps run on this machine.
    Local,
    /// Steps run on the workers of a Temporal cluster (docs/TEMPORAL.md).
    Temporal,
}

/// How to reach a Temporal cluster: flags of `pipeline run --engine temporal`,
/// `pipeline worker` and the commands that look at Temporal runs. Every field is `None`
/// when its flag is not given, so that the command can apply, in order, the flag (or for
/// `--temporal` the variable `PIPELINE_TEMPORAL_ADDRESS`), the `temporal:` section of
/// `.pipeline/config.yaml`, and the built-in default (docs/SCALING.md).
#[derive(Debug, Clone, Default, Args)]
pub struct ConnectArgs {
    /// Temporal frontend address, HOST:PORT or an http(s):// URL [default:
    /// `temporal.address` of .pipeline/config.yaml].
    #[arg(long, value_name = "ADDR", env = "PIPELINE_TEMPORAL_ADDRESS")]
    pub temporal: Option<String>,
    /// Temporal namespace [default: `temporal.namespace`, else `default`].
    #[arg(long, value_name = "NS")]
    pub namespace: Option<String>,
    /// Main task queue the workers poll [default: `temporal.task_queue`, else `pipeline`].
    #[arg(long, value_name = "QUEUE")]
    pub task_queue: Option<String>,
    /// Connect with TLS, trusting this CA certificate (PEM) for the server's certificate.
    #[arg(long, value_name = "FILE")]
    pub tls_ca_cert: Option<PathBuf>,
    /// Client certificate (PEM) for mTLS; needs --tls-client-key.
    #[arg(long, value_name = "FILE")]
    pub tls_client_cert: Option<PathBuf>,
    /// Client private key (PEM) for mTLS; needs --tls-client-cert.
    #[arg(long, value_name = "FILE")]
    pub tls_client_key: Option<PathBuf>,
    /// Name the server's TLS certificate must carry, when not the address's host.
    #[arg(long, value_name = "NAME")]
    pub tls_server_name: Option<String>,
    /// NAME of the environment variable holding a Temporal Cloud API key (never the key
    /// itself); implies TLS.
    #[arg(long, value_name = "NAME")]
    pub api_key_env: Option<String>,
}

/// `pipeline run --engine temporal`'s options.
#[derive(Debug, Args)]
pub struct TemporalArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// Name of the shared git remote the workers use (in this repository) [default:
    /// `temporal.remote`, else `origin`].
    #[arg(long, value_name = "NAME")]
    pub remote: Option<String>,
    /// Seconds without a heartbeat from a step's worker before the step runs again on
    /// another worker [default: `temporal.heartbeat_timeout_sec`, else 10].
    #[arg(long, value_name = "SECONDS",
          value_parser = clap::value_parser!(u64).range(1..=86400))]
    pub heartbeat_timeout: Option<u64>,
}

/// Finding a Temporal run from `status`, `resume`, `cancel` and `logs`
/// (docs/TEMPORAL.md "Runs in the state database"): a run this repository submitted is
/// found through its state database; these options reach one submitted elsewhere, or
/// override where the recorded one is.
#[derive(Debug, Args, Clone, Default)]
pub struct RemoteRunArgs {
    /// The server: `--temporal ADDR` looks a run id not recorded here up on that server
    /// (and records it here when its workflow exists); for a recorded run it overrides
    /// the address it was submitted to. TLS and API key as for `run --engine temporal`.
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// Name of the shared git remote in this repository (default: the run's, else
    /// `temporal.remote`, else `origin`).
    #[arg(long, value_name = "NAME")]
    pub remote: Option<String>,
}

/// `pipeline worker`.
#[derive(Debug, Args)]
pub struct WorkerArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// This worker's clone of the shared repository ([`REPO_HELP`]).
    #[arg(long, value_name = "DIR", help = REPO_HELP)]
    pub repo: Option<PathBuf>,
    /// Steps this worker runs at once (per task queue).
    #[arg(short, long, value_name = "N", default_value_t = 1,
          value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub jobs: u32,
    /// Name of the shared remote in the clone [default: `temporal.remote` of the clone's
    /// .pipeline/config.yaml, else `origin`].
    #[arg(long, value_name = "NAME")]
    pub remote: Option<String>,
    /// A capability this worker has (repeatable): it also runs steps whose `capability`
    /// is this name.
    #[arg(long = "capability", value_name = "C")]
    pub capabilities: Vec<String>,
}

/// `--budget-usd`: a finite number of US dollars, 0 or more.
fn parse_budget_usd(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(usd) if usd.is_finite() && usd >= 0.0 => Ok(usd),
        _ => Err(format!(
            "`{text}` is not a budget in US dollars: give a number of 0 or more, e.g. 2.50"
        )),
    }
}

/// `pipeline step`.
#[derive(Debug, Args)]
pub struct StepArgs {
    /// What to do with the step.
    #[command(subcommand)]
    pub command: StepCommand,
}

/// `pipeline step` subcommands.
#[derive(Debug, Subcommand)]
pub enum StepCommand {
    /// Run one step in the current checkout: fetch its dependencies' results from the
    /// remote, merge them onto HEAD, run the step as `pipeline run` would, push the result.
    ///
    /// The checkout must be clean: it is moved (detached) to the merge of HEAD and the
    /// `--from` branches, which are fetched from `--remote`. The step then runs with the
    /// usual machinery (setup, tool, acceptance tests, scope check, retries, redaction,
    /// cache) and is recorded in the checkout's state database as a run of one step with
    /// the id `--run`. When it completes, its result commit is pushed to
    /// `pipeline-steps/<run>/<step>` on the remote, where the jobs of its dependents fetch
    /// it. Exit codes as for `run`: 0 completed, 1 failed, 2 invalid input (unknown step,
    /// a dependency without --from, a --from branch missing on the remote, a dirty
    /// checkout, conflicting inputs), 3 internal error (also a failed push).
    Exec(StepExecArgs),
}

/// `pipeline step exec`.
#[derive(Debug, Args)]
pub struct StepExecArgs {
    /// The step: `ws/step`, or `ws` for a workstream without steps.
    #[arg(value_name = "WORKSTREAM/STEP")]
    pub step: String,
    /// Workstream file or directory defining the step (repeatable; default: `workstreams/`
    /// of the repository).
    #[arg(long = "file", value_name = "PATH")]
    pub files: Vec<PathBuf>,
    /// A dependency's result branch on the remote, `pipeline-steps/<run>/<dep>`, merged
    /// onto HEAD before the step runs (repeatable; every dependency needs one).
    #[arg(long, value_name = "REF")]
    pub from: Vec<String>,
    /// Run id shared by every job of one workflow run, e.g. `${{ github.run_id }}`
    /// (default: generated); names the pushed branch pipeline-steps/<run>/<step>.
    #[arg(long, value_name = "RUN")]
    pub run: Option<String>,
    /// Git remote to fetch the --from branches from and push the result to.
    #[arg(long, value_name = "NAME", default_value = "origin")]
    pub remote: String,
    /// Do not push the result (it stays on the local branch pipeline-steps/<run>/<step>).
    #[arg(long)]
    pub no_push: bool,
    #[command(flatten)]
    pub repo: RepoArgs,
    /// Default timeout of an acceptance test, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 600)]
    pub test_timeout: u64,
    /// `none` turns the write sandbox off for the step.
    #[arg(long, value_enum, default_value = "on")]
    pub sandbox: SandboxMode,
    /// Run the step even when its cache key matches a completed step of an earlier run
    /// (docs/CACHE.md).
    #[arg(long)]
    pub no_cache: bool,
    /// Approve the step if it requires approval (recorded in the journal): a CI job has
    /// nobody to ask.
    #[arg(long)]
    pub approve_all: bool,
    #[command(flatten)]
    pub report: ReportArgs,
}

/// `pipeline export --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    /// A GitHub Actions workflow: one job per step, `needs:` from the DAG, a final job
    /// merging the results into `pipeline/<run>`.
    GithubActions,
}

/// `pipeline export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// A run id (or `latest`), whose workstreams are exported, or workstream files or
    /// directories (default: `workstreams/` of the repository).
    #[arg(value_name = "RUN_OR_WORKSTREAMS")]
    pub targets: Vec<String>,
    /// What to write.
    #[arg(long, value_enum, default_value = "github-actions")]
    pub format: ExportFormat,
    /// Write the workflow to FILE (e.g. `.github/workflows/pipeline.yml`) instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Git repository the workflow's jobs install pipeline from (`cargo install --git`).
    #[arg(long, value_name = "URL", default_value = env!("CARGO_PKG_REPOSITORY"))]
    pub pipeline_git: String,
    /// Revision (tag, branch or commit) of --pipeline-git the jobs install.
    #[arg(long, value_name = "REV", default_value = concat!("v", env!("CARGO_PKG_VERSION")))]
    pub pipeline_rev: String,
    /// Runner label of every job (`runs-on`).
    #[arg(long, value_name = "LABEL", default_value = "ubuntu-latest")]
    pub runs_on: String,
    #[command(flatten)]
    pub repo: RepoArgs,
}

/// `pipeline approve` and `pipeline reject`.
#[derive(Debug, Args)]
pub struct DecisionArgs {
    /// Run id, or `latest`.
    pub run: String,
    /// Step id (`ws/step`, or `ws` for a workstream without steps).
    pub step: String,
    /// Why: recorded in the journal; for a rejected AI step, the fix prompt (required by
    /// `reject`).
    #[arg(long, value_name = "TEXT")]
    pub comment: Option<String>,
    /// Who decides (default: the OS user).
    #[arg(long, value_name = "NAME")]
    pub by: Option<String>,
    #[command(flatten)]
    pub repo: RepoArgs,
    /// A Temporal run (recorded here, or found with `--temporal`) gets the decision as
    /// its workflow's `decide` signal instead of a write to the local state database.
    #[command(flatten)]
    pub remote: RemoteRunArgs,
}

/// `pipeline serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub repo: RepoArgs,
    /// Address and port to listen on; a non-loopback address requires a token.
    #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:7878")]
    pub bind: std::net::SocketAddr,
    /// File holding the bearer token (at least 32 bytes; default: $PIPELINE_SERVE_TOKEN).
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
}

/// `pipeline resume`.
#[derive(Debug, Args)]
pub struct ResumeArgs {
    /// Run id, or `latest` (default: the newest run that is unfinished or failed).
    pub run: Option<String>,
    #[command(flatten)]
    pub repo: RepoArgs,
    #[command(flatten)]
    pub remote: RemoteRunArgs,
    /// Steps running at once (default: available parallelism).
    #[arg(short, long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub jobs: Option<u32>,
    /// What a recorded state change survives.
    #[arg(long, value_enum, default_value = "normal")]
    pub durability: Durability,
    /// Default timeout of an acceptance test, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 600)]
    pub test_timeout: u64,
    /// `none` turns the write sandbox off for every step of the run.
    #[arg(long, value_enum, default_value = "on")]
    pub sandbox: SandboxMode,
    /// Approve every step that requires approval without asking (recorded in the journal).
    #[arg(long)]
    pub approve_all: bool,
    /// US dollars the run's attempts may spend, those before the resume included: once
    /// spent, AI steps not started yet are skipped (docs/COSTS.md).
    #[arg(long, value_name = "USD", value_parser = parse_budget_usd, allow_negative_numbers = true)]
    pub budget_usd: Option<f64>,
    /// Input plus output tokens the run's attempts may spend, likewise.
    #[arg(long, value_name = "N")]
    pub budget_tokens: Option<u64>,
    /// On a cache hit, run the step's acceptance tests on the re-applied result anyway; a
    /// failing test makes it a miss and the step runs (docs/CACHE.md).
    #[arg(long)]
    pub verify_cached: bool,
    /// Keep the branches of discarded candidates of best-of-N steps
    /// (`pipeline-candidates/<run>/<step>/<n>`) when the run ends; by default only the
    /// kept candidates' branches stay (docs/CANDIDATES.md).
    #[arg(long)]
    pub keep_candidates: bool,
    #[command(flatten)]
    pub report: ReportArgs,
}

#[cfg(test)]
mod tests {
    use clap::{ArgAction, CommandFactory};

    use super::*;

    /// Commands that read the state database, the only ones that may offer `--db`
    /// (space-separated paths from the root command).
    const DB_COMMANDS: &[&str] = &[
        "pipeline run",
        "pipeline resume",
        "pipeline status",
        "pipeline cancel",
        "pipeline runs",
        "pipeline usage",
        "pipeline diff",
        "pipeline cache",
        "pipeline why",
        "pipeline logs",
        "pipeline tools",
        "pipeline errors",
        "pipeline breakers",
        "pipeline clean",
        "pipeline spec index",
        "pipeline spec find",
        "pipeline approve",
        "pipeline reject",
        "pipeline serve",
        "pipeline mcp",
        "pipeline webhooks",
        "pipeline step exec",
        "pipeline export",
    ];

    /// Every problem of `cmd` and its subcommands, each as `<command path>: <what>`.
    fn problems(cmd: &clap::Command, path: &str, out: &mut Vec<String>) {
        for arg in cmd.get_arguments().filter(|a| !a.is_hide_set()) {
            let name = arg
                .get_long()
                .map(|l| format!("--{l}"))
                .unwrap_or_else(|| arg.get_id().to_string());
            let help = arg.get_help().map(ToString::to_string);
            if help.as_deref().is_none_or(|h| h.trim().is_empty()) {
                out.push(format!("{path}: {name} has no help line"));
            }
            let value_names: Vec<String> = arg
                .get_value_names()
                .unwrap_or_default()
                .iter()
                .map(ToString::to_string)
                .collect();
            match arg.get_long() {
                Some("repo") if help.as_deref() != Some(REPO_HELP) || value_names != ["DIR"] => {
                    out.push(format!(
                        "{path}: --repo must be `--repo DIR` with the help {REPO_HELP:?}, has {value_names:?} {help:?}"
                    ));
                }
                Some("db") => {
                    if help.as_deref() != Some(DB_HELP) || value_names != ["PATH"] {
                        out.push(format!(
                            "{path}: --db must be `--db PATH` with the help {DB_HELP:?}, has {value_names:?} {help:?}"
                        ));
                    }
                    if arg.get_env() != Some(std::ffi::OsStr::new("PIPELINE_DB")) {
                        out.push(format!("{path}: --db must read PIPELINE_DB"));
                    }
                    if !DB_COMMANDS.contains(&path) {
                        out.push(format!(
                            "{path}: --db on a command that reads no state database"
                        ));
                    }
                }
                Some("json") if !matches!(arg.get_action(), ArgAction::SetTrue) => {
                    out.push(format!("{path}: --json must be a flag without a value"));
                }
                _ => {}
            }
        }
        for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
            let sub_path = format!("{path} {}", sub.get_name());
            if sub
                .get_about()
                .is_none_or(|a| a.to_string().trim().is_empty())
            {
                out.push(format!("{sub_path}: no help line"));
            }
            problems(sub, &sub_path, out);
        }
    }

    #[test]
    fn every_argument_and_subcommand_has_help_and_shared_flags_agree() {
        let mut cmd = Cli::command();
        // Building propagates global flags (`--verbose`, `spec --repo`) into every
        // subcommand and adds `--help`/`--version`, so they are checked where used.
        cmd.build();
        let mut found = Vec::new();
        problems(&cmd, "pipeline", &mut found);
        assert!(found.is_empty(), "CLI help problems:\n{}", found.join("\n"));
    }

    #[test]
    fn the_walk_sees_spec_subcommands_and_catches_a_flag_without_help() {
        let mut cmd = Cli::command();
        cmd.build();
        let spec = cmd
            .get_subcommands()
            .find(|s| s.get_name() == "spec")
            .map(|s| {
                s.get_subcommands()
                    .map(|s| s.get_name().to_string())
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default();
        assert!(
            spec.contains(&"init".to_string()) && spec.contains(&"find".to_string()),
            "{spec:?}"
        );

        let bad = clap::Command::new("x")
            .arg(
                clap::Arg::new("quiet")
                    .long("quiet")
                    .action(ArgAction::SetTrue),
            )
            .arg(
                clap::Arg::new("repo")
                    .long("repo")
                    .value_name("PATH")
                    .help("Somewhere"),
            )
            .arg(
                clap::Arg::new("db")
                    .long("db")
                    .value_name("PATH")
                    .help(DB_HELP),
            )
            .subcommand(clap::Command::new("undocumented"));
        let mut found = Vec::new();
        problems(&bad, "x", &mut found);
        let text = found.join("\n");
        for expected in [
            "x: --quiet has no help line",
            "x: --repo must be `--repo DIR`",
            "x: --db must read PIPELINE_DB",
            "x: --db on a command that reads no state database",
            "x undocumented: no help line",
        ] {
            assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
        }
    }
}
