-- The policy versions published: the texts the service decides new cases with, shared by
-- every server on the database (issue 20). A text is kept once in policy_texts (by hash);
-- publishing it adds a row here. `seq` orders publications, and its largest value is the
-- generation servers poll to pick up a new version without a restart. One number and one
-- start date per version of a policy, as the checker asks of a policies folder, so that two
-- publishers racing cannot both add a clashing version.
CREATE TABLE policy_versions (
    seq INTEGER PRIMARY KEY,
    hash TEXT NOT NULL UNIQUE REFERENCES policy_texts (hash),
    policy_id TEXT NOT NULL,
    version TEXT NOT NULL,
    effective_from TEXT NOT NULL,
    published_by TEXT NOT NULL,
    published_at BIGINT NOT NULL,
    UNIQUE (policy_id, version),
    UNIQUE (policy_id, effective_from)
);

-- A draft of each seller policy, worked on in the studio (a new policy's first too): never
-- loaded to decide a case.
CREATE TABLE policy_drafts (
    policy_id TEXT PRIMARY KEY,
    -- Whose it is: a new policy's draft has no published version to say so.
    seller TEXT NOT NULL,
    text TEXT NOT NULL,
    saved_by TEXT NOT NULL,
    saved_at BIGINT NOT NULL
);

-- Each seller policy's scenarios (facts, a moment, what is expected), run against a draft in
-- the studio: seeded from the policies folder's cases/, or saved from a real case.
CREATE TABLE policy_scenarios (
    policy_id TEXT NOT NULL,
    name TEXT NOT NULL,
    text TEXT NOT NULL,
    saved_by TEXT NOT NULL,
    saved_at BIGINT NOT NULL,
    PRIMARY KEY (policy_id, name)
);
