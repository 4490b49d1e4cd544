//! A step about to be built: the named parts [`super::workstream_builder`] worked out
//! (id, tool, scope, tests, error settings) plus the raw objects the remaining fields come
//! from, and the inheritance rules that turn them into a [`Step`].
//!
//! Inheritance (the original format's): a step's `context_files`, `timeout_sec`,
//! `stall_timeout_sec`, `isolation`, `conflict_group`, `parallel_ok`, `sandbox`,
//! `writable_paths` and `allow_symlinks`, `inputs`, `cache`, `setup` and
//! `copy_into_worktree` are its own, else its
//! workstream's;
//! `candidates` and `select` are its own, else its workstream's when the step runs a
//! tool profile (not a command);
//! `env` is the workstream's overlaid by the step's; `description`, `tasks`, `prompt`,
//! `specs` and `openspec_tasks` are the step's own only. For a workstream without
//! `steps`, the workstream object is the step's own object.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use super::error_settings::ErrorSettings;
use super::raw_workstream::{RawFields, RawIsolation, RawSandbox, RawSetup};
use super::{
    AcceptanceTest, CompensationAction, Isolation, SetupCommand, Step, StepId, StepKind, ToolChoice,
};

/// Everything needed to build one [`Step`].
pub(crate) struct StepDraft<'a> {
    pub id: StepId,
    pub kind: StepKind,
    /// Id of the step's workstream.
    pub workstream: &'a str,
    pub file: &'a Arc<Path>,
    /// JSON pointer of the step's object in `file`.
    pub pointer: String,
    /// The step's own object, consumed: the step, the workstream itself for a
    /// single-step workstream, or an empty object for a workstream's acceptance gate.
    pub own: RawFields,
    /// The workstream object the step inherits from (steps of a multi-step workstream and
    /// the acceptance gate).
    pub inherited: Option<&'a RawFields>,
    pub tool: ToolChoice,
    pub files_scope: Vec<String>,
    pub declared_scope: bool,
    pub acceptance_tests: Vec<AcceptanceTest>,
    pub settings: ErrorSettings,
    pub compensation: Vec<CompensationAction>,
}

impl StepDraft<'_> {
    /// The step, with `depends_on` empty and no definition hash yet (both need the whole
    /// set: see [`super::dependency_resolution`]).
    pub fn into_step(self) -> Step {
        let StepDraft {
            id,
            kind,
            workstream,
            file,
            pointer,
            own,
            inherited,
            tool,
            files_scope,
            declared_scope,
            acceptance_tests,
            settings,
            compensation,
        } = self;
        let ws = inherited;
        let mut env: BTreeMap<String, String> = ws.and_then(|w| w.env.clone()).unwrap_or_default();
        env.extend(own.env.unwrap_or_default());
        // A workstream's `candidates` and `select` are a default for its steps that run
        // a tool profile; its command steps and acceptance gate have nothing to compare.
        let inherits_candidates =
            matches!(tool, ToolChoice::Profile(_) | ToolChoice::Capability(_))
                && kind == StepKind::Task;
        let isolation = match own.isolation.or_else(|| ws.and_then(|w| w.isolation)) {
            Some(RawIsolation::None) => Isolation::None,
            Some(RawIsolation::Worktree) | None => Isolation::Worktree,
        };
        Step {
            id,
            workstream: workstream.to_string(),
            kind,
            file: Arc::clone(file),
            pointer,
            description: own.description,
            tool,
            tasks: own.tasks.map(|t| t.0).unwrap_or_default(),
            prompt: own.prompt,
            depends_on: Vec::new(),
            files_scope,
            declared_scope,
            acceptance_tests,
            context_files: own
                .context_files
                .or_else(|| ws.and_then(|w| w.context_files.clone()))
                .unwrap_or_default(),
            timeout_sec: own.timeout_sec.or_else(|| ws.and_then(|w| w.timeout_sec)),
            stall_timeout_sec: own
                .stall_timeout_sec
                .or_else(|| ws.and_then(|w| w.stall_timeout_sec)),
            env,
            isolation,
            conflict_group: own
                .conflict_group
                .or_else(|| ws.and_then(|w| w.conflict_group.clone())),
            parallel_ok: own
                .parallel_ok
                .or_else(|| ws.and_then(|w| w.parallel_ok))
                .unwrap_or(true),
            specs: own.specs,
            openspec_tasks: own.openspec_tasks,
            retry: settings.retry,
            breaker_cooldown_sec: settings.breaker_cooldown_sec,
            compensation,
            fix_attempts: settings.fix_attempts,
            escalation: settings.escalation,
            sandbox: own.sandbox.or_else(|| ws.and_then(|w| w.sandbox)) != Some(RawSandbox::None),
            writable_paths: own
                .writable_paths
                .or_else(|| ws.and_then(|w| w.writable_paths.clone()))
                .unwrap_or_default(),
            read_only: own
                .read_only
                .or_else(|| ws.and_then(|w| w.read_only))
                .unwrap_or(false),
            budget: own.budget.or_else(|| ws.and_then(|w| w.budget)),
            allow_empty: own
                .allow_empty
                .or_else(|| ws.and_then(|w| w.allow_empty))
                .unwrap_or(false),
            definition_hash: String::new(),
            approval: own.approval.or_else(|| ws.and_then(|w| w.approval)),
            allow_symlinks: own
                .allow_symlinks
                .or_else(|| ws.and_then(|w| w.allow_symlinks.clone()))
                .unwrap_or_default(),
            inputs: own.inputs.or_else(|| ws.and_then(|w| w.inputs.clone())),
            cache: own
                .cache
                .or_else(|| ws.and_then(|w| w.cache))
                .unwrap_or(true),
            setup: own
                .setup
                .or_else(|| ws.and_then(|w| w.setup.clone()))
                .unwrap_or_default()
                .into_iter()
                .map(setup_command)
                .collect(),
            copy_into_worktree: own
                .copy_into_worktree
                .or_else(|| ws.and_then(|w| w.copy_into_worktree.clone()))
                .unwrap_or_default(),
            candidates: own
                .candidates
                .or_else(|| inherits_candidates.then(|| ws.and_then(|w| w.candidates))?)
                .unwrap_or(1),
            select: own
                .select
                .or_else(|| inherits_candidates.then(|| ws.and_then(|w| w.select.clone()))?),
        }
    }
}

/// A `setup` entry as a [`SetupCommand`].
fn setup_command(raw: RawSetup) -> SetupCommand {
    match raw {
        RawSetup::Command(command) => SetupCommand {
            command,
            timeout_sec: None,
            inputs: Vec::new(),
            outputs: Vec::new(),
        },
        RawSetup::Full {
            command,
            timeout_sec,
            inputs,
            outputs,
        } => SetupCommand {
            command,
            timeout_sec,
            inputs,
            outputs,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(v: serde_json::Value) -> RawFields {
        serde_json::from_value(v).unwrap()
    }

    fn draft<'a>(
        own: RawFields,
        inherited: Option<&'a RawFields>,
        file: &'a Arc<Path>,
    ) -> StepDraft<'a> {
        StepDraft {
            id: StepId::nested("w", "s"),
            kind: StepKind::Task,
            workstream: "w",
            file,
            pointer: "/steps/0".into(),
            own,
            inherited,
            tool: ToolChoice::Shell("true".into()),
            files_scope: Vec::new(),
            declared_scope: false,
            acceptance_tests: Vec::new(),
            settings: ErrorSettings::default(),
            compensation: Vec::new(),
        }
    }

    #[test]
    fn a_step_inherits_what_it_does_not_set_and_overlays_env() {
        let ws = fields(serde_json::json!({
            "id": "w", "timeout_sec": 9, "isolation": "none", "conflict_group": "g",
            "parallel_ok": false, "context_files": ["README"], "env": {"A": "1", "B": "1"},
            "description": "not inherited", "specs": ["spec://x"]
        }));
        let own = fields(serde_json::json!({
            "id": "s", "timeout_sec": 2.5, "env": {"B": "2"}, "tasks": "do it"
        }));
        let file = Arc::from(Path::new("w.json"));
        let s = draft(own, Some(&ws), &file).into_step();
        assert_eq!(s.timeout_sec, Some(2.5));
        assert_eq!(s.isolation, Isolation::None);
        assert_eq!(s.conflict_group.as_deref(), Some("g"));
        assert!(!s.parallel_ok);
        assert_eq!(s.context_files, vec!["README"]);
        assert_eq!(
            s.env
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>(),
            vec!["A=1", "B=2"]
        );
        assert_eq!(s.description, None);
        assert!(s.specs.is_empty());
        assert_eq!(s.tasks, vec!["do it"]);
    }

    #[test]
    fn defaults_without_a_workstream_to_inherit_from() {
        let file = Arc::from(Path::new("w.json"));
        let s = draft(fields(serde_json::json!({"id": "s"})), None, &file).into_step();
        assert_eq!(s.isolation, Isolation::Worktree);
        assert!(s.parallel_ok);
        assert_eq!(s.timeout_sec, None);
        assert!(s.env.is_empty() && s.tasks.is_empty());
    }
}
