-- The customer's own words about a case ("the screen flickers after a drop"): shown to staff,
-- kept out of the audit chain so erasing the customer can remove them.
ALTER TABLE cases ADD COLUMN description TEXT;

-- The desk's queue, nearest deadline first: each case's nearest pending timer, kept by the
-- timers' own writes (no deadline sorts last), so a page of the queue is an index range.
ALTER TABLE cases ADD COLUMN next_due_at BIGINT NOT NULL DEFAULT 9223372036854775807;
UPDATE cases SET next_due_at = COALESCE(
  (SELECT MIN(t.due_at) FROM timers t
    WHERE t.case_id = cases.id AND t.fired_at IS NULL AND t.cancelled_at IS NULL),
  9223372036854775807);
CREATE INDEX cases_by_next_due ON cases (next_due_at, id);

-- The language a customer reads e-mails in: the one they last used the portal in (`en`,
-- `zh-CN`); unset, it follows their country.
ALTER TABLE customers ADD COLUMN lang TEXT;
