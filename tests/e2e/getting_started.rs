//! Getting started (issue #11, point 5): `pipeline init` in a fresh repository, then
//! `validate`, `run` and `status` without paths; `init` never overwrites; `spec init`
//! creates what the OpenSpec CLI creates; `schema`, `completions` and `man`.

use std::path::Path;

use crate::support::{Test, installed_cli, step_state};

/// A fake `aider` (outside the repository) that answers `--version`, so that `init`
/// finds exactly one AI CLI whatever is installed on the machine; codex and claude point
/// at commands that do not exist.
fn init_env(t: &Test, cmd: &mut assert_cmd::Command) {
    let bin = t.out.join("fake-aider");
    std::fs::write(&bin, "#!/bin/sh\necho 'aider 0.86.2'\n").expect("write fake aider");
    let mut perms = std::fs::metadata(&bin).expect("stat").permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(&bin, perms).expect("chmod");
    cmd.env("PIPELINE_TOOL_AIDER_COMMAND", &bin)
        .env("PIPELINE_TOOL_CODEX_COMMAND", "/nonexistent/codex")
        .env("PIPELINE_TOOL_CLAUDE_COMMAND", "/nonexistent/claude");
}

/// `pipeline init` with [`init_env`]; stdout with the repository path replaced.
fn init(t: &Test) -> String {
    let mut cmd = t.cmd();
    init_env(t, &mut cmd);
    let out = cmd.arg("init").output().expect("pipeline runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout.replace(&t.repo.to_string_lossy().into_owned(), "[REPO]")
}

#[test]
fn init_then_validate_run_and_status_without_paths() {
    let t = Test::new();
    insta::assert_snapshot!("init_output", init(&t));

    let example =
        std::fs::read_to_string(t.repo.join("workstreams/example.json")).expect("example written");
    serde_json::from_str::<serde_json::Value>(&example).expect("example is JSON");
    let exclude = std::fs::read_to_string(t.repo.join(".git/info/exclude")).expect("exclude");
    assert_eq!(exclude.lines().filter(|l| *l == ".pipeline/").count(), 1);
    let config = std::fs::read_to_string(t.repo.join(".pipeline/config.yaml")).expect("config");
    assert!(config.lines().all(|l| l.starts_with('#')), "{config}");
    assert!(config.contains("#   aider:\n"), "{config}");
    assert!(!config.contains("#   codex:\n"), "{config}");

    let validate = t.pipeline(&["validate"]).assert_ok().stdout();
    assert!(validate.contains("valid: 1 workstream"), "{validate}");
    assert!(
        !validate.contains("note"),
        "the example has no notes: {validate}"
    );
    t.pipeline(&["plan"]).assert_ok();
    t.pipeline(&["run", "--run-id", "first", "--jobs", "2"])
        .assert_ok();
    let status = t.status("first");
    assert_eq!(status["status"], "completed", "{status:#}");
    for step in ["example/greet", "example/count", "example/report"] {
        assert_eq!(step_state(&status, step), "completed", "{status:#}");
    }
    let report = t
        .show("pipeline/first", "pipeline-example/report.txt")
        .expect("report on the result branch");
    assert!(
        report.starts_with("Hello from pipeline\nTop-level entries: "),
        "{report}"
    );
    let text = t.pipeline(&["status"]).assert_ok().stdout();
    assert!(text.contains("first"), "{text}");
}

#[test]
fn the_commented_profiles_are_valid_once_uncommented() {
    let t = Test::new();
    init(&t);
    let path = t.repo.join(".pipeline/config.yaml");
    let config = std::fs::read_to_string(&path).expect("config");
    // Remove the first `# ` of the `tools:` block's lines (up to the next bare `#`) and
    // of the `scope_overlap` line, as a user would.
    let mut in_tools = false;
    let mut edited = String::new();
    for line in config.lines() {
        if line == "# tools:" {
            in_tools = true;
        } else if line == "#" {
            in_tools = false;
        }
        let uncomment = in_tools || line.starts_with("# scope_overlap:");
        edited.push_str(if uncomment {
            line.strip_prefix("# ").unwrap_or(line)
        } else {
            line
        });
        edited.push('\n');
    }
    assert!(edited.contains("\ntools:\n  aider:\n"), "{edited}");
    std::fs::write(&path, &edited).expect("write");
    let mut cmd = t.cmd();
    init_env(&t, &mut cmd);
    let out = cmd.arg("tools").output().expect("pipeline runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{edited}\n{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("my-agent"), "{stdout}");
}

#[test]
fn init_twice_keeps_every_file() {
    let t = Test::new();
    init(&t);
    let example = t.repo.join("workstreams/example.json");
    let config = t.repo.join(".pipeline/config.yaml");
    std::fs::write(&example, "{\"id\": \"mine\", \"command\": \"true\"}\n").expect("edit");
    std::fs::write(&config, "# mine\n").expect("edit");
    insta::assert_snapshot!("init_again_output", init(&t));
    assert_eq!(
        std::fs::read_to_string(&example).expect("read"),
        "{\"id\": \"mine\", \"command\": \"true\"}\n"
    );
    assert_eq!(std::fs::read_to_string(&config).expect("read"), "# mine\n");
    let exclude = std::fs::read_to_string(t.repo.join(".git/info/exclude")).expect("exclude");
    assert_eq!(exclude.lines().filter(|l| *l == ".pipeline/").count(), 1);
}

#[test]
fn init_outside_a_git_repository_says_what_to_do() {
    let t = Test::new();
    let plain = t.out.join("plain");
    std::fs::create_dir_all(&plain).expect("mkdir");
    let out = t
        .cmd()
        .current_dir(&plain)
        .env("GIT_CEILING_DIRECTORIES", &t.out)
        .arg("init")
        .output()
        .expect("pipeline runs");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    if stderr.contains("inside a git repository") || out.status.code() == Some(0) {
        eprintln!("SKIP: the temporary directory is inside a git repository");
        return;
    }
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(!plain.join("workstreams").exists(), "nothing written");
    insta::assert_snapshot!(
        "init_outside_git",
        stderr.replace(&plain.to_string_lossy().into_owned(), "[DIR]")
    );
}

#[test]
fn init_in_a_repository_without_commits_says_to_commit_first() {
    let t = Test::new();
    let fresh = t.out.join("fresh");
    std::fs::create_dir_all(&fresh).expect("mkdir");
    crate::support::git_in(&fresh, &["init", "-q"]);
    let out = t
        .cmd()
        .args(["init", "--repo", fresh.to_str().unwrap()])
        .output()
        .expect("pipeline runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(
        stdout.contains("no commit yet, and runs start from one: git add -A && git commit"),
        "{stdout}"
    );
    assert!(fresh.join("workstreams/example.json").is_file());
    assert!(
        !t.repo.join("workstreams").exists(),
        "--repo was used, not the current directory"
    );
}

#[test]
fn no_paths_and_no_workstreams_directory_suggests_init() {
    let t = Test::new();
    for command in ["run", "plan", "validate"] {
        let r = t.pipeline(&[command]).assert_code(2);
        assert!(
            r.stderr().contains("pipeline init"),
            "{command}: {}",
            r.stderr()
        );
    }
    let r = t.pipeline(&["validate"]).assert_code(2);
    insta::assert_snapshot!(
        "no_workstreams_dir",
        r.stderr()
            .replace(&t.repo.to_string_lossy().into_owned(), "[REPO]")
    );
    assert!(
        !t.repo.join(".pipeline/state.db").exists(),
        "nothing recorded"
    );
}

#[test]
fn run_without_paths_from_a_subdirectory_uses_the_repository_workstreams() {
    let t = Test::new();
    init(&t);
    let sub = t.repo.join("deep/er");
    std::fs::create_dir_all(&sub).expect("mkdir");
    let out = t
        .cmd()
        .current_dir(&sub)
        .args(["validate"])
        .output()
        .expect("pipeline runs");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The files under `dir`, relative, sorted.
fn tree(dir: &Path) -> Vec<String> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).expect("read dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                walk(base, &path, out);
            } else {
                out.push(
                    path.strip_prefix(base)
                        .expect("below")
                        .to_string_lossy()
                        .into_owned(),
                );
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

const PROPOSAL: &str = "# Change: add-greeting\n\n## Why\n\nNew users need a friendly greeting so that the first run of the tool feels welcoming.\n\n## What Changes\n\n- **greeting:** the tool greets the user\n";
const DELTA: &str = "## ADDED Requirements\n\n### Requirement: Greeting\nThe tool SHALL greet the user by name.\n\n#### Scenario: Named user\n- **WHEN** a user named Ada starts the tool\n- **THEN** it prints `Hello, Ada`\n";

#[test]
fn spec_init_then_new_list_and_validate() {
    let t = Test::new();
    let first = t.pipeline(&["spec", "init"]).assert_ok();
    insta::assert_snapshot!(
        "spec_init_output",
        first
            .stdout()
            .replace(&t.repo.to_string_lossy().into_owned(), "[REPO]")
    );
    assert_eq!(
        tree(&t.repo.join("openspec")),
        ["changes/archive/.gitkeep", "config.yaml", "specs/.gitkeep"]
    );
    let again = t.pipeline(&["spec", "init"]).assert_ok().stdout();
    assert!(!again.contains("created"), "{again}");
    t.pipeline(&["spec", "validate", "--all"]).assert_ok();

    t.pipeline(&["spec", "new", "add-greeting", "--capability", "greeting"])
        .assert_ok();
    let list = t.pipeline(&["spec", "list"]).assert_ok().stdout();
    assert!(list.contains("add-greeting"), "{list}");
    // The scaffold is invalid until its placeholders are filled in; then it validates.
    t.pipeline(&["spec", "validate", "add-greeting"])
        .assert_code(1);
    let change = t.repo.join("openspec/changes/add-greeting");
    std::fs::write(change.join("proposal.md"), PROPOSAL).expect("write");
    std::fs::write(change.join("specs/greeting/spec.md"), DELTA).expect("write");
    t.pipeline(&["spec", "validate", "--all"]).assert_ok();
    // `--repo` from elsewhere, and `--root`, its former name, still accepted.
    for flag in ["--repo", "--root"] {
        let out = t
            .cmd()
            .current_dir(&t.out)
            .args(["spec", "list", flag, t.repo.to_str().unwrap()])
            .output()
            .expect("pipeline runs");
        assert_eq!(out.status.code(), Some(0), "{flag}: {out:?}");
        assert!(String::from_utf8_lossy(&out.stdout).contains("add-greeting"));
    }

    let Some(openspec) = installed_cli("openspec", ".tools/npm/node_modules/.bin/openspec") else {
        return;
    };
    let cli = |dir: &Path, args: &[&str]| {
        let out = std::process::Command::new(&openspec)
            .args(args)
            .current_dir(dir)
            .env("HOME", &t.out)
            .env("OPENSPEC_TELEMETRY", "0")
            .env("OPENSPEC_NO_UPDATE_CHECK", "1")
            .env("NO_COLOR", "1")
            .env("CI", "true")
            .output()
            .expect("openspec runs");
        assert!(out.status.success(), "openspec {args:?}: {out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let listed = cli(&t.repo, &["list"]);
    assert!(listed.contains("add-greeting"), "{listed}");
    cli(&t.repo, &["validate", "--all"]);
    // The CLI's own `init` makes the same skeleton, byte for byte.
    let theirs = t.out.join("theirs");
    std::fs::create_dir_all(&theirs).expect("mkdir");
    cli(&theirs, &["init", "--tools", "none", "--no-animation", "."]);
    let ours = Test::new();
    ours.pipeline(&["spec", "init"]).assert_ok();
    assert_eq!(
        tree(&theirs.join("openspec")),
        tree(&ours.repo.join("openspec"))
    );
    for file in tree(&theirs.join("openspec")) {
        assert_eq!(
            std::fs::read(theirs.join("openspec").join(&file)).expect("read"),
            std::fs::read(ours.repo.join("openspec").join(&file)).expect("read"),
            "{file}"
        );
    }
}

#[test]
fn schema_prints_the_schema_files() {
    let t = Test::new();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for (args, file) in [
        (&["schema"][..], "schema/workstream.schema.json"),
        (
            &["schema", "workstream"][..],
            "schema/workstream.schema.json",
        ),
        (&["schema", "events"][..], "schema/events.schema.json"),
    ] {
        let out = t.pipeline(args).assert_ok().stdout();
        serde_json::from_str::<serde_json::Value>(&out).expect("the schema is JSON");
        assert_eq!(
            out,
            std::fs::read_to_string(root.join(file)).expect("schema file"),
            "{args:?}"
        );
    }
    t.pipeline(&["schema", "nope"]).assert_code(2);
}

#[test]
fn completions_and_man_pages() {
    let t = Test::new();
    let bash = t.pipeline(&["completions", "bash"]).assert_ok().stdout();
    for sub in [
        "init",
        "run",
        "resume",
        "validate",
        "spec",
        "schema",
        "completions",
        "man",
    ] {
        assert!(bash.contains(sub), "bash completion lacks {sub}");
    }
    assert!(bash.contains("complete -F"), "not a bash completion script");
    let zsh = t.pipeline(&["completions", "zsh"]).assert_ok().stdout();
    assert!(zsh.starts_with("#compdef pipeline"), "{zsh}");

    let man = t.pipeline(&["man"]).assert_ok().stdout();
    assert!(man.contains(".TH PIPELINE 1"), "{man}");
    assert!(man.contains(".SH SUBCOMMANDS"), "{man}");

    let dir = t.out.join("man");
    let listed = t
        .pipeline(&["man", "--out-dir", dir.to_str().unwrap()])
        .assert_ok()
        .stdout();
    let pages = tree(&dir);
    for page in [
        "pipeline.1",
        "pipeline-init.1",
        "pipeline-run.1",
        "pipeline-status.1",
        "pipeline-spec.1",
        "pipeline-spec-init.1",
        "pipeline-spec-validate.1",
        "pipeline-man.1",
    ] {
        assert!(
            pages.contains(&page.to_string()),
            "{page} missing: {pages:?}"
        );
    }
    assert_eq!(listed.lines().count(), pages.len(), "{listed}");
    assert!(!pages.iter().any(|p| p.contains("help")), "{pages:?}");
    let run = std::fs::read_to_string(dir.join("pipeline-run.1")).expect("page");
    assert!(run.contains(".TH PIPELINE-RUN 1"), "{run}");
    assert!(run.contains("\\-\\-jobs"), "{run}");
}
