//! Tests of the outbox on real SQLite files: rows inserted with their events (and only
//! then), claims under a lease, outcomes recorded only by the lease holder.

use std::time::Duration;

use super::*;
use crate::state::{
    Change, DeliveryOutcome, DeliveryStatus, Durability, Event, Flush, StateError, StateStore,
};

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn subscriptions() -> Subscriptions {
    let settings = WebhookSettings {
        webhooks: vec![pipeline_adapters::WebhookEndpoint {
            url: "https://user:pw@hooks.example.com/p?token=abc".to_owned(),
            events: vec!["run_finished".to_owned(), "step_added".to_owned()],
            secret_env: "HOOK_SECRET".to_owned(),
        }],
        notify: vec![pipeline_adapters::NotifyCommand {
            command: "chat-cli --token xyz send".to_owned(),
            events: vec!["*".to_owned()],
        }],
        delivery: Default::default(),
    };
    Subscriptions::from_settings(&settings)
}

fn run_started(run_id: &str) -> Event {
    Event::RunStarted {
        workstreams: "/repo/ws.json".to_owned(),
        repo: "/repo".to_owned(),
        base_commit: "0123456789abcdef0123456789abcdef01234567".to_owned(),
        result_branch: format!("pipeline/{run_id}"),
        steps: 1,
        jobs: 1,
        plan_hash: "plan".to_owned(),
        resumed: false,
        pid: 1,
        budget_usd: None,
        budget_tokens: None,
        engine: None,
    }
}

fn step_added(step: &str) -> Event {
    Event::StepAdded {
        step: step.to_owned(),
        workstream: "ws".to_owned(),
        definition_hash: "h".to_owned(),
        depends_on: Vec::new(),
    }
}

fn store(dir: &tempfile::TempDir) -> Result<StateStore, StateError> {
    StateStore::open(&dir.path().join("state.db"), Durability::Normal)
}

/// The kinds this module lists are exactly the `event` tags of the journal schema.
#[test]
fn event_kinds_are_the_kinds_of_the_journal_schema() {
    let schema = serde_json::to_value(schemars::schema_for!(Event)).unwrap_or_default();
    let mut tags: Vec<String> = schema["oneOf"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|variant| {
            let tag = &variant["properties"]["event"];
            tag["const"]
                .as_str()
                .or_else(|| tag["enum"][0].as_str())
                .map(str::to_owned)
        })
        .collect();
    tags.sort();
    assert!(!tags.is_empty(), "no kinds found in the schema: {schema}");
    // A kind the journal gains may be reserved here first (the approval gate's).
    let mut listed: Vec<String> = EVENT_KINDS
        .iter()
        .chain(
            RESERVED_EVENT_KINDS
                .iter()
                .filter(|k| tags.iter().any(|t| t == *k)),
        )
        .map(|k| (*k).to_owned())
        .collect();
    listed.sort();
    listed.dedup();
    assert_eq!(listed, tags);
    assert!(subscribable_kinds().contains(&"budget_exceeded"));
}

#[test]
fn subscriptions_keep_no_secret_and_match_their_kinds() {
    let subs = subscriptions();
    assert_eq!(subs.0.len(), 2);
    let hook = &subs.0[0];
    assert_eq!(hook.endpoint, "https://hooks.example.com/p");
    assert_eq!(hook.endpoint_key.len(), 16);
    assert!(hook.wants("run_finished") && !hook.wants("step_failed"));
    let notify = &subs.0[1];
    assert_eq!(notify.endpoint, "chat-cli");
    assert!(notify.wants("step_failed"));
    assert_ne!(hook.endpoint_key, notify.endpoint_key);
    assert_eq!(
        endpoint_key(EndpointType::Webhook, "http://a/"),
        endpoint_key(EndpointType::Webhook, "http://a/")
    );
    assert_ne!(
        endpoint_key(EndpointType::Webhook, "http://a/"),
        endpoint_key(EndpointType::Notify, "http://a/")
    );
}

#[test]
fn recording_events_inserts_their_deliveries_in_the_same_transaction() -> TestResult {
    let dir = tempfile::tempdir()?;
    let store = store(&dir)?;
    let subs = subscriptions();
    let entries = store.record_delivering(
        "r1",
        vec![
            Change::Event(run_started("r1")),
            Change::Event(step_added("ws")),
        ],
        Flush::Now,
        &subs,
    )?;
    let rows = store.deliveries(Some("r1"))?;
    // run_started: notify only; step_added: webhook and notify.
    assert_eq!(rows.len(), 3);
    assert!(
        rows.iter()
            .all(|r| r.status == DeliveryStatus::Pending && r.attempts == 0)
    );
    assert_eq!(rows[0].event_id, entries[0].id);
    assert_eq!(rows[0].kind, "run_started");
    let hook = rows
        .iter()
        .find(|r| r.endpoint_type == EndpointType::Webhook);
    let hook = hook.ok_or("no webhook row")?;
    assert_eq!(hook.kind, "step_added");
    assert_eq!(
        hook.webhook_id,
        webhook_id("r1", entries[1].id, &subs.0[0].endpoint_key)
    );
    // Nothing secret in the table.
    let text = format!("{rows:?}");
    assert!(!text.contains("token") && !text.contains("xyz") && !text.contains("pw"));

    // A refused write (the step added twice) inserts no delivery either.
    let refused = store.record_delivering(
        "r1",
        vec![
            Change::Event(step_added("other")),
            Change::Event(step_added("ws")),
        ],
        Flush::Now,
        &subs,
    );
    assert!(matches!(refused, Err(StateError::StepExists { .. })));
    assert_eq!(store.deliveries(None)?.len(), 3);
    // Without subscriptions, no rows.
    store.record("r2", vec![Change::Event(run_started("r2"))])?;
    assert!(store.deliveries(Some("r2"))?.is_empty());
    assert_eq!(store.pending_deliveries()?, 3);
    Ok(())
}

#[test]
fn a_claim_leases_rows_so_a_second_claimer_gets_none() -> TestResult {
    let dir = tempfile::tempdir()?;
    let store = store(&dir)?;
    store.record_delivering(
        "r1",
        vec![
            Change::Event(run_started("r1")),
            Change::Event(step_added("ws")),
        ],
        Flush::Now,
        &subscriptions(),
    )?;
    let other = StateStore::open(&dir.path().join("state.db"), Durability::Normal)?;
    let first = store.claim_deliveries("a", Duration::from_secs(60), 2)?;
    assert_eq!(first.len(), 2);
    let second = other.claim_deliveries("b", Duration::from_secs(60), 10)?;
    assert_eq!(second.len(), 1, "only the row a did not take");
    assert!(first.iter().all(|c| c.outbox_id != second[0].outbox_id));
    assert!(
        other
            .claim_deliveries("b", Duration::from_secs(60), 10)?
            .is_empty()
    );

    // The body is the journal entry as --json prints it.
    let body: serde_json::Value = serde_json::from_str(first[0].body.as_deref().ok_or("body")?)?;
    assert_eq!(body["event"], "run_started");
    assert_eq!(body["run_id"], "r1");
    assert!(body["id"].as_i64().is_some() && body["at"].as_str().is_some());

    // Only the lease holder settles a row.
    let delivered = DeliveryOutcome::Delivered;
    assert!(!store.finish_delivery(second[0].outbox_id, "a", &delivered)?);
    assert!(other.finish_delivery(second[0].outbox_id, "b", &delivered)?);
    assert!(!other.finish_delivery(second[0].outbox_id, "b", &delivered)?);
    Ok(())
}

#[test]
fn an_expired_lease_can_be_taken_over() -> TestResult {
    let dir = tempfile::tempdir()?;
    let store = store(&dir)?;
    store.record_delivering(
        "r1",
        vec![Change::Event(run_started("r1"))],
        Flush::Now,
        &subscriptions(),
    )?;
    let first = store.claim_deliveries("dead", Duration::ZERO, 10)?;
    assert_eq!(first.len(), 1);
    let again = store.claim_deliveries("alive", Duration::from_secs(60), 10)?;
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].webhook_id, first[0].webhook_id);
    assert!(!store.finish_delivery(first[0].outbox_id, "dead", &DeliveryOutcome::Delivered)?);
    Ok(())
}

#[test]
fn outcomes_count_attempts_keep_the_error_and_delay_retries() -> TestResult {
    let dir = tempfile::tempdir()?;
    let store = store(&dir)?;
    store.record_delivering(
        "r1",
        vec![Change::Event(run_started("r1"))],
        Flush::Now,
        &subscriptions(),
    )?;
    let claimed = store.claim_deliveries("a", Duration::from_secs(60), 10)?;
    let retry = DeliveryOutcome::Retry {
        delay: Duration::from_secs(3600),
        error: "HTTP 500".to_owned(),
    };
    assert!(store.finish_delivery(claimed[0].outbox_id, "a", &retry)?);
    let row = &store.deliveries(None)?[0];
    assert_eq!((row.status, row.attempts), (DeliveryStatus::Pending, 1));
    assert_eq!(row.last_error.as_deref(), Some("HTTP 500"));
    assert!(
        store
            .claim_deliveries("a", Duration::from_secs(60), 10)?
            .is_empty(),
        "not due"
    );
    assert_eq!(store.pending_deliveries()?, 1);
    assert_eq!(store.deliveries_due_by(std::time::SystemTime::now())?, 0);
    assert_eq!(
        store.deliveries_due_by(std::time::SystemTime::now() + Duration::from_secs(7200))?,
        1
    );
    Ok(())
}

#[test]
fn a_failed_delivery_is_settled_with_its_error() -> TestResult {
    let dir = tempfile::tempdir()?;
    let store = store(&dir)?;
    store.record_delivering(
        "r1",
        vec![Change::Event(run_started("r1"))],
        Flush::Now,
        &subscriptions(),
    )?;
    let claimed = store.claim_deliveries("a", Duration::from_secs(60), 10)?;
    let failed = DeliveryOutcome::Failed {
        error: "HTTP 404 Not Found".to_owned(),
    };
    assert!(store.finish_delivery(claimed[0].outbox_id, "a", &failed)?);
    let row = &store.deliveries(None)?[0];
    assert_eq!(row.status, DeliveryStatus::Failed);
    assert_eq!(row.next_attempt_at, None);
    assert_eq!(store.pending_deliveries()?, 0);
    assert!(
        store
            .claim_deliveries("a", Duration::from_secs(60), 10)?
            .is_empty()
    );
    Ok(())
}
