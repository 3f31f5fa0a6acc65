-- Reports (issue 21): cases opened per week (its Monday, UTC) by policy and kind, counted by
-- the write path as each case opens, so a report reads a few hundred rows whatever the
-- history. Each count is split over eight slots (the case id modulo 8): cases opened at once
-- for one seller do not all wait on one row.
CREATE TABLE report_opened (
    policy_id TEXT NOT NULL,
    week TEXT NOT NULL,
    kind TEXT NOT NULL,
    slot BIGINT NOT NULL,
    opened BIGINT NOT NULL,
    PRIMARY KEY (policy_id, week, kind, slot)
);
-- The cases already there.
INSERT INTO report_opened (policy_id, week, kind, slot, opened)
SELECT policy_id,
  to_char(date_trunc('week', to_timestamp(opened_at / 1000000.0) AT TIME ZONE 'UTC'), 'YYYY-MM-DD'),
  kind, id % 8, COUNT(*)
FROM cases GROUP BY 1, 2, 3, 4;
