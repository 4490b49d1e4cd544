//! What follows a failed attempt: the step lifecycle's one decision, as a pure function.
//!
//! Order (DESIGN "Errors and recovery"): failing acceptance tests of an AI tool, or an
//! AI tool that changed nothing (`no_change`), are fed back as a fix prompt while the
//! step has `fix_attempts` left; otherwise the error
//! engine's retry policy decides ([`pipeline_error::decide`]: not-retryable classes, the
//! attempt budget, a repeating signature and oscillation stop; a rate limit waits for its
//! reset; else a backoff with jitter); when it gives up, the next tool of the step's
//! `escalation` chain takes over, and only when the chain is exhausted does the step
//! fail, running its compensations if it has any.
//!
//! No clock, process, git or database here: the caller passes the time and the history
//! it read, so every branch is a unit test.

use std::time::{Duration, SystemTime};

use pipeline_error::{Decision, ErrorReport, GiveUpReason, History, RetryPolicy};

/// Which part of an attempt failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stage {
    /// The tool (or the step's command).
    Tool,
    /// An acceptance test.
    Tests,
    /// The `files_scope` check.
    Scope,
    /// Listing or committing the step's changes.
    Commit,
    /// An AI tool finished without changing any file (reason `no_change`): fed back
    /// like failing tests, permanent otherwise.
    NoChange,
}

/// A failed attempt, as the decision needs it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FailedAttempt<'a> {
    /// What failed.
    pub stage: Stage,
    /// The error engine's classification.
    pub report: &'a ErrorReport,
    /// Whether the attempt's tool is an AI tool that can take a fix prompt.
    pub takes_prompts: bool,
}

/// What the step has left to recover with.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Recovery<'a> {
    /// Fix prompts left for the current tool (`fix_attempts`, reset per tool).
    pub fixes_left: u32,
    /// The next tool of the `escalation` chain, if any is left.
    pub next_tool: Option<&'a str>,
    /// Whether the step declares compensations.
    pub has_compensations: bool,
}

/// The decision after a failed attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum NextAction {
    /// Ask the same tool to fix the failing tests, in the same worktree, at once.
    Fix {
        /// Fix attempts left after this one.
        fixes_left: u32,
    },
    /// Run the next attempt from a clean worktree after this backoff delay.
    Retry {
        /// The delay.
        after: Duration,
    },
    /// Run the next attempt from a clean worktree at this instant (a rate limit's reset).
    Wait {
        /// The instant.
        until: SystemTime,
    },
    /// The tool gave up: run the next tool of the escalation chain, from a clean worktree.
    Escalate {
        /// The tool.
        to: String,
        /// Why the previous tool gave up.
        reason: GiveUpReason,
    },
    /// The step fails for good.
    Fail {
        /// Why.
        reason: GiveUpReason,
        /// Run the step's compensations (saga) before recording the failure.
        compensate: bool,
    },
}

/// Decides what follows `failed` (see the module docs for the order). `history` holds
/// the step's earlier failed attempts, oldest first, without this one; `now` is the
/// time the decision is made at.
pub(crate) fn next_action(
    failed: FailedAttempt<'_>,
    recovery: Recovery<'_>,
    policy: &RetryPolicy,
    history: &History,
    now: SystemTime,
) -> NextAction {
    if matches!(failed.stage, Stage::Tests | Stage::NoChange)
        && failed.takes_prompts
        && recovery.fixes_left > 0
    {
        return NextAction::Fix {
            fixes_left: recovery.fixes_left - 1,
        };
    }
    match pipeline_error::decide(policy, history, failed.report, now) {
        Decision::Retry { after } => NextAction::Retry { after },
        Decision::WaitUntil(until) => NextAction::Wait { until },
        Decision::GiveUp { reason } => match recovery.next_tool {
            Some(to) => NextAction::Escalate {
                to: to.to_owned(),
                reason,
            },
            None => NextAction::Fail {
                reason,
                compensate: recovery.has_compensations,
            },
        },
    }
}

/// The error class of a rejected result (docs/ERRORS.md): permanent, never retried by
/// the error engine; only an AI tool with fix attempts left gets another try.
pub(crate) const REJECTED_CLASS: &str = "rejected";

/// What follows a rejected result (docs/APPROVALS.md).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Rejection {
    /// Feed the reviewer's comment back to the AI tool as a fix prompt.
    Fix {
        /// Fix attempts left after this one.
        fixes_left: u32,
    },
    /// The step fails with class `rejected`.
    Fail {
        /// Why it is not fed back, in words.
        why: &'static str,
    },
}

/// The decision after a rejection: the rule of failing acceptance tests (an AI tool,
/// `takes_prompts`, with fix attempts left gets a fix prompt), else failure.
pub(crate) fn after_rejection(takes_prompts: bool, fixes_left: u32) -> Rejection {
    match (takes_prompts, fixes_left) {
        (true, left) if left > 0 => Rejection::Fix {
            fixes_left: left - 1,
        },
        (true, _) => Rejection::Fail {
            why: "no fix attempts left (`fix_attempts`)",
        },
        (false, _) => Rejection::Fail {
            why: "its tool is a command, which takes no fix prompt",
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pipeline_error::{ErrorClass, RetrySettings};

    fn report(class: ErrorClass, signature: &str, output_hash: &str) -> ErrorReport {
        ErrorReport {
            class,
            plugin: "test".into(),
            signature: signature.into(),
            normalized: String::new(),
            summary: "it failed".into(),
            diagnostics: Vec::new(),
            output_hash: output_hash.into(),
            diff_hash: None,
            plugin_failures: Vec::new(),
        }
    }

    fn policy(settings: RetrySettings) -> RetryPolicy {
        RetryPolicy::from_settings(&settings)
            .unwrap_or_else(|e| panic!("test policy: {e}"))
            .with_jitter_seed(7)
    }

    fn retries(max_attempts: u32) -> RetryPolicy {
        policy(RetrySettings {
            enabled: Some(true),
            max_attempts: Some(max_attempts),
            initial_delay: Some(2.0),
            max_delay: Some(60.0),
            multiplier: Some(2.0),
            jitter: Some(false),
            ..RetrySettings::default()
        })
    }

    fn history(signatures: &[(&str, &str)]) -> History {
        let mut h = History::new();
        for (signature, output) in signatures {
            h.push(pipeline_error::PastAttempt::from_report(&report(
                ErrorClass::Transient,
                signature,
                output,
            )));
        }
        h
    }

    const NO_RECOVERY: Recovery<'static> = Recovery {
        fixes_left: 0,
        next_tool: None,
        has_compensations: false,
    };

    fn tool_failure(r: &ErrorReport) -> FailedAttempt<'_> {
        FailedAttempt {
            stage: Stage::Tool,
            report: r,
            takes_prompts: true,
        }
    }

    #[test]
    fn a_rejection_is_fed_back_only_to_an_ai_tool_with_fixes_left() {
        assert_eq!(after_rejection(true, 2), Rejection::Fix { fixes_left: 1 });
        assert_eq!(after_rejection(true, 1), Rejection::Fix { fixes_left: 0 });
        assert!(
            matches!(after_rejection(true, 0), Rejection::Fail { why } if why.contains("fix_attempts"))
        );
        assert!(
            matches!(after_rejection(false, 3), Rejection::Fail { why } if why.contains("command"))
        );
    }

    #[test]
    fn an_ai_tool_that_changed_nothing_gets_a_fix_then_fails_permanently() {
        let r = report(ErrorClass::Permanent, "no-change", "o1");
        let failed = FailedAttempt {
            stage: Stage::NoChange,
            report: &r,
            takes_prompts: true,
        };
        let now = SystemTime::now();
        let recovery = Recovery {
            fixes_left: 1,
            ..NO_RECOVERY
        };
        assert_eq!(
            next_action(failed, recovery, &retries(3), &History::new(), now),
            NextAction::Fix { fixes_left: 0 }
        );
        assert!(matches!(
            next_action(failed, NO_RECOVERY, &retries(3), &History::new(), now),
            NextAction::Fail {
                reason: GiveUpReason::NotRetryable { .. },
                ..
            }
        ));
        let escalating = Recovery {
            next_tool: Some("claude"),
            ..NO_RECOVERY
        };
        assert!(matches!(
            next_action(failed, escalating, &retries(3), &History::new(), now),
            NextAction::Escalate { ref to, .. } if to == "claude"
        ));
    }

    #[test]
    fn failing_tests_of_an_ai_tool_ask_for_a_fix_while_fixes_last() {
        let r = report(ErrorClass::Permanent, "s1", "o1");
        let failed = FailedAttempt {
            stage: Stage::Tests,
            report: &r,
            takes_prompts: true,
        };
        let recovery = Recovery {
            fixes_left: 2,
            ..NO_RECOVERY
        };
        let now = SystemTime::now();
        assert_eq!(
            next_action(failed, recovery, &retries(3), &History::new(), now),
            NextAction::Fix { fixes_left: 1 }
        );
        // No fixes left: the retry policy decides (a permanent failure is not retried).
        assert!(matches!(
            next_action(failed, NO_RECOVERY, &retries(3), &History::new(), now),
            NextAction::Fail {
                reason: GiveUpReason::NotRetryable { .. },
                ..
            }
        ));
    }

    #[test]
    fn a_plain_command_or_a_tool_failure_is_never_sent_a_fix_prompt() {
        let r = report(ErrorClass::Permanent, "s1", "o1");
        let recovery = Recovery {
            fixes_left: 2,
            ..NO_RECOVERY
        };
        let command = FailedAttempt {
            stage: Stage::Tests,
            report: &r,
            takes_prompts: false,
        };
        let now = SystemTime::now();
        assert!(matches!(
            next_action(command, recovery, &retries(3), &History::new(), now),
            NextAction::Fail { .. }
        ));
        assert!(matches!(
            next_action(
                tool_failure(&r),
                recovery,
                &retries(3),
                &History::new(),
                now
            ),
            NextAction::Fail { .. }
        ));
    }

    #[test]
    fn a_transient_failure_retries_after_an_exponential_backoff() {
        let r = report(ErrorClass::Transient, "s1", "o1");
        let now = SystemTime::now();
        let first = next_action(
            tool_failure(&r),
            NO_RECOVERY,
            &retries(4),
            &History::new(),
            now,
        );
        assert_eq!(
            first,
            NextAction::Retry {
                after: Duration::from_secs(2)
            }
        );
        let second = next_action(
            tool_failure(&report(ErrorClass::Transient, "s2", "o2")),
            NO_RECOVERY,
            &retries(4),
            &history(&[("s1", "o1")]),
            now,
        );
        assert_eq!(
            second,
            NextAction::Retry {
                after: Duration::from_secs(4)
            }
        );
    }

    #[test]
    fn a_rate_limit_with_a_known_reset_waits_for_it() {
        let now = SystemTime::now();
        let reset = now + Duration::from_secs(30);
        let r = report(
            ErrorClass::RateLimited {
                reset_at: Some(reset),
                retry_after: None,
            },
            "s1",
            "o1",
        );
        assert_eq!(
            next_action(
                tool_failure(&r),
                NO_RECOVERY,
                &retries(3),
                &History::new(),
                now
            ),
            NextAction::Wait { until: reset }
        );
    }

    #[test]
    fn exhausted_attempts_escalate_to_the_next_tool_before_failing() {
        let r = report(ErrorClass::Transient, "s3", "o3");
        let earlier = history(&[("s1", "o1"), ("s2", "o2")]);
        let now = SystemTime::now();
        let recovery = Recovery {
            next_tool: Some("codex"),
            ..NO_RECOVERY
        };
        assert_eq!(
            next_action(tool_failure(&r), recovery, &retries(3), &earlier, now),
            NextAction::Escalate {
                to: "codex".into(),
                reason: GiveUpReason::AttemptsExhausted { attempts: 3 }
            }
        );
        assert_eq!(
            next_action(tool_failure(&r), NO_RECOVERY, &retries(3), &earlier, now),
            NextAction::Fail {
                reason: GiveUpReason::AttemptsExhausted { attempts: 3 },
                compensate: false
            }
        );
    }

    #[test]
    fn a_repeating_error_stops_the_retries() {
        let p = policy(RetrySettings {
            enabled: Some(true),
            max_attempts: Some(10),
            initial_delay: Some(1.0),
            max_error_repeats: Some(2),
            ..RetrySettings::default()
        });
        let r = report(ErrorClass::Transient, "same", "o2");
        let action = next_action(
            tool_failure(&r),
            NO_RECOVERY,
            &p,
            &history(&[("same", "o1")]),
            SystemTime::now(),
        );
        assert!(
            matches!(
                &action,
                NextAction::Fail {
                    reason: GiveUpReason::ErrorRepeated { times: 2, .. },
                    ..
                }
            ),
            "{action:?}"
        );
    }

    #[test]
    fn oscillating_output_stops_the_retries() {
        let p = policy(RetrySettings {
            enabled: Some(true),
            max_attempts: Some(10),
            initial_delay: Some(1.0),
            oscillation_threshold: Some(2),
            oscillation_window: Some(4),
            ..RetrySettings::default()
        });
        // Output A, then B, then A again: oscillation, although no signature repeats.
        let r = report(ErrorClass::Transient, "s3", "A");
        let action = next_action(
            tool_failure(&r),
            NO_RECOVERY,
            &p,
            &history(&[("s1", "A"), ("s2", "B")]),
            SystemTime::now(),
        );
        assert!(
            matches!(
                &action,
                NextAction::Fail {
                    reason: GiveUpReason::Oscillation { .. },
                    ..
                }
            ),
            "{action:?}"
        );
    }

    #[test]
    fn a_permanent_failure_runs_the_compensations_when_the_step_has_them() {
        let r = report(ErrorClass::Permanent, "s1", "o1");
        let recovery = Recovery {
            has_compensations: true,
            ..NO_RECOVERY
        };
        assert_eq!(
            next_action(
                tool_failure(&r),
                recovery,
                &retries(3),
                &History::new(),
                SystemTime::now()
            ),
            NextAction::Fail {
                reason: GiveUpReason::NotRetryable {
                    class: "permanent".into()
                },
                compensate: true
            }
        );
    }

    #[test]
    fn disabled_retries_fail_a_transient_failure_at_once() {
        let p = policy(RetrySettings {
            enabled: Some(false),
            ..RetrySettings::default()
        });
        let r = report(ErrorClass::Transient, "s1", "o1");
        assert_eq!(
            next_action(
                tool_failure(&r),
                NO_RECOVERY,
                &p,
                &History::new(),
                SystemTime::now()
            ),
            NextAction::Fail {
                reason: GiveUpReason::RetriesDisabled,
                compensate: false
            }
        );
    }
}
