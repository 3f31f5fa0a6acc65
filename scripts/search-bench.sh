#!/usr/bin/env bash
# The desk's search at scale (issue 21): the demo's data plus N generated cases (default
# 100,000), each with a customer, an order and a unit of its own, spread over the five sellers;
# then wrk on /desk/search by order number, serial, authorisation number, e-mail, the start of
# a name (a narrow one and one that every generated customer shares), as a manager who sees
# every seller. On SQLite and (with a URL) PostgreSQL. Usage:
# scripts/search-bench.sh [postgres://user:pass@host/db] [N] [SECONDS]
# The PostgreSQL database is dropped and created again: give a scratch one.
set -euo pipefail
cd "$(dirname "$0")/.."
pg=${1:-}
n=${2:-100000}
secs=${3:-10}
. scripts/bench-lib.sh

# The generated rows, in either dialect: $1 is the row source of 1..N as `i`.
rows_sql() {
  cat <<SQL
INSERT INTO customers (ref, kind, name, email, country)
SELECT 'gen-' || i, 'consumer', 'Customer ' || i, 'c' || i || '@example.org', 'CN' FROM $1;
INSERT INTO units (serial, sku) SELECT 'GEN-' || i, 'IMASK-M1' FROM $1;
INSERT INTO orders (order_no, customer_id, channel, ordered_at, currency, paid_minor)
SELECT 'GEN-O-' || i, (SELECT id FROM customers WHERE ref = 'gen-' || i), 'official', '2026-01-01', 'CNY', 100
FROM $1;
INSERT INTO cases (kind, state, customer_id, order_no, serial, policy_id, facts, authorisation, opened_at, updated_at)
SELECT 'warranty_service',
  CASE i % 4 WHEN 0 THEN 'submitted' WHEN 1 THEN 'approved' WHEN 2 THEN 'received' ELSE 'closed' END,
  (SELECT id FROM customers WHERE ref = 'gen-' || i), 'GEN-O-' || i, 'GEN-' || i,
  CASE i % 5 WHEN 0 THEN 'imask' WHEN 1 THEN 'imkey' WHEN 2 THEN 'imiki' WHEN 3 THEN 'cryptki' ELSE 'maintenance' END,
  '{}', 'RA-G' || i, $now, $now
FROM $1;
SQL
}

bench_db() { # LABEL URL PORT LOAD-COMMAND
  local label=$1 db=$2 port=$3
  demo_then_serve "$db" "$port" "$4"
  local base="http://127.0.0.1:$port/desk/search?q="
  # Each query must find its case: a search that finds nothing is not measured.
  for q in GEN-O-77777 GEN-55555 RA-G12345 c33333@example.org "Customer%2044444"; do
    curl -sf -H "Cookie: $cookie" "$base$q" | grep -q 'queue found' \
      || { echo "$label: \`$q\` found nothing" >&2; exit 1; }
  done
  echo "$label: $n generated cases"
  run "order number ($label)" "${base}GEN-O-77777"
  run "serial ($label)" "${base}GEN-55555"
  run "authorisation number ($label)" "${base}RA-G12345"
  run "e-mail ($label)" "${base}c33333@example.org"
  run "start of a name, 11 customers ($label)" "${base}Customer%2044444"
  run "start of a name, every customer ($label)" "${base}Customer"
}

echo "wrk -t2 -c8 -d${secs}s on $(nproc) cores (wrk shares them with the server)"
lite="$work/search.db"
bench_db sqlite "sqlite://$lite" 9211 \
  "rows_sql \"(WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < $n) SELECT i FROM s)\" | sqlite3 '$lite'"
if [ -n "$pg" ]; then
  fresh_pg "$pg"
  bench_db postgresql "$pg" 9212 \
    "rows_sql \"generate_series(1, $n) AS g(i)\" | psql -q -v ON_ERROR_STOP=1 '$pg' && psql -q '$pg' -c 'ANALYZE'"
fi
