//! The delivery loop: claims due outbox rows of any run under a lease, delivers them
//! concurrently, records each outcome.
//!
//! ```text
//!  StateStore::record ──(event + outbox rows, one transaction)──► webhook_outbox
//!                                                                   │ claim (lease)
//!  Delivery::start / Delivery::drain ◄──────────────────────────────┘
//!      │ one task per claimed row (at most BATCH at once)
//!      ├─ webhook: POST, signed ──► 2xx / 4xx / 5xx, 429, network
//!      └─ notify: sh -c, JSON on stdin ──► exit status
//!      ▼
//!  retry_decision::decide ──► finish_delivery: delivered | pending after backoff | failed
//! ```
//!
//! The loop never blocks a step: it runs as its own tokio task with its own database
//! connection, and the journal write only inserts rows. Several processes (a run, a
//! resume, `pipeline serve`) may deliver from one database at once: the lease keeps them
//! off each other's rows, and a process that dies holding a lease leaves the row to be
//! taken again when the lease ends (at least once; receivers deduplicate by
//! `webhook-id`).

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use pipeline_core::state::{ClaimedDelivery, DeliveryOutcome, Durability, StateError, StateStore};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::delivery_config::{DeliveryConfig, Target};
use crate::retry_decision::decide;
use crate::{DeliveryError, http_delivery, notify_delivery};

/// Rows claimed (and delivered concurrently) at once.
pub const BATCH: usize = 16;

/// How often an idle loop looks for due rows.
pub const POLL_INTERVAL: Duration = Duration::from_millis(250);

/// Time a lease lasts beyond the delivery timeout, for recording the outcome.
const LEASE_MARGIN: Duration = Duration::from_secs(5);

/// What a drain left behind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DrainReport {
    /// Deliveries of every run still `pending` when the drain ended (to be delivered by
    /// a later `pipeline run`, `resume` or `serve`).
    pub pending: usize,
}

/// Starts and drains delivery loops. See the module docs.
#[derive(Debug)]
pub struct Delivery;

impl Delivery {
    /// Opens the state database at `db_path` and spawns (on the current tokio runtime)
    /// the loop delivering every due row of every run until `cancel` fires; the rows
    /// being delivered then are finished first (each within `timeout_sec`). For
    /// `pipeline serve`, and for `pipeline run` while the run goes on.
    ///
    /// Errors: [`DeliveryError::State`] when the database cannot be opened,
    /// [`DeliveryError::Client`] when the HTTP client cannot be built. The loop itself
    /// records delivery failures in the outbox; a database error stops it with a
    /// warning (the rows stay pending for the next process).
    pub fn start(
        db_path: &std::path::Path,
        config: DeliveryConfig,
        cancel: CancellationToken,
    ) -> Result<tokio::task::JoinHandle<()>, DeliveryError> {
        let deliverer = Deliverer::new(db_path, config)?;
        Ok(tokio::spawn(async move {
            loop {
                match deliverer.deliver_due().await {
                    Ok(0) => {
                        tokio::select! {
                            () = cancel.cancelled() => return,
                            () = tokio::time::sleep(POLL_INTERVAL) => {}
                        }
                    }
                    Ok(_) if cancel.is_cancelled() => return,
                    Ok(_) => {}
                    Err(e) => {
                        tracing::warn!("webhook delivery stopped: {e}");
                        return;
                    }
                }
            }
        }))
    }

    /// Delivers due rows of every run for at most `within` (the end of `pipeline run`:
    /// `webhook_delivery.drain_sec`), returning early once no pending row can come due
    /// before then. What is still pending stays for a later process.
    ///
    /// Errors: as [`Delivery::start`], and [`DeliveryError::State`] for a database
    /// error while draining.
    pub async fn drain(
        db_path: &std::path::Path,
        config: DeliveryConfig,
        within: Duration,
    ) -> Result<DrainReport, DeliveryError> {
        let deliverer = Deliverer::new(db_path, config)?;
        let started = Instant::now();
        let end = SystemTime::now() + within;
        let drained = tokio::time::timeout(within, async {
            loop {
                if deliverer.deliver_due().await? == 0 {
                    if deliverer.store.deliveries_due_by(end)? == 0 {
                        return Ok::<(), StateError>(());
                    }
                    let left = within.saturating_sub(started.elapsed());
                    tokio::time::sleep(left.min(POLL_INTERVAL)).await;
                }
            }
        })
        .await;
        if let Ok(result) = drained {
            result?;
        }
        Ok(DrainReport {
            pending: deliverer.store.pending_deliveries()?,
        })
    }
}

/// One process's delivering side: its database connection, endpoints, HTTP client and
/// lease owner id.
struct Deliverer {
    store: StateStore,
    config: Arc<DeliveryConfig>,
    client: reqwest::Client,
    owner: String,
}

impl Deliverer {
    fn new(db_path: &std::path::Path, config: DeliveryConfig) -> Result<Deliverer, DeliveryError> {
        let store = StateStore::open(db_path, Durability::Normal)?;
        let timeout = Duration::from_secs(config.settings.timeout_sec);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        Ok(Deliverer {
            store,
            client: http_delivery::client(timeout)?,
            config: Arc::new(config),
            owner: format!("pid{}-{nanos:09}", std::process::id()),
        })
    }

    /// Claims up to [`BATCH`] due rows, delivers them concurrently and records each
    /// outcome; returns how many were claimed. The database calls are short
    /// transactions made on the loop's own task (its own connection: no step waits on
    /// them).
    async fn deliver_due(&self) -> Result<usize, StateError> {
        let lease = Duration::from_secs(self.config.settings.timeout_sec) + LEASE_MARGIN;
        let claimed = self.store.claim_deliveries(&self.owner, lease, BATCH)?;
        let count = claimed.len();
        let mut tasks = JoinSet::new();
        for delivery in claimed {
            let config = self.config.clone();
            let client = self.client.clone();
            tasks.spawn(async move {
                let outcome = attempt(&config, &client, &delivery).await;
                (delivery, outcome)
            });
        }
        while let Some(joined) = tasks.join_next().await {
            // A panicked attempt leaves its row leased: it is tried again later.
            if let Ok((delivery, outcome)) = joined {
                log_outcome(&delivery, &outcome);
                self.store
                    .finish_delivery(delivery.outbox_id, &self.owner, &outcome)?;
            }
        }
        Ok(count)
    }
}

/// One attempt at `delivery` and the outcome to record.
async fn attempt(
    config: &DeliveryConfig,
    client: &reqwest::Client,
    delivery: &ClaimedDelivery,
) -> DeliveryOutcome {
    let Some(body) = &delivery.body else {
        return DeliveryOutcome::Failed {
            error: "the journal event of this delivery cannot be read".to_owned(),
        };
    };
    let Some(target) = config.targets.get(&delivery.endpoint_key) else {
        return DeliveryOutcome::Failed {
            error: format!(
                "the {} endpoint {} is no longer in .pipeline/config.yaml",
                delivery.endpoint_type, delivery.endpoint
            ),
        };
    };
    let timeout = Duration::from_secs(config.settings.timeout_sec);
    let result = match target {
        Target::Webhook { url, shown, secret } => {
            http_delivery::post(client, url, shown, secret, &delivery.webhook_id, body).await
        }
        Target::Notify { command } => {
            notify_delivery::run(
                command,
                delivery,
                body,
                &config.workdir,
                &config.notify_log,
                timeout,
            )
            .await
        }
    };
    decide(
        result,
        delivery.attempts.saturating_add(1),
        delivery.age,
        &config.settings,
    )
}

fn log_outcome(delivery: &ClaimedDelivery, outcome: &DeliveryOutcome) {
    match outcome {
        DeliveryOutcome::Delivered => tracing::debug!(
            webhook_id = delivery.webhook_id,
            "delivered {} to {}",
            delivery.kind,
            delivery.endpoint
        ),
        DeliveryOutcome::Retry { delay, error } => tracing::debug!(
            webhook_id = delivery.webhook_id,
            "delivery of {} to {} failed ({error}); retrying in {} ms",
            delivery.kind,
            delivery.endpoint,
            delay.as_millis()
        ),
        DeliveryOutcome::Failed { error } => tracing::warn!(
            "delivery {} of {} to {} failed: {error} (`pipeline webhooks` lists deliveries)",
            delivery.webhook_id,
            delivery.kind,
            delivery.endpoint
        ),
    }
}

#[cfg(test)]
mod tests;
