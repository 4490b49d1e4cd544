//! The plugin manager: loads external manifests, orders all plugins, and classifies
//! failures.
//!
//! Order: a topological order of the `requires` graph (a required plugin runs first);
//! among plugins that are free to go, external (declared) plugins first, then built-ins by
//! specificity (tool-specific, then protocol-level, then the exit-status fallback), ties by
//! the built-in order or by id. Classification runs every plugin that applies: the first
//! verdict decides the class, summary and signature, and the diagnostics of all of them
//! accumulate (duplicates dropped). One exception: a stalled attempt
//! (`Termination::Stalled`) is classified `stalled` whatever the first verdict, which
//! keeps only its words (see `stalled_verdict`).
//!
//! Manifests come from plugin directories given in increasing precedence (the shipped
//! `error/plugins/`, embedded in the binary and named by
//! [`crate::shipped_plugins::shipped_plugins_dir`], then the repository's
//! `.pipeline/plugins/`): a plugin with the same id as a built-in or as one from an
//! earlier directory replaces it.

use serde::Serialize;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::attempt_failure::{AttemptFailure, strip_ansi};
use crate::builtin::builtin_plugins;
use crate::error_class::ErrorClass;
use crate::error_report::{ErrorReport, PluginFailure};
use crate::external_plugin::ExternalPlugin;
use crate::manifest::{MANIFEST_FILE, PluginManifest};
use crate::plugin::{Plugin, PluginInput, PluginOrigin, Specificity, Verdict};
use crate::plugin_load_error::{PluginLoadError, PluginLoadErrors};
use crate::shipped_plugins::{SHIPPED_PLUGINS, SHIPPED_PLUGINS_DIR, shipped_plugins_dir};
use crate::signature::{fingerprint, normalize, signature_of};
use pipeline_process::Termination;

/// What `pipeline plugins --json` lists for one plugin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PluginInfo {
    /// Position in the classification order, from 1.
    pub position: usize,
    /// Plugin id.
    pub id: String,
    /// What it recognises.
    pub description: String,
    /// Its specificity class.
    pub specificity: Specificity,
    /// Built in or from which manifest.
    pub origin: PluginOrigin,
    /// Plugins that run before it.
    pub requires: Vec<String>,
    /// Whether it also looks at attempts that exited 0.
    pub inspects_successful_exits: bool,
}

/// Ordered plugins, ready to classify.
#[derive(Debug, Clone)]
pub struct PluginManager {
    plugins: Vec<Arc<dyn Plugin>>,
}

impl PluginManager {
    /// At most this many bytes (the end) of an attempt's full log are read: 4 MiB.
    pub const MAX_LOG_BYTES: u64 = 4 * 1024 * 1024;

    /// The built-in plugins only.
    pub fn builtin() -> PluginManager {
        // The built-ins have no `requires`, so ordering cannot fail.
        PluginManager::with_plugins(builtin_plugins()).unwrap_or_else(|_| PluginManager {
            plugins: builtin_plugins(),
        })
    }

    /// Built-ins plus the manifests under each of `dirs` (`<dir>/<id>/plugin.yaml`), later
    /// directories taking precedence. A directory that does not exist is skipped; a
    /// sub-directory without `plugin.yaml` is skipped. The entry
    /// [`crate::shipped_plugins::shipped_plugins_dir`] stands for the plugins embedded in
    /// the binary and is read from memory.
    ///
    /// # Errors
    /// Every problem found (unreadable directory or file, malformed YAML with line, invalid
    /// field or regex, unknown `requires`, a `requires` cycle), each naming its file.
    pub fn load(dirs: &[PathBuf]) -> Result<PluginManager, PluginLoadErrors> {
        let mut errors = Vec::new();
        let mut plugins: Vec<Arc<dyn Plugin>> = builtin_plugins();
        for dir in dirs {
            let manifests = if dir.as_os_str() == SHIPPED_PLUGINS_DIR {
                load_shipped(&mut errors)
            } else {
                load_dir(dir, &mut errors)
            };
            for manifest in manifests {
                let id = manifest.id.clone();
                let plugin: Arc<dyn Plugin> = Arc::new(ExternalPlugin::new(manifest));
                match plugins.iter().position(|existing| existing.id() == id) {
                    Some(index) => plugins[index] = plugin,
                    None => plugins.push(plugin),
                }
            }
        }
        if !errors.is_empty() {
            return Err(PluginLoadErrors(errors));
        }
        PluginManager::with_plugins(plugins)
    }

    /// Orders the given plugins (see the module doc).
    ///
    /// # Errors
    /// `DuplicateId` for two plugins with one id, `UnknownRequirement`, `Cycle`.
    pub fn with_plugins(plugins: Vec<Arc<dyn Plugin>>) -> Result<PluginManager, PluginLoadErrors> {
        order(plugins)
            .map(|plugins| PluginManager { plugins })
            .map_err(PluginLoadErrors)
    }

    /// The plugins in classification order.
    pub fn plugins(&self) -> Vec<PluginInfo> {
        self.plugins
            .iter()
            .enumerate()
            .map(|(index, plugin)| PluginInfo {
                position: index + 1,
                id: plugin.id().to_string(),
                description: plugin.description().to_string(),
                specificity: plugin.specificity(),
                origin: plugin.origin(),
                requires: plugin.requires().to_vec(),
                inspects_successful_exits: plugin.inspects_successful_exits(),
            })
            .collect()
    }

    /// Classifies a failed attempt. Always gives a report: the `exit-status` fallback
    /// decides when nothing else does. Problems reading the log or running a plugin are
    /// recorded in `plugin_failures`.
    pub fn classify(&self, failure: &AttemptFailure) -> ErrorReport {
        let (text, mut plugin_failures) = failure_text(failure);
        let input = PluginInput {
            failure,
            text: &text,
        };
        let mut run = self.run(&input, |_| true);
        plugin_failures.extend(run.failures);
        if failure.termination == Termination::Stalled {
            run.verdict = run.verdict.map(stalled_verdict);
        }
        let (plugin, verdict) = run.verdict.unwrap_or_else(|| {
            (
                "none".to_string(),
                Verdict {
                    class: ErrorClass::Permanent,
                    summary: format!("`{}` failed and no plugin recognised why", failure.tool),
                    key: text.lines().rev().take(20).collect::<Vec<_>>().join("\n"),
                },
            )
        });
        report(plugin, verdict, run.diagnostics, &text, plugin_failures)
    }

    /// Looks for a failure hidden behind a successful exit (Aider exits 0 when its API call
    /// failed). For an attempt that exited 0, only plugins that inspect successful exits
    /// run, and `None` means the attempt really succeeded. For any other termination this
    /// is `Some(self.classify(failure))`.
    pub fn detect(&self, failure: &AttemptFailure) -> Option<ErrorReport> {
        if !failure.termination.is_success() {
            return Some(self.classify(failure));
        }
        let (text, mut plugin_failures) = failure_text(failure);
        let input = PluginInput {
            failure,
            text: &text,
        };
        let run = self.run(&input, |plugin| plugin.inspects_successful_exits());
        plugin_failures.extend(run.failures);
        let (plugin, verdict) = run.verdict?;
        Some(report(
            plugin,
            verdict,
            run.diagnostics,
            &text,
            plugin_failures,
        ))
    }

    fn run(&self, input: &PluginInput<'_>, filter: impl Fn(&dyn Plugin) -> bool) -> Run {
        let mut run = Run::default();
        for plugin in &self.plugins {
            if !filter(plugin.as_ref()) || !plugin.applies_to(input) {
                continue;
            }
            match plugin.analyse(input) {
                Ok(finding) => {
                    for diagnostic in finding.diagnostics {
                        if !run.diagnostics.contains(&diagnostic) {
                            run.diagnostics.push(diagnostic);
                        }
                    }
                    if run.verdict.is_none() {
                        run.verdict = finding
                            .verdict
                            .map(|verdict| (plugin.id().to_string(), verdict));
                    }
                }
                Err(error) => run.failures.push(PluginFailure {
                    plugin: error.plugin,
                    message: error.message,
                }),
            }
        }
        run
    }
}

/// The verdict on a stalled attempt whatever a plugin read in its output: a stall is
/// the supervisor's observation (no output, no CPU for the stall timeout), not a reading
/// of the text the tool printed before it went quiet, so the class is `stalled` (retried
/// like `transient`). A plugin that recognised something keeps its words in the summary
/// and its key text in the signature.
fn stalled_verdict((plugin, verdict): (String, Verdict)) -> (String, Verdict) {
    if verdict.class == ErrorClass::Stalled {
        return (plugin, verdict);
    }
    (
        "exit-status".to_string(),
        Verdict {
            class: ErrorClass::Stalled,
            summary: format!(
                "stalled (no output and no CPU for the stall timeout); before that, {plugin}: {}",
                verdict.summary
            ),
            key: format!("stalled\n{}", verdict.key),
        },
    )
}

#[derive(Default)]
struct Run {
    verdict: Option<(String, Verdict)>,
    diagnostics: Vec<crate::diagnostic::Diagnostic>,
    failures: Vec<PluginFailure>,
}

fn report(
    plugin: String,
    verdict: Verdict,
    diagnostics: Vec<crate::diagnostic::Diagnostic>,
    text: &str,
    plugin_failures: Vec<PluginFailure>,
) -> ErrorReport {
    let mut normalized = normalize(&verdict.key);
    if normalized.is_empty() {
        normalized = normalize(&verdict.summary);
    }
    ErrorReport {
        class: verdict.class,
        signature: signature_of(&normalized),
        normalized,
        plugin,
        summary: verdict.summary,
        diagnostics,
        output_hash: fingerprint(normalize_all(text).as_bytes()),
        diff_hash: None,
        plugin_failures,
    }
}

/// Normalises the whole output (not cut to `MAX_NORMALIZED_BYTES`), for the output hash.
fn normalize_all(text: &str) -> String {
    text.lines()
        .collect::<Vec<_>>()
        .chunks(50)
        .map(|chunk| normalize(&chunk.join("\n")))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The supervisor's line before the tool's output in an attempt log (pipeline-process).
const LOG_OUTPUT_START: &str = "----- output (stdout and stderr) -----\n";
/// The supervisor's line after the tool's output, before its `[pipeline] result:` footer.
const LOG_OUTPUT_END: &str = "----- end of output -----";

/// What the tool printed, without the attempt log's header (the command line, which may
/// hold a prompt) and footer (`[pipeline] output: 1255 bytes ...`, which is no part of the
/// failure and used to end up in the `exit-status` summary). A log whose header was cut
/// off by the 4 MiB limit keeps its beginning.
fn log_output(log: &str) -> &str {
    let start = log
        .find(LOG_OUTPUT_START)
        .map_or(0, |at| at + LOG_OUTPUT_START.len());
    let output = &log[start..];
    match output.rfind(LOG_OUTPUT_END) {
        Some(end) => &output[..end],
        None => output,
    }
}

/// The text plugins see: the tool's output in the end of the full log when readable, else
/// the output tail; ANSI escapes removed.
fn failure_text(failure: &AttemptFailure) -> (String, Vec<PluginFailure>) {
    let mut failures = Vec::new();
    if let Some(path) = &failure.log_path {
        match read_tail(path, PluginManager::MAX_LOG_BYTES) {
            Ok(text) => return (strip_ansi(log_output(&text)).into_owned(), failures),
            Err(error) => failures.push(PluginFailure {
                plugin: "engine".to_string(),
                message: format!(
                    "cannot read the attempt log {}: {error}; classified the output tail instead",
                    path.display()
                ),
            }),
        }
    }
    (strip_ansi(&failure.output).into_owned(), failures)
}

fn read_tail(path: &Path, max: u64) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let length = file.metadata()?.len();
    if length > max {
        file.seek(SeekFrom::Start(length - max))?;
    }
    let mut bytes = Vec::new();
    file.take(max).read_to_end(&mut bytes)?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

fn load_dir(dir: &Path, errors: &mut Vec<PluginLoadError>) -> Vec<PluginManifest> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Vec::new(),
        Err(source) => {
            errors.push(PluginLoadError::Io {
                path: dir.to_path_buf(),
                source,
            });
            return Vec::new();
        }
    };
    let mut plugin_dirs = Vec::new();
    for entry in entries {
        match entry {
            Ok(entry) => {
                let path = entry.path();
                if path.is_dir() && path.join(MANIFEST_FILE).is_file() {
                    plugin_dirs.push(path);
                }
            }
            Err(source) => errors.push(PluginLoadError::Io {
                path: dir.to_path_buf(),
                source,
            }),
        }
    }
    plugin_dirs.sort();
    let mut manifests = Vec::new();
    for plugin_dir in plugin_dirs {
        match PluginManifest::load(&plugin_dir) {
            Ok(manifest) => manifests.push(manifest),
            Err(error) => errors.push(error),
        }
    }
    manifests
}

/// The embedded shipped plugins, as [`load_dir`] would read them from `error/plugins/`.
fn load_shipped(errors: &mut Vec<PluginLoadError>) -> Vec<PluginManifest> {
    let dir = shipped_plugins_dir();
    let mut manifests = Vec::new();
    for shipped in SHIPPED_PLUGINS {
        let path = dir.join(shipped.id).join(MANIFEST_FILE);
        match PluginManifest::parse(shipped.manifest, &path, Some(shipped.id)) {
            Ok(manifest) => manifests.push(manifest),
            Err(error) => errors.push(error),
        }
    }
    manifests
}

fn manifest_path(plugin: &dyn Plugin) -> PathBuf {
    match plugin.origin() {
        PluginOrigin::Manifest { path } => path,
        PluginOrigin::BuiltIn => PathBuf::from(format!("<built-in plugin {}>", plugin.id())),
    }
}

fn order(plugins: Vec<Arc<dyn Plugin>>) -> Result<Vec<Arc<dyn Plugin>>, Vec<PluginLoadError>> {
    let mut errors = Vec::new();
    let mut index_of: HashMap<String, usize> = HashMap::new();
    for (index, plugin) in plugins.iter().enumerate() {
        if let Some(&first) = index_of.get(plugin.id()) {
            errors.push(PluginLoadError::DuplicateId {
                id: plugin.id().to_string(),
                first: manifest_path(plugins[first].as_ref()),
                second: manifest_path(plugin.as_ref()),
            });
        } else {
            index_of.insert(plugin.id().to_string(), index);
        }
    }
    let known = {
        let mut ids: Vec<&str> = plugins.iter().map(|plugin| plugin.id()).collect();
        ids.sort_unstable();
        ids.join(", ")
    };
    // dependents[required] = plugins that require it; pending[i] = unmet requirements.
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); plugins.len()];
    let mut pending: Vec<usize> = vec![0; plugins.len()];
    for (index, plugin) in plugins.iter().enumerate() {
        for required in plugin.requires() {
            match index_of.get(required) {
                Some(&required_index) => {
                    dependents[required_index].push(index);
                    pending[index] += 1;
                }
                None => errors.push(PluginLoadError::UnknownRequirement {
                    path: manifest_path(plugin.as_ref()),
                    required: required.clone(),
                    known: known.clone(),
                }),
            }
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    // Ties: specificity, then built-ins in their listed order, externals by id.
    let rank = |index: usize| {
        let plugin = &plugins[index];
        let tie = match plugin.origin() {
            PluginOrigin::BuiltIn => (index, String::new()),
            PluginOrigin::Manifest { .. } => (0, plugin.id().to_string()),
        };
        Reverse((plugin.specificity(), tie, index))
    };
    let mut ready: BinaryHeap<_> = (0..plugins.len())
        .filter(|&i| pending[i] == 0)
        .map(rank)
        .collect();
    let mut ordered = Vec::with_capacity(plugins.len());
    while let Some(Reverse((_, _, index))) = ready.pop() {
        ordered.push(index);
        for &dependent in &dependents[index] {
            pending[dependent] -= 1;
            if pending[dependent] == 0 {
                ready.push(rank(dependent));
            }
        }
    }
    if ordered.len() < plugins.len() {
        let remaining: Vec<usize> = (0..plugins.len()).filter(|i| pending[*i] > 0).collect();
        return Err(vec![PluginLoadError::Cycle {
            cycle: find_cycle(&plugins, &remaining, &index_of),
        }]);
    }
    let mut slots: Vec<Option<Arc<dyn Plugin>>> = plugins.into_iter().map(Some).collect();
    Ok(ordered
        .into_iter()
        .filter_map(|index| slots[index].take())
        .collect())
}

/// A cycle among the plugins left over by the topological sort, as ids with the first
/// repeated at the end (`a -> b -> a`).
fn find_cycle(
    plugins: &[Arc<dyn Plugin>],
    remaining: &[usize],
    index_of: &HashMap<String, usize>,
) -> Vec<String> {
    // Every remaining plugin has an unmet requirement that is itself remaining, so
    // following requirements from any of them must loop.
    let remaining_set: BTreeMap<usize, ()> = remaining.iter().map(|&i| (i, ())).collect();
    let Some(&start) = remaining.first() else {
        return Vec::new();
    };
    let mut path: Vec<usize> = vec![start];
    let mut current = start;
    loop {
        let next = plugins[current]
            .requires()
            .iter()
            .filter_map(|id| index_of.get(id).copied())
            .find(|index| remaining_set.contains_key(index));
        let Some(next) = next else { break };
        if let Some(position) = path.iter().position(|&seen| seen == next) {
            let mut cycle: Vec<String> = path[position..]
                .iter()
                .map(|&i| plugins[i].id().to_string())
                .collect();
            cycle.push(plugins[next].id().to_string());
            return cycle;
        }
        path.push(next);
        current = next;
    }
    path.iter().map(|&i| plugins[i].id().to_string()).collect()
}
