//! A small fluent helper: a temporary git repository, workstream files outside it, and
//! the real `pipeline` binary run inside it.

use std::path::{Path, PathBuf};
use std::process::{Child, Output, Stdio};

use assert_cmd::Command;
use serde_json::Value;

/// A scratch git repository (one initial commit) plus a directory for workstream files and
/// for side effects steps record outside the repository.
pub struct Test {
    _dir: tempfile::TempDir,
    pub repo: PathBuf,
    /// Outside the repository: workstream files live here.
    pub ws_dir: PathBuf,
    /// Outside the repository: steps write their side effects (time spans, run counts) here.
    pub out: PathBuf,
}

pub fn git_in(dir: &Path, args: &[&str]) -> String {
    let out = std::process::Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim_end().to_string()
}

impl Test {
    pub fn new() -> Test {
        let dir = tempfile::tempdir().expect("tempdir");
        let repo = dir.path().join("repo");
        let ws_dir = dir.path().join("workstreams");
        let out = dir.path().join("out");
        for d in [&repo, &ws_dir, &out] {
            std::fs::create_dir_all(d).expect("mkdir");
        }
        git_in(&repo, &["init", "-q", "-b", "main"]);
        git_in(&repo, &["config", "user.name", "pipeline tests"]);
        git_in(&repo, &["config", "user.email", "tests@localhost"]);
        std::fs::write(repo.join("README.md"), "test repository\n").expect("write");
        git_in(&repo, &["add", "-A"]);
        git_in(&repo, &["commit", "-q", "-m", "initial"]);
        Test {
            _dir: dir,
            repo,
            ws_dir,
            out,
        }
    }

    /// Writes a workstream file (outside the repository) and returns its path.
    pub fn workstream(&self, name: &str, json: &str) -> PathBuf {
        let p = self.ws_dir.join(name);
        std::fs::write(&p, json).expect("write workstream");
        p
    }

    /// Writes a file in the repository and commits it.
    pub fn commit_file(&self, rel: &str, content: &str) {
        let p = self.repo.join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(&p, content).expect("write");
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "-m", &format!("add {rel}")]);
    }

    pub fn git(&self, args: &[&str]) -> String {
        git_in(&self.repo, args)
    }

    /// The `pipeline` binary, run in the repository, without a terminal and outside CI
    /// detection noise.
    pub fn cmd(&self) -> Command {
        let mut c = Command::cargo_bin("pipeline").expect("binary built");
        c.current_dir(&self.repo)
            .env_remove("RUST_LOG")
            .env("NO_COLOR", "1")
            // Steps write their side effects to `out`, outside the repository: the only
            // place outside their sandbox they may write.
            .env("PIPELINE_WRITABLE_PATHS", &self.out);
        c
    }

    pub fn pipeline(&self, args: &[&str]) -> Run {
        let output = self.cmd().args(args).output().expect("pipeline runs");
        Run { output }
    }

    /// `pipeline run <file> --run-id <id> --jobs <jobs>`.
    pub fn run(&self, file: &Path, run_id: &str, jobs: u32) -> Run {
        self.pipeline(&[
            "run",
            file.to_str().unwrap(),
            "--run-id",
            run_id,
            "--jobs",
            &jobs.to_string(),
        ])
    }

    pub fn status(&self, run_id: &str) -> Value {
        let r = self.pipeline(&["status", run_id, "--json"]).assert_code(0);
        serde_json::from_str(&r.stdout()).expect("status --json is JSON")
    }

    /// Status of one step from `pipeline status --json`.
    pub fn step_status(&self, run_id: &str, step: &str) -> Value {
        let status = self.status(run_id);
        status["steps"]
            .as_array()
            .expect("steps")
            .iter()
            .find(|s| s["id"] == step)
            .cloned()
            .unwrap_or_else(|| panic!("no step {step} in {status:#}"))
    }

    /// A path in the side-effect directory, as text for embedding in shell commands.
    pub fn out_path(&self, name: &str) -> String {
        self.out.join(name).to_string_lossy().into_owned()
    }

    /// Lines of a side-effect file (empty if absent).
    pub fn out_lines(&self, name: &str) -> Vec<String> {
        std::fs::read_to_string(self.out.join(name))
            .map(|s| s.lines().map(str::to_string).collect())
            .unwrap_or_default()
    }

    /// Content of `path` on branch `branch`, or None.
    pub fn show(&self, branch: &str, path: &str) -> Option<String> {
        let out = std::process::Command::new("git")
            .args(["show", &format!("{branch}:{path}")])
            .current_dir(&self.repo)
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

/// The output of one `pipeline` invocation.
pub struct Run {
    pub output: Output,
}

impl Run {
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }

    pub fn code(&self) -> i32 {
        self.output.status.code().unwrap_or(-1)
    }

    /// Asserts the exit code, printing both streams when it differs.
    pub fn assert_code(self, code: i32) -> Run {
        assert_eq!(
            self.code(),
            code,
            "unexpected exit code\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.stdout(),
            self.stderr()
        );
        self
    }

    pub fn assert_ok(self) -> Run {
        self.assert_code(0)
    }

    pub fn assert_stderr_contains(self, needle: &str) -> Run {
        assert!(
            self.stderr().contains(needle),
            "stderr lacks {needle:?}:\n{}",
            self.stderr()
        );
        self
    }
}

/// One event of a run's journal (the `events` table), in the order it was appended.
#[derive(Debug)]
pub struct JournalEntry {
    /// The step the event is about, if any.
    pub step: Option<String>,
    pub kind: String,
}

impl Test {
    /// The whole journal of `run`, oldest first.
    pub fn journal(&self, run: &str) -> Vec<JournalEntry> {
        let db = self.repo.join(".pipeline/state.db");
        let c = rusqlite::Connection::open(db).expect("open state db");
        let mut stmt = c
            .prepare("SELECT step_id, kind FROM events WHERE run_id = ?1 ORDER BY id")
            .expect("journal query");
        stmt.query_map([run], |r| {
            Ok(JournalEntry {
                step: r.get(0)?,
                kind: r.get(1)?,
            })
        })
        .expect("journal rows")
        .map(|row| row.expect("journal row"))
        .collect()
    }

    /// Starts `pipeline ARGS` in the repository in the background, its output discarded;
    /// the test waits for it through the state it records.
    pub fn spawn(&self, args: &[&str]) -> Child {
        self.process(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn pipeline")
    }

    /// `pipeline ARGS` as a standard-library command (for tests that hold its pipes or
    /// signal it), set up like [`Test::cmd`]: in the repository, `out` writable.
    pub fn process(&self, args: &[&str]) -> std::process::Command {
        let mut c = std::process::Command::new(assert_cmd::cargo::cargo_bin("pipeline"));
        c.args(args)
            .current_dir(&self.repo)
            .env_remove("RUST_LOG")
            .env("PIPELINE_WRITABLE_PATHS", &self.out);
        c
    }

    /// Polls `pipeline status RUN --json` until `cond` holds and returns that status;
    /// panics naming `what` after [`crate::handshake::LIMIT`].
    pub fn wait_for_status(&self, run: &str, what: &str, cond: impl Fn(&Value) -> bool) -> Value {
        crate::handshake::wait_until(what, || {
            let out = self.cmd().args(["status", run, "--json"]).output().ok()?;
            let status: Value = serde_json::from_slice(&out.stdout).ok()?;
            (out.status.success() && cond(&status)).then_some(status)
        })
    }

    /// Events of `kind` recorded for `step` of `run`, oldest first (read from the state
    /// database directly: what a crash leaves behind is what counts).
    pub fn events(&self, run: &str, step: &str, kind: &str) -> Vec<Value> {
        let db = self.repo.join(".pipeline/state.db");
        let c = rusqlite::Connection::open(db).expect("open state db");
        let mut stmt = c.prepare("SELECT data FROM events WHERE run_id = ?1 AND step_id = ?2 AND kind = ?3 ORDER BY id").unwrap();
        stmt.query_map([run, step, kind], |r| r.get::<_, String>(0))
            .unwrap()
            .map(|t| serde_json::from_str(&t.unwrap()).unwrap())
            .collect()
    }

    /// Writes `.pipeline/config.yaml` of the repository.
    pub fn config(&self, yaml: &str) {
        std::fs::create_dir_all(self.repo.join(".pipeline")).unwrap();
        std::fs::write(self.repo.join(".pipeline/config.yaml"), yaml).unwrap();
    }
}

/// Sends SIGINT (Ctrl-C) to a `pipeline` started with [`Test::spawn`] and returns its
/// exit code once it has ended.
pub fn interrupt(child: &mut Child) -> Option<i32> {
    let sent = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(sent.success(), "SIGINT to {} failed", child.id());
    child.wait().expect("wait for pipeline").code()
}

/// The status (`pending`, `running`, ...) of step `id` in a `pipeline status --json`
/// document, or "" when the step is not there.
pub fn step_state<'a>(status: &'a Value, id: &str) -> &'a str {
    status["steps"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|s| s["id"] == id)
        .and_then(|s| s["status"].as_str())
        .unwrap_or("")
}

/// A pinned CLI the AI adapter tests drive for real: `$PIPELINE_TEST_<TOOL>_BIN`, else
/// `<repo>/<installed>` (where `scripts/install-<tool>.sh` puts it). When it is missing the
/// test is skipped with a loud message (`None`), except under `CI=true`, where it fails.
pub fn installed_cli(tool: &str, installed: &str) -> Option<PathBuf> {
    let bin = std::env::var_os(format!("PIPELINE_TEST_{}_BIN", tool.to_ascii_uppercase()))
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(installed));
    if bin.is_file() {
        return Some(bin);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{tool} not installed at {} (run scripts/install-{tool}.sh); required under CI=true",
        bin.display()
    );
    eprintln!(
        "SKIP: {tool} not installed (run scripts/install-{tool}.sh); looked at {}",
        bin.display()
    );
    None
}

/// Commits a small OpenSpec project into `t`'s repository: the spec `notes` (one
/// requirement, one scenario) and the active change `add-export` (proposal, a delta
/// adding a requirement, one open task). For tests that list, show or serve specs.
pub fn commit_notes_project(t: &Test) {
    t.commit_file(
        "openspec/specs/notes/spec.md",
        "# Notes Specification\n\n## Purpose\nKeep short notes for the team in one place.\n\n## Requirements\n### Requirement: Add note\nThe system SHALL store a note with its author.\n\n#### Scenario: Adding a note\n- **WHEN** a note is added\n- **THEN** it is stored with its author\n",
    );
    t.commit_file(
        "openspec/changes/add-export/proposal.md",
        "## Why\nUsers want to take their notes elsewhere.\n\n## What Changes\n- Add a plain-text export of notes.\n\n## Impact\n- Affected specs: notes\n",
    );
    t.commit_file(
        "openspec/changes/add-export/specs/notes/spec.md",
        "## ADDED Requirements\n### Requirement: Export notes\nThe system SHALL export all notes as plain text.\n\n#### Scenario: Export requested\n- **WHEN** an export is requested\n- **THEN** a text file with every note is written\n",
    );
    t.commit_file(
        "openspec/changes/add-export/tasks.md",
        "## 1. Exporter\n- [ ] 1.1 Write the exporter\n",
    );
}
