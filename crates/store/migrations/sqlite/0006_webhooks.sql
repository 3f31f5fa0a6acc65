-- Webhooks: URLs a seller's staff subscribed to case events. A delivery row is written in the
-- same transaction as the change it reports (the outbox pattern), so an event is never lost
-- nor sent for a change that rolled back; a dispatcher claims due rows under a lease, posts
-- them signed, and records every attempt. The secret signs the body (HMAC-SHA256), so it is
-- kept as issued: a hash could not sign.
CREATE TABLE webhooks (
    id INTEGER PRIMARY KEY,
    seller TEXT NOT NULL,
    url TEXT NOT NULL,
    secret TEXT NOT NULL,
    events TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    disabled_at BIGINT
);
CREATE INDEX webhooks_by_seller ON webhooks (seller);

CREATE TABLE webhook_deliveries (
    id INTEGER PRIMARY KEY,
    webhook_id BIGINT NOT NULL REFERENCES webhooks (id),
    event_id TEXT NOT NULL,
    event TEXT NOT NULL,
    case_id BIGINT,
    payload TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    lease_until BIGINT,
    attempts INTEGER NOT NULL DEFAULT 0,
    delivered_at BIGINT,
    gave_up_at BIGINT,
    last_status INTEGER,
    last_error TEXT,
    UNIQUE (webhook_id, event_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at)
    WHERE delivered_at IS NULL AND gave_up_at IS NULL;

CREATE TABLE webhook_attempts (
    id INTEGER PRIMARY KEY,
    delivery_id BIGINT NOT NULL REFERENCES webhook_deliveries (id),
    at BIGINT NOT NULL,
    status INTEGER,
    error TEXT,
    millis BIGINT NOT NULL
);
CREATE INDEX webhook_attempts_by_delivery ON webhook_attempts (delivery_id);

-- E-mails are claimed under a lease too, and sent outside any transaction (an SMTP server
-- can take seconds to answer; no write waits on it).
ALTER TABLE outbox_emails ADD COLUMN lease_until BIGINT;

-- A case opened under an Idempotency-Key keeps it, so a retry that takes over the key of a
-- request whose server died finds the case instead of opening a second one.
ALTER TABLE cases ADD COLUMN open_key TEXT;
CREATE UNIQUE INDEX cases_by_open_key ON cases (open_key) WHERE open_key IS NOT NULL;
