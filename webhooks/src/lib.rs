//! pipeline-webhooks: delivers journal events to webhooks (signed, Standard Webhooks)
//! and local notify commands, from the outbox of the state database.
//!
//! The outbox rows are written by `pipeline-core` with the events themselves (see
//! `pipeline_core::state::Subscriptions`); this crate only reads due rows, delivers
//! them and records outcomes, so a delivery never blocks a step and a crash never
//! loses one (docs/WEBHOOKS.md).
//!
//! - [`DeliveryConfig`]: the endpoints of `.pipeline/config.yaml`, with signing secrets
//!   from the environment.
//! - [`Delivery::start`]: a background loop delivering every due row of the database
//!   until cancelled (`pipeline serve`; `pipeline run` and `resume` while they run).
//! - [`Delivery::drain`]: deliver for at most a given time (the end of `pipeline run`).
//! - [`SigningSecret`]: the Standard Webhooks signature.
//!
//! | file | what it holds |
//! | --- | --- |
//! | `delivery.rs` | the loop: claim, deliver, record (diagram inside) |
//! | `delivery_config.rs` | endpoints by key, from the configuration and environment |
//! | `http_delivery.rs` | one signed POST |
//! | `notify_delivery.rs` | one notify command |
//! | `retry_decision.rs` | delivered, retried (backoff with jitter) or given up |
//! | `signing_secret.rs` | `whsec_` secrets and `v1,` signatures |

mod delivery;
mod delivery_config;
mod delivery_error;
mod http_delivery;
mod notify_delivery;
mod retry_decision;
mod signing_secret;

pub use delivery::{BATCH, Delivery, DrainReport, POLL_INTERVAL};
pub use delivery_config::DeliveryConfig;
pub use delivery_error::DeliveryError;
pub use retry_decision::{AttemptResult, MIN_BACKOFF, backoff_delay, classify_status, decide};
pub use signing_secret::{SECRET_PREFIX, SigningSecret};
