//! Circuit breakers per tool shared by the whole cluster, kept in the workflow's state.
//!
//! The local breakers (crate `pipeline-error`, `circuit_breaker.rs`; docs/ERRORS.md
//! "Circuit breakers") live in one machine's state database; on Temporal each step runs
//! in a fresh clone with a database of its own, so the breakers that count for the run
//! are these, fed by the workflow with every attempt its steps' reports list. The rules
//! are the local ones, without a clock (the workflow may not read one):
//!
//! - `closed`: steps of the tool start. A failed attempt of a counting class (`transient`,
//!   `rate_limited`, `timeout`, `stalled`, `infrastructure`: those a retry can cure) adds
//!   to `failures`; a successful attempt resets it; at `failure_threshold` the breaker
//!   opens.
//! - `open`: steps of the tool do not start (they are `waiting`). Opening returns the
//!   cooldown; the workflow starts a Temporal timer of that length and calls
//!   [`ToolBreakers::cooldown_ended`] when it fires, which makes the breaker half-open.
//!   A rate limit's reset time is not used (the workflow cannot compare instants).
//! - `half_open`: up to `half_open_trials` trial steps at once; that many successful
//!   trials close the breaker, a counting failure opens it again (a new cooldown). A
//!   failure that does not count (`permanent`, `conflict`, `budget_exceeded`, ...: the
//!   tool worked, the step is wrong) leaves the counters alone and frees a trial slot.
//!
//! A step's attempts are reported only when the step ends, so a step that retries
//! inside `pipeline step exec` counts all its attempts at once, in order.

use serde::{Deserialize, Serialize};

use crate::run_plan::ToolBreakerSettings;

/// The error classes that count against a tool's breaker (`ErrorClass::is_retryable`
/// of the error engine).
pub const COUNTING_CLASSES: [&str; 5] = [
    "transient",
    "rate_limited",
    "timeout",
    "stalled",
    "infrastructure",
];

/// Whether a failed attempt of class `class` counts against its tool's breaker.
pub fn counts(class: &str) -> bool {
    COUNTING_CLASSES.contains(&class)
}

/// A breaker's state, serialised `closed`, `open`, `half_open` (the local names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakerStatus {
    /// Steps of the tool start.
    Closed,
    /// Steps of the tool wait for the cooldown.
    Open,
    /// A few trial steps start.
    HalfOpen,
}

/// One tool's breaker, as the `state` query shows it (`RunState.breakers`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolBreaker {
    /// The tool profile.
    pub tool: String,
    /// Its state.
    pub state: BreakerStatus,
    /// Consecutive counting failures since the last success.
    pub failures: u32,
    /// The step whose failure opened it last, `None` before it ever opened.
    pub opened_by: Option<String>,
    /// How many times it opened in this run.
    pub times_opened: u32,
    /// While half-open: trial steps started and not ended yet.
    pub trials_in_flight: u32,
    /// While half-open: successful trials.
    pub trial_successes: u32,
    /// Which opening the pending cooldown timer belongs to (`times_opened` when it
    /// opened): a timer of an earlier opening is ignored.
    generation: u32,
}

/// Whether a step of a tool may start now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// Closed (or no breaker): start.
    Allowed,
    /// Half-open: start as a trial; its attempts are reported like any other.
    Trial,
    /// Open, or half-open with every trial slot taken: wait; why, in words.
    Rejected(String),
}

/// A breaker that just opened: the workflow starts a timer of `cooldown_ms` and then
/// calls [`ToolBreakers::cooldown_ended`] with `tool` and `generation`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opened {
    /// The tool profile.
    pub tool: String,
    /// Which opening this is.
    pub generation: u32,
    /// How long it stays open, in milliseconds.
    pub cooldown_ms: u64,
}

/// Every tool's breaker in one run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ToolBreakers {
    settings: Vec<ToolBreakerSettings>,
    /// Sorted by tool (a `Vec`, not a map: iteration order is part of determinism).
    breakers: Vec<ToolBreaker>,
}

impl ToolBreakers {
    /// Breakers with the given settings per tool; a tool without settings gets the
    /// defaults (threshold 5, cooldown 30 s, 1 trial).
    pub fn new(settings: Vec<ToolBreakerSettings>) -> ToolBreakers {
        ToolBreakers {
            settings,
            breakers: Vec::new(),
        }
    }

    /// The breakers that have seen a failure or an opening, sorted by tool.
    pub fn breakers(&self) -> &[ToolBreaker] {
        &self.breakers
    }

    /// `tool`'s breaker, if it exists yet.
    pub fn get(&self, tool: &str) -> Option<&ToolBreaker> {
        self.breakers.iter().find(|b| b.tool == tool)
    }

    fn settings_of(&self, tool: &str) -> ToolBreakerSettings {
        self.settings
            .iter()
            .find(|s| s.tool == tool)
            .cloned()
            .unwrap_or_else(|| ToolBreakerSettings {
                tool: tool.to_string(),
                failure_threshold: 5,
                cooldown_ms: 30_000,
                half_open_trials: 1,
            })
    }

    fn entry(&mut self, tool: &str) -> &mut ToolBreaker {
        let at = match self
            .breakers
            .binary_search_by(|b| b.tool.as_str().cmp(tool))
        {
            Ok(at) => at,
            Err(at) => {
                self.breakers.insert(
                    at,
                    ToolBreaker {
                        tool: tool.to_string(),
                        state: BreakerStatus::Closed,
                        failures: 0,
                        opened_by: None,
                        times_opened: 0,
                        trials_in_flight: 0,
                        trial_successes: 0,
                        generation: 0,
                    },
                );
                at
            }
        };
        &mut self.breakers[at]
    }

    /// Asks to start a step of `tool`; a half-open breaker takes a trial slot.
    pub fn admit(&mut self, tool: &str) -> Admission {
        let trials = self.settings_of(tool).half_open_trials.max(1);
        let Some(b) = self.breakers.iter_mut().find(|b| b.tool == tool) else {
            return Admission::Allowed;
        };
        match b.state {
            BreakerStatus::Closed => Admission::Allowed,
            BreakerStatus::Open => Admission::Rejected(format!(
                "the circuit breaker of tool {tool} is open (opened by step {} after {} \
                 failure(s)); waiting for its cooldown",
                b.opened_by.as_deref().unwrap_or("?"),
                b.failures
            )),
            BreakerStatus::HalfOpen if b.trials_in_flight >= trials => {
                Admission::Rejected(format!(
                    "the circuit breaker of tool {tool} is half-open; waiting for its trial \
                     step(s) to end"
                ))
            }
            BreakerStatus::HalfOpen => {
                b.trials_in_flight += 1;
                Admission::Trial
            }
        }
    }

    /// Records one attempt of a step of `tool` (`class` `None` = it succeeded), in the
    /// order the step made them; `trial` says whether the step was admitted as a trial
    /// (its last attempt ends the trial). Returns the opening when this attempt opened
    /// the breaker; `step` is named as its cause, `cooldown_ms` overrides the tool's
    /// cooldown (a step's own `cooldown_seconds`).
    pub fn record(
        &mut self,
        tool: &str,
        class: Option<&str>,
        step: &str,
        cooldown_ms: Option<u64>,
    ) -> Option<Opened> {
        let settings = self.settings_of(tool);
        let counting = class.is_some_and(counts);
        if class.is_none() {
            let b = self.breakers.iter_mut().find(|b| b.tool == tool)?;
            match b.state {
                BreakerStatus::Closed => b.failures = 0,
                BreakerStatus::HalfOpen => {
                    b.trials_in_flight = b.trials_in_flight.saturating_sub(1);
                    b.trial_successes += 1;
                    if b.trial_successes >= settings.half_open_trials.max(1) {
                        b.state = BreakerStatus::Closed;
                        b.failures = 0;
                        b.trials_in_flight = 0;
                        b.trial_successes = 0;
                    }
                }
                // A success of a step started before the breaker opened proves little;
                // the cooldown still runs.
                BreakerStatus::Open => {}
            }
            return None;
        }
        if !counting {
            if let Some(b) = self.breakers.iter_mut().find(|b| b.tool == tool)
                && b.state == BreakerStatus::HalfOpen
            {
                b.trials_in_flight = b.trials_in_flight.saturating_sub(1);
            }
            return None;
        }
        let b = self.entry(tool);
        b.failures = b.failures.saturating_add(1);
        let opens = match b.state {
            BreakerStatus::Closed => b.failures >= settings.failure_threshold.max(1),
            BreakerStatus::HalfOpen => true,
            BreakerStatus::Open => false,
        };
        if !opens {
            return None;
        }
        b.state = BreakerStatus::Open;
        b.opened_by = Some(step.to_string());
        b.times_opened += 1;
        b.generation = b.times_opened;
        b.trials_in_flight = 0;
        b.trial_successes = 0;
        Some(Opened {
            tool: tool.to_string(),
            generation: b.generation,
            cooldown_ms: cooldown_ms.unwrap_or(settings.cooldown_ms),
        })
    }

    /// The cooldown timer of `tool`'s opening `generation` fired: the breaker becomes
    /// half-open (unless it opened again since, with a timer of its own).
    pub fn cooldown_ended(&mut self, tool: &str, generation: u32) {
        if let Some(b) = self.breakers.iter_mut().find(|b| b.tool == tool)
            && b.state == BreakerStatus::Open
            && b.generation == generation
        {
            b.state = BreakerStatus::HalfOpen;
            b.trials_in_flight = 0;
            b.trial_successes = 0;
        }
    }

    /// A trial step of `tool` ended without reporting attempts (its worker could not
    /// prepare it, or it was cancelled): its slot is free again.
    pub fn release_trial(&mut self, tool: &str) {
        if let Some(b) = self.breakers.iter_mut().find(|b| b.tool == tool)
            && b.state == BreakerStatus::HalfOpen
        {
            b.trials_in_flight = b.trials_in_flight.saturating_sub(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breakers(threshold: u32, trials: u32) -> ToolBreakers {
        ToolBreakers::new(vec![ToolBreakerSettings {
            tool: "flaky".into(),
            failure_threshold: threshold,
            cooldown_ms: 2_000,
            half_open_trials: trials,
        }])
    }

    #[test]
    fn counting_failures_open_at_the_threshold_and_a_success_resets_the_count() {
        let mut b = breakers(3, 1);
        assert_eq!(b.record("flaky", Some("transient"), "ws/a", None), None);
        assert_eq!(b.record("flaky", None, "ws/b", None), None);
        assert_eq!(b.get("flaky").map(|x| x.failures), Some(0), "reset");
        assert_eq!(b.record("flaky", Some("timeout"), "ws/a", None), None);
        assert_eq!(b.record("flaky", Some("rate_limited"), "ws/c", None), None);
        assert_eq!(b.admit("flaky"), Admission::Allowed);
        let opened = b.record("flaky", Some("stalled"), "ws/d", None);
        assert_eq!(
            opened,
            Some(Opened {
                tool: "flaky".into(),
                generation: 1,
                cooldown_ms: 2_000
            })
        );
        let state = b.get("flaky").expect("breaker");
        assert_eq!(state.state, BreakerStatus::Open);
        assert_eq!(state.failures, 3);
        assert_eq!(state.opened_by.as_deref(), Some("ws/d"));
        match b.admit("flaky") {
            Admission::Rejected(why) => {
                assert!(why.contains("tool flaky is open"), "{why}");
                assert!(why.contains("ws/d"), "{why}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn permanent_failures_do_not_count_and_other_tools_are_not_affected() {
        let mut b = breakers(1, 1);
        for class in ["permanent", "conflict", "budget_exceeded", "rejected"] {
            assert_eq!(
                b.record("flaky", Some(class), "ws/a", None),
                None,
                "{class}"
            );
        }
        assert_eq!(b.admit("flaky"), Admission::Allowed);
        assert!(
            b.record("flaky", Some("infrastructure"), "ws/a", None)
                .is_some()
        );
        assert_eq!(b.admit("other"), Admission::Allowed);
        assert!(!counts("permanent"));
        assert!(counts("transient"));
    }

    #[test]
    fn after_the_cooldown_one_trial_runs_and_its_success_closes_the_breaker() {
        let mut b = breakers(1, 1);
        let opened = b
            .record("flaky", Some("transient"), "ws/a", None)
            .expect("opens");
        b.cooldown_ended("flaky", opened.generation);
        assert_eq!(
            b.get("flaky").map(|x| x.state),
            Some(BreakerStatus::HalfOpen)
        );
        assert_eq!(b.admit("flaky"), Admission::Trial);
        assert!(
            matches!(b.admit("flaky"), Admission::Rejected(why) if why.contains("half-open")),
            "one trial at a time"
        );
        assert_eq!(b.record("flaky", None, "ws/b", None), None);
        assert_eq!(b.get("flaky").map(|x| x.state), Some(BreakerStatus::Closed));
        assert_eq!(b.admit("flaky"), Admission::Allowed);
    }

    #[test]
    fn a_failed_trial_opens_it_again_with_a_new_timer_and_the_old_timer_is_ignored() {
        let mut b = breakers(2, 1);
        b.record("flaky", Some("transient"), "ws/a", None);
        let first = b
            .record("flaky", Some("transient"), "ws/b", Some(500))
            .expect("opens");
        assert_eq!(first.cooldown_ms, 500, "the step's own cooldown");
        b.cooldown_ended("flaky", first.generation);
        assert_eq!(b.admit("flaky"), Admission::Trial);
        let second = b
            .record("flaky", Some("timeout"), "ws/c", None)
            .expect("a failed trial opens it again");
        assert_eq!(second.generation, 2);
        assert_eq!(second.cooldown_ms, 2_000);
        b.cooldown_ended("flaky", first.generation);
        assert_eq!(b.get("flaky").map(|x| x.state), Some(BreakerStatus::Open));
        assert_eq!(b.get("flaky").map(|x| x.times_opened), Some(2));
        b.cooldown_ended("flaky", second.generation);
        assert_eq!(b.admit("flaky"), Admission::Trial);
        // A trial that never reported attempts frees its slot.
        b.release_trial("flaky");
        assert_eq!(b.admit("flaky"), Admission::Trial);
        // A non-counting failure of the trial frees the slot without closing.
        b.record("flaky", Some("permanent"), "ws/d", None);
        assert_eq!(
            b.get("flaky").map(|x| x.state),
            Some(BreakerStatus::HalfOpen)
        );
        assert_eq!(b.admit("flaky"), Admission::Trial);
    }

    #[test]
    fn two_trials_must_succeed_when_half_open_trials_is_two() {
        let mut b = breakers(1, 2);
        let o = b
            .record("flaky", Some("transient"), "ws/a", None)
            .expect("opens");
        b.cooldown_ended("flaky", o.generation);
        assert_eq!(b.admit("flaky"), Admission::Trial);
        assert_eq!(b.admit("flaky"), Admission::Trial);
        assert!(matches!(b.admit("flaky"), Admission::Rejected(_)));
        b.record("flaky", None, "ws/b", None);
        assert_eq!(
            b.get("flaky").map(|x| x.state),
            Some(BreakerStatus::HalfOpen)
        );
        b.record("flaky", None, "ws/c", None);
        assert_eq!(b.get("flaky").map(|x| x.state), Some(BreakerStatus::Closed));
    }

    #[test]
    fn tools_without_settings_get_the_local_defaults() {
        let mut b = ToolBreakers::new(Vec::new());
        for _ in 0..4 {
            assert_eq!(b.record("t", Some("transient"), "ws/a", None), None);
        }
        let o = b.record("t", Some("transient"), "ws/a", None).expect("5th");
        assert_eq!(o.cooldown_ms, 30_000);
    }
}
