//! The scheduler's rules against a fake step runner: no processes, no git.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Barrier, Notify};

use super::*;
use crate::engine::SilentReporter;
use crate::model::{LoadOptions, WorkstreamSet, load_workstreams};
use crate::state::{Change, Event, StateStore};

/// What a fake step does.
#[derive(Clone)]
enum Behaviour {
    Complete,
    Fail,
    /// Waits at the barrier (with the other steps given the same one) then completes.
    Meet(Arc<Barrier>),
    /// Gives its job slot back while waiting for the notification, then completes.
    WaitLendingSlot(Arc<Notify>),
    /// Completes after notifying.
    CompleteAndNotify(Arc<Notify>),
}

#[derive(Default)]
struct Observed {
    started: Mutex<Vec<usize>>,
    running: AtomicUsize,
    max_running: AtomicUsize,
    /// Pairs of steps seen running at the same time.
    overlaps: Mutex<Vec<(usize, usize)>>,
    now_running: Mutex<Vec<usize>>,
    /// Per started step, the commit of the result it was resumed awaiting approval of.
    awaiting: Mutex<Vec<(usize, Option<String>)>>,
}

struct FakeRunner {
    behaviour: HashMap<usize, Behaviour>,
    observed: Arc<Observed>,
    cancel: CancellationToken,
}

impl StepRunner for FakeRunner {
    fn run(
        &self,
        step: usize,
        _inputs: Vec<Oid>,
        _first_attempt: u32,
        awaiting: Option<Checkpoint>,
    ) -> Pin<Box<dyn Future<Output = StepResult> + Send>> {
        let behaviour = self
            .behaviour
            .get(&step)
            .cloned()
            .unwrap_or(Behaviour::Complete);
        let o = self.observed.clone();
        let cancel = self.cancel.clone();
        o.awaiting
            .lock()
            .unwrap()
            .push((step, awaiting.map(|c| c.commit)));
        Box::pin(async move {
            o.started.lock().unwrap().push(step);
            {
                let mut now = o.now_running.lock().unwrap();
                for &other in now.iter() {
                    o.overlaps
                        .lock()
                        .unwrap()
                        .push((other.min(step), other.max(step)));
                }
                now.push(step);
            }
            let n = o.running.fetch_add(1, Ordering::SeqCst) + 1;
            o.max_running.fetch_max(n, Ordering::SeqCst);
            // Let every other ready task run before this one ends.
            for _ in 0..20 {
                tokio::task::yield_now().await;
            }
            let result = match behaviour {
                Behaviour::Complete => StepResult::Completed {
                    commit: commit(step),
                },
                Behaviour::Fail => StepResult::Failed,
                Behaviour::Meet(barrier) => {
                    barrier.wait().await;
                    StepResult::Completed {
                        commit: commit(step),
                    }
                }
                Behaviour::WaitLendingSlot(notify) => {
                    let _ = job_slots::while_waiting(&cancel, notify.notified()).await;
                    StepResult::Completed {
                        commit: commit(step),
                    }
                }
                Behaviour::CompleteAndNotify(notify) => {
                    notify.notify_one();
                    StepResult::Completed {
                        commit: commit(step),
                    }
                }
            };
            o.running.fetch_sub(1, Ordering::SeqCst);
            o.now_running.lock().unwrap().retain(|&s| s != step);
            result
        })
    }
}

fn commit(step: usize) -> Oid {
    Oid::from_str(&format!("{:040x}", step + 1)).unwrap()
}

struct Fixture {
    _dir: tempfile::TempDir,
    set: WorkstreamSet,
    plan: Plan,
    store: StateStore,
    journal: RunJournal,
    cancel: CancellationToken,
}

impl Fixture {
    /// The steps of one workstream `w` (JSON array of step objects).
    fn new(steps: &str) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("w.json");
        std::fs::write(&file, format!(r#"{{"id": "w", "steps": {steps}}}"#)).unwrap();
        let registry = pipeline_adapters::ToolRegistry::load(None, &[]).unwrap();
        let set = load_workstreams(&[file], &LoadOptions { catalog: &registry })
            .unwrap_or_else(|e| panic!("{e}"));
        let plan = Plan::build(&set).unwrap();
        let store = StateStore::open(
            &dir.path().join("state.db"),
            crate::state::Durability::Normal,
        )
        .unwrap();
        let cancel = CancellationToken::new();
        let journal = RunJournal::new(
            store.clone(),
            "r",
            Arc::new(SilentReporter),
            cancel.clone(),
            &[],
        );
        let mut changes = vec![Change::Event(Event::RunStarted {
            workstreams: "w.json".into(),
            repo: "/repo".into(),
            base_commit: commit(999).to_string(),
            result_branch: "pipeline/r".into(),
            steps: set.steps.len(),
            jobs: 1,
            plan_hash: "h".into(),
            resumed: false,
            pid: 1,
            budget_usd: None,
            budget_tokens: None,
            engine: None,
        })];
        for s in &set.steps {
            changes.push(Change::Event(Event::StepAdded {
                step: s.id.to_string(),
                workstream: "w".into(),
                definition_hash: s.definition_hash.clone(),
                depends_on: s.depends_on.iter().map(|d| d.to_string()).collect(),
            }));
        }
        journal.record_changes(changes).unwrap();
        Fixture {
            _dir: dir,
            set,
            plan,
            store,
            journal,
            cancel,
        }
    }

    fn index(&self, id: &str) -> usize {
        self.set
            .steps
            .iter()
            .position(|s| s.id.as_str() == format!("w/{id}"))
            .unwrap_or_else(|| panic!("no step {id}"))
    }

    /// Schedules with `jobs` slots; each step behaves as given (default: completes).
    async fn run(
        &self,
        jobs: usize,
        behaviour: &[(&str, Behaviour)],
    ) -> (ScheduleOutcome, Arc<Observed>) {
        let observed = Arc::new(Observed::default());
        let runner = FakeRunner {
            behaviour: behaviour
                .iter()
                .map(|(id, b)| (self.index(id), b.clone()))
                .collect(),
            observed: observed.clone(),
            cancel: self.cancel.clone(),
        };
        let mut every_commit_exists = |_: &str| true;
        let schedule_run = schedule(
            Schedule {
                steps: &self.set.steps,
                plan: &self.plan,
                base: commit(999),
                jobs,
                journal: &self.journal,
                cancel: &self.cancel,
            },
            runner,
            HashMap::new(),
            &mut every_commit_exists,
        );
        let outcome = tokio::time::timeout(Duration::from_secs(20), schedule_run)
            .await
            .expect("scheduling finished (no deadlock)")
            .expect("no journal failure");
        (outcome, observed)
    }

    fn started_ids(&self, observed: &Observed) -> Vec<String> {
        observed
            .started
            .lock()
            .unwrap()
            .iter()
            .map(|&i| self.set.steps[i].id.to_string())
            .collect()
    }
}

#[tokio::test]
async fn ready_steps_start_critical_path_first_then_in_file_order() {
    // Chain a -> b -> c is the critical path; d and e are independent.
    let f = Fixture::new(
        r#"[{"id": "d", "command": "true"},
            {"id": "a", "command": "true"},
            {"id": "b", "command": "true", "depends_on": ["a"]},
            {"id": "e", "command": "true"},
            {"id": "c", "command": "true", "depends_on": ["b"]}]"#,
    );
    let (outcome, observed) = f.run(1, &[]).await;
    assert_eq!(
        f.started_ids(&observed),
        ["w/a", "w/b", "w/d", "w/e", "w/c"],
        "priority = longest chain to a sink (a 3, b 2, others 1), ties in file order"
    );
    assert!(outcome.finals.iter().all(|&x| x == Final::Completed));
    assert_eq!(observed.max_running.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn at_most_jobs_steps_run_at_once_and_that_many_do() {
    let f = Fixture::new(
        r#"[{"id": "s1", "command": "true"}, {"id": "s2", "command": "true"},
            {"id": "s3", "command": "true"}, {"id": "s4", "command": "true"},
            {"id": "s5", "command": "true"}]"#,
    );
    // s1 and s2 can only finish together: only if two run at once.
    let meet = Arc::new(Barrier::new(2));
    let (outcome, observed) = f
        .run(
            2,
            &[
                ("s1", Behaviour::Meet(meet.clone())),
                ("s2", Behaviour::Meet(meet)),
            ],
        )
        .await;
    assert_eq!(observed.max_running.load(Ordering::SeqCst), 2);
    assert_eq!(observed.started.lock().unwrap().len(), 5);
    assert!(outcome.finals.iter().all(|&x| x == Final::Completed));
}

#[tokio::test]
async fn steps_of_one_conflict_group_or_overlapping_scopes_never_run_together() {
    let f = Fixture::new(
        r#"[{"id": "g1", "command": "true", "conflict_group": "db"},
            {"id": "g2", "command": "true", "conflict_group": "db"},
            {"id": "s1", "command": "true", "files_scope": ["src/"]},
            {"id": "s2", "command": "true", "files_scope": ["src/api/"]},
            {"id": "free", "command": "true", "files_scope": ["docs/"]}]"#,
    );
    let (outcome, observed) = f.run(5, &[]).await;
    let overlaps = observed.overlaps.lock().unwrap().clone();
    let pair = |a: &str, b: &str| {
        let (a, b) = (f.index(a), f.index(b));
        (a.min(b), a.max(b))
    };
    assert!(!overlaps.contains(&pair("g1", "g2")), "{overlaps:?}");
    assert!(!overlaps.contains(&pair("s1", "s2")), "{overlaps:?}");
    // The others did run alongside: the exclusions are not a global lock.
    assert!(
        observed.max_running.load(Ordering::SeqCst) >= 2,
        "{overlaps:?}"
    );
    assert!(outcome.finals.iter().all(|&x| x == Final::Completed));
}

#[tokio::test]
async fn a_failed_step_skips_its_transitive_dependents_and_independent_steps_go_on() {
    let f = Fixture::new(
        r#"[{"id": "a", "command": "true"},
            {"id": "b", "command": "true", "depends_on": ["a"]},
            {"id": "c", "command": "true", "depends_on": ["b"]},
            {"id": "d", "command": "true"}]"#,
    );
    let (outcome, observed) = f.run(2, &[("a", Behaviour::Fail)]).await;
    let finals: Vec<Final> = ["a", "b", "c", "d"]
        .iter()
        .map(|id| outcome.finals[f.index(id)])
        .collect();
    assert_eq!(
        finals,
        [
            Final::Failed,
            Final::Skipped,
            Final::Skipped,
            Final::Completed
        ]
    );
    assert_eq!(f.started_ids(&observed).len(), 2, "b and c never started");
    // The skips are journalled with the failed step named, and the tables follow.
    let skipped: Vec<(String, Option<String>)> = f
        .store
        .journal("r", 0)
        .unwrap()
        .into_iter()
        .filter_map(|e| match e.event {
            Event::StepSkipped {
                step, dependency, ..
            } => Some((step, dependency)),
            _ => None,
        })
        .collect();
    assert_eq!(skipped.len(), 2);
    assert!(
        skipped.iter().all(|(_, dep)| dep.as_deref() == Some("w/a")),
        "{skipped:?}"
    );
    let c = f.store.step("r", "w/c").unwrap().unwrap();
    assert_eq!(c.status, StepStatus::Skipped);
    assert_eq!(c.error.as_deref(), Some("dependency w/a failed"));
}

#[tokio::test]
async fn a_waiting_step_lends_its_slot_to_a_ready_step() {
    let f =
        Fixture::new(r#"[{"id": "slow", "command": "true"}, {"id": "other", "command": "true"}]"#);
    // With one slot, `slow` can only finish if `other` runs while `slow` waits.
    let release = Arc::new(Notify::new());
    let (outcome, observed) = f
        .run(
            1,
            &[
                ("slow", Behaviour::WaitLendingSlot(release.clone())),
                ("other", Behaviour::CompleteAndNotify(release)),
            ],
        )
        .await;
    assert_eq!(f.started_ids(&observed), ["w/slow", "w/other"]);
    assert!(outcome.finals.iter().all(|&x| x == Final::Completed));
}

#[tokio::test]
async fn cancelling_stops_scheduling_and_unstarted_steps_are_not_run() {
    let f = Fixture::new(
        r#"[{"id": "a", "command": "true"}, {"id": "b", "command": "true", "depends_on": ["a"]}]"#,
    );
    f.cancel.cancel();
    let (outcome, observed) = f.run(1, &[]).await;
    assert!(outcome.cancelled);
    assert!(observed.started.lock().unwrap().is_empty());
    assert_eq!(outcome.finals, [Final::NotRun, Final::NotRun]);
}

#[tokio::test]
async fn resume_keeps_a_step_whose_checkpoint_matches_and_reruns_a_changed_one() {
    let f = Fixture::new(
        r#"[{"id": "a", "command": "true"}, {"id": "b", "command": "true", "depends_on": ["a"]}]"#,
    );
    let (a, b) = (f.index("a"), f.index("b"));
    let checkpoint = |step: usize, inputs: Vec<String>| Checkpoint {
        commit: commit(step).to_string(),
        definition_hash: f.set.steps[step].definition_hash.clone(),
        outputs: crate::state::CheckpointOutputs {
            version: 1,
            inputs,
            start_commit: String::new(),
            attempt: 1,
            ..Default::default()
        },
    };
    let mut prior = HashMap::new();
    prior.insert(
        "w/a".to_string(),
        PriorStep {
            status: StepStatus::Completed,
            attempts: 1,
            definition_hash: f.set.steps[a].definition_hash.clone(),
            checkpoint: Some(checkpoint(a, vec![commit(999).to_string()])),
        },
    );
    prior.insert(
        "w/b".to_string(),
        PriorStep {
            status: StepStatus::Completed,
            attempts: 1,
            definition_hash: "an older definition".into(),
            checkpoint: Some(Checkpoint {
                definition_hash: "an older definition".into(),
                ..checkpoint(b, vec![commit(a).to_string()])
            }),
        },
    );
    let observed = Arc::new(Observed::default());
    let runner = FakeRunner {
        behaviour: HashMap::new(),
        observed: observed.clone(),
        cancel: f.cancel.clone(),
    };
    let outcome = schedule(
        Schedule {
            steps: &f.set.steps,
            plan: &f.plan,
            base: commit(999),
            jobs: 1,
            journal: &f.journal,
            cancel: &f.cancel,
        },
        runner,
        prior,
        &mut |_| true,
    )
    .await
    .unwrap();
    assert_eq!(f.started_ids(&observed), ["w/b"], "a kept, b re-run");
    assert_eq!(outcome.results[a], Some(commit(a)));
    let kinds: Vec<&'static str> = f
        .store
        .journal("r", 0)
        .unwrap()
        .iter()
        .map(|e| e.event.kind())
        .filter(|k| *k == "step_reused" || *k == "step_reset")
        .collect();
    assert_eq!(kinds, ["step_reused", "step_reset"]);
}

#[tokio::test]
async fn resume_starts_a_step_awaiting_approval_in_its_wait_unless_its_definition_changed() {
    let f = Fixture::new(r#"[{"id": "a", "command": "true"}, {"id": "b", "command": "true"}]"#);
    let (a, b) = (f.index("a"), f.index("b"));
    let awaiting = |step: usize, definition_hash: String| PriorStep {
        status: StepStatus::AwaitingApproval,
        attempts: 1,
        definition_hash: definition_hash.clone(),
        checkpoint: Some(Checkpoint {
            commit: commit(step).to_string(),
            definition_hash,
            outputs: crate::state::CheckpointOutputs {
                version: 1,
                inputs: vec![commit(999).to_string()],
                attempt: 1,
                ..Default::default()
            },
        }),
    };
    let mut prior = HashMap::new();
    prior.insert(
        "w/a".to_string(),
        awaiting(a, f.set.steps[a].definition_hash.clone()),
    );
    prior.insert("w/b".to_string(), awaiting(b, "an older definition".into()));
    let observed = Arc::new(Observed::default());
    let runner = FakeRunner {
        behaviour: HashMap::new(),
        observed: observed.clone(),
        cancel: f.cancel.clone(),
    };
    schedule(
        Schedule {
            steps: &f.set.steps,
            plan: &f.plan,
            base: commit(999),
            jobs: 1,
            journal: &f.journal,
            cancel: &f.cancel,
        },
        runner,
        prior,
        &mut |_| true,
    )
    .await
    .unwrap();
    let mut seen = observed.awaiting.lock().unwrap().clone();
    seen.sort();
    assert_eq!(
        seen,
        [(a, Some(commit(a).to_string())), (b, None)],
        "a waits again for its decision; b, changed, runs again"
    );
    let resets: Vec<Option<String>> = f
        .store
        .journal("r", 0)
        .unwrap()
        .iter()
        .filter(|e| e.event.kind() == "step_reset")
        .map(|e| e.event.step().map(str::to_owned))
        .collect();
    assert_eq!(resets, [Some("w/b".to_owned())]);
}
