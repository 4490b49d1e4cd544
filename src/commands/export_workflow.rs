//! The GitHub Actions workflow `pipeline export --format github-actions` writes: a typed
//! description of the jobs ([`Workflow`]) rendered to YAML with `serde_norway`, so quoting
//! is the YAML library's job. Layout (docs/CI.md "Export to GitHub Actions"):
//!
//! ```text
//!  env: PIPELINE_RUN = ${{ github.run_id }}, PIPELINE_GIT_URL, PIPELINE_GIT_REV
//!  one job per step ── needs: the jobs of its dependencies (the plan's edges)
//!     checkout (fetch-depth 0) ► restore/install pipeline ► pipeline step exec <step>
//!        --file <workstream files> --run "$PIPELINE_RUN" --from pipeline-steps/$PIPELINE_RUN/<dep>
//!     env: NAME: ${{ secrets.NAME }} for each secret its tool profiles name
//!  pipeline-result ── needs: the jobs of the sinks
//!     merge pipeline-steps/$PIPELINE_RUN/<sink>... into pipeline/$PIPELINE_RUN, push
//! ```
//!
//! Job ids ([`job_ids`]): the step id with every character outside `A-Z a-z 0-9 _ -`
//! replaced by `-`, prefixed `step-` when it does not start with a letter or `_`, and
//! made unique (case-insensitively, as GitHub compares them) with a `-2`, `-3`, ...
//! suffix, in plan order; [`RESULT_JOB`] is reserved for the final job.

use serde_norway::{Mapping, Value};

/// The final job's id.
pub const RESULT_JOB: &str = "pipeline-result";

/// `actions/checkout`, pinned to the commit of its release v4.2.2.
pub const CHECKOUT_ACTION: &str = "actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683";
/// `actions/cache`, pinned to the commit of its release v4.2.3.
pub const CACHE_ACTION: &str = "actions/cache@5a3ec84eff668545956fd18022155c47e93e2684";

/// Git identity of the final job's merge commit.
const MERGE_IDENTITY: &str =
    "-c user.name=pipeline -c user.email=pipeline@users.noreply.github.com";

/// One job of the workflow: one step of the plan.
#[derive(Debug, Clone)]
pub struct StepJob {
    /// The job's id ([`job_ids`]).
    pub job_id: String,
    /// The step's id, `ws/step`.
    pub step: String,
    /// The step ids of its dependencies in the plan (declared and implicit edges).
    pub deps: Vec<String>,
    /// The job ids of those dependencies (its `needs:`).
    pub needs: Vec<String>,
    /// Names of the secrets its tool profiles read (`api_key_env`, `secret_env`), sorted.
    pub secrets: Vec<String>,
}

/// Where the jobs install pipeline from (`cargo install --git URL --rev REV pipeline`).
#[derive(Debug, Clone)]
pub struct Install {
    /// Git repository URL.
    pub git: String,
    /// Tag, branch or commit.
    pub rev: String,
}

/// The whole workflow, ready to render.
#[derive(Debug, Clone)]
pub struct Workflow {
    /// The workflow's `name:`.
    pub name: String,
    /// The command line that produced it, for the header comment.
    pub command: String,
    /// Workstream files or directories, relative to the repository root (`--file`).
    pub files: Vec<String>,
    /// The step jobs, in plan order.
    pub jobs: Vec<StepJob>,
    /// Step ids of the sinks (steps no other step depends on), whose results the final job
    /// merges.
    pub sinks: Vec<String>,
    /// How pipeline is installed.
    pub install: Install,
    /// `runs-on` of every job.
    pub runs_on: String,
}

/// The job id of each step id, in the same order (see the module docs).
pub fn job_ids<'a>(steps: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut taken: std::collections::HashSet<String> =
        std::iter::once(RESULT_JOB.to_string()).collect();
    steps
        .into_iter()
        .map(|step| {
            let mut id: String = step
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                        c
                    } else {
                        '-'
                    }
                })
                .collect();
            if !id.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
                id = format!("step-{id}");
            }
            let mut unique = id.clone();
            let mut n = 2;
            while !taken.insert(unique.to_ascii_lowercase()) {
                unique = format!("{id}-{n}");
                n += 1;
            }
            unique
        })
        .collect()
}

/// `text` as one shell word: as is when it holds only characters no shell treats
/// specially, else in single quotes.
fn shell_word(text: &str) -> String {
    if !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._/-+=:,@".contains(c))
    {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

fn s(text: &str) -> Value {
    Value::String(text.to_string())
}

fn map(entries: Vec<(&str, Value)>) -> Value {
    let mut m = Mapping::new();
    for (k, v) in entries {
        m.insert(s(k), v);
    }
    Value::Mapping(m)
}

fn checkout_step() -> Value {
    map(vec![
        ("name", s("Check out the repository (full history)")),
        ("uses", s(CHECKOUT_ACTION)),
        ("with", map(vec![("fetch-depth", Value::Number(0.into()))])),
    ])
}

/// The one place saying how a job gets pipeline: the binary cached per runner OS and
/// revision, installed with `cargo install` on a miss.
fn install_steps() -> Vec<Value> {
    vec![
        map(vec![
            ("name", s("Restore pipeline")),
            ("id", s("pipeline-bin")),
            ("uses", s(CACHE_ACTION)),
            (
                "with",
                map(vec![
                    ("path", s("~/.cargo/bin/pipeline")),
                    (
                        "key",
                        s("pipeline-${{ runner.os }}-${{ env.PIPELINE_GIT_REV }}"),
                    ),
                ]),
            ),
        ]),
        map(vec![
            ("name", s("Install pipeline")),
            ("if", s("steps.pipeline-bin.outputs.cache-hit != 'true'")),
            (
                "run",
                s(
                    "cargo install --locked --git \"$PIPELINE_GIT_URL\" --rev \"$PIPELINE_GIT_REV\" pipeline",
                ),
            ),
        ]),
    ]
}

/// The `pipeline step exec` command line of `job` (the `run:` of its last step).
pub fn exec_command(workflow: &Workflow, job: &StepJob) -> String {
    let mut cmd = format!("pipeline step exec {}", shell_word(&job.step));
    for f in &workflow.files {
        cmd.push_str(&format!(" --file {}", shell_word(f)));
    }
    cmd.push_str(" --run \"$PIPELINE_RUN\"");
    for dep in &job.deps {
        cmd.push_str(&format!(" --from \"pipeline-steps/$PIPELINE_RUN/{dep}\""));
    }
    cmd
}

/// The final job's script: fetch the sinks' result branches, merge them into
/// `pipeline/$PIPELINE_RUN` (a sink's result contains its dependencies' results), push.
pub fn merge_script(sinks: &[String]) -> String {
    let mut script = String::from("set -eu\n");
    let local = |sink: &str| format!("\"origin/pipeline-steps/$PIPELINE_RUN/{sink}\"");
    script.push_str("git fetch --no-tags origin");
    for sink in sinks {
        script.push_str(&format!(
            " \\\n  \"+refs/heads/pipeline-steps/$PIPELINE_RUN/{sink}:refs/remotes/origin/pipeline-steps/$PIPELINE_RUN/{sink}\""
        ));
    }
    script.push('\n');
    if let Some((first, rest)) = sinks.split_first() {
        script.push_str(&format!(
            "git checkout --quiet -B \"pipeline/$PIPELINE_RUN\" {}\n",
            local(first)
        ));
        if !rest.is_empty() {
            script.push_str(&format!(
                "git {MERGE_IDENTITY} merge --quiet --no-ff --no-edit -m \"pipeline: result of run $PIPELINE_RUN\""
            ));
            for sink in rest {
                script.push_str(&format!(" \\\n  {}", local(sink)));
            }
            script.push('\n');
        }
    }
    script.push_str("git push --force origin \"pipeline/$PIPELINE_RUN\"\n");
    script
}

fn step_job(workflow: &Workflow, job: &StepJob) -> Value {
    let mut entries = vec![("name", s(&job.step))];
    if !job.needs.is_empty() {
        entries.push((
            "needs",
            Value::Sequence(job.needs.iter().map(|n| s(n)).collect()),
        ));
    }
    entries.push(("runs-on", s(&workflow.runs_on)));
    if !job.secrets.is_empty() {
        let env = job
            .secrets
            .iter()
            .map(|name| (s(name), s(&format!("${{{{ secrets.{name} }}}}"))))
            .collect();
        entries.push(("env", Value::Mapping(env)));
    }
    let mut steps = vec![checkout_step()];
    steps.extend(install_steps());
    steps.push(map(vec![
        ("name", s(&format!("Run step {}", job.step))),
        ("run", s(&exec_command(workflow, job))),
    ]));
    entries.push(("steps", Value::Sequence(steps)));
    map(entries)
}

fn result_job(workflow: &Workflow) -> Value {
    let ids: std::collections::HashMap<&str, &str> = workflow
        .jobs
        .iter()
        .map(|j| (j.step.as_str(), j.job_id.as_str()))
        .collect();
    let needs: Vec<Value> = workflow
        .sinks
        .iter()
        .filter_map(|sink| ids.get(sink.as_str()).map(|id| s(id)))
        .collect();
    map(vec![
        ("name", s("Result branch pipeline/<run>")),
        ("needs", Value::Sequence(needs)),
        ("runs-on", s(&workflow.runs_on)),
        (
            "steps",
            Value::Sequence(vec![
                checkout_step(),
                map(vec![
                    (
                        "name",
                        s("Merge the step results into pipeline/<run> and push it"),
                    ),
                    ("run", s(&merge_script(&workflow.sinks))),
                ]),
            ]),
        ),
    ])
}

/// The workflow as YAML text, with a header comment saying how it was made and how to
/// change the pipeline install. Errors: the YAML library failed (a bug).
pub fn render(workflow: &Workflow) -> Result<String, serde_norway::Error> {
    let mut jobs = Mapping::new();
    for job in &workflow.jobs {
        jobs.insert(s(&job.job_id), step_job(workflow, job));
    }
    jobs.insert(s(RESULT_JOB), result_job(workflow));
    let doc = map(vec![
        ("name", s(&workflow.name)),
        (
            "on",
            map(vec![("workflow_dispatch", Value::Mapping(Mapping::new()))]),
        ),
        ("permissions", map(vec![("contents", s("write"))])),
        (
            "concurrency",
            map(vec![
                (
                    "group",
                    s("pipeline-${{ github.workflow }}-${{ github.ref }}"),
                ),
                ("cancel-in-progress", Value::Bool(false)),
            ]),
        ),
        (
            "env",
            map(vec![
                ("PIPELINE_RUN", s("${{ github.run_id }}")),
                ("PIPELINE_GIT_URL", s(&workflow.install.git)),
                ("PIPELINE_GIT_REV", s(&workflow.install.rev)),
            ]),
        ),
        ("jobs", Value::Mapping(jobs)),
    ]);
    let body = serde_norway::to_string(&doc)?;
    Ok(format!(
        "# Generated by `{}`.\n\
         # One job per step (needs: = the DAG); each runs `pipeline step exec` and pushes\n\
         # pipeline-steps/<run>/<step>; the last job merges the results into pipeline/<run>.\n\
         # The run id is the workflow run's id (PIPELINE_RUN), shared by all jobs and by\n\
         # re-runs of failed jobs. pipeline is installed from PIPELINE_GIT_URL at\n\
         # PIPELINE_GIT_REV (change both below, or pass --pipeline-git/--pipeline-rev).\n\
         # See docs/CI.md \"Export to GitHub Actions\".\n{body}",
        workflow.command
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_ids_are_sanitized_unique_and_leave_the_result_job_free() {
        let ids = job_ids([
            "ws/a",
            "ws-a",
            "WS/A",
            "1st/x.y",
            "pipeline-result",
            "w/_acceptance",
        ]);
        assert_eq!(
            ids,
            vec![
                "ws-a",
                "ws-a-2",
                "WS-A-3",
                "step-1st-x-y",
                "pipeline-result-2",
                "w-_acceptance"
            ]
        );
    }

    #[test]
    fn shell_words_quote_only_when_needed() {
        assert_eq!(shell_word("workstreams/a.json"), "workstreams/a.json");
        assert_eq!(shell_word("my dir/it's.json"), r"'my dir/it'\''s.json'");
    }
}
