-- Webhook and notify deliveries (issue #12): the outbox. One row per (journal event,
-- endpoint), inserted by StateStore::record in the transaction that appends the event,
-- so an event that is recorded is never lost to a crash before its delivery.
--
-- endpoint_key identifies the endpoint (a hash of its URL or command, see
-- core/src/state/webhook_outbox.rs); the URL itself, which may carry a token, is never
-- stored: `endpoint` is its redacted form (scheme://host/path) or the notify command's
-- program name. webhook_id is the Standard Webhooks `webhook-id`, the same on every
-- retry. A delivering process leases a row (lease_owner, lease_until) so that two
-- processes never deliver it at once; an expired lease (a crashed process) can be taken.
CREATE TABLE webhook_outbox (
    id              INTEGER PRIMARY KEY,
    webhook_id      TEXT NOT NULL UNIQUE,
    event_id        INTEGER NOT NULL REFERENCES events(id),
    run_id          TEXT NOT NULL,
    kind            TEXT NOT NULL,
    endpoint_type   TEXT NOT NULL CHECK (endpoint_type IN ('webhook', 'notify')),
    endpoint_key    TEXT NOT NULL,
    endpoint        TEXT NOT NULL,
    status          TEXT NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    last_error      TEXT,
    next_attempt_at TEXT NOT NULL,
    lease_owner     TEXT,
    lease_until     TEXT,
    created_at      TEXT NOT NULL,
    delivered_at    TEXT,
    UNIQUE (event_id, endpoint_key)
);

-- The delivery loop's claim: due pending rows, oldest first.
CREATE INDEX webhook_outbox_due ON webhook_outbox (status, next_attempt_at);
-- `pipeline webhooks --run RUN`.
CREATE INDEX webhook_outbox_by_run ON webhook_outbox (run_id, id);
