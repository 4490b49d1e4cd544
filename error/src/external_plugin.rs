//! A plugin defined by a manifest (see `manifest`): regex rules or an external command.
//!
//! Rules are tried in order on every line of the output; every match of a rule with
//! capture groups adds a diagnostic, and the last matching rule with a `class` decides the
//! verdict (tools print their final error last). Command plugins are run by
//! `command_runner`.

use std::time::Duration;

use crate::command_runner::run_command_plugin;
use crate::diagnostic::{Diagnostic, Severity};
use crate::error_class::ErrorClass;
use crate::manifest::{ManifestAction, PluginManifest, Rule};
use crate::plugin::{
    Finding, Plugin, PluginInput, PluginOrigin, PluginRunError, Specificity, Verdict,
};

/// A plugin loaded from a `plugin.yaml`.
#[derive(Debug)]
pub struct ExternalPlugin {
    manifest: PluginManifest,
}

impl ExternalPlugin {
    /// Wraps a validated manifest.
    pub fn new(manifest: PluginManifest) -> ExternalPlugin {
        ExternalPlugin { manifest }
    }

    /// The manifest.
    pub fn manifest(&self) -> &PluginManifest {
        &self.manifest
    }
}

fn rule_diagnostic(rule: &Rule, caps: &regex::Captures<'_>, line: &str) -> Diagnostic {
    let group = |name: &str| caps.name(name).map(|m| m.as_str().trim().to_string());
    let number = |name: &str| group(name).and_then(|text| text.parse::<u32>().ok());
    let severity = group("severity")
        .and_then(|name| Severity::from_name(&name))
        .unwrap_or(rule.severity);
    Diagnostic {
        file: group("file"),
        line: number("line"),
        column: number("column"),
        code: group("code").or_else(|| rule.code.clone()),
        severity,
        message: group("message").unwrap_or_else(|| line.trim().to_string()),
    }
}

fn analyse_rules(rules: &[Rule], input: &PluginInput<'_>) -> Finding {
    let mut diagnostics = Vec::new();
    let mut verdict: Option<Verdict> = None;
    for line in input.text.lines() {
        for rule in rules {
            let Some(caps) = rule.pattern.captures(line) else {
                continue;
            };
            let diagnostic = rule_diagnostic(rule, &caps, line);
            if let Some(class) = &rule.class {
                let mut class = class.clone();
                if let (ErrorClass::RateLimited { .. }, Some(after)) = (
                    &class,
                    caps.name("retry_after")
                        .and_then(|m| m.as_str().trim().parse::<f64>().ok())
                        .and_then(|secs| Duration::try_from_secs_f64(secs).ok()),
                ) {
                    class = ErrorClass::RateLimited {
                        reset_at: Some(input.failure.finished_at + after),
                        retry_after: Some(after),
                    };
                }
                let summary = match &rule.summary {
                    Some(template) => template.replace("{message}", &diagnostic.message),
                    None => diagnostic.message.clone(),
                };
                verdict = Some(Verdict {
                    class,
                    summary,
                    key: format!(
                        "{} {}",
                        diagnostic.code.as_deref().unwrap_or(""),
                        diagnostic.message
                    ),
                });
            }
            let has_groups = rule.pattern.capture_names().flatten().next().is_some();
            if has_groups || rule.class.is_none() {
                diagnostics.push(diagnostic);
            }
            break;
        }
    }
    Finding {
        verdict,
        diagnostics,
    }
}

impl Plugin for ExternalPlugin {
    fn id(&self) -> &str {
        &self.manifest.id
    }

    fn description(&self) -> &str {
        &self.manifest.description
    }

    fn specificity(&self) -> Specificity {
        Specificity::Declared
    }

    fn requires(&self) -> &[String] {
        &self.manifest.requires
    }

    fn origin(&self) -> PluginOrigin {
        PluginOrigin::Manifest {
            path: self.manifest.path.clone(),
        }
    }

    fn inspects_successful_exits(&self) -> bool {
        self.manifest.inspect_successful_exits
    }

    fn applies_to(&self, input: &PluginInput<'_>) -> bool {
        self.manifest.applies_to.matches(
            &input.failure.tool,
            &input.failure.tool_kind,
            &input.failure.command,
        )
    }

    fn analyse(&self, input: &PluginInput<'_>) -> Result<Finding, PluginRunError> {
        match &self.manifest.action {
            ManifestAction::Rules(rules) => Ok(analyse_rules(rules, input)),
            ManifestAction::Command { argv, timeout } => {
                let dir = self
                    .manifest
                    .path
                    .parent()
                    .unwrap_or_else(|| std::path::Path::new("."));
                run_command_plugin(&self.manifest.id, argv, dir, *timeout, input)
            }
        }
    }
}
