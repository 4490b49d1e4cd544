//! `pipeline spec ...`: OpenSpec specs and change proposals.
//!
//! Parses arguments, calls `pipeline_core::openspec`, renders human text or JSON (`--json`), and
//! returns the exit code: 0 ok, 1 validation found errors (as `openspec validate`
//! does) or an archive was refused for its content, 2 invalid input or usage (the
//! message names the item and what to do), 3 internal error.

use std::path::{Path, PathBuf};

use pipeline_core::openspec::{
    ArchiveError, ArchiveOptions, BridgeOptions, Issue, ItemLookupError, ItemType, Layout, Level,
    SpecIndex, TaskProgress, ValidationRun, archive_change, ccpm_epic_to_workstream,
    change_relations, change_to_workstream, dependency_report, list_changes, list_specs,
    local_date_today, resolve, scaffold_change, show_change, show_spec, validate_item,
    validate_scope,
};
use serde_json::json;

const OK: i32 = 0;
const FAILED: i32 = 1;
const USAGE: i32 = 2;
const INTERNAL: i32 = 3;

/// `pipeline spec`: OpenSpec specs and change proposals.
#[derive(clap::Args, Debug)]
pub struct SpecArgs {
    /// Project root containing `openspec/` (default: the nearest ancestor of the
    /// current directory that has one).
    #[arg(long, global = true, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// The subcommand.
    #[command(subcommand)]
    pub command: SpecCommand,
}

/// Kind of item, for `--type`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ItemKind {
    /// A change proposal.
    Change,
    /// A main spec.
    Spec,
}

/// `pipeline spec` subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum SpecCommand {
    /// Validate a change or spec, or all of them, with the OpenSpec CLI's rules.
    Validate {
        /// Change id or capability id.
        item: Option<String>,
        /// Validate every change and spec.
        #[arg(long)]
        all: bool,
        /// Validate every change (also reports conflicting changes and dependency cycles).
        #[arg(long)]
        changes: bool,
        /// Validate every spec.
        #[arg(long)]
        specs: bool,
        /// Warnings fail validation too.
        #[arg(long)]
        strict: bool,
        /// Disambiguate an item that is both a change and a spec.
        #[arg(long = "type", value_enum)]
        item_type: Option<ItemKind>,
        /// Print the report as JSON (the shape of `openspec validate --json`).
        #[arg(long)]
        json: bool,
    },
    /// Apply a change's deltas to the main specs and move it to the archive.
    Archive {
        /// Change id.
        change: String,
        /// Apply spec updates, accept incomplete tasks and skipped validation.
        #[arg(short, long)]
        yes: bool,
        /// Archive without touching the main specs.
        #[arg(long)]
        skip_specs: bool,
        /// Skip validation (needs --yes).
        #[arg(long)]
        no_validate: bool,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// List active changes (default) or specs.
    List {
        /// List specs.
        #[arg(long, conflicts_with = "changes")]
        specs: bool,
        /// List changes.
        #[arg(long)]
        changes: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show a change or a spec.
    Show {
        /// Change id or capability id.
        item: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Only the deltas of a change (the JSON shape is the same).
        #[arg(long)]
        deltas_only: bool,
        /// Disambiguate an item that is both a change and a spec.
        #[arg(long = "type", value_enum)]
        item_type: Option<ItemKind>,
    },
    /// Scaffold a change proposal (proposal.md, tasks.md, a delta spec stub).
    New {
        /// Change id (kebab-case).
        change: String,
        /// Capability the delta stub targets (default: the change id).
        #[arg(long)]
        capability: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Refresh the spec index in the state database.
    Index {
        /// State database (default: <root>/.pipeline/state.db).
        #[arg(long)]
        db: Option<PathBuf>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Find requirements whose name, statement or scenarios contain TEXT.
    Find {
        /// Text to look for (case-insensitive).
        text: String,
        /// State database (default: <root>/.pipeline/state.db).
        #[arg(long)]
        db: Option<PathBuf>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Resolve spec://<capability>#<requirement>, change://<id> or change://<id>/tasks#<N.M>.
    Resolve {
        /// The reference.
        reference: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show change dependencies (`depends_on` in .openspec.yaml) and their cycles.
    Deps {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Turn a change (or, with --ccpm, a CCPM epic) into a workstream file.
    ToWorkstream {
        /// Change id, or epic name with --ccpm.
        target: String,
        /// Read `.claude/epics/<TARGET>/<N>.md` task files instead of a change.
        #[arg(long)]
        ccpm: bool,
        /// Output file (default: stdout).
        #[arg(short, long)]
        output: Option<PathBuf>,
        /// Tool profile for every step (default: aider).
        #[arg(long, conflicts_with = "capability")]
        tool: Option<String>,
        /// Capability for every step instead of a tool (e.g. code_generation).
        #[arg(long)]
        capability: Option<String>,
        /// Acceptance test for steps that declare none (repeatable).
        #[arg(long = "acceptance", value_name = "COMMAND")]
        acceptance: Vec<String>,
    },
}

/// Runs a `pipeline spec` subcommand and returns the process exit code.
pub fn run(args: SpecArgs) -> i32 {
    let layout = match locate(args.root.as_deref()) {
        Ok(layout) => layout,
        Err(message) => {
            eprintln!("error: {message}");
            return USAGE;
        }
    };
    match args.command {
        SpecCommand::Validate {
            item,
            all,
            changes,
            specs,
            strict,
            item_type,
            json,
        } => validate(&layout, item, all, changes, specs, strict, item_type, json),
        SpecCommand::Archive {
            change,
            yes,
            skip_specs,
            no_validate,
            json,
        } => {
            let options = ArchiveOptions {
                yes,
                skip_specs,
                no_validate,
                date: local_date_today(),
            };
            archive(&layout, &change, &options, json)
        }
        SpecCommand::List {
            specs,
            changes: _,
            json,
        } => list(&layout, specs, json),
        SpecCommand::Show {
            item,
            json,
            deltas_only: _,
            item_type,
        } => show(&layout, &item, item_type, json),
        SpecCommand::New {
            change,
            capability,
            json,
        } => new_change(&layout, &change, capability.as_deref(), json),
        SpecCommand::Index { db, json } => index(&layout, db, json),
        SpecCommand::Find { text, db, json } => find(&layout, &text, db, json),
        SpecCommand::Resolve { reference, json } => match resolve(&layout, &reference) {
            Ok(resolved) => {
                if json {
                    print_json(&resolved)
                } else {
                    println!(
                        "{} ({})\n\n{}",
                        resolved.reference, resolved.source, resolved.text
                    );
                    OK
                }
            }
            Err(err) => {
                eprintln!("error: {err}");
                FAILED
            }
        },
        SpecCommand::Deps { json } => deps(&layout, json),
        SpecCommand::ToWorkstream {
            target,
            ccpm,
            output,
            tool,
            capability,
            acceptance,
        } => {
            let options = BridgeOptions {
                tool,
                capability,
                default_acceptance_tests: acceptance,
            };
            to_workstream(&layout, &target, ccpm, output.as_deref(), &options)
        }
    }
}

fn locate(root: Option<&Path>) -> Result<Layout, String> {
    match root {
        Some(root) => {
            if root.join("openspec").is_dir() {
                Ok(Layout::new(root))
            } else {
                Err(format!(
                    "{} has no openspec/ directory; pass the project root that contains it",
                    root.display()
                ))
            }
        }
        None => {
            let cwd = std::env::current_dir()
                .map_err(|e| format!("cannot read the current directory: {e}"))?;
            Layout::discover(&cwd).ok_or_else(|| {
                format!("no openspec/ directory in {} or its parents; run inside an OpenSpec project or pass --root", cwd.display())
            })
        }
    }
}

fn print_json<T: serde::Serialize>(value: &T) -> i32 {
    match serde_json::to_string_pretty(value) {
        Ok(text) => {
            println!("{text}");
            OK
        }
        Err(err) => {
            eprintln!("error: cannot render JSON: {err}");
            INTERNAL
        }
    }
}

fn symbol(level: Level) -> &'static str {
    match level {
        Level::Error => "✗",
        Level::Warning => "⚠",
        Level::Info => "ℹ",
    }
}

fn print_issue(indent: &str, issue: &Issue) {
    let line = issue.line.map(|l| format!(":{l}")).unwrap_or_default();
    eprintln!(
        "{indent}{} [{}] {}{line}: {}",
        symbol(issue.level),
        issue.level.as_str(),
        issue.path,
        issue.message
    );
}

#[allow(clippy::too_many_arguments)]
fn validate(
    layout: &Layout,
    item: Option<String>,
    all: bool,
    changes: bool,
    specs: bool,
    strict: bool,
    item_type: Option<ItemKind>,
    json: bool,
) -> i32 {
    let bulk = all || changes || specs;
    let run: ValidationRun = match (&item, bulk) {
        (Some(_), true) => {
            eprintln!("error: give either an item or --all/--changes/--specs, not both");
            return USAGE;
        }
        (None, false) => {
            eprintln!(
                "Nothing to validate. Try one of:\n  pipeline spec validate --all\n  pipeline spec validate --changes\n  pipeline spec validate --specs\n  pipeline spec validate <item-name>"
            );
            return USAGE;
        }
        (Some(name), false) => {
            let kind = item_type.map(|k| match k {
                ItemKind::Change => ItemType::Change,
                ItemKind::Spec => ItemType::Spec,
            });
            match validate_item(layout, name, kind, strict) {
                Ok(run) => run,
                Err(ItemLookupError::Io(err)) => {
                    eprintln!(
                        "error: cannot read {}: {err}",
                        layout.openspec_dir().display()
                    );
                    return INTERNAL;
                }
                Err(err) => {
                    if json {
                        let code = match err {
                            ItemLookupError::Ambiguous(_) => "ambiguous_item",
                            ItemLookupError::InvalidName(_) => "invalid_item",
                            _ => "unknown_item",
                        };
                        println!(
                            "{}",
                            json!({"status": [{"severity": "error", "code": code, "message": err.to_string()}]})
                        );
                    } else {
                        eprintln!("error: {err}");
                    }
                    return USAGE;
                }
            }
        }
        (None, true) => match validate_scope(layout, all || changes, all || specs, strict) {
            Ok(run) => run,
            Err(err) => {
                eprintln!(
                    "error: cannot read {}: {err}",
                    layout.openspec_dir().display()
                );
                return INTERNAL;
            }
        },
    };
    // Beyond the CLI: conflicting changes and dependency cycles, reported alongside.
    let with_changes = all || changes;
    let relations = if with_changes {
        change_relations(layout)
    } else {
        Default::default()
    };
    let (conflicts, cycles) = (relations.conflicts, relations.cycles);
    let code = if run.all_valid() { OK } else { FAILED };
    if json {
        let mut value = match serde_json::to_value(&run) {
            Ok(value) => value,
            Err(err) => {
                eprintln!("error: cannot render JSON: {err}");
                return INTERNAL;
            }
        };
        if with_changes {
            value["conflicts"] = json!(conflicts);
            value["dependencyCycles"] = json!(cycles);
        }
        println!(
            "{}",
            serde_json::to_string_pretty(&value).unwrap_or_default()
        );
        return code;
    }
    if let (Some(name), [single]) = (&item, run.items.as_slice()) {
        let noun = if single.item_type == ItemType::Change {
            "Change"
        } else {
            "Specification"
        };
        if single.valid {
            println!("{noun} '{name}' is valid");
        } else {
            eprintln!("{noun} '{name}' has issues");
        }
        for issue in &single.issues {
            print_issue("", issue);
        }
        return code;
    }
    if run.items.is_empty() {
        println!("No items found to validate.");
    }
    for res in &run.items {
        if res.valid {
            println!("✓ {}/{}", res.item_type.as_str(), res.id);
        } else {
            eprintln!("✗ {}/{}", res.item_type.as_str(), res.id);
        }
        for issue in &res.issues {
            print_issue("  ", issue);
        }
    }
    let totals = run.summary.totals;
    println!(
        "Totals: {} passed, {} failed ({} items)",
        totals.passed, totals.failed, totals.items
    );
    for conflict in &conflicts {
        eprintln!("⚠ conflict: {}", conflict.message());
    }
    for cycle in &cycles {
        eprintln!("⚠ dependency cycle: {cycle}");
    }
    code
}

fn archive_exit_code(err: &ArchiveError) -> i32 {
    match err {
        ArchiveError::ValidationFailed { .. }
        | ArchiveError::SpecUpdateFailed(_)
        | ArchiveError::RebuiltSpecInvalid { .. } => FAILED,
        ArchiveError::Io { .. } => INTERNAL,
        _ => USAGE,
    }
}

fn archive(layout: &Layout, change: &str, options: &ArchiveOptions, json: bool) -> i32 {
    match archive_change(layout, change, options) {
        Ok(result) => {
            if json {
                return print_json(&json!({ "archive": result }));
            }
            println!("Task status: {}", result.task_progress.status_text());
            if options.skip_specs {
                println!("Skipping spec updates (--skip-specs flag provided).");
            }
            for warning in &result.warnings {
                println!("⚠️  Warning: {warning}");
            }
            for spec in &result.specs {
                let c = spec.counts;
                match spec.outcome {
                    "write" => {
                        println!("Applying changes to openspec/specs/{}/spec.md:", spec.id);
                        for (n, sign, word) in [
                            (c.added, "+", "added"),
                            (c.modified, "~", "modified"),
                            (c.removed, "-", "removed"),
                            (c.renamed, "→", "renamed"),
                        ] {
                            if n > 0 {
                                println!("  {sign} {n} {word}");
                            }
                        }
                    }
                    "retire" => println!(
                        "Retiring openspec/specs/{}/spec.md: all requirements removed.",
                        spec.id
                    ),
                    _ => {}
                }
            }
            if let Some(t) = result.totals {
                println!(
                    "Totals: + {}, ~ {}, - {}, → {}",
                    t.added, t.modified, t.removed, t.renamed
                );
                println!(
                    "{}",
                    if result.specs_updated {
                        "Specs updated successfully."
                    } else {
                        "Specs already in sync; no files changed."
                    }
                );
            }
            println!(
                "Change '{}' archived as '{}'.",
                result.change, result.archived_as
            );
            OK
        }
        Err(err) => {
            let code = archive_exit_code(&err);
            if json {
                let mut status =
                    json!({"severity": "error", "code": err.code(), "message": err.to_string()});
                if let Some(fix) = err.fix() {
                    status["fix"] = json!(fix);
                }
                match &err {
                    ArchiveError::ValidationFailed { issues, .. }
                    | ArchiveError::RebuiltSpecInvalid { issues, .. } => {
                        status["issues"] = json!(issues);
                    }
                    _ => {}
                }
                println!(
                    "{}",
                    serde_json::to_string_pretty(&json!({"archive": null, "status": [status]}))
                        .unwrap_or_default()
                );
                return code;
            }
            eprintln!("error: {err}");
            if let ArchiveError::ValidationFailed { issues, .. }
            | ArchiveError::RebuiltSpecInvalid { issues, .. } = &err
            {
                for issue in issues {
                    print_issue("  ", issue);
                }
            }
            if let Some(fix) = err.fix() {
                eprintln!("{fix}");
            }
            eprintln!("No files were changed.");
            code
        }
    }
}

fn list(layout: &Layout, specs: bool, json: bool) -> i32 {
    if specs {
        return match list_specs(layout) {
            Ok(rows) if json => print_json(&json!({ "specs": rows })),
            Ok(rows) if rows.is_empty() => {
                println!("No specs found.");
                OK
            }
            Ok(rows) => {
                println!("Specs:");
                let width = rows.iter().map(|r| r.id.len()).max().unwrap_or(0);
                for row in rows {
                    println!(
                        "  {:width$}     requirements {}",
                        row.id, row.requirement_count
                    );
                }
                OK
            }
            Err(err) => {
                eprintln!("error: cannot list specs: {err}");
                INTERNAL
            }
        };
    }
    match list_changes(layout) {
        Ok(rows) if json => print_json(&json!({ "changes": rows })),
        Ok(rows) if rows.is_empty() => {
            println!("No active changes found.");
            OK
        }
        Ok(rows) => {
            println!("Changes:");
            let width = rows.iter().map(|r| r.name.len()).max().unwrap_or(0);
            for row in rows {
                let status = if row.nested.is_some() {
                    "not a change".to_string()
                } else {
                    TaskProgress {
                        total: row.total_tasks,
                        completed: row.completed_tasks,
                    }
                    .status_text()
                };
                println!(
                    "  {:width$}     {status:<12}  {}",
                    row.name, row.last_modified
                );
            }
            OK
        }
        Err(err) => {
            eprintln!("error: cannot list changes: {err}");
            INTERNAL
        }
    }
}

fn show(layout: &Layout, item: &str, item_type: Option<ItemKind>, json: bool) -> i32 {
    let is_change = layout
        .change_ids()
        .map(|ids| ids.iter().any(|i| i == item))
        .unwrap_or(false);
    let is_spec = layout
        .spec_ids()
        .map(|ids| ids.iter().any(|i| i == item))
        .unwrap_or(false);
    let kind = match (item_type, is_change, is_spec) {
        (Some(kind), _, _) => kind,
        (None, true, true) => {
            eprintln!("error: '{item}' is both a change and a spec; pass --type change|spec");
            return USAGE;
        }
        (None, true, false) => ItemKind::Change,
        (None, false, true) => ItemKind::Spec,
        (None, false, false) => {
            eprintln!(
                "error: unknown item '{item}'; run `pipeline spec list` or `pipeline spec list --specs`"
            );
            return USAGE;
        }
    };
    let rendered = match kind {
        ItemKind::Change => show_change(layout, item).map(|v| {
            if json {
                serde_json::to_string_pretty(&v).unwrap_or_default()
            } else {
                std::fs::read_to_string(layout.change_dir(item).join("proposal.md"))
                    .unwrap_or_default()
            }
        }),
        ItemKind::Spec => show_spec(layout, item).map(|v| {
            if json {
                serde_json::to_string_pretty(&v).unwrap_or_default()
            } else {
                std::fs::read_to_string(layout.spec_file(item)).unwrap_or_default()
            }
        }),
    };
    match rendered {
        Ok(text) => {
            println!("{}", text.trim_end());
            OK
        }
        Err(err) => {
            eprintln!("error: {err}");
            USAGE
        }
    }
}

fn new_change(layout: &Layout, change: &str, capability: Option<&str>, json: bool) -> i32 {
    match scaffold_change(layout, change, capability, &local_date_today()) {
        Ok(done) if json => print_json(&done),
        Ok(done) => {
            println!(
                "Created change '{change}' at {}:",
                done.change_dir.display()
            );
            for file in &done.files {
                println!("  {}", file.display());
            }
            println!("Fill in the placeholders, then run `pipeline spec validate {change}`.");
            OK
        }
        Err(err) => {
            eprintln!("error: {err}");
            USAGE
        }
    }
}

fn open_index(layout: &Layout, db: Option<PathBuf>) -> Result<SpecIndex, i32> {
    let db = db.unwrap_or_else(|| layout.root.join(".pipeline").join("state.db"));
    SpecIndex::open(&db).map_err(|err| {
        eprintln!("error: {err}");
        INTERNAL
    })
}

fn index(layout: &Layout, db: Option<PathBuf>, json: bool) -> i32 {
    let mut index = match open_index(layout, db) {
        Ok(index) => index,
        Err(code) => return code,
    };
    let stats = match index.refresh(layout) {
        Ok(stats) => stats,
        Err(err) => {
            eprintln!("error: {err}");
            return INTERNAL;
        }
    };
    let conflicts = index.conflicts().unwrap_or_default();
    if json {
        return print_json(&json!({ "index": stats, "conflicts": conflicts }));
    }
    println!(
        "Indexed {} file(s), {} unchanged, {} removed: {} requirements, {} scenarios, {} change touches.",
        stats.indexed,
        stats.unchanged,
        stats.removed,
        stats.requirements,
        stats.scenarios,
        stats.touches
    );
    for conflict in &conflicts {
        println!("⚠ conflict: {}", conflict.message());
    }
    OK
}

fn find(layout: &Layout, text: &str, db: Option<PathBuf>, json: bool) -> i32 {
    let mut index = match open_index(layout, db) {
        Ok(index) => index,
        Err(code) => return code,
    };
    let hits = match index.refresh(layout).and_then(|_| index.find(text)) {
        Ok(hits) => hits,
        Err(err) => {
            eprintln!("error: {err}");
            return INTERNAL;
        }
    };
    if json {
        return print_json(&json!({ "hits": hits }));
    }
    if hits.is_empty() {
        println!("No requirement mentions \"{text}\".");
    }
    for hit in hits {
        println!("{}  [{} in {}]", hit.reference, hit.matched, hit.source);
    }
    OK
}

fn deps(layout: &Layout, json: bool) -> i32 {
    let report = match dependency_report(layout) {
        Ok(report) => report,
        Err(err) => {
            eprintln!("error: cannot read changes: {err}");
            return INTERNAL;
        }
    };
    let code = if report.cycles.is_empty() && report.missing.is_empty() {
        OK
    } else {
        FAILED
    };
    if json {
        let value = json!({
            "dependencies": report.dependencies,
            "cycles": report.cycle_lines(),
            "missing": report.missing.iter().map(|(c, d)| json!({"change": c, "dependsOn": d})).collect::<Vec<_>>(),
            "unreadable": report.unreadable.iter().map(|(c, e)| json!({"change": c, "error": e})).collect::<Vec<_>>(),
            "order": report.order,
        });
        println!(
            "{}",
            serde_json::to_string_pretty(&value).unwrap_or_default()
        );
        return code;
    }
    for (change, deps) in &report.dependencies {
        println!("{change} depends on {}", deps.join(", "));
    }
    for cycle in report.cycle_lines() {
        eprintln!("✗ dependency cycle: {cycle}");
    }
    for (change, dep) in &report.missing {
        eprintln!(
            "✗ {change} depends on '{dep}', which is neither an active nor an archived change"
        );
    }
    for (change, err) in &report.unreadable {
        eprintln!("⚠ {change}: {err}");
    }
    if !report.order.is_empty() {
        println!("Order: {}", report.order.join(", "));
    }
    code
}

fn to_workstream(
    layout: &Layout,
    target: &str,
    ccpm: bool,
    output: Option<&Path>,
    options: &BridgeOptions,
) -> i32 {
    let workstream = if ccpm {
        ccpm_epic_to_workstream(&layout.root, target, options)
    } else {
        change_to_workstream(layout, target, options)
    };
    let workstream = match workstream {
        Ok(ws) => ws,
        Err(err) => {
            eprintln!("error: {err}");
            return USAGE;
        }
    };
    let text = match serde_json::to_string_pretty(&workstream) {
        Ok(text) => text + "\n",
        Err(err) => {
            eprintln!("error: cannot render JSON: {err}");
            return INTERNAL;
        }
    };
    match output {
        None => {
            print!("{text}");
            OK
        }
        Some(path) => {
            let written = path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .map(std::fs::create_dir_all)
                .transpose()
                .and_then(|_| std::fs::write(path, &text));
            match written {
                Ok(()) => {
                    eprintln!(
                        "Wrote {} ({} steps) to {}",
                        workstream.id,
                        workstream.steps.len(),
                        path.display()
                    );
                    OK
                }
                Err(err) => {
                    eprintln!("error: cannot write {}: {err}", path.display());
                    USAGE
                }
            }
        }
    }
}
