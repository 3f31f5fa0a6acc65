-- More reports (issue 21), each counted by the write path in the transaction that makes what it
-- counts, so that a report reads a few hundred rows whatever the history. One table; a row per
-- policy, measure, period, key and slot (the case's or refund's id modulo 8, as for
-- report_opened: concurrent writers of one seller do not all wait on one row).
--   measure      period          key                    n, amount
--   decided      week (Monday)   favour | against       cases decided that week
--   target       week of its due TARGET:met | :missed   service-level targets falling due
--                                                       (ship_by, arrive_by, quote_pay_by,
--                                                       inspect_by, repair_by)
--   cause        month           SKU|cause              causes found at inspection
--   refund       month           currency               refunds recorded, their sum (minor)
--   refund_days  month           whole days, 0..91      days from a case's opening to its
--                                                       refund (91: more than 90)
--   sku_cases    ''              SKU                    cases opened, by the unit's SKU (else
--                                                       the order's first line's)
--   sold         ''              SKU                    units sold (order lines' quantities),
--                                                       under the SKU's policy; kept by triggers
--                                                       on order_lines, whatever writes them
CREATE TABLE report_tallies (
    policy_id TEXT NOT NULL,
    measure TEXT NOT NULL,
    period TEXT NOT NULL,
    key TEXT NOT NULL,
    slot BIGINT NOT NULL,
    n BIGINT NOT NULL,
    amount BIGINT NOT NULL,
    PRIMARY KEY (policy_id, measure, period, key, slot)
);

-- What is already there, counted as the write path counts it from now on.
-- Decided: the move that settles what the customer gets, from the case's audit trail.
INSERT INTO report_tallies (policy_id, measure, period, key, slot, n, amount)
SELECT c.policy_id, 'decided', to_char(date_trunc('week', to_timestamp(a.at / 1000000.0) AT TIME ZONE 'UTC'), 'YYYY-MM-DD'),
  CASE WHEN a.action IN ('refund', 'replace', 'repair') THEN 'favour' ELSE 'against' END,
  c.id % 8, COUNT(*), 0
FROM audit_events a JOIN cases c ON a.entity = 'case' AND a.entity_id = CAST(c.id AS TEXT)
WHERE a.action IN ('refund', 'replace', 'reject', 'reject_on_arrival', 'quote', 'return_unrepaired')
   OR (a.action = 'repair' AND NOT EXISTS (SELECT 1 FROM audit_events q
        WHERE q.entity = 'case' AND q.entity_id = a.entity_id AND q.action = 'quote'))
GROUP BY 1, 2, 3, 4, 5;

-- Targets: a timer that fired was missed; one cancelled because the case moved on was met if
-- that was before it fell due (not a case the customer cancelled, nor a quote not paid).
INSERT INTO report_tallies (policy_id, measure, period, key, slot, n, amount)
SELECT c.policy_id, 'target', to_char(date_trunc('week', to_timestamp(t.due_at / 1000000.0) AT TIME ZONE 'UTC'), 'YYYY-MM-DD'),
  CASE t.kind WHEN 'not_received' THEN 'arrive_by' WHEN 'quote_expired' THEN 'quote_pay_by'
    WHEN 'inspect_by_breached' THEN 'inspect_by' ELSE 'repair_by' END
  || CASE WHEN t.fired_at IS NULL AND t.cancelled_at <= t.due_at THEN ':met' ELSE ':missed' END,
  c.id % 8, COUNT(*), 0
FROM timers t JOIN cases c ON c.id = t.case_id
WHERE t.kind IN ('not_received', 'quote_expired', 'inspect_by_breached', 'repair_by_breached')
  AND (t.fired_at IS NOT NULL OR (t.cancelled_at IS NOT NULL AND c.state <> 'cancelled'
    AND (t.kind <> 'quote_expired' OR EXISTS (SELECT 1 FROM audit_events p
      WHERE p.entity = 'case' AND p.entity_id = CAST(c.id AS TEXT) AND p.action = 'pay'))))
GROUP BY 1, 2, 3, 4, 5;

-- The customer's ship-by: the first of the moves that take a case out of `approved` says
-- whether the device went by the last day to ship (missed if it never went). The write path
-- compares days in the policy's zone; here they are UTC days, which differ only for a device
-- sent within hours of midnight.
INSERT INTO report_tallies (policy_id, measure, period, key, slot, n, amount)
SELECT c.policy_id, 'target', to_char(date_trunc('week', CAST(c.ship_by AS date)), 'YYYY-MM-DD'),
  'ship_by:' || CASE WHEN e.action <> 'not_received' AND to_char(to_timestamp(e.at / 1000000.0) AT TIME ZONE 'UTC', 'YYYY-MM-DD') <= c.ship_by
    THEN 'met' ELSE 'missed' END,
  c.id % 8, COUNT(*), 0
FROM cases c JOIN audit_events e ON e.entity = 'case' AND e.entity_id = CAST(c.id AS TEXT)
WHERE c.ship_by IS NOT NULL
  AND e.action IN ('device_shipped', 'receive', 'reject_on_arrival', 'not_received')
  AND e.seq = (SELECT MIN(f.seq) FROM audit_events f WHERE f.entity = 'case'
    AND f.entity_id = e.entity_id
    AND f.action IN ('device_shipped', 'receive', 'reject_on_arrival', 'not_received'))
GROUP BY 1, 2, 3, 4, 5;

-- Causes found, by the unit's SKU (else the order's first line's; else none), in the month
-- of the inspection.
INSERT INTO report_tallies (policy_id, measure, period, key, slot, n, amount)
SELECT c.policy_id, 'cause', to_char(to_timestamp(a.at / 1000000.0) AT TIME ZONE 'UTC', 'YYYY-MM'),
  COALESCE((SELECT u.sku FROM units u WHERE u.serial = c.serial),
    (SELECT l.sku FROM order_lines l WHERE l.order_no = c.order_no ORDER BY l.line_no LIMIT 1), '')
  || '|' || j.value,
  c.id % 8, COUNT(*), 0
FROM cases c JOIN audit_events a ON a.entity = 'case' AND a.entity_id = CAST(c.id AS TEXT)
  AND a.action = 'inspect' CROSS JOIN LATERAL jsonb_array_elements_text(CASE WHEN jsonb_typeof(c.facts::jsonb -> 'diagnosis.causes') = 'array'
  THEN c.facts::jsonb -> 'diagnosis.causes' ELSE '[]'::jsonb END) j
GROUP BY 1, 2, 3, 4, 5;

-- Refunds, under their case's policy (else the policy of their order's first line's SKU).
INSERT INTO report_tallies (policy_id, measure, period, key, slot, n, amount)
SELECT p, 'refund', to_char(to_timestamp(recorded_at / 1000000.0) AT TIME ZONE 'UTC', 'YYYY-MM'), currency, id % 8,
  COUNT(*), SUM(amount_minor)
FROM (SELECT r.*, COALESCE((SELECT c.policy_id FROM cases c WHERE c.id = r.case_id),
    (SELECT s.policy_id FROM order_lines l JOIN skus s ON s.code = l.sku
      WHERE l.order_no = r.order_no ORDER BY l.line_no LIMIT 1)) AS p FROM refunds r) AS x
WHERE p IS NOT NULL
GROUP BY 1, 2, 3, 4, 5;
INSERT INTO report_tallies (policy_id, measure, period, key, slot, n, amount)
SELECT c.policy_id, 'refund_days', to_char(to_timestamp(r.recorded_at / 1000000.0) AT TIME ZONE 'UTC', 'YYYY-MM'),
  CAST(LEAST(GREATEST((r.recorded_at - c.opened_at) / 86400000000, 0), 91) AS TEXT), r.id % 8, COUNT(*), 0
FROM refunds r JOIN cases c ON c.id = r.case_id
GROUP BY 1, 2, 3, 4, 5;

-- Cases per SKU, and units sold per SKU: the return rate.
INSERT INTO report_tallies (policy_id, measure, period, key, slot, n, amount)
SELECT policy_id, 'sku_cases', '', sku, slot, COUNT(*), 0
FROM (SELECT c.policy_id, COALESCE((SELECT u.sku FROM units u WHERE u.serial = c.serial),
    (SELECT l.sku FROM order_lines l WHERE l.order_no = c.order_no ORDER BY l.line_no LIMIT 1)) AS sku, c.id % 8 AS slot FROM cases c) AS x
WHERE sku IS NOT NULL
GROUP BY 1, 2, 3, 4, 5;
INSERT INTO report_tallies (policy_id, measure, period, key, slot, n, amount)
SELECT s.policy_id, 'sold', '', l.sku, 0, SUM(l.quantity), 0
FROM order_lines l JOIN skus s ON s.code = l.sku
GROUP BY 1, 2, 3, 4, 5;
-- From here on: the triggers that keep `sold` as order lines are written.
CREATE FUNCTION report_sold() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    INSERT INTO report_tallies (policy_id, measure, period, key, slot, n, amount)
  SELECT s.policy_id, 'sold', '', s.code, 0, -OLD.quantity, 0 FROM skus s WHERE s.code = OLD.sku
  ON CONFLICT (policy_id, measure, period, key, slot) DO UPDATE SET n = report_tallies.n + excluded.n;
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    INSERT INTO report_tallies (policy_id, measure, period, key, slot, n, amount)
  SELECT s.policy_id, 'sold', '', s.code, 0, NEW.quantity, 0 FROM skus s WHERE s.code = NEW.sku
  ON CONFLICT (policy_id, measure, period, key, slot) DO UPDATE SET n = report_tallies.n + excluded.n;
  END IF;
  RETURN NULL;
END
$$;
CREATE TRIGGER order_lines_sold AFTER INSERT OR UPDATE OF sku, quantity OR DELETE ON order_lines
  FOR EACH ROW EXECUTE FUNCTION report_sold();
