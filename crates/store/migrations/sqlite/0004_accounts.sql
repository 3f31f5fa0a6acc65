-- Accounts. Staff sign in with a password (argon2id, never stored in clear) and work for some
-- sellers; their sessions and API tokens are kept as SHA-256 hashes of the secret the client
-- holds, so a copy of the database signs no one in. Customers sign in with a one-time link
-- sent to their e-mail (its hash kept here). E-mails wait in an outbox, written in the same
-- transaction as the change that causes them.
CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('agent', 'technician', 'manager', 'admin')),
    password_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    disabled_at BIGINT
);

-- The sellers (a policy file's `seller`) a staff account works for; '*' is every seller.
CREATE TABLE user_sellers (
    user_id BIGINT NOT NULL REFERENCES users (id),
    seller TEXT NOT NULL,
    PRIMARY KEY (user_id, seller)
);

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_id BIGINT REFERENCES users (id),
    customer_id BIGINT REFERENCES customers (id),
    csrf TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    CHECK ((user_id IS NULL) <> (customer_id IS NULL))
);
CREATE INDEX sessions_by_expiry ON sessions (expires_at);

CREATE TABLE api_tokens (
    id INTEGER PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    user_id BIGINT NOT NULL REFERENCES users (id),
    scopes TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);

-- Failed sign-ins, by a hash of what was tried (account and address), for throttling.
CREATE TABLE sign_in_failures (
    key_hash TEXT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX sign_in_failures_by_key ON sign_in_failures (key_hash, at);

CREATE TABLE sign_in_links (
    token_hash TEXT PRIMARY KEY,
    customer_id BIGINT NOT NULL REFERENCES customers (id),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);

CREATE TABLE outbox_emails (
    id INTEGER PRIMARY KEY,
    to_addr TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    sent_at BIGINT,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT
);
CREATE INDEX outbox_emails_unsent ON outbox_emails (id) WHERE sent_at IS NULL;

CREATE INDEX cases_by_policy ON cases (policy_id, state);

-- Responses to POSTs sent with an `Idempotency-Key`, by a hash of who sent them and the key:
-- the same request again gets the same response, replayed; a different one with the same key
-- is refused; one still in flight makes the second wait (409).
CREATE TABLE idempotency (
    owner_hash TEXT NOT NULL,
    idem_key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status INTEGER,
    content_type TEXT,
    location TEXT,
    body TEXT,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (owner_hash, idem_key)
);
CREATE INDEX idempotency_by_age ON idempotency (created_at);
