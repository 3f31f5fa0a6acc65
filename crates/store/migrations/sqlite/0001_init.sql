-- Aftercare's schema, SQLite. Integers are BIGINT, everything else TEXT: dates as
-- YYYY-MM-DD, instants as microseconds since 1970 UTC, money as minor units with a currency.
-- The PostgreSQL file is the same schema in its dialect.

CREATE TABLE policy_texts (
    hash TEXT PRIMARY KEY,
    policy_id TEXT NOT NULL,
    version TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('seller', 'law')),
    effective_from TEXT NOT NULL,
    effective_to TEXT,
    file TEXT NOT NULL,
    text TEXT NOT NULL,
    stored_at BIGINT NOT NULL
);
CREATE INDEX policy_texts_by_id ON policy_texts (policy_id, effective_from);

CREATE TABLE skus (
    code TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    class TEXT NOT NULL,
    components TEXT NOT NULL DEFAULT '',
    security_sensitive BIGINT NOT NULL DEFAULT 0 CHECK (security_sensitive IN (0, 1)),
    seller TEXT NOT NULL,
    policy_id TEXT NOT NULL
);

CREATE TABLE customers (
    id INTEGER PRIMARY KEY,
    ref TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL CHECK (kind IN ('consumer', 'professional')),
    name TEXT NOT NULL,
    email TEXT,
    phone TEXT,
    country TEXT NOT NULL,
    erased_at BIGINT
);

CREATE TABLE units (
    serial TEXT PRIMARY KEY,
    sku TEXT NOT NULL REFERENCES skus (code),
    manufactured_on TEXT,
    genuine BIGINT NOT NULL DEFAULT 1 CHECK (genuine IN (0, 1)),
    -- 'stock' for units from the registry, 'replacement' for units given in a case
    origin TEXT NOT NULL DEFAULT 'stock' CHECK (origin IN ('stock', 'replacement')),
    replaces TEXT REFERENCES units (serial),
    warranty_until TEXT
);

CREATE TABLE orders (
    order_no TEXT PRIMARY KEY,
    customer_id BIGINT NOT NULL REFERENCES customers (id),
    channel TEXT NOT NULL CHECK (channel IN ('official', 'authorised_dealer', 'other')),
    ordered_at TEXT NOT NULL,
    shipped_on TEXT,
    delivered_on TEXT,
    currency TEXT NOT NULL,
    shipping_fee_minor BIGINT NOT NULL DEFAULT 0 CHECK (shipping_fee_minor >= 0),
    paid_minor BIGINT NOT NULL CHECK (paid_minor >= 0),
    -- Kept by the refunds table's inserts: the database refuses a refund past what was paid.
    refunded_minor BIGINT NOT NULL DEFAULT 0,
    payment_method TEXT,
    CONSTRAINT refunds_within_paid CHECK (refunded_minor >= 0 AND refunded_minor <= paid_minor)
);
CREATE INDEX orders_by_customer ON orders (customer_id);

CREATE TABLE order_lines (
    order_no TEXT NOT NULL REFERENCES orders (order_no),
    line_no BIGINT NOT NULL,
    sku TEXT NOT NULL REFERENCES skus (code),
    serial TEXT REFERENCES units (serial),
    quantity BIGINT NOT NULL DEFAULT 1 CHECK (quantity > 0),
    price_minor BIGINT NOT NULL CHECK (price_minor >= 0),
    PRIMARY KEY (order_no, line_no)
);
CREATE INDEX order_lines_by_serial ON order_lines (serial);

CREATE TABLE invoices (
    invoice_no TEXT PRIMARY KEY,
    order_no TEXT REFERENCES orders (order_no),
    issued_on TEXT NOT NULL,
    valid BIGINT NOT NULL DEFAULT 1 CHECK (valid IN (0, 1))
);
CREATE INDEX invoices_by_order ON invoices (order_no);

CREATE TABLE invoice_lines (
    invoice_no TEXT NOT NULL REFERENCES invoices (invoice_no),
    line_no BIGINT NOT NULL,
    model TEXT NOT NULL,
    serial TEXT,
    PRIMARY KEY (invoice_no, line_no)
);
CREATE INDEX invoice_lines_by_serial ON invoice_lines (serial);

CREATE TABLE cases (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    state TEXT NOT NULL,
    customer_id BIGINT REFERENCES customers (id),
    order_no TEXT REFERENCES orders (order_no),
    serial TEXT REFERENCES units (serial),
    policy_id TEXT NOT NULL,
    -- Facts about the case itself (problem, condition, findings), as JSON.
    facts TEXT NOT NULL DEFAULT '{}',
    authorisation TEXT,
    ship_by TEXT,
    opened_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX cases_by_state ON cases (state);
CREATE INDEX cases_by_customer ON cases (customer_id);
CREATE INDEX cases_by_serial ON cases (serial);

CREATE TABLE decisions (
    id INTEGER PRIMARY KEY,
    case_id BIGINT NOT NULL REFERENCES cases (id),
    decided_at BIGINT NOT NULL,
    policy_id TEXT NOT NULL,
    policy_version TEXT NOT NULL,
    policy_hash TEXT NOT NULL REFERENCES policy_texts (hash),
    -- The law layers' hashes, in layer order, comma-separated.
    law_hashes TEXT NOT NULL,
    facts TEXT NOT NULL,
    summary TEXT NOT NULL
);
CREATE INDEX decisions_by_case ON decisions (case_id, id);

CREATE TABLE timers (
    id INTEGER PRIMARY KEY,
    case_id BIGINT NOT NULL REFERENCES cases (id),
    kind TEXT NOT NULL,
    due_at BIGINT NOT NULL,
    fired_at BIGINT,
    cancelled_at BIGINT,
    outcome TEXT,
    UNIQUE (case_id, kind)
);
-- Only pending timers are indexed, so a sweep reads the due ones and nothing else.
CREATE INDEX timers_pending ON timers (due_at) WHERE fired_at IS NULL AND cancelled_at IS NULL;

CREATE TABLE repairs (
    id INTEGER PRIMARY KEY,
    case_id BIGINT NOT NULL REFERENCES cases (id),
    serial TEXT NOT NULL REFERENCES units (serial),
    finished_at BIGINT NOT NULL,
    outcome TEXT NOT NULL CHECK (outcome IN ('fixed', 'failed')),
    paid BIGINT NOT NULL CHECK (paid IN (0, 1))
);
CREATE INDEX repairs_by_serial ON repairs (serial);

CREATE TABLE unit_parts (
    id INTEGER PRIMARY KEY,
    serial TEXT NOT NULL REFERENCES units (serial),
    part TEXT NOT NULL,
    repair_id BIGINT REFERENCES repairs (id),
    installed_on TEXT NOT NULL,
    warranty_until TEXT NOT NULL
);
CREATE INDEX unit_parts_by_serial ON unit_parts (serial);

CREATE TABLE unit_events (
    id INTEGER PRIMARY KEY,
    serial TEXT NOT NULL REFERENCES units (serial),
    at BIGINT NOT NULL,
    kind TEXT NOT NULL,
    case_id BIGINT REFERENCES cases (id),
    detail TEXT NOT NULL DEFAULT ''
);
CREATE INDEX unit_events_by_serial ON unit_events (serial, id);

CREATE TABLE quotes (
    id INTEGER PRIMARY KEY,
    case_id BIGINT NOT NULL REFERENCES cases (id),
    currency TEXT NOT NULL,
    total_minor BIGINT NOT NULL CHECK (total_minor >= 0),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('open', 'paid', 'declined', 'expired'))
);
CREATE INDEX quotes_by_case ON quotes (case_id);

CREATE TABLE quote_lines (
    quote_id BIGINT NOT NULL REFERENCES quotes (id),
    line_no BIGINT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('part', 'labour')),
    description TEXT NOT NULL,
    amount_minor BIGINT NOT NULL CHECK (amount_minor >= 0),
    PRIMARY KEY (quote_id, line_no)
);

CREATE TABLE refunds (
    id INTEGER PRIMARY KEY,
    order_no TEXT NOT NULL REFERENCES orders (order_no),
    case_id BIGINT REFERENCES cases (id),
    idempotency_key TEXT NOT NULL UNIQUE,
    amount_minor BIGINT NOT NULL CHECK (amount_minor > 0),
    currency TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    recorded_at BIGINT NOT NULL,
    paid_at BIGINT
);
CREATE INDEX refunds_by_order ON refunds (order_no);
CREATE TRIGGER refunds_never_deleted BEFORE DELETE ON refunds
BEGIN SELECT RAISE(ABORT, 'refunds are never deleted'); END;

CREATE TABLE audit_events (
    seq BIGINT PRIMARY KEY,
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    entity TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    action TEXT NOT NULL,
    before TEXT,
    after TEXT,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX audit_events_by_entity ON audit_events (entity, entity_id, seq);
CREATE TRIGGER audit_events_append_only_update BEFORE UPDATE ON audit_events
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_events_append_only_delete BEFORE DELETE ON audit_events
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;

-- The chain's last link: appending updates it, which serialises appends, and verifying
-- compares it with the last event, which catches a deleted tail.
CREATE TABLE audit_head (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    seq BIGINT NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');
