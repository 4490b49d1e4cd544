//! The MCP tools: `validate`, `plan`, `run`, `status`, `logs`, `approve`, `reject`.
//!
//! Each calls what the CLI command of the same name calls and answers with the same
//! document (`validate --json`, `plan --format json`, `status --json`) as structured
//! content, plus its JSON text for clients that read text only. A tool that cannot do
//! its job answers a tool result with `isError: true` and the message the CLI prints
//! (not a protocol error: MCP clients show a tool's error text to the model, which can
//! then fix the call). Only a request the server cannot parse at all (a missing required
//! argument, a wrong type) is a protocol error, `-32602 invalid params`.

use std::path::PathBuf;

use pipeline_core::engine::{
    ApprovalDecision, Verdict, check_run_id, decide_approval, generate_run_id, load_and_plan,
    run_status, step_logs, uncommitted_changes,
};
use pipeline_core::planning::{PlanFormat, render_plan};
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{CallToolResult, ContentBlock};
use rmcp::schemars::JsonSchema;
use rmcp::{tool, tool_router};
use serde::Deserialize;

use super::PipelineMcp;
use super::launch::{RunRequest, start_run};
use super::paths::confine;
use crate::command_error::engine_error_text;
use crate::commands::validate::validation_document;

/// Arguments of `validate`.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
pub struct ValidateParams {
    /// Workstream files or directories, relative to the repository root (absolute paths
    /// must be inside the repository). Default: the repository's `workstreams/`.
    #[serde(default)]
    pub paths: Vec<String>,
    /// Treat notes and warnings as errors (`validate --strict`).
    #[serde(default)]
    pub strict: bool,
}

/// Arguments of `plan`.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
pub struct PlanParams {
    /// Workstream files or directories, relative to the repository root (absolute paths
    /// must be inside the repository). Default: the repository's `workstreams/`.
    #[serde(default)]
    pub paths: Vec<String>,
}

/// Arguments of `run`.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
pub struct RunParams {
    /// Workstream files or directories, relative to the repository root (absolute paths
    /// must be inside the repository). Default: the repository's `workstreams/`.
    #[serde(default)]
    pub paths: Vec<String>,
    /// Steps running at once, 1 to 1024 (default: the machine's available parallelism).
    #[serde(default)]
    pub jobs: Option<u32>,
    /// Commit to start from (default: `HEAD`).
    #[serde(default)]
    pub base: Option<String>,
    /// Run id: 1 to 64 characters of `[A-Za-z0-9._-]` (default: generated, sortable by
    /// start time). The result branch is `pipeline/<run-id>`.
    #[serde(default)]
    pub run_id: Option<String>,
    /// Start from a commit of the working tree's uncommitted changes on top of `HEAD`
    /// (made without touching the branch, index or files) instead of `base`.
    #[serde(default)]
    pub include_uncommitted: bool,
}

/// Arguments of `status`.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
pub struct StatusParams {
    /// Run id, or `latest` (default: the newest run).
    #[serde(default)]
    pub run: Option<String>,
}

/// Arguments of `logs`.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
pub struct LogsParams {
    /// Run id, or `latest`.
    pub run: String,
    /// Step id (`workstream/step`, or the workstream id for a workstream without steps).
    pub step: String,
    /// Attempt number, from 1 (default: the step's last attempt).
    #[serde(default)]
    pub attempt: Option<u32>,
    /// Only the last this many bytes of the text (default: all of it, up to 1 MiB).
    #[serde(default)]
    pub tail: Option<u64>,
}

/// Arguments of `approve` and `reject`.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
pub struct DecisionParams {
    /// Run id, or `latest`.
    pub run: String,
    /// Step id (`workstream/step`) of a step awaiting approval.
    pub step: String,
    /// Why; recorded in the journal. For `reject` it is required: a rejected AI step gets
    /// it as its fix prompt, any other step fails with it as its error.
    #[serde(default)]
    pub comment: Option<String>,
    /// Who decides (default: the user the MCP server runs as).
    #[serde(default)]
    pub by: Option<String>,
}

/// The directory of workstream files used when a request names none (as the CLI's
/// `run`, `plan` and `validate` use it).
const DEFAULT_DIR: &str = "workstreams";

/// How many uncommitted paths the `run` tool's warning names at most (as `pipeline
/// run`'s does).
const UNCOMMITTED_SHOWN: usize = 10;

/// The most log text `logs` returns without `tail`: a larger text is cut to its end.
const LOGS_LIMIT: u64 = 1024 * 1024;

/// A successful tool result carrying `value` as structured content and as JSON text.
fn json_result(value: serde_json::Value) -> CallToolResult {
    CallToolResult::structured(value)
}

/// A tool error with `message` as its text.
fn tool_error(message: impl Into<String>) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(message.into())])
}

#[tool_router(vis = "pub(super)")]
impl PipelineMcp {
    /// `validate`.
    #[tool(
        annotations(
            title = "Validate workstreams",
            read_only_hint = true,
            open_world_hint = false
        ),
        description = "Check workstream files against the schema and the semantic rules, as `pipeline validate --json` does. Returns the validate document: {valid, workstreams, steps, files, diagnostics} or {valid: false, diagnostics} (then isError is true); each diagnostic names its file, JSON pointer and step."
    )]
    async fn validate(&self, Parameters(p): Parameters<ValidateParams>) -> CallToolResult {
        self.blocking(move |s| s.validate_now(&p)).await
    }

    /// `plan`.
    #[tool(
        annotations(
            title = "Plan workstreams",
            read_only_hint = true,
            open_world_hint = false
        ),
        description = "Plan workstream files without running anything, as `pipeline plan --format json` does: steps with their tools and dependencies, edges, waves and the critical path."
    )]
    async fn plan(&self, Parameters(p): Parameters<PlanParams>) -> CallToolResult {
        self.blocking(move |s| s.plan_now(&p)).await
    }

    /// `run`.
    #[tool(
        annotations(
            title = "Start a run",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = true
        ),
        description = "Start a run of workstream files in the repository and return its run id at once; the run goes on in its own process after this session ends. Poll the `status` tool (or read the pipeline://runs/{run_id} resource) until its status is completed or failed; a completed run's result is on the branch pipeline/<run_id>. A second start of workstreams with an unfinished run is refused (resume it with `pipeline resume`)."
    )]
    async fn run(&self, Parameters(p): Parameters<RunParams>) -> CallToolResult {
        self.blocking(move |s| s.run_now(p)).await
    }

    /// `status`.
    #[tool(
        annotations(title = "Run status", read_only_hint = true, open_world_hint = false),
        description = "A run's status, as `pipeline status --json` gives it: status, driver, workstreams, base commit, result branch, and each step's status, attempts, commit and error. Default: the newest run."
    )]
    async fn status(&self, Parameters(p): Parameters<StatusParams>) -> CallToolResult {
        self.blocking(move |s| s.status_now(&p)).await
    }

    /// `logs`.
    #[tool(
        annotations(title = "Step logs", read_only_hint = true, open_world_hint = false),
        description = "The logs of a step's attempt (default: its last), as `pipeline logs` prints them: the tool's output, then each acceptance test's, each after a `==> FILE <==` line. `tail` keeps only the last bytes."
    )]
    async fn logs(&self, Parameters(p): Parameters<LogsParams>) -> CallToolResult {
        self.blocking(move |s| s.logs_now(&p)).await
    }

    /// `approve`.
    #[tool(
        annotations(
            title = "Approve a step",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = false
        ),
        description = "Approve a step awaiting approval (status awaiting_approval): it completes and its dependents start. The decision, who made it and the comment are recorded in the run's journal."
    )]
    async fn approve(&self, Parameters(p): Parameters<DecisionParams>) -> CallToolResult {
        self.blocking(move |s| s.decide_now(&p, Verdict::Approve))
            .await
    }

    /// `reject`.
    #[tool(
        annotations(
            title = "Reject a step",
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = false,
            open_world_hint = false
        ),
        description = "Reject a step awaiting approval, with a comment (required): an AI step with fix attempts left gets the comment as its fix prompt and runs again; any other step fails with the comment as its error and its dependents are skipped."
    )]
    async fn reject(&self, Parameters(p): Parameters<DecisionParams>) -> CallToolResult {
        self.blocking(move |s| s.decide_now(&p, Verdict::Reject))
            .await
    }
}

impl PipelineMcp {
    /// The workstream paths of a request: each confined to the repository and written
    /// relative to its root (the server's current directory), as a user at the root
    /// would type them, so that documents, diagnostics and the runs' recorded
    /// workstreams read as the CLI's do; the repository's `workstreams/` when none is
    /// given.
    fn workstream_paths(&self, given: &[String]) -> Result<Vec<PathBuf>, String> {
        let confined: Vec<PathBuf> = if given.is_empty() {
            let default = self.root.join(DEFAULT_DIR);
            if !default.is_dir() {
                return Err(format!(
                    "error: no workstream paths given and {} does not exist; pass `paths` (files or directories relative to the repository root), or create {DEFAULT_DIR}/ with `pipeline init`",
                    default.display()
                ));
            }
            vec![confine(&self.root, DEFAULT_DIR).map_err(|e| format!("error: {e}"))?]
        } else {
            given
                .iter()
                .map(|p| confine(&self.root, p).map_err(|e| format!("error: {e}")))
                .collect::<Result<_, _>>()?
        };
        Ok(confined
            .into_iter()
            .map(|p| match p.strip_prefix(&self.root) {
                Ok(rel) if rel.as_os_str().is_empty() => PathBuf::from("."),
                Ok(rel) => rel.to_path_buf(),
                Err(_) => p,
            })
            .collect())
    }

    fn validate_now(&self, p: &ValidateParams) -> CallToolResult {
        let paths = match self.workstream_paths(&p.paths) {
            Ok(paths) => paths,
            Err(e) => return tool_error(e),
        };
        match validation_document(&paths, p.strict, &self.repo_args()) {
            Ok(document) if document["valid"] == true => json_result(document),
            Ok(document) => CallToolResult::structured_error(document),
            Err(e) => tool_error(e.text()),
        }
    }

    fn plan_now(&self, p: &PlanParams) -> CallToolResult {
        let paths = match self.workstream_paths(&p.paths) {
            Ok(paths) => paths,
            Err(e) => return tool_error(e),
        };
        let (set, plan) = match load_and_plan(&paths, Some(&self.root)) {
            Ok(loaded) => loaded,
            Err(e) => return tool_error(engine_error_text(&e)),
        };
        let text = render_plan(&set, &plan, PlanFormat::Json);
        match serde_json::from_str(&text) {
            Ok(value) => json_result(value),
            Err(e) => tool_error(format!("error: the plan is not valid JSON: {e}")),
        }
    }

    fn run_now(&self, p: RunParams) -> CallToolResult {
        let paths = match self.workstream_paths(&p.paths) {
            Ok(paths) => paths,
            Err(e) => return tool_error(e),
        };
        if let Some(jobs) = p.jobs
            && !(1..=1024).contains(&jobs)
        {
            return tool_error(format!(
                "error: invalid `jobs` {jobs}: give 1 to 1024 steps running at once"
            ));
        }
        if p.include_uncommitted && p.base.is_some() {
            return tool_error(
                "error: give either `base` or `include_uncommitted`: the run starts from one commit",
            );
        }
        if let Some(base) = &p.base
            && (base.is_empty() || base.starts_with('-'))
        {
            return tool_error(format!(
                "error: invalid `base` `{base}`: give a commit, branch or tag"
            ));
        }
        let run_id = match p.run_id {
            Some(id) => {
                if let Err(e) = check_run_id(&id) {
                    return tool_error(format!("error: {e}"));
                }
                id
            }
            None => generate_run_id(),
        };
        // Invalid files are reported here, with every diagnostic, rather than found in
        // the run's log.
        if let Err(e) = load_and_plan(&paths, Some(&self.root)) {
            return tool_error(engine_error_text(&e));
        }
        // What the CLI warns about: changes the run will not see.
        let uncommitted = if p.include_uncommitted {
            Vec::new()
        } else {
            uncommitted_changes(Some(&self.root)).unwrap_or_default()
        };
        let request = RunRequest {
            paths,
            run_id: run_id.clone(),
            jobs: p.jobs,
            base: p.base,
            include_uncommitted: p.include_uncommitted,
        };
        match start_run(&self.root, self.db.as_deref(), &request) {
            Ok(started) => {
                let status = started
                    .status
                    .as_ref()
                    .and_then(|s| s["status"].as_str())
                    .unwrap_or("starting")
                    .to_string();
                let mut answer = serde_json::json!({
                    "run_id": run_id,
                    "status": status,
                    "result_branch": format!("pipeline/{run_id}"),
                    "log": started.log,
                    "next": format!("poll the `status` tool with run `{run_id}` (or read pipeline://runs/{run_id}) until its status is completed or failed"),
                });
                if !uncommitted.is_empty() {
                    let shown = &uncommitted[..uncommitted.len().min(UNCOMMITTED_SHOWN)];
                    answer["warning"] = serde_json::json!({
                        "warning": "uncommitted_changes",
                        "message": format!(
                            "the repository has {} uncommitted change(s) the run will not see (it starts from a commit); commit them, or pass `include_uncommitted: true` to run on them",
                            uncommitted.len()
                        ),
                        "count": uncommitted.len(),
                        "paths": shown,
                    });
                }
                json_result(answer)
            }
            Err(e) => tool_error(format!("error: {e}")),
        }
    }

    fn status_now(&self, p: &StatusParams) -> CallToolResult {
        match run_status(Some(&self.root), self.db.as_deref(), p.run.as_deref()) {
            Ok(report) => match serde_json::to_value(&report) {
                Ok(value) => json_result(value),
                Err(e) => tool_error(format!("error: cannot render the status: {e}")),
            },
            Err(e) => tool_error(engine_error_text(&e)),
        }
    }

    fn logs_now(&self, p: &LogsParams) -> CallToolResult {
        let logs = match step_logs(
            Some(&self.root),
            self.db.as_deref(),
            &p.run,
            &p.step,
            p.attempt,
        ) {
            Ok(logs) => logs,
            Err(e) => return tool_error(engine_error_text(&e)),
        };
        let mut text = Vec::new();
        for file in std::iter::once(&logs.tool_log).chain(logs.test_logs.iter()) {
            text.extend_from_slice(format!("==> {} <==\n", file.display()).as_bytes());
            match std::fs::read(file) {
                Ok(bytes) => text.extend_from_slice(&bytes),
                Err(e) => {
                    return tool_error(format!("error: cannot read {}: {e}", file.display()));
                }
            }
            text.push(b'\n');
        }
        let keep = p.tail.unwrap_or(LOGS_LIMIT);
        let len = text.len() as u64;
        if len <= keep {
            return CallToolResult::success(vec![ContentBlock::text(
                String::from_utf8_lossy(&text).into_owned(),
            )]);
        }
        let cut = usize::try_from(len - keep).unwrap_or(text.len());
        let mut out = format!(
            "... ({cut} earlier bytes left out; {} has the whole logs)\n",
            match p.tail {
                Some(_) => "a larger `tail`",
                None => "`pipeline logs` in a terminal",
            }
        );
        out.push_str(&String::from_utf8_lossy(&text[cut..]));
        CallToolResult::success(vec![ContentBlock::text(out)])
    }

    fn decide_now(&self, p: &DecisionParams, verdict: Verdict) -> CallToolResult {
        let comment = p
            .comment
            .as_deref()
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(str::to_string);
        if verdict == Verdict::Reject && comment.is_none() {
            return tool_error(
                "error: `reject` needs a `comment`: it is the fix prompt of a rejected AI step, or the error of any other rejected step",
            );
        }
        let by =
            p.by.clone()
                .filter(|b| !b.trim().is_empty())
                .unwrap_or_else(crate::commands::approve::os_user);
        let decision = ApprovalDecision {
            verdict,
            by,
            comment,
        };
        match decide_approval(
            Some(&self.root),
            self.db.as_deref(),
            &p.run,
            &p.step,
            decision,
        ) {
            Ok(recorded) => match serde_json::to_value(&recorded) {
                Ok(value) => json_result(value),
                Err(e) => tool_error(format!("error: cannot render the decision: {e}")),
            },
            Err(e) => tool_error(engine_error_text(&e)),
        }
    }
}
