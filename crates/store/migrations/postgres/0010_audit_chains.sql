-- The audit log chained per entity and sealed by signed checkpoints (issue 19). Each
-- entity's events (`case:12`, `refund:3`, …) chain to that entity's previous event, under
-- that chain's head row, so unrelated changes never wait for each other; a sealer folds new
-- events into a Merkle tree (RFC 9162's hashing) and stores a checkpoint of it (size, root,
-- time, ed25519 signature). The log written before this migration stays one chain, `log`,
-- hashed as it was.
ALTER TABLE audit_events ADD COLUMN chain TEXT;
ALTER TABLE audit_events ADD COLUMN chain_seq BIGINT;
ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only;
UPDATE audit_events SET chain = 'log', chain_seq = seq;
ALTER TABLE audit_events ENABLE TRIGGER audit_events_append_only;
ALTER TABLE audit_events ALTER COLUMN chain SET NOT NULL;
ALTER TABLE audit_events ALTER COLUMN chain_seq SET NOT NULL;
CREATE UNIQUE INDEX audit_events_by_chain ON audit_events (chain, chain_seq);
-- The global number is only a row's name now, handed out without a lock.
CREATE SEQUENCE audit_events_seq OWNED BY audit_events.seq;
SELECT setval('audit_events_seq', COALESCE((SELECT MAX(seq) FROM audit_events), 0) + 1, false);
ALTER TABLE audit_events ALTER COLUMN seq SET DEFAULT nextval('audit_events_seq');

-- Each chain's last link (events written, last hash) and how many of its events are sealed
-- into the tree. Appending updates the row, which orders appends to one chain; verifying
-- compares it with the chain's last event, which catches a deleted tail.
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
CREATE TRIGGER audit_leaves_append_only BEFORE UPDATE OR DELETE ON audit_leaves
FOR EACH ROW EXECUTE FUNCTION aftercare_refuse('the audit log is append-only');
CREATE TRIGGER audit_leaves_no_truncate BEFORE TRUNCATE ON audit_leaves
FOR EACH STATEMENT EXECUTE FUNCTION aftercare_refuse('the audit log is append-only');

-- A checkpoint: the tree's size and root at a time, signed (ed25519) when the server has a key.
CREATE TABLE audit_checkpoints (
    tree_size BIGINT PRIMARY KEY,
    root TEXT NOT NULL,
    at BIGINT NOT NULL,
    public_key TEXT,
    signature TEXT
);
CREATE TRIGGER audit_checkpoints_append_only BEFORE UPDATE OR DELETE ON audit_checkpoints
FOR EACH ROW EXECUTE FUNCTION aftercare_refuse('the audit log is append-only');
CREATE TRIGGER audit_checkpoints_no_truncate BEFORE TRUNCATE ON audit_checkpoints
FOR EACH STATEMENT EXECUTE FUNCTION aftercare_refuse('the audit log is append-only');

-- The sealer's state: the tree's size and its frontier (the roots of its full subtrees), so
-- sealing costs the new events only. Its row lock lets one sealer at a time work.
CREATE TABLE audit_seal (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    tree_size BIGINT NOT NULL,
    frontier TEXT NOT NULL
);
INSERT INTO audit_seal (id, tree_size, frontier) VALUES (1, 0, '[]');

-- The unit a replacement replaced is looked up from the old unit's side (coverage, lineage):
-- without an index that is a scan of every unit, per request.
CREATE INDEX units_by_replaces ON units (replaces);
