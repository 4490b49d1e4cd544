//! The delivery loop on a real SQLite outbox with notify commands (real `sh`
//! processes; HTTP delivery is tested end to end in `tests/e2e/webhooks.rs`).

use std::path::Path;
use std::time::Duration;

use pipeline_adapters::{DeliverySettings, NotifyCommand, WebhookSettings};
use pipeline_core::state::{
    Change, DeliveryStatus, Durability, Event, Flush, StateStore, Subscriptions,
};

use super::*;

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn settings(commands: &[&str], give_up_after_sec: u64) -> WebhookSettings {
    WebhookSettings {
        webhooks: Vec::new(),
        notify: commands
            .iter()
            .map(|command| NotifyCommand {
                command: (*command).to_owned(),
                events: vec!["*".to_owned()],
            })
            .collect(),
        delivery: DeliverySettings {
            give_up_after_sec,
            timeout_sec: 5,
            drain_sec: 10,
            max_backoff_sec: 1,
        },
    }
}

fn record_run_started(db: &Path, subscriptions: &Subscriptions) -> Result<(), StateError> {
    let store = StateStore::open(db, Durability::Normal)?;
    store.record_delivering(
        "r1",
        vec![Change::Event(Event::RunStarted {
            workstreams: "/repo/ws.json".to_owned(),
            repo: "/repo".to_owned(),
            base_commit: "0123456789abcdef0123456789abcdef01234567".to_owned(),
            result_branch: "pipeline/r1".to_owned(),
            steps: 0,
            jobs: 1,
            plan_hash: "plan".to_owned(),
            resumed: false,
            pid: 1,
            budget_usd: None,
            budget_tokens: None,
            engine: None,
        })],
        Flush::Now,
        subscriptions,
    )?;
    Ok(())
}

#[tokio::test]
async fn a_drain_runs_notify_commands_with_the_event_and_fails_removed_endpoints() -> TestResult {
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("state.db");
    let got = dir.path().join("got.json");
    let command = format!("cat > {}", got.display());
    let current = settings(&[&command], 3600);
    let removed = settings(&["echo an endpoint removed since"], 3600);
    let mut subscriptions = Subscriptions::from_settings(&current);
    subscriptions
        .0
        .extend(Subscriptions::from_settings(&removed).0);
    record_run_started(&db, &subscriptions)?;

    let log = dir.path().join("logs/notify.log");
    let config = DeliveryConfig::from_settings(&current, |_| None, dir.path(), &log)?;
    let report = Delivery::drain(&db, config, Duration::from_secs(20)).await?;
    assert_eq!(report.pending, 0);

    let body: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&got)?)?;
    assert_eq!(body["event"], "run_started");
    assert_eq!(body["run_id"], "r1");
    let rows = StateStore::open(&db, Durability::Normal)?.deliveries(None)?;
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].status, DeliveryStatus::Delivered);
    assert_eq!(rows[1].status, DeliveryStatus::Failed);
    let error = rows[1].last_error.as_deref().unwrap_or_default();
    assert!(
        error.contains("no longer in .pipeline/config.yaml"),
        "{error}"
    );
    assert!(std::fs::read_to_string(&log)?.contains("run_started"));
    Ok(())
}

#[tokio::test]
async fn a_command_that_keeps_failing_is_given_up_with_its_last_error() -> TestResult {
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("state.db");
    // Fails until the give-up period (1 s) is over: the first backoff (1-2 s) is past it.
    let failing = settings(&["echo nope >&2; exit 4"], 1);
    record_run_started(&db, &Subscriptions::from_settings(&failing))?;
    let log = dir.path().join("notify.log");
    let config = DeliveryConfig::from_settings(&failing, |_| None, dir.path(), &log)?;
    let report = Delivery::drain(&db, config, Duration::from_secs(20)).await?;
    assert_eq!(report.pending, 0);
    let rows = StateStore::open(&db, Durability::Normal)?.deliveries(None)?;
    assert_eq!(rows[0].status, DeliveryStatus::Failed);
    assert_eq!(rows[0].attempts, 1);
    let error = rows[0].last_error.as_deref().unwrap_or_default();
    assert!(error.contains("gave up after 1 attempt(s)"), "{error}");
    assert!(error.contains("exited with 4"), "{error}");
    let logged = std::fs::read_to_string(&log)?;
    assert!(logged.contains("-- stderr\nnope"), "{logged}");
    Ok(())
}

#[tokio::test]
async fn a_started_loop_delivers_until_cancelled() -> TestResult {
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("state.db");
    let got = dir.path().join("got.json");
    let current = settings(&[&format!("cat >> {}", got.display())], 3600);
    record_run_started(&db, &Subscriptions::from_settings(&current))?;
    let config =
        DeliveryConfig::from_settings(&current, |_| None, dir.path(), &dir.path().join("n.log"))?;
    let cancel = CancellationToken::new();
    let task = Delivery::start(&db, config, cancel.clone())?;
    let store = StateStore::open(&db, Durability::Normal)?;
    let deadline = Instant::now() + Duration::from_secs(30);
    while store.pending_deliveries()? > 0 {
        assert!(Instant::now() < deadline, "not delivered");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    cancel.cancel();
    task.await?;
    assert_eq!(std::fs::read_to_string(&got)?.lines().count(), 1);
    Ok(())
}
