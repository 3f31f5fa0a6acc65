-- The audit log chained per entity and sealed by signed checkpoints (issue 19). Each
-- entity's events (`case:12`, `refund:3`, …) chain to that entity's previous event, under
-- that chain's head row; a sealer folds new events into a Merkle tree (RFC 9162's hashing)
-- and stores a checkpoint of it (size, root, time, ed25519 signature). The log written
-- before this migration stays one chain, `log`, hashed as it was. SQLite cannot change a
-- primary key in place: the table is copied (dropping a table fires no trigger).
CREATE TABLE audit_events_chained (
    seq INTEGER PRIMARY KEY,
    chain TEXT NOT NULL,
    chain_seq BIGINT NOT NULL,
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
INSERT INTO audit_events_chained (seq, chain, chain_seq, at, actor, entity, entity_id, action, before, after, prev_hash, hash)
SELECT seq, 'log', seq, at, actor, entity, entity_id, action, before, after, prev_hash, hash FROM audit_events;
DROP TABLE audit_events;
ALTER TABLE audit_events_chained RENAME TO audit_events;
CREATE INDEX audit_events_by_entity ON audit_events (entity, entity_id, seq);
CREATE UNIQUE INDEX audit_events_by_chain ON audit_events (chain, chain_seq);
CREATE TRIGGER audit_events_append_only_update BEFORE UPDATE ON audit_events
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_events_append_only_delete BEFORE DELETE ON audit_events
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;

-- Each chain's last link (events written, last hash) and how many of its events are sealed.
CREATE TABLE audit_chains (
    chain TEXT PRIMARY KEY,
    seq BIGINT NOT NULL,
    hash TEXT NOT NULL,
    sealed BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX audit_chains_unsealed ON audit_chains (chain) WHERE seq > sealed;
INSERT INTO audit_chains (chain, seq, hash) SELECT 'log', seq, hash FROM audit_head WHERE seq > 0;
DROP TABLE audit_head;

-- The tree's leaves in order: one per sealed event, with the event's hash.
CREATE TABLE audit_leaves (
    leaf BIGINT PRIMARY KEY,
    chain TEXT NOT NULL,
    chain_seq BIGINT NOT NULL,
    hash TEXT NOT NULL
);
CREATE UNIQUE INDEX audit_leaves_by_event ON audit_leaves (chain, chain_seq);
CREATE TRIGGER audit_leaves_append_only_update BEFORE UPDATE ON audit_leaves
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_leaves_append_only_delete BEFORE DELETE ON audit_leaves
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;

-- A checkpoint: the tree's size and root at a time, signed (ed25519) when the server has a key.
CREATE TABLE audit_checkpoints (
    tree_size BIGINT PRIMARY KEY,
    root TEXT NOT NULL,
    at BIGINT NOT NULL,
    public_key TEXT,
    signature TEXT
);
CREATE TRIGGER audit_checkpoints_append_only_update BEFORE UPDATE ON audit_checkpoints
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_checkpoints_append_only_delete BEFORE DELETE ON audit_checkpoints
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;

-- The sealer's state: the tree's size and its frontier (the roots of its full subtrees).
CREATE TABLE audit_seal (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    tree_size BIGINT NOT NULL,
    frontier TEXT NOT NULL
);
INSERT INTO audit_seal (id, tree_size, frontier) VALUES (1, 0, '[]');

-- The unit a replacement replaced is looked up from the old unit's side (coverage, lineage):
-- without an index that is a scan of every unit, per request.
CREATE INDEX units_by_replaces ON units (replaces);
