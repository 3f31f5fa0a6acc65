-- Evidence: photos a customer or staff member attached to a case, each decoded, checked and
-- re-encoded (no metadata, no trailing bytes) and stored under a random name in the evidence
-- store (a folder, or an S3-compatible bucket). The row says what kind of photo it is (the
-- policy's evidence kinds: outer box, inner box, labels…), who sent it and its checksum.
CREATE TABLE evidence (
    id INTEGER PRIMARY KEY,
    case_id BIGINT NOT NULL REFERENCES cases (id),
    kind TEXT NOT NULL,
    blob TEXT NOT NULL UNIQUE,
    content_type TEXT NOT NULL,
    bytes BIGINT NOT NULL,
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    uploaded_by TEXT NOT NULL,
    uploaded_at BIGINT NOT NULL
);
CREATE INDEX evidence_by_case ON evidence (case_id);
