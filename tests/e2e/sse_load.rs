//! Load (issue #12, "How it must be shown"): 200 concurrent server-sent-event clients of a
//! real `pipeline serve` following a 1,000-step run started through the API all receive
//! every event of the run, each exactly once, in journal order.
//!
//! The run's first step (`gate`) waits until every client has received its first event,
//! so the 1,000 steps run, and their events are streamed, while all 200 clients are
//! connected; what each client got is compared with the run's journal in the state
//! database. The clients are `testing/sse-load` (also used by `scripts/bench.sh`), which
//! checks every event on arrival: `id:` is the journal id, `event:` its kind, and `data:`
//! the event JSON with the same `id` and `event`.

use std::time::Duration;

use serde_json::{Value, json};

use crate::api_fuzz::{Served, http};
use crate::handshake::await_file;
use crate::support::Test;

/// Clients connected at once.
const CLIENTS: usize = 200;
/// Layers x width of the DAG after the gate: 1,000 steps.
const LAYERS: usize = 20;
const WIDTH: usize = 50;

/// The workstream file: `gate` (waits for `gate_file`), then 1,000 no-op steps in 20
/// layers of 50 (`isolation: none`); a step of layer k > 0 depends on two steps of layer
/// k-1, a layer-0 step on the gate. As JSON text.
fn thousand_steps(gate_file: &str) -> String {
    let mut ws = vec![json!({"id": "gate", "command": await_file(gate_file), "isolation": "none"})];
    let id = |k: usize, i: usize| format!("s{k:02}-{i:02}");
    for k in 0..LAYERS {
        for i in 0..WIDTH {
            let deps = if k == 0 {
                vec!["gate".to_string()]
            } else {
                let mut d = vec![id(k - 1, i), id(k - 1, (i * 7 + 3) % WIDTH)];
                d.dedup();
                d
            };
            ws.push(
                json!({"id": id(k, i), "command": "true", "isolation": "none", "depends_on": deps}),
            );
        }
    }
    serde_json::to_string(&ws).unwrap()
}

/// The ids of `run`'s journal, oldest first.
fn journal_ids(t: &Test, run: &str) -> Vec<u64> {
    let c = rusqlite::Connection::open(t.repo.join(".pipeline/state.db")).expect("open state db");
    let mut stmt = c
        .prepare("SELECT id FROM events WHERE run_id = ?1 ORDER BY id")
        .unwrap();
    stmt.query_map([run], |r| r.get::<_, i64>(0))
        .unwrap()
        .map(|id| u64::try_from(id.unwrap()).expect("journal ids are positive"))
        .collect()
}

#[test]
fn sse_load_200_clients_each_receive_every_event_of_a_1000_step_run_once_in_order() {
    let t = Test::new();
    let gate = t.out.join("gate");
    t.commit_file(
        "workstreams/load.json",
        &thousand_steps(&gate.to_string_lossy()),
    );
    let server = Served::start(&t, None);
    let client = http();

    let resp = client
        .post(format!("{}/api/runs", server.base))
        .json(&json!({"workstreams": ["workstreams/load.json"], "run_id": "load", "jobs": 2}))
        .send()
        .expect("POST /api/runs");
    let status = resp.status();
    let body = resp.text().unwrap_or_default();
    assert_eq!(
        status,
        202,
        "POST /api/runs: {body}\n--- server output ---\n{}",
        server.log()
    );
    crate::handshake::wait_until("the run to be visible at GET /api/runs/load", || {
        let resp = client
            .get(format!("{}/api/runs/load", server.base))
            .send()
            .ok()?;
        (resp.status() == 200).then_some(())
    });

    let opts = sse_load::Options {
        url: format!("{}/api/runs/load/events", server.base),
        clients: CLIENTS,
        headers: Vec::new(),
        until_event: "run_finished".to_string(),
        timeout: Duration::from_secs(600),
    };
    let gate_file = gate.clone();
    let report = sse_load::run(&opts, move || {
        std::fs::write(&gate_file, "go\n").expect("open the gate");
    })
    .expect("the load client's runtime starts");
    assert!(
        gate.exists(),
        "the clients never all received a first event"
    );

    let expected = journal_ids(&t, "load");
    let summary = report.check(Some(&expected)).unwrap_or_else(|e| {
        panic!(
            "{e}\n(the journal has {} events, ids {:?}..{:?})\n--- server output ---\n{}",
            expected.len(),
            expected.first(),
            expected.last(),
            server.log()
        )
    });
    assert_eq!(summary.clients, CLIENTS);

    // The run itself: every step completed, and its last journal entry is run_finished.
    let status: Value = t.status("load");
    let steps = status["steps"].as_array().expect("steps");
    assert_eq!(steps.len(), LAYERS * WIDTH + 1, "{status:#}");
    assert!(
        steps.iter().all(|s| s["status"] == "completed"),
        "not every step completed: {:?}",
        steps
            .iter()
            .filter(|s| s["status"] != "completed")
            .map(|s| (&s["id"], &s["status"]))
            .collect::<Vec<_>>()
    );
    let journal = t.journal("load");
    assert_eq!(
        journal.last().map(|e| e.kind.as_str()),
        Some("run_finished")
    );
    // Each step's events reached every client: at least step_added, attempt_started,
    // attempt_finished and step_completed per step.
    assert!(
        expected.len() >= 4 * (LAYERS * WIDTH + 1),
        "only {} events in the journal",
        expected.len()
    );
}
