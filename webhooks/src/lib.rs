//! Signed webhook delivery and local notify commands for journal events.
//!
//! Placeholder: the delivery loop, signing (Standard Webhooks) and the outbox reader land
//! with issue #12.
