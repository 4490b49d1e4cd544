//! A normalised step: what the planner schedules and the executor runs.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use super::StepId;

/// Which tool runs a step.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "value")]
pub enum ToolChoice {
    /// `"command": "..."`: run with `sh -c` in the worktree (built-in tool `shell`).
    Shell(String),
    /// `"tool": "<profile>"`.
    Profile(String),
    /// `"capability": "<capability>"`: the registry picks a profile.
    Capability(String),
    /// Nothing to run: a workstream's own acceptance gate, which only runs tests.
    None,
}

/// Where a step runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Isolation {
    /// Its own git worktree (default).
    Worktree,
    /// In place, in the repository's working directory: for read-only checks. Changes it
    /// makes are not committed.
    None,
}

/// What a step is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StepKind {
    /// A step that runs a tool (a workstream without `steps`, or one of its `steps`).
    Task,
    /// The gate that runs a multi-step workstream's own `acceptance_tests` once, on the
    /// merge of all its steps (DESIGN "Workstream files"). Id `<ws-id>/_acceptance`.
    WorkstreamAcceptance,
}

/// One acceptance test: a shell command run with `sh -c` in the step's worktree after the
/// tool; exit 0 passes.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct AcceptanceTest {
    /// Display name: the given `name`, else the command itself.
    pub name: String,
    pub command: String,
    /// Seconds; `None` uses the run's default acceptance-test timeout.
    pub timeout_sec: Option<f64>,
}

/// A saga-style compensation: a shell command run (with `sh -c`, in the repository) when
/// the step fails permanently, to undo effects outside git.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CompensationAction {
    pub command: String,
    /// Seconds; `None` uses the acceptance-test default.
    pub timeout_sec: Option<f64>,
}

/// One `setup` command of a step (docs/WORKTREES.md "Set-up"): run with `sh -c` in the
/// step's worktree before the tool of each attempt that starts from a clean worktree.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SetupCommand {
    pub command: String,
    /// Seconds; `None` uses the run's acceptance-test timeout.
    pub timeout_sec: Option<f64>,
    /// Worktree-relative files whose contents key the command's cache: with `inputs`, the
    /// command is not run again in a worktree where it already succeeded with the same
    /// contents (and its `outputs` are present). Empty: it runs every time.
    pub inputs: Vec<String>,
    /// Worktree-relative paths the command produces (e.g. `node_modules`): kept across
    /// the step's own worktree resets (retries), and never staged or committed.
    pub outputs: Vec<String>,
}

/// A step after loading and normalisation. Field values are final: inherited fields
/// (tool, scope, env, timeout from the workstream) are already applied.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Step {
    pub id: StepId,
    pub workstream: String,
    pub kind: StepKind,
    /// File that defines the step (shared by the steps and workstreams of the file) and the
    /// JSON pointer of its object in that file.
    #[serde(serialize_with = "serialize_path")]
    pub file: Arc<Path>,
    pub pointer: String,
    pub description: Option<String>,
    pub tool: ToolChoice,
    /// Tasks in order (a `tasks` string becomes one task).
    pub tasks: Vec<String>,
    /// Free-form prompt text (`prompt`), in addition to the tasks.
    pub prompt: Option<String>,
    /// Direct dependencies, resolved to step ids, sorted and unique.
    pub depends_on: Vec<StepId>,
    /// Paths the step may change: its own `files_scope` + `files_create`, else the
    /// workstream's. Empty means unrestricted.
    pub files_scope: Vec<String>,
    /// Whether `files_scope` was declared on the step itself (or the step is a
    /// workstream's only step). Only declared scopes serialise concurrent steps.
    pub declared_scope: bool,
    pub acceptance_tests: Vec<AcceptanceTest>,
    /// Files the tool should read but not change (`context_files`), repository-relative.
    pub context_files: Vec<String>,
    /// Tool timeout in seconds.
    pub timeout_sec: Option<f64>,
    /// Stall timeout of the tool in seconds (`stall_timeout_sec`): the tool is stopped,
    /// class `stalled`, when it writes no output and its processes use no CPU for this
    /// long. `None` uses the tool profile's (300 s for the AI CLIs, none for commands);
    /// `Some(0.0)` turns stall detection off. Not part of the definition hash: it changes
    /// when a stuck attempt is given up, not what a successful step produces.
    pub stall_timeout_sec: Option<f64>,
    pub env: BTreeMap<String, String>,
    pub isolation: Isolation,
    pub conflict_group: Option<String>,
    /// `parallel_ok: false` makes the step run alone.
    pub parallel_ok: bool,
    /// `spec://` and `change://` references whose text goes into the prompt.
    pub specs: Vec<String>,
    /// OpenSpec task numbers (`1.2`) this step completes.
    pub openspec_tasks: Vec<String>,
    /// Retry settings: the workstream's `retry`/`circuit_breaker` blocks overlaid by the
    /// step's (validated; the tool profile's settings sit below both at run time).
    pub retry: pipeline_error::RetrySettings,
    /// `circuit_breaker.cooldown_seconds`: how long this step's tool breaker stays open
    /// when this step's failure opens it.
    pub breaker_cooldown_sec: Option<f64>,
    /// Run in order when the step fails permanently (saga compensation).
    pub compensation: Vec<CompensationAction>,
    /// How many times failing acceptance tests are fed back to the step's tool as a fix
    /// prompt before giving up or escalating (default 0).
    pub fix_attempts: u32,
    /// Tool profiles to escalate to, in order, when the step's tool gives up.
    pub escalation: Vec<String>,
    /// Whether the step's tool and acceptance tests run under the write sandbox
    /// (`sandbox`, default on; `"none"` turns it off). Not part of the definition hash:
    /// it changes where a step may write, not what a successful step produces.
    pub sandbox: bool,
    /// More paths the sandboxed step may write below (`writable_paths`), as written:
    /// absolute, `~/`-relative (the user's home) or repository-relative. Resolved by the
    /// engine; paths that do not exist when the step starts are left out.
    pub writable_paths: Vec<String>,
    /// `read_only: true`: the step changes no file (a check, a lint, a report written
    /// outside the repository). With `isolation: "none"` and `depends_on` it runs in a
    /// temporary checkout of its dependencies' merged result instead of the main
    /// checkout; a read-only step whose tool changes files fails.
    pub read_only: bool,
    /// `allow_empty: true`: the step may complete although its AI tool changed no file.
    /// Without it such an attempt fails with reason `no_change` (a fix prompt saying
    /// nothing changed while `fix_attempts` last, else permanent). Steps run by a command
    /// may always change nothing. Not part of the definition hash: it decides whether a
    /// result is accepted, not what it is.
    pub allow_empty: bool,
    /// `budget` of the step, else of its workstream: what the step's attempts may spend
    /// together before it fails with class `budget_exceeded` (docs/COSTS.md "Budgets").
    /// Not part of the definition hash: it limits what producing the result may cost,
    /// not the result.
    pub budget: Option<Budget>,
    /// SHA-256 (hex) of the step's normalised definition: what decides, on resume, whether
    /// a completed step is still valid.
    pub definition_hash: String,
    /// Symlinks the step's result may contain although they resolve outside the
    /// repository (`allow_symlinks`: repository-relative paths, directories or globs as in
    /// `files_scope`). Any other such link fails the step (docs/SECURITY.md "Results").
    pub allow_symlinks: Vec<String>,
    /// `approval` of the step, else of its workstream; `None` when neither declares one
    /// (the chosen tool profile's `approval` decides at run time). Not part of the
    /// definition hash: it gates the result, it does not change it.
    pub approval: Option<Approval>,
    /// `inputs`: the repository paths the step reads (paths, directories or globs as in
    /// `files_scope`), which narrow the input tree of its cache key; `None` means the
    /// whole tree (docs/CACHE.md). Not part of the definition hash.
    pub inputs: Option<Vec<String>>,
    /// `cache` (default true): whether a later run may satisfy the step from the result
    /// of an earlier run with the same cache key. `false` for steps with effects outside
    /// the repository. Not part of the definition hash.
    pub cache: bool,
    /// `setup` of the step, else of its workstream (the step's list replaces the
    /// workstream's). Not part of the definition hash.
    pub setup: Vec<SetupCommand>,
    /// `copy_into_worktree` of the step, else of its workstream: repository-relative
    /// untracked files (e.g. `.env`) copied from the main checkout into the step's
    /// worktree before `setup`; excluded from its commit and scope check, their contents
    /// redacted like secrets. Not part of the definition hash.
    pub copy_into_worktree: Vec<String>,
    /// `candidates` of the step, else of its workstream: how many candidate attempts of
    /// an AI step run in parallel, each in its own worktree at the same start commit
    /// (1 to [`MAX_CANDIDATES`]; 1, the default, is a plain attempt). The kept one is
    /// chosen by the rule of docs/CANDIDATES.md "Selection": candidates whose acceptance
    /// tests all pass (and whose scope check and commit succeed); then the highest
    /// `select` score, when a `select` command is set; then fewest failed tests; then
    /// the smallest diff (lines added plus removed against the start commit); then the
    /// lowest candidate number. Not part of the definition hash: it changes how a result
    /// is sought, not what a result must satisfy.
    pub candidates: u32,
    /// `select` of the step, else of its workstream: the command that scores each
    /// passing candidate (docs/CANDIDATES.md "Select command"). Only with `candidates`
    /// of 2 or more. Not part of the definition hash.
    pub select: Option<SelectCommand>,
}

/// The most candidates a step may declare (`candidates`): each one is a full attempt
/// with its own worktree, tool run and tests.
pub const MAX_CANDIDATES: u32 = 8;

/// A step's `select: {command, timeout_sec}` (docs/CANDIDATES.md "Select command"): run
/// with `sh -c` in each passing candidate's worktree after its commit; the last line of
/// its standard output that parses as a number is the candidate's score (higher wins).
/// A candidate whose command exits non-zero, times out or prints no number has no
/// score and ranks after every scored one.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SelectCommand {
    /// The shell command.
    pub command: String,
    /// Seconds; `None` uses the run's acceptance-test timeout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_sec: Option<f64>,
}

/// A step's `approval` (docs/APPROVALS.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Approval {
    /// After its tool, acceptance tests and scope check succeed and its commit exists, the
    /// step waits in `awaiting_approval` until `pipeline approve` or `reject` decides.
    Required,
    /// The step completes as soon as its commit exists.
    None,
}

impl Step {
    /// Whether the step waits for approval when it runs with a tool profile whose
    /// `approval: required` is `tool_requires` (`false` for the `shell` command and a
    /// workstream's acceptance gate): the step's or workstream's own value wins.
    pub fn requires_approval(&self, tool_requires: bool) -> bool {
        match self.approval {
            Some(Approval::Required) => true,
            Some(Approval::None) => false,
            None => tool_requires,
        }
    }
}

/// A shared path serialises as the path.
pub(crate) fn serialize_path<S: serde::Serializer>(
    path: &Arc<Path>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serde::Serialize::serialize(&**path, serializer)
}

impl Step {
    /// The text handed to the step's tool: description, tasks and prompt. Spec references
    /// are resolved and appended by the engine.
    pub fn prompt_text(&self) -> String {
        let mut out = String::new();
        match &self.description {
            Some(d) => out.push_str(&format!("# {}: {}\n", self.id, d)),
            None => out.push_str(&format!("# {}\n", self.id)),
        }
        if !self.tasks.is_empty() {
            out.push_str("\nTasks:\n");
            for t in &self.tasks {
                out.push_str(&format!("- {t}\n"));
            }
        }
        if let Some(p) = &self.prompt {
            out.push('\n');
            out.push_str(p);
            if !p.ends_with('\n') {
                out.push('\n');
            }
        }
        if !self.context_files.is_empty() {
            out.push_str("\nRead for context (do not change):\n");
            for f in &self.context_files {
                out.push_str(&format!("- {f}\n"));
            }
        }
        if !self.files_scope.is_empty() {
            out.push_str("\nFiles in scope (change nothing else):\n");
            for f in &self.files_scope {
                out.push_str(&format!("- {f}\n"));
            }
        }
        out
    }
}

/// A spending limit (`budget: {usd, tokens}` on a step or workstream, `--budget-usd` and
/// `--budget-tokens` on a run). Either part may be absent; the limit is reached when any
/// present part is. Tokens are input (cached included) plus output tokens, as the tools
/// report them; US dollars as in docs/COSTS.md (the tool's cost, else the price table's
/// estimate). Validated by the workstream schema: neither part negative, no other key.
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Budget {
    /// US dollars.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usd: Option<f64>,
    /// Input plus output tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens: Option<u64>,
}
