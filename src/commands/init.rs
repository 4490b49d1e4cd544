//! `pipeline init`: sets up a repository for pipeline without overwriting anything.
//!
//! Three things, each only when missing: `workstreams/example.json` (a parallel example
//! that runs with `sh`, `test` and `grep`, so `pipeline run` works before any AI CLI is
//! installed), `.pipeline/config.yaml` (every line a comment, so it means "the built-in
//! defaults", with tool profiles ready to uncomment for the AI CLIs found installed,
//! probed as `pipeline tools` does) and the `.pipeline/` line of `.git/info/exclude` (the
//! entry `pipeline run` adds too). Files are created with `create_new`: one that exists
//! is kept and reported as kept. Then it prints the next three commands.

use std::fs::OpenOptions;
use std::io::{ErrorKind, Write};
use std::path::Path;

use pipeline_core::engine::{current_dir, open_repository};
use pipeline_core::git::{GitError, Repository};

use super::exit;
use super::init_config::{FoundTool, render_config};
use crate::cli::InitArgs;
use crate::command_error::CommandError;

/// The example workstream, as written to `workstreams/example.json`.
pub const EXAMPLE_WORKSTREAM: &str = include_str!("init_example.json");

/// Where the example goes, relative to the repository's top.
const EXAMPLE_PATH: &str = "workstreams/example.json";

/// Where the configuration goes, relative to the repository's top.
const CONFIG_PATH: &str = ".pipeline/config.yaml";

/// The ignore pattern for pipeline's own directory.
const EXCLUDE_PATTERN: &str = ".pipeline/";

/// What happened to one file.
enum Outcome {
    Created,
    Kept,
}

/// Writes what is missing of `workstreams/example.json`, `.pipeline/config.yaml` and the
/// `.pipeline/` ignore entry in the repository given with `--repo` (or containing the
/// current directory), and prints what it did and the next commands. Exit 0, also when
/// everything was there already.
///
/// Errors: invalid input (exit 2) outside a git repository, saying to run `git init`
/// and make a first commit; the engine's errors for other repository failures and bad
/// `PIPELINE_TOOL_*` variables; internal (exit 3) when a file cannot be written.
pub fn init(args: &InitArgs) -> Result<i32, CommandError> {
    let repo = open(args.repo.as_deref())?;
    let root = repo.workdir().to_path_buf();

    let example = create_new(&root.join(EXAMPLE_PATH), EXAMPLE_WORKSTREAM)?;
    let config_file = root.join(CONFIG_PATH);
    let (config, found) = if config_file.exists() {
        (Outcome::Kept, None)
    } else {
        let found = probe_ai_tools(&root)?;
        (
            create_new(&config_file, &render_config(&found))?,
            Some(found),
        )
    };
    let exclude = repo.commondir().join("info").join("exclude");
    let already_excluded = std::fs::read_to_string(&exclude)
        .map(|text| text.lines().any(|l| l.trim() == EXCLUDE_PATTERN))
        .unwrap_or(false);
    repo.ensure_excluded(EXCLUDE_PATTERN)
        .map_err(CommandError::internal)?;

    println!("Setting up pipeline in {}", root.display());
    println!(
        "  {} {EXAMPLE_PATH}  (a parallel example: two steps, then one combining them)",
        verb(&example)
    );
    let config_note = match &found {
        None => String::new(),
        Some(found) => format!("  (all comments: the defaults; {})", found_summary(found)),
    };
    println!("  {} {CONFIG_PATH}{config_note}", verb(&config));
    let exclude_shown = exclude.strip_prefix(&root).unwrap_or(&exclude);
    let exclude_verb = if already_excluded {
        "kept   "
    } else {
        "added  "
    };
    println!(
        "  {exclude_verb} {EXCLUDE_PATTERN} in {}",
        exclude_shown.display()
    );
    if repo.resolve_commit("HEAD").is_err() {
        println!();
        println!(
            "The repository has no commit yet, and runs start from one: git add -A && git commit -m 'Initial commit'"
        );
    }
    println!();
    println!("Next:");
    println!("  pipeline validate   # check the workstream files in workstreams/");
    println!("  pipeline run        # run them: steps in parallel worktrees, results merged");
    println!("  pipeline status     # the run's steps; the result is branch pipeline/<run>");
    Ok(exit::OK)
}

/// The repository containing `dir` (default: the current directory). Outside any, an
/// invalid-input error saying how to make one.
fn open(dir: Option<&Path>) -> Result<Repository, CommandError> {
    let start = match dir {
        Some(dir) => dir.to_path_buf(),
        None => current_dir()?,
    };
    match Repository::open(&start) {
        Ok(repo) => Ok(repo),
        Err(GitError::NotARepository { path, .. }) => Err(CommandError::invalid(format!(
            "{} is not in a git repository; pipeline runs steps in git worktrees. Create one \
             with `git init`, make a first commit (runs start from a commit: `git add -A && \
             git commit -m 'Initial commit'`), then run `pipeline init` again",
            path.display()
        ))),
        Err(e) => Err(pipeline_core::engine::EngineError::from(e).into()),
    }
}

/// The AI CLI profiles (kinds other than `custom`) of the built-in registry with this
/// process's `PIPELINE_TOOL_*` overrides, each probed (`<command> --version`, up to 5
/// seconds), sorted by name.
fn probe_ai_tools(root: &Path) -> Result<Vec<FoundTool>, CommandError> {
    // `.pipeline/config.yaml` does not exist here, so only the built-in profiles load.
    let (_, _, registry) = open_repository(Some(root), None)?;
    let mut tools = Vec::new();
    for (name, profile) in registry.profiles() {
        let kind = profile.kind.as_str();
        if kind == "custom" {
            continue;
        }
        let availability = registry.probe(name);
        tools.push(FoundTool {
            name: name.to_string(),
            kind: kind.to_string(),
            path: availability.found,
            version: availability.version,
            model: profile.model.clone(),
            api_key_env: profile.api_key_env.clone(),
            timeout_sec: profile.timeout_sec,
        });
    }
    tools.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(tools)
}

/// `AI CLIs found: aider` or `no AI CLI found (aider, claude, codex)`.
fn found_summary(tools: &[FoundTool]) -> String {
    let found: Vec<&str> = tools
        .iter()
        .filter(|t| t.path.is_some())
        .map(|t| t.name.as_str())
        .collect();
    if found.is_empty() {
        let all: Vec<&str> = tools.iter().map(|t| t.name.as_str()).collect();
        format!("no AI CLI found ({})", all.join(", "))
    } else {
        format!("profiles for the AI CLIs found: {}", found.join(", "))
    }
}

fn verb(outcome: &Outcome) -> &'static str {
    match outcome {
        Outcome::Created => "created",
        Outcome::Kept => "kept   ",
    }
}

/// Writes `content` to `path` (creating its directory) unless something is there.
///
/// Errors: internal, naming the file, when it cannot be created or written.
fn create_new(path: &Path, content: &str) -> Result<Outcome, CommandError> {
    let cannot = |what: &Path, e: std::io::Error| {
        CommandError::internal(format!("cannot create {}: {e}", what.display()))
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| cannot(parent, e))?;
    }
    match OpenOptions::new().write(true).create_new(true).open(path) {
        Ok(mut file) => {
            file.write_all(content.as_bytes())
                .map_err(|e| cannot(path, e))?;
            Ok(Outcome::Created)
        }
        Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(Outcome::Kept),
        Err(e) => Err(cannot(path, e)),
    }
}
