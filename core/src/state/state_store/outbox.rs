//! Table `webhook_outbox`: deliveries inserted with their events, claimed under a lease,
//! settled (see [`crate::state::webhook_outbox`] for the why).
//!
//! Leases: [`StateStore::claim_deliveries`] takes due `pending` rows whose lease is free
//! or expired, in one IMMEDIATE transaction, and stamps them with the claiming process's
//! owner id and a lease end. [`StateStore::finish_delivery`] records an outcome only for
//! a row the caller still owns, so a process whose lease expired (it hung longer than the
//! lease) cannot overwrite the outcome of the process that took the row over.

use std::time::{Duration, SystemTime};

use rusqlite::{Row, Transaction, params};

use super::{StateStore, TxResult};
use crate::state::webhook_outbox::webhook_id;
use crate::state::{
    ClaimedDelivery, DeliveryOutcome, DeliveryRecord, DeliveryStatus, JournalEntry, StateError,
    Subscriptions,
};

fn timestamp(at: SystemTime) -> String {
    humantime::format_rfc3339_millis(at).to_string()
}

/// Inserts one `pending` row per subscription wanting `entry`'s kind, due at once, in the
/// caller's transaction (the one appending the event).
pub(super) fn insert_deliveries(
    tx: &Transaction<'_>,
    entry: &JournalEntry,
    subscriptions: &Subscriptions,
) -> TxResult<()> {
    let kind = entry.event.kind();
    for subscription in subscriptions.wanting(kind) {
        tx.prepare_cached(
            "INSERT INTO webhook_outbox (webhook_id, event_id, run_id, kind, endpoint_type, \
             endpoint_key, endpoint, status, next_attempt_at, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9)",
        )?
        .execute(params![
            webhook_id(&entry.run_id, entry.id, &subscription.endpoint_key),
            entry.id,
            entry.run_id,
            kind,
            subscription.endpoint_type,
            subscription.endpoint_key,
            subscription.endpoint,
            DeliveryStatus::Pending,
            entry.at,
        ])?;
    }
    Ok(())
}

fn record_from_row(row: &Row<'_>) -> rusqlite::Result<DeliveryRecord> {
    Ok(DeliveryRecord {
        webhook_id: row.get(0)?,
        event_id: row.get(1)?,
        kind: row.get(2)?,
        run_id: row.get(3)?,
        endpoint_type: row.get(4)?,
        endpoint: row.get(5)?,
        status: row.get(6)?,
        attempts: row.get(7)?,
        last_error: row.get(8)?,
        next_attempt_at: row.get(9)?,
        created_at: row.get(10)?,
        delivered_at: row.get(11)?,
    })
}

impl StateStore {
    /// The deliveries of run `run_id` (all runs when `None`), oldest first. A pending
    /// row's `next_attempt_at` is when it is next tried; settled rows show none.
    pub fn deliveries(&self, run_id: Option<&str>) -> Result<Vec<DeliveryRecord>, StateError> {
        self.read("read the webhook deliveries", |conn| {
            let mut statement = conn.prepare_cached(
                "SELECT webhook_id, event_id, kind, run_id, endpoint_type, endpoint, status, \
                 attempts, last_error, \
                 CASE status WHEN 'pending' THEN next_attempt_at END, created_at, delivered_at \
                 FROM webhook_outbox WHERE ?1 IS NULL OR run_id = ?1 ORDER BY id",
            )?;
            let rows = statement.query_map(params![run_id], record_from_row)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    /// How many deliveries of every run are `pending`.
    pub fn pending_deliveries(&self) -> Result<usize, StateError> {
        self.read("count pending webhook deliveries", |conn| {
            let count: i64 = conn
                .prepare_cached("SELECT count(*) FROM webhook_outbox WHERE status = ?1")?
                .query_row(params![DeliveryStatus::Pending], |row| row.get(0))?;
            Ok(usize::try_from(count).unwrap_or(0))
        })
    }

    /// How many `pending` deliveries are due at or before `at` (whatever their lease):
    /// what a drain that ends at `at` may still deliver.
    pub fn deliveries_due_by(&self, at: SystemTime) -> Result<usize, StateError> {
        self.read("count due webhook deliveries", |conn| {
            let count: i64 = conn
                .prepare_cached(
                    "SELECT count(*) FROM webhook_outbox \
                     WHERE status = ?1 AND next_attempt_at <= ?2",
                )?
                .query_row(params![DeliveryStatus::Pending, timestamp(at)], |row| {
                    row.get(0)
                })?;
            Ok(usize::try_from(count).unwrap_or(0))
        })
    }

    /// Claims up to `limit` due deliveries of any run for `owner` (a process-unique id)
    /// until now + `lease`: `pending` rows whose `next_attempt_at` has come and whose
    /// lease is free or expired, oldest due first, each with its event as the journal
    /// entry JSON `pipeline run --json` prints. The caller must settle each with
    /// [`StateStore::finish_delivery`] before the lease ends, or another process may
    /// deliver it again.
    ///
    /// Errors: [`StateError::Database`], [`StateError::Busy`].
    pub fn claim_deliveries(
        &self,
        owner: &str,
        lease: Duration,
        limit: usize,
    ) -> Result<Vec<ClaimedDelivery>, StateError> {
        // An idle loop polls often: look without taking the write lock first, so the
        // run's own writes never wait on a claim that finds nothing.
        let any_due = self.read("look for due webhook deliveries", |conn| {
            Ok(conn
                .prepare_cached(
                    "SELECT 1 FROM webhook_outbox WHERE status = ?1 AND next_attempt_at <= ?2 \
                     AND (lease_until IS NULL OR lease_until <= ?2) LIMIT 1",
                )?
                .exists(params![
                    DeliveryStatus::Pending,
                    timestamp(SystemTime::now())
                ])?)
        })?;
        if !any_due {
            return Ok(Vec::new());
        }
        self.write("claim webhook deliveries", |tx| {
            let now = SystemTime::now();
            let now_text = timestamp(now);
            let lease_until = timestamp(now + lease);
            let limit = i64::try_from(limit).unwrap_or(i64::MAX);
            let mut claimed = Vec::new();
            {
                let mut statement = tx.prepare_cached(
                    "SELECT o.id, o.webhook_id, o.endpoint_type, o.endpoint_key, o.endpoint, \
                     o.kind, o.run_id, o.attempts, o.created_at, \
                     e.id, e.run_id, e.at, e.data, e.kind, e.step_id \
                     FROM webhook_outbox o JOIN events e ON e.id = o.event_id \
                     WHERE o.status = ?1 AND o.next_attempt_at <= ?2 \
                     AND (o.lease_until IS NULL OR o.lease_until <= ?2) \
                     ORDER BY o.next_attempt_at, o.id LIMIT ?3",
                )?;
                let rows = statement.query_map(
                    params![DeliveryStatus::Pending, now_text, limit],
                    |row| {
                        let created_at: String = row.get(8)?;
                        let age = humantime::parse_rfc3339(&created_at)
                            .ok()
                            .and_then(|at| now.duration_since(at).ok())
                            .unwrap_or_default();
                        let body = super::events::entry_from_row_at(row, 9)?
                            .and_then(|entry| serde_json::to_string(&entry).ok());
                        Ok(ClaimedDelivery {
                            outbox_id: row.get(0)?,
                            webhook_id: row.get(1)?,
                            endpoint_type: row.get(2)?,
                            endpoint_key: row.get(3)?,
                            endpoint: row.get(4)?,
                            kind: row.get(5)?,
                            run_id: row.get(6)?,
                            attempts: row.get(7)?,
                            age,
                            body,
                        })
                    },
                )?;
                for row in rows {
                    claimed.push(row?);
                }
            }
            for delivery in &claimed {
                tx.prepare_cached(
                    "UPDATE webhook_outbox SET lease_owner = ?2, lease_until = ?3 WHERE id = ?1",
                )?
                .execute(params![delivery.outbox_id, owner, lease_until])?;
            }
            Ok(claimed)
        })
    }

    /// Records the outcome of one attempt at delivery `outbox_id`, claimed by `owner`:
    /// counts the attempt, releases the lease, and makes the row `delivered`, `failed`
    /// (with the error) or `pending` again after the outcome's delay (with the error).
    /// Returns `false` and changes nothing when `owner` no longer holds the row's lease
    /// (it expired and another process took the row).
    ///
    /// Errors: [`StateError::Database`], [`StateError::Busy`].
    pub fn finish_delivery(
        &self,
        outbox_id: i64,
        owner: &str,
        outcome: &DeliveryOutcome,
    ) -> Result<bool, StateError> {
        self.write("record a webhook delivery", |tx| {
            let now = SystemTime::now();
            let (status, error, next, delivered_at) = match outcome {
                DeliveryOutcome::Delivered => {
                    (DeliveryStatus::Delivered, None, now, Some(timestamp(now)))
                }
                DeliveryOutcome::Retry { delay, error } => (
                    DeliveryStatus::Pending,
                    Some(error.as_str()),
                    now + *delay,
                    None,
                ),
                DeliveryOutcome::Failed { error } => {
                    (DeliveryStatus::Failed, Some(error.as_str()), now, None)
                }
            };
            let changed = tx
                .prepare_cached(
                    "UPDATE webhook_outbox SET status = ?3, attempts = attempts + 1, \
                     last_error = coalesce(?4, last_error), next_attempt_at = ?5, \
                     delivered_at = ?6, lease_owner = NULL, lease_until = NULL \
                     WHERE id = ?1 AND lease_owner = ?2",
                )?
                .execute(params![
                    outbox_id,
                    owner,
                    status,
                    error,
                    timestamp(next),
                    delivered_at
                ])?;
            Ok(changed == 1)
        })
    }
}
