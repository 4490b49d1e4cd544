//! The webhook outbox: who wants which journal events, and the deliveries owed to them.
//!
//! Why: a webhook or notify command must hear of every event it subscribed to, even when
//! the process that recorded the event is killed a microsecond later. So the delivery
//! itself is not done where the event is recorded; instead [`StateStore::record`]
//! (given the run's [`Subscriptions`]) inserts one `webhook_outbox` row per (event,
//! subscribed endpoint) in the transaction that appends the event, and a delivery loop
//! (crate `pipeline-webhooks`) claims due rows under a lease, delivers them and records
//! the outcome ([`StateStore::claim_deliveries`], [`StateStore::finish_delivery`]).
//! Delivery is at least once: a process killed after a POST and before recording it
//! delivers the row again (same `webhook-id`) once its lease expires.
//!
//! An endpoint is identified by [`endpoint_key`], a hash of its URL or command, because
//! a URL may carry a token and nothing secret is stored in the database; the row keeps a
//! redacted form for display. The process that delivers maps the key back to the
//! endpoint of its configuration.
//!
//! [`StateStore::record`]: super::StateStore::record
//! [`StateStore::claim_deliveries`]: super::StateStore::claim_deliveries
//! [`StateStore::finish_delivery`]: super::StateStore::finish_delivery

use std::time::Duration;

use pipeline_adapters::{ALL_EVENTS, WebhookSettings, redacted_url};
use sha2::{Digest, Sha256};

use super::text_enum::text_enum;

/// Every kind of [`Event`](super::Event) (its `event` tag), in declaration order. A test
/// compares it with the event schema, so a new event kind cannot be forgotten here.
pub const EVENT_KINDS: &[&str] = &[
    "run_started",
    "step_added",
    "step_reused",
    "step_reset",
    "tool_selected",
    "step_waiting",
    "attempt_started",
    "test_started",
    "test_finished",
    "setup_finished",
    "attempt_stalled",
    "attempt_finished",
    "fix_requested",
    "escalated",
    "compensation_finished",
    "step_cached",
    "step_completed",
    "step_failed",
    "step_skipped",
    "budget_exceeded",
    "approval_requested",
    "step_approved",
    "step_rejected",
    "breaker_opened",
    "step_interrupted",
    "step_cancelled",
    "orphans_killed",
    "run_interrupted",
    "run_finished",
    "candidate_started",
    "candidate_finished",
    "candidate_selected",
];

/// Kinds a subscription may name before this build journals them, accepted in `events`
/// so that a configuration written for them keeps working; nothing is delivered for one
/// until it is journalled (docs/WEBHOOKS.md). None at present: `budget_exceeded`, once
/// reserved here, is journalled now.
pub const RESERVED_EVENT_KINDS: &[&str] = &[];

/// The kinds a subscription's `events` may name: [`EVENT_KINDS`] then the
/// [`RESERVED_EVENT_KINDS`] not among them.
pub fn subscribable_kinds() -> Vec<&'static str> {
    let mut kinds = EVENT_KINDS.to_vec();
    for kind in RESERVED_EVENT_KINDS {
        if !kinds.contains(kind) {
            kinds.push(kind);
        }
    }
    kinds
}

text_enum! {
    /// What kind of endpoint a delivery goes to. Stored in `webhook_outbox.endpoint_type`.
    pub enum EndpointType ("endpoint type") {
        /// An HTTP(S) URL, POSTed to with Standard Webhooks signatures.
        Webhook => "webhook",
        /// A local command run with `sh -c`, the event JSON on stdin.
        Notify => "notify",
    }
}

text_enum! {
    /// Where a delivery stands. Stored in `webhook_outbox.status`.
    pub enum DeliveryStatus ("delivery status") {
        /// Not delivered yet: due at `next_attempt_at` (or being delivered under a lease).
        Pending => "pending",
        /// The endpoint accepted it (HTTP 2xx, or the command exited 0).
        Delivered => "delivered",
        /// Given up: refused for good (HTTP 4xx other than 429) or still failing after
        /// `webhook_delivery.give_up_after_sec`.
        Failed => "failed",
    }
}

/// The key that identifies an endpoint in the outbox: the first 16 hex digits of the
/// SHA-256 of its type and URL or command. Stable across runs and processes, and
/// reveals nothing of a token the URL carries.
pub fn endpoint_key(endpoint_type: EndpointType, target: &str) -> String {
    let digest = Sha256::digest(format!("{endpoint_type}\n{target}").as_bytes());
    digest
        .iter()
        .take(8)
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// How a notify command is shown: its first word (the program), as arguments may carry
/// tokens.
pub fn notify_display(command: &str) -> String {
    command
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_owned()
}

/// One endpoint and the kinds of events it receives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    /// Webhook or notify command.
    pub endpoint_type: EndpointType,
    /// [`endpoint_key`] of the endpoint.
    pub endpoint_key: String,
    /// Shown in `pipeline webhooks`: the redacted URL, or the command's program.
    pub endpoint: String,
    /// Event kinds, or `"*"`.
    pub events: Vec<String>,
}

impl Subscription {
    /// Whether events of `kind` go to this endpoint.
    pub fn wants(&self, kind: &str) -> bool {
        self.events.iter().any(|k| k == ALL_EVENTS || k == kind)
    }
}

/// The endpoints a run delivers its events to (from `.pipeline/config.yaml`, read when
/// the run starts or resumes). Empty: no outbox rows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Subscriptions(pub Vec<Subscription>);

impl Subscriptions {
    /// The subscriptions of `settings`: its webhooks, then its notify commands.
    pub fn from_settings(settings: &WebhookSettings) -> Subscriptions {
        let webhooks = settings.webhooks.iter().map(|hook| Subscription {
            endpoint_type: EndpointType::Webhook,
            endpoint_key: endpoint_key(EndpointType::Webhook, &hook.url),
            endpoint: redacted_url(&hook.url),
            events: hook.events.clone(),
        });
        let commands = settings.notify.iter().map(|notify| Subscription {
            endpoint_type: EndpointType::Notify,
            endpoint_key: endpoint_key(EndpointType::Notify, &notify.command),
            endpoint: notify_display(&notify.command),
            events: notify.events.clone(),
        });
        Subscriptions(webhooks.chain(commands).collect())
    }

    /// Whether there is no endpoint.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The endpoints that want events of `kind`.
    pub fn wanting<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = &'a Subscription> + 'a {
        self.0.iter().filter(move |s| s.wants(kind))
    }
}

/// The Standard Webhooks `webhook-id` of the delivery of event `event_id` of run
/// `run_id` to the endpoint `endpoint_key`: unique per event and endpoint (run ids are
/// unique, event ids are unique in a database), the same on every retry.
pub fn webhook_id(run_id: &str, event_id: i64, endpoint_key: &str) -> String {
    format!("msg_{run_id}_{event_id}_{endpoint_key}")
}

/// One outbox row, as `pipeline webhooks` shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DeliveryRecord {
    /// The Standard Webhooks `webhook-id`.
    pub webhook_id: String,
    /// The journal event's id.
    pub event_id: i64,
    /// The event's kind.
    pub kind: String,
    /// The event's run.
    pub run_id: String,
    /// Webhook or notify command.
    pub endpoint_type: EndpointType,
    /// The redacted URL or the command's program.
    pub endpoint: String,
    /// Pending, delivered or failed.
    pub status: DeliveryStatus,
    /// Attempts made so far.
    pub attempts: u32,
    /// The error of the latest failed attempt (kept after a later success).
    pub last_error: Option<String>,
    /// When a pending delivery is next tried (RFC 3339 UTC).
    pub next_attempt_at: Option<String>,
    /// When the event was recorded (RFC 3339 UTC).
    pub created_at: String,
    /// When the endpoint accepted it.
    pub delivered_at: Option<String>,
}

/// A delivery claimed by one process under a lease, with the event to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedDelivery {
    /// The outbox row.
    pub outbox_id: i64,
    /// The Standard Webhooks `webhook-id`.
    pub webhook_id: String,
    /// Webhook or notify command.
    pub endpoint_type: EndpointType,
    /// Which endpoint ([`endpoint_key`]).
    pub endpoint_key: String,
    /// The redacted URL or the command's program, for messages.
    pub endpoint: String,
    /// The event's kind.
    pub kind: String,
    /// The event's run.
    pub run_id: String,
    /// Attempts made before this one.
    pub attempts: u32,
    /// Time since the event was recorded.
    pub age: Duration,
    /// The body: the journal entry as `pipeline run --json` prints it, or `None` when
    /// the event row cannot be read as a journal entry.
    pub body: Option<String>,
}

/// What one delivery attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryOutcome {
    /// Accepted: the row becomes `delivered`.
    Delivered,
    /// Failed for now: tried again after `delay`, the error kept.
    Retry {
        /// Wait before the next attempt.
        delay: Duration,
        /// Why it failed (no secrets: redacted URL only).
        error: String,
    },
    /// Failed for good: the row becomes `failed` with the error.
    Failed {
        /// Why.
        error: String,
    },
}

#[cfg(test)]
mod tests;
