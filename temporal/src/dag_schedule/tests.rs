//! The ready-queue rules against hand-built plans (no workflow, no server).

use super::*;
use crate::run_plan::{PlannedStep, RunPlan};

fn plan(steps: &[(&str, &[usize], u32)], exclusions: &[(usize, usize)], jobs: u32) -> RunPlan {
    RunPlan {
        run_id: "r1".into(),
        base_commit: "0".repeat(40),
        steps: steps
            .iter()
            .map(|&(id, deps, priority)| PlannedStep {
                id: id.into(),
                deps: deps.to_vec(),
                priority,
                capability: None,
                tool: None,
                ai: false,
                approval: false,
                breaker_cooldown_ms: None,
            })
            .collect(),
        exclusions: exclusions.to_vec(),
        jobs,
        task_queue: "q".into(),
        workstream_files: vec![],
        heartbeat_timeout_secs: 5,
        max_worker_losses: 1,
        step_timeout_secs: 60,
        breakers: vec![],
        budget: Default::default(),
        approve_all: false,
    }
}

#[test]
fn roots_start_by_priority_then_plan_order_up_to_jobs() {
    let p = plan(
        &[("a", &[], 1), ("b", &[], 3), ("c", &[], 3), ("d", &[], 2)],
        &[],
        2,
    );
    let mut s = DagSchedule::new(&p);
    assert_eq!(s.start_ready(), vec![1, 2]);
    assert_eq!(s.start_ready(), Vec::<usize>::new(), "no slot is free");
    s.complete(2, "c2".into());
    assert_eq!(s.start_ready(), vec![3]);
}

#[test]
fn a_step_starts_when_its_last_dependency_completes_with_their_results_as_inputs() {
    let p = plan(&[("a", &[], 0), ("b", &[], 0), ("c", &[0, 1], 0)], &[], 4);
    let mut s = DagSchedule::new(&p);
    assert_eq!(s.start_ready(), vec![0, 1]);
    s.complete(1, "bbb".into());
    assert_eq!(s.start_ready(), Vec::<usize>::new());
    assert_eq!(s.status(2), &StepStatus::Pending);
    s.complete(0, "aaa".into());
    assert_eq!(s.start_ready(), vec![2]);
    assert_eq!(s.inputs(2), vec!["aaa".to_string(), "bbb".to_string()]);
    assert!(s.inputs(0).is_empty());
    assert_eq!(s.dependency_ids(2), vec!["a".to_string(), "b".to_string()]);
}

#[test]
fn excluded_steps_never_run_together_and_the_next_ready_step_goes_first() {
    // a and b conflict; c is free. With 2 slots: a runs, b waits, c takes the slot.
    let p = plan(&[("a", &[], 5), ("b", &[], 4), ("c", &[], 1)], &[(0, 1)], 2);
    let mut s = DagSchedule::new(&p);
    assert_eq!(s.start_ready(), vec![0, 2]);
    s.complete(2, "c".into());
    assert_eq!(
        s.start_ready(),
        Vec::<usize>::new(),
        "b still excluded by a"
    );
    s.complete(0, "a".into());
    assert_eq!(s.start_ready(), vec![1]);
}

#[test]
fn a_failure_skips_transitive_dependents_only() {
    // a -> b -> c ; d independent ; e depends on b and d.
    let p = plan(
        &[
            ("a", &[], 0),
            ("b", &[0], 0),
            ("c", &[1], 0),
            ("d", &[], 0),
            ("e", &[1, 3], 0),
        ],
        &[],
        4,
    );
    let mut s = DagSchedule::new(&p);
    assert_eq!(s.start_ready(), vec![0, 3]);
    s.fail(0, "boom".into());
    for i in [1, 2, 4] {
        assert_eq!(
            s.status(i),
            &StepStatus::Skipped {
                dependency: "a".into(),
                reason: None,
            },
            "step {i}"
        );
    }
    assert!(!s.is_done());
    s.complete(3, "d".into());
    assert!(s.is_done());
    assert_eq!(s.result_heads(), vec!["d".to_string()]);
}

#[test]
fn result_heads_leave_out_results_a_completed_dependent_contains() {
    let p = plan(
        &[("a", &[], 0), ("b", &[0], 0), ("c", &[0], 0), ("d", &[], 0)],
        &[],
        4,
    );
    let mut s = DagSchedule::new(&p);
    s.start_ready();
    s.complete(0, "a1".into());
    s.complete(3, "d1".into());
    s.start_ready();
    s.complete(2, "c1".into());
    s.fail(1, "x".into());
    // b failed: a is still built on by c; heads are c and d.
    assert_eq!(s.result_heads(), vec!["c1".to_string(), "d1".to_string()]);
}

#[test]
fn cancellation_ends_waiting_and_running_steps_and_late_results_are_ignored() {
    let p = plan(&[("a", &[], 0), ("b", &[0], 0), ("c", &[], 0)], &[], 1);
    let mut s = DagSchedule::new(&p);
    assert_eq!(s.start_ready(), vec![0]);
    s.cancel_waiting();
    s.cancel_running(0);
    assert!(s.is_done());
    s.complete(0, "late".into());
    assert_eq!(s.status(0), &StepStatus::Cancelled);
    assert_eq!(s.status(1), &StepStatus::Cancelled);
    assert_eq!(s.status(2), &StepStatus::Cancelled);
    assert!(s.result_heads().is_empty());
}

#[test]
fn status_words_match_the_local_vocabulary() {
    assert_eq!(
        StepStatus::Completed { commit: "x".into() }.word(),
        "completed"
    );
    assert_eq!(
        StepStatus::Skipped {
            dependency: "x".into(),
            reason: None,
        }
        .word(),
        "skipped"
    );
    assert!(!StepStatus::Running.is_final());
}

#[test]
fn a_held_step_waits_without_a_slot_and_the_next_ready_step_starts() {
    // a (tool t, priority 3) is held by its breaker; b and c start in its place.
    let p = plan(&[("a", &[], 3), ("b", &[], 2), ("c", &[], 1)], &[], 2);
    let mut s = DagSchedule::new(&p);
    let hold = |i: usize| {
        if i == 0 {
            Gate::Hold {
                tool: "t".into(),
                reason: "open".into(),
            }
        } else {
            Gate::Start
        }
    };
    assert_eq!(s.start_ready_gated(hold), vec![1, 2]);
    assert_eq!(
        s.status(0),
        &StepStatus::Waiting {
            tool: "t".into(),
            reason: "open".into()
        }
    );
    assert_eq!(s.status(0).word(), "waiting");
    assert!(!s.status(0).is_final());
    s.complete(1, "b1".into());
    // The breaker admits it now: it starts ahead of nothing else (no step is ready).
    assert_eq!(s.start_ready_gated(|_| Gate::Start), vec![0]);
}

#[test]
fn a_skipped_step_skips_its_dependents_with_the_reason_on_itself_only() {
    let p = plan(&[("a", &[], 0), ("b", &[0], 0), ("c", &[], 0)], &[], 4);
    let mut s = DagSchedule::new(&p);
    let started = s.start_ready_gated(|i| {
        if i == 0 {
            Gate::Skip("run budget of $1.0000 spent".into())
        } else {
            Gate::Start
        }
    });
    assert_eq!(started, vec![2]);
    assert_eq!(
        s.status(0),
        &StepStatus::Skipped {
            dependency: String::new(),
            reason: Some("run budget of $1.0000 spent".into())
        }
    );
    assert_eq!(
        s.status(1),
        &StepStatus::Skipped {
            dependency: "a".into(),
            reason: None
        }
    );
    let json = serde_json::to_value(s.status(0)).expect("json");
    assert_eq!(json["status"], "skipped");
    assert!(json.get("dependency").is_none(), "{json}");
}

#[test]
fn an_approval_gate_holds_dependents_until_approved_and_frees_its_slot() {
    let p = plan(&[("a", &[], 1), ("b", &[0], 0), ("c", &[], 0)], &[], 1);
    let mut s = DagSchedule::new(&p);
    assert_eq!(s.start_ready(), vec![0]);
    s.await_approval(0, "a1".into());
    assert!(s.is_awaiting(0));
    assert_eq!(s.status(0).word(), "awaiting_approval");
    // The awaiting step holds no slot: c starts; b still waits for a's decision.
    assert_eq!(s.start_ready(), vec![2]);
    assert_eq!(s.status(1), &StepStatus::Pending);
    assert!(!s.approve(2), "c is not awaiting approval");
    assert!(s.approve(0));
    assert_eq!(
        s.status(0),
        &StepStatus::Completed {
            commit: "a1".into()
        }
    );
    assert!(!s.approve(0), "a second decision changes nothing");
    s.complete(2, "c1".into());
    assert_eq!(s.start_ready(), vec![1]);
    assert_eq!(s.inputs(1), vec!["a1".to_string()]);
}

#[test]
fn a_rejection_fails_the_step_and_skips_its_dependents() {
    let p = plan(&[("a", &[], 0), ("b", &[0], 0)], &[], 1);
    let mut s = DagSchedule::new(&p);
    s.start_ready();
    assert!(
        !s.reject(0, "too early".into()),
        "a is running, not awaiting"
    );
    s.await_approval(0, "a1".into());
    assert!(s.reject(0, "rejected by ann: no".into()));
    assert_eq!(
        s.status(0),
        &StepStatus::Failed {
            error: "rejected by ann: no".into()
        }
    );
    assert_eq!(
        s.status(1),
        &StepStatus::Skipped {
            dependency: "a".into(),
            reason: None
        }
    );
    assert!(s.is_done());
    assert!(s.result_heads().is_empty());
}

#[test]
fn cancellation_ends_waiting_and_awaiting_steps() {
    let p = plan(&[("a", &[], 0), ("b", &[], 0)], &[], 2);
    let mut s = DagSchedule::new(&p);
    s.start_ready_gated(|i| {
        if i == 1 {
            Gate::Hold {
                tool: "t".into(),
                reason: "open".into(),
            }
        } else {
            Gate::Start
        }
    });
    s.await_approval(0, "a1".into());
    s.cancel_waiting();
    assert_eq!(s.status(0), &StepStatus::Cancelled);
    assert_eq!(s.status(1), &StepStatus::Cancelled);
    assert!(s.is_done());
}
