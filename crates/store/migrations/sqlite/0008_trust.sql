-- Who stated each of a case's own facts (`customer`, `staff` or `correction`, by fact path):
-- a customer cannot change what staff recorded or corrected.
ALTER TABLE cases ADD COLUMN fact_sources TEXT NOT NULL DEFAULT '{}';

-- Whether an order was sold at a distance (online, by phone): a fact of the seller's records,
-- unset when they do not say.
ALTER TABLE orders ADD COLUMN distance BIGINT CHECK (distance IN (0, 1));

-- An authorisation number names one case.
CREATE UNIQUE INDEX cases_by_authorisation ON cases (authorisation);

-- A caller's refund key counts within its order (a key reused on another order, perhaps
-- another seller's, is another refund and reveals nothing); a case's own refund key
-- (`case-<id>-refund`) is the service's, in a namespace no caller reaches.
UPDATE refunds SET idempotency_key = 'order:' || order_no || ':' || idempotency_key
 WHERE case_id IS NULL OR idempotency_key <> 'case-' || case_id || '-refund';

-- A customer's uploads of the last day, counted at each upload (a bounded number per day).
CREATE INDEX evidence_by_uploader ON evidence (uploaded_by, uploaded_at);

-- What each repair of a case did, read with the case.
CREATE INDEX unit_events_by_case ON unit_events (case_id);
