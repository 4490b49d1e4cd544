//! `pipeline export --format github-actions` and `pipeline step exec` (issue #15, "Export
//! to GitHub Actions"): the exported workflow passes the real actionlint and the
//! SchemaStore workflow schema (scripts/install-workflow-linters.sh), its `needs:` are the
//! DAG, and executing it job by job the way runners would (a fresh clone of a bare remote
//! per job, jobs of one level at once, then the merge job) gives the tree a local
//! `pipeline run` gives. Also the shipped example workflows pass the linters and are not
//! taken for workstreams.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_norway::Value;

use crate::support::{Test, git_in};

/// `<out>/runners` holding `remote.git`, a bare clone of the test repository: the remote
/// the runners' jobs clone, fetch from and push to.
fn runners(t: &Test) -> PathBuf {
    let scratch = t.out.join("runners");
    std::fs::create_dir_all(&scratch).unwrap();
    git_in(
        &scratch,
        &[
            "clone",
            "-q",
            "--bare",
            t.repo.to_str().unwrap(),
            "remote.git",
        ],
    );
    scratch
}

/// The linters' directory, as scripts/install-workflow-linters.sh fills it.
const LINTERS: &str = ".tools/workflow-linters";

/// The run id the test gives `${{ github.run_id }}`.
const RUN: &str = "4242";

/// The value the test gives the secret `DEPLOY_TOKEN` (16 bytes).
const TOKEN: &str = "tok-0123456789ab";

/// actionlint and check-jsonschema, or `None` (skipped, loudly) when not installed;
/// under `CI=true` a missing linter fails the test.
fn linters() -> Option<(PathBuf, PathBuf)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(LINTERS);
    let actionlint = dir.join("actionlint");
    let schema = dir.join("check-jsonschema");
    if actionlint.is_file() && schema.exists() {
        return Some((actionlint, schema));
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "workflow linters not installed in {} (run scripts/install-workflow-linters.sh); \
         required under CI=true",
        dir.display()
    );
    eprintln!(
        "SKIP: workflow linters not installed (run scripts/install-workflow-linters.sh); looked in {}",
        dir.display()
    );
    None
}

/// Runs actionlint and check-jsonschema (SchemaStore's `github-workflows`) on `file`:
/// `Ok(())` when both pass, else their output.
fn lint(linters: &(PathBuf, PathBuf), file: &Path) -> Result<(), String> {
    let mut problems = String::new();
    let al = Command::new(&linters.0)
        .arg(file)
        .output()
        .expect("actionlint runs");
    if !al.status.success() {
        problems.push_str(&format!(
            "actionlint ({}): {}{}",
            al.status,
            String::from_utf8_lossy(&al.stdout),
            String::from_utf8_lossy(&al.stderr)
        ));
    }
    let cj = Command::new(&linters.1)
        .args(["--builtin-schema", "vendor.github-workflows"])
        .arg(file)
        .output()
        .expect("check-jsonschema runs");
    if !cj.status.success() {
        problems.push_str(&format!(
            "check-jsonschema ({}): {}{}",
            cj.status,
            String::from_utf8_lossy(&cj.stdout),
            String::from_utf8_lossy(&cj.stderr)
        ));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

/// A repository holding a DAG in `workstreams/`: workstream `flow` with parallel roots
/// `a` and `b`, `c` joining them through the tool profile `deployer` (which reads the
/// secret `DEPLOY_TOKEN`), `d` after `c`; and workstream `notes` (one step, its own
/// branch of the DAG). The tool profile is in the committed `.pipeline/config.yaml`, as a
/// CI checkout needs it.
fn dag_repo() -> Test {
    let t = Test::new();
    t.commit_file(
        "workstreams/flow.json",
        r#"{"id": "flow", "steps": [
            {"id": "a", "command": "echo from-a > a.txt", "files_scope": ["a.txt"]},
            {"id": "b", "command": "echo from-b > b.txt", "files_scope": ["b.txt"]},
            {"id": "c", "tool": "deployer", "tasks": ["deploy"], "depends_on": ["a", "b"],
             "files_scope": ["c.txt"], "acceptance_tests": ["test -s c.txt"]},
            {"id": "d", "command": "cat a.txt b.txt c.txt > d.txt", "depends_on": ["c"],
             "files_scope": ["d.txt"]}
        ]}"#,
    );
    t.commit_file(
        "workstreams/notes.json",
        r#"{"id": "notes", "command": "mkdir -p notes && echo note > notes/n.txt", "files_scope": ["notes/"]}"#,
    );
    std::fs::create_dir_all(t.repo.join(".pipeline")).expect("mkdir");
    std::fs::write(
        t.repo.join(".pipeline/config.yaml"),
        "tools:\n  deployer:\n    kind: custom\n    command: sh\n    args: [\"-c\", \"printf 'token bytes %s\\\\n' \\\"$(printf %s \\\"$DEPLOY_TOKEN\\\" | wc -c | tr -d ' ')\\\" > c.txt\"]\n    secret_env: [DEPLOY_TOKEN]\n",
    )
    .expect("write config");
    t.git(&["add", "-f", ".pipeline/config.yaml"]);
    t.git(&["commit", "-q", "-m", "tool profiles"]);
    t
}

/// Exports `workstreams/` of `t` to a file outside the repository and parses it.
fn export(t: &Test) -> (PathBuf, Value) {
    let file = t.out.join("pipeline.yml");
    t.pipeline(&[
        "export",
        "--format",
        "github-actions",
        "workstreams",
        "-o",
        file.to_str().unwrap(),
    ])
    .assert_ok();
    let text = std::fs::read_to_string(&file).expect("workflow written");
    let doc: Value = serde_norway::from_str(&text).expect("the workflow is YAML");
    (file, doc)
}

/// `needs:` of every job, as sets of job ids.
fn needs(doc: &Value) -> BTreeMap<String, BTreeSet<String>> {
    doc["jobs"]
        .as_mapping()
        .expect("jobs")
        .iter()
        .map(|(id, job)| {
            let needs = job
                .get("needs")
                .and_then(Value::as_sequence)
                .map(|n| {
                    n.iter()
                        .map(|x| x.as_str().expect("job id").to_string())
                        .collect()
                })
                .unwrap_or_default();
            (id.as_str().expect("job id").to_string(), needs)
        })
        .collect()
}

fn set(ids: &[&str]) -> BTreeSet<String> {
    ids.iter().map(|s| s.to_string()).collect()
}

#[test]
fn exported_dag_passes_actionlint_and_the_workflow_schema_with_the_dags_needs() {
    let Some(linters) = linters() else { return };
    let t = dag_repo();
    let (file, doc) = export(&t);
    if let Err(problems) = lint(&linters, &file) {
        panic!(
            "the exported workflow does not pass:\n{problems}\n{}",
            std::fs::read_to_string(&file).unwrap()
        );
    }
    let expected: BTreeMap<String, BTreeSet<String>> = [
        ("flow-a", set(&[])),
        ("flow-b", set(&[])),
        ("flow-c", set(&["flow-a", "flow-b"])),
        ("flow-d", set(&["flow-c"])),
        ("notes", set(&[])),
        ("pipeline-result", set(&["flow-d", "notes"])),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    assert_eq!(needs(&doc), expected);
    assert_eq!(doc["permissions"]["contents"].as_str(), Some("write"));
    assert_eq!(
        doc["env"]["PIPELINE_RUN"].as_str(),
        Some("${{ github.run_id }}")
    );
    // The secret-using step alone gets the secret, from the repository's secrets.
    let jobs = doc["jobs"].as_mapping().unwrap();
    for (id, job) in jobs {
        let env = job.get("env");
        if id.as_str() == Some("flow-c") {
            assert_eq!(
                env.and_then(|e| e["DEPLOY_TOKEN"].as_str()),
                Some("${{ secrets.DEPLOY_TOKEN }}"),
                "{job:?}"
            );
        } else {
            assert!(env.is_none(), "{id:?} has env {env:?}");
        }
        let checkout = &job["steps"][0];
        assert!(
            checkout["uses"]
                .as_str()
                .is_some_and(|u| u.starts_with("actions/checkout@") && u.len() == 57),
            "checkout not pinned to a commit: {checkout:?}"
        );
        assert_eq!(checkout["with"]["fetch-depth"].as_u64(), Some(0));
    }
    let c_run = exec_line(&doc["jobs"]["flow-c"]).expect("flow-c runs step exec");
    assert!(
        c_run.contains("--from \"pipeline-steps/$PIPELINE_RUN/flow/a\"")
            && c_run.contains("--from \"pipeline-steps/$PIPELINE_RUN/flow/b\"")
            && c_run.contains("--file workstreams"),
        "{c_run}"
    );

    // The linters do fail on a broken workflow: a job needing one that does not exist.
    let broken = t.out.join("broken.yml");
    let text = std::fs::read_to_string(&file)
        .unwrap()
        .replacen("- flow-c\n", "- no-such-job\n", 1);
    std::fs::write(&broken, text).unwrap();
    let problems = lint(&linters, &broken).expect_err("a broken workflow fails");
    assert!(problems.contains("no-such-job"), "{problems}");
}

/// The `run:` of the job's `pipeline step exec` step.
fn exec_line(job: &Value) -> Option<String> {
    job["steps"]
        .as_sequence()?
        .iter()
        .filter_map(|s| s.get("run").and_then(Value::as_str))
        .find(|r| r.starts_with("pipeline step exec "))
        .map(str::to_string)
}

/// `value` with the `${{ }}` expressions a runner would fill in: the run id and secrets.
/// Any other expression fails the test (the runner-free execution would be wrong).
fn substitute(value: &str, secrets: &BTreeMap<&str, &str>) -> String {
    let mut out = value.replace("${{ github.run_id }}", RUN);
    for (name, secret) in secrets {
        out = out.replace(&format!("${{{{ secrets.{name} }}}}"), secret);
    }
    assert!(!out.contains("${{"), "unexpected expression in {value:?}");
    out
}

/// Environment variables of a job as a runner sets them: the workflow's `env`, then the
/// job's, expressions filled in.
fn job_env(doc: &Value, job: &Value) -> Vec<(String, String)> {
    let secrets: BTreeMap<&str, &str> = [("DEPLOY_TOKEN", TOKEN)].into_iter().collect();
    [doc.get("env"), job.get("env")]
        .into_iter()
        .flatten()
        .filter_map(Value::as_mapping)
        .flat_map(|m| m.iter())
        .map(|(k, v)| {
            (
                k.as_str().expect("env name").to_string(),
                substitute(v.as_str().expect("env value"), &secrets),
            )
        })
        .collect()
}

/// The jobs in levels: each level holds the jobs whose `needs` are all in earlier levels.
fn levels(needs: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    let mut done: BTreeSet<String> = BTreeSet::new();
    let mut levels = Vec::new();
    while done.len() < needs.len() {
        let level: Vec<String> = needs
            .iter()
            .filter(|(id, n)| !done.contains(*id) && n.iter().all(|d| done.contains(d)))
            .map(|(id, _)| id.clone())
            .collect();
        assert!(!level.is_empty(), "the needs have a cycle: {needs:?}");
        done.extend(level.iter().cloned());
        levels.push(level);
    }
    levels
}

#[test]
fn exported_workflow_run_job_by_job_in_clones_of_a_bare_remote_gives_the_local_result() {
    let t = dag_repo();
    let (_, doc) = export(&t);
    let base = t.git(&["rev-parse", "HEAD"]);

    // The reference: a local run of the same workstreams at the same base.
    let local = t
        .cmd()
        .args(["run", "workstreams", "--run-id", "local", "--jobs", "4"])
        .env("DEPLOY_TOKEN", TOKEN)
        .output()
        .unwrap();
    assert!(
        local.status.success(),
        "{}",
        String::from_utf8_lossy(&local.stderr)
    );
    let local_tree = t.git(&["rev-parse", "pipeline/local^{tree}"]);
    // Exporting the run instead of its files gives the same jobs.
    let from_run = t.out.join("from-run.yml");
    t.pipeline(&["export", "local", "-o", from_run.to_str().unwrap()])
        .assert_ok();
    let from_run: Value =
        serde_norway::from_str(&std::fs::read_to_string(&from_run).unwrap()).unwrap();
    assert_eq!(from_run["jobs"], doc["jobs"]);

    let scratch = runners(&t);
    let remote = scratch.join("remote.git");
    // A runner has pipeline on its PATH (the workflow's install steps are not run here).
    let bin = assert_cmd::cargo::cargo_bin("pipeline");
    let path = format!(
        "{}:{}",
        bin.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let all_needs = needs(&doc);
    let levels = levels(&all_needs);
    assert_eq!(
        levels,
        vec![
            vec!["flow-a", "flow-b", "notes"],
            vec!["flow-c"],
            vec!["flow-d"],
            vec!["pipeline-result"]
        ]
    );
    for level in &levels {
        // Jobs of one level run at once, each in its own fresh clone.
        let children: Vec<(String, std::process::Child)> = level
            .iter()
            .map(|id| {
                let job = &doc["jobs"][id.as_str()];
                let clone = scratch.join(format!("job-{id}"));
                git_in(
                    &scratch,
                    &[
                        "clone",
                        "-q",
                        remote.to_str().unwrap(),
                        clone.to_str().unwrap(),
                    ],
                );
                // The script the job runs: its step-exec line, or the merge job's script.
                let script = exec_line(job).unwrap_or_else(|| {
                    job["steps"]
                        .as_sequence()
                        .unwrap()
                        .iter()
                        .filter_map(|s| s.get("run").and_then(Value::as_str))
                        .next_back()
                        .expect("the merge job has a script")
                        .to_string()
                });
                let child = Command::new("sh")
                    .args(["-c", &script])
                    .current_dir(&clone)
                    .envs(job_env(&doc, job))
                    .env("PATH", &path)
                    .env("NO_COLOR", "1")
                    .env_remove("RUST_LOG")
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .expect("job starts");
                (id.clone(), child)
            })
            .collect();
        for (id, child) in children {
            let out = child.wait_with_output().expect("job ends");
            let (stdout, stderr) = (
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr),
            );
            assert!(
                out.status.success(),
                "job {id} failed ({}):\n{stdout}\n{stderr}",
                out.status
            );
            assert!(
                !stdout.contains(TOKEN) && !stderr.contains(TOKEN),
                "job {id} printed the secret"
            );
        }
    }

    let remote_git = |args: &[&str]| {
        let mut all = vec!["--git-dir", remote.to_str().unwrap()];
        all.extend_from_slice(args);
        git_in(&scratch, &all)
    };
    // Every step's result was pushed, and the merge job pushed the run's result.
    for step in ["flow/a", "flow/b", "flow/c", "flow/d", "notes"] {
        remote_git(&[
            "rev-parse",
            "--verify",
            &format!("pipeline-steps/{RUN}/{step}"),
        ]);
    }
    let exported_tree = remote_git(&["rev-parse", &format!("pipeline/{RUN}^{{tree}}")]);
    assert_eq!(
        exported_tree, local_tree,
        "the exported workflow's result differs from the local run's"
    );
    // It is a result, not the base: the steps' files are there, the secret reached the
    // tool (its byte count) and is not in the result.
    assert_ne!(
        exported_tree,
        t.git(&["rev-parse", &format!("{base}^{{tree}}")])
    );
    let c = remote_git(&["show", &format!("pipeline/{RUN}:c.txt")]);
    assert_eq!(c, format!("token bytes {}", TOKEN.len()));
    let d = remote_git(&["show", &format!("pipeline/{RUN}:d.txt")]);
    assert_eq!(d, format!("from-a\nfrom-b\ntoken bytes {}", TOKEN.len()));
    let grep = Command::new("git")
        .args(["--git-dir", remote.to_str().unwrap(), "grep", "-q", TOKEN])
        .arg(format!("pipeline/{RUN}"))
        .status()
        .unwrap();
    assert!(!grep.success(), "the secret is in the result");
}

#[test]
fn step_exec_refuses_an_unknown_step_a_missing_dependency_and_a_dirty_checkout() {
    let t = dag_repo();
    let scratch = runners(&t);
    let clone = scratch.join("job");
    git_in(&scratch, &["clone", "-q", "remote.git", "job"]);
    let exec = |args: &[&str]| {
        let mut cmd = t.cmd();
        cmd.current_dir(&clone)
            .args(["step", "exec"])
            .args(args)
            .env("DEPLOY_TOKEN", TOKEN);
        let out = cmd.output().expect("pipeline runs");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };

    let (code, err) = exec(&["flow/e", "--file", "workstreams", "--run", "r1"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("no step `flow/e` in workstreams/flow.json, workstreams/notes.json")
            && err.contains("did you mean `flow/a`"),
        "{err}"
    );

    // flow/c needs flow/a and flow/b: without --from it is refused, naming what to pass.
    let (code, err) = exec(&["flow/c", "--file", "workstreams", "--run", "r1"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("step flow/c depends on results not given with --from")
            && err.contains("--from pipeline-steps/r1/flow/a --from pipeline-steps/r1/flow/b"),
        "{err}"
    );

    // Given, but nobody pushed them: refused before anything runs.
    let (code, err) = exec(&[
        "flow/c",
        "--file",
        "workstreams",
        "--run",
        "r1",
        "--from",
        "pipeline-steps/r1/flow/a",
        "--from",
        "pipeline-steps/r1/flow/b",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("dependency result(s) missing on remote `origin`")
            && err.contains("pipeline-steps/r1/flow/a, pipeline-steps/r1/flow/b"),
        "{err}"
    );

    // After flow/a's job pushed, only flow/b is missing.
    let (code, err) = exec(&["flow/a", "--file", "workstreams", "--run", "r1"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("step result pushed to pipeline-steps/r1/flow/a on remote `origin`"),
        "{err}"
    );
    git_in(
        &scratch,
        &[
            "--git-dir",
            "remote.git",
            "rev-parse",
            "--verify",
            "pipeline-steps/r1/flow/a",
        ],
    );

    // A dirty checkout is refused: the step would overwrite the change.
    let fresh = scratch.join("dirty");
    git_in(&scratch, &["clone", "-q", "remote.git", "dirty"]);
    std::fs::write(fresh.join("README.md"), "edited, not committed\n").unwrap();
    let mut cmd = t.cmd();
    let out = cmd
        .current_dir(&fresh)
        .args([
            "step",
            "exec",
            "notes",
            "--file",
            "workstreams",
            "--run",
            "r2",
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("has 1 uncommitted change(s) (README.md)")
            && err.contains("commit or stash them"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(fresh.join("README.md")).unwrap(),
        "edited, not committed\n"
    );
    assert!(
        Command::new("git")
            .args(["--git-dir", scratch.join("remote.git").to_str().unwrap()])
            .args([
                "rev-parse",
                "--verify",
                "--quiet",
                "pipeline-steps/r2/notes"
            ])
            .status()
            .is_ok_and(|s| !s.success()),
        "a refused step pushed a result"
    );
}

#[test]
fn step_exec_runs_a_failing_step_with_exit_1_and_pushes_nothing() {
    let t = Test::new();
    t.commit_file(
        "workstreams/w.json",
        r#"{"id": "w", "steps": [{"id": "bad", "command": "echo partial > p.txt",
            "acceptance_tests": ["false"], "retry": {"max_attempts": 1}}]}"#,
    );
    let scratch = runners(&t);
    git_in(&scratch, &["clone", "-q", "remote.git", "job"]);
    let out = t
        .cmd()
        .current_dir(scratch.join("job"))
        .args(["step", "exec", "w/bad", "--run", "r9"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        Command::new("git")
            .args(["--git-dir", scratch.join("remote.git").to_str().unwrap()])
            .args([
                "rev-parse",
                "--verify",
                "--quiet",
                "pipeline-steps/r9/w/bad"
            ])
            .status()
            .is_ok_and(|s| !s.success()),
        "a failed step pushed a result"
    );
}

#[test]
fn example_ci_workflows_pass_the_linters_and_are_not_workstreams() {
    let examples = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("workstreams/examples/ci");
    let github = examples.join("github-actions.yml");
    // A directory holding them next to a workstream loads the workstream and skips both
    // files as not workstreams (their `name` and `env` are workstream fields, but they
    // have `jobs`).
    let t = Test::new();
    t.workstream("w.json", r#"{"id": "w", "command": "true"}"#);
    for name in ["github-actions.yml", "gitlab-ci.yml"] {
        std::fs::copy(examples.join(name), t.ws_dir.join(name)).unwrap();
    }
    let r = t
        .pipeline(&["validate", t.ws_dir.to_str().unwrap()])
        .assert_code(0);
    let err = format!("{}{}", r.stdout(), r.stderr());
    assert!(
        err.contains("github-actions.yml: skipped: a CI workflow")
            && err.contains("gitlab-ci.yml: skipped"),
        "{err}"
    );
    assert!(!err.contains("error:"), "{err}");
    let Some(linters) = linters() else { return };
    if let Err(problems) = lint(&linters, &github) {
        panic!("{} does not pass:\n{problems}", github.display());
    }
    // The GitLab example against SchemaStore's GitLab CI schema, shipped alike.
    let gitlab = Command::new(&linters.1)
        .args(["--builtin-schema", "vendor.gitlab-ci"])
        .arg(examples.join("gitlab-ci.yml"))
        .output()
        .unwrap();
    assert!(
        gitlab.status.success(),
        "{}{}",
        String::from_utf8_lossy(&gitlab.stdout),
        String::from_utf8_lossy(&gitlab.stderr)
    );
}

#[test]
fn step_exec_refuses_inputs_that_conflict_with_head() {
    let t = Test::new();
    t.commit_file("shared.txt", "base\n");
    t.commit_file(
        "workstreams/w.json",
        r#"{"id": "w", "steps": [
            {"id": "a", "command": "echo from-a > shared.txt"},
            {"id": "b", "command": "echo b > b.txt", "depends_on": ["a"]}]}"#,
    );
    let scratch = runners(&t);
    git_in(&scratch, &["clone", "-q", "remote.git", "job-a"]);
    let out = t
        .cmd()
        .current_dir(scratch.join("job-a"))
        .args(["step", "exec", "w/a", "--run", "r5"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // b's job checks out a commit that changed the same line a changed.
    git_in(&scratch, &["clone", "-q", "remote.git", "job-b"]);
    let job_b = scratch.join("job-b");
    std::fs::write(job_b.join("shared.txt"), "edited on main\n").unwrap();
    git_in(
        &job_b,
        &[
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@localhost",
            "commit",
            "-q",
            "-am",
            "edit",
        ],
    );
    let head = git_in(&job_b, &["rev-parse", "HEAD"]);
    let out = t
        .cmd()
        .current_dir(&job_b)
        .args([
            "step",
            "exec",
            "w/b",
            "--run",
            "r5",
            "--from",
            "pipeline-steps/r5/w/a",
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("the inputs of step w/b conflict when merged onto HEAD: shared.txt"),
        "{err}"
    );
    // Nothing ran and the checkout is where it was.
    assert_eq!(git_in(&job_b, &["rev-parse", "HEAD"]), head);
    assert!(!job_b.join("b.txt").exists());
}

#[test]
fn step_exec_no_push_keeps_the_result_on_the_local_branch_only() {
    let t = Test::new();
    t.commit_file(
        "workstreams/w.json",
        r#"{"id": "w", "steps": [{"id": "a", "command": "echo a > a.txt"}]}"#,
    );
    let scratch = runners(&t);
    git_in(&scratch, &["clone", "-q", "remote.git", "job"]);
    let job = scratch.join("job");
    let out = t
        .cmd()
        .current_dir(&job)
        .args(["step", "exec", "w/a", "--run", "r3", "--no-push"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("step result on the local branch pipeline-steps/r3/w/a (not pushed)"),
        "{err}"
    );
    assert_eq!(git_in(&job, &["show", "pipeline-steps/r3/w/a:a.txt"]), "a");
    assert!(
        Command::new("git")
            .args(["--git-dir", scratch.join("remote.git").to_str().unwrap()])
            .args(["rev-parse", "--verify", "--quiet", "pipeline-steps/r3/w/a"])
            .status()
            .is_ok_and(|s| !s.success()),
        "--no-push pushed"
    );
    // The run is recorded in the checkout's state database like any run.
    let status = t
        .cmd()
        .current_dir(&job)
        .args(["status", "r3", "--json"])
        .output()
        .unwrap();
    let status: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(status["status"], "completed", "{status}");
    assert_eq!(status["steps"][0]["id"], "w/a", "{status}");
}
