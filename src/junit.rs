//! JUnit XML report of a run for CI systems: one test suite per workstream, a test case per
//! step (classname = workstream) and one per acceptance test of the step's latest attempt.
//!
//! Usage (docs/COSTS.md) goes into properties: each step's test case carries its tokens,
//! requests and cost (`pipeline.usage.*`) when an attempt reported any, and the first
//! suite carries the run's total (`pipeline.run.usage.*`).

use std::path::Path;
use std::time::Duration;

use pipeline_core::engine::{RunStatusReport, UsageTotals};
use pipeline_core::state::StepStatus;
use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

/// The time from `start` to `end` (RFC 3339), when both are given and in order.
pub(crate) fn duration_between(start: Option<&str>, end: Option<&str>) -> Option<Duration> {
    let s = humantime::parse_rfc3339_weak(start?).ok()?;
    let e = humantime::parse_rfc3339_weak(end?).ok()?;
    e.duration_since(s).ok()
}

/// `prefix.input_tokens`, `.cached_input_tokens`, `.output_tokens`, `.requests`,
/// `.cost_usd` (when known), `.cost_estimated` and `.unpriced_attempts` of `u`; nothing
/// when no attempt reported usage.
fn usage_properties(prefix: &str, u: &UsageTotals) -> Vec<(String, String)> {
    if u.attempts == 0 {
        return Vec::new();
    }
    let mut properties = vec![
        (format!("{prefix}.attempts"), u.attempts.to_string()),
        (format!("{prefix}.input_tokens"), u.input_tokens.to_string()),
        (
            format!("{prefix}.cached_input_tokens"),
            u.cached_input_tokens.to_string(),
        ),
        (
            format!("{prefix}.output_tokens"),
            u.output_tokens.to_string(),
        ),
        (format!("{prefix}.requests"), u.requests.to_string()),
    ];
    if let Some(cost) = u.cost_usd {
        properties.push((format!("{prefix}.cost_usd"), format!("{cost:.6}")));
        properties.push((format!("{prefix}.cost_estimated"), u.estimated.to_string()));
    }
    if u.unpriced_attempts > 0 {
        properties.push((
            format!("{prefix}.unpriced_attempts"),
            u.unpriced_attempts.to_string(),
        ));
    }
    properties
}

/// Writes the report of `status` to `path`. Errors are I/O or serialisation failures.
pub fn write_junit(status: &RunStatusReport, path: &Path) -> Result<(), String> {
    let mut report = Report::new(format!("pipeline run {}", status.run_id));
    let mut suites: Vec<TestSuite> = Vec::new();
    for step in &status.steps {
        let idx = match suites
            .iter()
            .position(|s| s.name.as_str() == step.workstream)
        {
            Some(i) => i,
            None => {
                suites.push(TestSuite::new(step.workstream.clone()));
                suites.len() - 1
            }
        };
        let mut case_status = match step.status {
            StepStatus::Completed => TestCaseStatus::success(),
            StepStatus::Skipped | StepStatus::Pending | StepStatus::Cancelled => {
                let mut s = TestCaseStatus::skipped();
                if let Some(e) = &step.error {
                    s.set_message(e.clone());
                }
                s
            }
            // Its result passed; a person has not decided on it yet.
            StepStatus::AwaitingApproval => {
                let mut s = TestCaseStatus::skipped();
                s.set_message("awaiting approval".to_string());
                s
            }
            _ => {
                let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                s.set_message(
                    step.error
                        .as_deref()
                        .unwrap_or(step.status.as_str())
                        .lines()
                        .next()
                        .unwrap_or("")
                        .to_string(),
                );
                if let Some(e) = &step.error {
                    s.set_description(e.clone());
                }
                s.set_type(step.status.as_str());
                s
            }
        };
        if step.status == StepStatus::Interrupted {
            case_status.set_type("interrupted");
        }
        let mut case = TestCase::new(format!("step {}", step.id), case_status);
        case.set_classname(step.workstream.clone());
        case.add_properties(usage_properties("pipeline.usage", &step.usage));
        // Passed without running: its result came from the step cache (docs/CACHE.md).
        if let Some(from) = &step.cached_from {
            case.add_property((
                "cached_from",
                format!("{} {}", from.run, from.step).as_str(),
            ));
        }
        if let Some(d) = duration_between(step.started_at.as_deref(), step.finished_at.as_deref()) {
            case.set_time(d);
        }
        suites[idx].add_test_case(case);
        for t in &step.tests {
            let st = if t.passed {
                TestCaseStatus::success()
            } else {
                let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                s.set_message(format!("{} ({})", t.command, t.outcome));
                s.set_description(format!("log: {}", t.log));
                s
            };
            let mut case = TestCase::new(format!("{} :: {}", step.id, t.name), st);
            case.set_classname(step.workstream.clone());
            case.set_time(Duration::from_millis(t.duration_ms));
            suites[idx].add_test_case(case);
        }
    }
    if let Some(first) = suites.first_mut() {
        first.add_properties(usage_properties("pipeline.run.usage", &status.usage));
    }
    report.add_test_suites(suites);
    let xml = report
        .to_string()
        .map_err(|e| format!("cannot render the JUnit report: {e}"))?;
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    }
    std::fs::write(path, xml).map_err(|e| format!("cannot write {}: {e}", path.display()))
}
