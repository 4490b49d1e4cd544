//! Choosing the tool for a step's next attempt.
//!
//! Candidates, in order: the profile the step names then that profile's `fallback`s, or
//! (for a `capability`) every profile with the capability by priority. A candidate that
//! is not installed or has no usable adapter is passed over with why; one whose circuit
//! breaker is open is passed over until its cooldown ends. The first admitted candidate
//! runs (a half-open breaker admits one trial). When none is admitted but some breaker
//! will close, the step waits (`waiting`) for the earliest cooldown and chooses again;
//! when no candidate can ever run, the step fails with every reason.
//!
//! [`pick_tool`] is that rule as a pure function over what is known of each candidate;
//! [`choose_tool`] gathers it (registry, breakers), records the choice and waits.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use pipeline_adapters::ToolAdapter;
use pipeline_error::Admission;

use super::run_context::RunContext;
use super::step_error::{StepError, StepFailure};
use super::waits::sleep_until;
use crate::model::{Step, ToolChoice};
use crate::state::{Event, WaitKind};

/// The tool chosen for an attempt.
pub(crate) struct ChosenTool {
    /// Profile name, or `shell` for a step's own command.
    pub name: String,
    /// Adapter kind (`custom`, `aider`, `codex`, `claude`).
    pub kind: String,
    /// Runs it.
    pub adapter: Arc<dyn ToolAdapter>,
    /// Whether it is an AI tool that can take a fix prompt (not a plain command).
    pub takes_prompts: bool,
}

/// What is known of one candidate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Candidate {
    /// It cannot run here (not installed, no adapter): why.
    Unavailable(String),
    /// It can run; its circuit breaker says this.
    Available(Admission),
}

/// The choice among candidates (indices into the candidate list).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ToolPick {
    /// Run candidate `index`; `trial` for a half-open breaker's trial call; `skipped`
    /// lists the candidates passed over before it, with why.
    Use {
        index: usize,
        trial: bool,
        skipped: Vec<String>,
    },
    /// Every available candidate's breaker is open: wait until the earliest cooldown
    /// ends (candidate `index`'s) and choose again.
    Wait {
        index: usize,
        until: SystemTime,
        skipped: Vec<String>,
    },
    /// No candidate can run, each with why.
    Nothing { skipped: Vec<String> },
}

/// Applies the rule of the module docs to `candidates` (name, what is known).
pub(crate) fn pick_tool(candidates: &[(String, Candidate)]) -> ToolPick {
    let mut skipped = Vec::new();
    let mut earliest: Option<(usize, SystemTime)> = None;
    for (index, (name, candidate)) in candidates.iter().enumerate() {
        match candidate {
            Candidate::Unavailable(why) => skipped.push(format!("{name}: {why}")),
            Candidate::Available(Admission::Allowed) => {
                return ToolPick::Use {
                    index,
                    trial: false,
                    skipped,
                };
            }
            Candidate::Available(Admission::Trial) => {
                return ToolPick::Use {
                    index,
                    trial: true,
                    skipped,
                };
            }
            Candidate::Available(Admission::Rejected { until }) => {
                skipped.push(format!(
                    "{name}: circuit breaker open until {}",
                    humantime::format_rfc3339_seconds(*until)
                ));
                if earliest.is_none_or(|(_, t)| *until < t) {
                    earliest = Some((index, *until));
                }
            }
        }
    }
    match earliest {
        Some((index, until)) => ToolPick::Wait {
            index,
            until,
            skipped,
        },
        None => ToolPick::Nothing { skipped },
    }
}

/// The candidate profiles for `choice` (see the module docs); `None` for a step's own
/// command, which always runs as the `shell` tool.
fn candidates_for(
    ctx: &RunContext,
    choice: &ToolChoice,
) -> Result<Option<Vec<String>>, StepFailure> {
    Ok(Some(match choice {
        ToolChoice::Shell(_) => return Ok(None),
        ToolChoice::Profile(name) => {
            let mut c = vec![name.clone()];
            if let Some(p) = ctx.registry.profile(name) {
                c.extend(p.fallback.iter().cloned());
            }
            c
        }
        ToolChoice::Capability(cap) => ctx
            .registry
            .with_capability(cap)
            .into_iter()
            .map(str::to_string)
            .collect(),
        ToolChoice::None => return Err(StepFailure::NoTool),
    }))
}

/// Picks the tool for the next attempt of `choice` for `step`, waiting (status
/// `waiting`) while every candidate's breaker is open. Records a `tool_selected` event
/// when the tool differs from the one asked for or follows a wait. Returns `None` when
/// the run is interrupted while waiting.
pub(crate) async fn choose_tool(
    ctx: &Arc<RunContext>,
    step: &Step,
    choice: &ToolChoice,
    attempt: u32,
) -> Result<Option<ChosenTool>, StepError> {
    let step_id = step.id.as_str();
    let Some(names) = candidates_for(ctx, choice)? else {
        let ToolChoice::Shell(command) = choice else {
            return Err(StepFailure::NoTool.into());
        };
        return Ok(Some(ChosenTool {
            name: pipeline_adapters::SHELL_TOOL.to_string(),
            kind: "custom".into(),
            adapter: ctx.registry.shell_adapter(command),
            takes_prompts: false,
        }));
    };
    let mut waited = false;
    loop {
        let mut adapters = Vec::with_capacity(names.len());
        let mut candidates = Vec::with_capacity(names.len());
        for name in &names {
            let (adapter, candidate) = if !ctx.registry.is_installed(name) {
                let command = ctx
                    .registry
                    .profile(name)
                    .map(|p| p.command.clone())
                    .unwrap_or_default();
                (
                    None,
                    Candidate::Unavailable(format!("`{command}` is not installed")),
                )
            } else {
                match ctx.registry.adapter(name) {
                    Ok(a) => {
                        let admission = ctx
                            .errors
                            .breaker(name, step)
                            .admit_in(&ctx.state, name, SystemTime::now())
                            .map_err(|source| StepFailure::Breaker {
                                tool: name.clone(),
                                source: Box::new(source),
                            })?;
                        (Some(a), Candidate::Available(admission))
                    }
                    Err(e) => (None, Candidate::Unavailable(e.to_string())),
                }
            };
            adapters.push(adapter);
            candidates.push((name.clone(), candidate));
        }
        match pick_tool(&candidates) {
            ToolPick::Use {
                index,
                trial,
                skipped,
            } => {
                let Some(adapter) = adapters[index].take() else {
                    return Err(StepFailure::NoTool.into());
                };
                let name = names[index].clone();
                if index != 0 || waited {
                    ctx.journal.record(Event::ToolSelected {
                        step: step_id.to_owned(),
                        tool: name.clone(),
                        requested: names[0].clone(),
                        skipped,
                        trial,
                    })?;
                }
                let profile = ctx.registry.profile(&name);
                return Ok(Some(ChosenTool {
                    kind: profile
                        .map(|p| p.kind.as_str().to_string())
                        .unwrap_or_else(|| "custom".into()),
                    takes_prompts: profile.is_some(),
                    name,
                    adapter,
                }));
            }
            ToolPick::Nothing { skipped } => {
                return Err(StepFailure::NoUsableTool(super::step_error_text(
                    "no usable tool for the step",
                    &skipped.join("\n"),
                ))
                .into());
            }
            ToolPick::Wait { index, until, .. } => {
                let tool = &names[index];
                let wait = until
                    .duration_since(SystemTime::now())
                    .unwrap_or(Duration::ZERO);
                ctx.journal.record(Event::StepWaiting {
                    step: step_id.to_owned(),
                    attempt: attempt.saturating_sub(1),
                    wait: WaitKind::Breaker,
                    tool: Some(tool.clone()),
                    class: None,
                    reason: format!(
                        "circuit breaker of tool `{tool}` is open; waiting {:.1} s for its cooldown",
                        wait.as_secs_f64()
                    ),
                    delay_ms: wait.as_millis() as u64,
                    until: Some(humantime::format_rfc3339_millis(until).to_string()),
                })?;
                waited = true;
                if !sleep_until(ctx, until).await {
                    return Ok(None);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn available(name: &str, a: Admission) -> (String, Candidate) {
        (name.into(), Candidate::Available(a))
    }

    #[test]
    fn the_first_admitted_candidate_runs_and_earlier_ones_are_listed_as_skipped() {
        let until = SystemTime::now() + Duration::from_secs(60);
        let pick = pick_tool(&[
            (
                "aider".into(),
                Candidate::Unavailable("`aider` is not installed".into()),
            ),
            available("codex", Admission::Rejected { until }),
            available("claude", Admission::Allowed),
        ]);
        let ToolPick::Use {
            index,
            trial,
            skipped,
        } = pick
        else {
            panic!("expected a tool, got {pick:?}");
        };
        assert_eq!((index, trial), (2, false));
        assert_eq!(skipped.len(), 2);
        assert!(skipped[0].starts_with("aider: `aider` is not installed"));
        assert!(skipped[1].starts_with("codex: circuit breaker open until "));
    }

    #[test]
    fn a_half_open_breaker_admits_a_trial() {
        assert_eq!(
            pick_tool(&[available("aider", Admission::Trial)]),
            ToolPick::Use {
                index: 0,
                trial: true,
                skipped: Vec::new()
            }
        );
    }

    #[test]
    fn all_breakers_open_waits_for_the_earliest_cooldown() {
        let now = SystemTime::now();
        let pick = pick_tool(&[
            available(
                "aider",
                Admission::Rejected {
                    until: now + Duration::from_secs(90),
                },
            ),
            available(
                "codex",
                Admission::Rejected {
                    until: now + Duration::from_secs(30),
                },
            ),
            (
                "claude".into(),
                Candidate::Unavailable("not installed".into()),
            ),
        ]);
        assert!(
            matches!(pick, ToolPick::Wait { index: 1, until, .. } if until == now + Duration::from_secs(30)),
            "{pick:?}"
        );
    }

    #[test]
    fn no_runnable_candidate_fails_with_every_reason() {
        let pick = pick_tool(&[
            (
                "aider".into(),
                Candidate::Unavailable("`aider` is not installed".into()),
            ),
            ("codex".into(), Candidate::Unavailable("bad profile".into())),
        ]);
        assert_eq!(
            pick,
            ToolPick::Nothing {
                skipped: vec![
                    "aider: `aider` is not installed".into(),
                    "codex: bad profile".into()
                ]
            }
        );
        assert_eq!(
            pick_tool(&[]),
            ToolPick::Nothing {
                skipped: Vec::new()
            }
        );
    }
}
