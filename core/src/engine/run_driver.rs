//! Starting, resuming and finishing runs.
//!
//! `run`: open the repository, load the tool registry and the workstreams, plan, then
//! either create a run (state first: the run and all its steps are recorded before any
//! step starts) or, when the same workstreams have an unfinished run, refuse / resume /
//! start anew as asked. `resume`: take the run's recorded workstream paths and base
//! commit, reload and re-plan, and schedule again with what the database knows. Both hold
//! the run's lock for as long as they drive it, so a second process is refused.
//!
//! Finishing: the result branch `pipeline/<run>` is set to the merge of every completed
//! step's result commit, and the run's status recorded.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use pipeline_adapters::{ToolRegistry, WebhookSettings};
use tokio_util::sync::CancellationToken;

use super::merge_conflict::{conflict_authors, conflict_text};
use super::run_context::RunContext;
use super::run_journal::RunJournal;
use super::run_secrets::known_secrets;
use super::scheduler::{Final, PriorStep, Schedule, schedule};
use super::scope_overlap::check_scope_overlap;
use super::spec_references::resolve_spec_references;
use super::{
    EngineError, Reporter, RunOptions, UnfinishedPolicy, Workspace, check_run_id, generate_run_id,
};
use super::{RecoveryConfig, plugin_dirs};
use crate::git::{
    GitError, Repository, WorktreePool, blocking, snapshot_uncommitted, uncommitted_paths,
};
use crate::model::{LoadOptions, WorkstreamSet, load_workstreams};
use crate::planning::Plan;
use crate::state::{
    Change, Event, RunLock, RunRecord, RunStatus, StateStore, StepStatus, Subscriptions,
    subscribable_kinds,
};

/// What a finished (or interrupted) run amounts to.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RunSummary {
    pub run_id: String,
    pub status: RunStatus,
    /// `pipeline/<run>`, when at least one step completed.
    pub result_branch: Option<String>,
    pub result_commit: Option<String>,
    pub base_commit: String,
    pub repo: PathBuf,
    pub completed: usize,
    pub failed: usize,
    pub skipped: usize,
    pub interrupted: usize,
    pub not_run: usize,
    pub duration_ms: u64,
    /// A problem building the result branch (e.g. two steps' results conflict).
    pub result_error: Option<String>,
}

/// A loaded and planned set of workstreams, ready to run or print.
pub struct PreparedRun {
    /// Resolved `specs` references per step (prompt text).
    pub spec_texts: HashMap<crate::model::StepId, String>,
    pub repo: Repository,
    pub workspace: Workspace,
    pub registry: ToolRegistry,
    /// Model prices: `config/prices.yaml` overlaid by `prices:` of `.pipeline/config.yaml`.
    pub prices: pipeline_adapters::PriceTable,
    pub errors: RecoveryConfig,
    pub set: WorkstreamSet,
    pub plan: Plan,
    /// Canonical workstream paths as recorded in the state database.
    pub workstream_key: String,
    /// Secret values redacted from every stream of the run, longest first
    /// ([`super::run_secrets`]); webhook signing secrets included.
    pub secrets: Vec<String>,
    /// Webhook and notify endpoints of `.pipeline/config.yaml`: the run's events they
    /// want get outbox rows (docs/WEBHOOKS.md).
    pub subscriptions: Subscriptions,
}

/// Opens the repository (given or discovered from the current directory) and its tool
/// registry. Errors: not a git repository, a broken `.pipeline/config.yaml`.
pub fn open_repository(
    repo: Option<&Path>,
    db: Option<&Path>,
) -> Result<(Repository, Workspace, ToolRegistry), EngineError> {
    let start = match repo {
        Some(p) => p.to_path_buf(),
        None => super::repository_root::current_dir()?,
    };
    let repo = Repository::open(&start)?;
    let workspace = Workspace::new(repo.workdir(), db);
    let config = workspace.state_dir.join("config.yaml");
    let env: Vec<(String, String)> = std::env::vars()
        .filter(|(k, _)| k.starts_with("PIPELINE_TOOL_"))
        .collect();
    let registry = ToolRegistry::load(config.exists().then_some(config.as_path()), &env)
        .map_err(EngineError::Config)?;
    Ok((repo, workspace, registry))
}

/// Paths with changes a run of `repo` (or of the repository containing the current
/// directory) would not see: uncommitted changes of its working tree and index, and
/// untracked files that are not ignored, relative to the working directory, sorted;
/// `.pipeline/` left out (see [`uncommitted_paths`]). For the warning of `pipeline run`.
///
/// Errors: not a git repository ([`EngineError::Git`]), a status that cannot be read.
pub fn uncommitted_changes(repo: Option<&Path>) -> Result<Vec<String>, EngineError> {
    let start = match repo {
        Some(p) => p.to_path_buf(),
        None => super::repository_root::current_dir()?,
    };
    Ok(uncommitted_paths(&Repository::open(&start)?)?)
}

/// Loads and plans `paths` for a run in `options.repo`.
pub fn prepare(paths: &[PathBuf], options: &RunOptions) -> Result<PreparedRun, EngineError> {
    let (repo, workspace, registry) =
        open_repository(options.repo.as_deref(), options.db.as_deref())?;
    let set = load_workstreams(paths, &LoadOptions { catalog: &registry })
        .map_err(EngineError::Invalid)?;
    let plan = Plan::build(&set)?;
    check_scope_overlap(&set, &plan, &workspace.state_dir.join("config.yaml"))?;
    // `cache.remote` is read where the step cache needs it; a bad value stops the run here.
    pipeline_adapters::CacheSettings::load(&workspace.state_dir.join("config.yaml"))
        .map_err(EngineError::Config)?;
    let workstream_key = workstream_key(paths);
    let errors = RecoveryConfig::new(&registry, &plugin_dirs(&workspace.repo_root))?;
    let spec_texts =
        resolve_spec_references(&set, &workspace.repo_root).map_err(EngineError::Invalid)?;
    // Computed once per start or resume: the environment and profiles of this process.
    let mut secrets = known_secrets(&workspace.state_dir, &registry, Some(&set))?.values();
    let (subscriptions, signing_secrets) = webhook_subscriptions(&workspace)?;
    add_secrets(&mut secrets, signing_secrets);
    // `copy_into_worktree` files (e.g. `.env`): their contents are secrets; a missing one
    // is an input error now rather than a failed step later.
    add_secrets(
        &mut secrets,
        super::worktree_setup::copied_secrets(&workspace.repo_root, &set)?,
    );
    let prices = pipeline_adapters::PriceTable::load(&workspace.state_dir.join("config.yaml"))?;
    Ok(PreparedRun {
        spec_texts,
        repo,
        workspace,
        registry,
        prices,
        errors,
        set,
        plan,
        workstream_key,
        secrets,
        subscriptions,
    })
}

/// The webhook and notify subscriptions of the workspace's `.pipeline/config.yaml` and
/// the webhooks' signing secrets. A run refuses to start when a secret is missing:
/// deliveries it would record could never be signed.
///
/// Errors: [`EngineError::Config`] for a bad section or a missing secret variable.
fn webhook_subscriptions(
    workspace: &Workspace,
) -> Result<(Subscriptions, Vec<String>), EngineError> {
    let settings = WebhookSettings::load(
        &workspace.state_dir.join("config.yaml"),
        &subscribable_kinds(),
    )?;
    let secrets = settings.signing_secrets(|name| std::env::var(name).ok())?;
    Ok((Subscriptions::from_settings(&settings), secrets))
}

/// Adds `more` secret values (those long enough to redact) to `secrets`, keeping them
/// longest first and without duplicates.
fn add_secrets(secrets: &mut Vec<String>, more: Vec<String>) {
    let before = secrets.len();
    secrets.extend(
        more.into_iter()
            .filter(|s| s.len() >= super::MIN_SECRET_BYTES),
    );
    if secrets.len() != before {
        secrets.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        secrets.dedup();
    }
}

/// Loads and plans `paths` without running anything (`plan`, `validate`). Tool profiles
/// come from the repository containing `repo` (or the current directory) when there is
/// one, else from the built-in defaults only, so files can be checked anywhere.
pub fn load_and_plan(
    paths: &[PathBuf],
    repo: Option<&Path>,
) -> Result<(WorkstreamSet, Plan), EngineError> {
    let env: Vec<(String, String)> = std::env::vars()
        .filter(|(k, _)| k.starts_with("PIPELINE_TOOL_"))
        .collect();
    let root = super::repository_root_or_current_dir(repo)?;
    let config = root.join(".pipeline/config.yaml");
    let registry = ToolRegistry::load(config.is_file().then_some(config.as_path()), &env)
        .map_err(EngineError::Config)?;
    // A bad `secrets:` section is an input error at validate time too.
    pipeline_adapters::SecretSettings::load(&config)?;
    // So are bad `webhooks:`/`notify:` sections (secrets are only needed to run).
    WebhookSettings::load(&config, &subscribable_kinds())?;
    // And a bad `prices:` section.
    pipeline_adapters::PriceTable::load(&config)?;
    // And bad `engine:`/`temporal:` keys (used by `run --engine temporal` and `worker`).
    pipeline_adapters::EngineSettings::load(&config)?;
    // Broken plugin manifests and tool error settings are input errors at validate time.
    RecoveryConfig::new(&registry, &plugin_dirs(&root))?;
    let set = load_workstreams(paths, &LoadOptions { catalog: &registry })
        .map_err(EngineError::Invalid)?;
    resolve_spec_references(&set, &root).map_err(EngineError::Invalid)?;
    let plan = Plan::build(&set)?;
    check_scope_overlap(&set, &plan, &config)?;
    Ok((set, plan))
}

/// The canonical form of the given paths, as recorded on the run (one per line).
fn workstream_key(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| {
            std::fs::canonicalize(p)
                .unwrap_or_else(|_| p.clone())
                .to_string_lossy()
                .into_owned()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `pipeline run`: runs the workstreams of `paths` (see the module docs). Returns the
/// summary once every step is final or the run was interrupted through `cancel`.
pub async fn run_workstreams(
    paths: &[PathBuf],
    options: RunOptions,
    reporter: Arc<dyn Reporter>,
    cancel: CancellationToken,
) -> Result<RunSummary, EngineError> {
    // Before any repository of the run is opened (libgit2 reads it at open).
    crate::git::set_durable_writes(options.durability.fsyncs_git());
    let prepared = prepare(paths, &options)?;
    start_prepared(prepared, options, reporter, cancel).await
}

/// The rest of [`run_workstreams`] once `prepared` is loaded and planned: the unfinished
/// run policy, the run's records, driving. Also the entry of `pipeline step exec`
/// ([`super::step_exec`]), which prepares a set reduced to one step.
pub(super) async fn start_prepared(
    prepared: PreparedRun,
    options: RunOptions,
    reporter: Arc<dyn Reporter>,
    cancel: CancellationToken,
) -> Result<RunSummary, EngineError> {
    let state = StateStore::open(&prepared.workspace.db_path, options.durability)?;
    if let Some(unfinished) = state.latest_unfinished_run(&prepared.workstream_key)? {
        match options.unfinished {
            UnfinishedPolicy::Refuse => {
                return Err(EngineError::UnfinishedRun {
                    run_id: unfinished.run_id,
                    status: unfinished.status.to_string(),
                    started_at: unfinished.started_at,
                });
            }
            UnfinishedPolicy::Resume => {
                return resume_prepared(prepared, state, unfinished, options, reporter, cancel)
                    .await;
            }
            UnfinishedPolicy::New => {}
        }
    }

    let run_id = match &options.run_id {
        Some(id) => {
            check_run_id(id).map_err(EngineError::Input)?;
            id.clone()
        }
        None => generate_run_id(),
    };
    let base = if options.include_uncommitted {
        let repo = prepared.repo.clone();
        blocking(move || snapshot_uncommitted(&repo)).await?
    } else {
        let base_rev = options.base.clone().unwrap_or_else(|| "HEAD".into());
        prepared.repo.resolve_commit(&base_rev)?
    };
    prepared.repo.ensure_excluded(".pipeline/")?;
    let lock = RunLock::acquire(&prepared.workspace.locks_dir(), &run_id)?;
    let journal = RunJournal::new(
        state.clone(),
        &run_id,
        reporter,
        cancel.clone(),
        &prepared.secrets,
    )
    .with_subscriptions(prepared.subscriptions.clone());
    let changes = vec![Change::Event(Event::RunStarted {
        workstreams: prepared.workstream_key.clone(),
        repo: prepared.workspace.repo_root.to_string_lossy().into_owned(),
        base_commit: base.to_string(),
        result_branch: format!("pipeline/{run_id}"),
        steps: prepared.set.steps.len(),
        jobs: options.jobs,
        plan_hash: prepared.set.plan_hash(),
        resumed: false,
        pid: std::process::id(),
        budget_usd: options.budget.and_then(|b| b.usd),
        budget_tokens: options.budget.and_then(|b| b.tokens),
        engine: None,
    })];
    record_in_chunks(
        &journal,
        changes,
        step_added_events(&prepared.set, &prepared.plan, |_| true),
    )?;
    drive(
        prepared,
        state,
        journal,
        lock,
        run_id,
        base,
        HashMap::new(),
        options,
        cancel,
    )
    .await
}

/// Records `changes` before the run is being driven: a failure is the run's error.
fn record_or_fail(journal: &RunJournal, changes: Vec<Change<'_>>) -> Result<(), EngineError> {
    match journal.record_changes(changes) {
        Ok(()) => Ok(()),
        Err(e) => Err(journal
            .take_failure()
            .map(EngineError::State)
            .unwrap_or_else(|| EngineError::Internal(e.to_string()))),
    }
}

/// `pipeline resume [RUN]`: continues the run `run_id` (which run `pipeline resume`
/// without an id means is chosen by `queries::resume_target`).
///
/// # Errors
/// [`EngineError::UnknownRun`] when the database has no such run, and the errors of
/// preparing and driving a run.
pub async fn resume_run(
    run_id: &str,
    options: RunOptions,
    reporter: Arc<dyn Reporter>,
    cancel: CancellationToken,
) -> Result<RunSummary, EngineError> {
    crate::git::set_durable_writes(options.durability.fsyncs_git());
    let (repo, workspace, _) = open_repository(options.repo.as_deref(), options.db.as_deref())?;
    let state = StateStore::open(&workspace.db_path, options.durability)?;
    let record = state
        .run(run_id)?
        .ok_or_else(|| EngineError::UnknownRun(run_id.to_string()))?;
    drop(repo);
    // A run submitted with `--engine temporal` runs on its workers: this process must not
    // run its steps (the CLI's `resume` attaches to the workflow instead).
    if let Some(engine) = remote_engine_of(&state, run_id)? {
        return Err(EngineError::Input(format!(
            "run {run_id} runs on {} (workflow {} on {}): it cannot be resumed in this \
             process\n  hint: `pipeline resume {run_id}` follows it to its end",
            engine.kind, engine.workflow_id, engine.address
        )));
    }
    let paths: Vec<PathBuf> = record.workstream_path.lines().map(PathBuf::from).collect();
    let mut opts = options.clone();
    opts.repo = Some(PathBuf::from(&record.repo_path));
    let prepared = prepare(&paths, &opts)?;
    resume_prepared(prepared, state, record, opts, reporter, cancel).await
}

/// The remote engine (a Temporal workflow) run `run_id` was submitted to, from its first
/// `run_started`; `None` for a run driven by a local process.
///
/// Errors: [`EngineError::State`] when the journal cannot be read.
pub fn remote_engine_of(
    state: &StateStore,
    run_id: &str,
) -> Result<Option<crate::state::RemoteEngine>, EngineError> {
    let started = state.journal_of_kind(run_id, "run_started")?;
    Ok(started.into_iter().find_map(|entry| match entry.event {
        Event::RunStarted { engine, .. } => engine,
        _ => None,
    }))
}

/// The budget the run's last `run_started` recorded (`--budget-usd` / `--budget-tokens`
/// of the process that started or last resumed it), or `None` when it had none.
///
/// Errors: [`EngineError::State`] when the journal cannot be read.
fn recorded_budget(
    state: &StateStore,
    run_id: &str,
) -> Result<Option<crate::model::Budget>, EngineError> {
    let started = state.journal_of_kind(run_id, "run_started")?;
    Ok(started.last().and_then(|entry| match entry.event {
        Event::RunStarted {
            budget_usd,
            budget_tokens,
            ..
        } if budget_usd.is_some() || budget_tokens.is_some() => Some(crate::model::Budget {
            usd: budget_usd,
            tokens: budget_tokens,
        }),
        _ => None,
    }))
}

async fn resume_prepared(
    prepared: PreparedRun,
    state: StateStore,
    record: RunRecord,
    mut options: RunOptions,
    reporter: Arc<dyn Reporter>,
    cancel: CancellationToken,
) -> Result<RunSummary, EngineError> {
    // Without `--budget-usd` / `--budget-tokens`, a resumed run keeps its budget.
    if options.budget.is_none() {
        options.budget = recorded_budget(&state, &record.run_id)?;
    }
    let lock = RunLock::acquire(&prepared.workspace.locks_dir(), &record.run_id)?;
    let base = prepared.repo.resolve_commit(&record.base_commit)?;
    // A driver killed while updating one of this run's branches leaves its lock file.
    prepared.repo.remove_stale_ref_locks(&record.run_id)?;
    let recorded = state.steps(&record.run_id)?;
    let journal = RunJournal::new(
        state.clone(),
        &record.run_id,
        reporter,
        cancel.clone(),
        &prepared.secrets,
    )
    .with_subscriptions(prepared.subscriptions.clone());
    // A run left `running` by a process that died: its journal says so first (the state
    // store settles its live steps to `interrupted` in the same transaction).
    if record.status == RunStatus::Running {
        record_or_fail(
            &journal,
            vec![Change::Event(Event::RunInterrupted {
                reason: "the pipeline process driving the run stopped".into(),
            })],
        )?;
    }
    // Processes of the run's attempts may still run, also ones that left their step's
    // process group and worktree (`setsid`, daemons), and tools of steps that were running
    // when the driving process died: end them all before any worktree of the run is
    // reused or reset.
    let mut killed =
        super::orphans::kill_run_processes(&prepared.workspace.state_dir, &record.run_id);
    for r in recorded.iter().filter(|r| r.status.is_active()) {
        if let Some(wt) = &r.worktree {
            let groups = super::orphans::end_processes_in(Path::new(wt));
            killed.entry(r.step_id.clone()).or_default().extend(groups);
        }
    }
    for (step, groups) in killed.into_iter().filter(|(_, g)| !g.is_empty()) {
        let worktree = recorded
            .iter()
            .find(|r| r.step_id == step)
            .and_then(|r| r.worktree.clone())
            .unwrap_or_default();
        record_or_fail(
            &journal,
            vec![Change::Event(Event::OrphansKilled {
                step,
                process_groups: groups.len(),
                worktree,
            })],
        )?;
    }
    let mut prior = HashMap::new();
    for r in &recorded {
        let checkpoint = if matches!(
            r.status,
            StepStatus::Completed | StepStatus::AwaitingApproval
        ) {
            state.checkpoint(&record.run_id, &r.step_id)?
        } else {
            None
        };
        prior.insert(
            r.step_id.clone(),
            PriorStep {
                status: r.status,
                attempts: r.attempts,
                definition_hash: r.definition_hash.clone(),
                checkpoint,
            },
        );
    }
    // Steps no longer in the workstream files leave the run: unfinished ones are
    // cancelled (finished ones keep their record). Their worktrees go when the run ends.
    let planned: std::collections::HashSet<&str> =
        prepared.set.steps.iter().map(|s| s.id.as_str()).collect();
    let mut changes: Vec<Change<'_>> = recorded
        .iter()
        .filter(|r| !r.status.is_terminal() && !planned.contains(r.step_id.as_str()))
        .map(|r| {
            Change::Event(Event::StepCancelled {
                step: r.step_id.clone(),
                reason: REMOVED_STEP.into(),
            })
        })
        .collect();
    changes.push(Change::Event(Event::RunStarted {
        workstreams: record.workstream_path.clone(),
        repo: record.repo_path.clone(),
        base_commit: record.base_commit.clone(),
        result_branch: record.result_branch.clone(),
        steps: prepared.set.steps.len(),
        jobs: options.jobs,
        plan_hash: prepared.set.plan_hash(),
        resumed: true,
        pid: std::process::id(),
        budget_usd: options.budget.and_then(|b| b.usd),
        budget_tokens: options.budget.and_then(|b| b.tokens),
        engine: None,
    }));
    record_in_chunks(
        &journal,
        changes,
        step_added_events(&prepared.set, &prepared.plan, |id| !prior.contains_key(id)),
    )?;
    drive(
        prepared,
        state,
        journal,
        lock,
        record.run_id,
        base,
        prior,
        options,
        cancel,
    )
    .await
}

/// The reason a step that resume no longer finds in the workstream files is cancelled.
const REMOVED_STEP: &str = "removed from the workstream file";

/// How many `step_added` events one transaction records at most when a run starts.
const STEPS_PER_TRANSACTION: usize = 1000;

/// Records `first` (the run's start) with the first `step_added` events, then the rest
/// in transactions of [`STEPS_PER_TRANSACTION`], so that starting a run of 20,000 steps
/// never holds all its events at once. A crash between two of them leaves a run with
/// part of its steps; resume adds the missing ones (the same `step_added` events), so no
/// step is lost. A reader may see the step list grow while the run starts.
fn record_in_chunks(
    journal: &RunJournal,
    mut first: Vec<Change<'_>>,
    events: impl Iterator<Item = Event>,
) -> Result<(), EngineError> {
    let mut events = events.map(Change::Event).peekable();
    first.extend(events.by_ref().take(STEPS_PER_TRANSACTION));
    record_or_fail(journal, first)?;
    while events.peek().is_some() {
        let chunk: Vec<Change<'_>> = events.by_ref().take(STEPS_PER_TRANSACTION).collect();
        record_or_fail(journal, chunk)?;
    }
    Ok(())
}

/// `step_added` for each step of `set` that `wanted` accepts (by id), in plan order.
/// `depends_on` lists every dependency the step waits for in `plan`: the declared ones,
/// then the implicit ones (overlapping scopes), so `status` shows what it waited for.
/// The definition hash covers only the declared ones: an implicit edge changes the
/// step's input commits instead, which resume compares with its checkpoint.
fn step_added_events<'a>(
    set: &'a WorkstreamSet,
    plan: &'a Plan,
    wanted: impl Fn(&str) -> bool + 'a,
) -> impl Iterator<Item = Event> + 'a {
    set.steps
        .iter()
        .enumerate()
        .filter(move |(_, s)| wanted(s.id.as_str()))
        .map(|(i, s)| Event::StepAdded {
            step: s.id.to_string(),
            workstream: s.workstream.clone(),
            definition_hash: s.definition_hash.clone(),
            depends_on: plan.deps[i]
                .iter()
                .map(|&d| set.steps[d].id.to_string())
                .collect(),
        })
}

/// Drives a recorded run to its end: schedules its steps, builds the result branch and
/// records how the run ended. Errors: a journal write failed (the run stays resumable).
#[allow(clippy::too_many_arguments)]
async fn drive(
    prepared: PreparedRun,
    state: StateStore,
    journal: RunJournal,
    lock: RunLock,
    run_id: String,
    base: git2::Oid,
    prior: HashMap<String, PriorStep>,
    options: RunOptions,
    cancel: CancellationToken,
) -> Result<RunSummary, EngineError> {
    let started = Instant::now();
    let repo = Arc::new(prepared.repo);
    let pool = Arc::new(WorktreePool::new((*repo).clone(), &run_id));
    let ctx = Arc::new(RunContext {
        run_id: run_id.clone(),
        base,
        set: prepared.set,
        plan: prepared.plan,
        repo: repo.clone(),
        pool: pool.clone(),
        state: state.clone(),
        limits: super::tool_limits::ToolLimits::new(&prepared.registry),
        registry: prepared.registry,
        prices: prepared.prices,
        errors: prepared.errors,
        spec_texts: prepared.spec_texts,
        workspace: prepared.workspace.clone(),
        options,
        journal,
        cancel,
        secrets: prepared.secrets,
        approvals: super::approvals::ApprovalWatch::new(),
    });
    let mut commits = ctx.repo.commit_check();
    let scheduled = schedule(
        Schedule {
            steps: &ctx.set.steps,
            plan: &ctx.plan,
            base,
            jobs: ctx.options.jobs,
            journal: &ctx.journal,
            cancel: &ctx.cancel,
        },
        ctx.clone(),
        prior,
        &mut |commit| commits.exists(commit),
    )
    .await;
    // A failed journal write stops the run: what was recorded stays, so it resumes.
    if let Some(err) = ctx.journal.take_failure() {
        stop_run(&ctx, format!("a state write failed: {err}"));
        return Err(EngineError::State(err));
    }
    let outcome = match scheduled {
        Ok(outcome) => outcome,
        Err(e) => {
            stop_run(&ctx, format!("the run stopped on an internal error: {e}"));
            return Err(EngineError::Internal(e.to_string()));
        }
    };

    let count = |f: Final| outcome.finals.iter().filter(|&&x| x == f).count();
    let (completed, failed, skipped, interrupted, not_run) = (
        count(Final::Completed),
        count(Final::Failed),
        count(Final::Skipped),
        count(Final::Interrupted),
        count(Final::NotRun),
    );

    // Result branch: merge of every completed step's result. A step whose dependent
    // completed is contained in that dependent's result (which started from a merge of
    // its inputs), so only the results no completed step built on are merged.
    let mut commits: Vec<git2::Oid> = outcome
        .results
        .iter()
        .enumerate()
        .filter(|&(i, _)| {
            !ctx.plan.dependents[i]
                .iter()
                .any(|&d| outcome.results[d].is_some())
        })
        .filter_map(|(_, result)| *result)
        .collect();
    commits.sort();
    commits.dedup();
    let mut result_branch = None;
    let mut result_commit = None;
    let mut result_error = None;
    if !commits.is_empty() {
        let r = repo.clone();
        let branch = format!("pipeline/{run_id}");
        let message = format!("pipeline: result of run {run_id}");
        let b = branch.clone();
        let heads = commits.clone();
        match blocking(move || {
            let merged = r.merge_commits(&commits, &message)?;
            r.set_branch(&b, merged)?;
            Ok(merged)
        })
        .await
        {
            Ok(oid) => {
                result_branch = Some(branch);
                result_commit = Some(oid.to_string());
            }
            Err(GitError::MergeConflict { paths }) => {
                let authors = conflict_authors(&ctx, &heads, &paths).await;
                result_error = Some(conflict_text(
                    "the results of the completed steps conflict when merged",
                    &authors,
                ));
            }
            Err(e) => result_error = Some(format!("cannot build the result branch: {e}")),
        }
    }

    let status = if outcome.cancelled || interrupted > 0 {
        RunStatus::Interrupted
    } else if failed > 0 || skipped > 0 || result_error.is_some() {
        RunStatus::Failed
    } else {
        RunStatus::Completed
    };
    // An interrupted run keeps its steps' worktrees for resume (idle ones go). A run that
    // is over keeps only its failed steps' worktrees, for inspection: every other worktree
    // of the run goes, also those an earlier process of the run left behind.
    let p = pool.clone();
    let removed = if status == RunStatus::Interrupted {
        blocking(move || p.remove_idle()).await
    } else {
        let kept: Vec<String> = outcome
            .finals
            .iter()
            .zip(&ctx.set.steps)
            .filter(|&(&f, _)| f == Final::Failed)
            .flat_map(|(_, step)| {
                // A best-of-N step's worktree is its best failed candidate's.
                let candidates = (1..=step.candidates)
                    .filter(|_| step.candidates > 1)
                    .map(|k| super::candidates::candidate_path(step.id.as_str(), k));
                std::iter::once(step.id.to_string()).chain(candidates)
            })
            .collect();
        blocking(move || {
            let kept: Vec<&str> = kept.iter().map(String::as_str).collect();
            p.remove_unkept(&kept)
        })
        .await
    };
    if let Err(e) = removed {
        tracing::warn!("cannot remove the worktrees of run {run_id}: {e}");
    }
    // Discarded candidates' branches go with a run that is over (docs/CANDIDATES.md).
    if status != RunStatus::Interrupted
        && !ctx.options.keep_candidates
        && let Err(e) = super::candidates::delete_discarded_branches(&ctx).await
    {
        tracing::warn!("cannot delete the discarded candidates' branches of run {run_id}: {e}");
    }
    // Steps' temporary directories: kept for the resume of an interrupted run only.
    let tmp = ctx.workspace.run_tmp_dir(&run_id);
    if status != RunStatus::Interrupted
        && tmp.exists()
        && let Err(e) = std::fs::remove_dir_all(&tmp)
    {
        tracing::warn!("cannot remove {}: {e}", tmp.display());
    }
    let duration_ms = started.elapsed().as_millis() as u64;
    record_or_fail(
        &ctx.journal,
        vec![Change::Event(Event::RunFinished {
            status,
            completed,
            failed,
            skipped,
            interrupted,
            not_run,
            result_branch: result_branch.clone(),
            result_commit: result_commit.clone(),
            result_error: result_error.clone(),
            duration_ms,
        })],
    )?;
    drop(lock);
    Ok(RunSummary {
        run_id,
        status,
        result_branch,
        result_commit,
        base_commit: base.to_string(),
        repo: ctx.workspace.repo_root.clone(),
        completed,
        failed,
        skipped,
        interrupted,
        not_run,
        duration_ms,
        result_error,
    })
}

/// Marks a run whose driving stopped on an error `interrupted`, with `reason`; the state
/// store settles its live steps in the same transaction. Best effort: when this write
/// fails too (the database is still locked), the run stays `running` and the next
/// `resume` records the interruption (the run's lock is free once this process ends).
fn stop_run(ctx: &RunContext, reason: String) {
    match ctx
        .journal
        .record_changes(vec![Change::Event(Event::RunInterrupted { reason })])
    {
        Ok(()) => {}
        Err(_) => {
            // Already reported as the run's error; this second failure adds nothing.
            let _ = ctx.journal.take_failure();
        }
    }
}
